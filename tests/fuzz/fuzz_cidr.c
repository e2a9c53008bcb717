/* Fuzzes allowlist parsing: what parses has sane prefixes and no host bits, prints
 * back to a list that parses to the same entries, and matches consistently. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[8192], back[CIDR_MAX * 64];
	struct cidr_list l, l2;
	struct kinko_err e;
	size_t w = 0;

	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	back[0] = '\0';
	if (cidr_list_parse(s, &l, &e) != 0) {
		if (e.msg[0] == '\0')
			abort();
		return 0;
	}
	for (unsigned i = 0; i < l.n; i++) {
		const struct cidr *c = &l.v[i];
		unsigned max = c->family == AF_INET ? 32 : 128;
		char a[INET6_ADDRSTRLEN];
		if ((c->family != AF_INET && c->family != AF_INET6) || c->prefix > max)
			abort();
		for (unsigned bit = c->prefix; bit < max; bit++)
			if (c->addr[bit / 8] & (0x80 >> (bit % 8)))
				abort();
		if (!inet_ntop(c->family, c->addr, a, sizeof a))
			abort();
		w += (size_t)snprintf(back + w, sizeof back - w, "%s/%u,", a, c->prefix);
	}
	if (cidr_list_parse(back, &l2, &e) != 0 || l2.n != l.n)
		abort();
	for (unsigned i = 0; i < l.n; i++)
		if (l2.v[i].family != l.v[i].family || l2.v[i].prefix != l.v[i].prefix ||
		    memcmp(l2.v[i].addr, l.v[i].addr, 16))
			abort();
	/* Every entry's own network address matches the list. */
	for (unsigned i = 0; i < l.n; i++) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof ss);
		if (l.v[i].family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			a->sin_family = AF_INET;
			memcpy(&a->sin_addr, l.v[i].addr, 4);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			a->sin6_family = AF_INET6;
			memcpy(&a->sin6_addr, l.v[i].addr, 16);
			/* A mapped IPv6 entry is compared as IPv4, so it need not match. */
			if (!memcmp(l.v[i].addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
				continue;
		}
		if (!cidr_list_match(&l, (const struct sockaddr *)&ss))
			abort();
	}
	(void)cidr_list_is_wide(&l);
	return 0;
}
