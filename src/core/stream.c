#include "core/stream.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int kinko_fd_read(void *ctx, uint8_t *buf, size_t cap, size_t *got, struct kinko_err *e)
{
	int fd = *(int *)ctx;
	ssize_t n;

	do
		n = read(fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return kinko_err_set(e, KINKO_EIO, "read failed: %s", strerror(errno));
	*got = (size_t)n;
	return 0;
}

int kinko_write_all(int fd, const void *p, size_t n, struct kinko_err *e)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return kinko_err_set(e, KINKO_EIO, "write failed: %s", strerror(errno));
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int kinko_fd_write(void *ctx, const uint8_t *buf, size_t n, struct kinko_err *e)
{
	return kinko_write_all(*(int *)ctx, buf, n, e);
}

int kinko_read_full(const struct kinko_reader *r, uint8_t *buf, size_t cap, size_t *got,
		    struct kinko_err *e)
{
	size_t off = 0;

	while (off < cap) {
		size_t n = 0;
		int rc = r->read(r->ctx, buf + off, cap - off, &n, e);
		if (rc)
			return rc;
		if (n == 0)
			break;
		off += n;
	}
	*got = off;
	return 0;
}

int kinko_mem_read(void *ctx, uint8_t *buf, size_t cap, size_t *got, struct kinko_err *e)
{
	struct kinko_mem_reader *m = ctx;
	size_t n = m->len - m->off;

	(void)e;
	if (n > cap)
		n = cap;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	*got = n;
	return 0;
}
