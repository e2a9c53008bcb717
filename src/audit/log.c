#include "audit/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node_ctx {
	struct store *s;
	struct kinko_err *e;
};

static int node_get(void *ctx, unsigned level, uint64_t idx, uint8_t out[MERKLE_HASH_LEN])
{
	struct node_ctx *c = ctx;
	return c->s->ops->audit_node_get(c->s, level, idx, out, c->e);
}

static int node_put(void *ctx, unsigned level, uint64_t idx, const uint8_t h[MERKLE_HASH_LEN])
{
	struct node_ctx *c = ctx;
	return c->s->ops->audit_node_put(c->s, level, idx, h, c->e);
}

#define MSTORE(s, e)                                                               \
	struct node_ctx nc_ = {(s), (e)};                                              \
	struct merkle_store ms_ = {node_get, node_put, &nc_}

int audit_log_append(struct store *s, struct audit_event *ev, struct kbuf *encoded,
		     struct kinko_err *e)
{
	struct kbuf enc;
	uint8_t leaf[MERKLE_HASH_LEN];
	uint64_t size;
	int rc;
	MSTORE(s, e);

	rc = s->ops->audit_size(s, &size, e);
	if (rc)
		return rc;
	ev->seq = size;
	if (!ev->time_ms)
		ev->time_ms = audit_time_now_ms();
	kbuf_init(&enc, AUDIT_EVENT_MAX);
	rc = audit_event_encode(ev, &enc, e);
	if (rc == 0)
		rc = s->ops->audit_insert(s, size, enc.data, enc.len, e);
	if (rc == 0)
		rc = merkle_hash_leaf(enc.data, enc.len, leaf);
	if (rc == 0)
		rc = merkle_append(&ms_, size, leaf);
	if (rc == 0 && encoded && kbuf_append(encoded, enc.data, enc.len))
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	kbuf_free(&enc);
	if (rc && e && !e->msg[0])
		kinko_err_set(e, rc, "cannot append to the audit log");
	return rc;
}

int audit_log_root(struct store *s, uint64_t size, uint8_t root[MERKLE_HASH_LEN],
		   struct kinko_err *e)
{
	MSTORE(s, e);
	return merkle_root(&ms_, size, root);
}

int audit_log_inclusion(struct store *s, uint64_t index, uint64_t size,
			uint8_t proof[][MERKLE_HASH_LEN], size_t *n, struct kinko_err *e)
{
	uint64_t cur;
	int rc = s->ops->audit_size(s, &cur, e);
	MSTORE(s, e);

	if (rc)
		return rc;
	if (size == 0 || size > cur || index >= size)
		return kinko_err_set(e, KINKO_EINVAL,
				     "need index < size <= %llu (the log's current size)",
				     (unsigned long long)cur);
	return merkle_inclusion_proof(&ms_, index, size, proof, n);
}

int audit_log_consistency(struct store *s, uint64_t m, uint64_t n,
			  uint8_t proof[][MERKLE_HASH_LEN], size_t *len, struct kinko_err *e)
{
	uint64_t cur;
	int rc = s->ops->audit_size(s, &cur, e);
	MSTORE(s, e);

	if (rc)
		return rc;
	if (m > n || n > cur)
		return kinko_err_set(e, KINKO_EINVAL,
				     "need from <= to <= %llu (the log's current size)",
				     (unsigned long long)cur);
	return merkle_consistency_proof(&ms_, m, n, proof, len);
}

int audit_log_checkpoint(struct store *s, const struct kinko_sign_key *k,
			 const struct note_verifier *vk, struct kbuf *note, struct kinko_err *e)
{
	struct checkpoint c, last;
	struct kbuf prev, signed_note;
	uint64_t last_size = 0;
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	size_t plen = 0;
	int rc;

	memset(&c, 0, sizeof c);
	snprintf(c.origin, sizeof c.origin, "%s", vk->name);
	rc = s->ops->audit_size(s, &c.size, e);
	if (rc == 0)
		rc = audit_log_root(s, c.size, c.root, e);
	if (rc)
		return rc;
	/* Never sign a tree that does not extend the last signed one. */
	kbuf_init(&prev, 1 << 16);
	rc = s->ops->checkpoint_latest(s, &last_size, &prev, e);
	if (rc == 0) {
		rc = checkpoint_open(prev.data, prev.len, vk, 1, vk->name, &last, e);
		if (rc == 0 && last.size > c.size)
			rc = kinko_err_set(e, KINKO_EINTEGRITY,
					   "the log has %llu events but a checkpoint was signed at %llu: "
					   "events were removed; refusing to sign",
					   (unsigned long long)c.size, (unsigned long long)last.size);
		if (rc == 0)
			rc = audit_log_consistency(s, last.size, c.size, proof, &plen, e);
		if (rc == 0 &&
		    merkle_verify_consistency(last.size, c.size, last.root, c.root, proof, plen))
			rc = kinko_err_set(e, KINKO_EINTEGRITY,
					   "the log is not consistent with the checkpoint at %llu: "
					   "stored events were altered; refusing to sign",
					   (unsigned long long)last.size);
	} else if (rc == KINKO_ENOENT) {
		rc = 0;
	}
	kbuf_free(&prev);
	if (rc)
		return rc;
	kbuf_init(&signed_note, 1 << 16);
	rc = checkpoint_sign(&c, vk->name, k, &signed_note, e);
	if (rc == 0)
		rc = s->ops->checkpoint_put(s, c.size, signed_note.data, signed_note.len, e);
	if (rc == 0 && kbuf_append(note, signed_note.data, signed_note.len))
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	kbuf_free(&signed_note);
	return rc;
}

/* ---------------------------------------------------------------- verify */

struct cp {
	uint64_t size;
	struct checkpoint c;
};

struct verify_ctx {
	struct store *s;
	const struct note_verifier *vk;
	struct merkle_builder b;
	struct audit_verify_report *r;
	struct kinko_err *e;
	struct cp *cps;
	size_t ncps, next_cp, capcps;
	uint64_t expect;
	int rc;
};

static int collect_cp(void *ctx, uint64_t size, const uint8_t *p, size_t n)
{
	struct verify_ctx *v = ctx;
	struct checkpoint c;

	if (checkpoint_open(p, n, v->vk, 1, v->vk->name, &c, v->e))
		return kinko_err_wrap(v->e, "checkpoint at %llu", (unsigned long long)size);
	if (c.size != size)
		return kinko_err_set(v->e, KINKO_EINTEGRITY,
				     "checkpoint stored at %llu is signed for %llu",
				     (unsigned long long)size, (unsigned long long)c.size);
	if (v->ncps == v->capcps) {
		size_t nc = v->capcps ? v->capcps * 2 : 64;
		struct cp *np = realloc(v->cps, nc * sizeof *np);
		if (!np)
			return kinko_err_set(v->e, KINKO_ENOMEM, "out of memory");
		v->cps = np;
		v->capcps = nc;
	}
	v->cps[v->ncps].size = size;
	v->cps[v->ncps].c = c;
	v->ncps++;
	return 0;
}

/* Checks every checkpoint whose size equals the number of leaves added so far. */
static int check_cps(struct verify_ctx *v)
{
	while (v->next_cp < v->ncps && v->cps[v->next_cp].size == v->b.size) {
		uint8_t root[MERKLE_HASH_LEN];
		int rc = merkle_builder_root(&v->b, root);
		if (rc)
			return kinko_err_set(v->e, rc, "cannot compute the root");
		if (memcmp(root, v->cps[v->next_cp].c.root, MERKLE_HASH_LEN)) {
			return kinko_err_set(v->e, KINKO_EINTEGRITY,
					     "the events up to %llu do not match the checkpoint signed "
					     "at that size: an event before it was changed, removed or "
					     "reordered",
					     (unsigned long long)v->b.size);
		}
		v->r->checkpoints++;
		v->r->latest_checkpoint = v->b.size;
		v->next_cp++;
	}
	return 0;
}

static bool seq_matches(const uint8_t *p, size_t n, uint64_t seq)
{
	char want[48];
	int w = snprintf(want, sizeof want, "{\"v\":1,\"seq\":%llu,", (unsigned long long)seq);

	return w > 0 && (size_t)w <= n && !memcmp(p, want, (size_t)w);
}

static int verify_event(void *ctx, uint64_t seq, const uint8_t *p, size_t n)
{
	struct verify_ctx *v = ctx;
	uint8_t leaf[MERKLE_HASH_LEN], stored[MERKLE_HASH_LEN];
	struct kinko_err sub;
	int rc;

	if (seq != v->expect) {
		v->r->first_bad = (int64_t)v->expect;
		return kinko_err_set(v->e, KINKO_EINTEGRITY, "event %llu is missing (deleted)",
				     (unsigned long long)v->expect);
	}
	/* The tree covers the exact bytes; only the event's own sequence number is read
	 * here (a full strict decode would cost more than the hashing). */
	if (!seq_matches(p, n, seq)) {
		v->r->first_bad = (int64_t)seq;
		return kinko_err_set(v->e, KINKO_EINTEGRITY,
				     "event %llu does not carry its own sequence number: it was moved",
				     (unsigned long long)seq);
	}
	rc = merkle_hash_leaf(p, n, leaf);
	if (rc == 0)
		rc = v->s->ops->audit_node_get(v->s, 0, seq, stored, &sub);
	if (rc || memcmp(leaf, stored, MERKLE_HASH_LEN)) {
		v->r->first_bad = (int64_t)seq;
		return kinko_err_set(v->e, KINKO_EINTEGRITY,
				     "event %llu does not match its stored leaf hash: it was changed",
				     (unsigned long long)seq);
	}
	rc = merkle_builder_add(&v->b, leaf);
	if (rc)
		return kinko_err_set(v->e, rc, "tree too large");
	v->expect++;
	v->r->events++;
	v->r->bytes += n;
	rc = check_cps(v);
	if (rc && v->r->first_bad < 0)
		v->r->first_bad = (int64_t)seq;
	return rc;
}

int audit_log_verify(struct store *s, const struct note_verifier *vk,
		     struct audit_verify_report *r, struct kinko_err *e)
{
	struct verify_ctx v;
	int rc;

	memset(r, 0, sizeof *r);
	r->first_bad = -1;
	memset(&v, 0, sizeof v);
	v.s = s;
	v.vk = vk;
	v.r = r;
	v.e = e;
	merkle_builder_init(&v.b);
	rc = s->ops->checkpoint_scan(s, collect_cp, &v, e);
	if (rc == 0)
		rc = check_cps(&v); /* a checkpoint of the empty log */
	if (rc == 0)
		rc = s->ops->audit_scan(s, 0, verify_event, &v, e);
	if (rc == 0 && v.next_cp < v.ncps)
		rc = kinko_err_set(e, KINKO_EINTEGRITY,
				   "the log holds %llu events but a checkpoint was signed at %llu: "
				   "events at the end were removed (or an older copy restored)",
				   (unsigned long long)r->events,
				   (unsigned long long)v.cps[v.next_cp].size);
	if (rc == KINKO_EINTEGRITY && r->first_bad < 0 && v.next_cp < v.ncps)
		r->first_bad = (int64_t)r->events;
	free(v.cps);
	return rc;
}
