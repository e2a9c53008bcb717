/* The vault's side of the audit log: events for acts, the log key, checkpoints. */
#include "vault/vault_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/log.h"
#include "core/parse.h"
#include "core/stream.h"
#include "core/tmpfile.h"
#include "crypto/crypto.h"

#define META_LOG_SEALED "log_key_sealed"
#define META_LOG_VERIFIER "log_verifier"
#define CHECKPOINT_FILE "audit-checkpoint"

struct store *vault_store(struct vault *v)
{
	return v->store;
}

static void fill_event(const struct vault_actor *a, struct audit_event *ev, const char *action,
		       unsigned status)
{
	audit_event_init(ev);
	if (a) {
		if (a->user_id[0])
			snprintf(ev->actor, sizeof ev->actor, "%s", a->user_id);
		if (a->role != ROLE_NONE)
			snprintf(ev->role, sizeof ev->role, "%s", store_role_name(a->role));
		else if (!a->user_id[0] && !a->addr[0])
			snprintf(ev->role, sizeof ev->role, "system");
		if (a->cert_fp[0])
			snprintf(ev->cert, sizeof ev->cert, "%s", a->cert_fp);
		if (a->addr[0] && strcmp(a->addr, "-"))
			snprintf(ev->addr, sizeof ev->addr, "%.45s", a->addr);
		if (a->request_id[0])
			snprintf(ev->request, sizeof ev->request, "%s", a->request_id);
	} else {
		snprintf(ev->role, sizeof ev->role, "system");
	}
	snprintf(ev->action, sizeof ev->action, "%s", action);
	ev->status = status;
	ev->result = status < 400 ? AUDIT_OK : status < 500 && status != 423 ? AUDIT_DENIED
			 : status == 423			    ? AUDIT_DENIED
								    : AUDIT_ERROR;
}

static int append(struct vault *v, const struct vault_actor *a, struct audit_event *ev,
		  struct kinko_err *e)
{
	struct kbuf enc;
	int rc;

	kbuf_init(&enc, 4096);
	rc = audit_log_append(v->store, ev, &enc, e);
	if (rc == 0 && a && a->note) {
		a->note->recorded = true;
		a->note->seq = ev->seq;
		snprintf(a->note->encoded, sizeof a->note->encoded, "%s", kbuf_str(&enc));
	}
	kbuf_free(&enc);
	if (rc)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "the audit log cannot be written, so nothing was changed: %.300s",
				     e ? e->msg : "");
	return 0;
}

int vault_audit(struct vault *v, const struct vault_actor *a, const char *action,
		const char *contract, const char *t1, const char *t2, uint64_t bytes,
		unsigned status, struct kinko_err *e)
{
	struct audit_event ev;

	fill_event(a, &ev, action, status);
	if (contract && contract[0])
		snprintf(ev.contract, sizeof ev.contract, "%s", contract);
	if ((t1 && t1[0] && audit_event_add_target(&ev, t1)) ||
	    (t2 && t2[0] && audit_event_add_target(&ev, t2)))
		return kinko_err_set(e, KINKO_EINVAL, "an audit target is not an ID");
	ev.bytes = bytes;
	return append(v, a, &ev, e);
}

bool vault_audit_confirm(struct vault *v, const struct vault_audit_note *note)
{
	struct store *s = v->store;
	struct kbuf got;
	size_t n = strlen(note->encoded);
	bool same = false;

	if (!note->recorded)
		return false;
	kbuf_init(&got, 4096);
	if (s->ops->begin_read(s, NULL) == 0) {
		/* The same bytes at that place (the note keeps at most 2048 of them;
		 * they hold the request's ID): the event, not another that took its
		 * place after a rollback. */
		same = s->ops->audit_get(s, note->seq, &got, NULL) == 0 &&
		       (n < sizeof note->encoded - 1 ? got.len == n : got.len >= n) &&
		       memcmp(got.data, note->encoded, n) == 0;
		s->ops->rollback(s);
	}
	kbuf_free(&got);
	return same;
}

void vault_audit_unrecord(const struct vault_actor *a)
{
	if (a && a->note)
		a->note->recorded = false;
}

int vault_audit_standalone(struct vault *v, const struct vault_actor *a, const char *action,
			   unsigned status, struct kinko_err *e)
{
	struct audit_event ev;
	struct store *s = v->store;
	int rc;

	fill_event(a, &ev, action, status);
	if (a && a->note) {
		if (a->note->contract[0])
			snprintf(ev.contract, sizeof ev.contract, "%s", a->note->contract);
		for (unsigned i = 0; i < a->note->ntargets; i++)
			if (audit_event_add_target(&ev, a->note->targets[i]))
				break;
		ev.bytes = a->note->bytes;
	}
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = append(v, a, &ev, e);
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	return s->ops->commit(s, e);
}

/* ---------------------------------------------------------------- the log key */

/* Creates the log's Ed25519 key (inside init's transaction): the seed sealed under
 * a key derived from the master key, the public verifier in the clear. */
int vault_log_key_create(struct vault *v, struct kinko_err *e)
{
	struct kinko_sign_key *k = NULL;
	struct kinko_key *wrap = NULL;
	struct note_verifier vk;
	struct kbuf sealed, text;
	uint8_t seed[KINKO_SIGN_SEED_LEN], pk[KINKO_SIGN_PUBLIC_LEN], id[8];
	char origin[64], hex[17];
	int rc;

	kbuf_init(&sealed, 4096);
	kbuf_init(&text, 4096);
	kinko_random(id, sizeof id);
	format_hex(id, sizeof id, hex);
	snprintf(origin, sizeof origin, "kinko.local/log/%s", hex);
	rc = kinko_sign_keypair(&k);
	if (rc)
		return kinko_err_set(e, rc, "cannot create the log key");
	kinko_sign_key_seed(k, seed);
	kinko_sign_key_public(k, pk);
	rc = keyring_derive(v->kr, "log-key", &wrap, e);
	if (rc == 0)
		rc = kinko_key_seal(wrap, "log-key", seed, sizeof seed, &sealed, e);
	if (rc == 0)
		rc = note_verifier_make(origin, pk, &vk, e);
	if (rc == 0 && note_verifier_format(&vk, &text))
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	if (rc == 0)
		rc = v->store->ops->meta_put(v->store, META_LOG_SEALED, sealed.data, sealed.len, e);
	if (rc == 0)
		rc = v->store->ops->meta_put(v->store, META_LOG_VERIFIER, text.data, text.len, e);
	kinko_wipe(seed, sizeof seed);
	kinko_sign_key_free(k);
	kinko_key_free(wrap);
	kbuf_free(&sealed);
	kbuf_free(&text);
	return rc;
}

static int load_verifier(struct vault *v, struct note_verifier *vk, struct kinko_err *e)
{
	struct kbuf text;
	int rc;

	kbuf_init(&text, 4096);
	rc = v->store->ops->meta_get(v->store, META_LOG_VERIFIER, &text, e);
	if (rc == 0)
		rc = note_verifier_parse(kbuf_str(&text), vk, e);
	kbuf_free(&text);
	if (rc)
		return kinko_err_set(e, KINKO_EINTEGRITY,
				     "the store holds no valid audit log key; it was damaged");
	return 0;
}

/* Called by unseal with the keyring open: loads the signing key. */
int vault_log_key_open(struct vault *v, struct keyring *kr, struct kinko_sign_key **out,
		       struct kinko_err *e)
{
	struct kinko_key *wrap = NULL;
	struct kbuf sealed, seed;
	int rc;

	kbuf_init(&sealed, 4096);
	kbuf_init(&seed, 64);
	rc = v->store->ops->begin(v->store, e);
	if (rc)
		return rc;
	rc = v->store->ops->meta_get(v->store, META_LOG_SEALED, &sealed, e);
	v->store->ops->rollback(v->store);
	if (rc == 0)
		rc = keyring_derive(kr, "log-key", &wrap, e);
	if (rc == 0)
		rc = kinko_key_open(wrap, "log-key", sealed.data, sealed.len, &seed, e);
	if (rc == 0 && seed.len != KINKO_SIGN_SEED_LEN)
		rc = kinko_err_set(e, KINKO_EINTEGRITY, "the sealed log key is damaged");
	if (rc == 0)
		rc = kinko_sign_key_from_seed(seed.data, out);
	kinko_key_free(wrap);
	kbuf_free(&sealed);
	kbuf_free(&seed);
	return rc;
}

int vault_log_verifier(struct vault *v, char *out, size_t cap, struct kinko_err *e)
{
	struct kbuf text;
	int rc;

	kbuf_init(&text, 4096);
	rc = v->store->ops->begin(v->store, e);
	if (rc)
		return rc;
	rc = v->store->ops->meta_get(v->store, META_LOG_VERIFIER, &text, e);
	v->store->ops->rollback(v->store);
	if (rc == 0 && text.len >= cap)
		rc = kinko_err_set(e, KINKO_ELIMIT, "verifier too long");
	if (rc == 0)
		memcpy(out, text.data, text.len + 1);
	kbuf_free(&text);
	return rc;
}

/* The newest checkpoint is also kept in a file beside the store, so restoring an
 * older copy of the store alone is noticed at start. */
static int write_checkpoint_file(struct vault *v, const struct kbuf *note, struct kinko_err *e)
{
	char path[4096];

	if (vault_path(v, path, sizeof path, CHECKPOINT_FILE))
		return kinko_err_set(e, KINKO_EINVAL, "path too long");
	return kinko_file_write(path, note->data, note->len, 0600,
				KINKO_TMPFILE_REPLACE | KINKO_TMPFILE_DURABLE, e);
}

int vault_log_checkpoint(struct vault *v, const struct vault_actor *a, struct kbuf *note,
			 struct kinko_err *e)
{
	struct store *s = v->store;
	struct note_verifier vk;
	struct kbuf out;
	int rc = vault_enter(v, e);

	if (rc)
		return rc;
	kbuf_init(&out, 1 << 16);
	/* The log only grows: checkpoints made one at a time, each with its file,
	 * leave the newest in the file. */
	pthread_mutex_lock(&v->checkpoint_mu);
	rc = s->ops->begin(s, e);
	if (rc == 0) {
		/* A person's checkpoint is on record in the same transaction as the
		 * checkpoint itself (which then covers it), or neither is. */
		if (a)
			rc = vault_audit(v, a, "log.checkpoint", NULL, NULL, NULL, 0, 201, e);
		if (rc == 0)
			rc = load_verifier(v, &vk, e);
		if (rc == 0)
			rc = audit_log_checkpoint(s, v->log_key, &vk, &out, e);
		if (rc == 0)
			rc = s->ops->commit(s, e);
		else
			s->ops->rollback(s);
		if (rc && rc != KINKO_ENOTDURABLE)
			vault_audit_unrecord(a); /* rolled back: the edge records the failure */
	}
	/* The checkpoint stands in the store (its event says so); a file that cannot
	 * be written is a second fact, recorded as such. */
	if (rc == 0 && (rc = write_checkpoint_file(v, &out, e)) != 0) {
		int arc = vault_audit_standalone(v, a, "log.checkpoint_file", 500, NULL);
		kinko_err_wrap(e, "the checkpoint was made and is in the store, but its file was "
				  "not written%s",
			       arc ? " (nor could this be recorded)" : "");
	}
	pthread_mutex_unlock(&v->checkpoint_mu);
	if (rc == 0 && kbuf_append(note, out.data, out.len))
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	kbuf_free(&out);
	vault_leave(v);
	return rc;
}

int signed_checkpoint(struct vault *v, struct kinko_err *e)
{
	struct kbuf note;
	int rc;

	kbuf_init(&note, 1 << 16);
	rc = vault_log_checkpoint(v, NULL, &note, e);
	kbuf_free(&note);
	return rc;
}

int vault_log_verify(struct vault *v, uint64_t *events, uint64_t *checkpoints,
		     struct kinko_err *e)
{
	struct store *s = v->store;
	struct note_verifier vk;
	struct audit_verify_report r;
	struct checkpoint file_cp;
	char path[4096];
	uint8_t buf[8192];
	size_t n = 0;
	FILE *f;
	int rc;

	rc = s->ops->begin_read(s, e);
	if (rc)
		return rc;
	rc = load_verifier(v, &vk, e);
	if (rc == 0)
		rc = audit_log_verify(s, &vk, &r, e);
	/* The checkpoint file outside the store must not be ahead of the store. */
	if (rc == 0 && vault_path(v, path, sizeof path, CHECKPOINT_FILE) == 0 &&
	    (f = fopen(path, "re"))) {
		uint8_t root[MERKLE_HASH_LEN];
		n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		rc = checkpoint_open(buf, n, &vk, 1, vk.name, &file_cp, e);
		if (rc)
			kinko_err_wrap(e, "%s", CHECKPOINT_FILE);
		else if (file_cp.size > r.latest_checkpoint || file_cp.size > r.events)
			rc = kinko_err_set(e, KINKO_EINTEGRITY,
					   "%s shows a checkpoint at %llu but the store's log ends "
					   "at %llu: the store was rolled back to an older copy",
					   CHECKPOINT_FILE, (unsigned long long)file_cp.size,
					   (unsigned long long)r.latest_checkpoint);
		else if (audit_log_root(s, file_cp.size, root, e) ||
			 memcmp(root, file_cp.root, MERKLE_HASH_LEN))
			rc = kinko_err_set(e, KINKO_EINTEGRITY,
					   "the store's log does not match %s at %llu: it was "
					   "replaced or altered",
					   CHECKPOINT_FILE, (unsigned long long)file_cp.size);
	}
	s->ops->rollback(s);
	if (rc)
		return rc;
	*events = r.events;
	*checkpoints = r.checkpoints;
	return 0;
}

/* ---------------------------------------------------------------- reading the log */

/* Events hold IDs only, so every role that oversees the work may read them:
 * managers, the ward's auditors and the operator; handlers may not. */
int vault_log_access(const struct vault_actor *a, struct kinko_err *e)
{
	if (a->role == ROLE_MANAGER || a->role == ROLE_AUDITOR || a->role == ROLE_OPERATOR)
		return 0;
	return kinko_err_set(e, KINKO_EPERM,
			     "only managers, auditors and operators may read the audit log");
}

int vault_log_latest(struct vault *v, const struct vault_actor *a, struct kbuf *note,
		     struct kinko_err *e)
{
	struct store *s = v->store;
	uint64_t size;
	int rc = vault_log_access(a, e);

	if (rc == 0)
		rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = s->ops->checkpoint_latest(s, &size, note, e);
		s->ops->rollback(s);
	}
	return rc;
}

int vault_log_proof(struct vault *v, const struct vault_actor *a, bool inclusion, uint64_t x,
		    uint64_t y, uint8_t proof[][32], size_t *n, struct kinko_err *e)
{
	struct store *s = v->store;
	int rc = vault_log_access(a, e);

	if (rc == 0)
		rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = inclusion ? audit_log_inclusion(s, x, y, proof, n, e)
			       : audit_log_consistency(s, x, y, proof, n, e);
		s->ops->rollback(s);
	}
	return rc;
}

int vault_log_events(struct vault *v, const struct vault_actor *a, uint64_t from,
		     int (*cb)(void *ctx, uint64_t seq, const uint8_t *p, size_t n), void *ctx,
		     struct kinko_err *e)
{
	struct store *s = v->store;
	int rc = vault_log_access(a, e);

	if (rc == 0)
		rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = s->ops->audit_scan(s, from, cb, ctx, e);
		s->ops->rollback(s);
	}
	return rc;
}
