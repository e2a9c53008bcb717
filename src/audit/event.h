/*
 * event — the canonical audit event and its byte encoding (the Merkle leaf data).
 *
 * An event records who did what to which IDs, when, from where, and how it ended.
 * It carries IDs only, never personal data: every text field has a small fixed
 * grammar (UUIDs, hex, decimal, a dotted action name, a canonical IP address,
 * fixed words) that cannot hold a name, a file name or free text, and the encoder
 * refuses any value outside it. The encoding is one line of JSON with a fixed key
 * order, no whitespace, no escapes and integers only (docs/audit.md has the
 * grammar). audit_event_decode accepts exactly what audit_event_encode writes:
 * it parses, validates, re-encodes and compares bytes, so every event has one and
 * only one encoding, and the leaf hash of an event is well defined.
 */
#ifndef KINKO_AUDIT_EVENT_H
#define KINKO_AUDIT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define AUDIT_ID_MAX 64          /* chars of an ID */
#define AUDIT_ACTION_MAX 64      /* chars of an action name */
#define AUDIT_TARGETS_MAX 16     /* target IDs per event */
#define AUDIT_ADDR_MAX 45        /* chars of an IPv6 address in text */
#define AUDIT_EVENT_MAX 2048     /* bytes of an encoded event (the bound is exact) */
#define AUDIT_INT_MAX UINT64_C(9007199254740991) /* 2^53 - 1: exact in every JSON reader */
#define AUDIT_TIME_LEN 24        /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */

enum audit_result {
	AUDIT_OK = 1,     /* status 100..399 */
	AUDIT_DENIED = 2, /* refused by policy or authentication: status 400..499 */
	AUDIT_ERROR = 3,  /* failed: status 400..599 */
};

struct audit_event {
	uint64_t seq;     /* the event's leaf index in the log, from 0 */
	int64_t time_ms;  /* UTC, milliseconds since 1970-01-01 (up to year 9999) */
	char actor[AUDIT_ID_MAX + 1];    /* the user's UUID, or "-" (not authenticated) */
	char role[16];                   /* manager handler auditor operator system, or "-" */
	char cert[65];                   /* SHA-256 of the client certificate in hex, or "-" */
	char addr[AUDIT_ADDR_MAX + 1];   /* canonical IPv4 / IPv6 text, or "-" */
	char contract[AUDIT_ID_MAX + 1]; /* the contract's ID, or "-" */
	char action[AUDIT_ACTION_MAX + 1]; /* dotted lowercase name, e.g. "object.put" */
	unsigned ntargets;
	char targets[AUDIT_TARGETS_MAX][AUDIT_ID_MAX + 1]; /* IDs acted on */
	enum audit_result result;
	unsigned status;                 /* HTTP-style status code */
	uint64_t bytes;                  /* content bytes moved, 0 if none */
	char request[AUDIT_ID_MAX + 1];  /* the request ID, or "-" */
};

/* Sets every text field to "-", no targets, result ok / 200, time and counts 0. */
void audit_event_init(struct audit_event *ev);
/* Copies id into the next target slot after checking it (KINKO_EINVAL / ELIMIT). */
int audit_event_add_target(struct audit_event *ev, const char *id) KINKO_WUR;

/* 0 when s is an ID: a lowercase UUID (8-4-4-4-12), 16 to 64 lowercase hex digits,
 * or a decimal number without leading zeros up to AUDIT_INT_MAX. */
int audit_id_check(const char *s) KINKO_WUR;

/* Checks every field against its grammar; the message names the bad field. */
int audit_event_validate(const struct audit_event *ev, struct kinko_err *e) KINKO_WUR;
/* Appends the canonical encoding (no trailing newline) to out. */
int audit_event_encode(const struct audit_event *ev, struct kbuf *out, struct kinko_err *e) KINKO_WUR;
/* Strict decoding of exactly one encoded event. KINKO_EFORMAT for anything else. */
int audit_event_decode(const uint8_t *p, size_t n, struct audit_event *out,
		       struct kinko_err *e) KINKO_WUR;

/* RFC 3339 UTC with milliseconds; out gets AUDIT_TIME_LEN chars and a NUL. */
int audit_time_format(int64_t ms, char out[AUDIT_TIME_LEN + 1]) KINKO_WUR;
/* Parses exactly that form (valid calendar date, 'T', 'Z', three fraction digits). */
int audit_time_parse(const char *s, size_t n, int64_t *ms) KINKO_WUR;
/* The current UTC time in milliseconds. */
int64_t audit_time_now_ms(void);

const char *audit_result_name(enum audit_result r);

#endif
