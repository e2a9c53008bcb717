/*
 * crypto — process-wide crypto set-up and randomness.
 *
 * kinko_crypto_init() must run once before any other crypto/ call (main() and the
 * tests do it). Randomness comes from libsodium (getrandom).
 */
#ifndef KINKO_CRYPTO_CRYPTO_H
#define KINKO_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

int kinko_crypto_init(void) KINKO_WUR;
void kinko_random(void *p, size_t n);
uint32_t kinko_random_uniform(uint32_t upper);
/* Secure memory (guarded, locked, wiped on free). */
void *kinko_secure_alloc(size_t n);
void kinko_secure_free(void *p);
void kinko_wipe(void *p, size_t n);
/* free() for heap blocks that may hold a secret: wipes the whole block first. */
void kinko_free_wiped(void *p);
int kinko_ct_equal(const void *a, const void *b, size_t n);

#endif
