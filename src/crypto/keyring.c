/*
 * keyring — see keyring.h for the contract and docs/formats-crypto.md for the
 * byte layouts produced here.
 *
 * The master key itself is only ever used as a BLAKE2b key: the key that wraps
 * folder keys ("wrap key") and every keyring_derive() subkey are BLAKE2b outputs
 * under distinct domain tags, so no primitive sees the same key bytes as another.
 */
#include "crypto/keyring.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- sealed master key blob ------------------------------------------------ */

#define MK_VERSION 1
#define MK_KDF_ARGON2ID13 1
#define MK_KDF_BLAKE2B 2
#define MK_AEAD_XCHACHA20POLY1305 1

#define MK_SALT_LEN 16
#define MK_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES /* 24 */
#define MK_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES    /* 16 */
#define MK_SUM_LEN 16

#define MK_OFF_VERSION 0
#define MK_OFF_KIND 1
#define MK_OFF_KDF 2
#define MK_OFF_AEAD 3
#define MK_OFF_OPS 4
#define MK_OFF_MEM 12
#define MK_OFF_SALT 20
#define MK_OFF_NONCE (MK_OFF_SALT + MK_SALT_LEN)       /* 36 */
#define MK_OFF_CT (MK_OFF_NONCE + MK_NONCE_LEN)        /* 60 */
#define MK_OFF_SUM (MK_OFF_CT + KINKO_KEY_LEN + MK_TAG_LEN) /* 108 */
#define MK_BLOB_LEN (MK_OFF_SUM + MK_SUM_LEN)          /* 124 */
#define MK_AD_LEN MK_OFF_NONCE                         /* version..salt */

/* Argon2id limits accepted when opening. The lower bound is the policy minimum we
 * create with; the upper bound keeps a tampered blob from making unseal take
 * hours or gigabytes. Raising the parameters later only needs a new blob. */
#define MK_OPS_MIN ((uint64_t)crypto_pwhash_OPSLIMIT_MODERATE)
#define MK_OPS_MAX ((uint64_t)64)
#define MK_MEM_MIN ((uint64_t)crypto_pwhash_MEMLIMIT_MODERATE)
#define MK_MEM_MAX ((uint64_t)4 << 30)

static const char KEYFILE_TAG[] = "kinko-keyfile-kek-v1";
static const char WRAPKEY_TAG[] = "kinko-keyring-wrap-v1";
static const char DERIVE_TAG[] = "kinko-derive-v1"; /* followed by its NUL, then purpose */

/* ---- wrapped keys and sealed values ---------------------------------------- */

#define WR_VERSION 1
#define WR_AEAD_XCHACHA20POLY1305 1
#define WR_TYPE_KEY 1
#define WR_TYPE_VALUE 2
#define WR_HDR_LEN 3
#define WR_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define WR_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define WR_OVERHEAD (WR_HDR_LEN + WR_NONCE_LEN + WR_TAG_LEN) /* 43 */
#define WR_CONTEXT_MAX 1024
#define DERIVE_PURPOSE_MAX 255

struct keyring {
	uint8_t *keys; /* sodium_malloc'd, read-only: master key || wrap key */
};

static const uint8_t *kr_master(const struct keyring *kr)
{
	return kr->keys;
}

static const uint8_t *kr_wrapkey(const struct keyring *kr)
{
	return kr->keys + KINKO_KEY_LEN;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- kinko_key ---------------------------------------------------------------- */

static int key_alloc(struct kinko_key **out)
{
	struct kinko_key *k = malloc(sizeof *k);

	if (!k)
		return KINKO_ENOMEM;
	k->k = sodium_malloc(KINKO_KEY_LEN);
	if (!k->k) {
		free(k);
		return KINKO_ENOMEM;
	}
	*out = k;
	return 0;
}

int kinko_key_new(struct kinko_key **out)
{
	struct kinko_key *k;
	int rc = key_alloc(&k);

	if (rc)
		return rc;
	randombytes_buf(k->k, KINKO_KEY_LEN);
	*out = k;
	return 0;
}

void kinko_key_free(struct kinko_key *k)
{
	if (!k)
		return;
	sodium_free(k->k); /* wipes */
	free(k);
}

/* ---- unseal secrets ------------------------------------------------------------ */

static int hexdigit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A key file holds 32 raw bytes, or 64 hex digits optionally followed by one
 * newline. Writes the 32 key bytes into kf (secure memory) on success. */
static int keyfile_parse(const uint8_t *s, size_t n, uint8_t *kf, struct kinko_err *e)
{
	if (!s)
		return kinko_err_set(e, KINKO_EINVAL, "no key file contents were given");
	if (n == KINKO_KEY_LEN) {
		memcpy(kf, s, KINKO_KEY_LEN);
		return 0;
	}
	if (n == 2 * KINKO_KEY_LEN + 1 && s[n - 1] == '\n')
		n--;
	if (n == 2 * KINKO_KEY_LEN) {
		for (size_t i = 0; i < KINKO_KEY_LEN; i++) {
			int hi = hexdigit(s[2 * i]), lo = hexdigit(s[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				sodium_memzero(kf, KINKO_KEY_LEN);
				return kinko_err_set(e, KINKO_EINVAL,
						     "the key file is not valid: 64 characters must "
						     "all be hex digits (0-9, a-f)");
			}
			kf[i] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
	return kinko_err_set(e, KINKO_EINVAL,
			     "the key file is not valid: it must hold exactly 32 bytes, or 64 "
			     "hex digits with an optional final newline (it holds %zu bytes)",
			     n);
}

/* Derives the 32-byte key-encryption key from the unseal secret into kek. */
static int kek_derive(enum keyring_secret_kind kind, const uint8_t *secret, size_t secret_len,
		      const uint8_t salt[MK_SALT_LEN], uint64_t ops, uint64_t mem, uint8_t *kek,
		      struct kinko_err *e)
{
	if (kind == KEYRING_PASSPHRASE) {
		static const char empty[1] = "";
		const char *pw = secret_len ? (const char *)secret : empty;

		if (crypto_pwhash(kek, KINKO_KEY_LEN, pw, secret_len, salt, ops, (size_t)mem,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
			return kinko_err_set(e, KINKO_ENOMEM,
					     "Argon2id could not run: it needs %llu MiB of memory; "
					     "free memory and try again",
					     (unsigned long long)(mem >> 20));
		return 0;
	}
	{
		uint8_t *kf = sodium_malloc(KINKO_KEY_LEN);
		crypto_generichash_state st;
		int rc;

		if (!kf)
			return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
		rc = keyfile_parse(secret, secret_len, kf, e);
		if (rc == 0) {
			rc = crypto_generichash_init(&st, kf, KINKO_KEY_LEN, KINKO_KEY_LEN);
			if (rc == 0)
				rc = crypto_generichash_update(&st, (const uint8_t *)KEYFILE_TAG,
							       sizeof KEYFILE_TAG - 1);
			if (rc == 0)
				rc = crypto_generichash_update(&st, salt, MK_SALT_LEN);
			if (rc == 0)
				rc = crypto_generichash_final(&st, kek, KINKO_KEY_LEN);
			sodium_memzero(&st, sizeof st);
			if (rc)
				rc = kinko_err_set(e, KINKO_ECRYPTO, "BLAKE2b failed");
		}
		sodium_free(kf);
		return rc;
	}
}

/* Fills keys[KINKO_KEY_LEN..2*KINKO_KEY_LEN) (wrap key) from the master key. */
static int wrapkey_derive(uint8_t *keys)
{
	return crypto_generichash(keys + KINKO_KEY_LEN, KINKO_KEY_LEN,
				  (const uint8_t *)WRAPKEY_TAG, sizeof WRAPKEY_TAG - 1, keys,
				  KINKO_KEY_LEN);
}

static int keyring_alloc(struct keyring **out)
{
	struct keyring *kr = malloc(sizeof *kr);

	if (!kr)
		return KINKO_ENOMEM;
	kr->keys = sodium_malloc(2 * KINKO_KEY_LEN);
	if (!kr->keys) {
		free(kr);
		return KINKO_ENOMEM;
	}
	*out = kr;
	return 0;
}

void keyring_close(struct keyring *kr)
{
	if (!kr)
		return;
	sodium_free(kr->keys); /* makes it writable again, wipes, unmaps */
	free(kr);
}

static const char *secret_name(enum keyring_secret_kind kind)
{
	return kind == KEYRING_PASSPHRASE ? "passphrase" : "key file";
}

static int kind_check(enum keyring_secret_kind kind, const uint8_t *secret, size_t secret_len,
		      struct kinko_err *e)
{
	if (kind != KEYRING_PASSPHRASE && kind != KEYRING_KEYFILE)
		return kinko_err_set(e, KINKO_EINVAL, "unknown kind of unseal secret (%d)",
				     (int)kind);
	if (!secret && secret_len)
		return kinko_err_set(e, KINKO_EINVAL, "no %s was given", secret_name(kind));
	return 0;
}

int keyring_create(enum keyring_secret_kind kind, const uint8_t *secret, size_t secret_len,
		   struct kbuf *sealed_out, struct keyring **out, struct kinko_err *e)
{
	uint8_t blob[MK_BLOB_LEN];
	uint8_t *kek = NULL;
	struct keyring *kr = NULL;
	uint64_t ops = 0, mem = 0;
	int rc;

	if (!sealed_out || !out)
		return kinko_err_set(e, KINKO_EINVAL, "keyring_create: missing output");
	rc = kind_check(kind, secret, secret_len, e);
	if (rc)
		return rc;
	if (kind == KEYRING_PASSPHRASE && secret_len == 0)
		return kinko_err_set(e, KINKO_EINVAL, "the passphrase is empty: choose one");
	if (kind == KEYRING_PASSPHRASE) {
		ops = crypto_pwhash_OPSLIMIT_MODERATE;
		mem = crypto_pwhash_MEMLIMIT_MODERATE;
	}

	memset(blob, 0, sizeof blob);
	blob[MK_OFF_VERSION] = MK_VERSION;
	blob[MK_OFF_KIND] = (uint8_t)kind;
	blob[MK_OFF_KDF] = kind == KEYRING_PASSPHRASE ? MK_KDF_ARGON2ID13 : MK_KDF_BLAKE2B;
	blob[MK_OFF_AEAD] = MK_AEAD_XCHACHA20POLY1305;
	put_be64(blob + MK_OFF_OPS, ops);
	put_be64(blob + MK_OFF_MEM, mem);
	randombytes_buf(blob + MK_OFF_SALT, MK_SALT_LEN);
	randombytes_buf(blob + MK_OFF_NONCE, MK_NONCE_LEN);

	kek = sodium_malloc(KINKO_KEY_LEN);
	if (!kek)
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	rc = kek_derive(kind, secret, secret_len, blob + MK_OFF_SALT, ops, mem, kek, e);
	if (rc)
		goto done;
	if (keyring_alloc(&kr)) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
		goto done;
	}
	randombytes_buf(kr->keys, KINKO_KEY_LEN);
	if (wrapkey_derive(kr->keys) != 0) {
		rc = kinko_err_set(e, KINKO_ECRYPTO, "BLAKE2b failed");
		goto done;
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + MK_OFF_CT, NULL, kr->keys, KINKO_KEY_LEN,
						   blob, MK_AD_LEN, NULL, blob + MK_OFF_NONCE, kek);
	crypto_generichash(blob + MK_OFF_SUM, MK_SUM_LEN, blob, MK_OFF_SUM, NULL, 0);
	rc = kbuf_append(sealed_out, blob, sizeof blob);
	if (rc) {
		rc = kinko_err_set(e, rc, "no room for the sealed master key (%u bytes)",
				   (unsigned)MK_BLOB_LEN);
		goto done;
	}
	sodium_mprotect_readonly(kr->keys);
	*out = kr;
	kr = NULL;
done:
	keyring_close(kr);
	sodium_free(kek);
	return rc;
}

int keyring_open(enum keyring_secret_kind kind, const uint8_t *secret, size_t secret_len,
		 const uint8_t *sealed, size_t sealed_len, struct keyring **out,
		 struct kinko_err *e)
{
	uint8_t sum[MK_SUM_LEN];
	uint8_t *kek = NULL;
	struct keyring *kr = NULL;
	uint64_t ops, mem;
	int rc;

	if (!out)
		return kinko_err_set(e, KINKO_EINVAL, "keyring_open: missing output");
	rc = kind_check(kind, secret, secret_len, e);
	if (rc)
		return rc;
	if (!sealed || sealed_len != MK_BLOB_LEN)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the sealed master key is damaged (it is %zu bytes, not %u): "
				     "restore the store's meta table from a backup",
				     sealed ? sealed_len : 0, (unsigned)MK_BLOB_LEN);
	if (sealed[MK_OFF_VERSION] != MK_VERSION)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the sealed master key has unknown format version %u: use the "
				     "kinko release that created it, or restore a backup",
				     sealed[MK_OFF_VERSION]);
	ops = get_be64(sealed + MK_OFF_OPS);
	mem = get_be64(sealed + MK_OFF_MEM);
	if (sealed[MK_OFF_AEAD] != MK_AEAD_XCHACHA20POLY1305)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the sealed master key names an unknown cipher (%u): it is "
				     "damaged; restore a backup",
				     sealed[MK_OFF_AEAD]);
	if (sealed[MK_OFF_KIND] == KEYRING_PASSPHRASE) {
		if (sealed[MK_OFF_KDF] != MK_KDF_ARGON2ID13 || ops < MK_OPS_MIN ||
		    ops > MK_OPS_MAX || mem < MK_MEM_MIN || mem > MK_MEM_MAX || mem % 1024)
			return kinko_err_set(e, KINKO_EFORMAT,
					     "the sealed master key has invalid Argon2id parameters: "
					     "it is damaged; restore a backup");
	} else if (sealed[MK_OFF_KIND] == KEYRING_KEYFILE) {
		if (sealed[MK_OFF_KDF] != MK_KDF_BLAKE2B || ops != 0 || mem != 0)
			return kinko_err_set(e, KINKO_EFORMAT,
					     "the sealed master key has invalid key-file parameters: "
					     "it is damaged; restore a backup");
	} else {
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the sealed master key names an unknown kind of secret (%u): "
				     "it is damaged; restore a backup",
				     sealed[MK_OFF_KIND]);
	}
	crypto_generichash(sum, sizeof sum, sealed, MK_OFF_SUM, NULL, 0);
	if (sodium_memcmp(sum, sealed + MK_OFF_SUM, MK_SUM_LEN) != 0)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the sealed master key is damaged (its checksum does not "
				     "match): restore the store's meta table from a backup");
	if (sealed[MK_OFF_KIND] != (uint8_t)kind)
		return kinko_err_set(e, KINKO_EAUTH,
				     "this store's master key is sealed with a %s, not a %s: "
				     "unseal with the %s",
				     secret_name(sealed[MK_OFF_KIND]), secret_name(kind),
				     secret_name(sealed[MK_OFF_KIND]));

	kek = sodium_malloc(KINKO_KEY_LEN);
	if (!kek)
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	rc = kek_derive(kind, secret, secret_len, sealed + MK_OFF_SALT, ops, mem, kek, e);
	if (rc)
		goto done;
	if (keyring_alloc(&kr)) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
		goto done;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(kr->keys, NULL, NULL, sealed + MK_OFF_CT,
						       KINKO_KEY_LEN + MK_TAG_LEN, sealed,
						       MK_AD_LEN, sealed + MK_OFF_NONCE, kek) != 0) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   kind == KEYRING_PASSPHRASE
					   ? "the passphrase is wrong: the master key does not "
					     "unseal with it; check it and try again"
					   : "the key file is wrong: the master key does not unseal "
					     "with it; use the key file this store was created with");
		goto done;
	}
	if (wrapkey_derive(kr->keys) != 0) {
		rc = kinko_err_set(e, KINKO_ECRYPTO, "BLAKE2b failed");
		goto done;
	}
	sodium_mprotect_readonly(kr->keys);
	*out = kr;
	kr = NULL;
done:
	keyring_close(kr);
	sodium_free(kek);
	return rc;
}

int keyring_derive(const struct keyring *kr, const char *purpose, struct kinko_key **out,
		   struct kinko_err *e)
{
	crypto_generichash_state st;
	struct kinko_key *k;
	size_t plen;
	int rc;

	if (!kr || !out)
		return kinko_err_set(e, KINKO_EINVAL, "keyring_derive: missing keyring or output");
	if (!purpose || !purpose[0])
		return kinko_err_set(e, KINKO_EINVAL, "keyring_derive: the purpose is empty");
	plen = strnlen(purpose, DERIVE_PURPOSE_MAX + 1);
	if (plen > DERIVE_PURPOSE_MAX)
		return kinko_err_set(e, KINKO_EINVAL,
				     "keyring_derive: the purpose is longer than %d bytes",
				     DERIVE_PURPOSE_MAX);
	if (key_alloc(&k))
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	/* BLAKE2b-256 keyed with the master key over "kinko-derive-v1" NUL purpose:
	 * the NUL makes tag and purpose unambiguous. */
	rc = crypto_generichash_init(&st, kr_master(kr), KINKO_KEY_LEN, KINKO_KEY_LEN);
	if (rc == 0)
		rc = crypto_generichash_update(&st, (const uint8_t *)DERIVE_TAG, sizeof DERIVE_TAG);
	if (rc == 0)
		rc = crypto_generichash_update(&st, (const uint8_t *)purpose, plen);
	if (rc == 0)
		rc = crypto_generichash_final(&st, k->k, KINKO_KEY_LEN);
	sodium_memzero(&st, sizeof st);
	if (rc) {
		kinko_key_free(k);
		return kinko_err_set(e, KINKO_ECRYPTO, "BLAKE2b failed");
	}
	*out = k;
	return 0;
}

/* ---- wrapping --------------------------------------------------------------- */

/* Builds header || context as the associated data into ad (secure memory not
 * needed: nothing here is secret). Returns its length, or 0 on a bad context. */
static size_t wrap_ad(uint8_t type, const char *context, uint8_t ad[WR_HDR_LEN + WR_CONTEXT_MAX])
{
	size_t clen;

	if (!context || !context[0])
		return 0;
	clen = strnlen(context, WR_CONTEXT_MAX + 1);
	if (clen > WR_CONTEXT_MAX)
		return 0;
	ad[0] = WR_VERSION;
	ad[1] = WR_AEAD_XCHACHA20POLY1305;
	ad[2] = type;
	memcpy(ad + WR_HDR_LEN, context, clen);
	return WR_HDR_LEN + clen;
}

static int bad_context(struct kinko_err *e)
{
	return kinko_err_set(e, KINKO_EINVAL,
			     "the wrapping context must be a non-empty string of at most %d bytes",
			     WR_CONTEXT_MAX);
}

static int seal_raw(const uint8_t *key, uint8_t type, const char *context, const uint8_t *pt,
		    size_t n, struct kbuf *out, struct kinko_err *e)
{
	uint8_t ad[WR_HDR_LEN + WR_CONTEXT_MAX];
	size_t adlen, total;
	uint8_t *p;
	int rc;

	if (!out || (!pt && n))
		return kinko_err_set(e, KINKO_EINVAL, "seal: missing input or output");
	adlen = wrap_ad(type, context, ad);
	if (!adlen)
		return bad_context(e);
	if (n > SIZE_MAX - WR_OVERHEAD)
		return kinko_err_set(e, KINKO_ELIMIT, "seal: the value is too large");
	total = n + WR_OVERHEAD;
	rc = kbuf_reserve(out, total);
	if (rc)
		return kinko_err_set(e, rc, "seal: no room for %zu sealed bytes", total);
	p = out->data + out->len;
	memcpy(p, ad, WR_HDR_LEN);
	randombytes_buf(p + WR_HDR_LEN, WR_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + WR_HDR_LEN + WR_NONCE_LEN, NULL, pt, n, ad,
						   adlen, NULL, p + WR_HDR_LEN, key);
	out->len += total;
	out->data[out->len] = '\0';
	return 0;
}

/* Checks the header, then decrypts into pt (room for n - WR_OVERHEAD bytes). */
static int open_raw(const uint8_t *key, uint8_t type, const char *context, const uint8_t *ct,
		    size_t n, uint8_t *pt, struct kinko_err *e)
{
	uint8_t ad[WR_HDR_LEN + WR_CONTEXT_MAX];
	size_t adlen;
	const char *what = type == WR_TYPE_KEY ? "wrapped key" : "sealed value";

	adlen = wrap_ad(type, context, ad);
	if (!adlen)
		return bad_context(e);
	if (!ct || n < WR_OVERHEAD)
		return kinko_err_set(e, KINKO_EFORMAT, "the %s is truncated (%zu bytes)", what,
				     ct ? n : 0);
	if (ct[0] != WR_VERSION || ct[1] != WR_AEAD_XCHACHA20POLY1305)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the %s has an unknown version or cipher (%u/%u)", what, ct[0],
				     ct[1]);
	if (ct[2] != type)
		return kinko_err_set(e, KINKO_EFORMAT, "the data is not a %s (type %u)", what,
				     ct[2]);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct + WR_HDR_LEN + WR_NONCE_LEN,
						       n - WR_HDR_LEN - WR_NONCE_LEN, ad, adlen,
						       ct + WR_HDR_LEN, key) != 0)
		return kinko_err_set(e, KINKO_ECRYPTO,
				     "the %s does not verify: wrong key, wrong context, or the "
				     "stored data was altered",
				     what);
	return 0;
}

static int wrap_key(const uint8_t *kek, const char *context, const struct kinko_key *key,
		    struct kbuf *out, struct kinko_err *e)
{
	if (!key || !key->k)
		return kinko_err_set(e, KINKO_EINVAL, "wrap: no key to wrap");
	return seal_raw(kek, WR_TYPE_KEY, context, key->k, KINKO_KEY_LEN, out, e);
}

static int unwrap_key(const uint8_t *kek, const char *context, const uint8_t *wrapped, size_t n,
		      struct kinko_key **out, struct kinko_err *e)
{
	struct kinko_key *k;
	int rc;

	if (!out)
		return kinko_err_set(e, KINKO_EINVAL, "unwrap: missing output");
	if (!wrapped || n != WR_OVERHEAD + KINKO_KEY_LEN)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "the wrapped key is damaged: it is %zu bytes, not %u",
				     wrapped ? n : 0, (unsigned)(WR_OVERHEAD + KINKO_KEY_LEN));
	if (key_alloc(&k))
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	rc = open_raw(kek, WR_TYPE_KEY, context, wrapped, n, k->k, e);
	if (rc) {
		kinko_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int keyring_wrap(const struct keyring *kr, const char *context, const struct kinko_key *key,
		 struct kbuf *out, struct kinko_err *e)
{
	if (!kr)
		return kinko_err_set(e, KINKO_EINVAL, "wrap: the keyring is not open");
	return wrap_key(kr_wrapkey(kr), context, key, out, e);
}

int keyring_unwrap(const struct keyring *kr, const char *context, const uint8_t *wrapped,
		   size_t n, struct kinko_key **out, struct kinko_err *e)
{
	if (!kr)
		return kinko_err_set(e, KINKO_EINVAL, "unwrap: the keyring is not open");
	return unwrap_key(kr_wrapkey(kr), context, wrapped, n, out, e);
}

int kinko_key_wrap(const struct kinko_key *kek, const char *context, const struct kinko_key *key,
		   struct kbuf *out, struct kinko_err *e)
{
	if (!kek || !kek->k)
		return kinko_err_set(e, KINKO_EINVAL, "wrap: no key-encryption key");
	return wrap_key(kek->k, context, key, out, e);
}

int kinko_key_unwrap(const struct kinko_key *kek, const char *context, const uint8_t *wrapped,
		     size_t n, struct kinko_key **out, struct kinko_err *e)
{
	if (!kek || !kek->k)
		return kinko_err_set(e, KINKO_EINVAL, "unwrap: no key-encryption key");
	return unwrap_key(kek->k, context, wrapped, n, out, e);
}

int kinko_key_seal(const struct kinko_key *k, const char *context, const uint8_t *pt, size_t n,
		   struct kbuf *out, struct kinko_err *e)
{
	if (!k || !k->k)
		return kinko_err_set(e, KINKO_EINVAL, "seal: no key");
	return seal_raw(k->k, WR_TYPE_VALUE, context, pt, n, out, e);
}

int kinko_key_open(const struct kinko_key *k, const char *context, const uint8_t *ct, size_t n,
		   struct kbuf *out, struct kinko_err *e)
{
	size_t ptlen;
	int rc;

	if (!k || !k->k || !out)
		return kinko_err_set(e, KINKO_EINVAL, "open: missing key or output");
	ptlen = ct && n >= WR_OVERHEAD ? n - WR_OVERHEAD : 0;
	rc = kbuf_reserve(out, ptlen);
	if (rc)
		return kinko_err_set(e, rc, "open: no room for %zu bytes", ptlen);
	rc = open_raw(k->k, WR_TYPE_VALUE, context, ct, n, out->data + out->len, e);
	if (rc)
		return rc;
	out->len += ptlen;
	out->data[out->len] = '\0';
	return 0;
}
