/*
 * seqwrite — see seqwrite.h. Buffers move FREE -> FILLING (the producer's) ->
 * QUEUED -> WRITING -> FREE; one mutex guards the states and the error. A full
 * buffer is written only up to its last SEQWRITE_ALIGN boundary; the remaining
 * bytes are copied to the start of the next buffer (fewer than SEQWRITE_ALIGN), so
 * every write starts at a page boundary and no page is shared by two writers. The
 * last buffer is padded with zeros to the boundary and the file cut back
 * afterwards. `written` counts bytes the writers have finished; the flusher
 * fdatasyncs whenever it has grown by a flush step since the last flush.
 */
#include "core/seqwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NWRITERS 2u
/* The writers keep the file allocated ahead of the span being written: by as much
 * as has been written (so a small file never reserves much), at least PREALLOC_MIN
 * and at most PREALLOC_MAX; a new allocation starts once half of that is used up.
 * Allocating can wait for the disk (ext4 reads its block bitmaps: 190 ms seen
 * here), so a writer does it, never the producer. */
#define PREALLOC_MIN ((uint64_t)4 << 20)
#define PREALLOC_MAX ((uint64_t)192 << 20)

enum sbuf_state { SB_FREE = 0, SB_FILLING, SB_QUEUED, SB_WRITING };

struct sbuf {
	uint8_t *p;
	size_t len;   /* bytes in the buffer (to write, once queued) */
	uint64_t off; /* file offset of p[0] */
	enum sbuf_state st;
};

struct seqwrite {
	int fd;
	size_t cap;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sbuf b[SEQWRITE_NBUF];
	pthread_t th[NWRITERS + 1]; /* the writers, then the flusher */
	unsigned nthreads;
	bool stop;
	int err;
	struct kinko_err emsg;
	uint64_t cache_lag;  /* bytes of page cache a writer leaves behind it */
	uint64_t flush_step; /* bytes written between two background flushes */
	uint64_t written;    /* bytes the writers have finished */
	uint64_t flushed;    /* `written` as of the last background flush */
	uint64_t nflushes;
	bool sfr; /* sync_file_range works on fd (a regular file) */
	uint64_t allocated; /* file bytes preallocated so far */
	bool prealloc;      /* fallocate works here and the disk has room for it */
	bool allocating;    /* a writer is extending the allocation */
	bool last_queued;   /* seqwrite_finish queued the last buffer */
	/* Producer side (no lock needed: only the producer touches these). */
	struct sbuf *cur;
	bool finished;      /* seqwrite_finish ran: no more appends */
	uint64_t size;      /* bytes appended, once finished */
};

/* Called with the lock held. */
static void fail_locked(struct seqwrite *w, int rc, const char *what, int errnum)
{
	if (w->err)
		return;
	w->err = rc;
	if (errnum == ENOSPC)
		kinko_err_set(&w->emsg, rc, "the disk is full: %s failed; free space and retry",
			      what);
	else
		kinko_err_set(&w->emsg, rc, "%s failed: %s", what, strerror(errnum));
}

/* Writes one span, starts its writeback, and retires what lies cache_lag bytes
 * behind it (cut at SEQWRITE_DROP_ALIGN boundaries): waits until that is on the
 * device and drops it from the page cache. The wait is what holds a writer back
 * when the device is slower than the producer. */
static int write_span(struct seqwrite *w, const uint8_t *p, size_t n, uint64_t off, int *errnum)
{
	const size_t total = n;
	const uint64_t start = off;

	while (n > 0) {
		ssize_t r = pwrite(w->fd, p, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*errnum = errno;
			return KINKO_EIO;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	if (!w->sfr)
		return 0;
	if (sync_file_range(w->fd, (off_t)start, (off_t)total, SYNC_FILE_RANGE_WRITE) != 0) {
		*errnum = errno;
		return KINKO_EIO;
	}
	if (start + total > w->cache_lag) {
		uint64_t from = start >= w->cache_lag ? start - w->cache_lag : 0;
		uint64_t to = start + total - w->cache_lag;
		from -= from % SEQWRITE_DROP_ALIGN;
		to -= to % SEQWRITE_DROP_ALIGN;
		if (to > from) {
			/* This wait also collects the write-back errors of the range:
			 * any failure is a failed write. */
			if (sync_file_range(w->fd, (off_t)from, (off_t)(to - from),
					    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
						    SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
				*errnum = errno;
				return KINKO_EIO;
			}
			(void)posix_fadvise(w->fd, (off_t)from, (off_t)(to - from),
					    POSIX_FADV_DONTNEED);
		}
	}
	return 0;
}

/* Called with the lock held, by a writer about to write up to `end`: keeps the
 * file allocated ahead of it (mode 0 also moves the size), so writes fill
 * allocated space instead of extending the file one write at a time. One writer
 * allocates at a time, with the lock dropped (on ext4 the other writer's pwrite
 * waits for it too: the file system locks the inode for both; the producer goes
 * on filling buffers). The buffer seqwrite_finish queues allocates nothing: the
 * file ends there. Allocation only helps: where
 * fallocate is not supported, or the disk has no room for the window ahead (the
 * file itself may still fit), writes extend the file, and a disk that is really
 * full fails the write. */
static void prealloc_locked(struct seqwrite *w, uint64_t end)
{
	uint64_t ahead = end < PREALLOC_MIN ? PREALLOC_MIN : end > PREALLOC_MAX ? PREALLOC_MAX : end;
	uint64_t from = w->allocated;
	bool ok;

	if (!w->prealloc || w->allocating || w->last_queued || end + ahead / 2 <= from)
		return;
	w->allocating = true;
	pthread_mutex_unlock(&w->mu);
	ok = fallocate(w->fd, 0, (off_t)from, (off_t)(end + ahead - from)) == 0;
	pthread_mutex_lock(&w->mu);
	w->allocating = false;
	if (ok)
		w->allocated = end + ahead;
	else
		w->prealloc = false;
}

static void *writer_main(void *arg)
{
	struct seqwrite *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct sbuf *b = NULL;
		int rc, errnum = 0;

		for (unsigned i = 0; i < SEQWRITE_NBUF; i++)
			if (w->b[i].st == SB_QUEUED && (!b || w->b[i].off < b->off))
				b = &w->b[i];
		if (!b) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		if (w->err || w->stop) { /* nothing written after a failure */
			b->st = SB_FREE;
			pthread_cond_broadcast(&w->cv);
			continue;
		}
		b->st = SB_WRITING;
		prealloc_locked(w, b->off + b->len);
		if (w->err || w->stop) { /* it failed or stopped while the lock was dropped */
			b->st = SB_FREE;
			pthread_cond_broadcast(&w->cv);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		rc = write_span(w, b->p, b->len, b->off, &errnum);
		pthread_mutex_lock(&w->mu);
		if (rc)
			fail_locked(w, rc, "writing the file", errnum);
		w->written += b->len;
		b->st = SB_FREE;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Flushes the file each time flush_step more bytes are written, until stopped. */
static void *flusher_main(void *arg)
{
	struct seqwrite *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t mark;
		int rc, errnum;

		if (w->stop || w->err)
			break;
		if (w->written - w->flushed < w->flush_step) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		mark = w->written;
		pthread_mutex_unlock(&w->mu);
		rc = fdatasync(w->fd);
		errnum = errno;
		pthread_mutex_lock(&w->mu);
		if (rc != 0) {
			fail_locked(w, KINKO_EIO, "flushing the file", errnum);
			pthread_cond_broadcast(&w->cv);
			break;
		}
		w->flushed = mark;
		w->nflushes++;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Stops the threads: writers drop what is still queued, the flusher ends after
 * the flush it is in. */
static void stop_threads(struct seqwrite *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->th[i], NULL);
	w->nthreads = 0;
}

int seqwrite_open(int fd, size_t buf_size, struct seqwrite **out, struct kinko_err *e)
{
	struct seqwrite *w;
	size_t cap;

	if (buf_size < 2 * SEQWRITE_ALIGN || buf_size > ((size_t)1 << 30))
		return kinko_err_set(e, KINKO_EINVAL, "seqwrite: buffer size out of range");
	cap = (buf_size + SEQWRITE_ALIGN - 1) / SEQWRITE_ALIGN * SEQWRITE_ALIGN;
	w = calloc(1, sizeof *w);
	if (!w)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory for the write buffers");
	w->fd = fd;
	w->cap = cap;
	w->cache_lag = (uint64_t)cap * SEQWRITE_CACHE_BUFS;
	w->flush_step = (uint64_t)cap * SEQWRITE_FLUSH_BUFS;
	w->prealloc = true;
	/* Flags 0 only checks that fd takes sync_file_range (ESPIPE for a pipe or a
	 * socket, ENOSYS without it); after that every failure of it counts. */
	w->sfr = sync_file_range(fd, 0, 0, 0) == 0;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (unsigned i = 0; i < SEQWRITE_NBUF; i++) {
		void *p = NULL;
		if (posix_memalign(&p, SEQWRITE_ALIGN, cap) != 0) {
			seqwrite_free(w);
			return kinko_err_set(e, KINKO_ENOMEM, "out of memory for the write buffers");
		}
		w->b[i].p = p;
	}
	w->cur = &w->b[0];
	w->cur->st = SB_FILLING;
	for (unsigned i = 0; i <= NWRITERS; i++) {
		if (pthread_create(&w->th[i], NULL, i < NWRITERS ? writer_main : flusher_main, w) != 0) {
			seqwrite_free(w);
			return kinko_err_set(e, KINKO_ENOMEM, "cannot start a writer thread");
		}
		w->nthreads++;
	}
	*out = w;
	return 0;
}

static int queue_locked(struct seqwrite *w, struct sbuf *b, struct kinko_err *e)
{
	if (w->err) {
		b->st = SB_FREE;
		if (e)
			*e = w->emsg;
		return w->err;
	}
	b->st = SB_QUEUED;
	pthread_cond_broadcast(&w->cv);
	return 0;
}

uint8_t *seqwrite_reserve(struct seqwrite *w, size_t n, struct kinko_err *e)
{
	struct sbuf *cur = w->cur, *next = NULL;
	size_t aligned, tail;
	int rc;

	if (w->finished || n > w->cap - SEQWRITE_ALIGN) {
		kinko_err_set(e, KINKO_EINVAL,
			      "seqwrite: an append after finish or larger than a buffer");
		return NULL;
	}
	pthread_mutex_lock(&w->mu);
	if (w->err) {
		if (e)
			*e = w->emsg;
		pthread_mutex_unlock(&w->mu);
		return NULL;
	}
	if (cur->len + n <= w->cap) {
		pthread_mutex_unlock(&w->mu);
		return cur->p + cur->len;
	}
	/* Hand the aligned part of this buffer to the writers; its tail starts the
	 * next one. */
	for (;;) {
		for (unsigned i = 0; i < SEQWRITE_NBUF && !next; i++)
			if (w->b[i].st == SB_FREE)
				next = &w->b[i];
		if (next || w->err)
			break;
		pthread_cond_wait(&w->cv, &w->mu);
	}
	if (w->err) {
		if (e)
			*e = w->emsg;
		pthread_mutex_unlock(&w->mu);
		return NULL;
	}
	next->st = SB_FILLING;
	pthread_mutex_unlock(&w->mu);

	aligned = cur->len / SEQWRITE_ALIGN * SEQWRITE_ALIGN;
	tail = cur->len - aligned;
	memcpy(next->p, cur->p + aligned, tail);
	next->off = cur->off + aligned;
	next->len = tail;
	cur->len = aligned;
	pthread_mutex_lock(&w->mu);
	rc = queue_locked(w, cur, e);
	w->cur = next;
	pthread_mutex_unlock(&w->mu);
	if (rc)
		return NULL;
	return next->p + next->len;
}

void seqwrite_advance(struct seqwrite *w, size_t n)
{
	w->cur->len += n;
}

uint64_t seqwrite_size(const struct seqwrite *w)
{
	return w->finished ? w->size : w->cur->off + w->cur->len;
}

uint64_t seqwrite_flushes(const struct seqwrite *w)
{
	uint64_t n;

	pthread_mutex_lock((pthread_mutex_t *)&w->mu);
	n = w->nflushes;
	pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
	return n;
}

int seqwrite_finish(struct seqwrite *w, struct kinko_err *e)
{
	struct sbuf *cur = w->cur;
	uint64_t size = seqwrite_size(w);
	size_t padded = (cur->len + SEQWRITE_ALIGN - 1) / SEQWRITE_ALIGN * SEQWRITE_ALIGN;
	int rc = 0;

	if (w->finished)
		return kinko_err_set(e, KINKO_EINVAL, "seqwrite: finished twice");
	w->finished = true;
	w->size = size;
	memset(cur->p + cur->len, 0, padded - cur->len);
	cur->len = padded;
	pthread_mutex_lock(&w->mu);
	w->last_queued = true;
	if (padded)
		rc = queue_locked(w, cur, e);
	else
		cur->st = SB_FREE;
	for (;;) {
		bool busy = false;
		for (unsigned i = 0; i < SEQWRITE_NBUF; i++)
			busy |= w->b[i].st == SB_QUEUED || w->b[i].st == SB_WRITING;
		if (!busy)
			break;
		pthread_cond_wait(&w->cv, &w->mu);
	}
	if (w->err && !rc) {
		rc = w->err;
		if (e)
			*e = w->emsg;
	}
	pthread_mutex_unlock(&w->mu);
	stop_threads(w); /* after the flush in progress, if any */
	if (!rc && w->err) { /* that flush failed */
		rc = w->err;
		if (e)
			*e = w->emsg;
	}
	if (rc)
		return rc;
	if (ftruncate(w->fd, (off_t)size) != 0)
		return kinko_err_set(e, KINKO_EIO, "cannot set the file's size: %s",
				     strerror(errno));
	w->allocated = size;
	if (fdatasync(w->fd) != 0)
		return kinko_err_set(e, KINKO_EIO, "cannot flush the file: %s", strerror(errno));
	/* Durable and clean: nothing of it needs to stay in the page cache. */
	(void)posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
	return 0;
}

void seqwrite_free(struct seqwrite *w)
{
	if (!w)
		return;
	stop_threads(w);
	for (unsigned i = 0; i < SEQWRITE_NBUF; i++)
		free(w->b[i].p);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
