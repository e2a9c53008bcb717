/*
 * Record counting, encoding detection and My Number detection. Every case is run
 * three ways -- whole, one byte at a time, and in random splits -- and the three
 * results must agree, which proves the scanner does not depend on chunk boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan/records.h"

static struct records_result run_split(const void *data, size_t len, const struct records_opts *o,
				       int mode, unsigned seed)
{
	struct records_scan *r = NULL;
	struct records_result res;
	const uint8_t *p = data;
	size_t off = 0;

	assert_int_equal(records_new(o, &r, NULL), 0);
	while (off < len) {
		size_t k = len - off;
		if (mode == 1)
			k = 1;
		else if (mode == 2) {
			seed = seed * 1103515245u + 12345u;
			k = (seed >> 16) % 9 + ((seed & 1) ? 0 : (seed >> 8) % 200);
			if (k > len - off)
				k = len - off;
		}
		records_feed(r, p + off, k);
		off += k;
	}
	if (mode == 2)
		records_feed(r, "", 0); /* empty feeds are harmless */
	memset(&res, 0xAA, sizeof res);
	assert_int_equal(records_finish(r, &res, NULL), 0);
	records_free(r);
	return res;
}

static struct records_result check_opts(const void *data, size_t len, const struct records_opts *o)
{
	struct records_result whole = run_split(data, len, o, 0, 0);

	struct records_result one = run_split(data, len, o, 1, 0);
	assert_memory_equal(&whole, &one, sizeof whole);
	for (unsigned seed = 1; seed <= 20; seed++) {
		struct records_result rnd = run_split(data, len, o, 2, seed);
		assert_memory_equal(&whole, &rnd, sizeof whole);
	}
	return whole;
}

static struct records_result check(const char *s)
{
	struct records_opts o = {0};
	return check_opts(s, strlen(s), &o);
}

static struct records_result check_hdr(const char *s)
{
	struct records_opts o = {.header = true};
	return check_opts(s, strlen(s), &o);
}

static void empty_file_has_no_records(void **state)
{
	struct records_result r;
	(void)state;
	r = check("");
	assert_int_equal(r.records, 0);
	assert_int_equal(r.bytes, 0);
	assert_int_equal(r.encoding, RECORDS_ENC_ASCII);
	assert_int_equal(r.mynumber_count, 0);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_NONE);
	assert_int_equal(r.mynumber_column, -1);
	r = check_hdr("");
	assert_int_equal(r.records, 0);
	/* A BOM alone is an empty UTF-8 file. */
	r = check("\xEF\xBB\xBF");
	assert_int_equal(r.records, 0);
	assert_true(r.has_bom);
	assert_int_equal(r.encoding, RECORDS_ENC_UTF8);
}

static void csv_line_ends(void **state)
{
	struct records_result r;
	(void)state;
	r = check("a,b\nc,d\n");
	assert_int_equal(r.format, RECORDS_FMT_CSV);
	assert_int_equal(r.records, 2);
	r = check("a,b\r\nc,d\r\n");
	assert_int_equal(r.records, 2);
	r = check("a,b\r\nc,d"); /* last record without a line end counts */
	assert_int_equal(r.records, 2);
	r = check("a,b\rc,d\r"); /* old Mac line ends */
	assert_int_equal(r.records, 2);
	r = check("a,b\n\n\r\n\nc,d\n\n"); /* blank lines are not records */
	assert_int_equal(r.records, 2);
	r = check("a,b\n,\n"); /* a line of empty fields is */
	assert_int_equal(r.records, 2);
	r = check_hdr("id,name\n1,x\n2,y\n3,z");
	assert_int_equal(r.records, 3);
}

static void csv_quoted_fields(void **state)
{
	struct records_result r;
	(void)state;
	r = check("id,memo\n1,\"line one\nline two\"\n2,\"a, b\"\n3,\"say \"\"hi\"\"\r\nbye\"\r\n");
	assert_int_equal(r.format, RECORDS_FMT_CSV);
	assert_int_equal(r.records, 4);
	r = check("\"a\nb\",\"c\r\nd\"");
	assert_int_equal(r.records, 1);
	r = check("x,\"\"\"\"\n\"\"\"\n\",y\n"); /* escaped quotes next to the quoted newline */
	assert_int_equal(r.records, 2);
	r = check("a,\"unterminated\nstill in the field\n"); /* unclosed quote: one record */
	assert_int_equal(r.records, 1);
	r = check("a,b\"c\nd,e\n"); /* a quote inside an unquoted field is literal */
	assert_int_equal(r.records, 2);
	/* The same bytes as text lines: the quoted newline is a line end there. */
	struct records_opts o = {.format = RECORDS_FMT_TEXT};
	const char *s = "1,\"a\nb\"\n";
	r = check_opts(s, strlen(s), &o);
	assert_int_equal(r.format, RECORDS_FMT_TEXT);
	assert_int_equal(r.records, 2);
}

static void text_lines(void **state)
{
	struct records_result r;
	(void)state;
	r = check("first line\nsecond\n\nfourth");
	assert_int_equal(r.format, RECORDS_FMT_TEXT);
	assert_int_equal(r.records, 4);
	r = check("one\r\ntwo\r\n");
	assert_int_equal(r.records, 2);
	r = check("\n");
	assert_int_equal(r.records, 1);
	struct records_opts o = {.format = RECORDS_FMT_CSV};
	r = check_opts("single\ncolumn\n", 14, &o);
	assert_int_equal(r.format, RECORDS_FMT_CSV);
	assert_int_equal(r.records, 2);
}

static void utf8_bom_and_cp932(void **state)
{
	struct records_result r;
	(void)state;
	r = check("\xEF\xBB\xBF" "氏名,住所\n山田,新宿区\n");
	assert_true(r.has_bom);
	assert_int_equal(r.encoding, RECORDS_ENC_UTF8);
	assert_int_equal(r.records, 2);
	r = check("氏名,住所\n山田,新宿区\n");
	assert_false(r.has_bom);
	assert_int_equal(r.encoding, RECORDS_ENC_UTF8);
	/* 氏名,住所 / 山田,新宿区 in CP932 */
	r = check("\x8e\x81\x96\xbc,\x8f\x5a\x8f\x8a\r\n\x8e\x52\x93\x63,\x90\x56\x8f\x68\x8b\xe6\r\n");
	assert_int_equal(r.encoding, RECORDS_ENC_CP932);
	assert_int_equal(r.format, RECORDS_FMT_CSV);
	assert_int_equal(r.records, 2);
	/* Half-width katakana and a user-defined (gaiji) character are CP932. */
	r = check("\xb6\xc5,\xf0\x40\n");
	assert_int_equal(r.encoding, RECORDS_ENC_CP932);
	/* A BOM-like prefix that is not a BOM is content. */
	r = check("\xEF\xBB\xFF\n");
	assert_false(r.has_bom);
	assert_int_equal(r.encoding, RECORDS_ENC_UNKNOWN);
	assert_int_equal(r.format, RECORDS_FMT_BINARY);
	assert_int_equal(r.records, 0);
	/* A truncated UTF-8 sequence at the end is not UTF-8 (but is a CP932 lead+trail). */
	r = check("abc\xE3\x81");
	assert_int_equal(r.encoding, RECORDS_ENC_CP932);
	/* Overlong UTF-8 and a dangling CP932 lead byte: neither. */
	r = check("\xC0\xAF\x81");
	assert_int_equal(r.encoding, RECORDS_ENC_UNKNOWN);
}

static void binary_is_not_counted(void **state)
{
	static const uint8_t bin[] = {'P', 'K', 3, 4, 0, 0, '\n', 0xff, 0xfe, '\n', 'a', ','};
	struct records_opts o = {0};
	struct records_result r;
	(void)state;
	r = check_opts(bin, sizeof bin, &o);
	assert_int_equal(r.format, RECORDS_FMT_BINARY);
	assert_int_equal(r.records, 0);
	assert_int_equal(r.bytes, sizeof bin);
}

static void mynumber_check_digit(void **state)
{
	(void)state;
	assert_true(records_mynumber_valid("123456789018"));
	assert_false(records_mynumber_valid("123456789012"));
	assert_true(records_mynumber_valid("000000000000")); /* remainder 0 -> check 0 */
	assert_true(records_mynumber_valid("111111111118"));
	assert_true(records_mynumber_valid("987654321093"));
	assert_false(records_mynumber_valid("98765432109x"));
	/* Every wrong check digit fails. */
	for (char c = '0'; c <= '9'; c++) {
		char d[12];
		memcpy(d, "12345678901", 11);
		d[11] = c;
		assert_int_equal(records_mynumber_valid(d), c == '8');
	}
}

static void mynumber_runs(void **state)
{
	struct records_result r;
	(void)state;
	r = check("123456789018");
	assert_int_equal(r.mynumber_count, 1);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_LOW);
	r = check("123456789012\n"); /* invalid check digit */
	assert_int_equal(r.mynumber_count, 0);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_NONE);
	r = check("1123456789018\n");   /* 13 digits */
	assert_int_equal(r.mynumber_count, 0);
	r = check("1234567890180\n");   /* valid 12 followed by a digit */
	assert_int_equal(r.mynumber_count, 0);
	r = check("12345678901812345678901\n");
	assert_int_equal(r.mynumber_count, 0);
	r = check("tel 12345678901 no\n"); /* 11 digits */
	assert_int_equal(r.mynumber_count, 0);
	r = check("x123456789018y 987654321093-000000000000.\n");
	assert_int_equal(r.mynumber_count, 3);
	/* Numbers without a header: found, low confidence, column known. */
	r = check("a,123456789018\nb,987654321093\nc,5\n");
	assert_int_equal(r.format, RECORDS_FMT_CSV);
	assert_int_equal(r.mynumber_count, 2);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_LOW);
	assert_int_equal(r.mynumber_column, 1);
	assert_int_equal(r.mynumber_header_column, -1);
	/* In different columns: column unknown. */
	r = check("123456789018,x\ny,987654321093\n");
	assert_int_equal(r.mynumber_count, 2);
	assert_int_equal(r.mynumber_column, -1);
	/* Inside quotes. */
	r = check("\"123456789018\",\"a\n987654321093\"\n");
	assert_int_equal(r.mynumber_count, 2);
}

static void mynumber_header_raises_confidence(void **state)
{
	struct records_result r;
	(void)state;
	r = check_hdr("氏名,個人番号,備考\n山田,123456789018,\n鈴木,987654321093,x\n");
	assert_int_equal(r.records, 2);
	assert_int_equal(r.mynumber_count, 2);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_HIGH);
	assert_int_equal(r.mynumber_header_column, 1);
	assert_int_equal(r.mynumber_column, 1);
	r = check("\xEF\xBB\xBF\"番号\",\"マイナンバー（12桁）\"\r\n1,123456789018\r\n");
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_HIGH);
	assert_int_equal(r.mynumber_header_column, 1);
	/* CP932: 氏名,個人番号 / 山田,123456789018 */
	r = check("\x8e\x81\x96\xbc,\x8c\xc2\x90\x6c\x94\xd4\x8d\x86\r\n"
		  "\x8e\x52\x93\x63,123456789018\r\n");
	assert_int_equal(r.encoding, RECORDS_ENC_CP932);
	assert_int_equal(r.mynumber_count, 1);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_HIGH);
	assert_int_equal(r.mynumber_header_column, 1);
	/* CP932 マイナンバー as header of column 0. */
	r = check("\x83\x7d\x83\x43\x83\x69\x83\x93\x83\x6f\x81\x5b,x\r\n987654321093,y\r\n");
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_HIGH);
	assert_int_equal(r.mynumber_header_column, 0);
	/* A header but the numbers sit in another column: low. */
	r = check("個人番号,other\n,123456789018\n");
	assert_int_equal(r.mynumber_header_column, 0);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_LOW);
	assert_int_equal(r.mynumber_column, 1);
	/* A header and only invalid numbers: none found. */
	r = check("個人番号\n123456789012\n");
	assert_int_equal(r.mynumber_count, 0);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_NONE);
	assert_int_equal(r.mynumber_header_column, 0);
	/* Text: a first line naming it raises confidence. */
	r = check("マイナンバー一覧\n123456789018\n");
	assert_int_equal(r.format, RECORDS_FMT_TEXT);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_HIGH);
	/* The keyword in a data row is not a header. */
	r = check("a,b\n個人番号,123456789018\n");
	assert_int_equal(r.mynumber_header_column, -1);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_LOW);
}

static void large_random_csv(void **state)
{
	/* A generated CSV with known counts, fed in random splits. */
	size_t cap = 200000, n = 0;
	char *buf = malloc(cap);
	unsigned seed = 7;
	uint64_t recs = 0, valid = 0;
	struct records_opts o = {.header = true};
	struct records_result r;
	(void)state;
	assert_non_null(buf);
	n += (size_t)snprintf(buf, cap, "id,個人番号,memo\r\n");
	while (n < cap - 200) {
		seed = seed * 1103515245u + 12345u;
		int kind = (int)((seed >> 16) % 4);
		const char *num = kind == 0 ? "123456789018" : kind == 1 ? "123456789012"
				  : kind == 2 ? "987654321093" : "1234567890180";
		if (kind == 0 || kind == 2)
			valid++;
		n += (size_t)snprintf(buf + n, cap - n, "%llu,%s,\"x,\"\"y\"\"\nz\"\r\n",
				      (unsigned long long)recs, num);
		recs++;
	}
	r = check_opts(buf, n, &o);
	assert_int_equal(r.records, recs);
	assert_int_equal(r.mynumber_count, valid);
	assert_int_equal(r.mynumber_confidence, RECORDS_MN_HIGH);
	assert_int_equal(r.mynumber_column, 1);
	free(buf);
}

static void finish_twice_is_refused(void **state)
{
	struct records_scan *r = NULL;
	struct records_result res;
	struct kinko_err e = {0};
	(void)state;
	assert_int_equal(records_new(NULL, &r, NULL), 0);
	records_feed(r, "a\n", 2);
	assert_int_equal(records_finish(r, &res, NULL), 0);
	assert_int_equal(res.records, 1);
	assert_int_equal(records_finish(r, &res, &e), KINKO_EINVAL);
	records_free(r);
	records_free(NULL);
	assert_string_equal(records_encoding_name(RECORDS_ENC_CP932), "cp932");
	assert_string_equal(records_format_name(RECORDS_FMT_CSV), "csv");
	assert_string_equal(records_confidence_name(RECORDS_MN_HIGH), "high");
}

/* The scanner works on 64-byte blocks: put every construct at every offset
 * around the first two block edges. */
static void constructs_across_block_edges(void **state)
{
	char buf[512];
	struct records_opts csv = {.format = RECORDS_FMT_CSV};
	struct records_result r;
	(void)state;
	for (size_t off = 0; off < 140; off++) {
		size_t n;
		memset(buf, 'a', off);
		/* A My Number, then one with a digit glued on either side. */
		n = off + (size_t)snprintf(buf + off, sizeof buf - off, "%s",
					   ",123456789018,\"x\"\r\n7123456789018\n1234567890187\n");
		r = check_opts(buf, n, &csv);
		assert_int_equal(r.mynumber_count, 1);
		assert_int_equal(r.mynumber_column, 1);
		assert_int_equal(r.records, 3);
		/* A quoted field holding CRLF, escaped quotes and a comma. */
		n = off + (size_t)snprintf(buf + off, sizeof buf - off, "%s",
					   ",\"p\"\"\r\nq,\"\r\n\"\"\r\nb\"c\"\r\n");
		r = check_opts(buf, n, &csv);
		assert_int_equal(r.records, 3);
		r = check(buf); /* auto: the first record has a comma: CSV */
		assert_int_equal(r.format, RECORDS_FMT_CSV);
		assert_int_equal(r.records, 3);
		/* A quote inside an unquoted field, or after a closed quoted field, is
		 * literal: it opens nothing, so the line ends still end records. */
		n = off + (size_t)snprintf(buf + off, sizeof buf - off, "%s",
					   "x\"y,\"z\"w\"\r\n1,2\r\n\"p\"q\"r\ns\"\nt\n");
		r = check_opts(buf, n, &csv);
		assert_int_equal(r.records, 5);
		/* UTF-8: a 3-byte, a 4-byte and the E0/ED/F4 second-byte limits. */
		n = off + (size_t)snprintf(buf + off, sizeof buf - off, "%s",
					   "\xE6\x9D\xB1\xF0\x90\x80\x80\xE0\xA0\x80\xED\x9F\xBF\xF4\x8F\xBF\xBF\n");
		r = check(buf);
		assert_int_equal(r.encoding, RECORDS_ENC_UTF8);
		assert_int_equal(r.records, 1);
		buf[n - 2] = (char)0xC0; /* F4 8F BF C0: no continuation */
		r = check(buf);
		assert_int_equal(r.format, RECORDS_FMT_BINARY);
		buf[off + 7] = (char)0xE0; /* E0 9F: overlong */
		buf[off + 8] = (char)0x9F;
		buf[n - 2] = (char)0xBF;
		r = check(buf);
		assert_int_not_equal(r.encoding, RECORDS_ENC_UTF8);
		/* CP932: 2-byte characters whose trail is in the lead range, half-width
		 * kana, and a trail below 0x40 (invalid). */
		n = off + (size_t)snprintf(buf + off, sizeof buf - off, "%s",
					   "\x93\x8C\x8B\x9E\xB1\xE0\xE0,x\r\n");
		r = check(buf);
		assert_int_equal(r.encoding, RECORDS_ENC_CP932);
		assert_int_equal(r.records, 1);
		buf[n - 4] = (char)0xE0; /* E0 E0 E0 31: the last lead's trail is '1' */
		buf[n - 3] = '1';
		r = check(buf);
		assert_int_equal(r.encoding, RECORDS_ENC_UNKNOWN);
	}
	/* Digit runs longer than a block are no numbers; the next one is. */
	memset(buf, '7', 200);
	memcpy(buf + 200, ",123456789018\n", 14);
	r = check_opts(buf, 214, &csv);
	assert_int_equal(r.mynumber_count, 1);
	assert_int_equal(r.mynumber_column, 1);
	memcpy(buf + 52, "123456789018", 12); /* inside the long run: still none extra */
	r = check_opts(buf, 214, &csv);
	assert_int_equal(r.mynumber_count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_file_has_no_records),
		cmocka_unit_test(csv_line_ends),
		cmocka_unit_test(csv_quoted_fields),
		cmocka_unit_test(text_lines),
		cmocka_unit_test(utf8_bom_and_cp932),
		cmocka_unit_test(binary_is_not_counted),
		cmocka_unit_test(mynumber_check_digit),
		cmocka_unit_test(mynumber_runs),
		cmocka_unit_test(mynumber_header_raises_confidence),
		cmocka_unit_test(large_random_csv),
		cmocka_unit_test(finish_twice_is_refused),
		cmocka_unit_test(constructs_across_block_edges),
	};
	/* Every path the scanner has: the CPU's best, SSE2 and the portable one. */
	static const char *isa[] = {"native", "sse2", "portable"};
	int failed = 0;
	for (size_t i = 0; i < sizeof isa / sizeof isa[0]; i++) {
		setenv("KINKO_RECORDS_ISA", isa[i], 1);
		failed += cmocka_run_group_tests_name(isa[i], tests, NULL, NULL);
	}
	return failed;
}
