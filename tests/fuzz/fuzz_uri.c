/* Fuzzes the HTTP edge's request-target parsing: path splitting with
 * percent-decoding, and query argument lookup. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/uri.h"

#define URI_MAX 4096
#define MAX_SEGS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char uri[URI_MAX + 1], buf[URI_MAX + 1], val[URI_MAX + 1];
	char *seg[MAX_SEGS];
	unsigned nseg = 0;
	struct kinko_err e;
	const char *q;
	size_t n, total = 0;
	int rc;

	if (size > URI_MAX)
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0'; /* as the server receives it: a C string */
	rc = uri_split_path(uri, "/api/v1/", buf, sizeof buf, seg, MAX_SEGS, &nseg, &e);
	if (nseg > MAX_SEGS)
		abort();
	for (unsigned i = 0; i < nseg; i++) {
		/* Segments live in buf, in order, without overlap. */
		if (seg[i] < buf || seg[i] >= buf + sizeof buf || (i > 0 && seg[i] <= seg[i - 1]))
			abort();
		total += strlen(seg[i]) + 1;
		if (rc == 0 && strlen(seg[i]) == 0)
			abort();
	}
	if (total > sizeof buf)
		abort();
	if (rc != 0 && rc != KINKO_ENOENT && rc != KINKO_EINVAL)
		abort();

	q = strchr(uri, '?');
	rc = uri_query_arg(q ? q + 1 : "", "name", val, sizeof val, &n);
	if (rc == 0) {
		if (strlen(val) != n || !uri_query_has(q + 1, "name"))
			abort();
	} else if (rc != KINKO_ENOENT && rc != KINKO_EINVAL && rc != KINKO_ELIMIT) {
		abort();
	}
	/* Decoding the whole string: the output never holds NUL and is never longer. */
	rc = uri_pct_decode(uri, strlen(uri), val, sizeof val, &n);
	if (rc == 0 && (n > strlen(uri) || memchr(val, '\0', n) != NULL))
		abort();
	return 0;
}
