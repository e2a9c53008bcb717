/*
 * records — count records and look for My Numbers in a stream, in constant memory.
 *
 * The scanner is fed the plaintext in whatever chunks the caller has (one byte at
 * a time works as well as megabytes) and decides at the end:
 *   - encoding: ASCII, UTF-8 (with or without BOM) or CP932/Shift_JIS, validated as
 *     the bytes pass; UTF-8 wins when both are valid; neither means binary;
 *   - format: CSV (RFC 4180: quoted fields may hold commas, quotes and CR/LF), plain
 *     text lines, or binary (a NUL byte or an invalid encoding);
 *   - records: CSV records (a blank line is not a record; a last record without a
 *     line end is) or text lines (every line, blank ones too); 0 for an empty file
 *     or binary; with opts.header the first record is not counted;
 *   - My Numbers (個人番号): runs of exactly 12 ASCII digits -- a digit on either
 *     side, even across chunk boundaries, makes the run longer and it does not
 *     count -- whose 12th digit is the check digit of the other 11 (weights 2..7,
 *     2..6 from the right; 11 - (sum mod 11), 0 when the remainder is 0 or 1).
 *     Full-width digits are not recognised (neither as numbers nor as neighbours).
 *     A column header containing 個人番号 or マイナンバー (UTF-8 or CP932) raises
 *     the confidence when numbers are found in that column.
 *
 * The numbers themselves are never kept beyond the 12 digits of the current run,
 * never returned and never put in a message: only counts and the column index.
 * The scanner never fails while feeding; only allocation can fail.
 */
#ifndef KINKO_SCAN_RECORDS_H
#define KINKO_SCAN_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum records_encoding {
	RECORDS_ENC_ASCII = 0, /* also an empty file */
	RECORDS_ENC_UTF8,
	RECORDS_ENC_CP932,
	RECORDS_ENC_UNKNOWN,
};

enum records_format {
	RECORDS_FMT_AUTO = 0, /* as a hint: decide from the content */
	RECORDS_FMT_CSV,
	RECORDS_FMT_TEXT,
	RECORDS_FMT_BINARY,
};

enum records_confidence {
	RECORDS_MN_NONE = 0, /* no valid My Number found */
	RECORDS_MN_LOW,      /* valid numbers, no header names them */
	RECORDS_MN_HIGH,     /* valid numbers in a column whose header names 個人番号/マイナンバー */
};

struct records_opts {
	enum records_format format; /* AUTO: CSV when the first record has a comma outside
				     * quotes, else text */
	bool header;                /* the first record is a header: do not count it */
};

struct records_result {
	enum records_encoding encoding;
	bool has_bom;
	enum records_format format;
	uint64_t bytes;
	uint64_t records;
	uint64_t mynumber_count;
	enum records_confidence mynumber_confidence;
	int mynumber_column;        /* 0-based CSV column holding the numbers; -1 unknown/mixed */
	int mynumber_header_column; /* 0-based column whose header names 個人番号/マイナンバー; -1 none */
};

struct records_scan;

int records_new(const struct records_opts *opts, struct records_scan **out,
		struct kinko_err *e) KINKO_WUR;
void records_feed(struct records_scan *r, const void *p, size_t n);
/* Ends the stream and fills *out; r may not be fed afterwards. */
int records_finish(struct records_scan *r, struct records_result *out, struct kinko_err *e) KINKO_WUR;
void records_free(struct records_scan *r);

/* True when the 12 ASCII digits carry a valid My Number check digit. */
bool records_mynumber_valid(const char digits[12]);

const char *records_encoding_name(enum records_encoding enc);
const char *records_format_name(enum records_format f);
const char *records_confidence_name(enum records_confidence c);

#endif
