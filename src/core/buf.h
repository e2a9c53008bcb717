/*
 * buf — the one growable byte buffer, always with a maximum size.
 *
 * Appends check for size overflow and for the maximum; a failed append leaves the
 * buffer as it was. The data is always followed by a NUL byte that is not counted
 * in len, so text can be used as a C string. kbuf_free(NULL) is a no-op and
 * kbuf_free wipes the contents (buffers may have held secrets or plaintext).
 */
#ifndef KINKO_CORE_BUF_H
#define KINKO_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct kbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

void kbuf_init(struct kbuf *b, size_t max);
int kbuf_reserve(struct kbuf *b, size_t extra) KINKO_WUR;
int kbuf_append(struct kbuf *b, const void *p, size_t n) KINKO_WUR;
int kbuf_append_str(struct kbuf *b, const char *s) KINKO_WUR;
int kbuf_appendf(struct kbuf *b, const char *fmt, ...) KINKO_PRINTF(2, 3) KINKO_WUR;
void kbuf_reset(struct kbuf *b);
/* Gives the caller the NUL-terminated data (free with free()); leaves b empty. */
char *kbuf_detach(struct kbuf *b);
void kbuf_free(struct kbuf *b);
/* The contents as a C string; "" for an empty buffer. */
const char *kbuf_str(const struct kbuf *b);

#endif
