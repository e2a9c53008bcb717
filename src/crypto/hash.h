/*
 * hash — SHA-256 and HMAC-SHA-256.
 *
 * Backed by GnuTLS (nettle), whose SHA-256 uses the CPU's SHA extensions: about
 * four times faster here than libsodium's portable code. Every module that needs
 * SHA-256 (upload digests, the Merkle log, package checksums) uses this one.
 */
#ifndef KINKO_CRYPTO_HASH_H
#define KINKO_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KINKO_SHA256_LEN 32

struct kinko_sha256 {
	void *hd; /* gnutls_hash_hd_t */
};

int kinko_sha256_init(struct kinko_sha256 *h) KINKO_WUR;
void kinko_sha256_update(struct kinko_sha256 *h, const void *p, size_t n);
/* Writes the digest and releases h. */
void kinko_sha256_final(struct kinko_sha256 *h, uint8_t out[KINKO_SHA256_LEN]);
/* Releases h without a digest (error paths); safe on a zeroed struct. */
void kinko_sha256_abort(struct kinko_sha256 *h);
int kinko_sha256(const void *p, size_t n, uint8_t out[KINKO_SHA256_LEN]) KINKO_WUR;

int kinko_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
		      uint8_t out[KINKO_SHA256_LEN]) KINKO_WUR;

#endif
