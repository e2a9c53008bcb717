#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/parse.h"
#include "crypto/crypto.h"
#include "crypto/keyring.h"

/* The sealed master key layout from docs/formats-crypto.md. */
#define MK_LEN 124
#define OFF_KIND 1
#define OFF_KDF 2
#define OFF_OPS 4
#define OFF_MEM 12
#define OFF_SALT 20
#define OFF_NONCE 36
#define OFF_CT 60
#define OFF_SUM 108
#define WRAPPED_LEN 75

static const uint8_t KEYFILE[32] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
	0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a,
	0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void fix_sum(uint8_t *blob)
{
	assert_int_equal(crypto_generichash(blob + OFF_SUM, 16, blob, OFF_SUM, NULL, 0), 0);
}

/* Two keyrings hold the same master key when a subkey and a wrap agree. */
static void assert_same_master(const struct keyring *a, const struct keyring *b)
{
	struct kinko_key *ka, *kb, *k, *u;
	struct kbuf w;
	struct kinko_err e;

	assert_int_equal(keyring_derive(a, "same?", &ka, &e), 0);
	assert_int_equal(keyring_derive(b, "same?", &kb, &e), 0);
	assert_memory_equal(ka->k, kb->k, KINKO_KEY_LEN);
	assert_int_equal(kinko_key_new(&k), 0);
	kbuf_init(&w, 1024);
	assert_int_equal(keyring_wrap(a, "folder:x", k, &w, &e), 0);
	assert_int_equal(keyring_unwrap(b, "folder:x", w.data, w.len, &u, &e), 0);
	assert_memory_equal(u->k, k->k, KINKO_KEY_LEN);
	kbuf_free(&w);
	kinko_key_free(ka);
	kinko_key_free(kb);
	kinko_key_free(k);
	kinko_key_free(u);
}

static void keyfile_create_and_open(void **state)
{
	struct kbuf blob;
	struct keyring *kr, *kr2, *kr3;
	struct kinko_err e;
	char hex[70];
	(void)state;

	kbuf_init(&blob, 4096);
	assert_int_equal(kbuf_append(&blob, "X", 1), 0); /* output is appended */
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob, &kr, &e), 0);
	assert_int_equal(blob.len, 1 + MK_LEN);
	const uint8_t *b = blob.data + 1;
	assert_int_equal(b[0], 1);
	assert_int_equal(b[OFF_KIND], KEYRING_KEYFILE);
	assert_int_equal(be64(b + OFF_OPS), 0);
	assert_int_equal(be64(b + OFF_MEM), 0);

	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, MK_LEN, &kr2, &e), 0);
	assert_same_master(kr, kr2);
	keyring_close(kr2);
	/* The hex form of the same key file, lower and upper case, with a newline. */
	format_hex(KEYFILE, 32, hex);
	assert_int_equal(keyring_open(KEYRING_KEYFILE, (uint8_t *)hex, 64, b, MK_LEN, &kr2, &e), 0);
	for (int i = 0; i < 64; i++)
		if (hex[i] >= 'a')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	hex[64] = '\n';
	assert_int_equal(keyring_open(KEYRING_KEYFILE, (uint8_t *)hex, 65, b, MK_LEN, &kr3, &e), 0);
	assert_same_master(kr2, kr3);
	keyring_close(kr2);
	keyring_close(kr3);

	/* A second keyring from the same key file has another master key and salt. */
	struct kbuf blob2;
	kbuf_init(&blob2, 4096);
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob2, &kr2, &e), 0);
	assert_memory_not_equal(blob2.data + OFF_SALT, b + OFF_SALT, 16);
	struct kinko_key *d1, *d2;
	assert_int_equal(keyring_derive(kr, "p", &d1, &e), 0);
	assert_int_equal(keyring_derive(kr2, "p", &d2, &e), 0);
	assert_memory_not_equal(d1->k, d2->k, KINKO_KEY_LEN);
	kinko_key_free(d1);
	kinko_key_free(d2);
	keyring_close(kr2);
	kbuf_free(&blob2);
	keyring_close(kr);
	keyring_close(NULL);
	kbuf_free(&blob);
}

static void keyfile_bad_contents(void **state)
{
	struct kbuf blob;
	struct keyring *kr = (struct keyring *)0x1, *ok;
	struct kinko_err e;
	char hex[80];
	uint8_t raw[40] = {0};
	(void)state;

	kbuf_init(&blob, 4096);
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob, &ok, &e), 0);
	keyring_close(ok);
	format_hex(KEYFILE, 32, hex);

	struct {
		const uint8_t *p;
		size_t n;
	} bad[] = {
		{raw, 0}, {raw, 31}, {raw, 33}, {(uint8_t *)hex, 63}, {(uint8_t *)hex, 62},
		{NULL, 0}, {NULL, 32},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t before = blob.len;
		kinko_err_clear(&e);
		assert_int_equal(keyring_open(KEYRING_KEYFILE, bad[i].p, bad[i].n, blob.data,
					      blob.len, &kr, &e),
				 KINKO_EINVAL);
		assert_non_null(strstr(e.msg, "key file"));
		assert_int_equal(keyring_create(KEYRING_KEYFILE, bad[i].p, bad[i].n, &blob, &kr, &e),
				 KINKO_EINVAL);
		assert_int_equal(blob.len, before); /* nothing appended */
	}
	/* 64 chars that are not all hex, wrong line endings, two newlines. */
	const char *texts[] = {"\r\n", "\n\n", " ", "x"};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		format_hex(KEYFILE, 32, hex);
		memcpy(hex + 64, texts[i], strlen(texts[i]));
		assert_int_equal(keyring_open(KEYRING_KEYFILE, (uint8_t *)hex,
					      64 + strlen(texts[i]), blob.data, blob.len, &kr, &e),
				 KINKO_EINVAL);
	}
	format_hex(KEYFILE, 32, hex);
	hex[10] = 'g';
	assert_int_equal(
		keyring_open(KEYRING_KEYFILE, (uint8_t *)hex, 64, blob.data, blob.len, &kr, &e),
		KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "hex"));
	assert_ptr_equal(kr, (struct keyring *)0x1); /* output untouched on failure */
	assert_int_equal(keyring_open((enum keyring_secret_kind)3, KEYFILE, 32, blob.data,
				      blob.len, &kr, &e),
			 KINKO_EINVAL);
	kbuf_free(&blob);
}

static void wrong_keyfile_is_eauth(void **state)
{
	struct kbuf blob;
	struct keyring *kr = NULL;
	struct kinko_err e;
	uint8_t other[32];
	(void)state;

	kbuf_init(&blob, 4096);
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob, &kr, &e), 0);
	keyring_close(kr);
	kr = NULL;
	memcpy(other, KEYFILE, 32);
	other[31] ^= 1;
	assert_int_equal(keyring_open(KEYRING_KEYFILE, other, 32, blob.data, blob.len, &kr, &e),
			 KINKO_EAUTH);
	assert_int_equal(e.code, KINKO_EAUTH);
	assert_non_null(strstr(e.msg, "key file is wrong"));
	assert_null(kr);
	/* A key-file blob opened with a passphrase: said plainly, no Argon2 run. */
	assert_int_equal(keyring_open(KEYRING_PASSPHRASE, (const uint8_t *)"pw", 2, blob.data,
				      blob.len, &kr, &e),
			 KINKO_EAUTH);
	assert_non_null(strstr(e.msg, "sealed with a key file"));
	kbuf_free(&blob);
}

static void damaged_blob_is_eformat(void **state)
{
	struct kbuf blob;
	struct keyring *kr = NULL;
	struct kinko_err e;
	uint8_t b[MK_LEN + 1];
	(void)state;

	kbuf_init(&blob, 4096);
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob, &kr, &e), 0);
	keyring_close(kr);
	kr = NULL;
	memcpy(b, blob.data, MK_LEN);
	/* Any single flipped bit anywhere: header, parameters, salt, nonce, sealed key,
	 * checksum. */
	for (size_t i = 0; i < MK_LEN; i++)
		for (int bit = 0; bit < 8; bit += 7) {
			b[i] ^= (uint8_t)(1 << bit);
			kinko_err_clear(&e);
			assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, MK_LEN, &kr, &e),
					 KINKO_EFORMAT);
			assert_non_null(strstr(e.msg, "sealed master key"));
			b[i] ^= (uint8_t)(1 << bit);
		}
	assert_null(kr);
	/* Cut short, extended, empty. */
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, MK_LEN - 1, &kr, &e),
			 KINKO_EFORMAT);
	b[MK_LEN] = 0;
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, MK_LEN + 1, &kr, &e),
			 KINKO_EFORMAT);
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, 0, &kr, &e), KINKO_EFORMAT);
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, NULL, MK_LEN, &kr, &e),
			 KINKO_EFORMAT);
	/* Deliberate tampering that also fixes the checksum is caught by the AEAD. */
	b[OFF_CT + 5] ^= 1;
	fix_sum(b);
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, MK_LEN, &kr, &e),
			 KINKO_EAUTH);
	b[OFF_CT + 5] ^= 1;
	b[OFF_SALT] ^= 1; /* the salt is in the KEK and the associated data */
	fix_sum(b);
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, MK_LEN, &kr, &e),
			 KINKO_EAUTH);
	b[OFF_SALT] ^= 1;
	/* Key-file blobs carry no Argon2 parameters; passphrase kind needs them. */
	put_be64(b + OFF_OPS, 3);
	fix_sum(b);
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, b, MK_LEN, &kr, &e),
			 KINKO_EFORMAT);
	put_be64(b + OFF_OPS, 0);
	b[OFF_KIND] = KEYRING_PASSPHRASE;
	fix_sum(b);
	assert_int_equal(keyring_open(KEYRING_PASSPHRASE, (const uint8_t *)"x", 1, b, MK_LEN, &kr,
				      &e),
			 KINKO_EFORMAT);
	assert_null(kr);
	kbuf_free(&blob);
}

/* Builds a passphrase blob exactly as docs/formats-crypto.md describes, with
 * parameters above the ones keyring_create uses, and a known master key. */
static void build_passphrase_blob(const char *pw, uint64_t ops, uint64_t mem,
				  const uint8_t mk[32], uint8_t b[MK_LEN])
{
	uint8_t kek[32];

	memset(b, 0, MK_LEN);
	b[0] = 1;
	b[OFF_KIND] = 1;
	b[OFF_KDF] = 1;
	b[3] = 1;
	put_be64(b + OFF_OPS, ops);
	put_be64(b + OFF_MEM, mem);
	randombytes_buf(b + OFF_SALT, 16);
	randombytes_buf(b + OFF_NONCE, 24);
	assert_int_equal(crypto_pwhash(kek, 32, pw, strlen(pw), b + OFF_SALT, ops, (size_t)mem,
				       crypto_pwhash_ALG_ARGON2ID13),
			 0);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(b + OFF_CT, NULL, mk, 32, b,
								    OFF_NONCE, NULL,
								    b + OFF_NONCE, kek),
			 0);
	fix_sum(b);
	sodium_memzero(kek, sizeof kek);
}

static void passphrase(void **state)
{
	static const char pw[] = "correct horse battery staple 金庫";
	struct kbuf blob;
	struct keyring *kr, *kr2 = NULL;
	struct kinko_err e;
	(void)state;

	kbuf_init(&blob, 4096);
	assert_int_equal(keyring_create(KEYRING_PASSPHRASE, (const uint8_t *)"", 0, &blob, &kr, &e),
			 KINKO_EINVAL);
	assert_int_equal(blob.len, 0);
	assert_int_equal(keyring_create(KEYRING_PASSPHRASE, (const uint8_t *)pw, strlen(pw), &blob,
					&kr, &e),
			 0);
	assert_int_equal(blob.len, MK_LEN);
	assert_int_equal(blob.data[OFF_KIND], KEYRING_PASSPHRASE);
	assert_int_equal(blob.data[OFF_KDF], 1);
	assert_true(be64(blob.data + OFF_OPS) >= crypto_pwhash_OPSLIMIT_MODERATE);
	assert_true(be64(blob.data + OFF_MEM) >= crypto_pwhash_MEMLIMIT_MODERATE);

	assert_int_equal(keyring_open(KEYRING_PASSPHRASE, (const uint8_t *)pw, strlen(pw),
				      blob.data, blob.len, &kr2, &e),
			 0);
	assert_same_master(kr, kr2);
	keyring_close(kr2);
	kr2 = NULL;
	assert_int_equal(keyring_open(KEYRING_PASSPHRASE, (const uint8_t *)pw, strlen(pw) - 1,
				      blob.data, blob.len, &kr2, &e),
			 KINKO_EAUTH);
	assert_non_null(strstr(e.msg, "passphrase is wrong"));
	assert_null(kr2);
	/* A passphrase blob given a key file: refused before any KDF runs. */
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, blob.data, blob.len, &kr2, &e),
			 KINKO_EAUTH);
	assert_non_null(strstr(e.msg, "sealed with a passphrase"));
	/* Parameters out of the accepted range are a damaged blob, not a slow unseal. */
	uint8_t b[MK_LEN];
	memcpy(b, blob.data, MK_LEN);
	put_be64(b + OFF_MEM, (uint64_t)64 << 30);
	fix_sum(b);
	assert_int_equal(keyring_open(KEYRING_PASSPHRASE, (const uint8_t *)pw, strlen(pw), b,
				      MK_LEN, &kr2, &e),
			 KINKO_EFORMAT);
	memcpy(b, blob.data, MK_LEN);
	put_be64(b + OFF_OPS, 1);
	fix_sum(b);
	assert_int_equal(keyring_open(KEYRING_PASSPHRASE, (const uint8_t *)pw, strlen(pw), b,
				      MK_LEN, &kr2, &e),
			 KINKO_EFORMAT);
	keyring_close(kr);
	kbuf_free(&blob);
}

/* The parameters are read from the blob, so raising them later needs no code
 * change; and the documented construction (KEK, wrap key, derive) is the real one. */
static void documented_format_and_raised_parameters(void **state)
{
	uint8_t mk[32], b[MK_LEN], wk[32], sub[32];
	struct keyring *kr;
	struct kinko_key *k, *kek, *got;
	struct kbuf w;
	struct kinko_err e;
	crypto_generichash_state st;
	(void)state;

	randombytes_buf(mk, sizeof mk);
	build_passphrase_blob("pw", crypto_pwhash_OPSLIMIT_MODERATE + 1,
			      crypto_pwhash_MEMLIMIT_MODERATE, mk, b);
	assert_int_equal(keyring_open(KEYRING_PASSPHRASE, (const uint8_t *)"pw", 2, b, MK_LEN, &kr,
				      &e),
			 0);
	/* keyring_derive = BLAKE2b-256(key = master, "kinko-derive-v1" NUL purpose). */
	assert_int_equal(crypto_generichash_init(&st, mk, 32, 32), 0);
	assert_int_equal(crypto_generichash_update(&st, (const uint8_t *)"kinko-derive-v1", 16), 0);
	assert_int_equal(crypto_generichash_update(&st, (const uint8_t *)"ca-key", 6), 0);
	assert_int_equal(crypto_generichash_final(&st, sub, 32), 0);
	assert_int_equal(keyring_derive(kr, "ca-key", &got, &e), 0);
	assert_memory_equal(got->k, sub, 32);
	kinko_key_free(got);
	/* keyring_wrap = kinko_key_wrap under BLAKE2b-256(key = master,
	 * "kinko-keyring-wrap-v1"). */
	assert_int_equal(crypto_generichash(wk, 32, (const uint8_t *)"kinko-keyring-wrap-v1", 21,
					    mk, 32),
			 0);
	assert_int_equal(kinko_key_new(&kek), 0);
	memcpy(kek->k, wk, 32);
	assert_int_equal(kinko_key_new(&k), 0);
	kbuf_init(&w, 256);
	assert_int_equal(keyring_wrap(kr, "folder:1", k, &w, &e), 0);
	assert_int_equal(kinko_key_unwrap(kek, "folder:1", w.data, w.len, &got, &e), 0);
	assert_memory_equal(got->k, k->k, 32);
	kinko_key_free(got);
	/* The master key is never used directly as a wrapping key. */
	memcpy(kek->k, mk, 32);
	assert_int_equal(kinko_key_unwrap(kek, "folder:1", w.data, w.len, &got, &e),
			 KINKO_ECRYPTO);
	kbuf_free(&w);
	kinko_key_free(k);
	kinko_key_free(kek);
	keyring_close(kr);

	/* Key-file KEK = BLAKE2b-256(key = key file, "kinko-keyfile-kek-v1" || salt). */
	uint8_t kb[MK_LEN], kfkek[32];
	memset(kb, 0, sizeof kb);
	kb[0] = 1;
	kb[OFF_KIND] = 2;
	kb[OFF_KDF] = 2;
	kb[3] = 1;
	randombytes_buf(kb + OFF_SALT, 16 + 24);
	assert_int_equal(crypto_generichash_init(&st, KEYFILE, 32, 32), 0);
	assert_int_equal(
		crypto_generichash_update(&st, (const uint8_t *)"kinko-keyfile-kek-v1", 20), 0);
	assert_int_equal(crypto_generichash_update(&st, kb + OFF_SALT, 16), 0);
	assert_int_equal(crypto_generichash_final(&st, kfkek, 32), 0);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(kb + OFF_CT, NULL, mk, 32, kb,
								    OFF_NONCE, NULL,
								    kb + OFF_NONCE, kfkek),
			 0);
	fix_sum(kb);
	assert_int_equal(keyring_open(KEYRING_KEYFILE, KEYFILE, 32, kb, MK_LEN, &kr, &e), 0);
	assert_int_equal(keyring_derive(kr, "ca-key", &got, &e), 0);
	assert_memory_equal(got->k, sub, 32); /* same master key -> same subkey */
	kinko_key_free(got);
	keyring_close(kr);
}

static void derive(void **state)
{
	struct kbuf blob;
	struct keyring *kr;
	struct kinko_key *a, *b, *c = (struct kinko_key *)0x1;
	struct kinko_err e;
	char longp[300];
	(void)state;

	kbuf_init(&blob, 4096);
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob, &kr, &e), 0);
	assert_int_equal(keyring_derive(kr, "ca-key", &a, &e), 0);
	assert_int_equal(keyring_derive(kr, "ca-key", &b, &e), 0);
	assert_memory_equal(a->k, b->k, KINKO_KEY_LEN);
	kinko_key_free(b);
	assert_int_equal(keyring_derive(kr, "session-mac", &b, &e), 0);
	assert_memory_not_equal(a->k, b->k, KINKO_KEY_LEN);
	kinko_key_free(b);
	assert_int_equal(keyring_derive(kr, "ca-ke", &b, &e), 0);
	assert_memory_not_equal(a->k, b->k, KINKO_KEY_LEN);
	kinko_key_free(b);
	assert_int_equal(keyring_derive(kr, "", &c, &e), KINKO_EINVAL);
	assert_int_equal(keyring_derive(kr, NULL, &c, &e), KINKO_EINVAL);
	memset(longp, 'p', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	assert_int_equal(keyring_derive(kr, longp, &c, &e), KINKO_EINVAL);
	longp[255] = '\0';
	assert_int_equal(keyring_derive(kr, longp, &b, &e), 0);
	kinko_key_free(b);
	assert_ptr_equal(c, (struct kinko_key *)0x1);
	kinko_key_free(a);
	keyring_close(kr);
	kbuf_free(&blob);
}

static void wrap_unwrap(void **state)
{
	struct kinko_key *kek, *key, *got = (struct kinko_key *)0x1, *other;
	struct kbuf w, w2;
	struct kinko_err e;
	(void)state;

	assert_int_equal(kinko_key_new(&kek), 0);
	assert_int_equal(kinko_key_new(&key), 0);
	assert_int_equal(kinko_key_new(&other), 0);
	assert_memory_not_equal(kek->k, key->k, KINKO_KEY_LEN);
	kbuf_init(&w, 256);
	kbuf_init(&w2, 256);
	assert_int_equal(kinko_key_wrap(kek, "object:42", key, &w, &e), 0);
	assert_int_equal(w.len, WRAPPED_LEN);
	assert_int_equal(w.data[0], 1);
	assert_int_equal(w.data[1], 1);
	assert_int_equal(w.data[2], 1);
	assert_memory_not_equal(w.data + 27, key->k, KINKO_KEY_LEN);
	/* A random nonce: wrapping twice gives two different blobs. */
	assert_int_equal(kinko_key_wrap(kek, "object:42", key, &w2, &e), 0);
	assert_memory_not_equal(w.data, w2.data, WRAPPED_LEN);

	struct kinko_key *u;
	assert_int_equal(kinko_key_unwrap(kek, "object:42", w.data, w.len, &u, &e), 0);
	assert_memory_equal(u->k, key->k, KINKO_KEY_LEN);
	kinko_key_free(u);
	assert_int_equal(kinko_key_unwrap(kek, "object:42", w2.data, w2.len, &u, &e), 0);
	kinko_key_free(u);

	/* Moved to another row, or another key. */
	assert_int_equal(kinko_key_unwrap(kek, "object:43", w.data, w.len, &got, &e),
			 KINKO_ECRYPTO);
	assert_int_equal(e.code, KINKO_ECRYPTO);
	assert_int_equal(kinko_key_unwrap(kek, "object:4", w.data, w.len, &got, &e),
			 KINKO_ECRYPTO);
	assert_int_equal(kinko_key_unwrap(other, "object:42", w.data, w.len, &got, &e),
			 KINKO_ECRYPTO);
	/* Every flipped bit: header bytes are a format error, the rest do not verify. */
	for (size_t i = 0; i < WRAPPED_LEN; i++) {
		w.data[i] ^= 0x20;
		assert_int_equal(kinko_key_unwrap(kek, "object:42", w.data, w.len, &got, &e),
				 i < 3 ? KINKO_EFORMAT : KINKO_ECRYPTO);
		w.data[i] ^= 0x20;
	}
	assert_int_equal(kinko_key_unwrap(kek, "object:42", w.data, w.len - 1, &got, &e),
			 KINKO_EFORMAT);
	assert_int_equal(kinko_key_unwrap(kek, "object:42", w.data, 0, &got, &e), KINKO_EFORMAT);
	assert_int_equal(kinko_key_unwrap(kek, "object:42", NULL, WRAPPED_LEN, &got, &e),
			 KINKO_EFORMAT);
	/* The context is mandatory. */
	assert_int_equal(kinko_key_unwrap(kek, "", w.data, w.len, &got, &e), KINKO_EINVAL);
	assert_int_equal(kinko_key_unwrap(kek, NULL, w.data, w.len, &got, &e), KINKO_EINVAL);
	assert_int_equal(kinko_key_wrap(kek, "", key, &w2, &e), KINKO_EINVAL);
	assert_int_equal(w2.len, WRAPPED_LEN); /* nothing appended */
	assert_int_equal(kinko_key_wrap(NULL, "c", key, &w2, &e), KINKO_EINVAL);
	assert_int_equal(kinko_key_wrap(kek, "c", NULL, &w2, &e), KINKO_EINVAL);
	assert_ptr_equal(got, (struct kinko_key *)0x1); /* untouched on failure */
	/* No room in the output buffer: ELIMIT, buffer unchanged. */
	struct kbuf small;
	kbuf_init(&small, WRAPPED_LEN - 1);
	assert_int_equal(kinko_key_wrap(kek, "c", key, &small, &e), KINKO_ELIMIT);
	assert_int_equal(small.len, 0);
	kbuf_free(&small);

	/* The keyring's own wrapping, and keys wrapped under one keyring. */
	struct kbuf blob, kw;
	struct keyring *kr, *kr2;
	kbuf_init(&blob, 4096);
	kbuf_init(&kw, 256);
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob, &kr, &e), 0);
	kbuf_reset(&blob);
	assert_int_equal(keyring_create(KEYRING_KEYFILE, KEYFILE, 32, &blob, &kr2, &e), 0);
	assert_int_equal(keyring_wrap(kr, "folder:7", key, &kw, &e), 0);
	assert_int_equal(kw.len, WRAPPED_LEN);
	assert_int_equal(keyring_unwrap(kr, "folder:7", kw.data, kw.len, &u, &e), 0);
	assert_memory_equal(u->k, key->k, KINKO_KEY_LEN);
	kinko_key_free(u);
	assert_int_equal(keyring_unwrap(kr, "folder:8", kw.data, kw.len, &got, &e),
			 KINKO_ECRYPTO);
	assert_int_equal(keyring_unwrap(kr2, "folder:7", kw.data, kw.len, &got, &e),
			 KINKO_ECRYPTO);
	assert_int_equal(keyring_unwrap(NULL, "folder:7", kw.data, kw.len, &got, &e),
			 KINKO_EINVAL);
	keyring_close(kr);
	keyring_close(kr2);
	kbuf_free(&blob);
	kbuf_free(&kw);
	kbuf_free(&w);
	kbuf_free(&w2);
	kinko_key_free(kek);
	kinko_key_free(key);
	kinko_key_free(other);
	kinko_key_free(NULL);
}

static void seal_open_values(void **state)
{
	static const char name[] = "住民票_新宿区.pdf";
	struct kinko_key *k, *other;
	struct kbuf ct, pt, wrapped;
	struct kinko_err e;
	struct kinko_key *got = (struct kinko_key *)0x1;
	(void)state;

	assert_int_equal(kinko_key_new(&k), 0);
	assert_int_equal(kinko_key_new(&other), 0);
	kbuf_init(&ct, 4096);
	kbuf_init(&pt, 4096);
	kbuf_init(&wrapped, 4096);
	assert_int_equal(kinko_key_seal(k, "name:obj1", (const uint8_t *)name, strlen(name), &ct,
					&e),
			 0);
	assert_int_equal(ct.len, strlen(name) + 43);
	assert_int_equal(ct.data[2], 2);
	assert_null(memmem(ct.data, ct.len, "pdf", 3));
	assert_int_equal(kbuf_append_str(&pt, "prefix:"), 0); /* output is appended */
	assert_int_equal(kinko_key_open(k, "name:obj1", ct.data, ct.len, &pt, &e), 0);
	assert_string_equal(kbuf_str(&pt), "prefix:住民票_新宿区.pdf");

	kbuf_reset(&pt);
	assert_int_equal(kinko_key_open(k, "name:obj2", ct.data, ct.len, &pt, &e), KINKO_ECRYPTO);
	assert_int_equal(kinko_key_open(other, "name:obj1", ct.data, ct.len, &pt, &e),
			 KINKO_ECRYPTO);
	for (size_t i = 0; i < ct.len; i++) {
		ct.data[i] ^= 1;
		assert_int_equal(kinko_key_open(k, "name:obj1", ct.data, ct.len, &pt, &e),
				 i < 3 ? KINKO_EFORMAT : KINKO_ECRYPTO);
		ct.data[i] ^= 1;
	}
	assert_int_equal(kinko_key_open(k, "name:obj1", ct.data, 42, &pt, &e), KINKO_EFORMAT);
	assert_int_equal(kinko_key_open(k, "name:obj1", ct.data, ct.len - 1, &pt, &e),
			 KINKO_ECRYPTO);
	assert_int_equal(pt.len, 0); /* nothing appended by any failure */

	/* An empty value is fine and still authenticated. */
	kbuf_reset(&ct);
	assert_int_equal(kinko_key_seal(k, "desc:1", NULL, 0, &ct, &e), 0);
	assert_int_equal(ct.len, 43);
	assert_int_equal(kinko_key_open(k, "desc:1", ct.data, ct.len, &pt, &e), 0);
	assert_int_equal(pt.len, 0);
	assert_int_equal(kinko_key_open(k, "desc:2", ct.data, ct.len, &pt, &e), KINKO_ECRYPTO);

	/* A sealed 32-byte value is not a wrapped key, and a wrapped key is not a value. */
	uint8_t v32[32];
	kinko_random(v32, sizeof v32);
	kbuf_reset(&ct);
	assert_int_equal(kinko_key_seal(k, "ctx", v32, 32, &ct, &e), 0);
	assert_int_equal(ct.len, WRAPPED_LEN);
	assert_int_equal(kinko_key_unwrap(k, "ctx", ct.data, ct.len, &got, &e), KINKO_EFORMAT);
	assert_ptr_equal(got, (struct kinko_key *)0x1);
	assert_int_equal(kinko_key_wrap(k, "ctx", other, &wrapped, &e), 0);
	assert_int_equal(kinko_key_open(k, "ctx", wrapped.data, wrapped.len, &pt, &e),
			 KINKO_EFORMAT);
	/* Changing the type byte does not help: it is authenticated. */
	ct.data[2] = 1;
	assert_int_equal(kinko_key_unwrap(k, "ctx", ct.data, ct.len, &got, &e), KINKO_ECRYPTO);

	/* Output limits. */
	struct kbuf tiny;
	kbuf_init(&tiny, 10);
	assert_int_equal(kinko_key_seal(k, "ctx", v32, 32, &tiny, &e), KINKO_ELIMIT);
	assert_int_equal(tiny.len, 0);
	ct.data[2] = 2;
	assert_int_equal(kinko_key_open(k, "ctx", ct.data, ct.len, &tiny, &e), KINKO_ELIMIT);
	assert_int_equal(tiny.len, 0);
	kbuf_free(&tiny);
	assert_int_equal(kinko_key_seal(k, "", v32, 32, &ct, &e), KINKO_EINVAL);
	assert_int_equal(kinko_key_seal(k, "ctx", NULL, 5, &ct, &e), KINKO_EINVAL);

	kbuf_free(&ct);
	kbuf_free(&pt);
	kbuf_free(&wrapped);
	kinko_key_free(k);
	kinko_key_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keyfile_create_and_open),
		cmocka_unit_test(keyfile_bad_contents),
		cmocka_unit_test(wrong_keyfile_is_eauth),
		cmocka_unit_test(damaged_blob_is_eformat),
		cmocka_unit_test(passphrase),
		cmocka_unit_test(documented_format_and_raised_parameters),
		cmocka_unit_test(derive),
		cmocka_unit_test(wrap_unwrap),
		cmocka_unit_test(seal_open_values),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
