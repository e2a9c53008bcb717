#include "crypto/crypto.h"

#include <gnutls/gnutls.h>
#include <sodium.h>

int kinko_crypto_init(void)
{
	if (sodium_init() < 0)
		return KINKO_ECRYPTO;
	if (gnutls_global_init() < 0)
		return KINKO_ECRYPTO;
	return 0;
}

void kinko_random(void *p, size_t n)
{
	randombytes_buf(p, n);
}

uint32_t kinko_random_uniform(uint32_t upper)
{
	return randombytes_uniform(upper);
}

void *kinko_secure_alloc(size_t n)
{
	return sodium_malloc(n);
}

void kinko_secure_free(void *p)
{
	sodium_free(p);
}

void kinko_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

int kinko_ct_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}
