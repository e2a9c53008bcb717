#include "crypto/sign.h"

#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"

struct kinko_sign_key {
	uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES]; /* seed || public key */
	uint8_t pk[crypto_sign_ed25519_PUBLICKEYBYTES];
};

static int sign_key_alloc(struct kinko_sign_key **out)
{
	struct kinko_sign_key *k = kinko_secure_alloc(sizeof *k);

	if (!k)
		return KINKO_ENOMEM;
	*out = k;
	return 0;
}

int kinko_sign_keypair(struct kinko_sign_key **out)
{
	struct kinko_sign_key *k;
	int rc = sign_key_alloc(&k);

	if (rc < 0)
		return rc;
	if (crypto_sign_ed25519_keypair(k->pk, k->sk) != 0) {
		kinko_sign_key_free(k);
		return KINKO_ECRYPTO;
	}
	*out = k;
	return 0;
}

int kinko_sign_key_from_seed(const uint8_t seed[KINKO_SIGN_SEED_LEN], struct kinko_sign_key **out)
{
	struct kinko_sign_key *k;
	int rc = sign_key_alloc(&k);

	if (rc < 0)
		return rc;
	if (crypto_sign_ed25519_seed_keypair(k->pk, k->sk, seed) != 0) {
		kinko_sign_key_free(k);
		return KINKO_ECRYPTO;
	}
	*out = k;
	return 0;
}

void kinko_sign_key_seed(const struct kinko_sign_key *k, uint8_t seed[KINKO_SIGN_SEED_LEN])
{
	/* libsodium's secret key is seed || public key. */
	memcpy(seed, k->sk, KINKO_SIGN_SEED_LEN);
}

void kinko_sign_key_public(const struct kinko_sign_key *k, uint8_t pk[KINKO_SIGN_PUBLIC_LEN])
{
	memcpy(pk, k->pk, KINKO_SIGN_PUBLIC_LEN);
}

void kinko_sign_key_free(struct kinko_sign_key *k)
{
	if (k)
		kinko_secure_free(k); /* sodium_free wipes */
}

int kinko_sign(const struct kinko_sign_key *k, const void *msg, size_t n,
	       uint8_t sig[KINKO_SIGN_LEN])
{
	uint8_t tmp[KINKO_SIGN_LEN];

	if (crypto_sign_ed25519_detached(tmp, NULL, msg, n, k->sk) != 0)
		return KINKO_ECRYPTO;
	memcpy(sig, tmp, KINKO_SIGN_LEN);
	return 0;
}

int kinko_sign_verify(const uint8_t pk[KINKO_SIGN_PUBLIC_LEN], const void *msg, size_t n,
		      const uint8_t sig[KINKO_SIGN_LEN])
{
	return crypto_sign_ed25519_verify_detached(sig, msg, n, pk) == 0 ? 0 : KINKO_ECRYPTO;
}
