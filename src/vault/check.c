/*
 * The integrity check of a vault (kinko check): the database engine's own checks,
 * the audit log against its signed checkpoints, and every object's blob read back.
 *
 * It is meant to run beside a server on the same DIR. Apart from the audit log's
 * verification, it reads outside transactions: every statement is its own
 * snapshot of the write-ahead log, so the server's writes are never held up. An
 * object deleted while the check runs is therefore not reported as missing: a blob
 * that fails is looked up again, and only an object still there counts.
 */
#include "vault/vault_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK_PAGE 64u

struct check_run {
	struct vault *v;
	const struct vault_check_opts *o;
	struct vault_check_report *r;
	int64_t last_seq;
	unsigned in_page;
	int rc;
	struct kinko_err *e;
};

static void problem(struct check_run *c, const char *object_id, const char *what)
{
	if (c->o->problem)
		c->o->problem(c->o->ctx, object_id, what);
}

static int store_problem(void *ctx, const char *what)
{
	struct check_run *c = ctx;

	c->r->store_ok = false;
	problem(c, NULL, what);
	return 0;
}

static int check_object(void *ctx, const struct store_object *o)
{
	struct check_run *c = ctx;
	struct kinko_err oe;
	int rc;

	c->last_seq = o->seq;
	c->in_page++;
	kinko_err_clear(&oe);
	rc = vault_object_verify(c->v, o, c->o->deep, &oe);
	if (rc == KINKO_EINTEGRITY) {
		struct store_object again;
		struct kinko_err ge;
		int gone = c->v->store->ops->object_get(c->v->store, o->id, &again, &ge);
		if (gone == KINKO_ENOENT)
			return 0; /* deleted while the check ran */
		if (gone == 0)
			store_object_clear(&again);
		c->r->damaged++;
		problem(c, o->id, oe.msg);
	} else if (rc) {
		/* The check could not run (sealed, out of memory): stop, say why. */
		if (c->e)
			*c->e = oe;
		return rc;
	}
	c->r->objects++;
	c->r->bytes += o->size;
	return 0;
}

/* Blob files no object refers to: left by a crash mid-upload (the server removes
 * them at its next start) or an upload committing right now. Counted, not damage. */
static int count_orphans(struct vault *v, uint64_t *n, struct kinko_err *e)
{
	char path[4096];
	DIR *top;
	struct dirent *de;

	*n = 0;
	if (vault_path(v, path, sizeof path, "blobs") || !(top = opendir(path)))
		return kinko_err_set(e, KINKO_EIO, "cannot read the blob directory");
	while ((de = readdir(top))) {
		char sub[4096];
		DIR *d;
		struct dirent *f;
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "tmp"))
			continue;
		if (vault_path(v, sub, sizeof sub, "blobs/%s", de->d_name) || !(d = opendir(sub)))
			continue;
		while ((f = readdir(d))) {
			struct store_object o;
			struct kinko_err ge;
			int rc;
			if (f->d_name[0] == '.')
				continue;
			rc = store_id_valid(f->d_name)
				     ? v->store->ops->object_get(v->store, f->d_name, &o, &ge)
				     : KINKO_ENOENT;
			if (rc == 0)
				store_object_clear(&o);
			else if (rc == KINKO_ENOENT)
				(*n)++;
		}
		closedir(d);
	}
	closedir(top);
	return 0;
}

int vault_check(struct vault *v, const struct vault_check_opts *o, struct vault_check_report *r,
		struct kinko_err *e)
{
	struct store *s = v->store;
	struct check_run c = {.v = v, .o = o, .r = r, .e = e};
	struct kinko_err le;
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(r, 0, sizeof *r);
	r->deep = o->deep;
	r->store_ok = true;
	if (o->deep && vault_is_sealed(v))
		return kinko_err_set(e, KINKO_ESEALED,
				     "reading the content back needs the vault's key: give "
				     "--key-file or --passphrase-file, or check only the files "
				     "with --quick");

	rc = s->ops->integrity(s, store_problem, &c, e);
	if (rc)
		return rc;

	kinko_err_clear(&le);
	r->log_ok = vault_log_verify(v, &r->events, &r->checkpoints, &le) == 0;
	if (!r->log_ok)
		problem(&c, NULL, le.msg);

	do {
		c.in_page = 0;
		rc = s->ops->object_list(s, NULL, c.last_seq, CHECK_PAGE, check_object, &c, e);
	} while (rc == 0 && c.in_page == CHECK_PAGE);
	if (rc)
		return rc;

	rc = count_orphans(v, &r->orphans, e);
	if (rc)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	/* The result goes into the audit log, where the ward finds it: a check that
	 * cannot be recorded is reported as failed. */
	{
		struct vault_actor sys = {0};
		struct vault_audit_note note = {0};
		bool clean = r->store_ok && r->log_ok && r->damaged == 0;
		note.bytes = r->bytes;
		sys.note = &note;
		rc = vault_audit_standalone(v, &sys, o->deep ? "store.check" : "store.check_quick",
					    clean ? 200 : 500, e);
	}
	return rc;
}
