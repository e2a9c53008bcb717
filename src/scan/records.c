#include "scan/records.h"
#include "scan/records_internal.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RS_X86 1
#else
#define RS_X86 0
#endif

/*
 * How it works. The input is cut into blocks of 64 bytes; each block is classified
 * with SIMD compares into 64-bit masks (one bit per byte: quote, CR, LF, comma,
 * digit, high bit, ...) and everything else is bit arithmetic on those masks, with
 * a few bits of state carried from block to block (and from chunk to chunk: a
 * short tail is copied into a zero-padded block and only its len bits count).
 *   - UTF-8: every lead byte says which of the next 1-3 bytes must be continuation
 *     bytes; the file is valid when that "needed" mask equals the continuation
 *     mask, no C0/C1/F5-FF byte appears, and the rare leads with a narrower second
 *     byte (E0 ED F0 F4) are checked one by one.
 *   - CP932: a byte in the lead range starts a character unless the byte before it
 *     was a lead; in a run of lead-range bytes every other one is a lead, so the
 *     leads are the even or odd bits of each run, chosen by where the run starts
 *     (an add carries through each run that starts on an even bit). Each trail
 *     (the byte after a lead) and each single byte is then checked by masks.
 *   - CSV: quotes toggle "inside" (a prefix XOR of the quote mask) only when they
 *     open a field or stand inside a quoted field; a quote that would open a field
 *     anywhere else is literal (RFC 4180 leniency of the byte machine this replaced),
 *     so such quotes are dropped from the mask one at a time and the XOR redone --
 *     rare, and exact. Line ends outside quotes end records; commas outside quotes
 *     advance the column.
 *   - My Numbers: digit runs from the digit mask; only runs of exactly 12 digits
 *     (12 set bits with a clear bit on both sides) reach the check-digit test; runs
 *     touching a block edge are carried in (at most 12 digits of) state.
 * After a NUL only the encoding and the digit runs are followed; once neither
 * UTF-8 nor CP932 is possible, only the digit runs (from the digit mask alone).
 */


enum csv_state { CSV_START, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE_IN_QUOTED };

enum rs_isa { RS_PORTABLE, RS_SSE2, RS_AVX2 };

/* The carried state. records_feed works on a local copy so the compiler keeps it in
 * registers (stores through the struct would alias the input bytes). */
struct rs_state {
	bool nul, high, binary;
	/* UTF-8: needed continuation bits for the next block's first 3 bytes, and a
	 * lead (E0 ED F0 F4) ending the last block whose second byte is still due. */
	bool u8_bad;
	uint8_t u8_need, u8_first;
	/* CP932: the last byte was a lead; the next one is its trail. */
	bool sj_bad, sj_trail;

	/* CSV (RFC 4180). */
	uint8_t st;       /* enum csv_state after the last byte */
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
};

struct records_scan {
	struct records_opts o;
	bool finished;
	uint8_t isa;
	uint64_t bytes;

	/* BOM: matched prefix length while still deciding. */
	bool bom_done, has_bom;
	uint8_t bom_len;

	struct rs_state s;
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

/* records_mynumber_valid for 12 bytes known to be ASCII digits, unrolled (weights
 * 6 5 4 3 2 7 6 5 4 3 2 from the left; 47 is their sum). */
static inline bool mn_valid_digits(const uint8_t *d)
{
	unsigned sum = 6u * d[0] + 5u * d[1] + 4u * d[2] + 3u * d[3] + 2u * d[4] + 7u * d[5] +
		       6u * d[6] + 5u * d[7] + 4u * d[8] + 3u * d[9] + 2u * d[10] - 47u * '0';
	unsigned r = sum % 11;

	return (r <= 1 ? 0 : 11 - r) == (unsigned)(d[11] - '0');
}

static uint8_t pick_isa(void)
{
	const char *force = getenv("KINKO_RECORDS_ISA"); /* for tests: portable, sse2 */

	if (force && strcmp(force, "portable") == 0)
		return RS_PORTABLE;
#if RS_X86
	if (force && strcmp(force, "sse2") == 0)
		return RS_SSE2;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
	    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2"))
		return RS_AVX2;
	return RS_SSE2;
#else
	return RS_PORTABLE;
#endif
}

int records_new(const struct records_opts *opts, struct records_scan **out, struct kinko_err *e)
{
	struct records_scan *r = calloc(1, sizeof *r);

	if (!r)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory starting the record count");
	if (opts)
		r->o = *opts;
	r->isa = pick_isa();
	*out = r;
	return 0;
}

void records_free(struct records_scan *r)
{
	if (!r)
		return;
	/* The head and the current run may hold personal data. */
	explicit_bzero(r, sizeof *r);
	free(r);
}

static inline void mn_count(struct records_scan *r, struct rs_state *s, uint32_t col)
{
	s->mn_total++;
	if (col < RECORDS_COLS)
		r->mn_col[col]++;
	else
		s->mn_other++;
}

static void run_end(struct records_scan *r, struct rs_state *s)
{
	if (s->run == 12 && mn_valid_digits((const uint8_t *)s->digs))
		mn_count(r, s, s->run_col);
	s->run = 0;
}

/* ---- Block classification: 64 bytes -> bit masks ---- */

struct rs_masks {
	uint64_t hi, q, cr, lf, comma, dig, nul;
};
struct rs_u8masks {
	uint64_t cont, ge_c2, ge_e0, ge_f0, rare; /* rare: C0 C1 E0 ED F0-FF */
};
struct rs_sjmasks {
	uint64_t lead, bad_trail, bad_single;
};

/* Vector mask of the bytes in [lo, hi] (hi - lo < 127), on an unsigned byte vector. */
#define RS_IN(VS, u, lo, hi) ((VS)((u) + (uint8_t)(0x80 - (lo))) < (int8_t)(-128 + (hi) - (lo) + 1))

/* One classifier per instruction set, from one body: VU/VS are unsigned/signed byte
 * vectors of W bytes and MM turns a compare result into a W-bit mask. */
#define RS_CLASSIFIERS(NAME, ATTR, VU, VS, W, MM)                                                \
	ATTR static inline __attribute__((always_inline)) void NAME##_struct(const uint8_t *p,   \
									     struct rs_masks *m)   \
	{                                                                                        \
		memset(m, 0, sizeof *m);                                                         \
		_Pragma("GCC unroll 4") for (unsigned k = 0; k < 64 / (W); k++) {                \
			VU u;                                                                    \
			unsigned sh = k * (W);                                                   \
			memcpy(&u, p + sh, (W));                                                 \
			m->hi |= (uint64_t)(uint32_t)MM((VS)u) << sh;                            \
			m->q |= (uint64_t)(uint32_t)MM(u == '"') << sh;                          \
			m->cr |= (uint64_t)(uint32_t)MM(u == '\r') << sh;                        \
			m->lf |= (uint64_t)(uint32_t)MM(u == '\n') << sh;                        \
			m->comma |= (uint64_t)(uint32_t)MM(u == ',') << sh;                      \
			m->dig |= (uint64_t)(uint32_t)MM(RS_IN(VS, u, '0', '9')) << sh;          \
			m->nul |= (uint64_t)(uint32_t)MM(u == 0) << sh;                          \
		}                                                                                \
	}                                                                                        \
	ATTR static inline __attribute__((always_inline)) uint64_t NAME##_dig(const uint8_t *p)  \
	{                                                                                        \
		uint64_t d = 0;                                                                  \
		_Pragma("GCC unroll 4") for (unsigned k = 0; k < 64 / (W); k++) {                \
			VU u;                                                                    \
			memcpy(&u, p + k * (W), (W));                                            \
			d |= (uint64_t)(uint32_t)MM(RS_IN(VS, u, '0', '9')) << (k * (W));        \
		}                                                                                \
		return d;                                                                        \
	}                                                                                        \
	ATTR static inline __attribute__((always_inline)) void NAME##_u8(const uint8_t *p,       \
									 struct rs_u8masks *m)     \
	{                                                                                        \
		memset(m, 0, sizeof *m);                                                         \
		_Pragma("GCC unroll 4") for (unsigned k = 0; k < 64 / (W); k++) {                \
			VU u;                                                                    \
			VS s;                                                                    \
			unsigned sh = k * (W);                                                   \
			memcpy(&u, p + sh, (W));                                                 \
			s = (VS)u;                                                               \
			m->cont |= (uint64_t)(uint32_t)MM(s < -64) << sh;                        \
			m->ge_c2 |= (uint64_t)(uint32_t)MM(s > -63) << sh;                       \
			m->ge_e0 |= (uint64_t)(uint32_t)MM(s > -33) << sh;                       \
			m->ge_f0 |= (uint64_t)(uint32_t)MM(s > -17) << sh;                       \
			m->rare |= (uint64_t)(uint32_t)MM((VS)((u & 0xFE) == 0xC0) |             \
							  (VS)(u == 0xE0) | (VS)(u == 0xED))     \
				   << sh;                                                        \
		}                                                                                \
	}                                                                                        \
	ATTR static inline __attribute__((always_inline)) void NAME##_sj(const uint8_t *p,       \
									 struct rs_sjmasks *m)     \
	{                                                                                        \
		memset(m, 0, sizeof *m);                                                         \
		_Pragma("GCC unroll 4") for (unsigned k = 0; k < 64 / (W); k++) {                \
			VU u;                                                                    \
			VS hi3;                                                                  \
			unsigned sh = k * (W);                                                   \
			memcpy(&u, p + sh, (W));                                                 \
			hi3 = (VS)RS_IN(VS, u, 0xFD, 0xFF);                                      \
			m->lead |= (uint64_t)(uint32_t)MM((VS)RS_IN(VS, u, 0x81, 0x9F) |         \
							  (VS)RS_IN(VS, u, 0xE0, 0xFC))          \
				   << sh;                                                        \
			m->bad_trail |= (uint64_t)(uint32_t)MM((VS)RS_IN(VS, u, 0x00, 0x3F) |    \
							       (VS)(u == 0x7F) | hi3)            \
					<< sh;                                                   \
			m->bad_single |= (uint64_t)(uint32_t)MM((VS)(u == 0x80) |                \
								(VS)(u == 0xA0) | hi3)           \
					 << sh;                                                  \
		}                                                                                \
	}

typedef uint8_t rs_u8x16 __attribute__((vector_size(16)));
typedef int8_t rs_s8x16 __attribute__((vector_size(16)));

/* Portable: the same masks from a byte loop (non-x86 builds, and tests). */
#define RS_MM_PORTABLE(x) rs_mm16_portable((rs_s8x16)(x))
static inline uint32_t rs_mm16_portable(rs_s8x16 v)
{
	/* The top bit of each byte, gathered into the top byte by one multiply (every
	 * partial product lands on its own bit, so nothing carries). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	uint32_t m = 0;
	for (unsigned i = 0; i < 16; i++)
		m |= (uint32_t)(v[i] < 0) << i;
	return m;
#else
	const uint64_t hb = UINT64_C(0x8080808080808080), mul = UINT64_C(0x0002040810204081);
	uint64_t lo, hi;

	memcpy(&lo, &v, 8);
	memcpy(&hi, (const char *)&v + 8, 8);
	return (uint32_t)(((lo & hb) * mul) >> 56) | (uint32_t)(((hi & hb) * mul) >> 56) << 8;
#endif
}
RS_CLASSIFIERS(cls_portable, , rs_u8x16, rs_s8x16, 16, RS_MM_PORTABLE)

#if RS_X86
typedef uint8_t rs_u8x32 __attribute__((vector_size(32)));
typedef int8_t rs_s8x32 __attribute__((vector_size(32)));
#define RS_MM_SSE2(x) _mm_movemask_epi8((__m128i)(x))
#define RS_MM_AVX2(x) _mm256_movemask_epi8((__m256i)(x))
#define RS_AVX2_ATTR __attribute__((target("avx2,popcnt,bmi,bmi2")))
RS_CLASSIFIERS(cls_sse2, , rs_u8x16, rs_s8x16, 16, RS_MM_SSE2)
RS_CLASSIFIERS(cls_avx2, RS_AVX2_ATTR, rs_u8x32, rs_s8x32, 32, RS_MM_AVX2)
#endif

/* ---- Block logic on the masks (shared by every classifier) ---- */

#define EVEN_BITS UINT64_C(0x5555555555555555)
#define ODD_BITS UINT64_C(0xAAAAAAAAAAAAAAAA)

static inline uint64_t prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/* True when the second byte b of a sequence led by E0/ED/F0/F4 is out of range. */
static inline bool u8_second_bad(uint8_t lead, uint8_t b)
{
	switch (lead) {
	case 0xE0: return b < 0xA0;
	case 0xED: return b > 0x9F;
	case 0xF0: return b < 0x90;
	case 0xF4: return b > 0x8F;
	default: return false;
	}
}

static inline __attribute__((always_inline)) void
u8_block(struct rs_state *s, const uint8_t *p, unsigned len, uint64_t vm, const struct rs_u8masks *u,
	 uint64_t hi)
{
	uint64_t cont = u->cont & hi, c2 = u->ge_c2 & hi, e0 = u->ge_e0 & hi, f0 = u->ge_f0 & hi;
	unsigned __int128 need = ((unsigned __int128)c2 << 1) | ((unsigned __int128)e0 << 2) |
				 ((unsigned __int128)f0 << 3) | s->u8_need;
	bool bad = (((uint64_t)need & vm) ^ cont) != 0;

	s->u8_need = (uint8_t)(need >> len);
	if (s->u8_first) {
		bad |= u8_second_bad(s->u8_first, p[0]);
		s->u8_first = 0;
	}
	for (uint64_t x = (u->rare | f0) & hi; x && !bad; x &= x - 1) {
		unsigned i = (unsigned)__builtin_ctzll(x);
		uint8_t b = p[i];
		if (b == 0xC0 || b == 0xC1 || b >= 0xF5)
			bad = true;
		else if (i + 1 < len)
			bad = u8_second_bad(b, p[i + 1]);
		else
			s->u8_first = b;
	}
	if (bad)
		s->u8_bad = true;
}

static inline __attribute__((always_inline)) void sj_block(struct rs_state *s, unsigned last,
							   uint64_t vm, const struct rs_sjmasks *j)
{
	uint64_t cin = s->sj_trail;
	uint64_t lr = j->lead & ~cin; /* a trail at bit 0 is no lead */
	uint64_t starts = lr & ~(lr << 1);
	uint64_t even_runs = lr & ~(lr + (starts & EVEN_BITS));
	uint64_t leads = (even_runs & EVEN_BITS) | (lr & ~even_runs & ODD_BITS);
	uint64_t trail = (leads << 1) | cin;

	if (((trail & j->bad_trail) | (~trail & j->bad_single)) & vm)
		s->sj_bad = true;
	s->sj_trail = (leads >> last) & 1;
}

/* Column of byte i: commas outside quotes since the last record end before i. */
static inline uint32_t col_at(uint32_t col0, uint64_t at, uint64_t comma, unsigned i)
{
	uint64_t below = (UINT64_C(1) << i) - 1, atb = at & below;

	if (!atb)
		return col0 + (uint32_t)__builtin_popcountll(comma & below);
	return (uint32_t)__builtin_popcountll(comma & below &
					      ~((UINT64_C(2) << (63 - __builtin_clzll(atb))) - 1));
}

static inline __attribute__((always_inline)) void
digits_block(struct records_scan *r, struct rs_state *s, const uint8_t *p, unsigned len, uint64_t vm,
	     uint64_t d, uint32_t col0, uint64_t at, uint64_t comma)
{
	unsigned last = len - 1;

	if (s->run) {
		/* The run carried in from the last block. */
		/* d has no bits at or above len: n0 < 64 unless all 64 bytes are digits. */
		unsigned n0 = ~d ? (unsigned)__builtin_ctzll(~d) : 64;
		unsigned run = s->run;
		if (n0 >= len) {
			for (unsigned i = 0; run + i < 12 && i < len; i++)
				s->digs[run + i] = (char)p[i];
			s->run = (uint8_t)(run + len < 13 ? run + len : 13);
			return;
		}
		if (run + n0 == 12) {
			char dg[12];
			memcpy(dg, s->digs, run);
			memcpy(dg + run, p, n0);
			if (mn_valid_digits((const uint8_t *)dg))
				mn_count(r, s, s->run_col);
			explicit_bzero(dg, sizeof dg);
		}
		s->run = 0;
		d &= ~((UINT64_C(1) << n0) - 1);
	}
	if ((d >> last) & 1) {
		/* A run reaching the end of the block: carry it. */
		uint64_t nd = ~d & vm;
		unsigned st = nd ? 64 - (unsigned)__builtin_clzll(nd) : 0;
		unsigned n = len - st;
		memcpy(s->digs, p + st, n < 12 ? n : 12);
		s->run = (uint8_t)(n < 13 ? n : 13);
		s->run_col = col_at(col0, at, comma, st);
		d &= (UINT64_C(1) << st) - 1;
	}
	if (d) {
		uint64_t a = d & (d >> 1), b = a & (a >> 2), c = b & (b >> 4), r12 = c & (c >> 4);
		for (uint64_t x = r12 & ~(d << 1) & ~(d >> 12); x; x &= x - 1) {
			unsigned i = (unsigned)__builtin_ctzll(x);
			if (mn_valid_digits(p + i))
				mn_count(r, s, col_at(col0, at, comma, i));
		}
	}
}

static inline __attribute__((always_inline)) void
csv_block(struct rs_state *s, unsigned last, const struct rs_masks *m, uint64_t *at_out,
	  uint64_t *comma_out)
{
	uint64_t tq = m->q, sep = m->comma | m->cr | m->lf;
	uint64_t in0 = s->st == CSV_QUOTED ? ~UINT64_C(0) : 0;
	uint64_t ok0 = s->st == CSV_START || s->st == CSV_QUOTE_IN_QUOTED;
	uint64_t in = in0, at, comma, ends;

	if (tq) {
		for (;;) {
			uint64_t opening, ok, bad;
			in = prefix_xor(tq) ^ in0; /* inside after each byte */
			opening = tq & ~(in ^ tq);
			ok = (((sep & ~in) | tq) << 1) | ok0;
			bad = opening & ~ok;
			if (!bad)
				break;
			tq &= ~(bad & -bad); /* that quote is literal */
		}
	}
	at = (m->cr | m->lf) & ~in;
	comma = m->comma & ~in;
	ends = at & ~((at << 1) | !s->rec_open);
	s->csv_records += (uint64_t)__builtin_popcountll(ends);
	if (!s->first_done) {
		if (ends) {
			s->first_comma |= (comma & ((UINT64_C(1) << __builtin_ctzll(ends)) - 1)) != 0;
			s->first_done = true;
		} else {
			s->first_comma |= comma != 0;
		}
	}
	s->rec_open = !((at >> last) & 1);
	if (at)
		s->col = (uint32_t)__builtin_popcountll(
			comma & ~((UINT64_C(2) << (63 - __builtin_clzll(at))) - 1));
	else
		s->col += (uint32_t)__builtin_popcountll(comma);
	if ((in >> last) & 1)
		s->st = CSV_QUOTED;
	else if ((tq >> last) & 1)
		s->st = CSV_QUOTE_IN_QUOTED;
	else if ((sep >> last) & 1)
		s->st = CSV_START;
	else
		s->st = CSV_UNQUOTED;
	*at_out = at;
	*comma_out = comma;
}

static inline __attribute__((always_inline)) void lines_block(struct rs_state *s, unsigned last,
							      const struct rs_masks *m)
{
	uint64_t ends = m->cr | (m->lf & ~((m->cr << 1) | s->tcr));

	s->lines += (uint64_t)__builtin_popcountll(ends);
	s->tcr = (m->cr >> last) & 1;
	s->line_open = !(((m->cr | m->lf) >> last) & 1);
}

/* Scans c[0..n) block by block until neither UTF-8 nor CP932 is possible (a NUL
 * makes the file binary too, but the encoding is still reported); returns the
 * bytes done. */
#define RS_TEXT_FN(NAME, ATTR, CLS)                                                              \
	ATTR static inline __attribute__((always_inline)) void NAME##_block(                     \
		struct records_scan *r, struct rs_state *s, const uint8_t *p, unsigned len)      \
	{                                                                                        \
		unsigned last = len - 1;                                                         \
		uint64_t vm = len == 64 ? ~UINT64_C(0) : (UINT64_C(1) << len) - 1;               \
		uint64_t at = 0, comma = 0;                                                      \
		uint32_t col0 = s->col;                                                          \
		struct rs_masks m;                                                               \
		CLS##_struct(p, &m);                                                             \
		m.nul &= vm;                                                                     \
		if (m.hi)                                                                        \
			s->high = true;                                                          \
		if (!s->u8_bad && (m.hi | s->u8_need)) {                                         \
			struct rs_u8masks u;                                                     \
			CLS##_u8(p, &u);                                                         \
			u8_block(s, p, len, vm, &u, m.hi);                                       \
		}                                                                                \
		if (!s->sj_bad && (m.hi | s->sj_trail)) {                                        \
			struct rs_sjmasks j;                                                     \
			CLS##_sj(p, &j);                                                         \
			sj_block(s, last, vm, &j);                                               \
		}                                                                                \
		if (m.nul)                                                                       \
			s->nul = true;                                                           \
		if (s->nul || (s->u8_bad && s->sj_bad)) {                                        \
			s->binary = true; /* the column is frozen from here */                   \
		} else {                                                                         \
			csv_block(s, last, &m, &at, &comma);                                     \
			lines_block(s, last, &m);                                                \
		}                                                                                \
		if (m.dig | s->run)                                                              \
			digits_block(r, s, p, len, vm, m.dig, col0, at, comma);                  \
	}                                                                                        \
	ATTR static size_t NAME(struct records_scan *r, struct rs_state *s, const uint8_t *c,    \
				size_t n)                                                        \
	{                                                                                        \
		size_t i = 0;                                                                    \
		for (; i + 64 <= n && !(s->u8_bad && s->sj_bad); i += 64)                        \
			NAME##_block(r, s, c + i, 64);                                           \
		if (i < n && !(s->u8_bad && s->sj_bad)) {                                        \
			/* The tail, zero-padded: only its len bits count. */                    \
			uint8_t tmp[64] = {0};                                                   \
			memcpy(tmp, c + i, n - i);                                               \
			NAME##_block(r, s, tmp, (unsigned)(n - i));                              \
			explicit_bzero(tmp, sizeof tmp);                                         \
			i = n;                                                                   \
		}                                                                                \
		return i;                                                                        \
	}                                                                                        \
	/* Binary: only the digit runs (the column is frozen). */                                \
	ATTR static void NAME##_bin(struct records_scan *r, struct rs_state *s, const uint8_t *c, \
				    size_t n)                                                    \
	{                                                                                        \
		size_t i = 0;                                                                    \
		for (; i + 64 <= n; i += 64) {                                                   \
			uint64_t d = CLS##_dig(c + i);                                           \
			if (d | s->run)                                                          \
				digits_block(r, s, c + i, 64, ~UINT64_C(0), d, s->col, 0, 0);    \
		}                                                                                \
		if (i < n) {                                                                     \
			uint8_t tmp[64] = {0};                                                   \
			unsigned len = (unsigned)(n - i);                                        \
			memcpy(tmp, c + i, len);                                                 \
			digits_block(r, s, tmp, len, (UINT64_C(1) << len) - 1, CLS##_dig(tmp),  \
				     s->col, 0, 0);                                              \
			explicit_bzero(tmp, sizeof tmp);                                         \
		}                                                                                \
	}

RS_TEXT_FN(text_portable, , cls_portable)
#if RS_X86
RS_TEXT_FN(text_sse2, , cls_sse2)
RS_TEXT_FN(text_avx2, RS_AVX2_ATTR, cls_avx2)
#endif

static void feed_content(struct records_scan *r, const uint8_t *c, size_t n)
{
	struct rs_state s = r->s;
	size_t i = 0;

	if (r->head_len < RECORDS_HEAD_MAX) {
		size_t k = RECORDS_HEAD_MAX - r->head_len;
		if (k > n)
			k = n;
		memcpy(r->head + r->head_len, c, k);
		r->head_len += k;
	}
	switch (r->isa) {
#if RS_X86
	case RS_AVX2:
		i = text_avx2(r, &s, c, n);
		if (i < n)
			text_avx2_bin(r, &s, c + i, n - i);
		break;
	case RS_SSE2:
		i = text_sse2(r, &s, c, n);
		if (i < n)
			text_sse2_bin(r, &s, c + i, n - i);
		break;
#endif
	default:
		i = text_portable(r, &s, c, n);
		if (i < n)
			text_portable_bin(r, &s, c + i, n - i);
		break;
	}
	r->s = s;
	explicit_bzero(&s, sizeof s);
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
		feed_content(r, BOM, r->bom_len);
	}
	if (i < n)
		feed_content(r, c + i, n - i);
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
static int header_column(const uint8_t *head, size_t head_len, bool csv, bool cp932)
{
	const uint8_t *h = head, *end = head + head_len;
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

void records_decide(const struct records_tally *t, struct records_result *out)
{
	struct records_result res;
	bool csv;
	int hc;

	memset(&res, 0, sizeof res);
	res.bytes = t->bytes;
	res.has_bom = t->has_bom;
	if (!t->high)
		res.encoding = RECORDS_ENC_ASCII;
	else if (!t->u8_bad)
		res.encoding = RECORDS_ENC_UTF8;
	else if (!t->sj_bad && !t->has_bom)
		res.encoding = RECORDS_ENC_CP932;
	else
		res.encoding = RECORDS_ENC_UNKNOWN;
	if (t->has_bom && res.encoding == RECORDS_ENC_ASCII)
		res.encoding = RECORDS_ENC_UTF8;

	res.mynumber_column = -1;
	res.mynumber_header_column = -1;
	if (t->nul || res.encoding == RECORDS_ENC_UNKNOWN) {
		/* Binary: no records, but a 12-digit run is still reported. */
		res.format = RECORDS_FMT_BINARY;
		csv = false;
	} else {
		if (t->opts->format == RECORDS_FMT_CSV || t->opts->format == RECORDS_FMT_TEXT)
			res.format = t->opts->format;
		else
			res.format = t->first_comma ? RECORDS_FMT_CSV : RECORDS_FMT_TEXT;
		csv = res.format == RECORDS_FMT_CSV;
		res.records = csv ? t->csv_records : t->lines;
		if (t->opts->header && res.records > 0)
			res.records--;
	}

	res.mynumber_count = t->mn_total;
	hc = res.format == RECORDS_FMT_BINARY
		     ? -1
		     : header_column(t->head, t->head_len, csv, res.encoding == RECORDS_ENC_CP932);
	res.mynumber_header_column = hc;
	if (t->mn_total) {
		int only = -1;
		for (int i = 0; i < RECORDS_COLS; i++)
			if (t->mn_col[i] == t->mn_total)
				only = i;
		if (csv)
			res.mynumber_column = only;
		res.mynumber_confidence = RECORDS_MN_LOW;
		if (hc >= 0 && (!csv || (hc < RECORDS_COLS && t->mn_col[hc] > 0)))
			res.mynumber_confidence = RECORDS_MN_HIGH;
		if (csv && hc >= 0 && hc < RECORDS_COLS && t->mn_col[hc] > 0 && only < 0)
			res.mynumber_column = hc;
	}
	*out = res;
}

int records_finish(struct records_scan *r, struct records_result *out, struct kinko_err *e)
{
	struct records_tally t;

	if (!r || r->finished)
		return kinko_err_set(e, KINKO_EINVAL, "record count already finished");
	if (!r->bom_done) {
		r->bom_done = true;
		feed_content(r, BOM, r->bom_len);
	}
	if (r->s.run)
		run_end(r, &r->s);
	/* A final record without a line end counts (even one with an unclosed quote). */
	if (r->s.rec_open)
		r->s.csv_records++;
	if (r->s.line_open)
		r->s.lines++;
	r->finished = true;
	t = (struct records_tally){
		.opts = &r->o,
		.bytes = r->bytes,
		.has_bom = r->has_bom,
		.high = r->s.high,
		.u8_bad = r->s.u8_bad || r->s.u8_need,
		.sj_bad = r->s.sj_bad || r->s.sj_trail,
		.nul = r->s.nul,
		.first_comma = r->s.first_comma,
		.csv_records = r->s.csv_records,
		.lines = r->s.lines,
		.mn_total = r->s.mn_total,
		.mn_col = r->mn_col,
		.head = r->head,
		.head_len = r->head_len,
	};
	records_decide(&t, out);
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
