#include "crypto/crypto.h"

#include <malloc.h>
#include <stdlib.h>

#include <jansson.h>

#include <gnutls/gnutls.h>
#include <sodium.h>

void kinko_free_wiped(void *p)
{
	if (!p)
		return;
	kinko_wipe(p, malloc_usable_size(p));
	free(p);
}

int kinko_crypto_init(void)
{
	if (sodium_init() < 0)
		return KINKO_ECRYPTO;
	if (gnutls_global_init() < 0)
		return KINKO_ECRYPTO;
	/* Request and answer bodies pass through jansson: passwords, the unseal
	 * passphrase, session tokens, generated passwords, private keys. Whatever it
	 * frees is wiped first. */
	json_set_alloc_funcs(malloc, kinko_free_wiped);
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
