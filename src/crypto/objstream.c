/*
 * objstream — see objstream.h for the contract and docs/formats-crypto.md for the
 * nonce and associated-data construction.
 *
 * The whole context lives in one sodium_malloc'd block (it holds the expanded AES
 * key or the raw object key) and is never written after objstream_new, so any
 * number of threads may seal and open chunks with it at once: libsodium's
 * *_afternm functions and the XChaCha20-Poly1305 functions only read their key.
 */
#include "crypto/objstream.h"

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#define OBJ_DOMAIN "kinko-obj-v1"
#define OBJ_DOMAIN_LEN (sizeof OBJ_DOMAIN - 1) /* 12 */
#define OBJ_AD_LEN (OBJ_DOMAIN_LEN + OBJ_ID_LEN + 8 + 1) /* 37 */

struct objstream {
	/* First, so the block's 16-byte alignment is the state's (sodium_malloc places
	 * the block at the end of a page, and the struct's size is a multiple of 16). */
	crypto_aead_aes256gcm_state gcm;
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	uint8_t object_id[OBJ_ID_LEN];
	enum obj_alg alg;
};

enum obj_alg objstream_default_alg(void)
{
	return crypto_aead_aes256gcm_is_available() ? OBJ_ALG_AES256GCM
						    : OBJ_ALG_XCHACHA20POLY1305;
}

int objstream_new(const struct kinko_key *key, enum obj_alg alg,
		  const uint8_t object_id[OBJ_ID_LEN], struct objstream **out,
		  struct kinko_err *e)
{
	struct objstream *s;

	if (!key || !key->k || !object_id || !out)
		return kinko_err_set(e, KINKO_EINVAL, "objstream_new: missing key, ID or output");
	if (alg != OBJ_ALG_AES256GCM && alg != OBJ_ALG_XCHACHA20POLY1305)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the object names an unknown cipher (%d): it is damaged or "
				     "from a newer kinko",
				     (int)alg);
	if (alg == OBJ_ALG_AES256GCM && !crypto_aead_aes256gcm_is_available())
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "the object is encrypted with AES-256-GCM, which needs a CPU "
				     "with AES-NI and PCLMUL: open it on such a machine");
	s = sodium_malloc(sizeof *s);
	if (!s)
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	if ((uintptr_t)&s->gcm % 16 != 0) {
		sodium_free(s);
		return kinko_err_set(e, KINKO_ENOMEM, "secure memory is not 16-byte aligned");
	}
	memset(s, 0, sizeof *s);
	s->alg = alg;
	memcpy(s->object_id, object_id, OBJ_ID_LEN);
	if (alg == OBJ_ALG_AES256GCM)
		crypto_aead_aes256gcm_beforenm(&s->gcm, key->k);
	else
		memcpy(s->key, key->k, sizeof s->key);
	sodium_mprotect_readonly(s);
	*out = s;
	return 0;
}

void objstream_free(struct objstream *s)
{
	sodium_free(s); /* NULL-safe; restores write access, wipes, unmaps */
}

/* nonce: final flag, zeros, then the chunk index big-endian in the last 8 bytes.
 * AD: "kinko-obj-v1" || object ID || index (u64 BE) || final flag. */
static void chunk_params(const struct objstream *s, uint64_t index, bool final,
			 uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES],
			 size_t nlen, uint8_t ad[OBJ_AD_LEN])
{
	memset(nonce, 0, nlen);
	nonce[0] = final ? 1 : 0;
	for (int i = 0; i < 8; i++)
		nonce[nlen - 1 - (size_t)i] = (uint8_t)(index >> (8 * i));
	memcpy(ad, OBJ_DOMAIN, OBJ_DOMAIN_LEN);
	memcpy(ad + OBJ_DOMAIN_LEN, s->object_id, OBJ_ID_LEN);
	memcpy(ad + OBJ_DOMAIN_LEN + OBJ_ID_LEN, nonce + nlen - 8, 8);
	ad[OBJ_AD_LEN - 1] = final ? 1 : 0;
}

int objstream_seal_chunk(const struct objstream *s, uint64_t index, bool final,
			 const uint8_t *in, size_t n, uint8_t *out, struct kinko_err *e)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[OBJ_AD_LEN];
	static const uint8_t none[1];

	if (!s || !out || (!in && n))
		return kinko_err_set(e, KINKO_EINVAL, "seal chunk: missing context or buffer");
	if (n > OBJ_CHUNK_SIZE)
		return kinko_err_set(e, KINKO_EINVAL,
				     "seal chunk: %zu bytes is more than a chunk (%u)", n,
				     OBJ_CHUNK_SIZE);
	if (!final && n != OBJ_CHUNK_SIZE)
		return kinko_err_set(e, KINKO_EINVAL,
				     "seal chunk: only the final chunk may be shorter than %u bytes "
				     "(chunk %llu has %zu)",
				     OBJ_CHUNK_SIZE, (unsigned long long)index, n);
	if (!in)
		in = none;
	if (s->alg == OBJ_ALG_AES256GCM) {
		chunk_params(s, index, final, nonce, crypto_aead_aes256gcm_NPUBBYTES, ad);
		crypto_aead_aes256gcm_encrypt_detached_afternm(out, out + n, NULL, in, n, ad,
							       OBJ_AD_LEN, NULL, nonce, &s->gcm);
	} else {
		chunk_params(s, index, final, nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
			     ad);
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + n, NULL, in, n, ad,
								    OBJ_AD_LEN, NULL, nonce,
								    s->key);
	}
	return 0;
}

int objstream_open_chunk(const struct objstream *s, uint64_t index, bool final,
			 const uint8_t *in, size_t n, uint8_t *out, struct kinko_err *e)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[OBJ_AD_LEN];
	uint8_t none[1];
	size_t m;
	int rc;

	if (!s || !in || (!out && n > OBJ_TAG_LEN))
		return kinko_err_set(e, KINKO_EINVAL, "open chunk: missing context or buffer");
	if (n < OBJ_TAG_LEN || n > OBJ_CHUNK_SIZE + OBJ_TAG_LEN)
		return kinko_err_set(e, KINKO_EINVAL,
				     "open chunk: a sealed chunk is %u to %u bytes, not %zu",
				     OBJ_TAG_LEN, OBJ_CHUNK_SIZE + OBJ_TAG_LEN, n);
	m = n - OBJ_TAG_LEN;
	if (!out)
		out = none;
	/* Seal never makes a short non-final chunk: this one was cut off. */
	if (!final && m != OBJ_CHUNK_SIZE) {
		if (m)
			sodium_memzero(out, m);
		return kinko_err_set(e, KINKO_ECRYPTO,
				     "chunk %llu of the object is truncated: the stored content was "
				     "damaged or altered",
				     (unsigned long long)index);
	}
	if (s->alg == OBJ_ALG_AES256GCM) {
		chunk_params(s, index, final, nonce, crypto_aead_aes256gcm_NPUBBYTES, ad);
		rc = crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, in, m, in + m, ad,
								    OBJ_AD_LEN, nonce, &s->gcm);
	} else {
		chunk_params(s, index, final, nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
			     ad);
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, NULL, in, m, in + m,
									 ad, OBJ_AD_LEN, nonce,
									 s->key);
	}
	if (rc != 0) {
		if (m)
			sodium_memzero(out, m);
		return kinko_err_set(e, KINKO_ECRYPTO,
				     "chunk %llu of the object does not verify: the stored content "
				     "was damaged or altered, or belongs to another object",
				     (unsigned long long)index);
	}
	return 0;
}
