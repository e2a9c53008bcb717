/*
 * password — generated passwords for packages handed over on paper or by phone.
 *
 * The alphabet has 32 symbols, the digits 2-9 and the capital letters without
 * I and O, so nothing can be mistaken for 0/O/o, 1/l/I, and case never matters
 * when it is read aloud. Each symbol carries exactly 5 bits (uniform choice, no
 * modulo bias). Symbols are grouped by 5 and joined by '-'; the hyphens carry no
 * entropy but are part of the password (what is printed is what is typed).
 */
#ifndef KINKO_CRYPTO_PASSWORD_H
#define KINKO_CRYPTO_PASSWORD_H

#include <stddef.h>

#include "core/err.h"

#define PASSWORD_ALPHABET "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#define PASSWORD_GROUP 5
#define PASSWORD_MIN_BITS 128

/* The number of symbols needed for at least min_bits, rounded up to whole groups. */
size_t password_symbols_for(unsigned min_bits);
/* Entropy in bits of nsymbols symbols (5 per symbol). */
unsigned password_entropy_bits(size_t nsymbols);
/* Writes a NUL-terminated password of at least min_bits (>= 128) into out, which
 * holds cap bytes; KINKO_ELIMIT if it does not fit. */
int password_generate(unsigned min_bits, char *out, size_t cap) KINKO_WUR;

#endif
