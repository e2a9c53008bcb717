/* Fuzzes Range header parsing: the first 8 bytes pick the object size, the rest is
 * the header value. An applied range always lies inside the object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char h[512];
	uint64_t objsize = 0, start = 1, end = 0;
	int rc;

	if (size < 8 || size - 8 >= sizeof h)
		return 0;
	for (int i = 0; i < 8; i++)
		objsize = objsize << 8 | data[i];
	if (data[0] & 0x80)
		objsize &= 0xfffff; /* often small, so ranges hit the object */
	memcpy(h, data + 8, size - 8);
	h[size - 8] = '\0';
	rc = http_parse_range(h, objsize, &start, &end);
	if (rc == 1 && (start > end || end >= objsize))
		abort();
	if (rc != 1 && (start != 1 || end != 0))
		abort(); /* outputs untouched unless a range applies */
	if (rc != 0 && rc != 1 && rc != -1)
		abort();
	return 0;
}
