/*
 * keyring — the key hierarchy, and the only place keys are handled.
 *
 *   unseal secret (passphrase -> Argon2id, or a 32-byte key file)
 *     --wraps--> master key (sodium_malloc memory, only while unsealed)
 *     --wraps--> folder keys --wrap--> object keys --> chunked AEAD (objstream.h)
 *
 * Every wrap binds a context string (e.g. "folder:<uuid>") as associated data, so
 * a wrapped key moved to another row does not unwrap. Wrapped blobs are
 * self-describing (version byte, algorithm, nonce). Keys never leave secure memory
 * except wrapped. This interface is the seam for moving the master key into its
 * own privilege-separated process later.
 */
#ifndef KINKO_CRYPTO_KEYRING_H
#define KINKO_CRYPTO_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define KINKO_KEY_LEN 32

enum keyring_secret_kind {
	KEYRING_PASSPHRASE = 1, /* any bytes; stretched with Argon2id (>= MODERATE limits) */
	KEYRING_KEYFILE = 2,    /* exactly 32 random bytes (or 64 hex chars + optional newline) */
};

/* A symmetric key in secure memory. */
struct kinko_key {
	uint8_t *k; /* KINKO_KEY_LEN bytes, sodium_malloc'd */
};

struct keyring; /* the unsealed master key */

/* Creates a random master key and seals it under the secret. The blob to store (in
 * the store's meta table) is appended to *sealed_out; *out receives the open keyring.
 * An empty passphrase or a key file that is not 32 bytes / 64 hex digits -> KINKO_EINVAL. */
int keyring_create(enum keyring_secret_kind kind, const uint8_t *secret, size_t secret_len,
		   struct kbuf *sealed_out, struct keyring **out, struct kinko_err *e) KINKO_WUR;
/* Opens a sealed master key. Wrong secret, or a blob sealed with the other kind of
 * secret -> KINKO_EAUTH; damaged blob -> KINKO_EFORMAT; unusable key file -> KINKO_EINVAL.
 * The Argon2id parameters are read from the blob. */
int keyring_open(enum keyring_secret_kind kind, const uint8_t *secret, size_t secret_len,
		 const uint8_t *sealed, size_t sealed_len, struct keyring **out,
		 struct kinko_err *e) KINKO_WUR;
/* Wipes and frees. NULL is a no-op. */
void keyring_close(struct keyring *kr);

/* Derives a purpose-bound 32-byte subkey of the master key (e.g. "ca-key",
 * "session-mac"); same purpose, same key. purpose: 1..255 bytes. */
int keyring_derive(const struct keyring *kr, const char *purpose, struct kinko_key **out,
		   struct kinko_err *e) KINKO_WUR;

int kinko_key_new(struct kinko_key **out) KINKO_WUR; /* random */
void kinko_key_free(struct kinko_key *k);               /* wipes; NULL is a no-op */

/* Wrap/unwrap a key under the master key or under another key (kek). The context is
 * a non-empty string of at most 1024 bytes (else KINKO_EINVAL). Wrapping appends to
 * out. Unwrap: wrong length, version or type -> KINKO_EFORMAT; wrong key or context,
 * or altered bytes -> KINKO_ECRYPTO. */
int keyring_wrap(const struct keyring *kr, const char *context, const struct kinko_key *key,
		 struct kbuf *out, struct kinko_err *e) KINKO_WUR;
int keyring_unwrap(const struct keyring *kr, const char *context, const uint8_t *wrapped,
		   size_t n, struct kinko_key **out, struct kinko_err *e) KINKO_WUR;
int kinko_key_wrap(const struct kinko_key *kek, const char *context, const struct kinko_key *key,
		   struct kbuf *out, struct kinko_err *e) KINKO_WUR;
int kinko_key_unwrap(const struct kinko_key *kek, const char *context, const uint8_t *wrapped,
		     size_t n, struct kinko_key **out, struct kinko_err *e) KINKO_WUR;

/* Small values (file names, descriptions): sealed with a random nonce, bound to context.
 * Both append to out and leave it unchanged on failure (errors as for unwrap). */
int kinko_key_seal(const struct kinko_key *k, const char *context, const uint8_t *pt, size_t n,
		   struct kbuf *out, struct kinko_err *e) KINKO_WUR;
int kinko_key_open(const struct kinko_key *k, const char *context, const uint8_t *ct, size_t n,
		   struct kbuf *out, struct kinko_err *e) KINKO_WUR;

#endif
