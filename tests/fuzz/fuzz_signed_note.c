/* Fuzzes the signed-note parser and verifier, the checkpoint body parser and the
 * verifier-key parser. Keys: Go's sumdb/note test keys, so seeds signed by
 * "PeterNeumann" reach the verified path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "audit/note.h"
#include "crypto/crypto.h"

static struct note_verifier keys[2];
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct note_opened o;
	struct checkpoint c;
	struct note_verifier v;
	struct kinko_err e;
	char s[256];

	if (!ready) {
		if (kinko_crypto_init() != 0 ||
		    note_verifier_parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
					&keys[0], &e) != 0 ||
		    note_verifier_parse("EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
					&keys[1], &e) != 0)
			abort();
		ready = 1;
	}
	if (note_open(data, size, keys, 2, &o, &e) == 0) {
		if (o.text_len >= size || o.verified == 0 || data[o.text_len - 1] != '\n')
			abort();
		(void)checkpoint_parse(data, o.text_len, &c, &e);
	}
	if (checkpoint_parse(data, size, &c, &e) == 0) {
		struct kbuf b;

		/* Whatever parses formats back to the same bytes. */
		kbuf_init(&b, 4096);
		if (checkpoint_format(&c, &b, &e) != 0 || b.len != size || memcmp(b.data, data, size))
			abort();
		kbuf_free(&b);
	}
	if (size < sizeof s) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)note_verifier_parse(s, &v, &e);
	}
	return 0;
}
