/*
 * cidr — address allowlists ("127.0.0.0/8, ::1/128"). IPv4-mapped IPv6 addresses
 * are matched as IPv4. Parsing is strict: a bad entry is an error, never skipped.
 */
#ifndef KINKO_CORE_CIDR_H
#define KINKO_CORE_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"

#define CIDR_MAX 64

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

struct cidr_list {
	struct cidr v[CIDR_MAX];
	unsigned n;
};

/* Comma- or space-separated list; an empty string gives an empty list. */
int cidr_list_parse(const char *s, struct cidr_list *out, struct kinko_err *e) KINKO_WUR;
/* A list stored by an earlier version, which took IPv4-mapped IPv6 entries: they
 * are kept as written (they never match, as before) instead of refused, so that
 * such a list still allows its other entries. */
int cidr_list_parse_stored(const char *s, struct cidr_list *out, struct kinko_err *e) KINKO_WUR;
bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);
/* True when any entry covers more than a host's own network (e.g. 0.0.0.0/0). */
bool cidr_list_is_wide(const struct cidr_list *l);
/* The address's bytes (4 for IPv4, mapped IPv6 included; 16 for IPv6) and its
 * family, AF_INET or AF_INET6; -1 for any other family. */
int cidr_sa_bytes(const struct sockaddr *sa, uint8_t out[16]);
/* Text form of an address ("192.0.2.1", "::1"), mapped IPv4 shown as IPv4. */
void cidr_addr_text(const struct sockaddr *sa, char *out, size_t cap);

#endif
