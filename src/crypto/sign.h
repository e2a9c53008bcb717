/*
 * sign — Ed25519 signing keys (RFC 8032) for checkpoints and reports.
 *
 * A struct kinko_sign_key keeps the secret key in secure memory (guarded, locked,
 * wiped when freed); only the 32-byte seed ever leaves it, through
 * kinko_sign_key_seed, so the caller can wrap it with the keyring for storage.
 * Verification needs only the 32-byte public key. Signatures are deterministic.
 */
#ifndef KINKO_CRYPTO_SIGN_H
#define KINKO_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KINKO_SIGN_PUBLIC_LEN 32
#define KINKO_SIGN_SEED_LEN 32
#define KINKO_SIGN_LEN 64

struct kinko_sign_key;

/* A new random key pair. */
int kinko_sign_keypair(struct kinko_sign_key **out) KINKO_WUR;
/* The key pair for a 32-byte seed (as stored, or from test vectors). */
int kinko_sign_key_from_seed(const uint8_t seed[KINKO_SIGN_SEED_LEN],
			     struct kinko_sign_key **out) KINKO_WUR;
/* Copies the seed out; the caller wipes it (kinko_wipe) once it is wrapped. */
void kinko_sign_key_seed(const struct kinko_sign_key *k, uint8_t seed[KINKO_SIGN_SEED_LEN]);
void kinko_sign_key_public(const struct kinko_sign_key *k, uint8_t pk[KINKO_SIGN_PUBLIC_LEN]);
/* Wipes and frees. NULL is a no-op. */
void kinko_sign_key_free(struct kinko_sign_key *k);

int kinko_sign(const struct kinko_sign_key *k, const void *msg, size_t n,
	       uint8_t sig[KINKO_SIGN_LEN]) KINKO_WUR;
/* 0 when sig is pk's signature of msg, otherwise KINKO_ECRYPTO (also for a public
 * key that is not a valid curve point or a small-order point). */
int kinko_sign_verify(const uint8_t pk[KINKO_SIGN_PUBLIC_LEN], const void *msg, size_t n,
		      const uint8_t sig[KINKO_SIGN_LEN]) KINKO_WUR;

#endif
