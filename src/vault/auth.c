/* Accounts, logins, lockout, TOTP and sessions. */
#include "vault/vault_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/cidr.h"
#include "core/parse.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "crypto/secret.h"
#include "tls/tls.h"

/* Login IDs double as directory names for certificate bundles: keep them plain. */
int vault_user_name_check(const char *name, struct kinko_err *e)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 64)
		return kinko_err_set(e, KINKO_EINVAL, "a user name must be 1 to 64 characters");
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  (i > 0 && (c == '.' || c == '_' || c == '-'));
		if (!ok)
			return kinko_err_set(e, KINKO_EINVAL,
					     "a user name may hold a-z, 0-9 and . _ - (not first)");
	}
	return 0;
}

static int password_check(const char *pw, struct kinko_err *e)
{
	size_t n = pw ? strlen(pw) : 0;

	if (n < 12)
		return kinko_err_set(e, KINKO_EINVAL, "a password must have at least 12 characters");
	if (n > 1024)
		return kinko_err_set(e, KINKO_EINVAL, "a password may have at most 1024 characters");
	return 0;
}

int vault_user_to_info(const struct store_user *u, int64_t now, struct vault_user_info *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->id, u->id, sizeof out->id);
	memcpy(out->name, u->name, sizeof out->name);
	out->role = u->role;
	out->disabled = u->disabled;
	out->totp_enrolled = u->totp_sealed.len > 0;
	out->locked = u->locked_until > now;
	memcpy(out->allowed_cidrs, u->allowed_cidrs, sizeof out->allowed_cidrs);
	out->created_at = u->created_at;
	return 0;
}

static bool addr_allowed(const struct store_user *u, const struct sockaddr *addr)
{
	struct cidr_list l;

	if (!u->allowed_cidrs[0])
		return true; /* the server-wide allowlist already applied at accept */
	if (cidr_list_parse_stored(u->allowed_cidrs, &l, NULL))
		return false; /* fail closed on a damaged row */
	return cidr_list_match(&l, addr);
}

static void token_hash(const char *token, uint8_t out[32])
{
	/* The token has 256 bits of entropy; a plain hash suffices against a stolen store. */
	if (kinko_sha256(token, strlen(token), out))
		memset(out, 0, 32);
}

static int totp_check(struct vault *v, struct store_user *u, const char *code, int64_t now,
		      struct kinko_err *e)
{
	struct kbuf secret;
	int rc;

	kbuf_init(&secret, 64);
	rc = kinko_key_open(v->totp_key, u->id, u->totp_sealed.data, u->totp_sealed.len, &secret,
			    e);
	if (rc) {
		kbuf_free(&secret);
		return kinko_err_set(e, KINKO_EINTEGRITY, "the stored TOTP secret does not open");
	}
	rc = secret_totp_verify(secret.data, secret.len, code, (uint64_t)now, &u->totp_last_step);
	kbuf_free(&secret);
	return rc;
}

/* A hash of a random password, verified against when the user name is unknown so
 * that a login for a missing account costs as much as one for a real account. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[KINKO_PWHASH_LEN];

static void dummy_init(void)
{
	char pw[64];

	if (vault_gen_password(pw) || secret_password_hash(pw, dummy_hash, NULL))
		dummy_hash[0] = '\0';
	kinko_wipe(pw, sizeof pw);
}

/* Argon2id, a few at a time (PW_VERIFY_AT_ONCE); others wait their turn. */
static bool verify_password(struct vault *v, const char *hash, const char *password)
{
	bool ok;

	while (sem_wait(&v->pw_slots) != 0)
		; /* EINTR */
	ok = secret_password_verify(hash, password) == 0;
	sem_post(&v->pw_slots);
	return ok;
}

/* Argon2id of a new password, a few at a time like verify_password, and never
 * inside a transaction: the store's lock would keep every other request waiting
 * for the hash. */
static int hash_password(struct vault *v, const char *password, char out[KINKO_PWHASH_LEN],
			 struct kinko_err *e)
{
	int rc;

	while (sem_wait(&v->pw_slots) != 0)
		; /* EINTR */
	rc = secret_password_hash(password, out, e);
	sem_post(&v->pw_slots);
	return rc;
}

int vault_login(struct vault *v, const struct vault_login *l, char token[VAULT_TOKEN_LEN + 1],
		struct vault_actor *actor, bool *alert, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_user u;
	struct store_session ss;
	int64_t now = vault_now();
	char tok[VAULT_TOKEN_LEN + 1];
	char pw_hash[sizeof u.pw_hash];
	bool pw_ok;
	int rc, verdict;

	*alert = false;
	if (!l->name || !l->password || strlen(l->name) > 64 || strlen(l->password) > 1024)
		return kinko_err_set(e, KINKO_EAUTH, "wrong user name, password or TOTP code");
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	/* Argon2id (64 MiB, a good part of a second) runs outside any transaction:
	 * inside one it would hold the store's lock, which every request needs for its
	 * audit event. So: read the account, verify the password with no lock held,
	 * then decide in a write transaction on the account as it is then. */
	rc = s->ops->begin_read(s, e);
	if (rc == 0) {
		rc = s->ops->user_get(s, NULL, l->name, &u, e);
		s->ops->rollback(s);
	}
	if (rc == KINKO_ENOENT) {
		/* Spend the same time as for a real account so names cannot be probed. */
		pthread_once(&dummy_once, dummy_init);
		(void)verify_password(v, dummy_hash, l->password);
		vault_leave(v);
		return kinko_err_set(e, KINKO_EAUTH, "wrong user name, password or TOTP code");
	}
	if (rc == 0 && u.locked_until > now) { /* no password work for a locked account */
		store_user_clear(&u);
		rc = kinko_err_set(e, KINKO_ELOCKED, "the account is locked after repeated failed "
						     "logins; try again later or ask a manager to "
						     "unlock it");
	}
	if (rc) {
		vault_leave(v);
		return rc;
	}
	snprintf(pw_hash, sizeof pw_hash, "%s", u.pw_hash);
	pw_ok = verify_password(v, pw_hash, l->password);
	store_user_clear(&u);
	rc = s->ops->begin(s, e);
	if (rc) {
		kinko_wipe(pw_hash, sizeof pw_hash);
		vault_leave(v);
		return rc;
	}
	rc = s->ops->user_get(s, NULL, l->name, &u, e);
	if (rc == KINKO_ENOENT)
		rc = kinko_err_set(e, KINKO_EAUTH, "wrong user name, password or TOTP code");
	if (rc)
		goto fail;
	/* Verified against the hash the account still has, or not at all. */
	if (strcmp(pw_hash, u.pw_hash))
		pw_ok = false;
	kinko_wipe(pw_hash, sizeof pw_hash);
	if (u.locked_until > now) {
		rc = kinko_err_set(e, KINKO_ELOCKED,
				   "the account is locked after repeated failed logins; try again "
				   "later or ask a manager to unlock it");
		goto fail_user;
	}
	verdict = 0;
	if (u.disabled)
		verdict = KINKO_EAUTH;
	if (!addr_allowed(&u, l->addr))
		verdict = KINKO_EAUTH;
	/* A certificate opens only its own account: someone holding another person's
	 * password still needs that person's certificate. */
	if (l->cert_user && strcmp(l->cert_user, u.id))
		verdict = KINKO_EAUTH;
	if (!pw_ok)
		verdict = KINKO_EAUTH;
	if (verdict == 0 && u.totp_sealed.len) {
		if (!l->totp || totp_check(v, &u, l->totp, now, NULL) != 0)
			verdict = KINKO_EAUTH;
	} else if (verdict == 0 && v->cfg.require_totp) {
		verdict = KINKO_EAUTH;
	}
	if (verdict) {
		bool locks = false;
		u.failed_logins++;
		if ((uint64_t)u.failed_logins >= v->cfg.lockout_failures) {
			u.locked_until = now + (int64_t)v->cfg.lockout_seconds;
			u.failed_logins = 0;
			locks = true;
		}
		rc = s->ops->user_update(s, &u, e);
		/* The failure is recorded with the counter it raised, in one transaction. */
		if (rc == 0)
			rc = vault_audit(v, actor, "auth.login", NULL, u.id, NULL, 0,
					 locks ? 423 : 401, e);
		if (rc == 0)
			rc = s->ops->commit(s, e);
		else
			s->ops->rollback(s);
		/* The alert only for a lock that was stored (a commit that was not
		 * made durable was stored). */
		*alert = locks && (rc == 0 || rc == KINKO_ENOTDURABLE);
		if (*alert) {
			/* Name the locked account to the caller, for the alert. */
			memcpy(actor->user_id, u.id, sizeof actor->user_id);
			memcpy(actor->user_name, u.name, sizeof actor->user_name);
		}
		store_user_clear(&u);
		vault_leave(v);
		if (rc)
			return rc;
		if (*alert)
			return kinko_err_set(e, KINKO_ELOCKED,
					     "too many failed logins: the account is now locked");
		return kinko_err_set(e, KINKO_EAUTH, "wrong user name, password or TOTP code");
	}
	u.failed_logins = 0;
	u.locked_until = 0;
	rc = s->ops->user_update(s, &u, e);
	if (rc)
		goto fail_user;
	secret_token_new(tok);
	memset(&ss, 0, sizeof ss);
	token_hash(tok, ss.token_hash);
	memcpy(ss.user_id, u.id, sizeof ss.user_id);
	snprintf(ss.cert_fp, sizeof ss.cert_fp, "%s", l->cert_fp ? l->cert_fp : "");
	ss.created_at = ss.last_seen = now;
	rc = s->ops->session_insert(s, &ss, e);
	if (rc)
		goto fail_user;
	memcpy(actor->user_id, u.id, sizeof actor->user_id);
	memcpy(actor->user_name, u.name, sizeof actor->user_name);
	actor->role = u.role;
	memcpy(actor->cert_fp, ss.cert_fp, sizeof actor->cert_fp);
	rc = vault_audit(v, actor, "auth.login", NULL, u.id, NULL, 0, 200, e);
	if (rc)
		goto fail_user;
	rc = s->ops->commit(s, e);
	if (rc == 0)
		memcpy(token, tok, sizeof tok);
	kinko_wipe(tok, sizeof tok);
	store_user_clear(&u);
	vault_leave(v);
	return rc;
fail_user:
	store_user_clear(&u);
fail:
	kinko_wipe(pw_hash, sizeof pw_hash);
	s->ops->rollback(s);
	vault_leave(v);
	return rc;
}

static bool token_syntax_ok(const char *t)
{
	if (!t || strlen(t) != VAULT_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < VAULT_TOKEN_LEN; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return true;
}

#define SESSION_TOUCH_SECONDS 15

int vault_sessions_purge(struct vault *v, uint64_t *n, struct kinko_err *e)
{
	struct store *s = v->store;
	int64_t now = vault_now();
	int rc;

	*n = 0;
	if (vault_is_sealed(v))
		return 0;
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	/* By the absolute lifetime only: a session idle on record may be carrying a
	 * long upload, which ends with its session, not with its idle timeout
	 * (vault_actor_current). vault_session_check refuses idle ones anyway. Its
	 * checks are "more than": equal is still alive. */
	rc = s->ops->session_purge(s, now - (int64_t)v->cfg.session_max_seconds, n, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	return rc;
}

int vault_session_check(struct vault *v, const char *token, const char *cert_fp,
			const struct sockaddr *addr, struct vault_actor *out,
			struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_session ss;
	struct store_user u;
	uint8_t h[32];
	int64_t now = vault_now();
	int rc;

	if (!token_syntax_ok(token))
		return kinko_err_set(e, KINKO_EAUTH, "no valid session token; log in first");
	token_hash(token, h);
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = s->ops->session_get(s, h, &ss, e);
	if (rc)
		goto fail;
	if (now - ss.last_seen > (int64_t)v->cfg.session_idle_seconds ||
	    now - ss.created_at > (int64_t)v->cfg.session_max_seconds) {
		(void)s->ops->session_delete(s, h, NULL);
		(void)s->ops->commit(s, NULL);
		return kinko_err_set(e, KINKO_EAUTH, "the session has expired; log in again");
	}
	if (!cert_fp || !kinko_ct_equal(ss.cert_fp, cert_fp, sizeof ss.cert_fp) ||
	    strlen(cert_fp) != strlen(ss.cert_fp)) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "the session belongs to another client certificate; log in again");
		goto fail;
	}
	rc = s->ops->user_get(s, ss.user_id, NULL, &u, e);
	if (rc)
		goto fail;
	if (u.disabled || !addr_allowed(&u, addr)) {
		store_user_clear(&u);
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "the account is disabled or not allowed from this address");
		goto fail;
	}
	/* Activity is recorded at most every SESSION_TOUCH_SECONDS: most requests then
	 * write nothing here (the audit event is their one durable write). A session
	 * may so end up to that much before its idle timeout, never after. */
	if (now - ss.last_seen >= SESSION_TOUCH_SECONDS) {
		rc = s->ops->session_touch(s, h, now, e);
		if (rc == 0)
			rc = s->ops->commit(s, e);
		else
			s->ops->rollback(s);
	} else {
		s->ops->rollback(s);
	}
	if (rc == 0) {
		/* The request's context (address, request ID, note) stays as the edge set it. */
		memcpy(out->user_id, u.id, sizeof out->user_id);
		memcpy(out->user_name, u.name, sizeof out->user_name);
		out->role = u.role;
		memcpy(out->cert_fp, ss.cert_fp, sizeof out->cert_fp);
		memcpy(out->session, h, sizeof out->session);
		out->has_session = true;
	}
	store_user_clear(&u);
	return rc;
fail:
	s->ops->rollback(s);
	return rc;
}

int vault_actor_current(struct vault *v, const struct vault_actor *a, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_session ss;
	struct store_user u;
	bool disabled;
	int rc;

	if (!a || !a->has_session)
		return 0; /* offline acts: no session to end */
	rc = s->ops->session_get(s, a->session, &ss, e);
	if (rc == KINKO_EAUTH) /* no such session (any more) */
		return kinko_err_set(e, KINKO_EAUTH,
				     "your session ended while this ran (logout, a new password, "
				     "a revoked certificate); nothing was stored");
	if (rc)
		return rc;
	/* Its idle time does not run out while it streams, and the commit is its
	 * activity (called inside the commit's transaction); its absolute lifetime
	 * does run out. */
	if (vault_now() - ss.created_at > (int64_t)v->cfg.session_max_seconds)
		return kinko_err_set(e, KINKO_EAUTH,
				     "your session reached its maximum lifetime while this ran; log "
				     "in again; nothing was stored");
	rc = s->ops->session_touch(s, a->session, vault_now(), e);
	if (rc)
		return rc;
	rc = s->ops->user_get(s, a->user_id, NULL, &u, e);
	if (rc)
		return rc == KINKO_ENOENT ? kinko_err_set(e, KINKO_EAUTH, "the account is gone") : rc;
	disabled = u.disabled;
	store_user_clear(&u);
	return disabled ? kinko_err_set(e, KINKO_EAUTH,
					"the account was disabled while this ran; nothing was stored")
			: 0;
}

int vault_logout(struct vault *v, const struct vault_actor *a, const char *token,
		 struct kinko_err *e)
{
	struct store *s = v->store;
	uint8_t h[32];
	int rc;

	if (!token_syntax_ok(token))
		return kinko_err_set(e, KINKO_EAUTH, "no valid session token");
	token_hash(token, h);
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = s->ops->session_delete(s, h, e);
	if (rc == 0)
		rc = vault_audit(v, a, "auth.logout", NULL, a->user_id, NULL, 0, 200, e);
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	return s->ops->commit(s, e);
}

/* ---------------------------------------------------------------- user admin */

static bool may_admin_users(const struct vault_actor *a)
{
	return a->role == ROLE_MANAGER;
}

int vault_user_create(struct vault *v, const struct vault_actor *a,
		      const struct vault_user_new *n, struct vault_user_info *out,
		      char password_out[64], struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_user u;
	struct cidr_list l;
	char pw[64];
	int rc;

	if (!may_admin_users(a))
		return kinko_err_set(e, KINKO_EPERM, "only a manager may create accounts");
	rc = vault_user_name_check(n->name, e);
	if (rc)
		return rc;
	if (n->role < ROLE_MANAGER || n->role > ROLE_OPERATOR)
		return kinko_err_set(e, KINKO_EINVAL,
				     "role must be manager, handler, auditor or operator");
	if (n->allowed_cidrs && n->allowed_cidrs[0]) {
		rc = cidr_list_parse(n->allowed_cidrs, &l, e);
		if (rc)
			return rc;
		if (strlen(n->allowed_cidrs) >= sizeof u.allowed_cidrs)
			return kinko_err_set(e, KINKO_EINVAL, "allowed_cidrs is too long");
	}
	if (n->password) {
		rc = password_check(n->password, e);
		if (rc)
			return rc;
		if (strlen(n->password) >= sizeof pw) /* before a copy is made */
			return kinko_err_set(e, KINKO_EINVAL, "passwords longer than 63 bytes are not supported here");
		snprintf(pw, sizeof pw, "%s", n->password);
	} else if (vault_gen_password(pw)) {
		return kinko_err_set(e, KINKO_ECRYPTO, "cannot generate a password");
	}
	memset(&u, 0, sizeof u);
	kbuf_init(&u.totp_sealed, 1024);
	store_new_id(u.id);
	snprintf(u.name, sizeof u.name, "%s", n->name);
	u.role = n->role;
	snprintf(u.allowed_cidrs, sizeof u.allowed_cidrs, "%s",
		 n->allowed_cidrs ? n->allowed_cidrs : "");
	u.created_at = vault_now();
	rc = hash_password(v, pw, u.pw_hash, e);
	if (rc)
		goto out;
	rc = s->ops->begin(s, e);
	if (rc)
		goto out;
	rc = s->ops->user_insert(s, &u, e);
	if (rc == 0)
		rc = vault_audit(v, a, "user.create", NULL, u.id, NULL, 0, 201, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	if (rc == 0) {
		vault_user_to_info(&u, u.created_at, out);
		if (password_out)
			memcpy(password_out, pw, sizeof pw);
	}
out:
	kinko_wipe(pw, sizeof pw);
	store_user_clear(&u);
	return rc;
}

int vault_user_update(struct vault *v, const struct vault_actor *a, const char *id,
		      const struct vault_user_change *c, struct vault_user_info *out,
		      struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_user u;
	struct cidr_list l;
	char new_hash[KINKO_PWHASH_LEN] = "";
	bool self = !strcmp(a->user_id, id);
	int rc;

	/* A user may change their own password; everything else is a manager's act. */
	if (!may_admin_users(a) && !(self && c->password && !c->disabled && !c->allowed_cidrs &&
				     !c->unlock))
		return kinko_err_set(e, KINKO_EPERM, "only a manager may change accounts");
	if (c->disabled && *c->disabled && self)
		return kinko_err_set(e, KINKO_EINVAL, "you cannot disable your own account");
	if (c->password) {
		rc = password_check(c->password, e);
		if (rc)
			return rc;
	}
	if (c->allowed_cidrs && c->allowed_cidrs[0]) {
		rc = cidr_list_parse(c->allowed_cidrs, &l, e);
		if (rc)
			return rc;
	}
	if (c->allowed_cidrs && strlen(c->allowed_cidrs) >= sizeof u.allowed_cidrs)
		return kinko_err_set(e, KINKO_EINVAL, "allowed_cidrs is too long");
	if (c->password && (rc = hash_password(v, c->password, new_hash, e)) != 0)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc) {
		kinko_wipe(new_hash, sizeof new_hash);
		return rc;
	}
	rc = s->ops->user_get(s, id, NULL, &u, e);
	if (rc) {
		s->ops->rollback(s);
		kinko_wipe(new_hash, sizeof new_hash);
		return rc;
	}
	/* Otherwise one manager could take over another's account and act in its name. */
	if (c->password && !self && u.role == ROLE_MANAGER) {
		s->ops->rollback(s);
		store_user_clear(&u);
		kinko_wipe(new_hash, sizeof new_hash);
		return kinko_err_set(e, KINKO_EPERM,
				     "only a manager may set their own password; to replace a "
				     "manager who lost theirs, disable that account and create a "
				     "new one");
	}
	if (c->disabled)
		u.disabled = *c->disabled;
	if (c->allowed_cidrs)
		snprintf(u.allowed_cidrs, sizeof u.allowed_cidrs, "%s", c->allowed_cidrs);
	if (c->unlock) {
		u.locked_until = 0;
		u.failed_logins = 0;
	}
	if (c->password)
		memcpy(u.pw_hash, new_hash, sizeof u.pw_hash);
	kinko_wipe(new_hash, sizeof new_hash);
	rc = s->ops->user_update(s, &u, e);
	/* Disabling or a new password ends every session of the account. */
	if (rc == 0 && ((c->disabled && *c->disabled) || c->password))
		rc = s->ops->session_delete_user(s, u.id, e);
	if (rc == 0)
		rc = vault_audit(v, a, "user.update", NULL, u.id, NULL, 0, 200, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	if (rc == 0)
		vault_user_to_info(&u, vault_now(), out);
	store_user_clear(&u);
	return rc;
}

/* Loads one account (by ID or by name) as the info the API shows. */
static int user_info_load(struct vault *v, const char *id, const char *name,
			  struct vault_user_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_user u;
	int rc = s->ops->begin(s, e);

	if (rc)
		return rc;
	rc = s->ops->user_get(s, id, name, &u, e);
	s->ops->rollback(s);
	if (rc)
		return rc;
	vault_user_to_info(&u, vault_now(), out);
	store_user_clear(&u);
	return 0;
}

int vault_user_get(struct vault *v, const struct vault_actor *a, const char *id,
		   struct vault_user_info *out, struct kinko_err *e)
{
	if (!may_admin_users(a) && strcmp(a->user_id, id))
		return kinko_err_set(e, KINKO_EPERM, "only a manager may look at other accounts");
	return user_info_load(v, id, NULL, out, e);
}

int vault_user_find(struct vault *v, const struct vault_actor *a, const char *name,
		    struct vault_user_info *out, struct kinko_err *e)
{
	if (!may_admin_users(a) && a->role != ROLE_AUDITOR && strcmp(a->user_name, name))
		return kinko_err_set(e, KINKO_EPERM, "only managers and auditors may look up accounts");
	if (vault_user_name_check(name, e))
		return kinko_err_set(e, KINKO_ENOENT, "no such user");
	return user_info_load(v, NULL, name, out, e);
}

struct user_list_ctx {
	int (*cb)(void *ctx, const struct vault_user_info *u);
	void *ctx;
	int64_t now;
};

static int user_list_row(void *ctx, const struct store_user *u)
{
	struct user_list_ctx *c = ctx;
	struct vault_user_info info;

	vault_user_to_info(u, c->now, &info);
	return c->cb(c->ctx, &info);
}

int vault_user_list(struct vault *v, const struct vault_actor *a, const char *after_name,
		    unsigned limit, int (*cb)(void *ctx, const struct vault_user_info *u),
		    void *ctx, struct kinko_err *e)
{
	struct store *s = v->store;
	struct user_list_ctx c = {cb, ctx, vault_now()};
	int rc;

	if (!may_admin_users(a) && a->role != ROLE_AUDITOR)
		return kinko_err_set(e, KINKO_EPERM, "only managers and auditors may list accounts");
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = s->ops->user_list(s, after_name, limit, user_list_row, &c, e);
	s->ops->rollback(s);
	return rc;
}

int vault_user_totp_enroll(struct vault *v, const struct vault_actor *a, const char *id,
			   struct kbuf *uri, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_user u;
	uint8_t secret[TOTP_SECRET_LEN];
	char b32[2 * TOTP_SECRET_LEN + 1];
	struct kbuf sealed;
	int rc;

	if (!may_admin_users(a) && strcmp(a->user_id, id))
		return kinko_err_set(e, KINKO_EPERM, "only the user or a manager may enrol TOTP");
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	secret_totp_new(secret);
	kbuf_init(&sealed, 1024);
	rc = s->ops->begin(s, e);
	if (rc)
		goto out;
	rc = s->ops->user_get(s, id, NULL, &u, e);
	if (rc) {
		s->ops->rollback(s);
		goto out;
	}
	rc = kinko_key_seal(v->totp_key, u.id, secret, sizeof secret, &sealed, e);
	if (rc == 0) {
		kbuf_free(&u.totp_sealed);
		u.totp_sealed = sealed;
		kbuf_init(&sealed, 0);
		u.totp_last_step = 0;
		rc = s->ops->user_update(s, &u, e);
	}
	if (rc == 0)
		rc = vault_audit(v, a, "user.totp", NULL, u.id, NULL, 0, 200, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	if (rc == 0) {
		secret_base32_encode(secret, sizeof secret, b32);
		kbuf_reset(uri);
		rc = kbuf_appendf(uri,
				  "otpauth://totp/kinko:%s?secret=%s&issuer=kinko&algorithm=SHA1"
				  "&digits=6&period=30",
				  u.name, b32);
		kinko_wipe(b32, sizeof b32);
	}
	store_user_clear(&u);
out:
	kbuf_free(&sealed);
	kinko_wipe(secret, sizeof secret);
	vault_leave(v);
	return rc;
}

int vault_user_cert_issue(struct vault *v, const struct vault_actor *a, const char *id,
			  unsigned days, struct kbuf *cert_pem, struct kbuf *key_pem,
			  struct kbuf *p12, char p12_password[64], char fingerprint[65],
			  struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_user u;
	struct tls_bundle b;
	struct kinko_key *k = NULL;
	char capw[65], tlsdir[4096], pw[64];
	int64_t now = vault_now();
	int rc;

	if (!may_admin_users(a))
		return kinko_err_set(e, KINKO_EPERM, "only a manager may issue certificates");
	if (days == 0 || days > 825)
		return kinko_err_set(e, KINKO_EINVAL, "days must be 1 to 825");
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc)
		goto out;
	rc = s->ops->user_get(s, id, NULL, &u, e);
	s->ops->rollback(s);
	if (rc)
		goto out;
	rc = keyring_derive(v->kr, "ca-key", &k, e);
	if (rc) {
		store_user_clear(&u);
		goto out;
	}
	format_hex(k->k, KINKO_KEY_LEN, capw);
	kinko_key_free(k);
	memset(&b, 0, sizeof b);
	if (vault_gen_password(pw))
		rc = kinko_err_set(e, KINKO_ECRYPTO, "cannot generate a password");
	else if (vault_path(v, tlsdir, sizeof tlsdir, "tls"))
		rc = kinko_err_set(e, KINKO_EINVAL, "path too long");
	else
		rc = tls_client_issue(tlsdir, capw, u.name, u.id, now - 300,
				      now + (int64_t)days * 86400, pw, &b, e);
	store_user_clear(&u);
	kinko_wipe(capw, sizeof capw);
	/* The issue is on record (the certificate list and the audit log) before the
	 * bundle leaves the server. */
	if (rc == 0) {
		rc = s->ops->begin(s, e);
		if (rc == 0) {
			struct store_cert c = {.issued_at = now,
					       .not_after = now + (int64_t)days * 86400};
			memcpy(c.fingerprint, b.fingerprint, sizeof c.fingerprint);
			snprintf(c.user_id, sizeof c.user_id, "%s", id);
			rc = s->ops->cert_insert(s, &c, e);
			if (rc == 0)
				rc = vault_audit(v, a, "user.certificate", NULL, id, b.fingerprint,
						 0, 201, e);
			if (rc == 0)
				rc = s->ops->commit(s, e);
			else
				s->ops->rollback(s);
		}
	}
	if (rc == 0) {
		kbuf_free(cert_pem);
		kbuf_free(key_pem);
		kbuf_free(p12);
		*cert_pem = b.cert_pem;
		*key_pem = b.key_pem;
		*p12 = b.p12;
		memcpy(p12_password, pw, 64);
		memcpy(fingerprint, b.fingerprint, 65);
	} else {
		tls_bundle_free(&b);
	}
	kinko_wipe(pw, sizeof pw);
out:
	vault_leave(v);
	return rc;
}

/* ---------------------------------------------------------------- certificates */

static void cert_info(const struct store_cert *c, struct vault_cert_info *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->fingerprint, c->fingerprint, sizeof out->fingerprint);
	memcpy(out->user_id, c->user_id, sizeof out->user_id);
	out->issued_at = c->issued_at;
	out->not_after = c->not_after;
	out->revoked_at = c->revoked_at;
	memcpy(out->revoked_by, c->revoked_by, sizeof out->revoked_by);
}

/* 64 lowercase hex digits, as tls_peer_verify and the issue answer give it. */
static int check_fingerprint(const char *fp, struct kinko_err *e)
{
	size_t i;

	for (i = 0; fp && i < 64; i++)
		if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f')))
			break;
	if (!fp || i != 64 || fp[64] != '\0')
		return kinko_err_set(e, KINKO_EINVAL,
				     "a certificate fingerprint is 64 lowercase hex digits "
				     "(SHA-256 of the certificate; see kinko cert list)");
	return 0;
}

struct cert_list_ctx {
	int (*cb)(void *ctx, const struct vault_cert_info *c);
	void *ctx;
};

static int cert_list_row(void *ctx, const struct store_cert *c)
{
	struct cert_list_ctx *l = ctx;
	struct vault_cert_info info;

	cert_info(c, &info);
	return l->cb(l->ctx, &info);
}

int vault_cert_list(struct vault *v, const struct vault_actor *a, const char *user_id,
		    int64_t after_issued, const char *after_fp, unsigned limit,
		    int (*cb)(void *ctx, const struct vault_cert_info *c), void *ctx,
		    struct kinko_err *e)
{
	struct store *s = v->store;
	struct cert_list_ctx l = {cb, ctx};
	int rc;

	if (!may_admin_users(a) && a->role != ROLE_AUDITOR)
		return kinko_err_set(e, KINKO_EPERM,
				     "only managers and auditors may list certificates");
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = s->ops->cert_list(s, user_id, after_issued, after_fp, limit, cert_list_row, &l, e);
	s->ops->rollback(s);
	return rc;
}

int vault_cert_revoke(struct vault *v, const struct vault_actor *a, const char *fingerprint,
		      struct vault_cert_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_cert c;
	struct kinko_err ce;
	int rc;

	if (!may_admin_users(a))
		return kinko_err_set(e, KINKO_EPERM, "only a manager may revoke certificates");
	rc = check_fingerprint(fingerprint, e);
	if (rc)
		return rc;
	/* A manager who revoked the certificate in hand would have none left to
	 * manage with (the first manager's may be the only one). */
	if (!strcmp(fingerprint, a->cert_fp))
		return kinko_err_set(e, KINKO_ECONFLICT,
				     "this request is made with that certificate; revoke it from "
				     "another manager's session, or yours with a new certificate");
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = s->ops->cert_revoke(s, fingerprint, vault_now(), a->user_id, e);
	if (rc == 0)
		rc = s->ops->cert_get(s, fingerprint, &c, e);
	if (rc == 0)
		rc = s->ops->session_delete_cert(s, fingerprint, e);
	if (rc == 0)
		rc = vault_audit(v, a, "certificate.revoke", NULL, c.user_id, fingerprint, 0, 200, e);
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	rc = s->ops->commit(s, e);
	if ((rc == 0 || rc == KINKO_ENOTDURABLE) && vault_revoked_add(v, fingerprint) != 0)
		fprintf(stderr, "kinko: ALERT: a revoked certificate could not be added to the "
				"in-memory list; its row still refuses it\n");
	/* Signed at once, so that the revocation cannot be cut from the log's unsigned
	 * end and undone by putting the certificate's older row back. */
	if (rc == 0 && signed_checkpoint(v, &ce) != 0)
		fprintf(stderr, "kinko: ALERT: a revocation is not yet covered by a signed "
				"checkpoint (the next one covers it): %s\n",
			ce.msg);
	if (rc == 0 && out)
		cert_info(&c, out);
	return rc;
}

/* How long before its record a certificate's validity starts (tls_client_issue is
 * given now - 300), with room for a slow issue. */
#define CERT_BACKDATE_MAX 900

/* A certificate kinko issued with no row on its list: fine if it was issued before
 * the list began (older vaults), refused after. Sealed, nothing is decided. */
static int missing_row(struct store *s, int64_t not_before, struct kinko_err *e)
{
	int64_t since = 0;
	bool marked = false;
	int rc = s->ops->rows_marked(s, &marked, &since, e);

	if (rc == KINKO_ESEALED)
		return 0;
	if (rc == 0 && (!marked || not_before + CERT_BACKDATE_MAX >= since))
		rc = kinko_err_set(e, KINKO_EPERM,
				   "this client certificate is not on kinko's list of issued "
				   "certificates, though it was issued after that list began: its "
				   "record was removed; ask a manager for a new one");
	return rc;
}

int vault_cert_check(struct vault *v, const char *fingerprint, bool kinko_issued,
		     int64_t not_before, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_cert c = {0};
	struct kinko_err ge;
	int rc;

	if (!v->revoked_loaded)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "the revocations on record in the audit log are not read yet");
	if (vault_revoked_has(v, fingerprint))
		return kinko_err_set(e, KINKO_EPERM,
				     "this client certificate was revoked (on record in the audit log); "
				     "ask a manager for a new one (kinko cert issue)");
	rc = s->ops->begin_read(s, e);
	if (rc)
		return rc;
	rc = s->ops->cert_get(s, fingerprint, &c, &ge);
	if (rc == KINKO_ESEALED) /* only status and unseal answer: obey a stored revocation */
		rc = s->ops->cert_revoked_unverified(s, fingerprint, &c.revoked_at, &ge);
	else if (rc == KINKO_ENOENT)
		rc = kinko_issued ? missing_row(s, not_before, &ge) : 0;
	s->ops->rollback(s);
	if (rc) {
		if (e)
			*e = ge;
		return rc;
	}
	if (c.revoked_at) {
		char when[32];
		time_t t = (time_t)c.revoked_at;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
		return kinko_err_set(e, KINKO_EPERM,
				     "this client certificate was revoked on %s; ask a manager "
				     "for a new one (kinko cert issue)", when);
	}
	return 0;
}
