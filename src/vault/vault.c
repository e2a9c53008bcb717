/* The data directory's life cycle: init, open, seal/unseal, garbage collection. */
#include "vault/vault_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/event.h"
#include "core/fstree.h"
#include "core/parse.h"
#include "core/stream.h"
#include "core/tmpfile.h"
#include "crypto/crypto.h"
#include "crypto/password.h"
#include "crypto/secret.h"
#include "tls/tls.h"

#define META_MASTER "master_sealed"

int64_t vault_now(void)
{
	return (int64_t)time(NULL);
}

int vault_path(const struct vault *v, char *out, size_t cap, const char *fmt, ...)
{
	char rel[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof rel)
		return KINKO_EINVAL;
	n = snprintf(out, cap, "%s/%s", v->dir, rel);
	return (n < 0 || (size_t)n >= cap) ? KINKO_EINVAL : 0;
}

int vault_blob_path(const struct vault *v, const char *object_id, bool tmp, char *out, size_t cap)
{
	if (tmp)
		return vault_path(v, out, cap, "blobs/tmp/%s.part", object_id);
	return vault_path(v, out, cap, "blobs/%.2s/%s", object_id, object_id);
}

const struct kinko_config *vault_config(const struct vault *v)
{
	return &v->cfg;
}

const char *vault_dir(const struct vault *v)
{
	return v->dir;
}

int vault_enter(struct vault *v, struct kinko_err *e)
{
	if (atomic_load(&v->sealing))
		return kinko_err_set(e, KINKO_ESEALED,
				     "the vault is being sealed; an operator must unseal it again "
				     "(kinko unseal)");
	pthread_rwlock_rdlock(&v->seal_lock);
	if (!v->kr) {
		pthread_rwlock_unlock(&v->seal_lock);
		return kinko_err_set(e, KINKO_ESEALED,
				     "the vault is sealed; an operator must unseal it (kinko unseal)");
	}
	return 0;
}

void vault_leave(struct vault *v)
{
	pthread_rwlock_unlock(&v->seal_lock);
}

bool vault_seal_pending(struct vault *v)
{
	return atomic_load(&v->sealing) != 0;
}

bool vault_is_sealed(struct vault *v)
{
	bool sealed;

	pthread_rwlock_rdlock(&v->seal_lock);
	sealed = v->kr == NULL;
	pthread_rwlock_unlock(&v->seal_lock);
	return sealed;
}

static int mkdir_private(const char *path, struct kinko_err *e)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return kinko_err_set(e, KINKO_EIO, "cannot create %s: %s", path, strerror(errno));
	return 0;
}

static int make_dirs(struct vault *v, struct kinko_err *e)
{
	static const char *sub[] = {"blobs", "blobs/tmp", "clients"};
	char p[4096];

	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		int rc;
		if (vault_path(v, p, sizeof p, "%s", sub[i]))
			return kinko_err_set(e, KINKO_EINVAL, "the data directory path is too long");
		rc = mkdir_private(p, e);
		if (rc)
			return rc;
	}
	return 0;
}

/* The CA key's password is derived from the master key, so issuing certificates
 * needs an unsealed vault and the CA key on disk is useless without it. */
static int row_key_install(struct vault *v, const struct keyring *kr, struct kinko_err *e);

static int ca_password(struct keyring *kr, char out[65], struct kinko_err *e)
{
	struct kinko_key *k;
	int rc = keyring_derive(kr, "ca-key", &k, e);

	if (rc)
		return rc;
	format_hex(k->k, KINKO_KEY_LEN, out);
	kinko_key_free(k);
	return 0;
}

_Static_assert(VAULT_SERVER_NAMES_MAX == TLS_SERVER_NAMES_MAX &&
		       sizeof(((struct vault_server_cert *)0)->names[0]) == TLS_SERVER_NAME_LEN + 1,
	       "vault_server_cert holds what tls_server_names does");

int vault_server_cert_renew(struct vault *v, const char *const *names, size_t nnames,
			    struct vault_server_cert *out, struct kinko_err *e)
{
	struct tls_server_names cur;
	struct tls_server_renewal r;
	const char *keep[TLS_SERVER_NAMES_MAX];
	size_t dropped = 0;
	char tlsdir[4096], capw[65];
	int rc;

	if (vault_path(v, tlsdir, sizeof tlsdir, "tls"))
		return kinko_err_set(e, KINKO_EINVAL, "the data directory path is too long");
	if (!names || nnames == 0) { /* the names of the certificate it replaces */
		rc = tls_server_names_read(tlsdir, &cur, e);
		if (rc)
			return rc;
		for (size_t i = 0; i < cur.n; i++)
			keep[i] = cur.name[i];
		names = keep;
		nnames = cur.n;
		dropped = cur.dropped;
	}
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	rc = ca_password(v->kr, capw, e);
	vault_leave(v);
	if (rc)
		return rc;
	rc = tls_server_renew(tlsdir, capw, names, nnames, &r, e);
	kinko_wipe(capw, sizeof capw);
	if (rc)
		return rc;
	/* On record before it is in place: a failed audit leaves the old pair. */
	rc = v->store->ops->begin(v->store, e);
	if (rc == 0) {
		rc = vault_audit(v, NULL, "tls.server_certificate", NULL, r.fingerprint, NULL, 0,
				 200, e);
		if (rc == 0)
			rc = v->store->ops->commit(v->store, e);
		else
			v->store->ops->rollback(v->store);
	}
	if (rc) {
		tls_server_renew_discard(&r);
		return rc;
	}
	memcpy(out->fingerprint, r.fingerprint, sizeof out->fingerprint);
	out->not_after = r.not_after;
	out->nnames = nnames;
	out->dropped = dropped;
	for (size_t i = 0; i < nnames; i++)
		snprintf(out->names[i], sizeof out->names[i], "%s", names[i]);
	rc = tls_server_renew_install(&r, e);
	if (rc && vault_audit_standalone(v, NULL, "tls.server_certificate", 500, NULL) && e) {
		char msg[sizeof e->msg];
		memcpy(msg, e->msg, sizeof msg);
		kinko_err_set(e, rc, "%.400s (and the failure could not be audited)", msg);
	}
	return rc;
}

int vault_gen_password(char out[64])
{
	/* The same generator as package passwords: no look-alikes, >= 128 bits. */
	return password_generate(PASSWORD_MIN_BITS, out, 64);
}

static int vault_alloc(const char *dir, struct vault **out, struct kinko_err *e)
{
	struct vault *v = calloc(1, sizeof *v);
	size_t n = strlen(dir);

	if (!v)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof v->dir - 64) {
		free(v);
		return kinko_err_set(e, KINKO_EINVAL, "the data directory path is empty or too long");
	}
	memcpy(v->dir, dir, n);
	v->dir[n] = '\0';
	pthread_rwlock_init(&v->seal_lock, NULL);
	pthread_mutex_init(&v->scan_mu, NULL);
	pthread_mutex_init(&v->unseal_mu, NULL);
	pthread_mutex_init(&v->revoked_mu, NULL);
	pthread_mutex_init(&v->checkpoint_mu, NULL);
	sem_init(&v->pw_slots, 0, PW_VERIFY_AT_ONCE);
	config_defaults(&v->cfg);
	*out = v;
	return 0;
}

/* Removes what a failed init wrote in dir (which was new or empty), and dir itself
 * when init created it. */
static void init_undo(const char *dir, bool created)
{
	kinko_remove_tree(AT_FDCWD, dir, !created);
}

int vault_init(const struct vault_init_opts *o, struct vault_init_result *out,
	       struct kinko_err *e)
{
	static const char *default_names[] = {"localhost", "127.0.0.1", "::1"};
	struct vault_init_result r;
	struct vault *v = NULL;
	struct kbuf sealed;
	struct store_user u;
	struct tls_bundle bundle;
	char path[4096], capw[65];
	const char *mname = o->manager_name ? o->manager_name : "admin";
	bool created = false;
	uint64_t digested = 0;
	int rc;

	memset(&r, 0, sizeof r);
	memset(&u, 0, sizeof u);
	memset(&bundle, 0, sizeof bundle);
	kbuf_init(&sealed, 4096);
	rc = vault_user_name_check(mname, e);
	if (rc)
		return rc;
	/* Everything the caller gave is checked before anything is created. */
	if (o->server_names && (o->nserver_names == 0 || o->nserver_names > TLS_SERVER_NAMES_MAX))
		return kinko_err_set(e, KINKO_EINVAL, "give between 1 and %d server names",
				     TLS_SERVER_NAMES_MAX);
	for (size_t i = 0; o->server_names && i < o->nserver_names; i++) {
		rc = tls_server_name_check(o->server_names[i], e);
		if (rc)
			return rc;
	}
	if (mkdir(o->dir, 0700) == 0) {
		created = true;
	} else {
		if (errno != EEXIST)
			return kinko_err_set(e, KINKO_EIO, "cannot create %s: %s", o->dir,
					     strerror(errno));
		DIR *d = opendir(o->dir);
		struct dirent *de;
		bool empty = true;
		if (!d)
			return kinko_err_set(e, KINKO_EIO, "cannot read %s: %s", o->dir,
					     strerror(errno));
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				empty = false;
		closedir(d);
		if (!empty)
			return kinko_err_set(e, KINKO_EEXIST,
					     "%s is not empty; kinko init needs a new or empty directory",
					     o->dir);
		if (chmod(o->dir, 0700) != 0)
			return kinko_err_set(e, KINKO_EIO, "cannot chmod %s: %s", o->dir,
					     strerror(errno));
	}
	rc = vault_alloc(o->dir, &v, e);
	if (rc) {
		init_undo(o->dir, created);
		return rc;
	}
	rc = make_dirs(v, e);
	if (rc == 0 && vault_path(v, path, sizeof path, "kinko.conf") == 0)
		rc = config_write_default(path, e);
	if (rc == 0 && vault_path(v, path, sizeof path, "kinko.db") == 0)
		rc = store_sqlite_open(path, true, &v->store, e);
	if (rc == 0)
		rc = keyring_create(o->secret_kind, o->secret, o->secret_len, &sealed, &v->kr, e);
	if (rc == 0)
		rc = row_key_install(v, v->kr, e);
	if (rc == 0)
		rc = ca_password(v->kr, capw, e);
	if (rc == 0 && vault_path(v, path, sizeof path, "tls") == 0)
		rc = tls_pki_create(path, o->server_names ? o->server_names : default_names,
				    o->server_names ? o->nserver_names : 3, capw, e);
	if (rc)
		goto out;

	store_new_id(u.id);
	snprintf(u.name, sizeof u.name, "%s", mname);
	u.role = ROLE_MANAGER;
	u.created_at = vault_now();
	kbuf_init(&u.totp_sealed, 1024);
	rc = vault_gen_password(r.manager_password);
	if (rc == 0)
		rc = secret_password_hash(r.manager_password, u.pw_hash, e);
	if (rc)
		goto out;
	rc = v->store->ops->begin(v->store, e);
	if (rc)
		goto out;
	rc = v->store->ops->meta_put(v->store, META_MASTER, sealed.data, sealed.len, e);
	if (rc == 0)
		rc = v->store->ops->user_insert(v->store, &u, e);
	if (rc == 0)
		rc = vault_log_key_create(v, e);
	if (rc == 0)
		rc = vault_audit(v, NULL, "vault.init", NULL, u.id, NULL, 0, 200, e);
	if (rc == 0) /* authenticated from the first row on: the mark, and its record */
		rc = v->store->ops->rows_adopt(v->store, false, u.created_at, &(uint64_t){0}, e);
	if (rc == 0)
		rc = vault_audit(v, NULL, "store.rows_authenticated", NULL, NULL, NULL, 0, 200, e);
	if (rc == 0) /* and the digest of their set, with its record */
		rc = v->store->ops->rows_digest_reset(v->store, &digested, e);
	if (rc == 0)
		rc = vault_audit(v, NULL, "store.rows_digest", NULL, NULL, NULL, digested, 200, e);
	if (rc) {
		v->store->ops->rollback(v->store);
		goto out;
	}
	rc = v->store->ops->commit(v->store, e);
	if (rc)
		goto out;

	/* The first manager's client certificate. */
	rc = vault_gen_password(r.p12_password);
	if (rc)
		goto out;
	{
		char tlsdir[4096];
		int64_t now = vault_now();
		if (vault_path(v, tlsdir, sizeof tlsdir, "tls") ||
		    vault_path(v, r.client_dir, sizeof r.client_dir, "clients/%s", u.name)) {
			rc = kinko_err_set(e, KINKO_EINVAL, "path too long");
			goto out;
		}
		rc = tls_client_issue(tlsdir, capw, u.name, u.id, now - 300,
				      now + 365LL * 86400, r.p12_password, &bundle, e);
		if (rc)
			goto out;
		{ /* on the certificate list, like every certificate issued later */
			struct store_cert c = {.issued_at = now, .not_after = now + 365LL * 86400};
			memcpy(c.fingerprint, bundle.fingerprint, sizeof c.fingerprint);
			memcpy(c.user_id, u.id, sizeof c.user_id);
			rc = v->store->ops->begin(v->store, e);
			if (rc == 0 && (rc = v->store->ops->cert_insert(v->store, &c, e)) != 0)
				v->store->ops->rollback(v->store);
			else if (rc == 0)
				rc = v->store->ops->commit(v->store, e);
			if (rc)
				goto out;
		}
		rc = mkdir_private(r.client_dir, e);
		if (rc)
			goto out;
		static const struct {
			const char *file;
			mode_t mode;
		} files[] = {{"client.pem", 0644}, {"client.key", 0600}, {"client.p12", 0600}};
		const struct kbuf *bufs[] = {&bundle.cert_pem, &bundle.key_pem, &bundle.p12};
		for (size_t i = 0; rc == 0 && i < 3; i++) {
			if (vault_path(v, path, sizeof path, "clients/%s/%s", u.name, files[i].file))
				rc = kinko_err_set(e, KINKO_EINVAL, "path too long");
			else
				rc = kinko_file_write(path, bufs[i]->data, bufs[i]->len, files[i].mode,
						      KINKO_TMPFILE_DURABLE, e);
		}
	}
	if (rc)
		goto out;
	memcpy(r.manager_id, u.id, sizeof r.manager_id);
	*out = r;
out:
	kinko_wipe(capw, sizeof capw);
	kinko_wipe(&r, sizeof r);
	tls_bundle_free(&bundle);
	store_user_clear(&u);
	kbuf_free(&sealed);
	vault_close(v);
	/* A failed init leaves the directory as it found it: new or empty. */
	if (rc)
		init_undo(o->dir, created);
	return rc;
}

/* The file's first number, or 0 when it has none ("max", missing). */
static uint64_t read_u64_file(const char *path)
{
	char buf[64];
	uint64_t n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	if (fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (parse_u64(buf, UINT64_MAX, &n))
			n = 0;
	}
	fclose(f);
	return n;
}

/* The memory this process may use: the machine's RAM, or the memory limit of the
 * control group it runs in when that is lower (cgroup v2, then v1). */
static uint64_t memory_limit(void)
{
	static const char *const limits[] = {"/sys/fs/cgroup/memory.max",
					     "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t m = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : (uint64_t)2 << 30;

	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		uint64_t l = read_u64_file(limits[i]);
		if (l && l < m)
			m = l;
	}
	return m;
}

static int revoked_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int vault_revoked_add(struct vault *v, const char *fingerprint)
{
	int rc = 0;

	if (strlen(fingerprint) != 64)
		return KINKO_EINVAL;
	pthread_mutex_lock(&v->revoked_mu);
	if (!v->n_revoked ||
	    !bsearch(fingerprint, v->revoked, v->n_revoked, sizeof *v->revoked, revoked_cmp)) {
		if (v->n_revoked == v->cap_revoked) {
			size_t cap = v->cap_revoked ? 2 * v->cap_revoked : 64;
			void *p = realloc(v->revoked, cap * sizeof *v->revoked);
			if (!p)
				rc = KINKO_ENOMEM;
			else {
				v->revoked = p;
				v->cap_revoked = cap;
			}
		}
		if (rc == 0) {
			size_t i = v->n_revoked;
			while (i > 0 && strcmp(v->revoked[i - 1], fingerprint) > 0) {
				memcpy(v->revoked[i], v->revoked[i - 1], sizeof *v->revoked);
				i--;
			}
			memcpy(v->revoked[i], fingerprint, 65);
			v->n_revoked++;
		}
	}
	pthread_mutex_unlock(&v->revoked_mu);
	return rc;
}

bool vault_revoked_has(struct vault *v, const char *fingerprint)
{
	bool has;

	pthread_mutex_lock(&v->revoked_mu);
	has = v->n_revoked &&
	      bsearch(fingerprint, v->revoked, v->n_revoked, sizeof *v->revoked, revoked_cmp);
	pthread_mutex_unlock(&v->revoked_mu);
	return has;
}

/* ---- The log's events of one action (inside the caller's transaction) ---- */

struct action_scan {
	char tag[AUDIT_ACTION_MAX + 16]; /* "action":"<name>" as the encoder writes it */
	size_t tag_len;
	const char *action;
	int (*cb)(void *ctx, const struct audit_event *ev); /* non-zero stops the scan */
	void *ctx;
	uint64_t bad_seq;
	bool bad;
};

static int action_scan_cb(void *ctx, uint64_t seq, const uint8_t *p, size_t n)
{
	struct action_scan *as = ctx;
	struct audit_event ev;

	/* Most events are something else: only those naming the action are decoded.
	 * The decoder accepts only the encoder's exact bytes, so an event of that
	 * action that decodes always holds the tag. */
	if (!memmem(p, n, as->tag, as->tag_len))
		return 0;
	if (audit_event_decode(p, n, &ev, NULL) != 0) {
		as->bad = true;
		as->bad_seq = seq;
		return KINKO_EINTEGRITY;
	}
	return strcmp(ev.action, as->action) ? 0 : as->cb(as->ctx, &ev);
}

/* Passes each event of `action` to cb, in log order, until cb returns non-zero
 * (then that code). An event naming the action that does not decode:
 * KINKO_EINTEGRITY, naming it. */
static int log_scan_action(struct store *s, const char *action,
			   int (*cb)(void *ctx, const struct audit_event *ev), void *ctx,
			   struct kinko_err *e)
{
	struct action_scan as = {.action = action, .cb = cb, .ctx = ctx};
	int rc;

	as.tag_len = (size_t)snprintf(as.tag, sizeof as.tag, "\"action\":\"%s\"", action);
	rc = s->ops->audit_scan(s, 0, action_scan_cb, &as, e);
	if (as.bad)
		return kinko_err_set(e, KINKO_EINTEGRITY,
				     "event %llu of the audit log names %s but does not decode: "
				     "the store was altered; restore kinko.db from a backup",
				     (unsigned long long)as.bad_seq, action);
	return rc;
}

static int revoked_cb(void *ctx, const struct audit_event *ev)
{
	/* certificate.revoke names the account, then the certificate (auth.c). */
	if (ev->status == 200 && ev->ntargets == 2 && strlen(ev->targets[1]) == 64)
		return vault_revoked_add(ctx, ev->targets[1]);
	return 0;
}

int vault_revocations_load(struct vault *v, struct kinko_err *e)
{
	struct store *s = v->store;
	int rc = s->ops->begin_read(s, e);

	if (rc)
		return rc;
	rc = log_scan_action(s, "certificate.revoke", revoked_cb, v, e);
	s->ops->rollback(s);
	if (rc && rc != KINKO_EINTEGRITY)
		return kinko_err_set(e, rc, "cannot read the revocations in the audit log");
	if (rc == 0)
		v->revoked_loaded = true;
	return rc;
}

int vault_open(const char *dir, struct vault **out, struct kinko_err *e)
{
	struct vault *v;
	char path[4096];
	struct stat st;
	int rc = vault_alloc(dir, &v, e);

	if (rc)
		return rc;
	if (stat(v->dir, &st) != 0) {
		rc = kinko_err_set(e, KINKO_ENOENT, "%s does not exist; create it with kinko init",
				   v->dir);
		goto fail;
	}
	if (st.st_mode & 0077) {
		rc = kinko_err_set(e, KINKO_EPERM,
				   "%s is accessible by other users (mode %o); run chmod 700 on it",
				   v->dir, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if (vault_path(v, path, sizeof path, "kinko.conf") == 0)
		rc = config_load(path, false, &v->cfg, e);
	if (rc)
		goto fail;
	{
		int n = v->cfg.clamd_socket[0] == '/'
				? snprintf(v->clamd_path, sizeof v->clamd_path, "%s", v->cfg.clamd_socket)
				: snprintf(v->clamd_path, sizeof v->clamd_path, "%s/%s", v->dir,
					   v->cfg.clamd_socket);
		if (n < 0 || (size_t)n >= sizeof v->clamd_path)
			v->clamd_path[0] = '\0'; /* reported by the scanner status */
	}
	v->scan_budget.max = v->cfg.scan_memory_max ? v->cfg.scan_memory_max : memory_limit() / 2;
	if (v->cfg.block_failures) {
		rc = addrblock_new((unsigned)v->cfg.block_failures, v->cfg.block_window_seconds,
				   v->cfg.block_seconds, &v->blocks, e);
		if (rc)
			goto fail;
	}
	if (vault_path(v, path, sizeof path, "kinko.db") == 0)
		rc = store_sqlite_open(path, false, &v->store, e);
	if (rc == 0)
		rc = make_dirs(v, e);
	if (rc)
		goto fail;
	*out = v;
	return 0;
fail:
	vault_close(v);
	return rc;
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	vault_seal(v);
	store_close(v->store);
	addrblock_free(v->blocks);
	pthread_rwlock_destroy(&v->seal_lock);
	pthread_mutex_destroy(&v->scan_mu);
	pthread_mutex_destroy(&v->unseal_mu);
	pthread_mutex_destroy(&v->revoked_mu);
	pthread_mutex_destroy(&v->checkpoint_mu);
	free(v->revoked);
	sem_destroy(&v->pw_slots);
	free(v);
}

static int unseal_locked(struct vault *v, bool audit, const struct vault_actor *a,
			 enum keyring_secret_kind kind, const uint8_t *secret, size_t len,
			 struct kinko_err *e);

/* Installs the key that authenticates the store's access rows (store.h). */
static int row_key_install(struct vault *v, const struct keyring *kr, struct kinko_err *e)
{
	struct kinko_key *k = NULL;
	int rc = keyring_derive(kr, "row-mac", &k, e);

	if (rc == 0)
		v->store->ops->set_row_key(v->store, k->k);
	kinko_key_free(k);
	return rc;
}

struct event_found {
	bool found;
	int64_t time; /* of the first such event, unix seconds */
};

#define EVENT_FOUND_STOP 1

static int event_found_cb(void *ctx, const struct audit_event *ev)
{
	struct event_found *f = ctx;

	f->found = true;
	f->time = ev->time_ms / 1000;
	return EVENT_FOUND_STOP;
}

/*
 * With the row key installed: makes sure the store's access rows are
 * authenticated, and that it keeps the digest of their set. A store made by this
 * version carries both from kinko init. A store upgraded from schema 6 or earlier
 * has rows without a MAC, which the first unseal adopts, as they are, and records
 * (store.rows_authenticated, with the number of rows); one made by a version
 * before the digest gets it at its first unseal, over the rows as they are
 * (store.rows_digest, with the number of rows it covers). Mark and digest sit in
 * kinko.db, so whether they were ever made is decided by the audit log, verified
 * against its signed checkpoints and the checkpoint file first (an event that
 * does not decode stops it): once store.rows_authenticated is on record, a missing
 * mark is put back, dated no later than the event, but no row is adopted again,
 * so rows added to the file later stay refused; once store.rows_digest is on
 * record (or store.rows_accepted), a missing digest is not made again (that
 * would take in whatever rows the file holds now): the vault unseals, so that
 * kinko check can still say what is wrong, but refuses every access decision
 * until a backup is restored or the operator accepts the rows as they are
 * (vault_rows_accept).
 */
static int rows_authenticate(struct vault *v, const struct vault_actor *a, bool *recorded,
			     struct kinko_err *e)
{
	struct store *s = v->store;
	struct event_found f = {0}, g = {0};
	struct vault_actor by = {0}; /* who unseals; the request's own event is vault.unseal */
	struct kinko_err problem;
	uint64_t adopted = 0, digested = 0;
	bool marked = false, kept = false;
	uint64_t n_events, n_checkpoints;
	int rc = s->ops->begin_read(s, e);

	if (a) {
		by = *a;
		by.note = NULL;
	}
	if (rc)
		return rc;
	rc = s->ops->rows_marked(s, &marked, NULL, e);
	if (rc == 0)
		rc = s->ops->rows_digest_kept(s, &kept, e);
	/* Unsealed all the same, so that kinko check can list what is wrong; every
	 * access decision is refused meanwhile. */
	if (rc == 0 && s->ops->rows_digest_problem(s, &problem) != 0)
		fprintf(stderr, "kinko: ALERT: %s\n", problem.msg);
	s->ops->rollback(s);
	if (rc || (marked && kept))
		return rc;
	rc = vault_log_verify(v, &n_events, &n_checkpoints, e);
	if (rc)
		return kinko_err_wrap(e, "the store does not say that its access records are "
					 "authenticated, and the audit log, which says whether they "
					 "were, does not verify");
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	/* again, in the write transaction */
	rc = s->ops->rows_marked(s, &marked, NULL, e);
	if (rc == 0)
		rc = s->ops->rows_digest_kept(s, &kept, e);
	if (rc || (marked && kept)) {
		s->ops->rollback(s);
		return rc;
	}
	if (!marked) {
		rc = log_scan_action(s, "store.rows_authenticated", event_found_cb, &f, e);
		if (rc == EVENT_FOUND_STOP)
			rc = 0;
		if (rc == 0)
			rc = s->ops->rows_adopt(s, !f.found, f.found ? f.time : vault_now(),
						&adopted, e);
		if (rc == 0)
			rc = vault_audit(v, a ? &by : NULL,
					 f.found ? "store.rows_mark_restored"
						 : "store.rows_authenticated",
					 NULL, NULL, NULL, adopted, 200, e);
	}
	/* A digest is made when none is on record; one the file holds before the
	 * rows are first adopted was not made by kinko, and goes. */
	if (rc == 0 && (!kept || (!marked && !f.found))) {
		rc = log_scan_action(s, "store.rows_digest", event_found_cb, &g, e);
		if (rc == EVENT_FOUND_STOP)
			rc = 0;
		if (rc == 0 && !g.found) {
			rc = log_scan_action(s, "store.rows_accepted", event_found_cb, &g, e);
			if (rc == EVENT_FOUND_STOP)
				rc = 0;
		}
		if (rc == 0 && g.found) {
			s->ops->rows_digest_expect(s);
			fprintf(stderr,
				"kinko: ALERT: the digest of the records that decide access, made "
				"on record in the audit log, is missing from kinko.db: it was "
				"removed outside kinko; every access decision is refused until it "
				"is resolved (docs/operations.md, \"When kinko check reports a "
				"problem\")\n");
		} else if (rc == 0) {
			rc = s->ops->rows_digest_reset(s, &digested, e);
			if (rc == 0)
				rc = vault_audit(v, a ? &by : NULL, "store.rows_digest", NULL, NULL,
						 NULL, digested, 200, e);
		}
	}
	if (rc) {
		s->ops->rollback(s);
		return kinko_err_wrap(e, "the store's access records could not be authenticated");
	}
	rc = s->ops->commit(s, e);
	*recorded = rc == 0 || rc == KINKO_ENOTDURABLE;
	return rc == KINKO_ENOTDURABLE ? 0 : rc;
}

int vault_rows_accept(struct vault *v, uint64_t *rows, struct kinko_err *e)
{
	struct store *s = v->store;
	struct kinko_err ce;
	int rc;

	*rows = 0;
	pthread_rwlock_rdlock(&v->seal_lock);
	rc = v->kr ? s->ops->begin(s, e)
		   : kinko_err_set(e, KINKO_ESEALED, "the vault is sealed; unseal it first");
	if (rc == 0) {
		rc = s->ops->rows_digest_reset(s, rows, e);
		if (rc == 0)
			rc = vault_audit(v, NULL, "store.rows_accepted", NULL, NULL, NULL, *rows, 200,
					 e);
		if (rc == 0)
			rc = s->ops->commit(s, e);
		else
			s->ops->rollback(s);
	}
	pthread_rwlock_unlock(&v->seal_lock);
	if (rc)
		return rc;
	if (signed_checkpoint(v, &ce) != 0)
		fprintf(stderr, "kinko: ALERT: the acceptance of the access records is not yet "
				"covered by a signed checkpoint: %s\n", ce.msg);
	return 0;
}

/* Each attempt costs Argon2id's memory: one at a time, others turned away. */
static int unseal_once(struct vault *v, bool audit, const struct vault_actor *a,
		       enum keyring_secret_kind kind, const uint8_t *secret, size_t len,
		       struct kinko_err *e)
{
	int rc;

	if (pthread_mutex_trylock(&v->unseal_mu) != 0)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "another unseal attempt is running; retry in a few seconds");
	rc = unseal_locked(v, audit, a, kind, secret, len, e);
	pthread_mutex_unlock(&v->unseal_mu);
	return rc;
}

int vault_unseal(struct vault *v, enum keyring_secret_kind kind, const uint8_t *secret,
		 size_t len, struct kinko_err *e)
{
	return unseal_once(v, false, NULL, kind, secret, len, e);
}

int vault_unseal_audited(struct vault *v, const struct vault_actor *a,
			 enum keyring_secret_kind kind, const uint8_t *secret, size_t len,
			 struct kinko_err *e)
{
	return unseal_once(v, true, a, kind, secret, len, e);
}

static int unseal_locked(struct vault *v, bool audit, const struct vault_actor *a,
			 enum keyring_secret_kind kind, const uint8_t *secret, size_t len,
			 struct kinko_err *e)
{
	bool rows_recorded = false;
	struct kinko_err ce;
	struct kbuf sealed;
	struct keyring *kr = NULL;
	struct kinko_key *totp = NULL;
	struct kinko_sign_key *logk = NULL;
	int rc;

	kbuf_init(&sealed, 0);
	rc = v->store->ops->begin(v->store, e);
	if (rc)
		return rc;
	rc = v->store->ops->meta_get(v->store, META_MASTER, &sealed, e);
	v->store->ops->rollback(v->store);
	if (rc)
		return rc == KINKO_ENOENT ? kinko_err_set(e, KINKO_EINTEGRITY,
							  "the store holds no sealed master key; "
							  "was it initialised with kinko init?")
					  : rc;
	rc = keyring_open(kind, secret, len, sealed.data, sealed.len, &kr, e);
	kbuf_free(&sealed);
	if (rc == 0)
		rc = keyring_derive(kr, "totp", &totp, e);
	if (rc == 0)
		rc = vault_log_key_open(v, kr, &logk, e);
	if (rc) {
		keyring_close(kr);
		kinko_key_free(totp);
		return rc;
	}
	pthread_rwlock_wrlock(&v->seal_lock);
	if (v->kr)
		rc = kinko_err_set(e, KINKO_ECONFLICT, "the vault is already unsealed");
	if (rc == 0 && (rc = row_key_install(v, kr, e)) == 0 &&
	    (rc = rows_authenticate(v, a, &rows_recorded, e)) != 0)
		v->store->ops->set_row_key(v->store, NULL);
	/* On record before the key is put to use; without the record, no unseal. */
	if (rc == 0 && audit) {
		rc = v->store->ops->begin(v->store, e);
		if (rc == 0) {
			rc = vault_audit(v, a, "vault.unseal", NULL, NULL, NULL, 0, 200, e);
			if (rc == 0)
				rc = v->store->ops->commit(v->store, e);
			else
				v->store->ops->rollback(v->store);
			if (rc && rc != KINKO_ENOTDURABLE)
				vault_audit_unrecord(a);
		}
		if (rc && rc != KINKO_ENOTDURABLE)
			rc = kinko_err_wrap(e, "the vault stays sealed: its unseal could not be recorded");
		else
			rc = 0; /* recorded (if not yet durable, the store now refuses changes) */
	}
	if (rc) {
		if (!v->kr) /* not when it was already unsealed */
			v->store->ops->set_row_key(v->store, NULL);
		pthread_rwlock_unlock(&v->seal_lock);
		keyring_close(kr);
		kinko_key_free(totp);
		kinko_sign_key_free(logk);
		return rc;
	}
	v->kr = kr;
	v->totp_key = totp;
	v->log_key = logk;
	pthread_rwlock_unlock(&v->seal_lock);
	/* Adopting rows or restoring their mark is decided by the log: signed at once,
	 * so the record cannot be cut from the log's unsigned end. */
	if (rows_recorded && signed_checkpoint(v, &ce) != 0)
		fprintf(stderr, "kinko: ALERT: the record that the store's access rows are "
				"authenticated is not yet covered by a signed checkpoint: %s\n",
			ce.msg);
	return 0;
}

int vault_key_file_read(const char *path, uint8_t **out, size_t *len, struct kinko_err *e)
{
	uint8_t *buf = kinko_secure_alloc(256);
	size_t n = 0;
	int fd;

	if (!buf)
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	/* Read as root when kinko serve starts as root, from a path kinko.conf may
	 * name: a regular file only (never a FIFO or a device), never through a final
	 * link, and never waiting on the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		kinko_secure_free(buf);
		return kinko_err_set(e, KINKO_EIO, "cannot read the key file %s: %s", path,
				     strerror(errno));
	}
	{
		struct stat st;
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			kinko_secure_free(buf);
			return kinko_err_set(e, KINKO_EINVAL, "the key file %s is not a regular file",
					     path);
		}
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, 256 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == 256)
			break;
	}
	close(fd);
	if (n >= 256) {
		kinko_secure_free(buf);
		return kinko_err_set(e, KINKO_EINVAL, "%s is not a kinko key file (too large)", path);
	}
	*out = buf;
	*len = n;
	return 0;
}

int vault_unseal_keyfile(struct vault *v, const char *path, struct kinko_err *e)
{
	uint8_t *buf;
	size_t n;
	int rc = vault_key_file_read(path, &buf, &n, e);

	if (rc)
		return rc;
	rc = vault_unseal(v, KEYRING_KEYFILE, buf, n, e);
	kinko_secure_free(buf);
	return rc;
}

void vault_set_seal_hook(struct vault *v, void (*fn)(void *ctx), void *ctx)
{
	v->seal_hook = fn;
	v->seal_hook_ctx = ctx;
}

void vault_seal(struct vault *v)
{
	atomic_fetch_add(&v->sealing, 1);
	if (v->seal_hook)
		v->seal_hook(v->seal_hook_ctx);
	pthread_rwlock_wrlock(&v->seal_lock);
	atomic_fetch_sub(&v->sealing, 1);
	if (v->store)
		v->store->ops->set_row_key(v->store, NULL);
	keyring_close(v->kr);
	kinko_key_free(v->totp_key);
	kinko_sign_key_free(v->log_key);
	v->kr = NULL;
	v->totp_key = NULL;
	v->log_key = NULL;
	pthread_rwlock_unlock(&v->seal_lock);
}

struct ref_set {
	char (*ids)[STORE_ID_LEN];
	size_t n, cap;
};

static int ref_add(void *ctx, const char *id)
{
	struct ref_set *s = ctx;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		void *p = realloc(s->ids, ncap * sizeof *s->ids);
		if (!p)
			return KINKO_ENOMEM;
		s->ids = p;
		s->cap = ncap;
	}
	snprintf(s->ids[s->n++], STORE_ID_LEN, "%s", id);
	return 0;
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int vault_blob_files(const struct vault *v, int (*cb)(void *ctx, int dirfd, const char *name,
						      bool tmp),
		     void *ctx, struct kinko_err *e)
{
	char path[4096];
	DIR *top;
	struct dirent *de;
	int topfd, rc = 0;

	/* Nothing here follows a symbolic link: the walk runs as root at start-up,
	 * and a link planted in blobs/ by whoever owns the data directory must not
	 * lead garbage collection to delete files elsewhere. */
	if (vault_path(v, path, sizeof path, "blobs"))
		return kinko_err_set(e, KINKO_EIO, "cannot read the blob directory");
	topfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (topfd < 0 || !(top = fdopendir(topfd))) {
		if (topfd >= 0)
			close(topfd);
		return kinko_err_set(e, KINKO_EIO,
				     "cannot read the blob directory (it must be a directory, not a "
				     "link): %s",
				     strerror(errno));
	}
	while (rc == 0 && (de = readdir(top))) {
		DIR *d;
		struct dirent *f;
		int dfd;
		bool tmp = !strcmp(de->d_name, "tmp");
		if (de->d_name[0] == '.')
			continue;
		dfd = openat(dirfd(top), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue; /* a file or a link where a directory should be: not ours */
		if (!(d = fdopendir(dfd))) {
			close(dfd);
			continue;
		}
		while (rc == 0 && (f = readdir(d))) {
			struct stat st;
			if (f->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(d), f->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			rc = cb(ctx, dirfd(d), f->d_name, tmp);
		}
		closedir(d);
	}
	closedir(top);
	return rc;
}

struct gc_run {
	struct ref_set refs;
	unsigned count;
};

static int collect_one(void *ctx, int dirfd, const char *name, bool tmp)
{
	struct gc_run *g = ctx;

	if ((tmp || !bsearch(name, g->refs.ids, g->refs.n, sizeof *g->refs.ids, ref_cmp)) &&
	    unlinkat(dirfd, name, 0) == 0)
		g->count++;
	return 0;
}

int vault_collect_garbage(struct vault *v, unsigned *removed, struct kinko_err *e)
{
	struct gc_run g = {0};
	int rc;

	/* The store lock is held while scanning, so no upload can commit a blob between
	 * the listing of references and the removal of files. Uploads in flight live in
	 * blobs/tmp and are only collected at start-up (before any upload can begin). */
	rc = v->store->ops->begin(v->store, e);
	if (rc)
		return rc;
	rc = v->store->ops->blob_refs(v->store, ref_add, &g.refs, e);
	if (rc) {
		v->store->ops->rollback(v->store);
		free(g.refs.ids);
		return rc == KINKO_ENOMEM ? kinko_err_set(e, rc, "out of memory") : rc;
	}
	qsort(g.refs.ids, g.refs.n, sizeof *g.refs.ids, ref_cmp);
	rc = vault_blob_files(v, collect_one, &g, e);
	v->store->ops->rollback(v->store);
	free(g.refs.ids);
	if (rc)
		return rc;
	*removed = g.count;
	return 0;
}
