/* Fuzzes strict base64 decoding, padded and unpadded: whatever decodes must
 * encode back to exactly the input (one encoding per value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

static void check(const uint8_t *data, size_t size, bool pad)
{
	static uint8_t out[65536];
	static char enc[65536 / 3 * 4 + 8];
	size_t n = 0;

	if (kinko_base64_decode((const char *)data, size, pad, out, sizeof out, &n) != 0)
		return;
	if (n > size || kinko_base64_len(n, pad) != size)
		abort();
	if (kinko_base64_encode_opt(out, n, enc, sizeof enc, pad) != 0 || strlen(enc) != size ||
	    memcmp(enc, data, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	check(data, size, true);
	check(data, size, false);
	return 0;
}
