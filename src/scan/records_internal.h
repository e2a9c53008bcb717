/*
 * What a record scan decides once it has seen everything: shared by the scanner
 * (records.c) and the fuzzer's byte-at-a-time reference scanner
 * (tests/fuzz/records_ref.c). The two differ only in how they gather the tally,
 * which is what the fuzzer compares; the decision is written once.
 */
#ifndef KINKO_SCAN_RECORDS_INTERNAL_H
#define KINKO_SCAN_RECORDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/records.h"

/* The first bytes are kept to read the header row at the end (its encoding is only
 * known then). A header longer than this is read as far as it was kept. */
#define RECORDS_HEAD_MAX (16 * 1024)
/* Per-column My Number counts are kept for this many columns. */
#define RECORDS_COLS 64

struct records_tally {
	const struct records_opts *opts;
	uint64_t bytes;
	bool has_bom;
	bool high;   /* a byte >= 0x80 was seen */
	bool u8_bad; /* not valid UTF-8 (a sequence cut off at the end included) */
	bool sj_bad; /* not valid CP932 (a lead without its trail at the end included) */
	bool nul;
	bool first_comma; /* the first record has a comma outside quotes */
	uint64_t csv_records, lines;
	uint64_t mn_total;
	const uint64_t *mn_col; /* RECORDS_COLS per-column My Number counts */
	const uint8_t *head;    /* the first bytes, for the header row */
	size_t head_len;
};

void records_decide(const struct records_tally *t, struct records_result *out);

#endif
