#include "crypto/hash.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

int kinko_sha256_init(struct kinko_sha256 *h)
{
	gnutls_hash_hd_t hd;

	if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0)
		return KINKO_ENOMEM;
	h->hd = hd;
	return 0;
}

void kinko_sha256_update(struct kinko_sha256 *h, const void *p, size_t n)
{
	if (n)
		(void)gnutls_hash((gnutls_hash_hd_t)h->hd, p, n);
}

void kinko_sha256_final(struct kinko_sha256 *h, uint8_t out[KINKO_SHA256_LEN])
{
	gnutls_hash_deinit((gnutls_hash_hd_t)h->hd, out);
	h->hd = NULL;
}

void kinko_sha256_abort(struct kinko_sha256 *h)
{
	if (h->hd)
		gnutls_hash_deinit((gnutls_hash_hd_t)h->hd, NULL);
	h->hd = NULL;
}

int kinko_sha256(const void *p, size_t n, uint8_t out[KINKO_SHA256_LEN])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, out) < 0 ? KINKO_ECRYPTO : 0;
}

int kinko_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
		      uint8_t out[KINKO_SHA256_LEN])
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, p, n, out) < 0 ? KINKO_ECRYPTO
									      : 0;
}
