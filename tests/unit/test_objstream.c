#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/keyring.h"
#include "crypto/objstream.h"

#define SEALED (OBJ_CHUNK_SIZE + OBJ_TAG_LEN)

static const enum obj_alg ALG_AES = OBJ_ALG_AES256GCM;
static const enum obj_alg ALG_XCHACHA = OBJ_ALG_XCHACHA20POLY1305;

struct fixture {
	enum obj_alg alg;
	struct kinko_key *key;
	uint8_t id[OBJ_ID_LEN];
	struct objstream *s;
	uint8_t *pt, *ct, *back; /* 3 chunks of plaintext, sealed, and opened */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct kinko_err e;

	assert_non_null(f);
	f->alg = **(const enum obj_alg **)state;
	assert_int_equal(kinko_key_new(&f->key), 0);
	kinko_random(f->id, sizeof f->id);
	assert_int_equal(objstream_new(f->key, f->alg, f->id, &f->s, &e), 0);
	f->pt = malloc(3 * OBJ_CHUNK_SIZE);
	f->ct = malloc(3 * SEALED);
	f->back = malloc(3 * OBJ_CHUNK_SIZE);
	assert_non_null(f->pt);
	assert_non_null(f->ct);
	assert_non_null(f->back);
	kinko_random(f->pt, 3 * OBJ_CHUNK_SIZE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	objstream_free(f->s);
	kinko_key_free(f->key);
	free(f->pt);
	free(f->ct);
	free(f->back);
	free(f);
	return 0;
}

static int alg_available(enum obj_alg alg)
{
	return alg != OBJ_ALG_AES256GCM || crypto_aead_aes256gcm_is_available();
}

/* Seals a 2.5-chunk object and opens it back, in order and chunk by chunk out of
 * order (HTTP Range reads a chunk alone). */
static void round_trip(void **state)
{
	struct fixture *f = *state;
	struct kinko_err e;
	const size_t last = OBJ_CHUNK_SIZE / 2 + 3;
	const size_t len[3] = {OBJ_CHUNK_SIZE, OBJ_CHUNK_SIZE, last};

	if (!alg_available(f->alg))
		skip();
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(objstream_seal_chunk(f->s, i, i == 2, f->pt + i * OBJ_CHUNK_SIZE,
						      len[i], f->ct + i * SEALED, &e),
				 0);
	/* Ciphertext is not the plaintext, and equal-looking chunks differ per index. */
	assert_memory_not_equal(f->ct, f->pt, 64);
	for (int i = 2; i >= 0; i--) {
		memset(f->back + (size_t)i * OBJ_CHUNK_SIZE, 0xAA, len[i]);
		assert_int_equal(objstream_open_chunk(f->s, (uint64_t)i, i == 2,
						      f->ct + (size_t)i * SEALED,
						      len[i] + OBJ_TAG_LEN,
						      f->back + (size_t)i * OBJ_CHUNK_SIZE, &e),
				 0);
	}
	assert_memory_equal(f->back, f->pt, 2 * OBJ_CHUNK_SIZE + last);

	/* Same plaintext at two indices gives two different ciphertexts. */
	uint8_t a[16 + OBJ_TAG_LEN], b[16 + OBJ_TAG_LEN];
	assert_int_equal(objstream_seal_chunk(f->s, 7, true, f->pt, 16, a, &e), 0);
	assert_int_equal(objstream_seal_chunk(f->s, 8, true, f->pt, 16, b, &e), 0);
	assert_memory_not_equal(a, b, 16);
	/* Deterministic: the nonce comes from the index, not from randomness. */
	assert_int_equal(objstream_seal_chunk(f->s, 7, true, f->pt, 16, b, &e), 0);
	assert_memory_equal(a, b, sizeof a);
}

static void empty_final_chunk(void **state)
{
	struct fixture *f = *state;
	struct kinko_err e;
	uint8_t ct[OBJ_TAG_LEN], other[OBJ_TAG_LEN];

	if (!alg_available(f->alg))
		skip();
	/* An empty object: one empty final chunk, just a tag. NULL buffers are fine. */
	assert_int_equal(objstream_seal_chunk(f->s, 0, true, NULL, 0, ct, &e), 0);
	assert_int_equal(objstream_open_chunk(f->s, 0, true, ct, OBJ_TAG_LEN, NULL, &e), 0);
	assert_int_equal(objstream_open_chunk(f->s, 0, true, ct, OBJ_TAG_LEN, f->back, &e), 0);
	/* It is still authenticated: another index, or cut off as non-final, fails. */
	assert_int_equal(objstream_open_chunk(f->s, 1, true, ct, OBJ_TAG_LEN, NULL, &e),
			 KINKO_ECRYPTO);
	assert_int_equal(e.code, KINKO_ECRYPTO);
	assert_int_equal(objstream_open_chunk(f->s, 0, false, ct, OBJ_TAG_LEN, NULL, &e),
			 KINKO_ECRYPTO);
	/* An empty final chunk after a full one (object of exactly one chunk). */
	assert_int_equal(objstream_seal_chunk(f->s, 0, false, f->pt, OBJ_CHUNK_SIZE, f->ct, &e),
			 0);
	assert_int_equal(objstream_seal_chunk(f->s, 1, true, f->pt, 0, other, &e), 0);
	assert_memory_not_equal(ct, other, OBJ_TAG_LEN);
	assert_int_equal(objstream_open_chunk(f->s, 1, true, other, OBJ_TAG_LEN, NULL, &e), 0);
	assert_int_equal(objstream_open_chunk(f->s, 0, false, f->ct, SEALED, f->back, &e), 0);
	assert_memory_equal(f->back, f->pt, OBJ_CHUNK_SIZE);
}

static void expect_crypto_fail(const struct objstream *s, uint64_t index, bool final,
			       const uint8_t *ct, size_t n, uint8_t *out)
{
	struct kinko_err e;

	memset(out, 0x55, n - OBJ_TAG_LEN);
	kinko_err_clear(&e);
	assert_int_equal(objstream_open_chunk(s, index, final, ct, n, out, &e), KINKO_ECRYPTO);
	assert_int_equal(e.code, KINKO_ECRYPTO);
	assert_non_null(strstr(e.msg, "chunk"));
	/* No unauthenticated plaintext is left behind. */
	for (size_t i = 0; i < n - OBJ_TAG_LEN; i++)
		if (out[i] != 0)
			fail_msg("byte %zu of a failed open was left non-zero", i);
}

static void every_tamper_fails(void **state)
{
	struct fixture *f = *state;
	struct kinko_err e;
	struct kinko_key *k2;
	struct objstream *s2;
	uint8_t id2[OBJ_ID_LEN];
	uint8_t *c = f->ct, *c2 = f->ct + SEALED;
	const size_t small = 1000;

	if (!alg_available(f->alg))
		skip();
	/* chunk 0 full non-final, chunk 1 full final (so the flag is only in the tag). */
	assert_int_equal(objstream_seal_chunk(f->s, 0, false, f->pt, OBJ_CHUNK_SIZE, c, &e), 0);
	assert_int_equal(objstream_seal_chunk(f->s, 1, true, f->pt, OBJ_CHUNK_SIZE, c2, &e), 0);
	assert_int_equal(objstream_open_chunk(f->s, 0, false, c, SEALED, f->back, &e), 0);
	assert_int_equal(objstream_open_chunk(f->s, 1, true, c2, SEALED, f->back, &e), 0);

	/* A flipped bit anywhere in the ciphertext (sampled) or the tag (all of it). */
	const size_t pos[] = {0, 1, 15, 16, 4095, 4096, 32768, OBJ_CHUNK_SIZE - 1};
	for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
		c[pos[i]] ^= 0x01;
		expect_crypto_fail(f->s, 0, false, c, SEALED, f->back);
		c[pos[i]] ^= 0x01;
	}
	for (size_t i = OBJ_CHUNK_SIZE; i < SEALED; i++) {
		c[i] ^= 0x80;
		expect_crypto_fail(f->s, 0, false, c, SEALED, f->back);
		c[i] ^= 0x80;
	}
	/* Reordering: the right chunk at the wrong index. */
	expect_crypto_fail(f->s, 1, false, c, SEALED, f->back);
	expect_crypto_fail(f->s, UINT64_MAX, false, c, SEALED, f->back);
	expect_crypto_fail(f->s, 0, true, c2, SEALED, f->back);
	/* Truncation and extension: the final flag is authenticated. */
	expect_crypto_fail(f->s, 0, true, c, SEALED, f->back);
	expect_crypto_fail(f->s, 1, false, c2, SEALED, f->back);
	/* Splicing: the same key under another object ID, another key, another object. */
	kinko_random(id2, sizeof id2);
	assert_int_equal(objstream_new(f->key, f->alg, id2, &s2, &e), 0);
	expect_crypto_fail(s2, 0, false, c, SEALED, f->back);
	objstream_free(s2);
	assert_int_equal(kinko_key_new(&k2), 0);
	assert_int_equal(objstream_new(k2, f->alg, f->id, &s2, &e), 0);
	expect_crypto_fail(s2, 0, false, c, SEALED, f->back);
	/* A chunk sealed by another object (other key and ID) at the same index. */
	objstream_free(s2);
	assert_int_equal(objstream_new(k2, f->alg, id2, &s2, &e), 0);
	assert_int_equal(objstream_seal_chunk(s2, 0, false, f->pt, OBJ_CHUNK_SIZE, c2, &e), 0);
	expect_crypto_fail(f->s, 0, false, c2, SEALED, f->back);
	objstream_free(s2);
	kinko_key_free(k2);
	/* The other algorithm with the same key cannot open it either. */
	enum obj_alg other = f->alg == OBJ_ALG_AES256GCM ? OBJ_ALG_XCHACHA20POLY1305
							 : OBJ_ALG_AES256GCM;
	if (alg_available(other)) {
		assert_int_equal(objstream_new(f->key, other, f->id, &s2, &e), 0);
		expect_crypto_fail(s2, 0, false, c, SEALED, f->back);
		objstream_free(s2);
	}

	/* A short final chunk: tampering and a truncated (cut) chunk. */
	assert_int_equal(objstream_seal_chunk(f->s, 2, true, f->pt, small, c, &e), 0);
	c[small - 1] ^= 4;
	expect_crypto_fail(f->s, 2, true, c, small + OBJ_TAG_LEN, f->back);
	c[small - 1] ^= 4;
	expect_crypto_fail(f->s, 2, true, c, small + OBJ_TAG_LEN - 1, f->back);
	/* A short chunk presented as non-final can never be genuine. */
	expect_crypto_fail(f->s, 2, false, c, small + OBJ_TAG_LEN, f->back);
	assert_int_equal(objstream_open_chunk(f->s, 2, true, c, small + OBJ_TAG_LEN, f->back, &e),
			 0);
	assert_memory_equal(f->back, f->pt, small);
}

static void bad_sizes_are_einval(void **state)
{
	struct fixture *f = *state;
	struct kinko_err e;

	if (!alg_available(f->alg))
		skip();
	/* Seal: more than a chunk (final or not), or a short non-final chunk. */
	assert_int_equal(objstream_seal_chunk(f->s, 0, true, f->pt, OBJ_CHUNK_SIZE + 1, f->ct, &e),
			 KINKO_EINVAL);
	assert_int_equal(e.code, KINKO_EINVAL);
	assert_int_equal(
		objstream_seal_chunk(f->s, 0, false, f->pt, OBJ_CHUNK_SIZE + 1, f->ct, &e),
		KINKO_EINVAL);
	assert_int_equal(objstream_seal_chunk(f->s, 0, false, f->pt, 100, f->ct, &e),
			 KINKO_EINVAL);
	assert_int_equal(objstream_seal_chunk(f->s, 0, false, f->pt, 0, f->ct, &e), KINKO_EINVAL);
	assert_int_equal(
		objstream_seal_chunk(f->s, 0, false, f->pt, OBJ_CHUNK_SIZE - 1, f->ct, &e),
		KINKO_EINVAL);
	assert_int_equal(objstream_seal_chunk(f->s, 0, true, f->pt, 10, NULL, &e), KINKO_EINVAL);
	assert_int_equal(objstream_seal_chunk(f->s, 0, true, NULL, 10, f->ct, &e), KINKO_EINVAL);
	assert_int_equal(objstream_seal_chunk(NULL, 0, true, f->pt, 10, f->ct, &e), KINKO_EINVAL);
	/* Open: shorter than a tag, or longer than a sealed chunk. */
	assert_int_equal(objstream_open_chunk(f->s, 0, true, f->ct, OBJ_TAG_LEN - 1, f->back, &e),
			 KINKO_EINVAL);
	assert_int_equal(objstream_open_chunk(f->s, 0, true, f->ct, 0, f->back, &e),
			 KINKO_EINVAL);
	assert_int_equal(objstream_open_chunk(f->s, 0, false, f->ct, SEALED + 1, f->back, &e),
			 KINKO_EINVAL);
	assert_int_equal(objstream_open_chunk(f->s, 0, true, NULL, SEALED, f->back, &e),
			 KINKO_EINVAL);
	/* A full final chunk is allowed (an object of an exact multiple of the chunk). */
	assert_int_equal(objstream_seal_chunk(f->s, 0, true, f->pt, OBJ_CHUNK_SIZE, f->ct, &e), 0);
	assert_int_equal(objstream_open_chunk(f->s, 0, true, f->ct, SEALED, f->back, &e), 0);
}

/* Rebuilds chunk sealing from the documented format with another implementation
 * (GnuTLS for AES-256-GCM, libsodium's combined API for XChaCha20-Poly1305), so the
 * nonce and associated data in docs/formats-crypto.md are what the code does. */
static void matches_documented_format(void **state)
{
	struct fixture *f = *state;
	struct kinko_err e;
	uint8_t nonce[24], ad[37];
	const uint64_t index = 0x0102030405060708ull;
	const size_t n = 300;

	if (!alg_available(f->alg))
		skip();
	for (int final = 0; final <= 1; final++) {
		size_t len = final ? n : OBJ_CHUNK_SIZE;
		size_t nlen = f->alg == OBJ_ALG_AES256GCM ? 12 : 24;
		uint8_t *big_mine = malloc(SEALED), *big_ref = malloc(SEALED);
		assert_non_null(big_mine);
		assert_non_null(big_ref);

		memset(nonce, 0, sizeof nonce);
		nonce[0] = (uint8_t)final;
		for (int i = 0; i < 8; i++)
			nonce[nlen - 8 + (size_t)i] = (uint8_t)(index >> (56 - 8 * i));
		memcpy(ad, "kinko-obj-v1", 12);
		memcpy(ad + 12, f->id, 16);
		memcpy(ad + 28, nonce + nlen - 8, 8);
		ad[36] = (uint8_t)final;

		assert_int_equal(
			objstream_seal_chunk(f->s, index, final, f->pt, len, big_mine, &e), 0);
		if (f->alg == OBJ_ALG_AES256GCM) {
			/* objstream seals AES-GCM with GnuTLS: check it against libsodium. */
			unsigned long long clen = 0;
			assert_int_equal(crypto_aead_aes256gcm_encrypt(big_ref, &clen, f->pt, len,
								       ad, sizeof ad, NULL, nonce,
								       f->key->k),
					 0);
			assert_int_equal(clen, len + OBJ_TAG_LEN);
		} else {
			unsigned long long clen = 0;
			assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(
						 big_ref, &clen, f->pt, len, ad, sizeof ad, NULL,
						 nonce, f->key->k),
					 0);
			assert_int_equal(clen, len + OBJ_TAG_LEN);
		}
		assert_memory_equal(big_mine, big_ref, len + OBJ_TAG_LEN);
		free(big_mine);
		free(big_ref);
	}
}

static void in_place(void **state)
{
	struct fixture *f = *state;
	struct kinko_err e;
	uint8_t *buf = f->ct;

	if (!alg_available(f->alg))
		skip();
	memcpy(buf, f->pt, OBJ_CHUNK_SIZE);
	assert_int_equal(objstream_seal_chunk(f->s, 3, false, buf, OBJ_CHUNK_SIZE, buf, &e), 0);
	assert_int_equal(objstream_seal_chunk(f->s, 3, false, f->pt, OBJ_CHUNK_SIZE,
					      f->ct + SEALED, &e),
			 0);
	assert_memory_equal(buf, f->ct + SEALED, SEALED);
	assert_int_equal(objstream_open_chunk(f->s, 3, false, buf, SEALED, buf, &e), 0);
	assert_memory_equal(buf, f->pt, OBJ_CHUNK_SIZE);
}

/* Many threads share one context: every seal must equal the single-threaded
 * result and every open must succeed. */
#define THREADS 4
#define PER_THREAD 24
struct worker {
	const struct fixture *f;
	const uint8_t *expect; /* PER_THREAD * THREADS sealed chunks */
	int tid, failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t *ct = malloc(SEALED), *pt = malloc(OBJ_CHUNK_SIZE);
	struct kinko_err e;

	if (!ct || !pt) {
		w->failures++;
		free(ct);
		free(pt);
		return NULL;
	}
	for (int r = 0; r < 3; r++)
		for (int j = 0; j < THREADS * PER_THREAD; j++) {
			uint64_t idx = (uint64_t)((j + w->tid * PER_THREAD) % (THREADS * PER_THREAD));
			if (objstream_seal_chunk(w->f->s, idx, false, w->f->pt, OBJ_CHUNK_SIZE, ct,
						 &e) != 0 ||
			    memcmp(ct, w->expect + idx * SEALED, SEALED) != 0)
				w->failures++;
			if (objstream_open_chunk(w->f->s, idx, false, w->expect + idx * SEALED,
						 SEALED, pt, &e) != 0 ||
			    memcmp(pt, w->f->pt, OBJ_CHUNK_SIZE) != 0)
				w->failures++;
		}
	free(ct);
	free(pt);
	return NULL;
}

static void concurrent_use(void **state)
{
	struct fixture *f = *state;
	struct kinko_err e;
	pthread_t th[THREADS];
	struct worker w[THREADS];
	uint8_t *expect = malloc((size_t)THREADS * PER_THREAD * SEALED);

	if (!alg_available(f->alg)) {
		free(expect);
		skip();
	}
	assert_non_null(expect);
	for (int j = 0; j < THREADS * PER_THREAD; j++)
		assert_int_equal(objstream_seal_chunk(f->s, (uint64_t)j, false, f->pt,
						      OBJ_CHUNK_SIZE, expect + (size_t)j * SEALED,
						      &e),
				 0);
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct worker){.f = f, .expect = expect, .tid = t};
		assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(w[t].failures, 0);
	}
	free(expect);
}

static void construction(void **state)
{
	struct kinko_key *k;
	struct objstream *s = (struct objstream *)0x1;
	struct kinko_err e;
	uint8_t id[OBJ_ID_LEN] = {0};
	(void)state;

	assert_int_equal(kinko_key_new(&k), 0);
	assert_int_equal(objstream_default_alg(), crypto_aead_aes256gcm_is_available()
							  ? OBJ_ALG_AES256GCM
							  : OBJ_ALG_XCHACHA20POLY1305);
	assert_int_equal(objstream_new(k, (enum obj_alg)3, id, &s, &e), KINKO_EFORMAT);
	assert_int_equal(objstream_new(k, (enum obj_alg)0, id, &s, &e), KINKO_EFORMAT);
	assert_int_equal(objstream_new(NULL, OBJ_ALG_XCHACHA20POLY1305, id, &s, &e), KINKO_EINVAL);
	assert_int_equal(objstream_new(k, OBJ_ALG_XCHACHA20POLY1305, NULL, &s, &e), KINKO_EINVAL);
	assert_ptr_equal(s, (struct objstream *)0x1); /* untouched on failure */
	/* GnuTLS opens AES-256-GCM objects on any CPU, with or without AES-NI. */
	assert_int_equal(objstream_new(k, OBJ_ALG_AES256GCM, id, &s, &e), 0);
	objstream_free(s);
	s = NULL;
	assert_int_equal(objstream_new(k, objstream_default_alg(), id, &s, &e), 0);
	objstream_free(s);
	objstream_free(NULL);
	kinko_key_free(k);
}

#define PER_ALG(fn)                                                                     \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&ALG_AES),    \
		cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown,              \
							 (void *)&ALG_XCHACHA)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(construction),
		PER_ALG(round_trip),
		PER_ALG(empty_final_chunk),
		PER_ALG(every_tamper_fails),
		PER_ALG(bad_sizes_are_einval),
		PER_ALG(matches_documented_format),
		PER_ALG(in_place),
		PER_ALG(concurrent_use),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
