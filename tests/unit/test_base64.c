/* base64: RFC 4648 test vectors, padded and unpadded, and strict decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
#include "crypto/crypto.h"

static const struct {
	const char *plain, *padded, *bare;
} rfc4648[] = {
	{"", "", ""},
	{"f", "Zg==", "Zg"},
	{"fo", "Zm8=", "Zm8"},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg==", "Zm9vYg"},
	{"fooba", "Zm9vYmE=", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static int dec(const char *s, bool pad, uint8_t *out, size_t cap, size_t *n)
{
	return kinko_base64_decode(s, strlen(s), pad, out, cap, n);
}

static void vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		const char *p = rfc4648[i].plain;
		size_t pl = strlen(p), n = 999;
		char enc[32];
		uint8_t out[32];

		assert_int_equal(kinko_base64_len(pl, true), strlen(rfc4648[i].padded));
		assert_int_equal(kinko_base64_len(pl, false), strlen(rfc4648[i].bare));
		assert_int_equal(kinko_base64_encode((const uint8_t *)p, pl, enc, sizeof enc), 0);
		assert_string_equal(enc, rfc4648[i].padded);
		assert_int_equal(kinko_base64_encode_opt((const uint8_t *)p, pl, enc, sizeof enc, false),
				 0);
		assert_string_equal(enc, rfc4648[i].bare);

		assert_int_equal(dec(rfc4648[i].padded, true, out, sizeof out, &n), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(out, p, pl);
		n = 999;
		assert_int_equal(dec(rfc4648[i].bare, false, out, sizeof out, &n), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(out, p, pl);
		/* Padding is required iff pad (except where none is needed). */
		if (strcmp(rfc4648[i].padded, rfc4648[i].bare)) {
			assert_int_equal(dec(rfc4648[i].padded, false, out, sizeof out, &n),
					 KINKO_EFORMAT);
			assert_int_equal(dec(rfc4648[i].bare, true, out, sizeof out, &n),
					 KINKO_EFORMAT);
		}
	}
}

static void round_trip(const uint8_t *in, size_t len, bool pad)
{
	uint8_t out[256];
	char enc[400];
	size_t n = 0;

	assert_int_equal(kinko_base64_encode_opt(in, len, enc, sizeof enc, pad), 0);
	assert_int_equal(strlen(enc), kinko_base64_len(len, pad));
	assert_int_equal(kinko_base64_decode(enc, strlen(enc), pad, out, sizeof out, &n), 0);
	assert_int_equal(n, len);
	assert_memory_equal(in, out, len);
}

static void all_lengths_round_trip(void **state)
{
	uint8_t in[256];
	(void)state;

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (size_t len = 0; len <= sizeof in; len++) {
		round_trip(in, len, true);
		round_trip(in, len, false);
	}
	for (int i = 0; i < 200; i++) {
		size_t len = kinko_random_uniform(sizeof in + 1);
		kinko_random(in, len);
		round_trip(in, len, i & 1);
	}
}

static void encode_limits(void **state)
{
	char enc[9];
	(void)state;
	/* The output needs room for the NUL too. */
	assert_int_equal(kinko_base64_encode((const uint8_t *)"foobar", 6, enc, 8), KINKO_ELIMIT);
	assert_int_equal(kinko_base64_encode((const uint8_t *)"foobar", 6, enc, 9), 0);
	assert_string_equal(enc, "Zm9vYmFy");
	assert_int_equal(kinko_base64_encode((const uint8_t *)"", 0, enc, 0), KINKO_ELIMIT);
	assert_int_equal(kinko_base64_encode_opt((const uint8_t *)"f", 1, enc, 2, false),
			 KINKO_ELIMIT);
	assert_int_equal(kinko_base64_encode_opt((const uint8_t *)"f", 1, enc, 3, false), 0);
	assert_string_equal(enc, "Zg");
}

static void strict_rejects(void **state)
{
	static const struct {
		const char *s;
		bool pad;
	} bad[] = {
		/* Non-canonical: the spare bits of the last character are not zero. */
		{"Zh==", true}, {"Zm9=", true}, {"Zm9vYh==", true}, {"Zm9vYmF=", true},
		{"Zh", false},  {"Zm9", false}, {"Zm9vYh", false},  {"/x", false},
		{"//==", true},
		/* Characters outside the standard alphabet. */
		{"Zm9v\n", false}, {"Zm 9v", false}, {"Zm9v-_", false}, {"Zm9v_w==", true},
		{" Zm9v", false},  {"Zm9v\r\n", false}, {"Zm9\xc3\xa9", false}, {"Zm.v", false},
		/* Padding in the wrong place, too much or too little. */
		{"Zg=", true},  {"Zg", true},   {"Z===", true},    {"====", true},
		{"Zg=A", true}, {"Z=g=", true}, {"Zm9v====", true}, {"Zg==Zg==", true},
		{"Zg==", false}, {"Zm8=", false}, {"=", false},    {"Zg=", false},
		/* A single spare character carries no whole byte. */
		{"Zm9vY", false}, {"Z", false}, {"Zm9vY===", true},
	};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t out[32];
		size_t n = 777;
		int rc = dec(bad[i].s, bad[i].pad, out, sizeof out, &n);
		if (rc != KINKO_EFORMAT)
			fail_msg("'%s' (pad %d): rc %d, expected KINKO_EFORMAT", bad[i].s, bad[i].pad,
				 rc);
		assert_int_equal(n, 777); /* outlen untouched */
	}
	/* An embedded NUL within the given length. */
	{
		uint8_t out[8];
		size_t n;
		assert_int_equal(kinko_base64_decode("Zm\0v", 4, true, out, sizeof out, &n),
				 KINKO_EFORMAT);
	}
}

static void decode_limits(void **state)
{
	uint8_t out[6];
	size_t n = 777;
	(void)state;
	assert_int_equal(dec("Zm9vYmFy", true, out, 6, &n), 0);
	assert_int_equal(n, 6);
	n = 777;
	assert_int_equal(dec("Zm9vYmFy", true, out, 5, &n), KINKO_ELIMIT);
	assert_int_equal(n, 777);
	assert_int_equal(dec("Zg==", true, out, 0, &n), KINKO_ELIMIT);
	assert_int_equal(dec("", true, out, 0, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors),        cmocka_unit_test(all_lengths_round_trip),
		cmocka_unit_test(encode_limits),  cmocka_unit_test(strict_rejects),
		cmocka_unit_test(decode_limits),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
