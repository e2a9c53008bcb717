#include "scan/records.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>


/* The first bytes are kept to read the header row at the end (its encoding is only
 * known then). A header longer than this is read as far as it was kept. */
#define RECORDS_HEAD_MAX (16 * 1024)
/* Per-column My Number counts are kept for this many columns. */
#define RECORDS_COLS 64

enum csv_state { CSV_START, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE_IN_QUOTED };

struct records_scan {
	struct records_opts o;
	bool finished;
	uint64_t bytes;

	/* BOM: matched prefix length while still deciding. */
	bool bom_done, has_bom;
	uint8_t bom_len;

	/* Encoding validators. */
	bool nul, high;
	bool u8_bad;
	uint8_t u8_need, u8_lo, u8_hi;
	bool sj_bad, sj_trail;

	/* CSV (RFC 4180). */
	enum csv_state st;
	bool cr;          /* the last byte was a CR ending a record; an LF now is its pair */
	bool rec_open;    /* the current record has at least one byte */
	uint32_t col;     /* 0-based field index in the current record */
	uint64_t csv_records;
	bool first_done;  /* the first record (counted) has ended */
	bool first_comma; /* the first record has a comma outside quotes */

	/* Text lines. */
	uint64_t lines;
	bool line_open, tcr;

	/* My Number runs. */
	uint8_t run; /* digits in the current run, saturating at 13 */
	char digs[12];
	uint32_t run_col;
	uint64_t mn_total, mn_other;
	uint64_t mn_col[RECORDS_COLS];

	size_t head_len;
	uint8_t head[RECORDS_HEAD_MAX];
};

static const uint8_t BOM[3] = {0xEF, 0xBB, 0xBF};

bool records_mynumber_valid(const char d[12])
{
	unsigned sum = 0, r, check;

	for (int i = 0; i < 12; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	/* P_n is the n-th of the first 11 digits counted from the right (P_1 = d[10]). */
	for (int n = 1; n <= 11; n++) {
		unsigned p = (unsigned)(d[11 - n] - '0');
		unsigned q = n <= 6 ? (unsigned)n + 1 : (unsigned)n - 5;
		sum += p * q;
	}
	r = sum % 11;
	check = r <= 1 ? 0 : 11 - r;
	return check == (unsigned)(d[11] - '0');
}

int records_new(const struct records_opts *opts, struct records_scan **out, struct kinko_err *e)
{
	struct records_scan *r = calloc(1, sizeof *r);

	if (!r)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory starting the record count");
	if (opts)
		r->o = *opts;
	*out = r;
	return 0;
}

void records_free(struct records_scan *r)
{
	if (!r)
		return;
	/* The head and the current run may hold personal data. */
	memset(r, 0, sizeof *r);
	free(r);
}

static void run_end(struct records_scan *r)
{
	if (r->run == 12 && records_mynumber_valid(r->digs)) {
		r->mn_total++;
		if (r->run_col < RECORDS_COLS)
			r->mn_col[r->run_col]++;
		else
			r->mn_other++;
	}
	r->run = 0;
}

static void enc_byte(struct records_scan *r, uint8_t c)
{
	if (c == 0)
		r->nul = true;
	if (c >= 0x80)
		r->high = true;
	/* UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
	if (!r->u8_bad) {
		if (r->u8_need) {
			if (c < r->u8_lo || c > r->u8_hi)
				r->u8_bad = true;
			r->u8_need--;
			r->u8_lo = 0x80;
			r->u8_hi = 0xBF;
		} else if (c >= 0x80) {
			r->u8_lo = 0x80;
			r->u8_hi = 0xBF;
			if (c >= 0xC2 && c <= 0xDF)
				r->u8_need = 1;
			else if (c >= 0xE0 && c <= 0xEF) {
				r->u8_need = 2;
				if (c == 0xE0)
					r->u8_lo = 0xA0;
				else if (c == 0xED)
					r->u8_hi = 0x9F;
			} else if (c >= 0xF0 && c <= 0xF4) {
				r->u8_need = 3;
				if (c == 0xF0)
					r->u8_lo = 0x90;
				else if (c == 0xF4)
					r->u8_hi = 0x8F;
			} else
				r->u8_bad = true;
		}
	}
	/* CP932: lead 81-9F/E0-FC (user-defined F0-F9 included: municipal data uses
	 * gaiji), trail 40-7E/80-FC; single 00-7F and half-width kana A1-DF. */
	if (!r->sj_bad) {
		if (r->sj_trail) {
			if (c < 0x40 || c == 0x7F || c > 0xFC)
				r->sj_bad = true;
			r->sj_trail = false;
		} else if ((c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC))
			r->sj_trail = true;
		else if (c == 0x80 || c == 0xA0 || c >= 0xFD)
			r->sj_bad = true;
	}
}

static void record_end(struct records_scan *r)
{
	if (r->rec_open) {
		r->csv_records++;
		r->first_done = true;
	}
	r->rec_open = false;
	r->col = 0;
	r->st = CSV_START;
}

static inline void csv_byte(struct records_scan *r, uint8_t c)
{
	bool was_cr = r->cr;

	r->cr = false;
	switch (r->st) {
	case CSV_QUOTED:
		if (c == '"')
			r->st = CSV_QUOTE_IN_QUOTED;
		return;
	case CSV_QUOTE_IN_QUOTED:
		if (c == '"') {
			r->st = CSV_QUOTED; /* "" is an escaped quote */
			return;
		}
		r->st = CSV_UNQUOTED; /* the closing quote; lenient about what follows */
		break;
	case CSV_START:
		if (c == '"') {
			r->st = CSV_QUOTED;
			r->rec_open = true;
			return;
		}
		break;
	case CSV_UNQUOTED:
		break;
	}
	if (c == '\n') {
		if (!was_cr)
			record_end(r);
		return;
	}
	if (c == '\r') {
		record_end(r);
		r->cr = true;
		return;
	}
	r->rec_open = true;
	if (c == ',') {
		if (!r->first_done)
			r->first_comma = true;
		r->col++;
		r->st = CSV_START;
	} else {
		r->st = CSV_UNQUOTED;
	}
}

static inline void text_byte(struct records_scan *r, uint8_t c)
{
	bool was_cr = r->tcr;

	r->tcr = false;
	if (c == '\n') {
		if (!was_cr)
			r->lines++;
		r->line_open = false;
	} else if (c == '\r') {
		r->lines++;
		r->line_open = false;
		r->tcr = true;
	} else {
		r->line_open = true;
	}
}

static void content_byte(struct records_scan *r, uint8_t c)
{
	if (r->head_len < RECORDS_HEAD_MAX)
		r->head[r->head_len++] = c;
	enc_byte(r, c);
	if (c >= '0' && c <= '9') {
		if (r->run == 0)
			r->run_col = r->col;
		if (r->run < 12)
			r->digs[r->run] = (char)c;
		if (r->run < 13)
			r->run++;
	} else if (r->run) {
		run_end(r);
	}
	csv_byte(r, c);
	text_byte(r, c);
}

void records_feed(struct records_scan *r, const void *p, size_t n)
{
	const uint8_t *c = p;
	size_t i = 0;

	if (!r || r->finished)
		return;
	r->bytes += n;
	while (i < n && !r->bom_done) {
		if (c[i] == BOM[r->bom_len]) {
			i++;
			if (++r->bom_len == 3) {
				r->has_bom = true;
				r->bom_done = true;
			}
			continue;
		}
		r->bom_done = true;
		for (uint8_t k = 0; k < r->bom_len; k++)
			content_byte(r, BOM[k]);
	}
	for (; i < n; i++)
		content_byte(r, c[i]);
}

/* True when a header field (in CP932 when cp932) names the My Number column. */
static bool field_names_mynumber(const uint8_t *f, size_t n, bool cp932, iconv_t cd)
{
	static const char k1[] = "個人番号", k2[] = "マイナンバー";
	char out[1024];

	if (cp932) {
		char *in = (char *)f, *o = out;
		size_t il = n, ol = sizeof out - 1;
		if (cd == (iconv_t)-1)
			return false;
		(void)iconv(cd, NULL, NULL, NULL, NULL);
		if (iconv(cd, &in, &il, &o, &ol) == (size_t)-1 && o == out)
			return false;
		f = (const uint8_t *)out;
		n = (size_t)(o - out);
	}
	return memmem(f, n, k1, sizeof k1 - 1) || memmem(f, n, k2, sizeof k2 - 1);
}

/* Splits the kept head into the fields of its first non-blank record (CSV rules, or
 * the whole first line as field 0 for text); returns the first field that names the
 * My Number column, or -1. */
static int header_column(const struct records_scan *r, bool csv, bool cp932)
{
	const uint8_t *h = r->head, *end = r->head + r->head_len;
	uint8_t field[512];
	size_t fl = 0;
	int col = 0, found = -1;
	bool q = false, after_q = false;
	iconv_t cd = cp932 ? iconv_open("UTF-8", "CP932") : (iconv_t)-1;

	while (h < end && (*h == '\r' || *h == '\n'))
		h++;
	for (; h <= end; h++) {
		bool eof = h == end;
		uint8_t c = eof ? 0 : *h;
		if (!eof && q) {
			if (c == '"') {
				if (h + 1 < end && h[1] == '"') {
					h++;
				} else {
					q = false;
					after_q = true;
					continue;
				}
			}
			if (fl < sizeof field)
				field[fl++] = c;
			continue;
		}
		if (eof || c == '\n' || c == '\r' || (csv && c == ',')) {
			if (found < 0 && field_names_mynumber(field, fl, cp932, cd))
				found = col;
			if (eof || c != ',')
				break;
			col++;
			fl = 0;
			after_q = false;
			continue;
		}
		if (csv && c == '"' && fl == 0 && !after_q) {
			q = true;
			continue;
		}
		if (fl < sizeof field)
			field[fl++] = c;
	}
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	memset(field, 0, sizeof field);
	return found;
}

int records_finish(struct records_scan *r, struct records_result *out, struct kinko_err *e)
{
	struct records_result res;
	bool csv;
	int hc;

	if (!r || r->finished)
		return kinko_err_set(e, KINKO_EINVAL, "record count already finished");
	if (!r->bom_done) {
		r->bom_done = true;
		for (uint8_t k = 0; k < r->bom_len; k++)
			content_byte(r, BOM[k]);
	}
	if (r->run)
		run_end(r);
	/* A final record without a line end counts (even one with an unclosed quote). */
	record_end(r);
	if (r->line_open)
		r->lines++;
	r->finished = true;

	memset(&res, 0, sizeof res);
	res.bytes = r->bytes;
	res.has_bom = r->has_bom;
	if (r->u8_need)
		r->u8_bad = true;
	if (r->sj_trail)
		r->sj_bad = true;
	if (!r->high)
		res.encoding = RECORDS_ENC_ASCII;
	else if (!r->u8_bad)
		res.encoding = RECORDS_ENC_UTF8;
	else if (!r->sj_bad && !r->has_bom)
		res.encoding = RECORDS_ENC_CP932;
	else
		res.encoding = RECORDS_ENC_UNKNOWN;
	if (r->has_bom && res.encoding == RECORDS_ENC_ASCII)
		res.encoding = RECORDS_ENC_UTF8;

	res.mynumber_column = -1;
	res.mynumber_header_column = -1;
	if (r->nul || res.encoding == RECORDS_ENC_UNKNOWN) {
		/* Binary: no records, but a 12-digit run is still reported. */
		res.format = RECORDS_FMT_BINARY;
		csv = false;
	} else {
		if (r->o.format == RECORDS_FMT_CSV || r->o.format == RECORDS_FMT_TEXT)
			res.format = r->o.format;
		else
			res.format = r->first_comma ? RECORDS_FMT_CSV : RECORDS_FMT_TEXT;
		csv = res.format == RECORDS_FMT_CSV;
		res.records = csv ? r->csv_records : r->lines;
		if (r->o.header && res.records > 0)
			res.records--;
	}

	res.mynumber_count = r->mn_total;
	hc = res.format == RECORDS_FMT_BINARY
		     ? -1
		     : header_column(r, csv, res.encoding == RECORDS_ENC_CP932);
	res.mynumber_header_column = hc;
	if (r->mn_total) {
		int only = -1;
		for (int i = 0; i < RECORDS_COLS; i++)
			if (r->mn_col[i] == r->mn_total)
				only = i;
		if (csv)
			res.mynumber_column = only;
		res.mynumber_confidence = RECORDS_MN_LOW;
		if (hc >= 0 && (!csv || (hc < RECORDS_COLS && r->mn_col[hc] > 0)))
			res.mynumber_confidence = RECORDS_MN_HIGH;
		if (csv && hc >= 0 && hc < RECORDS_COLS && r->mn_col[hc] > 0 && only < 0)
			res.mynumber_column = hc;
	}
	*out = res;
	return 0;
}

const char *records_encoding_name(enum records_encoding enc)
{
	switch (enc) {
	case RECORDS_ENC_ASCII: return "ascii";
	case RECORDS_ENC_UTF8: return "utf-8";
	case RECORDS_ENC_CP932: return "cp932";
	case RECORDS_ENC_UNKNOWN: break;
	}
	return "unknown";
}

const char *records_format_name(enum records_format f)
{
	switch (f) {
	case RECORDS_FMT_CSV: return "csv";
	case RECORDS_FMT_TEXT: return "text";
	case RECORDS_FMT_BINARY: return "binary";
	case RECORDS_FMT_AUTO: break;
	}
	return "auto";
}

const char *records_confidence_name(enum records_confidence c)
{
	switch (c) {
	case RECORDS_MN_LOW: return "low";
	case RECORDS_MN_HIGH: return "high";
	case RECORDS_MN_NONE: break;
	}
	return "none";
}
