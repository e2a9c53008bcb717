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

/* Argon2id with libsodium's INTERACTIVE limits (64 MiB, 2 passes: its advice for
 * online logins) in the PHC string format. Empty or > 4096-byte password -> KINKO_EINVAL. */
int secret_password_hash(const char *password, char out[KINKO_PWHASH_LEN],
			 struct kinko_err *e) KINKO_WUR;
/* 0 when it matches, KINKO_EAUTH when not, KINKO_EFORMAT for a damaged hash or one
 * that is not Argon2id. Any valid Argon2id string verifies, whatever its parameters. */
int secret_password_verify(const char *hash, const char *password) KINKO_WUR;

/* TOTP: HMAC-SHA1, 30 s steps, 6 digits. The secret is 20 random bytes. */
#define TOTP_SECRET_LEN 20
void secret_totp_new(uint8_t secret[TOTP_SECRET_LEN]);
/* RFC 4648 base32 without padding (for otpauth:// URIs). out: 2 * n + 1 bytes suffice.
 * Decoding accepts upper or lower case and optional correct padding; anything else
 * (including non-zero spare bits) -> KINKO_EINVAL, more than cap bytes -> KINKO_ELIMIT. */
void secret_base32_encode(const uint8_t *in, size_t n, char *out);
int secret_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *n) KINKO_WUR;
/* The code for time step `step` (= unix time / 30); UINT32_MAX if HMAC fails. */
uint32_t secret_totp_code(const uint8_t *secret, size_t n, uint64_t step);
/* Accepts a 6-digit code within +-1 step of now. A code whose step is <= *last_step
 * is refused (each code usable once); on success *last_step is set to the matched step.
 * Wrong or reused code -> KINKO_EAUTH; not exactly 6 ASCII digits, or a secret shorter
 * than 16 bytes -> KINKO_EINVAL. */
int secret_totp_verify(const uint8_t *secret, size_t n, const char *code, uint64_t unix_now,
		       uint64_t *last_step) KINKO_WUR;

/* Opaque tokens (session IDs): 32 random bytes as 64 lowercase hex chars. Store only
 * their SHA-256 (crypto/hash.h), never the token. */
void secret_token_new(char out[65]);

#endif
