#include "crypto/age_prims.h"

#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/hash.h"

int age_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		    const char *info, uint8_t *out, size_t out_len)
{
	uint8_t zero[KINKO_SHA256_LEN] = {0};
	uint8_t prk[KINKO_SHA256_LEN], t[KINKO_SHA256_LEN];
	uint8_t msg[KINKO_SHA256_LEN + 128 + 1];
	size_t info_len = strlen(info), done = 0, tlen = 0;
	int rc = 0;

	if (info_len > 128 || out_len > 255 * KINKO_SHA256_LEN)
		return KINKO_EINVAL;
	if (!salt || salt_len == 0) {
		salt = zero;
		salt_len = sizeof zero;
	}
	if (kinko_hmac_sha256(salt, salt_len, ikm, ikm_len, prk))
		return KINKO_ECRYPTO;
	for (uint8_t i = 1; done < out_len; i++) {
		size_t m = 0, take;
		memcpy(msg, t, tlen);
		m = tlen;
		memcpy(msg + m, info, info_len);
		m += info_len;
		msg[m++] = i;
		if (kinko_hmac_sha256(prk, sizeof prk, msg, m, t)) {
			rc = KINKO_ECRYPTO;
			break;
		}
		tlen = sizeof t;
		take = out_len - done < tlen ? out_len - done : tlen;
		memcpy(out + done, t, take);
		done += take;
	}
	sodium_memzero(prk, sizeof prk);
	sodium_memzero(t, sizeof t);
	sodium_memzero(msg, sizeof msg);
	return rc;
}

int age_aead_seal(const uint8_t key[AGE_AEAD_KEY_LEN], const uint8_t nonce[AGE_AEAD_NONCE_LEN],
		  const uint8_t *in, size_t n, uint8_t *out)
{
	unsigned long long clen = 0;

	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, in, n, NULL, 0, NULL, nonce,
						      key) != 0)
		return KINKO_ECRYPTO;
	return 0;
}

int age_aead_open(const uint8_t key[AGE_AEAD_KEY_LEN], const uint8_t nonce[AGE_AEAD_NONCE_LEN],
		  const uint8_t *in, size_t n, uint8_t *out)
{
	unsigned long long mlen = 0;

	if (n < AGE_AEAD_TAG_LEN)
		return KINKO_ECRYPTO;
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, in, n, NULL, 0, nonce,
						      key) != 0)
		return KINKO_ECRYPTO;
	return 0;
}

struct age_aead {
	EVP_CIPHER_CTX *seal, *open; /* keyed once; each chunk sets only the nonce */
};

int age_aead_new(const uint8_t key[AGE_AEAD_KEY_LEN], struct age_aead **out)
{
	struct age_aead *a = calloc(1, sizeof *a);

	if (!a)
		return KINKO_ENOMEM;
	a->seal = EVP_CIPHER_CTX_new();
	a->open = EVP_CIPHER_CTX_new();
	if (!a->seal || !a->open ||
	    EVP_EncryptInit_ex(a->seal, EVP_chacha20_poly1305(), NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(a->open, EVP_chacha20_poly1305(), NULL, key, NULL) != 1) {
		age_aead_free(a);
		return KINKO_ECRYPTO;
	}
	*out = a;
	return 0;
}

void age_aead_free(struct age_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->seal); /* frees and cleanses the key schedule */
	EVP_CIPHER_CTX_free(a->open);
	free(a);
}

int age_aead_seal_chunk(struct age_aead *a, const uint8_t nonce[AGE_AEAD_NONCE_LEN],
			const uint8_t *in, size_t n, uint8_t *out)
{
	int l1 = 0, l2 = 0;

	if (n > INT_MAX)
		return KINKO_EINVAL;
	if (EVP_EncryptInit_ex(a->seal, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(a->seal, out, &l1, in, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(a->seal, out + l1, &l2) != 1 || (size_t)l1 + (size_t)l2 != n ||
	    EVP_CIPHER_CTX_ctrl(a->seal, EVP_CTRL_AEAD_GET_TAG, AGE_AEAD_TAG_LEN, out + n) != 1)
		return KINKO_ECRYPTO;
	return 0;
}

int age_aead_open_chunk(struct age_aead *a, const uint8_t nonce[AGE_AEAD_NONCE_LEN],
			const uint8_t *in, size_t n, uint8_t *out)
{
	int l1 = 0, l2 = 0;
	size_t m;

	if (n < AGE_AEAD_TAG_LEN || n - AGE_AEAD_TAG_LEN > INT_MAX)
		return KINKO_ECRYPTO;
	m = n - AGE_AEAD_TAG_LEN;
	if (EVP_DecryptInit_ex(a->open, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(a->open, out, &l1, in, (int)m) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->open, EVP_CTRL_AEAD_SET_TAG, AGE_AEAD_TAG_LEN,
				(void *)(uintptr_t)(in + m)) != 1 ||
	    EVP_DecryptFinal_ex(a->open, out + l1, &l2) != 1 || (size_t)l1 + (size_t)l2 != m) {
		sodium_memzero(out, m); /* unauthenticated plaintext is never left behind */
		return KINKO_ECRYPTO;
	}
	return 0;
}

void age_x25519_keypair(uint8_t pub[AGE_X25519_LEN], uint8_t sec[AGE_X25519_LEN])
{
	randombytes_buf(sec, AGE_X25519_LEN);
	(void)crypto_scalarmult_base(pub, sec);
}

int age_x25519_public(const uint8_t sec[AGE_X25519_LEN], uint8_t pub[AGE_X25519_LEN])
{
	return crypto_scalarmult_base(pub, sec) == 0 ? 0 : KINKO_ECRYPTO;
}

int age_x25519_shared(const uint8_t sec[AGE_X25519_LEN], const uint8_t pub[AGE_X25519_LEN],
		      uint8_t shared[AGE_X25519_LEN])
{
	/* libsodium returns -1 for an all-zero result (low-order public key). */
	return crypto_scalarmult(shared, sec, pub) == 0 ? 0 : KINKO_ECRYPTO;
}

int age_scrypt(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len, int log_n,
	       uint8_t *out, size_t out_len)
{
	if (log_n < 1 || log_n > 30)
		return KINKO_EINVAL;
	if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)pw, pw_len, salt, salt_len,
						  (uint64_t)1 << log_n, 8, 1, out, out_len) != 0)
		return KINKO_ENOMEM;
	return 0;
}

size_t age_b64_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

void age_b64_encode(const uint8_t *in, size_t n, char *out)
{
	(void)sodium_bin2base64(out, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING),
				in, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

int age_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t got = 0;
	const char *end = NULL;
	char check[4];
	uint8_t last[3];

	if (in_len % 4 == 1)
		return KINKO_EFORMAT;
	if (sodium_base642bin(out, cap, in, in_len, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    end != in + in_len)
		return KINKO_EFORMAT;
	/* Canonical: re-encoding the last group gives the same characters. */
	if (in_len % 4) {
		size_t tail = in_len % 4, nbytes = tail - 1;
		memcpy(last, out + got - nbytes, nbytes);
		char enc[8];
		age_b64_encode(last, nbytes, enc);
		memcpy(check, enc, tail);
		if (memcmp(check, in + in_len - tail, tail) != 0)
			return KINKO_EFORMAT;
	}
	*out_len = got;
	return 0;
}
