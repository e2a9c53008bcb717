#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/parse.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

static void buf_respects_max(void **state)
{
	struct kbuf b;
	(void)state;
	kbuf_init(&b, 8);
	assert_int_equal(kbuf_append(&b, "12345", 5), 0);
	assert_int_equal(kbuf_append(&b, "6789", 4), KINKO_ELIMIT);
	assert_int_equal(b.len, 5); /* a failed append leaves the buffer as it was */
	assert_string_equal(kbuf_str(&b), "12345");
	assert_int_equal(kbuf_appendf(&b, "%d", 123), 0);
	assert_string_equal(kbuf_str(&b), "12345123");
	assert_int_equal(kbuf_appendf(&b, "x"), KINKO_ELIMIT);
	kbuf_free(&b);
	kbuf_free(NULL);
}

static void parse_u64_is_strict(void **state)
{
	uint64_t v = 7;
	(void)state;
	assert_int_equal(parse_u64("42", 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_not_equal(parse_u64("", 100, &v), 0);
	assert_int_not_equal(parse_u64("-1", 100, &v), 0);
	assert_int_not_equal(parse_u64("+1", 100, &v), 0);
	assert_int_not_equal(parse_u64("12a", 100, &v), 0);
	assert_int_not_equal(parse_u64("101", 100, &v), 0);
	assert_int_not_equal(parse_u64("18446744073709551616", UINT64_MAX, &v), 0);
	assert_int_equal(v, 42); /* untouched on failure */
	assert_int_equal(parse_size("64K", UINT64_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_not_equal(parse_size("K", UINT64_MAX, &v), 0);
}

static void sha256_known_answer(void **state)
{
	uint8_t d[32];
	char hex[65];
	struct kinko_sha256 h;
	(void)state;
	assert_int_equal(kinko_sha256("abc", 3, d), 0);
	format_hex(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(kinko_sha256_init(&h), 0);
	kinko_sha256_update(&h, "a", 1);
	kinko_sha256_update(&h, "bc", 2);
	kinko_sha256_final(&h, d);
	format_hex(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_respects_max),
		cmocka_unit_test(parse_u64_is_strict),
		cmocka_unit_test(sha256_known_answer),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
