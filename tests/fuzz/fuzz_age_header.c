/* libFuzzer target: the age header parser on arbitrary bytes. A header that
 * parses must be internally consistent (sizes inside the input, "---" where the
 * MAC coverage ends). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "package/package.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct age_header h;
	struct kinko_err e;

	if (age_header_parse(data, size, &h, &e) == 0) {
		if (h.len > size || h.mac_covered + 45 != h.len || h.nst == 0 ||
		    memcmp(data + h.mac_covered - 3, "---", 3))
			abort();
		for (size_t i = 0; i < h.nst; i++)
			if (h.st[i].nargs == 0 || h.st[i].args[0][0] == '\0')
				abort();
		age_header_free(&h);
	} else if (e.msg[0] == '\0') {
		abort(); /* every refusal says why */
	}
	return 0;
}
