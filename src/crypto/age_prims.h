/*
 * age_prims — the primitives the age file format (age-encryption.org/v1) needs,
 * on libsodium (X25519, ChaCha20-Poly1305 IETF, scrypt) and on hash.h's
 * HMAC-SHA-256 (HKDF, RFC 5869). The package module builds the format on these;
 * nothing here knows about headers or stanzas.
 *
 * The payload's ChaCha20-Poly1305 (struct age_aead) runs on OpenSSL's libcrypto:
 * its AVX2 code seals 64 KiB chunks at about 1.9 GB/s on the project machine,
 * libsodium 1.0.18 at 0.86 GB/s and GnuTLS at 0.37 GB/s (docs/performance-package.md).
 * The few-byte file key wrapping stays on libsodium.
 *
 * All functions return 0 or a negative KINKO_E* code; outputs are written only on
 * success. Base64 here is the standard alphabet without padding, canonical only
 * (non-zero trailing bits are refused), as age requires.
 */
#ifndef KINKO_CRYPTO_AGE_PRIMS_H
#define KINKO_CRYPTO_AGE_PRIMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define AGE_X25519_LEN 32
#define AGE_AEAD_KEY_LEN 32
#define AGE_AEAD_NONCE_LEN 12
#define AGE_AEAD_TAG_LEN 16

/* HKDF-SHA-256 (extract then expand); out_len <= 255 * 32. */
int age_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		    const char *info, uint8_t *out, size_t out_len) KINKO_WUR;

/* ChaCha20-Poly1305 (IETF, no associated data). Seal writes n + 16 bytes to out;
 * open reads n >= 16 bytes and writes n - 16, returning KINKO_ECRYPTO on a bad tag.
 * out may equal in. */
int age_aead_seal(const uint8_t key[AGE_AEAD_KEY_LEN], const uint8_t nonce[AGE_AEAD_NONCE_LEN],
		  const uint8_t *in, size_t n, uint8_t *out) KINKO_WUR;
int age_aead_open(const uint8_t key[AGE_AEAD_KEY_LEN], const uint8_t nonce[AGE_AEAD_NONCE_LEN],
		  const uint8_t *in, size_t n, uint8_t *out) KINKO_WUR;

/* A ChaCha20-Poly1305 context for one payload key, for sealing and opening many
 * chunks: the same operations as age_aead_seal/age_aead_open (out must not overlap
 * in). One context per thread; it holds the key until age_aead_free wipes it. */
struct age_aead;
int age_aead_new(const uint8_t key[AGE_AEAD_KEY_LEN], struct age_aead **out) KINKO_WUR;
int age_aead_seal_chunk(struct age_aead *a, const uint8_t nonce[AGE_AEAD_NONCE_LEN],
			const uint8_t *in, size_t n, uint8_t *out) KINKO_WUR;
int age_aead_open_chunk(struct age_aead *a, const uint8_t nonce[AGE_AEAD_NONCE_LEN],
			const uint8_t *in, size_t n, uint8_t *out) KINKO_WUR;
void age_aead_free(struct age_aead *a);

/* X25519: a fresh key pair; the public key of a secret; a shared secret
 * (KINKO_ECRYPTO if it is all zero, i.e. a low-order point). */
void age_x25519_keypair(uint8_t pub[AGE_X25519_LEN], uint8_t sec[AGE_X25519_LEN]);
int age_x25519_public(const uint8_t sec[AGE_X25519_LEN], uint8_t pub[AGE_X25519_LEN]) KINKO_WUR;
int age_x25519_shared(const uint8_t sec[AGE_X25519_LEN], const uint8_t pub[AGE_X25519_LEN],
		      uint8_t shared[AGE_X25519_LEN]) KINKO_WUR;

/* scrypt with r = 8, p = 1 and N = 2^log_n (1 <= log_n <= 30). */
int age_scrypt(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len, int log_n,
	       uint8_t *out, size_t out_len) KINKO_WUR;

/* Base64, standard alphabet, no padding. b64_encoded_len(n) excludes the NUL.
 * Decode refuses padding, bad characters and non-canonical input; *out_len is the
 * decoded length (at most cap). */
size_t age_b64_encoded_len(size_t n);
void age_b64_encode(const uint8_t *in, size_t n, char *out /* encoded_len + 1 */);
int age_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap,
		   size_t *out_len) KINKO_WUR;

#endif
