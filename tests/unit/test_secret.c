#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/secret.h"

static void password_hash_and_verify(void **state)
{
	char h[KINKO_PWHASH_LEN], h2[KINKO_PWHASH_LEN];
	struct kinko_err e;
	(void)state;

	assert_int_equal(secret_password_hash("s3cret パスワード", h, &e), 0);
	assert_non_null(strstr(h, "$argon2id$v=19$"));
	/* At least libsodium's INTERACTIVE limits (64 MiB, 2 passes). */
	unsigned m = 0, t = 0, p = 0;
	assert_int_equal(sscanf(h, "$argon2id$v=19$m=%u,t=%u,p=%u$", &m, &t, &p), 3);
	assert_true((size_t)m * 1024 >= crypto_pwhash_MEMLIMIT_INTERACTIVE);
	assert_true(t >= crypto_pwhash_OPSLIMIT_INTERACTIVE);
	assert_int_equal(secret_password_verify(h, "s3cret パスワード"), 0);
	assert_int_equal(secret_password_verify(h, "s3cret パスワード "), KINKO_EAUTH);
	assert_int_equal(secret_password_verify(h, "S3cret パスワード"), KINKO_EAUTH);
	assert_int_equal(secret_password_verify(h, ""), KINKO_EAUTH);
	/* Random salt: the same password hashes differently. */
	assert_int_equal(secret_password_hash("s3cret パスワード", h2, &e), 0);
	assert_string_not_equal(h, h2);

	/* Bad input to hash: nothing written. */
	memset(h2, 'Z', sizeof h2);
	assert_int_equal(secret_password_hash("", h2, &e), KINKO_EINVAL);
	assert_int_equal(e.code, KINKO_EINVAL);
	assert_int_equal(secret_password_hash(NULL, h2, &e), KINKO_EINVAL);
	assert_int_equal(h2[0], 'Z');

	/* Damaged hashes are a format error, not a wrong password. */
	char d[KINKO_PWHASH_LEN];
	memcpy(d, h, sizeof d);
	d[3] = 'x'; /* $arxon2id */
	assert_int_equal(secret_password_verify(d, "s3cret パスワード"), KINKO_EFORMAT);
	memcpy(d, h, sizeof d);
	d[strlen(d) - 30] = '*'; /* not base64 */
	assert_int_equal(secret_password_verify(d, "s3cret パスワード"), KINKO_EFORMAT);
	memcpy(d, h, sizeof d);
	d[20] = '\0'; /* truncated */
	assert_int_equal(secret_password_verify(d, "s3cret パスワード"), KINKO_EFORMAT);
	memset(d, 'a', sizeof d); /* not NUL-terminated within the limit */
	assert_int_equal(secret_password_verify(d, "x"), KINKO_EFORMAT);
	assert_int_equal(secret_password_verify("", "x"), KINKO_EFORMAT);
	assert_int_equal(secret_password_verify("plaintext", "plaintext"), KINKO_EFORMAT);
	assert_int_equal(secret_password_verify(NULL, "x"), KINKO_EINVAL);
	/* argon2i is not what we store. */
	char hi[crypto_pwhash_STRBYTES];
	assert_int_equal(crypto_pwhash_str_alg(hi, "pw", 2, 3, 8192, crypto_pwhash_ALG_ARGON2I13), 0);
	assert_int_equal(secret_password_verify(hi, "pw"), KINKO_EFORMAT);
}

/* Any valid Argon2id string verifies, whatever its parameters (cheaper old ones
 * and stronger new ones alike). */
static void verify_accepts_other_parameters(void **state)
{
	char h[crypto_pwhash_STRBYTES];
	(void)state;

	assert_int_equal(crypto_pwhash_str_alg(h, "pw", 2, 1, 8192, crypto_pwhash_ALG_ARGON2ID13), 0);
	assert_int_equal(secret_password_verify(h, "pw"), 0);
	assert_int_equal(secret_password_verify(h, "pv"), KINKO_EAUTH);
	assert_int_equal(crypto_pwhash_str_alg(h, "pw", 2, 4, 32768, crypto_pwhash_ALG_ARGON2ID13),
			 0);
	assert_int_equal(secret_password_verify(h, "pw"), 0);
}

/* RFC 6238 Appendix B, SHA-1 rows: seed "12345678901234567890", 8-digit values.
 * Our 6-digit code is the same HOTP value mod 10^6, i.e. the last six digits. */
static void totp_rfc6238_vectors(void **state)
{
	static const uint8_t seed[] = "12345678901234567890";
	static const struct {
		uint64_t t;
		uint32_t otp8;
	} v[] = {
		{59, 94287082u},         {1111111109, 7081804u}, {1111111111, 14050471u},
		{1234567890, 89005924u}, {2000000000, 69279037u}, {20000000000ull, 65353130u},
	};
	(void)state;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint64_t last = 0;
		char code[8];
		assert_int_equal(secret_totp_code(seed, 20, v[i].t / 30), v[i].otp8 % 1000000u);
		snprintf(code, sizeof code, "%06u", (unsigned)(v[i].otp8 % 1000000u));
		assert_int_equal(secret_totp_verify(seed, 20, code, v[i].t, &last), 0);
		assert_int_equal(last, v[i].t / 30);
	}
	/* Leading zeros are kept: 07081804 -> "081804". */
	uint64_t last = 0;
	assert_int_equal(secret_totp_verify(seed, 20, "081804", 1111111109, &last), 0);
	last = 0;
	assert_int_equal(secret_totp_verify(seed, 20, "81804", 1111111109, &last), KINKO_EINVAL);
}

static void code_str(const uint8_t *s, uint64_t step, char out[7])
{
	snprintf(out, 7, "%06u", (unsigned)secret_totp_code(s, TOTP_SECRET_LEN, step));
}

static void totp_window_and_replay(void **state)
{
	uint8_t s[TOTP_SECRET_LEN];
	char c[7];
	const uint64_t now = 1764100000; /* step 58803333, +10 s into it */
	const uint64_t step = now / 30;
	uint64_t last;
	(void)state;

	secret_totp_new(s);
	/* -1, 0, +1 steps are accepted and recorded. */
	for (int d = -1; d <= 1; d++) {
		last = 0;
		code_str(s, step + (uint64_t)(int64_t)d, c);
		assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), 0);
		assert_int_equal(last, step + (uint64_t)(int64_t)d);
	}
	/* +-2 steps are refused (unless, by a one-in-a-million chance, equal). */
	for (int d = -2; d <= 2; d += 4) {
		char near[3][7];
		last = 0;
		code_str(s, step + (uint64_t)(int64_t)d, c);
		for (int k = -1; k <= 1; k++)
			code_str(s, step + (uint64_t)(int64_t)k, near[k + 1]);
		if (strcmp(c, near[0]) && strcmp(c, near[1]) && strcmp(c, near[2])) {
			assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), KINKO_EAUTH);
			assert_int_equal(last, 0);
		}
	}
	/* Replay: a code whose step was already used is refused, and so is any older. */
	last = 0;
	code_str(s, step, c);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), 0);
	assert_int_equal(last, step);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), KINKO_EAUTH);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now + 25, &last), KINKO_EAUTH);
	code_str(s, step - 1, c);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), KINKO_EAUTH);
	assert_int_equal(last, step);
	/* The next step's code still works, once. */
	code_str(s, step + 1, c);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now + 30, &last), 0);
	assert_int_equal(last, step + 1);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now + 30, &last), KINKO_EAUTH);
	/* A code used early (step+1) blocks the current step's code afterwards. */
	last = 0;
	code_str(s, step + 1, c);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), 0);
	code_str(s, step, c);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), KINKO_EAUTH);

	/* Malformed codes. */
	const char *bad[] = {"12345", "abcdef", "1234567", "", "12 345", "-12345", "+12345",
			     "１２３４５６"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		last = 0;
		assert_int_equal(secret_totp_verify(s, sizeof s, bad[i], now, &last), KINKO_EINVAL);
		assert_int_equal(last, 0);
	}
	/* A wrong (well-formed) code. */
	last = 0;
	code_str(s, step, c);
	c[5] = c[5] == '9' ? '0' : (char)(c[5] + 1);
	char near[3][7];
	for (int k = -1; k <= 1; k++)
		code_str(s, step + (uint64_t)(int64_t)k, near[k + 1]);
	if (strcmp(c, near[0]) && strcmp(c, near[2]))
		assert_int_equal(secret_totp_verify(s, sizeof s, c, now, &last), KINKO_EAUTH);
	/* Too short a secret, missing arguments. */
	code_str(s, step, c);
	assert_int_equal(secret_totp_verify(s, 10, c, now, &last), KINKO_EINVAL);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, now, NULL), KINKO_EINVAL);
	assert_int_equal(secret_totp_verify(s, sizeof s, NULL, now, &last), KINKO_EINVAL);
	/* Time 0: there is no step -1. */
	last = 0;
	code_str(s, 0, c);
	uint64_t l0 = 0;
	/* step 0 <= last_step 0, so it is refused as already used: a fresh enrolment
	 * starts at 0 and real clocks are far past step 0. */
	assert_int_equal(secret_totp_verify(s, sizeof s, c, 0, &l0), KINKO_EAUTH);
	code_str(s, 1, c);
	assert_int_equal(secret_totp_verify(s, sizeof s, c, 0, &l0), 0);
	assert_int_equal(l0, 1);
}

static void base32(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", ""},           {"f", "MY"},         {"fo", "MZXQ"},         {"foo", "MZXW6"},
		{"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
	};
	static const char *padded[] = {"", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=",
				       "MZXW6YTB", "MZXW6YTBOI======"};
	char enc[64];
	uint8_t dec[64];
	size_t n;
	(void)state;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t len = strlen(v[i].in);
		secret_base32_encode((const uint8_t *)v[i].in, len, enc);
		assert_string_equal(enc, v[i].out);
		n = 99;
		assert_int_equal(secret_base32_decode(v[i].out, dec, sizeof dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, v[i].in, len);
		/* RFC 4648 padding is accepted on input, and lower case too. */
		assert_int_equal(secret_base32_decode(padded[i], dec, sizeof dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, v[i].in, len);
	}
	assert_int_equal(secret_base32_decode("mzxw6ytboi", dec, sizeof dec, &n), 0);
	assert_memory_equal(dec, "foobar", 6);

	/* Round trip of random secrets of every length up to 40 bytes. */
	for (size_t len = 0; len <= 40; len++) {
		uint8_t raw[40];
		char e2[2 * 40 + 1];
		kinko_random(raw, len);
		memset(e2, '#', sizeof e2);
		secret_base32_encode(raw, len, e2);
		assert_true(strlen(e2) <= 2 * len);
		assert_int_equal(strlen(e2), (len * 8 + 4) / 5);
		assert_int_equal(secret_base32_decode(e2, dec, sizeof dec, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, raw, len);
	}
	uint8_t tsec[TOTP_SECRET_LEN];
	secret_totp_new(tsec);
	secret_base32_encode(tsec, sizeof tsec, enc);
	assert_int_equal(strlen(enc), 32); /* 160 bits: no partial group */

	/* Bad input: wrong alphabet, impossible lengths, bad padding, non-zero spare bits,
	 * too small an output. */
	const char *bad[] = {"MZXW1", "MZXW8", "MZ XW", "M", "MZX", "MZXW6Y", "MY=",
			     "MY=======", "M=Y=====", "MZ======", "MZXR", "=", "MY======MY"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = 77;
		dec[0] = 0xEE;
		assert_int_equal(secret_base32_decode(bad[i], dec, sizeof dec, &n), KINKO_EINVAL);
		assert_int_equal(n, 77);
		assert_int_equal(dec[0], 0xEE);
	}
	assert_int_equal(secret_base32_decode("MZXW6YTBOI", dec, 5, &n), KINKO_ELIMIT);
	assert_int_equal(secret_base32_decode("MZXW6YTBOI", dec, 6, &n), 0);
}

static void tokens(void **state)
{
	char a[65], b[65];
	(void)state;

	memset(a, 'X', sizeof a);
	secret_token_new(a);
	secret_token_new(b);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);

	uint8_t s1[TOTP_SECRET_LEN], s2[TOTP_SECRET_LEN];
	secret_totp_new(s1);
	secret_totp_new(s2);
	assert_memory_not_equal(s1, s2, sizeof s1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(password_hash_and_verify),
		cmocka_unit_test(verify_accepts_other_parameters),
		cmocka_unit_test(totp_rfc6238_vectors),
		cmocka_unit_test(totp_window_and_replay),
		cmocka_unit_test(base32),
		cmocka_unit_test(tokens),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
