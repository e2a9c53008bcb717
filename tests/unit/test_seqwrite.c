/* seqwrite: content and size come out exactly as appended, through O_DIRECT on
 * a disk file system and through the page cache; write failures surface; misuse
 * is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/seqwrite.h"

/* Appends `total` bytes of a position-dependent pattern in reservations of
 * varying sizes (1 byte to most of a buffer), then finishes and checks the file. */
static void round_trip_in(const char *dir, size_t total, size_t buf, bool want_direct,
			  bool *was_direct)
{
	char path[256];
	struct seqwrite *w = NULL;
	struct kinko_err e;
	size_t done = 0, step = 1;
	int fd;

	snprintf(path, sizeof path, "%s/kinko-seqwrite-XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(seqwrite_open(fd, buf, want_direct, &w, &e), 0);
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
	*was_direct = seqwrite_is_direct(w);
	assert_int_equal(seqwrite_finish(w, &e), 0);
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

static void direct_on_disk(void **state)
{
	bool direct = false;
	(void)state;
	/* Several buffers' worth, the preallocation step crossed (64 MiB). */
	struct statfs fs;

	round_trip_in("/var/tmp", (size_t)70 << 20, 1 << 20, true, &direct);
	/* ext4 and xfs take O_DIRECT; other file systems fall back, which the content
	 * check above covers as well. */
	assert_int_equal(statfs("/var/tmp", &fs), 0);
	if (fs.f_type == 0xEF53 /* ext2/3/4 */ || fs.f_type == 0x58465342 /* xfs */)
		assert_true(direct);
	round_trip_in("/var/tmp", 0, 1 << 20, true, &direct);
	round_trip_in("/var/tmp", 1, 1 << 20, true, &direct);
	round_trip_in("/var/tmp", SEQWRITE_ALIGN, 16384, true, &direct);
	round_trip_in("/var/tmp", 3 * 16384 + 5, 16384, true, &direct);
}

static void buffered_fallback(void **state)
{
	bool direct = true;
	(void)state;
	/* Through the page cache, as where a file system refuses O_DIRECT. */
	round_trip_in("/var/tmp", (size_t)3 << 20, 65536, false, &direct);
	assert_false(direct);
	/* tmpfs refused O_DIRECT before Linux 6.6 and takes it since: either way the
	 * content must come out whole. */
	if (access("/dev/shm", W_OK) == 0)
		round_trip_in("/dev/shm", (size_t)5 << 20, 65536, true, &direct);
}

static void write_failure_surfaces(void **state)
{
	struct seqwrite *w = NULL;
	struct kinko_err e;
	int fd = open("/dev/null", O_RDONLY);
	uint8_t *p = NULL;
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(seqwrite_open(fd, 16384, false, &w, &e), 0);
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
	assert_int_equal(seqwrite_open(fd, 100, false, &w, &e), KINKO_EINVAL);
	assert_ptr_equal(w, (struct seqwrite *)0x1); /* untouched on failure */
	assert_int_equal(seqwrite_open(fd, 16384, false, &w, &e), 0);
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
		cmocka_unit_test(direct_on_disk),
		cmocka_unit_test(buffered_fallback),
		cmocka_unit_test(write_failure_surfaces),
		cmocka_unit_test(misuse_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
