/*
 * secret — see secret.h. Password hashes are libsodium's Argon2id PHC strings;
 * TOTP is RFC 6238 over RFC 4226 HOTP with HMAC-SHA1 from GnuTLS.
 */
#include "crypto/secret.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>

#include "core/parse.h"

#define PASSWORD_MAX 4096 /* bytes; longer input is refused, not truncated */
#define TOTP_STEP 30
#define TOTP_DIGITS 6
#define TOTP_MOD 1000000u
#define TOTP_SECRET_MIN 16 /* RFC 4226 section 4: at least 128 bits */
#define TOTP_NO_CODE UINT32_MAX /* never equal to a 6-digit code */

int secret_password_hash(const char *password, char out[KINKO_PWHASH_LEN],
			 struct kinko_err *e)
{
	char h[crypto_pwhash_STRBYTES];
	size_t n;

	_Static_assert(KINKO_PWHASH_LEN >= crypto_pwhash_STRBYTES, "KINKO_PWHASH_LEN too small");
	if (!password || !out)
		return kinko_err_set(e, KINKO_EINVAL, "no password was given");
	n = strnlen(password, PASSWORD_MAX + 1);
	if (n == 0)
		return kinko_err_set(e, KINKO_EINVAL, "the password is empty: choose one");
	if (n > PASSWORD_MAX)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the password is longer than %d bytes: choose a shorter one",
				     PASSWORD_MAX);
	if (crypto_pwhash_str_alg(h, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return kinko_err_set(e, KINKO_ENOMEM,
				     "Argon2id could not run: it needs %zu MiB of memory",
				     (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20);
	memcpy(out, h, sizeof h);
	memset(out + sizeof h, 0, KINKO_PWHASH_LEN - sizeof h);
	return 0;
}

int secret_password_verify(const char *hash, const char *password)
{
	static const char prefix[] = "$argon2id$";
	size_t hlen, n;

	if (!hash || !password)
		return KINKO_EINVAL;
	hlen = strnlen(hash, KINKO_PWHASH_LEN);
	if (hlen >= KINKO_PWHASH_LEN || hlen >= crypto_pwhash_STRBYTES ||
	    strncmp(hash, prefix, sizeof prefix - 1) != 0)
		return KINKO_EFORMAT;
	/* needs_rehash decodes the whole string and returns -1 when it is not a valid
	 * Argon2id hash; 0 or 1 (the parameters differ from ours) are both fine. */
	if (crypto_pwhash_argon2id_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
						    crypto_pwhash_MEMLIMIT_INTERACTIVE) < 0)
		return KINKO_EFORMAT;
	n = strnlen(password, PASSWORD_MAX + 1);
	if (n > PASSWORD_MAX)
		return KINKO_EAUTH;
	if (crypto_pwhash_str_verify(hash, password, n) != 0)
		return KINKO_EAUTH;
	return 0;
}

void secret_totp_new(uint8_t secret[TOTP_SECRET_LEN])
{
	randombytes_buf(secret, TOTP_SECRET_LEN);
}

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void secret_base32_encode(const uint8_t *in, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xfff; /* at most 12 live bits */
		bits += 8;
		while (bits >= 5) {
			out[o++] = B32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = B32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

static int b32val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int secret_base32_decode(const char *in, uint8_t *out, size_t cap, size_t *n)
{
	size_t len, pad = 0, need;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	if (!in || !n || (!out && cap))
		return KINKO_EINVAL;
	len = strlen(in);
	/* Padding is optional, but when present it must complete an 8-char group. */
	while (pad < len && in[len - 1 - pad] == '=')
		pad++;
	if (pad && (len % 8 != 0 || pad > 6))
		return KINKO_EINVAL;
	len -= pad;
	switch (len % 8) {
	case 0: case 2: case 4: case 5: case 7: break;
	default: return KINKO_EINVAL; /* 1, 3 or 6 trailing chars encode no whole byte */
	}
	need = len / 8 * 5 + (len % 8) * 5 / 8;
	if (pad && (8 - len % 8) % 8 != pad)
		return KINKO_EINVAL;
	for (size_t i = 0; i < len; i++)
		if (b32val(in[i]) < 0)
			return KINKO_EINVAL;
	/* Unused low bits of the last character must be zero (canonical encoding). */
	if (len % 8) {
		int leftover = (int)((len * 5) % 8);
		if (b32val(in[len - 1]) & ((1 << leftover) - 1))
			return KINKO_EINVAL;
	}
	if (need > cap)
		return KINKO_ELIMIT;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 5 | (uint32_t)b32val(in[i])) & 0xfff; /* at most 12 live bits */
		bits += 5;
		if (bits >= 8) {
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	*n = o;
	return 0;
}

uint32_t secret_totp_code(const uint8_t *secret, size_t n, uint64_t step)
{
	uint8_t msg[8], mac[20];
	uint32_t bin;
	unsigned off;

	if (!secret || !n)
		return TOTP_NO_CODE;
	for (int i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)step;
		step >>= 8;
	}
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA1, secret, n, msg, sizeof msg, mac) < 0)
		return TOTP_NO_CODE;
	/* RFC 4226 section 5.3 dynamic truncation. */
	off = mac[19] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	      (uint32_t)mac[off + 2] << 8 | mac[off + 3];
	sodium_memzero(mac, sizeof mac);
	return bin % TOTP_MOD;
}

int secret_totp_verify(const uint8_t *secret, size_t n, const char *code, uint64_t unix_now,
		       uint64_t *last_step)
{
	uint64_t now = unix_now / TOTP_STEP, matched = 0;
	uint32_t want = 0;
	int found = 0;

	if (!secret || n < TOTP_SECRET_MIN || !code || !last_step)
		return KINKO_EINVAL;
	for (int i = 0; i < TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return KINKO_EINVAL;
		want = want * 10 + (uint32_t)(code[i] - '0');
	}
	if (code[TOTP_DIGITS] != '\0')
		return KINKO_EINVAL;
	/* Try now-1, now, now+1 (clock drift either way); each is checked in full so
	 * the time taken does not say which step matched. */
	for (int d = -1; d <= 1; d++) {
		uint64_t step;

		if (d < 0 && now == 0)
			continue;
		if (d > 0 && now == UINT64_MAX)
			continue;
		step = d < 0 ? now - 1 : d > 0 ? now + 1 : now;
		if (secret_totp_code(secret, n, step) == want && step > *last_step && !found) {
			found = 1;
			matched = step;
		}
	}
	if (!found)
		return KINKO_EAUTH;
	*last_step = matched;
	return 0;
}

void secret_token_new(char out[65])
{
	uint8_t b[32];

	randombytes_buf(b, sizeof b);
	format_hex(b, sizeof b, out);
	sodium_memzero(b, sizeof b);
}
