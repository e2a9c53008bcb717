/*
 * note — C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys.
 *
 * A signed note is a UTF-8 text ending in a newline, a blank line, and one or more
 * lines "— <key name> <base64(key ID || signature)>". The key ID of an Ed25519 key
 * is the first four bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || public
 * key). A verifier key is written "<name>+<8 hex digits of the key ID>+<base64(0x01
 * || public key)>", the format Go's golang.org/x/mod/sumdb/note and the
 * transparency-dev tools use, so the ward can check our notes with their tools.
 *
 * note_open is strict: the whole note must be valid UTF-8 with no control
 * character but newline (so CRLF is refused), at most NOTE_SIGS_MAX signature
 * lines, every line well formed. Signatures from keys it is not given are ignored;
 * a signature by a given key (same name and ID) that does not verify fails the
 * whole note; and at least one signature by a given key must verify.
 */
#ifndef KINKO_AUDIT_NOTE_H
#define KINKO_AUDIT_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "crypto/sign.h"

#define NOTE_NAME_MAX 255      /* bytes of a key name */
#define NOTE_SIGS_MAX 100      /* signature lines in one note */
#define NOTE_SIZE_MAX 65536    /* bytes of a whole note */
/* Characters of padded base64 for n bytes. */
#define NOTE_B64_LEN(n) ((((n) + 2) / 3) * 4)

struct note_verifier {
	char name[NOTE_NAME_MAX + 1];
	uint32_t key_id;
	uint8_t pk[KINKO_SIGN_PUBLIC_LEN];
};

/* 0 when p is valid UTF-8 (RFC 3629) without ASCII control characters, except '\n'
 * when allow_newline; KINKO_EFORMAT otherwise. */
int note_text_check(const uint8_t *p, size_t n, int allow_newline) KINKO_WUR;
/* Non-empty, at most NOTE_NAME_MAX bytes of UTF-8, no control characters, no Unicode
 * space and no '+'. Returns 0 or KINKO_EINVAL. */
int note_name_check(const char *name, size_t n) KINKO_WUR;
int note_key_id(const char *name, const uint8_t pk[KINKO_SIGN_PUBLIC_LEN], uint32_t *out) KINKO_WUR;
/* Builds the verifier for an Ed25519 public key under a name. */
int note_verifier_make(const char *name, const uint8_t pk[KINKO_SIGN_PUBLIC_LEN],
		       struct note_verifier *out, struct kinko_err *e) KINKO_WUR;
/* "<name>+<keyid hex>+<base64(0x01 || pk)>" appended to out. */
int note_verifier_format(const struct note_verifier *v, struct kbuf *out) KINKO_WUR;
/* Parses that string; refuses other algorithms and a key ID that does not match. */
int note_verifier_parse(const char *s, struct note_verifier *out, struct kinko_err *e) KINKO_WUR;

/* Appends text, the blank line and one signature line by key k under name to out.
 * The text must be non-empty, end in "\n" and follow the note character rules. */
int note_sign(const uint8_t *text, size_t n, const char *name, const struct kinko_sign_key *k,
	      struct kbuf *out, struct kinko_err *e) KINKO_WUR;

struct note_opened {
	size_t text_len;   /* the verified text is msg[0 .. text_len) */
	unsigned verified; /* signature lines by the given keys (all verified) */
	unsigned ignored;  /* signature lines by other keys */
};

/* Opens a signed note against the given keys (at least one; no two with the same
 * name and ID). Errors: KINKO_EFORMAT malformed note, KINKO_ECRYPTO a given key's
 * signature does not verify, KINKO_ENOENT no signature by any given key,
 * KINKO_EINVAL bad key list. */
int note_open(const uint8_t *msg, size_t n, const struct note_verifier *keys, size_t nkeys,
	      struct note_opened *out, struct kinko_err *e) KINKO_WUR;

#endif
