/*
 * Receiving data from the ward: an age or AES-256 zip package is opened as it
 * streams, every entry is sealed, scanned and counted like an upload, and all
 * entries become objects of the folder in one transaction -- or none do.
 */
#include "vault/vault_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "crypto/hash.h"
#include "package/package.h"

#define IMPORT_MAX_ENTRIES 1000

struct import_ctx {
	struct vault *v;
	const struct vault_actor *a;
	const char *folder_id;
	struct vault_upload *ups[IMPORT_MAX_ENTRIES];
	size_t n;
	struct vault_upload *cur;
	struct kinko_sha256 sha; /* of the package file as it streams */
	const struct kinko_reader *in;
	struct vault_object_info *out;
	char package_sha256[65];
	bool committing; /* past the package: what fails now is not the sender's input */
};

static int hashing_read(void *ctx, uint8_t *buf, size_t cap, size_t *got, struct kinko_err *e)
{
	struct import_ctx *c = ctx;
	int rc = c->in->read(c->in->ctx, buf, cap, got, e);

	if (rc == 0)
		kinko_sha256_update(&c->sha, buf, *got);
	return rc;
}

static int entry_write(void *ctx, const uint8_t *p, size_t n, struct kinko_err *e)
{
	struct import_ctx *c = ctx;
	return vault_upload_write(c->cur, p, n, e);
}

static int discard(void *ctx, const uint8_t *p, size_t n, struct kinko_err *e)
{
	(void)ctx;
	(void)p;
	(void)e;
	return n ? KINKO_EFORMAT : 0;
}

static int sink_begin(void *ctx, const char *name, int is_dir, int64_t mtime,
		      struct kinko_writer *w, struct kinko_err *e)
{
	struct import_ctx *c = ctx;
	const char *base = strrchr(name, '/');
	int rc;

	(void)mtime;
	if (is_dir) {
		w->write = discard;
		w->ctx = c;
		return 0;
	}
	if (c->n == IMPORT_MAX_ENTRIES)
		return kinko_err_set(e, KINKO_ELIMIT, "a package may hold at most %d files",
				     IMPORT_MAX_ENTRIES);
	/* Folders inside the package are flattened: a vault folder holds files. */
	base = base ? base + 1 : name;
	rc = vault_upload_begin(c->v, c->a, c->folder_id, base, &c->cur, e);
	if (rc)
		return kinko_err_wrap(e, "entry %zu", c->n + 1);
	w->write = entry_write;
	w->ctx = c;
	return 0;
}

static int sink_end(void *ctx, struct kinko_err *e)
{
	struct import_ctx *c = ctx;
	int rc;

	if (!c->cur)
		return 0; /* a directory */
	rc = vault_upload_prepare(c->cur, e);
	c->ups[c->n++] = c->cur;
	c->cur = NULL;
	return rc ? kinko_err_wrap(e, "entry %zu", c->n) : 0;
}

static int sink_commit(void *ctx, struct kinko_err *e)
{
	struct import_ctx *c = ctx;
	uint8_t d[32];
	char hex[65];
	int rc;

	if (c->n == 0)
		return kinko_err_set(e, KINKO_EINVAL, "the package holds no files");
	/* The package digest is taken over every byte read so far; the reader reaches
	 * the end of a zip (its directory) or age (the final chunk) before commit. */
	kinko_sha256_final(&c->sha, d);
	format_hex(d, sizeof d, hex);
	memcpy(c->package_sha256, hex, sizeof hex);
	c->out = calloc(c->n, sizeof *c->out);
	if (!c->out)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	c->committing = true;
	rc = vault_upload_commit(c->ups, c->n, "object.import", hex, c->out, e);
	for (size_t i = 0; i < c->n; i++)
		c->ups[i] = NULL; /* freed by the commit either way */
	if (rc) {
		free(c->out);
		c->out = NULL;
	}
	return rc;
}

static void sink_abort(void *ctx)
{
	struct import_ctx *c = ctx;

	vault_upload_abort(c->cur);
	c->cur = NULL;
	for (size_t i = 0; i < c->n; i++) {
		vault_upload_abort(c->ups[i]);
		c->ups[i] = NULL;
	}
}

int vault_import(struct vault *v, const struct vault_actor *a, const char *folder_id,
		 const struct kinko_reader *in, const char *password, size_t password_len,
		 const char *age_name, int (*derive_begin)(void *ctx, struct kinko_err *e),
		 void (*derived)(void *ctx), void *derived_ctx, struct vault_import_result *out,
		 struct kinko_err *e)
{
	struct import_ctx *c = calloc(1, sizeof *c);
	struct package_sink sink = {sink_begin, sink_end, sink_commit, sink_abort, NULL};
	struct package_key key = {0};
	struct package_limits lim = {0};
	struct kinko_reader hr;
	enum package_format fmt = PACKAGE_UNKNOWN;
	int rc;

	if (!c)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	c->v = v;
	c->a = a;
	c->folder_id = folder_id;
	c->in = in;
	if (kinko_sha256_init(&c->sha)) {
		free(c);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	hr.read = hashing_read;
	hr.ctx = c;
	sink.ctx = c;
	key.password = password;
	key.password_len = password_len;
	key.derive_begin = derive_begin;
	key.derived = derived;
	key.derived_ctx = derived_ctx;
	lim.max_entries = IMPORT_MAX_ENTRIES;
	lim.max_bytes = v->cfg.max_body_bytes;
	/* The password's work comes from the package: no more than age itself uses
	 * (2^18, 256 MiB), and only for a caller who may write here at all. */
	lim.max_scrypt_log_n = PACKAGE_AGE_DEFAULT_LOG_N;
	rc = vault_folder_writable(v, a, folder_id, e);
	if (rc) {
		kinko_sha256_abort(&c->sha);
		free(c);
		return rc;
	}
	rc = package_open(&hr, &key, &lim, age_name ? age_name : "import.bin", &sink, &fmt, e);
	kinko_sha256_abort(&c->sha);
	/* A wrong password or a damaged package is the sender's input, not ours; a
	 * session that ended while it streamed stays a 401 (found at the commit). */
	if (!c->committing && (rc == KINKO_ECRYPTO || rc == KINKO_EAUTH || rc == KINKO_EFORMAT))
		rc = e ? (e->code = KINKO_EINVAL) : KINKO_EINVAL;
	if (rc == 0) {
		memset(out, 0, sizeof *out);
		out->n = c->n;
		out->objects = c->out;
		out->format = fmt == PACKAGE_AGE ? "age" : "zip";
		memcpy(out->package_sha256, c->package_sha256, sizeof out->package_sha256);
		c->out = NULL;
	}
	free(c->out);
	free(c);
	return rc;
}

void vault_import_result_free(struct vault_import_result *r)
{
	if (!r)
		return;
	free(r->objects);
	r->objects = NULL;
	r->n = 0;
}
