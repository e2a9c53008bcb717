/*
 * core/tmpfile: a file appears under its name complete or not at all; without
 * KINKO_TMPFILE_REPLACE an existing file is never replaced; failures and discards
 * leave nothing behind; the mode asked for is the file's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tmpfile.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kinko-tmpfile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];
	(void)state;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	return rmdir(dir);
}

/* Entries of the directory besides "." and "..". */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void writes_a_new_file_with_its_mode(void **state)
{
	char p[128];
	struct stat st;
	struct kinko_err e = {0};
	(void)state;
	snprintf(p, sizeof p, "%s/new", dir);
	assert_int_equal(kinko_file_write(p, "hello", 5, 0640, KINKO_TMPFILE_DURABLE, &e), 0);
	assert_string_equal(slurp(p), "hello");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(entries(), 1); /* no temporary file left */
	unlink(p);
}

static void never_replaces_without_the_flag(void **state)
{
	char p[128];
	struct kinko_err e = {0};
	(void)state;
	snprintf(p, sizeof p, "%s/kept", dir);
	assert_int_equal(kinko_file_write(p, "old", 3, 0600, 0, &e), 0);
	assert_int_equal(kinko_file_write(p, "new", 3, 0600, KINKO_TMPFILE_DURABLE, &e),
			 KINKO_EEXIST);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_string_equal(slurp(p), "old");
	assert_int_equal(entries(), 1);
	assert_int_equal(kinko_file_write(p, "newer", 5, 0600, KINKO_TMPFILE_REPLACE, &e), 0);
	assert_string_equal(slurp(p), "newer");
	assert_int_equal(entries(), 1);
	unlink(p);
}

static void replacing_a_link_replaces_the_link_not_its_target(void **state)
{
	char p[128], target[128];
	struct stat st;
	struct kinko_err e = {0};
	(void)state;
	snprintf(p, sizeof p, "%s/link", dir);
	snprintf(target, sizeof target, "%s/target", dir);
	assert_int_equal(kinko_file_write(target, "victim", 6, 0600, 0, &e), 0);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(kinko_file_write(p, "mine", 4, 0600, KINKO_TMPFILE_REPLACE, &e), 0);
	assert_string_equal(slurp(target), "victim");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(slurp(p), "mine");
	unlink(p);
	unlink(target);
}

static void discard_and_failures_leave_nothing(void **state)
{
	char p[128];
	struct kinko_tmpfile t;
	struct kinko_err e = {0};
	(void)state;
	snprintf(p, sizeof p, "%s/partial", dir);
	assert_int_equal(kinko_tmpfile_open(&t, p, 0600, &e), 0);
	assert_true(t.fd >= 0);
	assert_int_equal(write(t.fd, "half", 4), 4);
	assert_int_equal(entries(), 1); /* only the temporary file */
	assert_int_equal(access(p, F_OK), -1);
	kinko_tmpfile_discard(&t);
	kinko_tmpfile_discard(&t); /* twice is fine */
	assert_int_equal(entries(), 0);

	/* committed: discard afterwards does nothing */
	assert_int_equal(kinko_tmpfile_open(&t, p, 0600, &e), 0);
	assert_int_equal(kinko_tmpfile_commit(&t, 0, &e), 0);
	kinko_tmpfile_discard(&t);
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(kinko_tmpfile_commit(&t, 0, &e), KINKO_EINVAL); /* nothing left */
	unlink(p);

	/* a directory that does not exist */
	snprintf(p, sizeof p, "%s/missing/file", dir);
	assert_int_equal(kinko_file_write(p, "x", 1, 0600, 0, &e), KINKO_EIO);
	assert_non_null(strstr(e.msg, "cannot create"));
	assert_int_equal(entries(), 0);
}

static void touch(const char *name)
{
	char p[256];
	FILE *f;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

static int exists(const char *name)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* Only the path's own leftovers go: its name, ".tmp-" and six characters. */
static void stale_temporaries_of_a_path_are_removed(void **state)
{
	char p[128];
	struct kinko_tmpfile t;
	struct kinko_err e = {0};
	(void)state;
	snprintf(p, sizeof p, "%s/key", dir);
	assert_int_equal(kinko_tmpfile_open(&t, p, 0600, &e), 0); /* a real leftover */
	close(t.fd);
	touch("key");
	touch("key.tmp-abc");     /* not a name tmpfile makes */
	touch("keyring.tmp-abcdef");
	touch("other.tmp-abcdef");
	assert_int_equal(entries(), 5);
	kinko_tmpfile_remove_stale(p);
	assert_int_equal(entries(), 4);
	assert_int_equal(access(t.tmp, F_OK), -1);
	assert_true(exists("key") && exists("key.tmp-abc") && exists("keyring.tmp-abcdef") &&
		    exists("other.tmp-abcdef"));
	t.fd = -1;
	kinko_tmpfile_discard(&t);
	unlink(p);
	snprintf(p, sizeof p, "%s/key.tmp-abc", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/keyring.tmp-abcdef", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/other.tmp-abcdef", dir);
	unlink(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_a_new_file_with_its_mode),
		cmocka_unit_test(never_replaces_without_the_flag),
		cmocka_unit_test(replacing_a_link_replaces_the_link_not_its_target),
		cmocka_unit_test(discard_and_failures_leave_nothing),
		cmocka_unit_test(stale_temporaries_of_a_path_are_removed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
