/*
 * err — kinko's error convention.
 *
 * Every fallible function returns int: 0 on success or a negative KINKO_E* code.
 * When the caller passes a struct kinko_err, it is filled with a sentence a user
 * can act on ("... : do X"). Messages never contain secrets, file contents, file
 * names of residents' data or personal data: callers pass IDs, not values.
 * Library code never logs; the edges (cli/, http/, api/) decide what to print.
 */
#ifndef KINKO_CORE_ERR_H
#define KINKO_CORE_ERR_H

#include <stddef.h>

#define KINKO_WUR __attribute__((warn_unused_result))
#define KINKO_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum kinko_code {
	KINKO_OK = 0,
	KINKO_EINVAL = -1,     /* bad input from a caller or a client */
	KINKO_ENOMEM = -2,     /* allocation failed */
	KINKO_EIO = -3,        /* file system or socket error */
	KINKO_ECRYPTO = -4,    /* authentication tag or signature did not verify */
	KINKO_EAUTH = -5,      /* not authenticated */
	KINKO_EPERM = -6,      /* authenticated, but not allowed */
	KINKO_ENOENT = -7,     /* no such thing (or not visible to the caller) */
	KINKO_EEXIST = -8,     /* already exists */
	KINKO_ESEALED = -9,    /* the vault is sealed */
	KINKO_ELIMIT = -10,    /* a configured limit was exceeded */
	KINKO_ECONFLICT = -11, /* state does not allow the act */
	KINKO_EUNAVAIL = -12,  /* a safeguard (audit, scanner, key) is unavailable */
	KINKO_EINTEGRITY = -13,/* stored data failed an integrity check */
	KINKO_EFORMAT = -14,   /* malformed file or message */
	KINKO_ELOCKED = -15,   /* account locked out */
	KINKO_EINFECTED = -16, /* the scanner found malware */
	KINKO_ENOTDURABLE = -17, /* committed, but could not be made durable */
};

struct kinko_err {
	int code;
	char msg[512];
};

/* Fills e (if non-NULL) and returns code, so callers can write
 * `return kinko_err_set(e, KINKO_EINVAL, "...");`. */
int kinko_err_set(struct kinko_err *e, int code, const char *fmt, ...) KINKO_PRINTF(3, 4);

/* Prefixes an existing message with context ("opening store: ..."). Returns e->code. */
int kinko_err_wrap(struct kinko_err *e, const char *fmt, ...) KINKO_PRINTF(2, 3);

void kinko_err_clear(struct kinko_err *e);

/* A short generic text for a code; never NULL. */
const char *kinko_strerror(int code);

#endif
