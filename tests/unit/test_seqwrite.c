/* seqwrite: content and size come out exactly as appended, on a disk file system
 * and on tmpfs; files longer than the page cache window are flushed as they are
 * written and leave no page cache behind; a file that fits a nearly full disk is
 * written even though the window allocated ahead of it does not fit; write
 * failures surface; misuse is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/seqwrite.h"

/* Appends `total` bytes of a position-dependent pattern in reservations of
 * varying sizes (1 byte to most of a buffer), then finishes and checks the file. */
static void round_trip_in(const char *dir, size_t total, size_t buf, uint64_t *flushes)
{
	char path[256];
	struct seqwrite *w = NULL;
	struct kinko_err e;
	size_t done = 0, step = 1;
	int fd;

	snprintf(path, sizeof path, "%s/kinko-seqwrite-XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(seqwrite_open(fd, buf, &w, &e), 0);
	while (done < total) {
		size_t n = step;
		uint8_t *p;
		if (n > total - done)
			n = total - done;
		p = seqwrite_reserve(w, n, &e);
		assert_non_null(p);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)((done + i) * 2654435761u >> 13);
		seqwrite_advance(w, n);
		done += n;
		assert_int_equal(seqwrite_size(w), done);
		/* 1, 7, 49, ... bytes: odd sizes so the tail carried between buffers
		 * takes every length. */
		step = step * 7 % (buf - SEQWRITE_ALIGN) + 1;
	}
	assert_int_equal(seqwrite_finish(w, &e), 0);
	*flushes = seqwrite_flushes(w);
	assert_int_equal(seqwrite_size(w), total);
	/* No appends after finish, and finish only once. */
	assert_null(seqwrite_reserve(w, 1, &e));
	assert_int_equal(seqwrite_finish(w, &e), KINKO_EINVAL);
	seqwrite_free(w);

	{
		struct stat st;
		uint8_t *back = malloc(total + 1);
		FILE *f;
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal((size_t)st.st_size, total);
		assert_non_null(back);
		f = fopen(path, "rb");
		assert_non_null(f);
		assert_int_equal(fread(back, 1, total + 1, f), total);
		fclose(f);
		for (size_t i = 0; i < total; i++)
			if (back[i] != (uint8_t)(i * 2654435761u >> 13))
				fail_msg("byte %zu differs", i);
		free(back);
	}
	close(fd);
	unlink(path);
}

/* Pages of the file open at fd in the page cache. */
static size_t resident_pages(int fd)
{
	struct stat st;
	size_t pages, n = 0;
	unsigned char *vec;
	void *m;

	assert_int_equal(fstat(fd, &st), 0);
	if (st.st_size == 0)
		return 0;
	pages = ((size_t)st.st_size + 4095) / 4096;
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	vec = malloc(pages);
	assert_non_null(vec);
	assert_int_equal(mincore(m, (size_t)st.st_size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	munmap(m, (size_t)st.st_size);
	return n;
}

static void on_disk(void **state)
{
	uint64_t flushes = 0;
	size_t buf = 16384;
	(void)state;

	/* Several times the page cache window (SEQWRITE_CACHE_BUFS buffers) and the
	 * flush step, with the preallocation window growing to its 192 MiB cap. */
	round_trip_in("/var/tmp", (size_t)70 << 20, buf, &flushes);
	assert_true(flushes >= 2); /* 70 MiB over a 1 MiB step, however they coalesce */
	round_trip_in("/var/tmp", 0, 1 << 20, &flushes);
	round_trip_in("/var/tmp", 1, 1 << 20, &flushes);
	round_trip_in("/var/tmp", SEQWRITE_ALIGN, buf, &flushes);
	round_trip_in("/var/tmp", 3 * buf + 5, buf, &flushes);
	assert_int_equal(flushes, 0); /* shorter than one flush step */
}

static void leaves_no_page_cache(void **state)
{
	char path[] = "/var/tmp/kinko-seqwrite-cache-XXXXXX";
	struct seqwrite *w = NULL;
	struct kinko_err e;
	size_t total = (size_t)20 << 20, buf = 16384, done = 0;
	int fd = mkstemp(path);

	struct statfs fs;
	bool cached_fs;
	(void)state;

	assert_true(fd >= 0);
	unlink(path); /* nothing left behind, even when an assertion fails */
	/* tmpfs keeps its pages: they are the file. */
	assert_int_equal(statfs("/var/tmp", &fs), 0);
	cached_fs = fs.f_type != 0x01021994 /* tmpfs */;
	assert_int_equal(seqwrite_open(fd, buf, &w, &e), 0);
	while (done < total) {
		/* Uneven sizes, so the written spans (a buffer less the tail carried
		 * to the next) are uneven too. */
		size_t n = (done / 4096) % 2 ? 5003 : buf / 2;
		uint8_t *p;
		bool check = done < ((size_t)16 << 20) && done + n >= ((size_t)16 << 20);

		if (n > total - done)
			n = total - done;
		p = seqwrite_reserve(w, n, &e);
		assert_non_null(p);
		memset(p, 0xa5, n);
		seqwrite_advance(w, n);
		done += n;
		/* While it is written, a file holds about SEQWRITE_CACHE_BUFS buffers of
		 * page cache plus the granule being retired (4 MiB here), not all it has
		 * written (16 MiB). Now and then the kernel keeps one retired granule
		 * until the end: allow for one. */
		if (cached_fs && check)
			assert_true(resident_pages(fd) * 4096 <=
				    SEQWRITE_CACHE_BUFS * buf + 3 * SEQWRITE_DROP_ALIGN);
	}
	assert_int_equal(seqwrite_finish(w, &e), 0);
	seqwrite_free(w);
	/* Durable and clean, so dropped: a blob pushes nobody's pages out. */
	if (cached_fs)
		assert_true(resident_pages(fd) < 16);
	close(fd);
}

static void on_tmpfs(void **state)
{
	uint64_t flushes = 0;
	(void)state;
	/* tmpfs has no writeback to start or wait for: the content must still come
	 * out whole. */
	if (access("/dev/shm", W_OK) == 0)
		round_trip_in("/dev/shm", (size_t)5 << 20, 16384, &flushes);
}

/* An 8 MiB file system of its own (tmpfs, in a mount namespace of this process's
 * own, so it goes away with the process even when an assertion fails; skipped
 * where that is not allowed): a 7 MiB file is written, though the writers'
 * allocation window outgrows the disk on the way (the allocation is given up, not
 * the file); a 12 MiB file fails with a message that says the disk is full. */
static void nearly_full_disk(void **state)
{
	char dir[] = "/tmp/kinko-seqwrite-small-XXXXXX", path[64];
	struct seqwrite *w = NULL;
	struct kinko_err e = {0};
	uint64_t flushes = 0;
	uint8_t *p = NULL;
	int fd, rc = 0;
	(void)state;

	assert_non_null(mkdtemp(dir));
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=8m,mode=0700") != 0) {
		rmdir(dir);
		skip();
	}
	round_trip_in(dir, (size_t)7 << 20, (size_t)1 << 20, &flushes);

	snprintf(path, sizeof path, "%s/big", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(seqwrite_open(fd, (size_t)1 << 20, &w, &e), 0);
	for (int i = 0; i < 48; i++) { /* 48 x 256 KiB = 12 MiB */
		p = seqwrite_reserve(w, (size_t)256 << 10, &e);
		if (!p)
			break;
		memset(p, 7, (size_t)256 << 10);
		seqwrite_advance(w, (size_t)256 << 10);
	}
	if (p)
		rc = seqwrite_finish(w, &e);
	assert_true(!p || rc != 0);
	assert_non_null(strstr(e.msg, "the disk is full"));
	seqwrite_free(w);
	close(fd);
	unlink(path);
	assert_int_equal(umount(dir), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void write_failure_surfaces(void **state)
{
	struct seqwrite *w = NULL;
	struct kinko_err e;
	int fd = open("/dev/null", O_RDONLY);
	uint8_t *p = NULL;
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(seqwrite_open(fd, 16384, &w, &e), 0);
	/* Writes to a read-only descriptor fail in a writer thread; the error comes
	 * back at a later reserve or at finish, never silently. */
	for (int i = 0; i < 64; i++) {
		p = seqwrite_reserve(w, 8192, &e);
		if (!p)
			break;
		memset(p, 1, 8192);
		seqwrite_advance(w, 8192);
	}
	if (p)
		assert_int_not_equal(seqwrite_finish(w, &e), 0);
	assert_non_null(strstr(e.msg, "failed"));
	seqwrite_free(w);
	close(fd);
}

static void misuse_refused(void **state)
{
	struct seqwrite *w = (struct seqwrite *)0x1;
	struct kinko_err e;
	int fd = open("/dev/null", O_WRONLY);
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(seqwrite_open(fd, 100, &w, &e), KINKO_EINVAL);
	assert_ptr_equal(w, (struct seqwrite *)0x1); /* untouched on failure */
	assert_int_equal(seqwrite_open(fd, 16384, &w, &e), 0);
	/* A reservation must leave room for the carried tail. */
	assert_null(seqwrite_reserve(w, 16384, &e));
	assert_non_null(seqwrite_reserve(w, 16384 - SEQWRITE_ALIGN, &e));
	seqwrite_free(w);
	seqwrite_free(NULL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(on_disk),
		cmocka_unit_test(leaves_no_page_cache),
		cmocka_unit_test(on_tmpfs),
		cmocka_unit_test(nearly_full_disk),
		cmocka_unit_test(write_failure_surfaces),
		cmocka_unit_test(misuse_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
