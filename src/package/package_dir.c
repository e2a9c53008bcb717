/*
 * package_dir — a package_sink that extracts into a directory, all or nothing.
 *
 * Entries are created inside a fresh staging directory (".kinko-open-<random>")
 * in the target, with O_NOFOLLOW and O_EXCL everywhere, so nothing in the package
 * can write outside it. commit() renames the top-level names into the target with
 * RENAME_NOREPLACE (never replacing what is there) and undoes its own renames if
 * one fails; abort() deletes the staging directory and everything in it.
 */
#include "package/package_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fstree.h"
#include "core/parse.h"
#include "crypto/crypto.h"

struct package_dir_sink {
	int dirfd;
	int stagefd;
	char stage[64];
	int fd; /* the open entry, or -1 */
	uint8_t *wbuf; /* write combining, page-aligned: see ds_write */
	size_t wlen;
	int64_t mtime;
	char **tops; /* top-level names in creation order */
	size_t ntops, captops;
	int done;
};

static int ds_err(struct kinko_err *e, const char *what)
{
	return kinko_err_set(e, KINKO_EIO, "extracting the package: %s failed: %s", what,
			     strerror(errno));
}

static int add_top(struct package_dir_sink *ds, const char *name, size_t len)
{
	for (size_t i = 0; i < ds->ntops; i++)
		if (strlen(ds->tops[i]) == len && !memcmp(ds->tops[i], name, len))
			return 0;
	if (ds->ntops == ds->captops) {
		size_t nc = ds->captops ? ds->captops * 2 : 8;
		char **nt = realloc(ds->tops, nc * sizeof *nt);
		if (!nt)
			return KINKO_ENOMEM;
		ds->tops = nt;
		ds->captops = nc;
	}
	ds->tops[ds->ntops] = strndup(name, len);
	if (!ds->tops[ds->ntops])
		return KINKO_ENOMEM;
	ds->ntops++;
	return 0;
}

/* Content is gathered into whole WBUF blocks before it is written, so file
 * offsets and buffer addresses stay page-aligned: the kernel's copy into the page
 * cache between differently aligned addresses measured several times slower. */
#define WBUF (256 * 1024)

static int ds_write(void *ctx, const uint8_t *buf, size_t n, struct kinko_err *e)
{
	struct package_dir_sink *ds = ctx;

	if (ds->wlen == 0 && n >= WBUF && ((uintptr_t)buf & 4095) == 0) {
		/* Already aligned and large: write whole blocks straight through. */
		size_t whole = n / WBUF * WBUF;
		int rc = kinko_write_all(ds->fd, buf, whole, e);
		if (rc)
			return rc;
		buf += whole;
		n -= whole;
	}
	while (n > 0) {
		size_t take = WBUF - ds->wlen < n ? WBUF - ds->wlen : n;
		memcpy(ds->wbuf + ds->wlen, buf, take);
		ds->wlen += take;
		buf += take;
		n -= take;
		if (ds->wlen == WBUF) {
			int rc = kinko_write_all(ds->fd, ds->wbuf, WBUF, e);
			ds->wlen = 0;
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Opens (creating as needed) the directory for the parent of name; returns an fd. */
static int open_parent(struct package_dir_sink *ds, char *path, char **base,
		       struct kinko_err *e)
{
	int fd = dup(ds->stagefd);
	char *p = path, *slash;

	if (fd < 0)
		return ds_err(e, "dup");
	while ((slash = strchr(p, '/')) != NULL && slash[1] != '\0') {
		int nfd;
		*slash = '\0';
		if (mkdirat(fd, p, 0700) && errno != EEXIST) {
			close(fd);
			return ds_err(e, "creating a folder");
		}
		nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return ds_err(e, "opening a folder");
		fd = nfd;
		*slash = '/';
		p = slash + 1;
	}
	*base = p;
	return fd;
}

static int ds_begin(void *ctx, const char *name, int is_dir, int64_t mtime,
		    struct kinko_writer *w, struct kinko_err *e)
{
	struct package_dir_sink *ds = ctx;
	size_t len = strlen(name), tl;
	char *path, *base = NULL;
	int pfd, rc = 0;

	if (ds->fd >= 0)
		return kinko_err_set(e, KINKO_EINVAL, "an entry was not closed");
	tl = strcspn(name, "/");
	if (add_top(ds, name, tl))
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	path = strdup(name);
	if (!path)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	if (is_dir && len > 1)
		path[len - 1] = '\0';
	pfd = open_parent(ds, path, &base, e);
	if (pfd < 0) {
		free(path);
		return pfd;
	}
	if (is_dir) {
		if (mkdirat(pfd, base, 0700) && errno != EEXIST)
			rc = ds_err(e, "creating a folder");
	} else {
		ds->fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (ds->fd < 0)
			rc = errno == EEXIST
				     ? kinko_err_set(e, KINKO_EFORMAT,
						     "the package holds two entries with the same "
						     "name (or a file where a folder is); refused")
				     : ds_err(e, "creating a file");
		ds->mtime = mtime;
		w->write = ds_write;
		w->ctx = ds;
	}
	close(pfd);
	free(path);
	return rc;
}

static int ds_end(void *ctx, struct kinko_err *e)
{
	struct package_dir_sink *ds = ctx;
	int rc = 0;

	if (ds->fd < 0)
		return 0;
	if (ds->wlen) {
		rc = kinko_write_all(ds->fd, ds->wbuf, ds->wlen, e);
		ds->wlen = 0;
		if (rc) {
			close(ds->fd);
			ds->fd = -1;
			return rc;
		}
	}
	if (ds->mtime >= 0) {
		struct timespec ts[2] = {{ds->mtime, 0}, {ds->mtime, 0}};
		(void)futimens(ds->fd, ts);
	}
	if (close(ds->fd))
		rc = ds_err(e, "closing a file");
	ds->fd = -1;
	return rc;
}

static int ds_commit(void *ctx, struct kinko_err *e)
{
	struct package_dir_sink *ds = ctx;
	size_t i;
	int rc = 0;

	for (i = 0; i < ds->ntops; i++) {
		if (renameat2(ds->stagefd, ds->tops[i], ds->dirfd, ds->tops[i], RENAME_NOREPLACE)) {
			rc = errno == EEXIST
				     ? kinko_err_set(e, KINKO_EEXIST,
						     "the output folder already holds an entry of "
						     "the package; nothing was changed: choose an "
						     "empty folder")
				     : ds_err(e, "moving an entry into place");
			break;
		}
	}
	if (rc) {
		while (i-- > 0)
			(void)renameat2(ds->dirfd, ds->tops[i], ds->stagefd, ds->tops[i],
					RENAME_NOREPLACE);
		return rc;
	}
	ds->done = 1;
	(void)unlinkat(ds->dirfd, ds->stage, AT_REMOVEDIR);
	return 0;
}

static void ds_abort(void *ctx)
{
	struct package_dir_sink *ds = ctx;

	if (ds->fd >= 0) {
		close(ds->fd);
		ds->fd = -1;
	}
	ds->wlen = 0;
	if (!ds->done && ds->stage[0]) {
		kinko_remove_tree(ds->dirfd, ds->stage, false);
		ds->stage[0] = '\0';
	}
}

int package_dir_sink_new(const char *dir, struct package_dir_sink **out, struct package_sink *sink,
			 struct kinko_err *e)
{
	struct package_dir_sink *ds = calloc(1, sizeof *ds);
	int tries;

	if (!ds)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	ds->fd = -1;
	ds->stagefd = -1;
	ds->wbuf = aligned_alloc(4096, WBUF);
	if (!ds->wbuf) {
		free(ds);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	ds->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ds->dirfd < 0) {
		int rc = kinko_err_set(e, KINKO_EIO, "cannot open the output folder: %s",
				       strerror(errno));
		free(ds->wbuf);
		free(ds);
		return rc;
	}
	for (tries = 0; tries < 16; tries++) {
		uint8_t r[8];
		char hex[17];
		kinko_random(r, sizeof r);
		format_hex(r, sizeof r, hex);
		(void)snprintf(ds->stage, sizeof ds->stage, ".kinko-open-%s", hex);
		if (mkdirat(ds->dirfd, ds->stage, 0700) == 0)
			break;
		if (errno != EEXIST) {
			int rc = ds_err(e, "creating the staging folder");
			ds->stage[0] = '\0';
			package_dir_sink_free(ds);
			return rc;
		}
	}
	ds->stagefd = openat(ds->dirfd, ds->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tries == 16 || ds->stagefd < 0) {
		int rc = ds_err(e, "creating the staging folder");
		package_dir_sink_free(ds);
		return rc;
	}
	sink->begin = ds_begin;
	sink->end = ds_end;
	sink->commit = ds_commit;
	sink->abort = ds_abort;
	sink->ctx = ds;
	*out = ds;
	return 0;
}

void package_dir_sink_free(struct package_dir_sink *ds)
{
	if (!ds)
		return;
	ds_abort(ds);
	if (ds->stagefd >= 0)
		close(ds->stagefd);
	if (ds->dirfd >= 0)
		close(ds->dirfd);
	for (size_t i = 0; i < ds->ntops; i++)
		free(ds->tops[i]);
	free(ds->tops);
	if (ds->wbuf)
		kinko_wipe(ds->wbuf, WBUF);
	free(ds->wbuf);
	free(ds);
}
