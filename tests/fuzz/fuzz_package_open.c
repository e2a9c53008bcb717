/* libFuzzer target: package_open (format detection, age and zip readers) on
 * arbitrary bytes, with a fixed password and X25519 identity, into a memory sink
 * with small limits. Checks that the sink sees begin/end pairs, that abort or
 * commit (exactly one) ends every run, and that limits hold. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "package/package.h"

struct fs {
	int open, commits, aborts;
	uint64_t bytes, entries;
};

static int w_write(void *ctx, const uint8_t *buf, size_t n, struct kinko_err *e)
{
	struct fs *f = ctx;
	(void)buf;
	(void)e;
	if (!f->open)
		abort();
	f->bytes += n;
	return 0;
}
static int s_begin(void *ctx, const char *name, int is_dir, int64_t mtime, struct kinko_writer *w,
		   struct kinko_err *e)
{
	struct fs *f = ctx;
	(void)is_dir;
	(void)mtime;
	if (f->open || package_name_check(name, strlen(name), e))
		abort();
	f->open = 1;
	f->entries++;
	w->write = w_write;
	w->ctx = f;
	return 0;
}
static int s_end(void *ctx, struct kinko_err *e)
{
	struct fs *f = ctx;
	(void)e;
	f->open = 0;
	return 0;
}
static int s_commit(void *ctx, struct kinko_err *e)
{
	(void)e;
	((struct fs *)ctx)->commits++;
	return 0;
}
static void s_abort(void *ctx)
{
	((struct fs *)ctx)->aborts++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static const uint8_t id[1][32] = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
					   18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
					   32}};
	struct kinko_mem_reader mr = {data, size, 0};
	struct kinko_reader r = {kinko_mem_read, &mr};
	struct fs f = {0};
	struct package_sink s = {s_begin, s_end, s_commit, s_abort, &f};
	struct package_limits lim = {8, 1 << 20, 12};
	struct kinko_err e = {0};
	int rc;

	if (!inited) {
		if (kinko_crypto_init())
			abort();
		inited = 1;
	}
	/* An X25519 stanza picks the identity, so both age paths are reached. */
	struct package_key k = {.password = "fuzz", .password_len = 4};
	if (memmem(data, size, "X25519", 6)) {
		k.password = NULL;
		k.password_len = 0;
		k.identities = id;
		k.nidentities = 1;
	}
	rc = package_open(&r, &k, &lim, "out", &s, NULL, &e);
	if (f.commits + f.aborts != 1 || (rc == 0) != (f.commits == 1) || f.bytes > lim.max_bytes ||
	    f.entries > lim.max_entries || (rc && e.msg[0] == '\0'))
		abort();
	return 0;
}
