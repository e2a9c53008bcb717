/*
 * tmpfile — write a file under a temporary name beside its target and give it its
 * name in one step (rename), so that nobody ever finds a half-written file under
 * that name, and a failure leaves nothing behind.
 *
 *     struct kinko_tmpfile t;
 *     if (kinko_tmpfile_open(&t, path, 0600, e)) return ...;
 *     ... write to t.fd ...
 *     if (failed) { kinko_tmpfile_discard(&t); return ...; }
 *     return kinko_tmpfile_commit(&t, KINKO_TMPFILE_DURABLE, e);
 *
 * The temporary file is created with mkostemp ("PATH.tmp-XXXXXX", O_EXCL, mode
 * 0600 from the first moment, so a key is never readable by others even briefly;
 * never through a symbolic link), then given the mode asked for.
 */
#ifndef KINKO_CORE_TMPFILE_H
#define KINKO_CORE_TMPFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

enum {
	/* Replace a file already at the path. Without it the commit refuses
	 * (KINKO_EEXIST) and the existing file is kept. */
	KINKO_TMPFILE_REPLACE = 1u << 0,
	/* fsync the file before it takes its name and the directory after, so the
	 * file and its name survive a crash once commit returns. */
	KINKO_TMPFILE_DURABLE = 1u << 1,
};

struct kinko_tmpfile {
	int fd;     /* write here; -1 once committed or discarded */
	char *tmp;  /* the temporary name */
	char *path; /* the name it will take */
};

int kinko_tmpfile_open(struct kinko_tmpfile *t, const char *path, mode_t mode,
		       struct kinko_err *e) KINKO_WUR;

/* Closes the file and gives it its name (see the flags). On failure the
 * temporary file is removed. Either way t is finished. */
int kinko_tmpfile_commit(struct kinko_tmpfile *t, unsigned flags, struct kinko_err *e) KINKO_WUR;

/* Removes the temporary file. Safe after a commit, and twice. */
void kinko_tmpfile_discard(struct kinko_tmpfile *t);

/* The whole cycle for a buffer. */
int kinko_file_write(const char *path, const void *p, size_t n, mode_t mode, unsigned flags,
		     struct kinko_err *e) KINKO_WUR;

/* Removes the temporary files of path that a killed process left (its name, ".tmp-"
 * and six characters). Only for a caller that knows no other writer of path is at
 * work, e.g. under a lock. */
void kinko_tmpfile_remove_stale(const char *path);

/* fsync of the directory holding path: its entries (a rename) reach the disk. */
int kinko_fsync_parent(const char *path);

#endif
