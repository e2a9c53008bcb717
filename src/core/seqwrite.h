/*
 * seqwrite — a sequential file writer for large, durable files (object blobs).
 *
 * The caller appends straight into staging buffers it borrows (seqwrite_reserve,
 * then seqwrite_advance), so sealed content is never copied on its way out. Full
 * staging buffers are written by two writer threads at their fixed offsets, with
 * O_DIRECT where the file system takes it: the content goes from the buffer to
 * the device without a copy into the page cache (on the project's machine that
 * copy cost a quarter of an upload's CPU time), and two writes in flight keep the
 * device busy while the caller seals the next buffer. The file is preallocated
 * ahead of the writes so direct writes do not extend it one at a time. Where
 * O_DIRECT is refused (tmpfs, some network file systems) the same buffers are
 * written through the page cache and their writeback is started at once.
 *
 * seqwrite_finish writes the tail, cuts the file to the bytes appended and makes
 * it durable (fdatasync); only then may anything refer to the file. Errors from a
 * writer thread surface at the next reserve or at finish. Memory is bounded:
 * SEQWRITE_NBUF buffers of the size given at open, whatever the file's size.
 *
 * One producer thread per writer; the writer threads are internal.
 */
#ifndef KINKO_CORE_SEQWRITE_H
#define KINKO_CORE_SEQWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SEQWRITE_NBUF 4u
#define SEQWRITE_ALIGN 4096u

struct seqwrite;

/* Takes over writing fd (opened for writing, positioned nowhere in particular:
 * seqwrite writes at explicit offsets from 0). buf_size is rounded up to
 * SEQWRITE_ALIGN; one reserve may ask for at most buf_size - SEQWRITE_ALIGN bytes.
 * direct: try O_DIRECT. The caller still owns and closes fd. */
int seqwrite_open(int fd, size_t buf_size, bool direct, struct seqwrite **out,
		  struct kinko_err *e) KINKO_WUR;

/* Room for n more bytes: returns where to put them, or NULL with *e set when a
 * write failed or n is too large. Nothing is appended until seqwrite_advance. */
uint8_t *seqwrite_reserve(struct seqwrite *w, size_t n, struct kinko_err *e);

/* Appends the n bytes just put at the reserved place (n <= what was reserved). */
void seqwrite_advance(struct seqwrite *w, size_t n);

/* Writes the rest, cuts the file to the appended size and fdatasyncs it. The
 * writer may only be freed afterwards. */
int seqwrite_finish(struct seqwrite *w, struct kinko_err *e) KINKO_WUR;

/* Bytes appended so far. */
uint64_t seqwrite_size(const struct seqwrite *w);

/* Whether content goes to the device directly (O_DIRECT took). */
bool seqwrite_is_direct(const struct seqwrite *w);

/* Stops the writer threads (waiting for writes in flight) and frees everything.
 * NULL is a no-op. Without a successful finish the file's content is undefined. */
void seqwrite_free(struct seqwrite *w);

#endif
