/*
 * Fuzzes the record scanner against the reference byte-at-a-time scanner
 * (records_ref.c, the implementation before the block rewrite): any bytes, fed
 * whole and in splits chosen by the input (single bytes, small odd sizes, sizes
 * around the 64-byte block, large), through each instruction-set path, must give
 * the reference's result in every field; the result must also be internally
 * consistent.
 *
 * Input: byte 0 = options (format, header), byte 1 = split seed, byte 2 = path
 * (portable / SSE2 / AVX2 where the CPU has it), the rest = the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/records.h"

#include "records_ref.c"

static size_t next_len(uint32_t *seed, unsigned mode, size_t left)
{
	static const size_t edge[] = {1, 2, 3, 11, 12, 13, 31, 32, 33, 63, 64, 65, 127, 128, 129, 4095, 4097};
	size_t k;

	*seed = *seed * 1103515245u + 12345u;
	switch (mode) {
	case 0: k = 1; break;
	case 1: k = 1 + (*seed >> 16) % 17; break;
	case 2: k = edge[(*seed >> 16) % (sizeof edge / sizeof edge[0])]; break;
	default: k = (*seed >> 8) % 5000; break; /* 0 (an empty feed) to large */
	}
	return k < left ? k : left;
}

static void run_new(const uint8_t *d, size_t n, const struct records_opts *o, unsigned mode,
		    uint32_t seed, struct records_result *res)
{
	struct records_scan *r = NULL;
	size_t off = 0;

	if (records_new(o, &r, NULL))
		abort();
	if (mode == 4) {
		records_feed(r, d, n);
	} else {
		while (off < n) {
			size_t k = next_len(&seed, mode, n - off);
			records_feed(r, d + off, k);
			off += k;
		}
	}
	memset(res, 0, sizeof *res);
	if (records_finish(r, res, NULL))
		abort();
	records_free(r);
}

static void run_ref(const uint8_t *d, size_t n, const struct records_opts *o, struct records_result *res)
{
	struct ref_scan *r = NULL;

	if (ref_new(o, &r, NULL))
		abort();
	ref_feed(r, d, n);
	memset(res, 0, sizeof *res);
	if (ref_finish(r, res, NULL))
		abort();
	ref_free(r);
}

static void same(const struct records_result *a, const struct records_result *b, const char *how)
{
	if (a->encoding != b->encoding || a->has_bom != b->has_bom || a->format != b->format ||
	    a->bytes != b->bytes || a->records != b->records ||
	    a->mynumber_count != b->mynumber_count ||
	    a->mynumber_confidence != b->mynumber_confidence ||
	    a->mynumber_column != b->mynumber_column ||
	    a->mynumber_header_column != b->mynumber_header_column) {
		fprintf(stderr,
			"records differs from the reference (%s): enc %d/%d bom %d/%d fmt %d/%d "
			"records %llu/%llu mn %llu/%llu conf %d/%d col %d/%d hcol %d/%d\n",
			how, a->encoding, b->encoding, a->has_bom, b->has_bom, a->format, b->format,
			(unsigned long long)a->records, (unsigned long long)b->records,
			(unsigned long long)a->mynumber_count, (unsigned long long)b->mynumber_count,
			a->mynumber_confidence, b->mynumber_confidence, a->mynumber_column,
			b->mynumber_column, a->mynumber_header_column, b->mynumber_header_column);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *isa[] = {"portable", "sse2", "native"};
	struct records_opts o = {0};
	struct records_result ref, a;
	uint32_t seed;

	if (size < 3)
		return 0;
	o.format = (enum records_format)(data[0] % 3);
	o.header = data[0] & 0x10;
	seed = (uint32_t)data[1] | 1u;
	setenv("KINKO_RECORDS_ISA", isa[data[2] % 3], 1);
	data += 3;
	size -= 3;

	run_ref(data, size, &o, &ref);
	for (unsigned mode = 0; mode <= 4; mode++) {
		char how[32];
		run_new(data, size, &o, mode, seed, &a);
		snprintf(how, sizeof how, "mode %u", mode);
		same(&a, &ref, how);
	}
	if (a.bytes != size || a.mynumber_count > size / 12 || a.records > size + 1)
		abort();
	if ((a.mynumber_count == 0) != (a.mynumber_confidence == RECORDS_MN_NONE))
		abort();
	if (a.format == RECORDS_FMT_BINARY && a.records != 0)
		abort();
	return 0;
}
