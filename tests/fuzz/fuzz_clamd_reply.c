/*
 * Fuzzes the parsers of clamd's replies (INSTREAM verdicts and VERSION). Whatever
 * arrives on the socket must either parse into a well-formed verdict or fail; a
 * failure must leave the output untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clamd_verdict v, before;
	struct clamd_info info, ibefore;
	struct kinko_err e;
	const char *s = (const char *)data;

	memset(&v, 0x5A, sizeof v);
	before = v;
	if (clamd_reply_parse(s, size, &v, &e) == 0) {
		size_t n = strnlen(v.signature, sizeof v.signature);
		if (n == sizeof v.signature)
			abort();
		if (v.result == CLAMD_INFECTED) {
			if (n == 0 || strchr(v.signature, ' '))
				abort();
			for (size_t i = 0; i < n; i++)
				if (v.signature[i] < 0x21 || v.signature[i] > 0x7e)
					abort();
		} else if (v.result != CLAMD_CLEAN || n != 0) {
			abort();
		}
	} else if (memcmp(&v, &before, sizeof v) != 0 || e.code >= 0) {
		abort();
	}

	memset(&info, 0x5A, sizeof info);
	ibefore = info;
	if (clamd_version_parse(s, size, &info, &e) == 0) {
		size_t n = strnlen(info.engine, sizeof info.engine);
		if (n == 0 || n == sizeof info.engine)
			abort();
		if ((info.sig_version == 0) != (info.sig_date == 0) && info.sig_version != 0)
			abort();
	} else if (memcmp(&info, &ibefore, sizeof info) != 0) {
		abort();
	}
	return 0;
}
