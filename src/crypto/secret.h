/*
 * secret — user credentials: Argon2id password hashes and TOTP (RFC 6238).
 */
#ifndef KINKO_CRYPTO_SECRET_H
#define KINKO_CRYPTO_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KINKO_PWHASH_LEN 128 /* >= crypto_pwhash_STRBYTES */

/* Argon2id (libsodium's MODERATE limits by default) in the PHC string format. */
int secret_password_hash(const char *password, char out[KINKO_PWHASH_LEN],
			 struct kinko_err *e) KINKO_WUR;
/* 0 when it matches, KINKO_EAUTH when not, KINKO_EFORMAT for a damaged hash. */
int secret_password_verify(const char *hash, const char *password) KINKO_WUR;

/* TOTP: HMAC-SHA1, 30 s steps, 6 digits. The secret is 20 random bytes. */
#define TOTP_SECRET_LEN 20
void secret_totp_new(uint8_t secret[TOTP_SECRET_LEN]);
/* RFC 4648 base32 without padding (for otpauth:// URIs). out: 2 * n + 1 bytes suffice. */
void secret_base32_encode(const uint8_t *in, size_t n, char *out);
int secret_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *n) KINKO_WUR;
/* The code for time step `step` (= unix time / 30). */
uint32_t secret_totp_code(const uint8_t *secret, size_t n, uint64_t step);
/* Accepts a 6-digit code within +-1 step of now. A code whose step is <= *last_step
 * is refused (each code usable once); on success *last_step is set to the matched step. */
int secret_totp_verify(const uint8_t *secret, size_t n, const char *code, uint64_t unix_now,
		       uint64_t *last_step) KINKO_WUR;

/* Opaque tokens (session IDs): 32 random bytes as 64 hex chars, and their hash for storage. */
void secret_token_new(char out[65]);

#endif
