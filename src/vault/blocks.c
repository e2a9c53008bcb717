/*
 * Addresses that keep failing: counted, blocked, listed and lifted (checklist S4).
 * The table is core/addrblock's, in memory; blocks are also kept in the store
 * (addr_block), written with their event and put back when the server starts, so
 * a restart lifts none. The acts on it are audited here. A
 * block is an event of its own ("net.block", the source as its address); lifting one is
 * the manager's or operator's act ("net.unblock") plus the system event that names
 * the source ("net.unblocked"), committed together before the block is lifted.
 */
#include "vault/vault_internal.h"

#include <stdio.h>
#include <string.h>

/* An event about a source rather than by a person: the source as its address (an
 * IPv6 /64 as its first address: the event's address is one inet_ntop spelling),
 * the request that caused it as its request. */
static void source_actor(const struct vault_actor *a, const char *source,
			 struct vault_actor *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->addr, sizeof out->addr, "%.*s", (int)strcspn(source, "/"), source);
	if (a)
		memcpy(out->request_id, a->request_id, sizeof out->request_id);
}

bool vault_addr_blocked(struct vault *v, const struct sockaddr *sa, int64_t *until)
{
	return v->blocks && addrblock_blocked(v->blocks, sa, vault_now(), until);
}

int vault_addr_failed(struct vault *v, const struct vault_actor *a, const struct sockaddr *sa,
		      struct addrblock_entry *blocked, struct kinko_err *e)
{
	struct addrblock_entry b;
	struct vault_actor sys;
	int rc;

	if (!v->blocks || !addrblock_fail(v->blocks, sa, vault_now(), &b))
		return 0;
	if (blocked)
		*blocked = b;
	/* The block stands in memory whatever happens next (fail closed); its event
	 * and its row, which keeps it across a restart, commit together. */
	source_actor(a, b.source, &sys);
	rc = v->store->ops->begin(v->store, e);
	if (rc)
		return rc;
	rc = vault_audit(v, &sys, "net.block", NULL, NULL, NULL, 0, 200, e);
	if (rc == 0)
		rc = v->store->ops->block_put(v->store, &b, vault_now(), e);
	if (rc) {
		v->store->ops->rollback(v->store);
		return rc;
	}
	rc = v->store->ops->commit(v->store, e);
	return rc ? rc : 1;
}

struct restore_ctx {
	struct vault *v;
	size_t n;
};

static int restore_one(void *ctx, const struct addrblock_entry *b)
{
	struct restore_ctx *c = ctx;
	struct kinko_err e;

	/* A row this kinko cannot put back is skipped, not fatal: the source's
	 * failures are then counted again from nothing. */
	if (addrblock_restore(c->v->blocks, b, vault_now(), &e))
		fprintf(stderr, "kinko: warning: the block on %.64s was not restored: %s\n",
			b->source, e.msg);
	else
		c->n++;
	return 0;
}

int vault_blocks_restore(struct vault *v, size_t *n, struct kinko_err *e)
{
	struct restore_ctx c = {.v = v};
	int rc = v->blocks ? v->store->ops->block_list(v->store, vault_now(), restore_one, &c, e)
			   : 0;

	*n = c.n;
	return rc;
}

int vault_blocks_list(struct vault *v, const struct vault_actor *a,
		      struct addrblock_entry *out, size_t cap, size_t *n, struct kinko_err *e)
{
	if (a->role != ROLE_MANAGER && a->role != ROLE_OPERATOR && a->role != ROLE_AUDITOR)
		return kinko_err_set(e, KINKO_EPERM,
				     "only managers, operators and auditors may see blocked addresses");
	*n = v->blocks ? addrblock_list(v->blocks, vault_now(), out, cap) : 0;
	return 0;
}

int vault_block_clear(struct vault *v, const struct vault_actor *a, const char *source,
		      struct addrblock_entry *was, struct kinko_err *e)
{
	struct store *s = v->store;
	struct addrblock_entry cur;
	struct vault_actor sys;
	int64_t now = vault_now();
	int rc;

	if (a->role != ROLE_MANAGER && a->role != ROLE_OPERATOR)
		return kinko_err_set(e, KINKO_EPERM, "only a manager or an operator may lift a block");
	if (!v->blocks)
		return kinko_err_set(e, KINKO_ENOENT,
				     "addresses are never blocked here ([server] block_failures = 0)");
	rc = addrblock_get(v->blocks, source, now, &cur, e);
	if (rc)
		return rc;
	source_actor(a, cur.source, &sys);
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = vault_audit(v, a, "net.unblock", NULL, NULL, NULL, 0, 200, e);
	if (rc == 0)
		rc = vault_audit(v, &sys, "net.unblocked", NULL, NULL, NULL, 0, 200, e);
	if (rc == 0)
		rc = s->ops->block_delete(s, cur.source, e);
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	rc = s->ops->commit(s, e);
	if (rc)
		return rc;
	/* Gone meanwhile (the block ended): the event stands, the answer is the same. */
	if (addrblock_clear(v->blocks, source, now, was, e) != 0 && was)
		*was = cur;
	return 0;
}
