/*
 * Reference record scanner for fuzz_records: the straightforward byte-at-a-time
 * implementation of src/scan/records.c as it was before the block rewrite (commit
 * e090ebf), renamed ref_*. The fuzzer checks that the fast scanner gives the same
 * result as this one on every input and every chunking. Only the gathering is
 * separate: the final decision (encoding, format, header column, confidence) is
 * the scanner's own records_decide. Not built on its own:
 * included by fuzz_records.c (and bench/records_bench.c does not use it).
 */
#include "scan/records.h"
#include "scan/records_internal.h"

#include <stdlib.h>
#include <string.h>


enum csv_state { CSV_START, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE_IN_QUOTED };

/* The state every byte touches. ref_feed works on a local copy so the compiler
 * keeps it in registers (stores through the struct would alias the input bytes). */
struct rs_hot {
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
};

struct ref_scan {
	struct records_opts o;
	bool finished;
	uint64_t bytes;

	/* BOM: matched prefix length while still deciding. */
	bool bom_done, has_bom;
	uint8_t bom_len;

	struct rs_hot h;

	uint64_t mn_total, mn_other;
	uint64_t mn_col[RECORDS_COLS];

	size_t head_len;
	uint8_t head[RECORDS_HEAD_MAX];
};

static const uint8_t BOM[3] = {0xEF, 0xBB, 0xBF};

static bool ref_mynumber_valid(const char d[12])
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

static int ref_new(const struct records_opts *opts, struct ref_scan **out, struct kinko_err *e)
{
	struct ref_scan *r = calloc(1, sizeof *r);

	if (!r)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory starting the record count");
	if (opts)
		r->o = *opts;
	*out = r;
	return 0;
}

static void ref_free(struct ref_scan *r)
{
	if (!r)
		return;
	/* The head and the current run may hold personal data. */
	memset(r, 0, sizeof *r);
	free(r);
}

static void run_end(struct ref_scan *r, struct rs_hot *h)
{
	if (h->run == 12 && ref_mynumber_valid(h->digs)) {
		r->mn_total++;
		if (h->run_col < RECORDS_COLS)
			r->mn_col[h->run_col]++;
		else
			r->mn_other++;
	}
	h->run = 0;
}

/* Skips ASCII quickly, 8 bytes at a time. */
static size_t skip_ascii(const uint8_t *c, size_t i, size_t n)
{
	while (i + 8 <= n) {
		uint64_t w;
		memcpy(&w, c + i, 8);
		if (w & UINT64_C(0x8080808080808080))
			break;
		i += 8;
	}
	while (i < n && c[i] < 0x80)
		i++;
	return i;
}

/* UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). Stops at
 * the first invalid byte: an invalid file stays invalid. */
static void utf8_validate(struct rs_hot *h, const uint8_t *c, size_t n)
{
	size_t i = 0;

	while (i < n && !h->u8_bad) {
		uint8_t b;
		if (!h->u8_need) {
			i = skip_ascii(c, i, n);
			if (i == n)
				break;
		}
		b = c[i++];
		h->high = true;
		if (h->u8_need) {
			if (b < h->u8_lo || b > h->u8_hi)
				h->u8_bad = true;
			h->u8_need--;
			h->u8_lo = 0x80;
			h->u8_hi = 0xBF;
			continue;
		}
		h->u8_lo = 0x80;
		h->u8_hi = 0xBF;
		if (b >= 0xC2 && b <= 0xDF) {
			h->u8_need = 1;
		} else if (b >= 0xE0 && b <= 0xEF) {
			h->u8_need = 2;
			if (b == 0xE0)
				h->u8_lo = 0xA0;
			else if (b == 0xED)
				h->u8_hi = 0x9F;
		} else if (b >= 0xF0 && b <= 0xF4) {
			h->u8_need = 3;
			if (b == 0xF0)
				h->u8_lo = 0x90;
			else if (b == 0xF4)
				h->u8_hi = 0x8F;
		} else {
			h->u8_bad = true;
		}
	}
}

/* CP932: lead 81-9F/E0-FC (user-defined F0-F9 included: municipal data uses gaiji),
 * trail 40-7E/80-FC; single bytes 00-7F and half-width kana A1-DF. */
static void cp932_validate(struct rs_hot *h, const uint8_t *c, size_t n)
{
	size_t i = 0;

	while (i < n && !h->sj_bad) {
		uint8_t b;
		if (!h->sj_trail) {
			i = skip_ascii(c, i, n);
			if (i == n)
				break;
		}
		b = c[i++];
		if (h->sj_trail) {
			if (b < 0x40 || b == 0x7F || b > 0xFC)
				h->sj_bad = true;
			h->sj_trail = false;
		} else if ((b >= 0x81 && b <= 0x9F) || (b >= 0xE0 && b <= 0xFC)) {
			h->sj_trail = true;
		} else if (b == 0x80 || b == 0xA0 || b >= 0xFD) {
			h->sj_bad = true;
		}
	}
}

static inline void record_end(struct rs_hot *r)
{
	if (r->rec_open) {
		r->csv_records++;
		r->first_done = true;
	}
	r->rec_open = false;
	r->col = 0;
	r->st = CSV_START;
}

static inline void csv_byte(struct rs_hot *r, uint8_t c)
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

static inline void text_byte(struct rs_hot *r, uint8_t c)
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

/* Byte classes for the structural pass: 0 plain, 1 digit, 2 NUL, line ends, quote
 * and comma. */
static const uint8_t special[256] = {
	[0] = 2, ['\n'] = 2, ['\r'] = 2, ['"'] = 2, [','] = 2, ['0'] = 1, ['1'] = 1,
	['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
};

static inline void content_byte(struct ref_scan *r, struct rs_hot *h, uint8_t c)
{
	if (c == 0)
		h->nul = true;
	if (c >= '0' && c <= '9') {
		if (h->run == 0)
			h->run_col = h->col;
		if (h->run < 12)
			h->digs[h->run] = (char)c;
		if (h->run < 13)
			h->run++;
	} else if (h->run) {
		run_end(r, h);
	}
	csv_byte(h, c);
	text_byte(h, c);
}

static void feed_content(struct ref_scan *r, const uint8_t *c, size_t n)
{
	struct rs_hot h = r->h;

	if (r->head_len < RECORDS_HEAD_MAX) {
		size_t k = RECORDS_HEAD_MAX - r->head_len;
		if (k > n)
			k = n;
		memcpy(r->head + r->head_len, c, k);
		r->head_len += k;
	}
	utf8_validate(&h, c, n);
	cp932_validate(&h, c, n);
	if (h.nul || (h.u8_bad && h.sj_bad)) {
		/* Binary (neither UTF-8 nor CP932, or NUL seen): no records are counted,
		 * only 12-digit runs matter. A tight loop keeps random data (archives,
		 * images) at memory speed. */
		unsigned run = h.run;
		for (size_t i = 0; i < n;) {
			uint8_t b = c[i];
			/* Outside a run, a non-digit 11 bytes ahead means no run starting
			 * within those 12 bytes can reach 12 digits: skip them all. */
			if (run == 0 && i + 11 < n && (uint8_t)(c[i + 11] - '0') > 9) {
				i += 12;
				continue;
			}
			if ((uint8_t)(b - '0') <= 9) {
				if (run == 0)
					h.run_col = h.col;
				if (run < 12)
					h.digs[run] = (char)b;
				if (run < 13)
					run++;
			} else if (run) {
				h.run = (uint8_t)run;
				run_end(r, &h);
				run = 0;
			}
			i++;
		}
		h.run = (uint8_t)run;
		r->h = h;
		memset(&h, 0, sizeof h);
		return;
	}
	for (size_t i = 0; i < n;) {
		/* Inside a field only NUL, line ends, quotes and commas change the CSV
		 * and line state: handle everything else (digit runs included) in a
		 * tight loop. */
		if (h.rec_open && h.line_open && (h.st == CSV_UNQUOTED || h.st == CSV_QUOTED)) {
			/* The run length lives in a register here; h.digs is only written. */
			unsigned run = h.run;
			for (; i < n; i++) {
				uint8_t b = c[i], k = special[b];
				if (k == 0) {
					if (run) {
						h.run = (uint8_t)run;
						run_end(r, &h);
						run = 0;
					}
				} else if (k == 1) {
					if (run == 0)
						h.run_col = h.col;
					if (run < 12)
						h.digs[run] = (char)b;
					if (run < 13)
						run++;
				} else {
					break;
				}
			}
			h.run = (uint8_t)run;
			if (i == n)
				break;
		}
		content_byte(r, &h, c[i++]);
	}
	r->h = h;
	memset(&h, 0, sizeof h);
}

static void ref_feed(struct ref_scan *r, const void *p, size_t n)
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
		feed_content(r, BOM, r->bom_len);
	}
	feed_content(r, c + i, n - i);
}

static int ref_finish(struct ref_scan *r, struct records_result *out, struct kinko_err *e)
{
	struct records_tally t;

	if (!r || r->finished)
		return kinko_err_set(e, KINKO_EINVAL, "record count already finished");
	if (!r->bom_done) {
		r->bom_done = true;
		feed_content(r, BOM, r->bom_len);
	}
	if (r->h.run)
		run_end(r, &r->h);
	/* A final record without a line end counts (even one with an unclosed quote). */
	record_end(&r->h);
	if (r->h.line_open)
		r->h.lines++;
	r->finished = true;
	/* The decision from what was gathered is shared with the scanner. */
	t = (struct records_tally){
		.opts = &r->o,
		.bytes = r->bytes,
		.has_bom = r->has_bom,
		.high = r->h.high,
		.u8_bad = r->h.u8_bad || r->h.u8_need,
		.sj_bad = r->h.sj_bad || r->h.sj_trail,
		.nul = r->h.nul,
		.first_comma = r->h.first_comma,
		.csv_records = r->h.csv_records,
		.lines = r->h.lines,
		.mn_total = r->mn_total,
		.mn_col = r->mn_col,
		.head = r->head,
		.head_len = r->head_len,
	};
	records_decide(&t, out);
	return 0;
}

