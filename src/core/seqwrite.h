/*
 * seqwrite — a sequential file writer for large, durable files (object blobs).
 *
 * The caller appends straight into staging buffers it borrows (seqwrite_reserve,
 * then seqwrite_advance), so sealed content is never copied on its way out. Full
 * staging buffers are written by two writer threads at their fixed offsets while
 * the caller fills the next one. The writers keep the file preallocated ahead of
 * the writes (4 to 192 MiB ahead, as much as has been written; none for a file
 * that fits one buffer; allocating can wait for the disk, so the caller never
 * does it).
 *
 * Making the file durable is spread over the whole write instead of left to the
 * end:
 *  - each written span's writeback starts at once (sync_file_range), so the
 *    device is kept busy with many large requests;
 *  - a writer waits for the writeback of what lies SEQWRITE_CACHE_BUFS buffers
 *    behind its span and drops it from the page cache, so a file being written
 *    holds about that much page cache (plus SEQWRITE_DROP_ALIGN), whatever its
 *    size, and none once it is finished;
 *  - a flusher thread fdatasyncs the file each time SEQWRITE_FLUSH_BUFS more
 *    buffers are written, so the device's own cache is emptied as the file is
 *    written and the final fdatasync has little left to do (with the blob's 2 MiB
 *    buffers: a flush every 34 MiB, and 0.01 s left for the final one where a
 *    135 MiB step left 0.1-0.15 s).
 * (O_DIRECT was used before and measured slower on the project's machine: direct
 * writes reached the device at 290-500 MB/s however many were in flight, and the
 * final fdatasync still waited 0.3-1.7 s for the device's cache; see
 * docs/performance.md.)
 *
 * seqwrite_finish writes the tail, cuts the file to the bytes appended and makes
 * it durable (fdatasync); only then may anything refer to the file. Errors from a
 * writer or a flush surface at the next reserve or at finish. Memory is bounded:
 * SEQWRITE_NBUF buffers of the size given at open, whatever the file's size.
 *
 * One producer thread per writer; the writer and flusher threads are internal.
 */
#ifndef KINKO_CORE_SEQWRITE_H
#define KINKO_CORE_SEQWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SEQWRITE_NBUF 4u
#define SEQWRITE_ALIGN 4096u
#define SEQWRITE_CACHE_BUFS 128u /* page cache a file may hold, in buffers */
#define SEQWRITE_FLUSH_BUFS 16u  /* written between two background flushes */
/* The page cache may hold a file in folios of up to 2 MiB, and the kernel drops
 * only folios wholly inside the range it is given: the ranges a writer retires
 * are cut at these boundaries, so that one ends where the next begins. */
#define SEQWRITE_DROP_ALIGN ((uint64_t)2 << 20)

struct seqwrite;

/* Takes over writing fd (opened for writing, positioned nowhere in particular:
 * seqwrite writes at explicit offsets from 0). buf_size is rounded up to
 * SEQWRITE_ALIGN; one reserve may ask for at most buf_size - SEQWRITE_ALIGN bytes.
 * The caller still owns and closes fd. */
int seqwrite_open(int fd, size_t buf_size, struct seqwrite **out, struct kinko_err *e) KINKO_WUR;

/* Room for n more bytes: returns where to put them, or NULL with *e set when a
 * write failed or n is too large. Nothing is appended until seqwrite_advance. */
uint8_t *seqwrite_reserve(struct seqwrite *w, size_t n, struct kinko_err *e);

/* Appends the n bytes just put at the reserved place (n <= what was reserved). */
void seqwrite_advance(struct seqwrite *w, size_t n);

/* Writes the rest, cuts the file to the appended size, fdatasyncs it and drops
 * it from the page cache. The writer may only be freed afterwards. */
int seqwrite_finish(struct seqwrite *w, struct kinko_err *e) KINKO_WUR;

/* Bytes appended so far. */
uint64_t seqwrite_size(const struct seqwrite *w);

/* Background flushes (fdatasync) completed so far. */
uint64_t seqwrite_flushes(const struct seqwrite *w);

/* Stops the writer threads (waiting for writes in flight) and frees everything.
 * NULL is a no-op. Without a successful finish the file's content is undefined. */
void seqwrite_free(struct seqwrite *w);

#endif
