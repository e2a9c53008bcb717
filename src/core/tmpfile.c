#include "core/tmpfile.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/stream.h"

/* The temporary name: the target's, this suffix, and six characters that
 * mkostemp puts in place of the template's six X's (the template is complete). */
#define TMP_SUFFIX ".tmp-"
#define TMP_TEMPLATE TMP_SUFFIX "XXXXXX"

int kinko_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd, rc;

	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		n = (size_t)(slash - path);
		if (n == 0)
			n = 1; /* the root directory */
		if (n >= sizeof dir) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static void tmpfile_clear(struct kinko_tmpfile *t)
{
	free(t->tmp);
	free(t->path);
	t->tmp = t->path = NULL;
	t->fd = -1;
}

int kinko_tmpfile_open(struct kinko_tmpfile *t, const char *path, mode_t mode,
		       struct kinko_err *e)
{
	size_t n = strlen(path);

	t->fd = -1;
	t->tmp = malloc(n + sizeof TMP_TEMPLATE);
	t->path = strdup(path);
	if (!t->tmp || !t->path) {
		tmpfile_clear(t);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	memcpy(t->tmp, path, n);
	memcpy(t->tmp + n, TMP_TEMPLATE, sizeof TMP_TEMPLATE);
	t->fd = mkostemp(t->tmp, O_CLOEXEC);
	if (t->fd < 0) {
		int err = errno;
		tmpfile_clear(t);
		return kinko_err_set(e, KINKO_EIO, "cannot create a file next to %.300s: %s", path,
				     strerror(err));
	}
	if ((mode & 07777) != 0600 && fchmod(t->fd, mode & 07777) != 0) {
		int err = errno;
		kinko_tmpfile_discard(t);
		return kinko_err_set(e, KINKO_EIO, "cannot set the mode of %.300s: %s", path,
				     strerror(err));
	}
	return 0;
}

/* Gives the closed temporary file its name without ever replacing a file there:
 * renameat2(RENAME_NOREPLACE), or link + unlink where the file system lacks it. */
static int name_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(tmp, path) != 0)
		return -1;
	(void)unlink(tmp);
	return 0;
}

int kinko_tmpfile_commit(struct kinko_tmpfile *t, unsigned flags, struct kinko_err *e)
{
	bool replace = flags & KINKO_TMPFILE_REPLACE;
	int rc;

	if (!t->tmp || t->fd < 0) {
		kinko_tmpfile_discard(t);
		return kinko_err_set(e, KINKO_EINVAL, "tmpfile: nothing to commit");
	}
	if ((flags & KINKO_TMPFILE_DURABLE) && fsync(t->fd) != 0) {
		rc = kinko_err_set(e, KINKO_EIO, "cannot flush %.300s: %s", t->path,
				   strerror(errno));
		kinko_tmpfile_discard(t);
		return rc;
	}
	rc = close(t->fd);
	t->fd = -1;
	if (rc != 0) {
		rc = kinko_err_set(e, KINKO_EIO, "writing %.300s failed: %s", t->path,
				   strerror(errno));
		kinko_tmpfile_discard(t);
		return rc;
	}
	if ((replace ? rename(t->tmp, t->path) : name_noreplace(t->tmp, t->path)) != 0) {
		if (errno == EEXIST)
			rc = kinko_err_set(e, KINKO_EEXIST,
					   "%.300s already exists: refusing to overwrite it", t->path);
		else
			rc = kinko_err_set(e, KINKO_EIO, "cannot create %.300s: %s", t->path,
					   strerror(errno));
		kinko_tmpfile_discard(t);
		return rc;
	}
	if ((flags & KINKO_TMPFILE_DURABLE) && kinko_fsync_parent(t->path) != 0) {
		rc = kinko_err_set(e, KINKO_EIO, "cannot flush the directory of %.300s: %s", t->path,
				   strerror(errno));
		/* A new file whose name may not survive a crash is not kept; a replaced
		 * one is, since the old content is gone already. */
		if (!replace)
			(void)unlink(t->path);
		tmpfile_clear(t);
		return rc;
	}
	tmpfile_clear(t);
	return 0;
}

void kinko_tmpfile_discard(struct kinko_tmpfile *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->tmp)
		(void)unlink(t->tmp);
	tmpfile_clear(t);
}

int kinko_file_write(const char *path, const void *p, size_t n, mode_t mode, unsigned flags,
		     struct kinko_err *e)
{
	struct kinko_tmpfile t;
	int rc = kinko_tmpfile_open(&t, path, mode, e);

	if (rc)
		return rc;
	rc = kinko_write_all(t.fd, p, n, e);
	if (rc) {
		kinko_tmpfile_discard(&t);
		return rc;
	}
	return kinko_tmpfile_commit(&t, flags, e);
}

void kinko_tmpfile_remove_stale(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t blen = strlen(base), slen = sizeof TMP_SUFFIX - 1;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if ((size_t)(slash - path) >= sizeof dir)
		return;
	else
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strlen(de->d_name) == blen + slen + 6 && !strncmp(de->d_name, base, blen) &&
		    !strncmp(de->d_name + blen, TMP_SUFFIX, slen))
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}
