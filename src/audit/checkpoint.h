/*
 * checkpoint — C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint), signed as
 * C2SP signed notes (note.h).
 *
 * The body is "<origin>\n<tree size>\n<base64 root hash>\n" followed by optional
 * non-empty extension lines. The size is decimal without leading zeros; the root
 * is the RFC 9162 root at that size (merkle.h). Parsing is strict and refuses
 * anything it would not itself write, except extension lines, which it keeps.
 */
#ifndef KINKO_AUDIT_CHECKPOINT_H
#define KINKO_AUDIT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "audit/note.h"
#include "core/buf.h"
#include "core/err.h"
#include "crypto/sign.h"

#define CHECKPOINT_ORIGIN_MAX 255
#define CHECKPOINT_EXT_MAX 1024

struct checkpoint {
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	/* Zero or more non-empty lines, each ending in '\n'; "" for none. */
	char ext[CHECKPOINT_EXT_MAX + 1];
};

/* Appends the body text to out. */
int checkpoint_format(const struct checkpoint *c, struct kbuf *out, struct kinko_err *e) KINKO_WUR;
/* Parses a body (a note's verified text). */
int checkpoint_parse(const uint8_t *text, size_t n, struct checkpoint *out,
		     struct kinko_err *e) KINKO_WUR;

/* The body signed by k under key_name (which should be the origin), appended to out. */
int checkpoint_sign(const struct checkpoint *c, const char *key_name,
		    const struct kinko_sign_key *k, struct kbuf *out, struct kinko_err *e) KINKO_WUR;

/* Opens a signed checkpoint (note_open rules) and parses its body. When origin is
 * not NULL the checkpoint's origin must equal it (KINKO_EINTEGRITY otherwise). */
int checkpoint_open(const uint8_t *note, size_t n, const struct note_verifier *keys,
		    size_t nkeys, const char *origin, struct checkpoint *out,
		    struct kinko_err *e) KINKO_WUR;

#endif
