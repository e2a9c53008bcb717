/*
 * stream — the byte-stream seam shared by every module that moves content
 * (vault objects, packages, the scanner, the HTTP edge).
 *
 * A reader fills up to cap bytes and reports how many it gave; *got == 0 with a
 * 0 return means end of stream. A writer consumes all n bytes or fails. Domain
 * code sees only these, never file descriptors or sockets, so the same code
 * serves the CLI (files) and the server (HTTP bodies).
 */
#ifndef KINKO_CORE_STREAM_H
#define KINKO_CORE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct kinko_reader {
	int (*read)(void *ctx, uint8_t *buf, size_t cap, size_t *got, struct kinko_err *e);
	void *ctx;
};

struct kinko_writer {
	int (*write)(void *ctx, const uint8_t *buf, size_t n, struct kinko_err *e);
	void *ctx;
};

/* Readers and writers over a file descriptor (ctx points to an int). */
int kinko_fd_read(void *ctx, uint8_t *buf, size_t cap, size_t *got, struct kinko_err *e);
int kinko_fd_write(void *ctx, const uint8_t *buf, size_t n, struct kinko_err *e);

/* Reads until cap bytes or end of stream; *got < cap only at the end. */
int kinko_read_full(const struct kinko_reader *r, uint8_t *buf, size_t cap, size_t *got,
		    struct kinko_err *e) KINKO_WUR;

/* A reader over a memory region; ctx is a struct kinko_mem_reader. */
struct kinko_mem_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
};
int kinko_mem_read(void *ctx, uint8_t *buf, size_t cap, size_t *got, struct kinko_err *e);

/* Writes everything to fd, retrying on EINTR and short writes. */
int kinko_write_all(int fd, const void *p, size_t n, struct kinko_err *e) KINKO_WUR;

#endif
