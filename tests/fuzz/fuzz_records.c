/*
 * Fuzzes the record scanner: any bytes, fed whole and in splits chosen by the
 * input, must give the same result (chunk boundaries never matter), and the result
 * must be internally consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/records.h"

static void run(const uint8_t *d, size_t n, const struct records_opts *o, uint32_t seed,
		struct records_result *res)
{
	struct records_scan *r = NULL;
	size_t off = 0;

	if (records_new(o, &r, NULL))
		abort();
	while (off < n) {
		size_t k = n - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			k = (seed >> 16) % 17;
			if (k > n - off)
				k = n - off;
		}
		records_feed(r, d + off, k);
		off += k;
	}
	memset(res, 0, sizeof *res);
	if (records_finish(r, res, NULL))
		abort();
	records_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct records_opts o = {0};
	struct records_result a, b;
	uint32_t seed;

	if (size < 2)
		return 0;
	o.format = (enum records_format)(data[0] % 3);
	o.header = data[0] & 0x10;
	seed = (uint32_t)data[1] | 1u;
	data += 2;
	size -= 2;
	run(data, size, &o, 0, &a);
	run(data, size, &o, seed, &b);
	if (memcmp(&a, &b, sizeof a) != 0)
		abort();
	if (a.bytes != size || a.mynumber_count > size / 12 || a.records > size + 1)
		abort();
	if ((a.mynumber_count == 0) != (a.mynumber_confidence == RECORDS_MN_NONE))
		abort();
	if (a.format == RECORDS_FMT_BINARY && a.records != 0)
		abort();
	return 0;
}
