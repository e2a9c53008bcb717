#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void kbuf_init(struct kbuf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int kbuf_reserve(struct kbuf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *p;

	if (extra > SIZE_MAX - 1 - b->len)
		return KINKO_ELIMIT;
	need = b->len + extra;
	if (need > b->max)
		return KINKO_ELIMIT;
	if (need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need + 1) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need + 1;
			break;
		}
		ncap *= 2;
	}
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	/* Never realloc: the old block may hold secrets and must be wiped. */
	p = malloc(ncap);
	if (!p)
		return KINKO_ENOMEM;
	if (b->data) {
		memcpy(p, b->data, b->len);
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	b->data[b->len] = '\0';
	return 0;
}

int kbuf_append(struct kbuf *b, const void *p, size_t n)
{
	int rc = kbuf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int kbuf_append_str(struct kbuf *b, const char *s)
{
	return kbuf_append(b, s, strlen(s));
}

int kbuf_appendf(struct kbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KINKO_EINVAL;
	rc = kbuf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void kbuf_reset(struct kbuf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->len);
		b->data[0] = '\0';
	}
	b->len = 0;
}

char *kbuf_detach(struct kbuf *b)
{
	char *p;

	if (!b->data && kbuf_reserve(b, 0))
		return NULL;
	p = (char *)b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void kbuf_free(struct kbuf *b)
{
	if (!b || !b->data)
		return;
	sodium_memzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *kbuf_str(const struct kbuf *b)
{
	return b->data ? (const char *)b->data : "";
}
