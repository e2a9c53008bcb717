/* Fuzzes the strict audit event decoder: whatever it accepts must encode back to
 * exactly the same bytes (one encoding per event). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_event ev;
	struct kinko_err e;
	struct kbuf b;

	if (audit_event_decode(data, size, &ev, &e) != 0)
		return 0;
	kbuf_init(&b, AUDIT_EVENT_MAX);
	if (audit_event_encode(&ev, &b, &e) != 0 || b.len != size || memcmp(b.data, data, size) != 0)
		abort();
	kbuf_free(&b);
	return 0;
}
