/*
 * The integrity check of a vault (kinko check): the database engine's own checks,
 * the audit log against its signed checkpoints, and every object's blob read back.
 *
 * It is meant to run beside a server on the same DIR, and takes no write lock: the
 * audit log is verified in one read-only snapshot (begin_read), and everything
 * else is read outside transactions, every statement its own snapshot of the
 * write-ahead log, so that none stays open while blobs are read. The server's
 * writes go on meanwhile. An object deleted while the check runs
 * is therefore not reported as missing: objects are listed a page of IDs at a
 * time, each is looked up afresh, and one whose blob fails is looked up again;
 * only an object still there counts.
 */
#include "vault/vault_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK_PAGE 64u

struct check_run {
	struct vault *v;
	const struct vault_check_opts *o;
	struct vault_check_report *r;
};

/* A page of objects to check: only their IDs, so that no read of the store stays
 * open while blobs are read (each object is then looked up afresh, and one
 * deleted meanwhile is seen to be gone). */
struct page {
	unsigned n;
	int64_t last_seq;
	char id[CHECK_PAGE][STORE_ID_LEN];
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

static int page_add(void *ctx, const struct store_object *o)
{
	struct page *p = ctx;

	memcpy(p->id[p->n++], o->id, STORE_ID_LEN);
	p->last_seq = o->seq;
	return 0;
}

/* Damage the store or a blob shows, as against a check that could not run. */
static bool is_damage(int rc)
{
	return rc == KINKO_EINTEGRITY || rc == KINKO_ECRYPTO || rc == KINKO_EFORMAT;
}

static int check_object(struct check_run *c, const char *id, struct kinko_err *e)
{
	struct store_object o;
	struct kinko_err oe;
	uint64_t size = 0;
	int rc;

	/* IDs name blob files and go into the report: one that is not an ID (an
	 * altered row) is damage, and is neither opened nor printed. */
	if (!store_id_valid(id)) {
		c->r->damaged++;
		problem(c, NULL, "an object row has a malformed ID: the database was altered");
		return 0;
	}
	rc = c->v->store->ops->object_get(c->v->store, id, &o, &oe);

	if (rc == KINKO_ENOENT)
		return 0; /* deleted since the page was listed */
	if (rc == 0) {
		size = o.size;
		kinko_err_clear(&oe);
		rc = vault_object_verify(c->v, &o, c->o->deep, &oe);
		store_object_clear(&o);
	}
	if (rc == KINKO_EINTEGRITY) {
		/* Deleted while its blob was read? Then it is gone, not damaged. */
		struct kinko_err ge;
		int again = c->v->store->ops->object_get(c->v->store, id, &o, &ge);
		if (again == KINKO_ENOENT)
			return 0;
		if (again) {
			if (e)
				*e = ge;
			return again;
		}
		store_object_clear(&o);
		c->r->damaged++;
		problem(c, id, oe.msg);
		rc = 0;
	} else if (rc) {
		/* The check could not run (sealed, out of memory, the store
		 * unreadable): stop, and say why. */
		if (e)
			*e = oe;
		return rc;
	}
	c->r->objects++;
	c->r->bytes += size;
	return 0;
}

/* Blob files no object refers to: left by a crash mid-upload or mid-import (the
 * server removes them at its next start), or an upload or import committing right
 * now. Counted, not damage. */
static int count_orphan(void *ctx, int dirfd, const char *name, bool tmp)
{
	struct check_run *c = ctx;
	struct store_object o;
	struct kinko_err ge;
	int rc;

	(void)dirfd;
	if (tmp)
		return 0; /* uploads in flight */
	rc = store_id_valid(name) ? c->v->store->ops->object_get(c->v->store, name, &o, &ge)
				  : KINKO_ENOENT;
	if (rc == 0)
		store_object_clear(&o);
	else if (rc == KINKO_ENOENT)
		c->r->orphans++;
	return 0;
}

int vault_check(struct vault *v, const struct vault_check_opts *o, struct vault_check_report *r,
		struct kinko_err *e)
{
	struct store *s = v->store;
	struct check_run c = {.v = v, .o = o, .r = r};
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
	rc = vault_log_verify(v, &r->events, &r->checkpoints, &le);
	r->log_ok = rc == 0;
	if (is_damage(rc)) {
		problem(&c, NULL, le.msg);
	} else if (rc) {
		if (e)
			*e = le;
		return rc;
	}

	{
		struct page *p = calloc(1, sizeof *p);
		unsigned got;
		if (!p)
			return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
		do {
			p->n = 0;
			rc = s->ops->object_list(s, NULL, p->last_seq, CHECK_PAGE, page_add, p, e);
			got = p->n;
			for (unsigned i = 0; rc == 0 && i < got; i++)
				rc = check_object(&c, p->id[i], e);
		} while (rc == 0 && got == CHECK_PAGE);
		free(p);
		if (rc)
			return rc;
	}

	rc = vault_blob_files(v, count_orphan, &c, e);
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
