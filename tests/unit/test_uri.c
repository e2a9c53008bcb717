/* The HTTP edge's text parsers: percent-decoding, path splitting, query arguments
 * and the Range header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/uri.h"

static int dec(const char *s, char *out, size_t cap)
{
	size_t n = 12345;
	int rc = uri_pct_decode(s, strlen(s), out, cap, &n);
	if (rc == 0)
		assert_int_equal(n, strlen(out));
	else
		assert_int_equal(n, 12345); /* *outlen untouched on failure */
	return rc;
}

static void pct_decode_good(void **state)
{
	char out[64];
	(void)state;
	assert_int_equal(dec("", out, sizeof out), 0);
	assert_string_equal(out, "");
	assert_int_equal(dec("abc", out, sizeof out), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(dec("a%20b", out, sizeof out), 0);
	assert_string_equal(out, "a b");
	assert_int_equal(dec("%2f%2F", out, sizeof out), 0); /* both cases of hex */
	assert_string_equal(out, "//");
	assert_int_equal(dec("a+b", out, sizeof out), 0); /* not form encoding */
	assert_string_equal(out, "a+b");
	/* UTF-8 of 契約 */
	assert_int_equal(dec("%E5%A5%91%E7%B4%84", out, sizeof out), 0);
	assert_string_equal(out, "\xe5\xa5\x91\xe7\xb4\x84");
	assert_int_equal(dec("%25", out, sizeof out), 0);
	assert_string_equal(out, "%");
	/* Only the given length is read. */
	size_t n;
	assert_int_equal(uri_pct_decode("abc%41", 3, out, sizeof out, &n), 0);
	assert_string_equal(out, "abc");
}

static void pct_decode_bad(void **state)
{
	char out[8];
	size_t n;
	(void)state;
	assert_int_equal(dec("%00", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("a%00b", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("%", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("%4", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("ab%4", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("%G1", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("%1G", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("%%41", out, sizeof out), KINKO_EINVAL);
	assert_int_equal(dec("% 1", out, sizeof out), KINKO_EINVAL);
	/* An escape cut by the length is refused even when the bytes follow. */
	assert_int_equal(uri_pct_decode("%41", 2, out, sizeof out, &n), KINKO_EINVAL);
	/* Never truncated: 7 bytes fit in 8 with the NUL, 8 do not. */
	assert_int_equal(dec("1234567", out, sizeof out), 0);
	assert_int_equal(dec("12345678", out, sizeof out), KINKO_ELIMIT);
	assert_int_equal(dec("%41%41%41%41%41%41%41%41", out, sizeof out), KINKO_ELIMIT);
	assert_int_equal(uri_pct_decode("", 0, out, 0, &n), KINKO_ELIMIT);
}

static void split_path(void **state)
{
	char buf[256], *seg[8];
	unsigned n = 99;
	struct kinko_err e;
	(void)state;

	assert_int_equal(uri_split_path("/api/v1/objects/abc?name=x", "/api/v1/", buf, sizeof buf,
					seg, 8, &n, &e),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(seg[0], "objects");
	assert_string_equal(seg[1], "abc");

	assert_int_equal(uri_split_path("/api/v1/", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e), 0);
	assert_int_equal(n, 0);

	/* Decoding happens per segment, after splitting: %2F does not split. */
	assert_int_equal(uri_split_path("/api/v1/a%2Fb/%E5%A5%91", "/api/v1/", buf, sizeof buf,
					seg, 8, &n, &e),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(seg[0], "a/b");
	assert_string_equal(seg[1], "\xe5\xa5\x91");

	/* Outside the prefix. */
	assert_int_equal(uri_split_path("/api/v1", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_ENOENT);
	assert_non_null(strstr(e.msg, "/api/v1/"));
	assert_int_equal(uri_split_path("/api/v2/x", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_ENOENT);
	assert_int_equal(uri_split_path("/", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_ENOENT);
	/* A '?' before the prefix ends means the path is outside it. */
	assert_int_equal(uri_split_path("/api/v?/x", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_ENOENT);
	/* Empty segments. */
	assert_int_equal(uri_split_path("/api/v1/a//b", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_ENOENT);
	assert_int_equal(n, 1);
	/* One trailing '/' is tolerated ("/api/v1/a/" is "/api/v1/a"). */
	assert_int_equal(uri_split_path("/api/v1/a/", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(uri_split_path("/api/v1/a//", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_ENOENT);
	assert_int_equal(uri_split_path("/api/v1//", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_ENOENT);
	assert_int_equal(n, 0);
	/* Segment limit: 3 allowed, the 4th refused. */
	assert_int_equal(uri_split_path("/api/v1/a/b/c", "/api/v1/", buf, sizeof buf, seg, 3, &n, &e),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(uri_split_path("/api/v1/a/b/c/d", "/api/v1/", buf, sizeof buf, seg, 3, &n,
					&e),
			 KINKO_ENOENT);
	assert_int_equal(n, 3);
	/* Bad escapes and %00 in a segment. */
	assert_int_equal(uri_split_path("/api/v1/ok/a%00b", "/api/v1/", buf, sizeof buf, seg, 8, &n,
					&e),
			 KINKO_EINVAL);
	assert_int_equal(n, 1); /* how far the path made sense */
	assert_string_equal(seg[0], "ok");
	assert_int_equal(uri_split_path("/api/v1/a%zz", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_EINVAL);
	assert_int_equal(uri_split_path("/api/v1/a%2", "/api/v1/", buf, sizeof buf, seg, 8, &n, &e),
			 KINKO_EINVAL);
	/* The decoded segments must fit in buf (each with its NUL). */
	assert_int_equal(uri_split_path("/api/v1/abc/de", "/api/v1/", buf, 7, seg, 8, &n, &e), 0);
	assert_int_equal(uri_split_path("/api/v1/abc/def", "/api/v1/", buf, 7, seg, 8, &n, &e),
			 KINKO_EINVAL);
}

static void query_args(void **state)
{
	char out[32];
	size_t n;
	(void)state;

	assert_int_equal(uri_query_arg("name=a%20b&x=1", "name", out, sizeof out, &n), 0);
	assert_string_equal(out, "a b");
	assert_int_equal(n, 3);
	assert_int_equal(uri_query_arg("name=a%20b&x=1", "x", out, sizeof out, &n), 0);
	assert_string_equal(out, "1");
	/* Empty value, first of several, prefix of another name. */
	assert_int_equal(uri_query_arg("name=", "name", out, sizeof out, &n), 0);
	assert_string_equal(out, "");
	assert_int_equal(uri_query_arg("name=1&name=2", "name", out, sizeof out, &n), 0);
	assert_string_equal(out, "1");
	assert_int_equal(uri_query_arg("names=1&name=2", "name", out, sizeof out, &n), 0);
	assert_string_equal(out, "2");
	assert_int_equal(uri_query_arg("xname=1", "name", out, sizeof out, &n), KINKO_ENOENT);
	assert_int_equal(uri_query_arg("&&name=%41&", "name", out, sizeof out, &n), 0);
	assert_string_equal(out, "A");
	/* Absent, or present without a value. */
	assert_int_equal(uri_query_arg("", "name", out, sizeof out, &n), KINKO_ENOENT);
	assert_int_equal(uri_query_arg(NULL, "name", out, sizeof out, &n), KINKO_ENOENT);
	assert_int_equal(uri_query_arg("name", "name", out, sizeof out, &n), KINKO_ENOENT);
	assert_int_equal(uri_query_arg("other=1", "name", out, sizeof out, &n), KINKO_ENOENT);
	/* Undecodable: the first match decides. */
	assert_int_equal(uri_query_arg("name=%00", "name", out, sizeof out, &n), KINKO_EINVAL);
	assert_int_equal(uri_query_arg("name=%0&name=ok", "name", out, sizeof out, &n),
			 KINKO_EINVAL);
	assert_int_equal(uri_query_arg("name=0123456789012345678901234567890123", "name", out,
				       sizeof out, &n),
			 KINKO_ELIMIT);

	assert_true(uri_query_has("name", "name"));
	assert_true(uri_query_has("a=1&name", "name"));
	assert_true(uri_query_has("name=%00", "name"));
	assert_false(uri_query_has("names=1", "name"));
	assert_false(uri_query_has("nam", "name"));
	assert_false(uri_query_has("", "name"));
	assert_false(uri_query_has(NULL, "name"));
}

static int range(const char *h, uint64_t size, uint64_t *s, uint64_t *e)
{
	*s = *e = 777; /* untouched unless a range applies */
	return http_parse_range(h, size, s, e);
}

static void range_header(void **state)
{
	uint64_t s, e;
	(void)state;

	assert_int_equal(range("bytes=0-0", 1000, &s, &e), 1);
	assert_int_equal(s, 0);
	assert_int_equal(e, 0);
	assert_int_equal(range("bytes=0-999", 1000, &s, &e), 1);
	assert_int_equal(e, 999);
	assert_int_equal(range("bytes=10-20", 1000, &s, &e), 1);
	assert_int_equal(s, 10);
	assert_int_equal(e, 20);
	/* Suffix ranges: the last n bytes, the whole object when n is larger. */
	assert_int_equal(range("bytes=-100", 1000, &s, &e), 1);
	assert_int_equal(s, 900);
	assert_int_equal(e, 999);
	assert_int_equal(range("bytes=-5000", 1000, &s, &e), 1);
	assert_int_equal(s, 0);
	assert_int_equal(e, 999);
	/* Open ranges. */
	assert_int_equal(range("bytes=500-", 1000, &s, &e), 1);
	assert_int_equal(s, 500);
	assert_int_equal(e, 999);
	assert_int_equal(range("bytes=999-", 1000, &s, &e), 1);
	assert_int_equal(s, 999);
	/* An end past the object is clamped. */
	assert_int_equal(range("bytes=100-999999999999", 1000, &s, &e), 1);
	assert_int_equal(s, 100);
	assert_int_equal(e, 999);
	assert_int_equal(range("bytes=0-18446744073709551615", 1000, &s, &e), 1);
	assert_int_equal(e, 999);

	/* The whole object: absent, other unit, multi-range, invalid syntax. */
	assert_int_equal(range(NULL, 1000, &s, &e), 0);
	assert_int_equal(s, 777);
	assert_int_equal(range("", 1000, &s, &e), 0);
	assert_int_equal(range("items=0-1", 1000, &s, &e), 0);
	assert_int_equal(range("Bytes=0-1", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=0-1,5-6", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=0-1, 5-6", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=5", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=a-5", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=5-a", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=20-10", 1000, &s, &e), 0);
	assert_int_equal(range("bytes= 5-6", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=+5-6", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=18446744073709551616-", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=000000000000000000000000000000001-", 1000, &s, &e), 0);
	/* A suffix that is not a number is malformed too, not unsatisfiable. */
	assert_int_equal(range("bytes=-", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=-x", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=-abc", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=--5", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=-5x", 1000, &s, &e), 0);
	assert_int_equal(range("bytes=-", 0, &s, &e), 0);
	assert_int_equal(s, 777);

	/* Unsatisfiable. */
	assert_int_equal(range("bytes=1000-", 1000, &s, &e), -1);
	assert_int_equal(range("bytes=1000-2000", 1000, &s, &e), -1);
	assert_int_equal(range("bytes=-0", 1000, &s, &e), -1);
	assert_int_equal(range("bytes=0-0", 0, &s, &e), -1);
	assert_int_equal(range("bytes=-1", 0, &s, &e), -1);
	assert_int_equal(range("bytes=0-", 0, &s, &e), -1);
	assert_int_equal(range("bytes=-00", 1000, &s, &e), -1);
	assert_int_equal(s, 777);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pct_decode_good), cmocka_unit_test(pct_decode_bad),
		cmocka_unit_test(split_path),      cmocka_unit_test(query_args),
		cmocka_unit_test(range_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
