#include "crypto/zipaes.h"

#include <endian.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/aes.h>
#include <nettle/memxor.h>

#include "crypto/crypto.h"

#define BATCH 128 /* counter blocks encrypted per nettle call */

struct zipaes {
	struct aes256_ctx aes;
	gnutls_hmac_hd_t mac;
	gnutls_hmac_hd_t mark; /* a copy of mac's state, or NULL */
};

int zipaes_new(const char *pw, size_t pw_len, const uint8_t salt[ZIPAES_SALT_LEN],
	       struct zipaes **out, uint8_t pv[ZIPAES_PV_LEN])
{
	uint8_t dk[32 + 32 + ZIPAES_PV_LEN];
	gnutls_datum_t key = {(unsigned char *)(uintptr_t)pw, (unsigned)pw_len};
	gnutls_datum_t s = {(unsigned char *)(uintptr_t)salt, ZIPAES_SALT_LEN};
	struct zipaes *z;

	if (pw_len > 0xffff)
		return KINKO_EINVAL;
	if (gnutls_pbkdf2(GNUTLS_MAC_SHA1, &key, &s, ZIPAES_ITERATIONS, dk, sizeof dk) < 0)
		return KINKO_ECRYPTO;
	z = kinko_secure_alloc(sizeof *z);
	if (!z) {
		kinko_wipe(dk, sizeof dk);
		return KINKO_ENOMEM;
	}
	memset(z, 0, sizeof *z);
	aes256_set_encrypt_key(&z->aes, dk);
	if (gnutls_hmac_init(&z->mac, GNUTLS_MAC_SHA1, dk + 32, 32) < 0) {
		kinko_wipe(dk, sizeof dk);
		kinko_secure_free(z);
		return KINKO_ECRYPTO;
	}
	memcpy(pv, dk + 64, ZIPAES_PV_LEN);
	kinko_wipe(dk, sizeof dk);
	*out = z;
	return 0;
}

/* Block i of the entry uses counter i + 1, little-endian over 16 bytes. The high
 * halves of the counter blocks stay zero (set once per call): 2^64 blocks is
 * beyond any zip entry. */
static void fill_counters(uint8_t *ctr, uint64_t first, size_t nblocks)
{
	for (size_t i = 0; i < nblocks; i++) {
		uint64_t le = htole64(first + i + 1);
		memcpy(ctr + i * 16, &le, 8);
	}
}

/* The key stream goes through scratch on the stack (wiped after), so calls on one
 * context for different ranges may run on two threads at once. */
void zipaes_crypt_to(const struct zipaes *z, uint64_t off, const uint8_t *src, uint8_t *dst,
		     size_t n)
{
	uint8_t ks[BATCH * 16], ctr[BATCH * 16];

	memset(ctr, 0, sizeof ctr);
	while (n > 0) {
		uint64_t block = off / 16;
		size_t skip = (size_t)(off % 16);
		size_t want = (skip + n + 15) / 16;
		size_t nb = want < BATCH ? want : BATCH;
		size_t avail = nb * 16 - skip;
		size_t take = n < avail ? n : avail;

		fill_counters(ctr, block, nb);
		aes256_encrypt(&z->aes, nb * 16, ks, ctr);
		if (src == dst)
			memxor(dst, ks + skip, take);
		else
			memxor3(dst, src, ks + skip, take);
		src += take;
		dst += take;
		n -= take;
		off += take;
	}
	kinko_wipe(ks, sizeof ks);
}

void zipaes_crypt(const struct zipaes *z, uint64_t off, uint8_t *buf, size_t n)
{
	zipaes_crypt_to(z, off, buf, buf, n);
}

void zipaes_mac_update(struct zipaes *z, const uint8_t *p, size_t n)
{
	if (n)
		(void)gnutls_hmac(z->mac, p, n);
}

int zipaes_mac_mark(struct zipaes *z)
{
	gnutls_hmac_hd_t m = gnutls_hmac_copy(z->mac);

	if (!m)
		return KINKO_ENOMEM;
	if (z->mark)
		gnutls_hmac_deinit(z->mark, NULL);
	z->mark = m;
	return 0;
}

void zipaes_mac_rewind(struct zipaes *z)
{
	gnutls_hmac_deinit(z->mac, NULL);
	z->mac = z->mark;
	z->mark = NULL;
}

void zipaes_mac_final(struct zipaes *z, uint8_t mac[ZIPAES_MAC_LEN])
{
	uint8_t full[20];

	gnutls_hmac_output(z->mac, full);
	memcpy(mac, full, ZIPAES_MAC_LEN);
}

void zipaes_free(struct zipaes *z)
{
	if (!z)
		return;
	if (z->mac)
		gnutls_hmac_deinit(z->mac, NULL);
	if (z->mark)
		gnutls_hmac_deinit(z->mark, NULL);
	kinko_secure_free(z); /* sodium_free wipes */
}

int zipaes_pbkdf2_sha256(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
			 unsigned iterations, uint8_t *out, size_t out_len)
{
	gnutls_datum_t key = {(unsigned char *)(uintptr_t)pw, (unsigned)pw_len};
	gnutls_datum_t s = {(unsigned char *)(uintptr_t)salt, (unsigned)salt_len};

	return gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, iterations, out, out_len) < 0
		       ? KINKO_ECRYPTO
		       : 0;
}

int zipaes_hmac256_init(struct zipaes_hmac *h, const uint8_t *key, size_t key_len)
{
	gnutls_hmac_hd_t hd;

	if (gnutls_hmac_init(&hd, GNUTLS_MAC_SHA256, key, key_len) < 0)
		return KINKO_ECRYPTO;
	h->hd = hd;
	return 0;
}

void zipaes_hmac256_update(struct zipaes_hmac *h, const void *p, size_t n)
{
	if (n)
		(void)gnutls_hmac((gnutls_hmac_hd_t)h->hd, p, n);
}

void zipaes_hmac256_final(struct zipaes_hmac *h, uint8_t out[32])
{
	gnutls_hmac_deinit((gnutls_hmac_hd_t)h->hd, out);
	h->hd = NULL;
}

void zipaes_hmac256_abort(struct zipaes_hmac *h)
{
	if (h->hd)
		gnutls_hmac_deinit((gnutls_hmac_hd_t)h->hd, NULL);
	h->hd = NULL;
}
