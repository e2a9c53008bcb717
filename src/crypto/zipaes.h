/*
 * zipaes — the primitives of WinZip AES encryption (AE-1/AE-2) for zip entries:
 * PBKDF2-HMAC-SHA1 key derivation (1000 iterations), AES-256 in WinZip's CTR mode
 * (a 128-bit little-endian block counter starting at 1, no nonce) and
 * HMAC-SHA1 over the ciphertext, truncated to 10 bytes.
 *
 * On nettle (AES, with AES-NI) and GnuTLS (HMAC, PBKDF2): neither exposes WinZip's
 * little-endian CTR, so the counter blocks are built here and encrypted in batches;
 * on CPUs with VAES and AVX2 the CTR runs on kinko's own VAES loop instead (on
 * nettle's key schedule), several times faster. The package module builds the zip
 * container on these.
 */
#ifndef KINKO_CRYPTO_ZIPAES_H
#define KINKO_CRYPTO_ZIPAES_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ZIPAES_SALT_LEN 16 /* AES-256 */
#define ZIPAES_PV_LEN 2
#define ZIPAES_MAC_LEN 10
#define ZIPAES_ITERATIONS 1000

struct zipaes; /* opaque, in secure memory */

/* Derives the keys for one entry from the password and the entry's salt; *pv gets
 * the 2-byte password verifier. Free with zipaes_free. */
int zipaes_new(const char *pw, size_t pw_len, const uint8_t salt[ZIPAES_SALT_LEN],
	       struct zipaes **out, uint8_t pv[ZIPAES_PV_LEN]) KINKO_WUR;
/* XORs the key stream at byte offset off of the entry into buf (encrypts or
 * decrypts; offsets need not be block-aligned). Two threads may each run one of
 * these on the same context at once (the MAC functions are not thread-safe). */
void zipaes_crypt(const struct zipaes *z, uint64_t off, uint8_t *buf, size_t n);
/* The same from src into dst (n bytes each; equal or not overlapping). */
void zipaes_crypt_to(const struct zipaes *z, uint64_t off, const uint8_t *src, uint8_t *dst,
		     size_t n);
/* Feeds ciphertext into the entry's MAC. */
void zipaes_mac_update(struct zipaes *z, const uint8_t *p, size_t n);
/* Keeps a copy of the MAC's state (replacing an earlier copy); rewind returns the
 * MAC to the copy, for a reader that fed the MAC more than the entry turned out to
 * hold. Mark fails only for want of memory. */
int zipaes_mac_mark(struct zipaes *z) KINKO_WUR;
void zipaes_mac_rewind(struct zipaes *z); /* after a successful mark */
/* The truncated MAC over everything fed so far (call once). */
void zipaes_mac_final(struct zipaes *z, uint8_t mac[ZIPAES_MAC_LEN]);
void zipaes_free(struct zipaes *z);

/* PBKDF2-HMAC-SHA-256 for the kinko integrity comment (see docs/packages.md). */
int zipaes_pbkdf2_sha256(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
			 unsigned iterations, uint8_t *out, size_t out_len) KINKO_WUR;

/* Incremental HMAC-SHA-256 (for the integrity comment over the whole archive). */
struct zipaes_hmac {
	void *hd;
};
int zipaes_hmac256_init(struct zipaes_hmac *h, const uint8_t *key, size_t key_len) KINKO_WUR;
void zipaes_hmac256_update(struct zipaes_hmac *h, const void *p, size_t n);
void zipaes_hmac256_final(struct zipaes_hmac *h, uint8_t out[32]);
void zipaes_hmac256_abort(struct zipaes_hmac *h);

#endif
