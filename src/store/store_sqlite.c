/*
 * SQLite implementation of the store: WAL with group commit (see sq_commit), secure_delete,
 * foreign keys, numbered migrations (PRAGMA user_version). One connection per
 * store handle; a mutex taken by begin() and released by commit()/rollback()
 * serialises transactions between the server's threads.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "store/migrations.h"

enum hot_stmt {
	HOT_NODE_GET,
	HOT_NODE_PUT,
	HOT_EVENT_INSERT,
	HOT_SIZE,
	HOT_DATA_VERSION,
	HOT_COUNT
};

static const char *const hot_sql[HOT_COUNT] = {
	[HOT_NODE_GET] = "SELECT hash FROM audit_node WHERE level = ? AND idx = ?",
	[HOT_NODE_PUT] = "INSERT INTO audit_node(level, idx, hash) VALUES(?, ?, ?)",
	[HOT_EVENT_INSERT] = "INSERT INTO audit_event(seq, data) VALUES(?, ?)",
	[HOT_SIZE] = "SELECT coalesce(max(seq) + 1, 0) FROM audit_event",
	[HOT_DATA_VERSION] = "PRAGMA data_version",
};

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	pthread_mutex_t lock;
	bool in_tx;
	/* Group commit: COMMIT writes the WAL without syncing (synchronous=NORMAL);
	 * then each committer makes the WAL durable with fdatasync before it returns.
	 * One fdatasync covers every commit made before it started, so concurrent
	 * requests share it: commits/s can exceed the disk's fsync rate. */
	pthread_mutex_t sync_lock;
	/* A flush of the WAL failed. After a failed fsync the kernel may have dropped
	 * the dirty pages and a retry can report success for data that never reached
	 * the disk, so the store takes no more changes until it is reopened (the way
	 * PostgreSQL stops on a failed fsync). Set under sync_lock, read anywhere. */
	atomic_bool flush_failed;
	uint64_t committed; /* commits finished (under lock) */
	uint64_t durable;   /* commits known flushed (under sync_lock) */
	int wal_fd;
	char wal_path[4096];
	/* Prepared statements of the audit log's hot paths (used under lock). */
	sqlite3_stmt *hot[HOT_COUNT];
	/* The key that authenticates the rows deciding access (see "authenticated
	 * rows" below): 32 bytes of locked memory for the store's life, meaningful
	 * while has_row_key. */
	uint8_t *row_key;
	atomic_bool has_row_key;
	pthread_rwlock_t row_key_lock; /* a seal does not wipe it under a running HMAC */
	/* The digest of the set of access rows (see "the set of access rows"); all
	 * but digest_stale under lock. */
	bool rows_changed;	  /* the open transaction changed an access row */
	uint8_t delta_in[32];	  /* ... the terms of the rows it wrote, summed */
	uint8_t delta_out[32];	  /* ... and of the rows it deleted or overwrote */
	bool digest_known;	  /* the state below holds at data_version dv */
	bool digest_kept;	  /* the store keeps a digest (meta rows_digest) */
	bool digest_seen;	  /* ... and did at some point while this key was set */
	bool sum_next_valid;	  /* the open transaction wrote the digest of sum_next */
	uint8_t digest_sum[32];	  /* the sum the stored digest is the tag of */
	uint8_t sum_next[32];
	struct kbuf schema;	  /* the schema the migrations make, as schema_text */
	int64_t dv;
	struct kinko_err digest_bad; /* code != 0: rows and digest disagree, or
				      * could not be compared; access rows are refused */
	atomic_bool digest_stale; /* a key was installed since: check again */
	atomic_bool digest_forget; /* ... and digest_seen starts over */
};

#define DB(s) (((struct sqlite_store *)(s))->db)

static int db_err(struct store *s, struct kinko_err *e, const char *what)
{
	int code = sqlite3_extended_errcode(DB(s));
	int k = KINKO_EIO;

	if ((code & 0xff) == SQLITE_CONSTRAINT)
		k = (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
			    ? KINKO_EEXIST
			    : KINKO_EINVAL;
	else if ((code & 0xff) == SQLITE_FULL)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "store: %s: the disk is full; free space and retry", what);
	else if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "store: %s: kinko.db stayed locked by another program; retry",
				     what);
	else if ((code & 0xff) == SQLITE_READONLY)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "store: %s: the store is read-only; check permissions of the data directory",
				     what);
	return kinko_err_set(e, k, "store: %s: %s", what, sqlite3_errmsg(DB(s)));
}

static int prep(struct store *s, const char *sql, sqlite3_stmt **st, struct kinko_err *e)
{
	if (sqlite3_prepare_v2(DB(s), sql, -1, st, NULL) != SQLITE_OK)
		return db_err(s, e, "prepare");
	return 0;
}

/* A cached statement, reset and unbound; give it back with hot_done, not finalize. */
static int hot(struct store *s, enum hot_stmt h, sqlite3_stmt **st, struct kinko_err *e);
static void hot_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows; finalizes it. A statement that fails is
 * undone by SQLite, and so is what its rows added to the digest's delta (a term
 * may have been counted before a constraint stopped it). */
static int step_done(struct store *s, sqlite3_stmt *st, const char *what, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	uint8_t in[32], out[32];
	bool changed = q->rows_changed;
	int rc, ret = 0;

	memcpy(in, q->delta_in, 32);
	memcpy(out, q->delta_out, 32);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		ret = db_err(s, e, what);
		memcpy(q->delta_in, in, 32);
		memcpy(q->delta_out, out, 32);
		q->rows_changed = changed;
	}
	sqlite3_finalize(st);
	return ret;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(st, i, p ? p : "", n, SQLITE_TRANSIENT);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static int col_kbuf(sqlite3_stmt *st, int i, struct kbuf *out)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);

	kbuf_init(out, 1u << 20);
	return n > 0 ? kbuf_append(out, p, (size_t)n) : 0;
}

static void col_fixed(sqlite3_stmt *st, int i, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(st, i);
	if (p && (size_t)sqlite3_column_bytes(st, i) == n)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

static int hot(struct store *s, enum hot_stmt h, sqlite3_stmt **st, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	if (!q->hot[h] && sqlite3_prepare_v3(q->db, hot_sql[h], -1, SQLITE_PREPARE_PERSISTENT,
					     &q->hot[h], NULL) != SQLITE_OK)
		return db_err(s, e, "prepare");
	*st = q->hot[h];
	return 0;
}

/* ---------------------------------------------------------------- authenticated rows */

/*
 * The rows that decide who may do what — accounts, sessions, certificates,
 * memberships, folders (their contract and mark) and folder rights — each carry
 * `mac`: HMAC-SHA-256, under a key derived from the master key, of the row's
 * columns in a fixed, length-prefixed encoding that starts with the table's name.
 * Someone who can write kinko.db but does not hold the unseal secret can therefore
 * not grant access by adding or changing such a row: a row that does not
 * authenticate is never used (KINKO_EINTEGRITY), and `kinko check` lists it.
 * Without the key (sealed) these rows can be neither read nor written.
 * Not covered, by design: deleting a row (it takes access away; a revoked
 * certificate's row is the exception, see vault_cert_check), a session's
 * last_seen (extending one needs its token), and whole-file rollback (the audit
 * checkpoint's business).
 */
#define ROW_ENC_MAX 2048
#define ROWS_MARK_KEY "rows_authenticated"

struct rowenc {
	uint8_t b[ROW_ENC_MAX];
	size_t n;
	bool over;
	const char *table; /* as given to re_begin */
};

static void re_put(struct rowenc *r, uint8_t tag, const void *p, size_t n)
{
	size_t room = ROW_ENC_MAX - r->n; /* r->n never exceeds ROW_ENC_MAX */

	if (r->over || room < 5 || n > room - 5) {
		r->over = true;
		return;
	}
	r->b[r->n++] = tag;
	for (int i = 3; i >= 0; i--)
		r->b[r->n++] = (uint8_t)(n >> (8 * i));
	if (n)
		memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void re_text(struct rowenc *r, const char *t)
{
	re_put(r, 't', t, strlen(t));
}

static void re_int(struct rowenc *r, int64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	re_put(r, 'i', x, sizeof x);
}

static void re_begin(struct rowenc *r, const char *table)
{
	r->n = 0;
	r->over = false;
	r->table = table;
	re_put(r, 'v', "kinko-row-v1", 12);
	re_text(r, table);
}

static void user_enc(struct rowenc *r, const struct store_user *u)
{
	re_begin(r, "users");
	re_text(r, u->id);
	re_text(r, u->name);
	re_int(r, u->role);
	re_text(r, u->pw_hash);
	re_put(r, 'b', u->totp_sealed.data, u->totp_sealed.len);
	re_int(r, (int64_t)u->totp_last_step);
	re_text(r, u->allowed_cidrs);
	re_int(r, u->failed_logins);
	re_int(r, u->locked_until);
	re_int(r, u->disabled);
	re_int(r, u->created_at);
}

static void session_enc(struct rowenc *r, const struct store_session *ss)
{
	re_begin(r, "sessions");
	re_put(r, 'b', ss->token_hash, 32);
	re_text(r, ss->user_id);
	re_text(r, ss->cert_fp);
	re_int(r, ss->created_at);
}

static void cert_enc(struct rowenc *r, const struct store_cert *c)
{
	re_begin(r, "certificates");
	re_text(r, c->fingerprint);
	re_text(r, c->user_id);
	re_int(r, c->issued_at);
	re_int(r, c->not_after);
	re_int(r, c->revoked_at);
	re_text(r, c->revoked_by);
}

static void contract_enc(struct rowenc *r, const struct store_contract *c)
{
	re_begin(r, "contracts");
	re_text(r, c->id);
	re_text(r, c->name);
	re_text(r, c->created_by);
	re_int(r, c->created_at);
}

static void member_enc(struct rowenc *r, const char *contract_id, const char *user_id, int role)
{
	re_begin(r, "members");
	re_text(r, contract_id);
	re_text(r, user_id);
	re_int(r, role);
}

static void folder_enc(struct rowenc *r, const struct store_folder *f)
{
	re_begin(r, "folders");
	re_text(r, f->id);
	re_text(r, f->contract_id);
	re_int(r, f->created_at);
	re_int(r, f->specific_personal);
}

static void acl_enc(struct rowenc *r, const char *folder_id, const char *user_id, unsigned perms)
{
	re_begin(r, "acl");
	re_text(r, folder_id);
	re_text(r, user_id);
	re_int(r, perms);
}

static int row_mac(struct store *s, struct rowenc *r, uint8_t out[32], struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	int rc = 0;

	pthread_rwlock_rdlock(&q->row_key_lock);
	if (!atomic_load(&q->has_row_key))
		rc = kinko_err_set(e, KINKO_ESEALED,
				   "the vault is sealed: records that decide access are neither read "
				   "nor written without its key; unseal it first");
	else if (r->over)
		rc = kinko_err_set(e, KINKO_EINTEGRITY,
				   "a record that decides access is too large to be one kinko wrote");
	else if (kinko_hmac_sha256(q->row_key, 32, r->b, r->n, out))
		rc = kinko_err_set(e, KINKO_ECRYPTO, "cannot authenticate a record");
	pthread_rwlock_unlock(&q->row_key_lock);
	kinko_wipe(r->b, r->n);
	return rc;
}

/* Checks column `col` of the current row against the MAC of r's encoding. */
static int row_authentic(struct store *s, struct rowenc *r, sqlite3_stmt *st, int col,
			 const char *what, struct kinko_err *e)
{
	uint8_t want[32];
	const void *got = sqlite3_column_blob(st, col);
	int rc = row_mac(s, r, want, e);

	if (rc)
		return rc;
	if (!got || sqlite3_column_bytes(st, col) != 32 || !kinko_ct_equal(got, want, 32))
		return kinko_err_set(e, KINKO_EINTEGRITY,
				     "the %s does not authenticate: it was written or changed outside "
				     "kinko, so it is not used; run kinko check (docs/security.md)",
				     what);
	return 0;
}

static const char *const mac_tables[7];
static int row_enc_by_rowid(struct store *s, const char *table, int64_t rowid,
			    struct rowenc *r, struct kinko_err *e);

/* The table an encoding names (one of mac_tables), or NULL. */
static const char *enc_table(const struct rowenc *r)
{
	for (size_t t = 0; r->table && t < sizeof mac_tables / sizeof *mac_tables; t++)
		if (!strcmp(r->table, mac_tables[t]))
			return mac_tables[t];
	return NULL;
}

/*
 * Row `rowid` of `table` as the table itself holds it (read by rowid, never through
 * an index): *authentic when its MAC checks and, given `want`, its encoding is
 * exactly want's; its MAC into mac_out when authentic. Errors other than the row
 * not authenticating are returned.
 */
static int row_held(struct store *s, const char *table, int64_t rowid,
		    const struct rowenc *want, bool *authentic, uint8_t mac_out[32],
		    struct kinko_err *e)
{
	struct rowenc held;
	struct kinko_err ve;
	sqlite3_stmt *st;
	char sql[128];
	int rc;

	*authentic = false;
	rc = row_enc_by_rowid(s, table, rowid, &held, e);
	if (rc)
		return rc;
	if (want && (held.n != want->n || memcmp(held.b, want->b, want->n) != 0)) {
		kinko_wipe(held.b, held.n);
		return 0;
	}
	snprintf(sql, sizeof sql, "SELECT mac FROM %s WHERE rowid = ?", table);
	if ((rc = prep(s, sql, &st, e)) != 0) {
		kinko_wipe(held.b, held.n);
		return rc;
	}
	sqlite3_bind_int64(st, 1, rowid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		kinko_wipe(held.b, held.n);
		rc = db_err(s, e, "read an access row");
	} else if ((rc = row_authentic(s, &held, st, 0, "row", &ve)) == 0) {
		*authentic = true;
		if (mac_out)
			memcpy(mac_out, sqlite3_column_blob(st, 0), 32);
	} else if (rc == KINKO_EINTEGRITY) {
		rc = 0;
	} else if (e) {
		*e = ve;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * A row read to decide access (selected with its mac at column `col` and its rowid
 * right after): the set it belongs to is the one the digest covers (rows_guard);
 * the row as the table itself holds it, read again by rowid, is exactly the row r
 * encodes; and it authenticates. Reading it again matters because a lookup goes
 * through an index and compares with the column's collation, while the digest
 * counts the table's rows: an index made to point at another row, or a key stored
 * in another case under a changed collation, would otherwise let a lookup accept a
 * row the digest does not count.
 */
static int row_verify(struct store *s, struct rowenc *r, sqlite3_stmt *st, int col,
		      const char *what, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	const char *table = enc_table(r);
	bool authentic = false;
	int rc;

	if (q->digest_bad.code)
		rc = e ? (*e = q->digest_bad).code : q->digest_bad.code;
	else if (!table || sqlite3_column_type(st, col + 1) != SQLITE_INTEGER)
		rc = kinko_err_set(e, KINKO_EINTEGRITY, "the %s cannot be checked", what);
	else if ((rc = row_held(s, table, sqlite3_column_int64(st, col + 1), r, &authentic, NULL,
				e)) == 0 &&
		 !authentic)
		rc = kinko_err_set(e, KINKO_EINTEGRITY,
				   "the %s does not authenticate: it was written or changed "
				   "outside kinko, so it is not used; run kinko check "
				   "(docs/security.md)",
				   what);
	kinko_wipe(r->b, r->n);
	return rc;
}

/* Whether text read from a row that may not authenticate can name it in an error
 * (which reaches the server's log): letters, digits and . _ @ - only. */
static bool safe_to_name(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || strchr("._@-", t[i])))
			return false;
	return true;
}

static int bind_mac(struct store *s, sqlite3_stmt *st, int i, struct rowenc *r,
		    struct kinko_err *e)
{
	uint8_t mac[32];
	int rc = row_mac(s, r, mac, e);

	if (rc == 0)
		bind_blob(st, i, mac, sizeof mac);
	return rc;
}

static void sq_set_row_key(struct store *s, const uint8_t *key)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	pthread_rwlock_wrlock(&q->row_key_lock);
	atomic_store(&q->has_row_key, false);
	kinko_wipe(q->row_key, 32);
	if (key) {
		memcpy(q->row_key, key, 32);
		atomic_store(&q->has_row_key, true);
	}
	atomic_store(&q->digest_stale, true);
	atomic_store(&q->digest_forget, true);
	pthread_rwlock_unlock(&q->row_key_lock);
}

/* ---------------------------------------------------------------- transactions */

static void rows_guard(struct store *s);
static int rows_digest_update(struct store *s, struct kinko_err *e);
static void rows_digest_settle(struct store *s, bool committed);

/* After BEGIN: notes whether the access rows are still the set the store's digest
 * covers (rows_guard), so that a row put back from an older copy is refused
 * when it is read. A transaction that touches no access row is not held up. */
static void tx_guard(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	q->in_tx = true;
	q->rows_changed = false;
	memset(q->delta_in, 0, 32);
	memset(q->delta_out, 0, 32);
	rows_guard(s);
}

static int sq_begin(struct store *s, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	if (atomic_load(&q->flush_failed))
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "store: an earlier flush of the write-ahead log failed, so the "
				     "store takes no more changes; check the disk, then restart kinko");
	pthread_mutex_lock(&q->lock);
	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = db_err(s, e, "begin transaction");
		pthread_mutex_unlock(&q->lock);
		return rc;
	}
	tx_guard(s);
	return 0;
}

static int sq_begin_read(struct store *s, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	pthread_mutex_lock(&q->lock);
	/* BEGIN DEFERRED takes its snapshot at the first read: read at once, so that
	 * the snapshot is the one of this moment. */
	if (sqlite3_exec(q->db, "BEGIN DEFERRED; SELECT count(*) FROM meta", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		int rc = db_err(s, e, "begin reading");
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		pthread_mutex_unlock(&q->lock);
		return rc;
	}
	tx_guard(s);
	return 0;
}

static int sq_commit(struct store *s, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	int rc = 0;

	uint64_t mine;

	if (q->rows_changed)
		rc = rows_digest_update(s, e);
	if (rc == 0 && sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_err(s, e, "commit");
	if (rc)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	rows_digest_settle(s, rc == 0);
	mine = ++q->committed;
	q->in_tx = false;
	pthread_mutex_unlock(&q->lock);
	if (rc)
		return rc;
	/* Durable before we return: the caller answers the client after this. The
	 * change is committed whatever happens here; a failed flush says so with
	 * KINKO_ENOTDURABLE, never with a code that reads as rolled back. */
	pthread_mutex_lock(&q->sync_lock);
	if (atomic_load(&q->flush_failed)) {
		rc = kinko_err_set(e, KINKO_ENOTDURABLE,
				   "store: the change was stored, but the write-ahead log can no "
				   "longer be flushed, so it may not survive a power loss; check "
				   "the disk, then restart kinko");
	} else if (q->durable < mine) {
		uint64_t target;
		pthread_mutex_lock(&q->lock);
		target = q->committed;
		pthread_mutex_unlock(&q->lock);
		if (q->wal_fd < 0)
			q->wal_fd = open(q->wal_path, O_RDONLY | O_CLOEXEC);
		if (q->wal_fd < 0 || fdatasync(q->wal_fd) != 0) {
			int errnum = errno;
			atomic_store(&q->flush_failed, true);
			rc = kinko_err_set(e, KINKO_ENOTDURABLE,
					   "store: the change was stored, but flushing the write-ahead "
					   "log failed (%s), so it may not survive a power loss; the "
					   "store takes no more changes: check the disk, then restart "
					   "kinko",
					   strerror(errnum));
		} else {
			q->durable = target;
		}
	}
	pthread_mutex_unlock(&q->sync_lock);
	return rc;
}

static void sq_rollback(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	if (!q->in_tx)
		return;
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	q->in_tx = false;
	q->rows_changed = false;
	rows_digest_settle(s, false);
	pthread_mutex_unlock(&q->lock);
}

/* ---------------------------------------------------------------- meta */

static int sq_meta_get(struct store *s, const char *key, struct kbuf *out, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT value FROM meta WHERE key = ?", &st, e);

	if (rc)
		return rc;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct kbuf b;
		rc = col_kbuf(st, 0, &b);
		if (rc == 0) {
			kbuf_free(out);
			*out = b;
		} else {
			kbuf_free(&b);
			rc = kinko_err_set(e, KINKO_ENOMEM, "store: meta value too large");
		}
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_ENOENT, "store: no meta value '%s'", key);
	} else {
		rc = db_err(s, e, "meta get");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_meta_put(struct store *s, const char *key, const void *v, size_t n,
		       struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "INSERT INTO meta(key, value) VALUES(?, ?) "
			 "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, key);
	bind_blob(st, 2, v, n);
	return step_done(s, st, "meta put", e);
}

/* ---------------------------------------------------------------- users */

void store_user_clear(struct store_user *u)
{
	if (!u)
		return;
	kbuf_free(&u->totp_sealed);
	kinko_wipe(u->pw_hash, sizeof u->pw_hash);
}

#define USER_COLS                                                                        \
	"id, name, role, pw_hash, totp_sealed, totp_last_step, allowed_cidrs, failed_logins, " \
	"locked_until, disabled, created_at"

/* The columns USER_COLS of the current row, unauthenticated. */
static int user_cols(sqlite3_stmt *st, struct store_user *u)
{
	memset(u, 0, sizeof *u);
	col_text(st, 0, u->id, sizeof u->id);
	col_text(st, 1, u->name, sizeof u->name);
	u->role = (enum store_role)sqlite3_column_int(st, 2);
	col_text(st, 3, u->pw_hash, sizeof u->pw_hash);
	if (col_kbuf(st, 4, &u->totp_sealed))
		return KINKO_ENOMEM;
	u->totp_last_step = (uint64_t)sqlite3_column_int64(st, 5);
	col_text(st, 6, u->allowed_cidrs, sizeof u->allowed_cidrs);
	u->failed_logins = sqlite3_column_int64(st, 7);
	u->locked_until = sqlite3_column_int64(st, 8);
	u->disabled = sqlite3_column_int(st, 9) != 0;
	u->created_at = sqlite3_column_int64(st, 10);
	return 0;
}

/* Reads a row selected as USER_COLS, mac; authenticates it. */
static int user_row(struct store *s, sqlite3_stmt *st, struct store_user *u, struct kinko_err *e)
{
	struct rowenc r;
	char what[128];
	int rc = user_cols(st, u);

	if (rc)
		return rc;
	user_enc(&r, u);
	snprintf(what, sizeof what, "account record of '%s'",
		 safe_to_name(u->name) ? u->name : "(a name kinko would not write)");
	rc = row_verify(s, &r, st, 11, what, e);
	if (rc)
		store_user_clear(u);
	return rc;
}

static void user_bind(sqlite3_stmt *st, const struct store_user *u)
{
	bind_text(st, 1, u->id);
	bind_text(st, 2, u->name);
	sqlite3_bind_int(st, 3, (int)u->role);
	bind_text(st, 4, u->pw_hash);
	if (u->totp_sealed.len)
		bind_blob(st, 5, u->totp_sealed.data, u->totp_sealed.len);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)u->totp_last_step);
	bind_text(st, 7, u->allowed_cidrs);
	sqlite3_bind_int64(st, 8, u->failed_logins);
	sqlite3_bind_int64(st, 9, u->locked_until);
	sqlite3_bind_int(st, 10, u->disabled);
	sqlite3_bind_int64(st, 11, u->created_at);
}

static int sq_user_insert(struct store *s, const struct store_user *u, struct kinko_err *e)
{
	struct rowenc r;
	sqlite3_stmt *st;
	int rc = prep(s, "INSERT INTO users(" USER_COLS ", mac) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
		      &st, e);
	if (rc)
		return rc;
	user_bind(st, u);
	user_enc(&r, u);
	if ((rc = bind_mac(s, st, 12, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	rc = step_done(s, st, "insert user", e);
	if (rc == KINKO_EEXIST)
		return kinko_err_set(e, KINKO_EEXIST, "a user named '%s' already exists", u->name);
	return rc;
}

static int sq_user_update(struct store *s, const struct store_user *u, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "UPDATE users SET id = ?1, name = ?2, role = ?3, pw_hash = ?4, "
			 "totp_sealed = ?5, totp_last_step = ?6, allowed_cidrs = ?7, "
			 "failed_logins = ?8, locked_until = ?9, disabled = ?10, created_at = ?11, "
			 "mac = ?12 WHERE id = ?1",
		      &st, e);
	struct rowenc r;
	if (rc)
		return rc;
	user_bind(st, u);
	user_enc(&r, u);
	if ((rc = bind_mac(s, st, 12, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	rc = step_done(s, st, "update user", e);
	if (rc == 0 && sqlite3_changes(DB(s)) != 1)
		return kinko_err_set(e, KINKO_ENOENT, "no such user");
	return rc;
}

static int sq_user_get(struct store *s, const char *id, const char *name, struct store_user *out,
		       struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, id ? "SELECT " USER_COLS ", mac, rowid FROM users WHERE id = ?"
			    : "SELECT " USER_COLS ", mac, rowid FROM users WHERE name = ?",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, id ? id : name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_user u;
		rc = user_row(s, st, &u, e);
		if (rc == 0)
			*out = u;
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_ENOENT, "no such user");
	} else {
		rc = db_err(s, e, "get user");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_user_list(struct store *s, const char *after_name, unsigned limit,
			store_user_cb cb, void *ctx, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT " USER_COLS ", mac, rowid FROM users WHERE name > ? ORDER BY name LIMIT ?",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, after_name ? after_name : "");
	sqlite3_bind_int(st, 2, (int)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_user u;
		int r = user_row(s, st, &u, e);
		if (r == 0)
			r = cb(ctx, &u);
		store_user_clear(&u);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list users");
	sqlite3_finalize(st);
	return rc;
}

static int count_query(struct store *s, const char *sql, int64_t *n, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, sql, &st, e);
	if (rc)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = db_err(s, e, "count");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_user_count(struct store *s, int64_t *n, struct kinko_err *e)
{
	return count_query(s, "SELECT count(*) FROM users", n, e);
}

/* ---------------------------------------------------------------- sessions */

static int sq_session_insert(struct store *s, const struct store_session *ss,
			     struct kinko_err *e)
{
	sqlite3_stmt *st;
	struct rowenc r;
	int rc = prep(s, "INSERT INTO sessions(token_hash, user_id, cert_fp, created_at, last_seen, "
			 "mac) VALUES(?,?,?,?,?,?)",
		      &st, e);
	if (rc)
		return rc;
	bind_blob(st, 1, ss->token_hash, 32);
	bind_text(st, 2, ss->user_id);
	bind_text(st, 3, ss->cert_fp);
	sqlite3_bind_int64(st, 4, ss->created_at);
	sqlite3_bind_int64(st, 5, ss->last_seen);
	session_enc(&r, ss);
	if ((rc = bind_mac(s, st, 6, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	return step_done(s, st, "insert session", e);
}

static int sq_session_get(struct store *s, const uint8_t token_hash[32], struct store_session *out,
			  struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT user_id, cert_fp, created_at, last_seen, mac, rowid FROM sessions "
			 "WHERE token_hash = ?",
		      &st, e);
	if (rc)
		return rc;
	bind_blob(st, 1, token_hash, 32);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memcpy(out->token_hash, token_hash, 32);
		col_text(st, 0, out->user_id, sizeof out->user_id);
		col_text(st, 1, out->cert_fp, sizeof out->cert_fp);
		out->created_at = sqlite3_column_int64(st, 2);
		out->last_seen = sqlite3_column_int64(st, 3);
		struct rowenc r;
		session_enc(&r, out);
		rc = row_verify(s, &r, st, 4, "session record", e);
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_EAUTH, "the session is unknown or has ended; log in again");
	} else {
		rc = db_err(s, e, "get session");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_session_touch(struct store *s, const uint8_t token_hash[32], int64_t now,
			    struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", &st, e);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	bind_blob(st, 2, token_hash, 32);
	return step_done(s, st, "touch session", e);
}

static int sq_session_delete(struct store *s, const uint8_t token_hash[32], struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM sessions WHERE token_hash = ?", &st, e);
	if (rc)
		return rc;
	bind_blob(st, 1, token_hash, 32);
	return step_done(s, st, "delete session", e);
}

static int sq_session_delete_user(struct store *s, const char *user_id, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM sessions WHERE user_id = ?", &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, user_id);
	return step_done(s, st, "delete sessions", e);
}

static int sq_session_delete_cert(struct store *s, const char *cert_fp, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM sessions WHERE cert_fp = ?", &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, cert_fp);
	return step_done(s, st, "delete sessions", e);
}

static int sq_session_purge(struct store *s, int64_t created_before, uint64_t *n,
			    struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM sessions WHERE created_at < ?", &st, e);

	*n = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, created_before);
	rc = step_done(s, st, "delete expired sessions", e);
	if (rc == 0)
		*n = (uint64_t)sqlite3_changes(DB(s));
	return rc;
}

/* ---------------------------------------------------------------- certificates */

#define CERT_COLS "fingerprint, user_id, issued_at, not_after, revoked_at, revoked_by"

/* The columns CERT_COLS of the current row, unauthenticated. */
static void cert_cols(sqlite3_stmt *st, struct store_cert *c)
{
	memset(c, 0, sizeof *c);
	col_text(st, 0, c->fingerprint, sizeof c->fingerprint);
	col_text(st, 1, c->user_id, sizeof c->user_id);
	c->issued_at = sqlite3_column_int64(st, 2);
	c->not_after = sqlite3_column_int64(st, 3);
	c->revoked_at = sqlite3_column_int64(st, 4);
	col_text(st, 5, c->revoked_by, sizeof c->revoked_by);
}

/* Reads a row selected as CERT_COLS, mac; authenticates it. */
static int cert_row(struct store *s, sqlite3_stmt *st, struct store_cert *c, struct kinko_err *e)
{
	struct rowenc r;
	char what[128];

	cert_cols(st, c);
	cert_enc(&r, c);
	snprintf(what, sizeof what, "certificate record %.16s…",
		 safe_to_name(c->fingerprint) ? c->fingerprint : "(not a fingerprint)");
	return row_verify(s, &r, st, 6, what, e);
}

static int sq_cert_insert(struct store *s, const struct store_cert *c, struct kinko_err *e)
{
	sqlite3_stmt *st;
	struct rowenc r;
	int rc = prep(s, "INSERT INTO certificates(" CERT_COLS ", mac) VALUES(?,?,?,?,?,?,?)", &st,
		      e);
	if (rc)
		return rc;
	cert_enc(&r, c);
	if ((rc = bind_mac(s, st, 7, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	bind_text(st, 1, c->fingerprint);
	bind_text(st, 2, c->user_id);
	sqlite3_bind_int64(st, 3, c->issued_at);
	sqlite3_bind_int64(st, 4, c->not_after);
	sqlite3_bind_int64(st, 5, c->revoked_at);
	bind_text(st, 6, c->revoked_by);
	return step_done(s, st, "record certificate", e);
}

static int sq_cert_get(struct store *s, const char *fingerprint, struct store_cert *out,
		       struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT " CERT_COLS ", mac, rowid FROM certificates WHERE fingerprint = ?", &st,
		      e);
	if (rc)
		return rc;
	bind_text(st, 1, fingerprint);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = cert_row(s, st, out, e);
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_ENOENT, "no certificate with that fingerprint was issued here");
	} else {
		rc = db_err(s, e, "get certificate");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_cert_revoke(struct store *s, const char *fingerprint, int64_t now, const char *by,
			  struct kinko_err *e)
{
	struct store_cert c;
	sqlite3_stmt *st;
	int rc = sq_cert_get(s, fingerprint, &c, e);
	if (rc || c.revoked_at)
		return rc;
	rc = prep(s,
		  "UPDATE certificates SET revoked_at = ?, revoked_by = ?, mac = ? "
		  "WHERE fingerprint = ?",
		  &st, e);
	if (rc)
		return rc;
	c.revoked_at = now;
	snprintf(c.revoked_by, sizeof c.revoked_by, "%s", by);
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, by);
	bind_text(st, 4, fingerprint);
	struct rowenc r;
	cert_enc(&r, &c);
	if ((rc = bind_mac(s, st, 3, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	return step_done(s, st, "revoke certificate", e);
}

static int sq_cert_list(struct store *s, const char *user_id, int64_t after_issued,
			const char *after_fp, unsigned limit, store_cert_cb cb, void *ctx,
			struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s,
		      "SELECT " CERT_COLS ", mac, rowid FROM certificates WHERE (?1 IS NULL OR user_id = ?1) "
		      "AND (?2 < 0 OR issued_at < ?2 OR (issued_at = ?2 AND fingerprint < ?3)) "
		      "ORDER BY issued_at DESC, fingerprint DESC LIMIT ?4",
		      &st, e);
	if (rc)
		return rc;
	if (user_id)
		bind_text(st, 1, user_id);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int64(st, 2, after_issued);
	bind_text(st, 3, after_fp ? after_fp : "");
	sqlite3_bind_int(st, 4, (int)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_cert c;
		int r = cert_row(s, st, &c, e);
		if (r == 0)
			r = cb(ctx, &c);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list certificates");
	sqlite3_finalize(st);
	return rc;
}

/* ---------------------------------------------------------------- contracts, members */

static int sq_contract_insert(struct store *s, const struct store_contract *c,
			      struct kinko_err *e)
{
	sqlite3_stmt *st;
	struct rowenc r;
	int rc = prep(s,
		      "INSERT INTO contracts(id, name, created_by, created_at, mac) VALUES(?,?,?,?,?)",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, c->id);
	bind_text(st, 2, c->name);
	bind_text(st, 3, c->created_by);
	sqlite3_bind_int64(st, 4, c->created_at);
	contract_enc(&r, c);
	if ((rc = bind_mac(s, st, 5, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	return step_done(s, st, "insert contract", e);
}

static void contract_cols(sqlite3_stmt *st, struct store_contract *c)
{
	memset(c, 0, sizeof *c);
	col_text(st, 0, c->id, sizeof c->id);
	col_text(st, 1, c->name, sizeof c->name);
	col_text(st, 2, c->created_by, sizeof c->created_by);
	c->created_at = sqlite3_column_int64(st, 3);
}

/* Reads a row selected as id, name, created_by, created_at, mac; authenticates it
 * (its name is what people upload under). */
static int contract_row(struct store *s, sqlite3_stmt *st, struct store_contract *c,
			struct kinko_err *e)
{
	struct rowenc r;

	contract_cols(st, c);
	contract_enc(&r, c);
	return row_verify(s, &r, st, 4, "contract record", e);
}

static int sq_contract_get(struct store *s, const char *id, struct store_contract *out,
			   struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT id, name, created_by, created_at, mac, rowid FROM contracts WHERE id = ?",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = contract_row(s, st, out, e);
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_ENOENT, "no such contract");
	} else {
		rc = db_err(s, e, "get contract");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_contract_list(struct store *s, const char *user_id, const char *after_id,
			    unsigned limit, store_contract_cb cb, void *ctx, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, user_id
			      ? "SELECT c.id, c.name, c.created_by, c.created_at, c.mac, c.rowid, m.role, "
				"m.mac, m.rowid "
				"FROM contracts c "
				"JOIN members m ON m.contract_id = c.id AND m.user_id = ?1 "
				"WHERE c.id > ?2 ORDER BY c.id LIMIT ?3"
			      : "SELECT id, name, created_by, created_at, mac, rowid FROM contracts "
				"WHERE ?1 IS NULL AND id > ?2 ORDER BY id LIMIT ?3",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, user_id);
	bind_text(st, 2, after_id ? after_id : "");
	sqlite3_bind_int(st, 3, (int)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_contract c;
		int r = contract_row(s, st, &c, e);
		if (r == 0 && user_id) { /* listed through the membership: only an authentic one */
			struct rowenc re;
			member_enc(&re, c.id, user_id, sqlite3_column_int(st, 6));
			r = row_verify(s, &re, st, 7, "membership record", e);
		}
		if (r == 0)
			r = cb(ctx, &c);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list contracts");
	sqlite3_finalize(st);
	return rc;
}

static int sq_member_put(struct store *s, const char *contract_id, const char *user_id,
			 enum store_role role, struct kinko_err *e)
{
	sqlite3_stmt *st;
	struct rowenc r;
	int rc = prep(s, "INSERT INTO members(contract_id, user_id, role, mac) VALUES(?,?,?,?) "
			 "ON CONFLICT(contract_id, user_id) DO UPDATE SET role = excluded.role, "
			 "mac = excluded.mac",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, contract_id);
	bind_text(st, 2, user_id);
	sqlite3_bind_int(st, 3, (int)role);
	member_enc(&r, contract_id, user_id, (int)role);
	if ((rc = bind_mac(s, st, 4, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	return step_done(s, st, "put member", e);
}

static int sq_member_delete(struct store *s, const char *contract_id, const char *user_id,
			    struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM members WHERE contract_id = ? AND user_id = ?", &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, contract_id);
	bind_text(st, 2, user_id);
	rc = step_done(s, st, "delete member", e);
	if (rc == 0 && sqlite3_changes(DB(s)) == 0)
		return kinko_err_set(e, KINKO_ENOENT, "the user is not a member of this contract");
	if (rc)
		return rc;
	/* Their folder rights go with the membership: designated again, they start
	 * with none until a manager grants them anew. */
	rc = prep(s,
		  "DELETE FROM acl WHERE user_id = ? AND folder_id IN "
		  "(SELECT id FROM folders WHERE contract_id = ?)",
		  &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, user_id);
	bind_text(st, 2, contract_id);
	return step_done(s, st, "delete the member's folder rights", e);
}

static int sq_member_role(struct store *s, const char *contract_id, const char *user_id,
			  enum store_role *out, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT role, mac, rowid FROM members WHERE contract_id = ? AND user_id = ?", &st,
		      e);
	if (rc)
		return rc;
	bind_text(st, 1, contract_id);
	bind_text(st, 2, user_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct rowenc r;
		*out = (enum store_role)sqlite3_column_int(st, 0);
		member_enc(&r, contract_id, user_id, (int)*out);
		rc = row_verify(s, &r, st, 1, "membership record", e);
		if (rc)
			*out = ROLE_NONE;
	} else if (rc == SQLITE_DONE) {
		*out = ROLE_NONE;
		rc = 0;
	} else {
		rc = db_err(s, e, "member role");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_member_list(struct store *s, const char *contract_id, store_member_cb cb, void *ctx,
			  struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT m.user_id, u.name, m.role, m.mac, m.rowid FROM members m "
			 "JOIN users u ON u.id = m.user_id WHERE m.contract_id = ? ORDER BY u.name",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, contract_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_member m;
		struct rowenc re;
		int r;
		col_text(st, 0, m.user_id, sizeof m.user_id);
		col_text(st, 1, m.user_name, sizeof m.user_name);
		m.role = (enum store_role)sqlite3_column_int(st, 2);
		member_enc(&re, contract_id, m.user_id, (int)m.role);
		r = row_verify(s, &re, st, 3, "membership record", e);
		if (r == 0) { /* the name shown, from the account's authenticated row */
			struct store_user u;
			r = sq_user_get(s, m.user_id, NULL, &u, e);
			if (r == 0) {
				snprintf(m.user_name, sizeof m.user_name, "%s", u.name);
				store_user_clear(&u);
				r = cb(ctx, &m);
			}
		}
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list members");
	sqlite3_finalize(st);
	return rc;
}

/* ---------------------------------------------------------------- folders, ACL */

void store_folder_clear(struct store_folder *f)
{
	if (!f)
		return;
	kbuf_free(&f->name_sealed);
	kbuf_free(&f->key_wrapped);
}

static int sq_folder_insert(struct store *s, const struct store_folder *f, struct kinko_err *e)
{
	sqlite3_stmt *st;
	struct rowenc r;
	int rc = prep(s, "INSERT INTO folders(id, contract_id, name_sealed, key_wrapped, created_at, "
			 "specific_personal, mac) VALUES(?,?,?,?,?,?,?)",
		      &st, e);
	if (rc)
		return rc;
	sqlite3_bind_int(st, 6, f->specific_personal);
	folder_enc(&r, f);
	if ((rc = bind_mac(s, st, 7, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	bind_text(st, 1, f->id);
	bind_text(st, 2, f->contract_id);
	bind_blob(st, 3, f->name_sealed.data, f->name_sealed.len);
	bind_blob(st, 4, f->key_wrapped.data, f->key_wrapped.len);
	sqlite3_bind_int64(st, 5, f->created_at);
	return step_done(s, st, "insert folder", e);
}

#define FOLDER_COLS                                                                      \
	"id, contract_id, name_sealed, key_wrapped, created_at, specific_personal, mac, rowid"

/* Reads a row selected as FOLDER_COLS; authenticates it. */
static int folder_row(struct store *s, sqlite3_stmt *st, struct store_folder *f,
		      struct kinko_err *e)
{
	struct rowenc r;
	int rc;

	memset(f, 0, sizeof *f);
	col_text(st, 0, f->id, sizeof f->id);
	col_text(st, 1, f->contract_id, sizeof f->contract_id);
	f->created_at = sqlite3_column_int64(st, 4);
	f->specific_personal = sqlite3_column_int(st, 5) != 0;
	if (col_kbuf(st, 2, &f->name_sealed) || col_kbuf(st, 3, &f->key_wrapped)) {
		store_folder_clear(f);
		return KINKO_ENOMEM;
	}
	folder_enc(&r, f);
	rc = row_verify(s, &r, st, 6, "folder record", e);
	if (rc)
		store_folder_clear(f);
	return rc;
}

static int sq_folder_get(struct store *s, const char *id, struct store_folder *out,
			 struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT " FOLDER_COLS " FROM folders WHERE id = ?", &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = folder_row(s, st, out, e);
	else if (rc == SQLITE_DONE)
		rc = kinko_err_set(e, KINKO_ENOENT, "no such folder");
	else
		rc = db_err(s, e, "get folder");
	sqlite3_finalize(st);
	return rc;
}

static int sq_folder_set_specific(struct store *s, const char *id, bool on,
				  struct kinko_err *e)
{
	struct store_folder f;
	struct rowenc r;
	sqlite3_stmt *st;
	int rc = sq_folder_get(s, id, &f, e); /* the row as it is must be authentic */

	if (rc)
		return rc;
	f.specific_personal = on;
	folder_enc(&r, &f);
	store_folder_clear(&f);
	rc = prep(s, "UPDATE folders SET specific_personal = ?, mac = ? WHERE id = ?", &st, e);
	if (rc)
		return rc;
	sqlite3_bind_int(st, 1, on);
	bind_text(st, 3, id);
	if ((rc = bind_mac(s, st, 2, &r, e)) != 0) {
		sqlite3_finalize(st);
		return rc;
	}
	rc = step_done(s, st, "update folder", e);
	if (rc == 0 && sqlite3_changes(DB(s)) != 1)
		return kinko_err_set(e, KINKO_ENOENT, "no such folder");
	return rc;
}

static int sq_folder_list(struct store *s, const char *contract_id, const char *after_id,
			  unsigned limit, store_folder_cb cb, void *ctx, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT " FOLDER_COLS " FROM folders "
			 "WHERE contract_id = ? AND id > ? ORDER BY id LIMIT ?",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, contract_id);
	bind_text(st, 2, after_id ? after_id : "");
	sqlite3_bind_int(st, 3, (int)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_folder f;
		int r = folder_row(s, st, &f, e);
		if (r == 0)
			r = cb(ctx, &f);
		store_folder_clear(&f);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list folders");
	sqlite3_finalize(st);
	return rc;
}

static int sq_acl_put(struct store *s, const char *folder_id, const char *user_id, unsigned perms,
		      struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, perms ? "INSERT INTO acl(folder_id, user_id, perms, mac) VALUES(?,?,?,?) "
				 "ON CONFLICT(folder_id, user_id) DO UPDATE SET perms = excluded.perms, "
				 "mac = excluded.mac"
			       : "DELETE FROM acl WHERE folder_id = ? AND user_id = ?",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, folder_id);
	bind_text(st, 2, user_id);
	if (perms) {
		struct rowenc r;
		sqlite3_bind_int(st, 3, (int)perms);
		acl_enc(&r, folder_id, user_id, perms);
		if ((rc = bind_mac(s, st, 4, &r, e)) != 0) {
			sqlite3_finalize(st);
			return rc;
		}
	}
	return step_done(s, st, "put acl", e);
}

static int sq_acl_get(struct store *s, const char *folder_id, const char *user_id, unsigned *perms,
		      struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT perms, mac, rowid FROM acl WHERE folder_id = ? AND user_id = ?", &st,
		      e);
	if (rc)
		return rc;
	bind_text(st, 1, folder_id);
	bind_text(st, 2, user_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct rowenc r;
		*perms = (unsigned)sqlite3_column_int(st, 0);
		acl_enc(&r, folder_id, user_id, *perms);
		rc = row_verify(s, &r, st, 1, "folder right record", e);
		if (rc)
			*perms = 0;
	} else if (rc == SQLITE_DONE) {
		*perms = 0;
		rc = 0;
	} else {
		rc = db_err(s, e, "get acl");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_acl_list(struct store *s, const char *folder_id, store_acl_cb cb, void *ctx,
		       struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT user_id, perms, mac, rowid FROM acl WHERE folder_id = ? ORDER BY user_id",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, folder_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char uid[STORE_ID_LEN];
		struct rowenc re;
		unsigned perms = (unsigned)sqlite3_column_int(st, 1);
		int r;
		col_text(st, 0, uid, sizeof uid);
		acl_enc(&re, folder_id, uid, perms);
		r = row_verify(s, &re, st, 2, "folder right record", e);
		if (r == 0)
			r = cb(ctx, uid, perms);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list acl");
	sqlite3_finalize(st);
	return rc;
}

/* ---------------------------------------------------------------- objects */

void store_object_clear(struct store_object *o)
{
	if (!o)
		return;
	kbuf_free(&o->name_sealed);
	kbuf_free(&o->key_wrapped);
}

#define OBJECT_COLS                                                                    \
	"seq, id, folder_id, name_mac, name_sealed, key_wrapped, alg, size, sha256, " \
	"created_by, created_at, records, encoding, mynumber_count, mynumber_confidence, " \
	"scan_signatures"

static int object_row(sqlite3_stmt *st, struct store_object *o)
{
	memset(o, 0, sizeof *o);
	o->seq = sqlite3_column_int64(st, 0);
	col_text(st, 1, o->id, sizeof o->id);
	col_text(st, 2, o->folder_id, sizeof o->folder_id);
	col_fixed(st, 3, o->name_mac, 32);
	o->alg = sqlite3_column_int(st, 6);
	o->size = (uint64_t)sqlite3_column_int64(st, 7);
	col_fixed(st, 8, o->sha256, 32);
	col_text(st, 9, o->created_by, sizeof o->created_by);
	o->created_at = sqlite3_column_int64(st, 10);
	o->records = (uint64_t)sqlite3_column_int64(st, 11);
	col_text(st, 12, o->encoding, sizeof o->encoding);
	o->mynumber_count = (uint64_t)sqlite3_column_int64(st, 13);
	o->mynumber_confidence = sqlite3_column_int(st, 14);
	col_text(st, 15, o->scan_signatures, sizeof o->scan_signatures);
	if (col_kbuf(st, 4, &o->name_sealed) || col_kbuf(st, 5, &o->key_wrapped)) {
		store_object_clear(o);
		return KINKO_ENOMEM;
	}
	return 0;
}

static int sq_object_insert(struct store *s, struct store_object *o, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "INSERT INTO objects(id, folder_id, name_mac, name_sealed, key_wrapped, "
			 "alg, size, sha256, created_by, created_at, records, encoding, "
			 "mynumber_count, mynumber_confidence, scan_signatures) "
			 "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, o->id);
	bind_text(st, 2, o->folder_id);
	bind_blob(st, 3, o->name_mac, 32);
	bind_blob(st, 4, o->name_sealed.data, o->name_sealed.len);
	bind_blob(st, 5, o->key_wrapped.data, o->key_wrapped.len);
	sqlite3_bind_int(st, 6, o->alg);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)o->size);
	bind_blob(st, 8, o->sha256, 32);
	bind_text(st, 9, o->created_by);
	sqlite3_bind_int64(st, 10, o->created_at);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)o->records);
	bind_text(st, 12, o->encoding);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)o->mynumber_count);
	sqlite3_bind_int(st, 14, o->mynumber_confidence);
	bind_text(st, 15, o->scan_signatures);
	rc = step_done(s, st, "insert object", e);
	if (rc == 0)
		o->seq = sqlite3_last_insert_rowid(DB(s));
	else if (rc == KINKO_EEXIST)
		rc = kinko_err_set(e, KINKO_EEXIST,
				   "an object with this name already exists in the folder");
	return rc;
}

static int object_one(struct store *s, sqlite3_stmt *st, struct store_object *out,
		      struct kinko_err *e)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		rc = object_row(st, out);
	else if (rc == SQLITE_DONE)
		rc = kinko_err_set(e, KINKO_ENOENT, "no such object");
	else
		rc = db_err(s, e, "get object");
	sqlite3_finalize(st);
	return rc;
}

static int sq_object_get(struct store *s, const char *id, struct store_object *out,
			 struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT " OBJECT_COLS " FROM objects WHERE id = ?", &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, id);
	return object_one(s, st, out, e);
}

static int sq_object_find(struct store *s, const char *folder_id, const uint8_t name_mac[32],
			  struct store_object *out, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT " OBJECT_COLS " FROM objects WHERE folder_id = ? AND name_mac = ?",
		      &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, folder_id);
	bind_blob(st, 2, name_mac, 32);
	return object_one(s, st, out, e);
}

static int sq_object_delete(struct store *s, const char *id, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM objects WHERE id = ?", &st, e);
	if (rc)
		return rc;
	bind_text(st, 1, id);
	rc = step_done(s, st, "delete object", e);
	if (rc == 0 && sqlite3_changes(DB(s)) == 0)
		return kinko_err_set(e, KINKO_ENOENT, "no such object");
	return rc;
}

static int sq_object_list(struct store *s, const char *folder_id, int64_t after_seq,
			  unsigned limit, store_object_cb cb, void *ctx, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, folder_id ? "SELECT " OBJECT_COLS " FROM objects WHERE seq > ?2 AND "
				     "folder_id = ?1 ORDER BY seq LIMIT ?3"
				   : "SELECT " OBJECT_COLS " FROM objects WHERE seq > ?2 "
				     "ORDER BY seq LIMIT ?3",
		      &st, e);
	if (rc)
		return rc;
	if (folder_id)
		bind_text(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, after_seq);
	sqlite3_bind_int(st, 3, (int)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_object o;
		int r = object_row(st, &o);
		if (r == 0)
			r = cb(ctx, &o);
		store_object_clear(&o);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list objects");
	sqlite3_finalize(st);
	return rc;
}

static int sq_blob_refs(struct store *s, int (*cb)(void *ctx, const char *blob), void *ctx,
			struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT id FROM objects", &st, e);
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = cb(ctx, (const char *)sqlite3_column_text(st, 0));
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list blobs");
	sqlite3_finalize(st);
	return rc;
}

/* ---------------------------------------------------------------- blocked addresses */

static int sq_block_put(struct store *s, const struct addrblock_entry *b, int64_t now,
			struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM addr_block WHERE until <= ?", &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, e, "drop ended blocks");
	sqlite3_finalize(st);
	if (rc || (rc = prep(s, "INSERT OR REPLACE INTO addr_block (source, failures, first_at, "
				"last_at, until) VALUES (?, ?, ?, ?, ?)",
			     &st, e)))
		return rc;
	bind_text(st, 1, b->source);
	sqlite3_bind_int64(st, 2, b->failures);
	sqlite3_bind_int64(st, 3, b->first);
	sqlite3_bind_int64(st, 4, b->last);
	sqlite3_bind_int64(st, 5, b->until);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, e, "record a block");
	sqlite3_finalize(st);
	return rc;
}

static int sq_block_delete(struct store *s, const char *source, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "DELETE FROM addr_block WHERE source = ?", &st, e);

	if (rc)
		return rc;
	bind_text(st, 1, source);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, e, "remove a block");
	sqlite3_finalize(st);
	return rc;
}

static int sq_block_list(struct store *s, int64_t now,
			 int (*cb)(void *ctx, const struct addrblock_entry *b), void *ctx,
			 struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT source, failures, first_at, last_at, until FROM addr_block "
			 "WHERE until > ? ORDER BY source",
		      &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct addrblock_entry b = {0};
		int r;
		snprintf(b.source, sizeof b.source, "%s", (const char *)sqlite3_column_text(st, 0));
		b.failures = (unsigned)sqlite3_column_int64(st, 1);
		b.first = sqlite3_column_int64(st, 2);
		b.last = sqlite3_column_int64(st, 3);
		b.until = sqlite3_column_int64(st, 4);
		r = cb(ctx, &b);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "list blocks");
	sqlite3_finalize(st);
	return rc;
}

/* integrity_check lists at most 100 problems, then stops looking. */
static int rows_check(struct store *s, int (*cb)(void *ctx, const char *problem), void *ctx,
		      struct kinko_err *e);

static int schema_text(sqlite3 *db, struct kbuf *out, struct kinko_err *e);

/* Whether `line` (with its newline) is one of the lines of `text`. */
static bool has_line(const struct kbuf *text, const char *line, size_t n)
{
	for (size_t i = 0; i + n <= text->len;) {
		const char *nl = memchr(text->data + i, '\n', text->len - i);
		size_t len = nl ? (size_t)(nl - (const char *)text->data) - i + 1 : text->len - i;
		if (len == n && !memcmp(text->data + i, line, n))
			return true;
		i += len;
	}
	return false;
}

/* Each line of `a` that `b` lacks, passed to cb as "<what> <type> <name>". */
static int schema_lines_missing(const struct kbuf *a, const struct kbuf *b, const char *what,
				int (*cb)(void *ctx, const char *problem), void *ctx)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < a->len;) {
		const char *p = (const char *)a->data + i;
		const char *nl = memchr(p, '\n', a->len - i);
		size_t len = nl ? (size_t)(nl - p) + 1 : a->len - i;
		if (!has_line(b, p, len)) {
			char type[16] = "", name[80] = "", line[256];
			const char *t1 = memchr(p, '\t', len);
			const char *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - p)) : NULL;
			if (t1 && (size_t)(t1 - p) < sizeof type)
				memcpy(type, p, (size_t)(t1 - p));
			if (t2 && (size_t)(t2 - t1 - 1) < sizeof name)
				memcpy(name, t1 + 1, (size_t)(t2 - t1 - 1));
			snprintf(line, sizeof line, "%s %s %s (kinko.db's schema was changed outside kinko)",
				 what, safe_to_name(type) ? type : "object",
				 safe_to_name(name) ? name : "(its name not shown)");
			rc = cb(ctx, line);
		}
		i += len;
	}
	return rc;
}

/* The file's schema against the one kinko makes: what was added or changed, and
 * what is missing. kinko runs none of the file's triggers and reads no views,
 * but any difference says someone wrote the file. */
static int schema_problems(struct store *s, int (*cb)(void *ctx, const char *problem),
			   void *ctx, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	struct kbuf now;
	int rc;

	kbuf_init(&now, 1u << 20);
	rc = schema_text(q->db, &now, e);
	if (rc == 0)
		rc = schema_lines_missing(&now, &q->schema, "kinko.db holds a", cb, ctx);
	if (rc == 0)
		rc = schema_lines_missing(&q->schema, &now, "kinko.db lacks the", cb, ctx);
	kbuf_free(&now);
	return rc;
}

static int sq_integrity(struct store *s, int (*cb)(void *ctx, const char *problem), void *ctx,
			struct kinko_err *e)
{
	sqlite3_stmt *st;
	char line[512];
	int rc = prep(s, "PRAGMA integrity_check", &st, e);

	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		int r = t && strcmp(t, "ok") ? cb(ctx, t) : 0;
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "check the database");
	sqlite3_finalize(st);
	if (rc || (rc = prep(s, "PRAGMA foreign_key_check", &st, e)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;
		snprintf(line, sizeof line, "a row (rowid %lld) of %s refers to a missing row of %s",
			 sqlite3_column_type(st, 1) == SQLITE_NULL
				 ? -1LL
				 : (long long)sqlite3_column_int64(st, 1),
			 (const char *)sqlite3_column_text(st, 0),
			 (const char *)sqlite3_column_text(st, 2));
		r = cb(ctx, line);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, "check the database's references");
	sqlite3_finalize(st);
	if (rc == 0)
		rc = rows_check(s, cb, ctx, e);
	if (rc == 0)
		rc = schema_problems(s, cb, ctx, e);
	if (rc == 0) { /* the digest's state as a transaction starting now finds it */
		struct kinko_err bad = {0};
		rc = sq_begin_read(s, e);
		if (rc == 0) {
			bad = ((struct sqlite_store *)s)->digest_bad;
			sq_rollback(s);
		}
		if (rc == 0 && bad.code)
			rc = cb(ctx, bad.msg);
	}
	return rc;
}

/* ---------------------------------------------------------------- adopting rows */

/* The mark that says this store's access rows are authenticated: a MAC over a
 * constant, so only the key's holder can set it. */
static int rows_mark_value(struct store *s, int64_t since, uint8_t out[40], struct kinko_err *e)
{
	struct rowenc r;
	re_begin(&r, "mark");
	re_text(&r, ROWS_MARK_KEY);
	re_int(&r, since);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)((uint64_t)since >> (56 - 8 * i));
	return row_mac(s, &r, out + 8, e);
}

static int sq_rows_marked(struct store *s, bool *marked, int64_t *since, struct kinko_err *e)
{
	uint8_t want[40];
	struct kbuf got;
	int64_t t = 0;
	int rc;

	*marked = false;
	kbuf_init(&got, 64);
	rc = sq_meta_get(s, ROWS_MARK_KEY, &got, e);
	if (rc == KINKO_ENOENT) {
		rc = 0;
	} else if (rc == 0 && got.len == 40) {
		for (int i = 0; i < 8; i++)
			t = (int64_t)(((uint64_t)t << 8) | got.data[i]);
		rc = rows_mark_value(s, t, want, e);
		*marked = rc == 0 && kinko_ct_equal(got.data, want, 40);
	} else if (rc == 0) {
		rc = rows_mark_value(s, 0, want, e); /* not a mark; still needs the key */
	}
	if (since)
		*since = *marked ? t : 0;
	kbuf_free(&got);
	return rc;
}

static int sq_cert_revoked_unverified(struct store *s, const char *fingerprint,
				      int64_t *revoked_at, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT revoked_at FROM certificates WHERE fingerprint = ?", &st, e);

	if (rc)
		return rc;
	bind_text(st, 1, fingerprint);
	*revoked_at = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*revoked_at = sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(s, e, "get certificate");
	sqlite3_finalize(st);
	return rc;
}

/* The rowids of up to `cap` rows of `table` without a MAC. */
static int rows_unmacked(struct store *s, const char *table, int64_t *ids, size_t cap,
			 size_t *n, struct kinko_err *e)
{
	char sql[128];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof sql, "SELECT rowid FROM %s WHERE mac IS NULL ORDER BY rowid LIMIT %zu",
		 table, cap);
	if ((rc = prep(s, sql, &st, e)) != 0)
		return rc;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(s, e, "find unauthenticated rows");
	sqlite3_finalize(st);
	return rc;
}

/* Encodes the row `rowid` of `table` as the writers above do. */
static int row_enc_by_rowid(struct store *s, const char *table, int64_t rowid,
			    struct rowenc *r, struct kinko_err *e)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc;

	if (!strcmp(table, "users"))
		snprintf(sql, sizeof sql, "SELECT " USER_COLS " FROM users WHERE rowid = ?");
	else if (!strcmp(table, "sessions"))
		snprintf(sql, sizeof sql,
			 "SELECT token_hash, user_id, cert_fp, created_at FROM sessions WHERE rowid = ?");
	else if (!strcmp(table, "certificates"))
		snprintf(sql, sizeof sql, "SELECT " CERT_COLS " FROM certificates WHERE rowid = ?");
	else if (!strcmp(table, "contracts"))
		snprintf(sql, sizeof sql,
			 "SELECT id, name, created_by, created_at FROM contracts WHERE rowid = ?");
	else if (!strcmp(table, "members"))
		snprintf(sql, sizeof sql,
			 "SELECT contract_id, user_id, role FROM members WHERE rowid = ?");
	else if (!strcmp(table, "folders"))
		snprintf(sql, sizeof sql,
			 "SELECT id, contract_id, created_at, specific_personal FROM folders "
			 "WHERE rowid = ?");
	else
		snprintf(sql, sizeof sql, "SELECT folder_id, user_id, perms FROM acl WHERE rowid = ?");
	if ((rc = prep(s, sql, &st, e)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, rowid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = db_err(s, e, "read a row to authenticate");
		sqlite3_finalize(st);
		return rc;
	}
	if (!strcmp(table, "users")) {
		struct store_user u;
		rc = user_cols(st, &u);
		user_enc(r, &u);
		store_user_clear(&u);
	} else if (!strcmp(table, "sessions")) {
		struct store_session ss = {0};
		col_fixed(st, 0, ss.token_hash, 32);
		col_text(st, 1, ss.user_id, sizeof ss.user_id);
		col_text(st, 2, ss.cert_fp, sizeof ss.cert_fp);
		ss.created_at = sqlite3_column_int64(st, 3);
		session_enc(r, &ss);
	} else if (!strcmp(table, "certificates")) {
		struct store_cert c;
		cert_cols(st, &c);
		cert_enc(r, &c);
	} else if (!strcmp(table, "contracts")) {
		struct store_contract c;
		contract_cols(st, &c);
		contract_enc(r, &c);
	} else if (!strcmp(table, "folders")) {
		struct store_folder f = {0};
		col_text(st, 0, f.id, sizeof f.id);
		col_text(st, 1, f.contract_id, sizeof f.contract_id);
		f.created_at = sqlite3_column_int64(st, 2);
		f.specific_personal = sqlite3_column_int(st, 3) != 0;
		folder_enc(r, &f);
	} else {
		char a[STORE_ID_LEN], b[STORE_ID_LEN];
		col_text(st, 0, a, sizeof a);
		col_text(st, 1, b, sizeof b);
		if (!strcmp(table, "members"))
			member_enc(r, a, b, sqlite3_column_int(st, 2));
		else
			acl_enc(r, a, b, (unsigned)sqlite3_column_int(st, 2));
	}
	sqlite3_finalize(st);
	if (rc) {
		kinko_wipe(r->b, r->n); /* may hold a password hash */
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	return 0;
}

static const char *const mac_tables[7] = {"users",   "sessions", "certificates", "contracts",
					  "members", "folders",  "acl"};

static int sq_rows_adopt(struct store *s, bool rows_too, int64_t since, uint64_t *adopted,
			 struct kinko_err *e)
{
	uint8_t mark[40];
	int64_t ids[256], first = 0;
	size_t n;
	int rc;

	/* The list of certificates began no later than its first row (since schema
	 * 4): an earlier `since` only ever refuses more. */
	rc = count_query(s, "SELECT coalesce(min(issued_at), 0) FROM certificates", &first, e);
	if (rc)
		return rc;
	if (first > 0 && first < since)
		since = first;
	rc = rows_mark_value(s, since, mark, e);
	*adopted = 0;
	for (size_t t = 0; rc == 0 && rows_too && t < sizeof mac_tables / sizeof *mac_tables; t++) {
		do {
			rc = rows_unmacked(s, mac_tables[t], ids, 256, &n, e);
			for (size_t i = 0; rc == 0 && i < n; i++) {
				char sql[128];
				struct rowenc r;
				sqlite3_stmt *st;
				rc = row_enc_by_rowid(s, mac_tables[t], ids[i], &r, e);
				if (rc)
					break;
				snprintf(sql, sizeof sql, "UPDATE %s SET mac = ? WHERE rowid = ?",
					 mac_tables[t]);
				if ((rc = prep(s, sql, &st, e)) != 0) {
					kinko_wipe(r.b, r.n);
					break;
				}
				sqlite3_bind_int64(st, 2, ids[i]);
				if ((rc = bind_mac(s, st, 1, &r, e)) != 0) {
					sqlite3_finalize(st);
					break;
				}
				rc = step_done(s, st, "authenticate a row", e);
				if (rc == 0)
					(*adopted)++;
			}
		} while (rc == 0 && n == 256);
	}
	if (rc == 0)
		rc = sq_meta_put(s, ROWS_MARK_KEY, mark, sizeof mark, e);
	return rc;
}

/* kinko check: every access row that does not authenticate, one line each. Only
 * with the key (a check of a sealed vault, --quick, cannot tell). */
static int rows_check(struct store *s, int (*cb)(void *ctx, const char *problem), void *ctx,
		      struct kinko_err *e)
{
	int rc = 0;

	if (!atomic_load(&((struct sqlite_store *)s)->has_row_key))
		return 0;

	for (size_t t = 0; rc == 0 && t < sizeof mac_tables / sizeof *mac_tables; t++) {
		char sql[128];
		sqlite3_stmt *st;
		int step = SQLITE_DONE;
		snprintf(sql, sizeof sql, "SELECT rowid FROM %s NOT INDEXED ORDER BY rowid",
			 mac_tables[t]);
		if ((rc = prep(s, sql, &st, e)) != 0)
			break;
		while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t rowid = sqlite3_column_int64(st, 0);
			bool authentic;
			rc = row_held(s, mac_tables[t], rowid, NULL, &authentic, NULL, e);
			if (rc == 0 && !authentic) {
				char line[256];
				snprintf(line, sizeof line,
					 "a row (rowid %lld) of %s does not authenticate: it was "
					 "written or changed outside kinko and is not used",
					 (long long)rowid, mac_tables[t]);
				rc = cb(ctx, line);
			}
		}
		if (rc == 0 && step != SQLITE_DONE)
			rc = db_err(s, e, "check access rows");
		sqlite3_finalize(st);
	}
	return rc;
}

/* ---------------------------------------------------------------- the set of access rows */

/*
 * Each row's MAC says that kinko wrote it, not that it is still current: a row
 * deleted since (a folder right taken away), or an older version of a row (an
 * account before it was disabled), copied back from an earlier copy of the same
 * vault, would authenticate. So the store also keeps a digest of the whole set:
 * the sum, modulo 2^256, of one term per authentic row, HMAC-SHA-256 under the
 * row key of (table, the row's MAC). Only the key's holder can compute a term,
 * so nobody else can make a digest for another set, and a row added, put back or
 * removed outside kinko changes the sum. (A row that does not authenticate adds
 * nothing: it is refused on its own, and kinko check lists it.)
 *
 * Every transaction that changes an access row updates the digest before it
 * commits: temporary triggers hand the store each row written (its term is added)
 * and each row about to be deleted or overwritten (its term taken out), so the
 * cost is the rows changed, not the rows kept. Every transaction starts by asking
 * SQLite whether another connection changed the database since the rows and
 * digest last agreed (PRAGMA data_version); only then, and once after the key is
 * installed, is the sum recomputed over every row and compared. When they disagree, every read of an access
 * row fails with KINKO_EINTEGRITY, and no change to one is committed, until the
 * rows agree with the digest again; everything else (the audit log, sealing)
 * goes on. The digest cannot tell which row is out of place.
 *
 * Not covered: a copy of the whole set with its digest put back together (a
 * rollback of all access rows at once), which the audit log's checkpoints are
 * there to tell; writes to the file below SQLite that SQLite does not see as a
 * change (caught when the key is next installed).
 */
#define ROWS_DIGEST_KEY "rows_digest"

static int rowset_term(struct store *s, const char *table, const void *mac, uint8_t out[32],
		       struct kinko_err *e)
{
	struct rowenc r;

	re_begin(&r, "rowset");
	re_text(&r, table);
	re_put(&r, 'b', mac, 32);
	return row_mac(s, &r, out, e);
}

static void sum_add(uint8_t acc[32], const uint8_t x[32])
{
	unsigned c = 0;

	for (int i = 31; i >= 0; i--) {
		c += (unsigned)acc[i] + x[i];
		acc[i] = (uint8_t)c;
		c >>= 8;
	}
}

static void sum_sub(uint8_t acc[32], const uint8_t x[32])
{
	int borrow = 0;

	for (int i = 31; i >= 0; i--) {
		int d = (int)acc[i] - x[i] - borrow;
		borrow = d < 0;
		acc[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

/* The term row `rowid` of `table` adds to the digest: *counts is false (and the
 * term zero) when the row does not authenticate. */
static int row_term(struct store *s, const char *table, int64_t rowid, uint8_t term[32],
		    bool *counts, struct kinko_err *e)
{
	uint8_t mac[32];
	int rc = row_held(s, table, rowid, NULL, counts, mac, e);

	memset(term, 0, 32);
	if (rc == 0 && *counts)
		rc = rowset_term(s, table, mac, term, e);
	return rc;
}

/* The digest of the access rows as they are now, and how many rows it covers. */
static int rows_sum(struct store *s, uint8_t sum[32], uint64_t *n, struct kinko_err *e)
{
	int rc = 0;

	memset(sum, 0, 32);
	*n = 0;
	for (size_t t = 0; rc == 0 && t < sizeof mac_tables / sizeof *mac_tables; t++) {
		char sql[128];
		sqlite3_stmt *st;
		int step = SQLITE_DONE;

		/* The table itself, not an index of it (which could be made to miss a
		 * row). */
		snprintf(sql, sizeof sql, "SELECT rowid FROM %s NOT INDEXED", mac_tables[t]);
		if ((rc = prep(s, sql, &st, e)) != 0)
			break;
		while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
			uint8_t term[32];
			bool counts;
			rc = row_term(s, mac_tables[t], sqlite3_column_int64(st, 0), term, &counts, e);
			if (rc == 0 && counts) {
				sum_add(sum, term);
				(*n)++;
			}
		}
		if (rc == 0 && step != SQLITE_DONE)
			rc = db_err(s, e, "read access rows");
		sqlite3_finalize(st);
	}
	return rc;
}

static int hot_int(struct store *s, enum hot_stmt h, int64_t *out, const char *what,
		   struct kinko_err *e);

static int data_version(struct store *s, int64_t *dv, struct kinko_err *e)
{
	return hot_int(s, HOT_DATA_VERSION, dv, "read the database's data version", e);
}

#define DIGEST_ADVICE                                                                     \
	"every access decision is refused until it is resolved (docs/operations.md, \"When " \
	"kinko check reports a problem\")"

/* What meta.rows_digest holds: not the sum itself, which anyone can read and
 * which, being a sum, would let someone who saw it before and after a change
 * work out the digest of that change undone, but a MAC of it. */
static int digest_tag(struct store *s, const uint8_t sum[32], uint8_t tag[32],
		      struct kinko_err *e)
{
	struct rowenc r;

	re_begin(&r, "rowdigest");
	re_put(&r, 'b', sum, 32);
	return row_mac(s, &r, tag, e);
}

/* The main schema as text, one line per table, index, trigger and view that is
 * not SQLite's own: type, name, table and SQL, tab-separated, in name order. */
static int schema_text(sqlite3 *db, struct kbuf *out, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "SELECT type || char(9) || name || char(9) || tbl_name || char(9) || "
			       "coalesce(sql, '') || char(10) FROM main.sqlite_schema WHERE name "
			       "NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name, type",
			       -1, &st, NULL) != SQLITE_OK)
		return kinko_err_set(e, KINKO_EIO, "store: reading the schema: %s",
				     sqlite3_errmsg(db));
	out->len = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *t = sqlite3_column_text(st, 0);
		if (kbuf_append(out, t ? t : "", (size_t)sqlite3_column_bytes(st, 0))) {
			sqlite3_finalize(st);
			return kinko_err_set(e, KINKO_ENOMEM, "store: the schema is too large");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return kinko_err_set(e, KINKO_EIO, "store: reading the schema: %s",
				     sqlite3_errmsg(db));
	return 0;
}

/*
 * The file's schema and indexes as kinko made them. Everything the digest and
 * the lookups rest on is in the schema: a table rebuilt with a column named
 * rowid, a collation or a foreign-key action added, an index made partial, a
 * table turned into a view. So it must be exactly the schema the migrations make
 * (q->schema), and the access tables' indexes must hold exactly their rows (an
 * index edited to miss a row, or to keep one the table lost, is what
 * integrity_check finds).
 */
static int schema_guard(struct store *s, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	struct kbuf now;
	int rc;

	kbuf_init(&now, 1u << 20);
	rc = schema_text(q->db, &now, e);
	if (rc == 0 && (now.len != q->schema.len || memcmp(now.data, q->schema.data, now.len)))
		rc = kinko_err_set(e, KINKO_EINTEGRITY,
				   "the schema of kinko.db is not the one kinko makes (a table, "
				   "index, trigger or view was added or changed outside kinko); "
				   DIGEST_ADVICE);
	kbuf_free(&now);
	for (size_t t = 0; rc == 0 && t < sizeof mac_tables / sizeof *mac_tables; t++) {
		char sql[80];
		sqlite3_stmt *st;
		snprintf(sql, sizeof sql, "PRAGMA integrity_check(%s)", mac_tables[t]);
		if ((rc = prep(s, sql, &st, e)) != 0)
			break;
		while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
			const char *r = (const char *)sqlite3_column_text(st, 0);
			if (!r || strcmp(r, "ok"))
				rc = kinko_err_set(e, KINKO_EINTEGRITY,
						   "the indexes of the records that decide access do "
						   "not match their table %s: kinko.db was changed "
						   "outside kinko; " DIGEST_ADVICE,
						   mac_tables[t]);
		}
		sqlite3_finalize(st);
	}
	return rc;
}

/* Inside a transaction: see the comment above. Never fails the transaction;
 * what it finds is kept in q->digest_bad. */
static void rows_guard(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	struct kinko_err le = {0};
	uint8_t sum[32], tag[32];
	uint64_t n;
	int64_t dv = 0;
	struct kbuf got;
	int rc;

	if (!atomic_load(&q->has_row_key)) { /* access rows are not read at all */
		q->digest_known = false;
		memset(&q->digest_bad, 0, sizeof q->digest_bad);
		return;
	}
	if (atomic_exchange(&q->digest_forget, false))
		q->digest_seen = false;
	rc = data_version(s, &dv, &le);
	if (rc == 0 && !atomic_exchange(&q->digest_stale, false) && q->digest_known &&
	    dv == q->dv)
		return;
	q->digest_known = false;
	kbuf_init(&got, 64);
	if (rc == 0)
		rc = schema_guard(s, &le);
	if (rc == 0)
		rc = sq_meta_get(s, ROWS_DIGEST_KEY, &got, &le);
	if (rc == KINKO_ENOENT) {
		rc = 0;
		memset(&le, 0, sizeof le);
		q->digest_kept = false;
		if (q->digest_seen)
			rc = kinko_err_set(&le, KINKO_EINTEGRITY,
					   "the digest of the records that decide access was removed "
					   "from kinko.db outside kinko; " DIGEST_ADVICE);
	} else if (rc == 0) {
		q->digest_kept = q->digest_seen = true;
		rc = rows_sum(s, sum, &n, &le);
		if (rc == 0)
			rc = digest_tag(s, sum, tag, &le);
		if (rc == 0 && (got.len != 32 || !kinko_ct_equal(got.data, tag, 32)))
			rc = kinko_err_set(&le, KINKO_EINTEGRITY,
					   "the records that decide access are not the set kinko keeps "
					   "a digest of: a record was put back, added or removed in "
					   "kinko.db outside kinko; " DIGEST_ADVICE);
		if (rc == 0)
			memcpy(q->digest_sum, sum, 32);
	}
	kbuf_free(&got);
	if (rc && !le.code)
		le.code = rc;
	if (rc && le.code != KINKO_EINTEGRITY)
		kinko_err_wrap(&le, "the records that decide access cannot be checked");
	q->digest_bad = le;
	if (rc == 0) {
		q->digest_known = true;
		q->dv = dv;
	}
}

/* Before a commit that changed access rows: the digest of the new set, from the
 * sum the transaction began with (which rows_guard found to agree with the rows,
 * or which rows_digest_reset made) and the terms of the rows it wrote and
 * removed. */
static int rows_digest_update(struct store *s, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	uint8_t sum[32], tag[32];
	int rc;

	if (q->digest_bad.code) {
		if (e)
			*e = q->digest_bad;
		return q->digest_bad.code;
	}
	if (!q->digest_kept) /* not yet: the first unseal makes it (rows_digest_reset) */
		return 0;
	memcpy(sum, q->sum_next_valid ? q->sum_next : q->digest_sum, 32);
	sum_add(sum, q->delta_in);
	sum_sub(sum, q->delta_out);
	rc = digest_tag(s, sum, tag, e);
	if (rc == 0)
		rc = sq_meta_put(s, ROWS_DIGEST_KEY, tag, sizeof tag, e);
	if (rc == 0) {
		memcpy(q->sum_next, sum, 32);
		q->sum_next_valid = true;
	}
	return rc;
}

/* At the end of a transaction: a digest it wrote holds from now on if it was
 * committed; otherwise the next transaction reads the store's state afresh. */
static void rows_digest_settle(struct store *s, bool committed)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	if (!q->sum_next_valid)
		return;
	if (committed) {
		memcpy(q->digest_sum, q->sum_next, 32);
		q->digest_kept = q->digest_seen = true;
	} else {
		q->digest_known = false;
	}
	q->sum_next_valid = false;
}

static int sq_rows_digest_kept(struct store *s, bool *kept, struct kinko_err *e)
{
	struct kbuf got;
	int rc;

	kbuf_init(&got, 64);
	rc = sq_meta_get(s, ROWS_DIGEST_KEY, &got, e);
	*kept = rc == 0;
	kbuf_free(&got);
	return rc == KINKO_ENOENT ? 0 : rc;
}

static int sq_rows_digest_reset(struct store *s, uint64_t *n, struct kinko_err *e)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	uint8_t sum[32], tag[32];
	/* Never over rows seen through a schema that is not kinko's (a column named
	 * rowid, an edited index): the new digest would take in what they hide. */
	int rc = schema_guard(s, e);

	*n = 0;
	if (rc == 0)
		rc = rows_sum(s, sum, n, e);

	if (rc == 0)
		rc = digest_tag(s, sum, tag, e);
	if (rc == 0)
		rc = sq_meta_put(s, ROWS_DIGEST_KEY, tag, sizeof tag, e);
	if (rc == 0) {
		memcpy(q->sum_next, sum, 32);
		q->sum_next_valid = true;
		q->digest_kept = true; /* for the rest of this transaction */
		q->rows_changed = false;
		memset(q->delta_in, 0, 32);
		memset(q->delta_out, 0, 32);
		memset(&q->digest_bad, 0, sizeof q->digest_bad);
	}
	return rc;
}

static void sq_rows_digest_expect(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	q->digest_seen = true;
	q->digest_known = false;
}

static int sq_rows_digest_problem(struct store *s, struct kinko_err *problem)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	*problem = q->digest_bad;
	return problem->code;
}

/* kinko_rows_delta(table, rowid, 'in') after a row is written, (table, rowid,
 * 'out') before one is deleted or overwritten (temporary triggers call it): the
 * row's term goes into the open transaction's delta. A row that cannot be read or whose
 * term cannot be made (no key) fails the statement. */
static void rows_delta_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	struct sqlite_store *q = sqlite3_user_data(cx);
	const unsigned char *table = sqlite3_value_text(argv[0]);
	const unsigned char *way = sqlite3_value_text(argv[2]);
	bool in = way && !strcmp((const char *)way, "in");
	const char *known = NULL;
	struct kinko_err e = {0};
	uint8_t term[32];
	bool counts;

	(void)argc;
	for (size_t t = 0; table && t < sizeof mac_tables / sizeof *mac_tables; t++)
		if (!strcmp((const char *)table, mac_tables[t]))
			known = mac_tables[t];
	if (!known) {
		sqlite3_result_error(cx, "kinko: not an access table", -1);
		return;
	}
	if (row_term(&q->base, known, sqlite3_value_int64(argv[1]), term, &counts, &e)) {
		sqlite3_result_error(cx, e.msg[0] ? e.msg : "kinko: cannot read an access row", -1);
		return;
	}
	q->rows_changed = true;
	if (counts)
		sum_add(in ? q->delta_in : q->delta_out, term);
	sqlite3_result_null(cx);
}

/* Triggers kept in the file do not run on kinko's connection
 * (SQLITE_DBCONFIG_ENABLE_TRIGGER off: since SQLite 3.35 that leaves TEMP
 * triggers running). One added by someone who can write kinko.db would otherwise
 * run inside kinko's own transactions: writing rows that the digest takes in, or
 * cancelling kinko's deletions with RAISE(IGNORE) (a right taken away that stays).
 * The file's own guards of the audit log (migrations) are made again as TEMP
 * triggers, so they keep holding for kinko too.
 *
 * kinko's triggers live in this connection's TEMP schema only, so other programs
 * that open kinko.db (sqlite3, a backup tool) are not affected, and the function
 * is SQLITE_DIRECTONLY, so no view kept in the file can call it. (No access row is
 * deleted by a foreign key's action or by INSERT OR REPLACE, whose deletions would
 * not fire triggers.) */
static const char *const audit_guards =
	"CREATE TEMP TRIGGER kinko_audit_event_no_update BEFORE UPDATE ON main.audit_event "
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TEMP TRIGGER kinko_audit_event_no_delete BEFORE DELETE ON main.audit_event "
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TEMP TRIGGER kinko_audit_node_no_update BEFORE UPDATE ON main.audit_node "
	"  BEGIN SELECT RAISE(ABORT, 'audit nodes are append-only'); END;";

/* Before anything else runs on the connection (migrations included): no trigger
 * or view kept in the file runs on it (kinko makes no views; a view put in place
 * of a table could show kinko rows that appear only later in a transaction). */
static int lockdown(sqlite3 *db, struct kinko_err *e)
{
	int trig = -1, view = -1;

	if (sqlite3_libversion_number() < 3035000)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "store: SQLite %s is too old; kinko needs 3.35 or later",
				     sqlite3_libversion());
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &trig) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, &view) != SQLITE_OK ||
	    trig != 0 || view != 0)
		return kinko_err_set(e, KINKO_EIO,
				     "store: cannot turn off the file's triggers and views");
	return 0;
}

static int rows_watch(sqlite3 *db, struct sqlite_store *q, struct kinko_err *e)
{
	static const char *const on[][2] = {
		{"BEFORE DELETE", "OLD.rowid, 'out'"},
		{"BEFORE UPDATE OF mac", "OLD.rowid, 'out'"},
		{"AFTER INSERT", "NEW.rowid, 'in'"},
		{"AFTER UPDATE OF mac", "NEW.rowid, 'in'"},
	};

	if (sqlite3_exec(db, audit_guards, NULL, NULL, NULL) != SQLITE_OK)
		return kinko_err_set(e, KINKO_EIO, "store: %s", sqlite3_errmsg(db));
	if (sqlite3_create_function_v2(db, "kinko_rows_delta", 3,
				       SQLITE_UTF8 | SQLITE_DIRECTONLY, q, rows_delta_fn, NULL,
				       NULL, NULL) != SQLITE_OK)
		return kinko_err_set(e, KINKO_EIO, "store: %s", sqlite3_errmsg(db));
	for (size_t t = 0; t < sizeof mac_tables / sizeof *mac_tables; t++)
		for (size_t i = 0; i < sizeof on / sizeof *on; i++) {
			char sql[256];
			snprintf(sql, sizeof sql,
				 "CREATE TEMP TRIGGER kinko_watch_%s_%zu %s ON main.%s "
				 "BEGIN SELECT kinko_rows_delta('%s', %s); END",
				 mac_tables[t], i, on[i][0], mac_tables[t], mac_tables[t], on[i][1]);
			if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
				return kinko_err_set(e, KINKO_EIO, "store: %s", sqlite3_errmsg(db));
		}
	return 0;
}

/* ---------------------------------------------------------------- audit log */

/* The one integer a cached statement returns. */
static int hot_int(struct store *s, enum hot_stmt h, int64_t *out, const char *what,
		   struct kinko_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = hot(s, h, &st, e);

	if (rc)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_err(s, e, what);
	hot_done(st);
	return rc;
}

static int sq_audit_size(struct store *s, uint64_t *n, struct kinko_err *e)
{
	int64_t v = 0;
	int rc = hot_int(s, HOT_SIZE, &v, "audit size", e);

	if (rc == 0)
		*n = (uint64_t)v;
	return rc;
}

static int sq_audit_insert(struct store *s, uint64_t seq, const void *data, size_t n,
			   struct kinko_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = hot(s, HOT_EVENT_INSERT, &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	bind_blob(st, 2, data, n);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, e, "append audit event");
	hot_done(st);
	if (rc == KINKO_EEXIST)
		return kinko_err_set(e, KINKO_EINTEGRITY, "audit event %llu already exists",
				     (unsigned long long)seq);
	return rc;
}

static int sq_audit_get(struct store *s, uint64_t seq, struct kbuf *out, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT data FROM audit_event WHERE seq = ?", &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		rc = kbuf_append(out, p ? p : "", (size_t)n)
			     ? kinko_err_set(e, KINKO_ELIMIT, "audit event %llu is too large",
					     (unsigned long long)seq)
			     : 0;
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_ENOENT, "no audit event %llu", (unsigned long long)seq);
	} else {
		rc = db_err(s, e, "get audit event");
	}
	sqlite3_finalize(st);
	return rc;
}

/* Steps st, whose rows are (integer, blob), handing each to cb; a non-zero cb
 * result stops the scan and is returned. Finalizes st. */
static int scan_u64_blob(struct store *s, sqlite3_stmt *st,
			 int (*cb)(void *ctx, uint64_t k, const uint8_t *p, size_t n), void *ctx,
			 const char *what, struct kinko_err *e)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *p = sqlite3_column_blob(st, 1);
		int r = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0), p ? p : (const uint8_t *)"",
			   (size_t)sqlite3_column_bytes(st, 1));
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_err(s, e, what);
	sqlite3_finalize(st);
	return rc;
}

static int sq_audit_scan(struct store *s, uint64_t from,
			 int (*cb)(void *ctx, uint64_t seq, const uint8_t *p, size_t n), void *ctx,
			 struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT seq, data FROM audit_event WHERE seq >= ? ORDER BY seq", &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	return scan_u64_blob(s, st, cb, ctx, "scan audit events", e);
}

static int sq_audit_node_get(struct store *s, unsigned level, uint64_t idx, uint8_t out[32],
			     struct kinko_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = hot(s, HOT_NODE_GET, &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(out, sqlite3_column_blob(st, 0), 32);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_ENOENT, "no audit tree node %u/%llu", level,
				   (unsigned long long)idx);
	} else {
		rc = db_err(s, e, "get audit tree node");
	}
	hot_done(st);
	return rc;
}

static int sq_audit_node_put(struct store *s, unsigned level, uint64_t idx, const uint8_t h[32],
			     struct kinko_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = hot(s, HOT_NODE_PUT, &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
	bind_blob(st, 3, h, 32);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, e, "put audit tree node");
	hot_done(st);
	if (rc == KINKO_EEXIST)
		return kinko_err_set(e, KINKO_EINTEGRITY, "audit tree node %u/%llu already exists",
				     level, (unsigned long long)idx);
	return rc;
}

static int sq_checkpoint_put(struct store *s, uint64_t size, const void *note, size_t n,
			     struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "INSERT INTO audit_checkpoint(size, note) VALUES(?, ?) "
			 "ON CONFLICT(size) DO NOTHING",
		      &st, e);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	bind_blob(st, 2, note, n);
	return step_done(s, st, "store checkpoint", e);
}

static int sq_checkpoint_latest(struct store *s, uint64_t *size, struct kbuf *note,
				struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT size, note FROM audit_checkpoint ORDER BY size DESC LIMIT 1", &st,
		      e);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(st, 1);
		*size = (uint64_t)sqlite3_column_int64(st, 0);
		rc = kbuf_append(note, p ? p : "", (size_t)sqlite3_column_bytes(st, 1))
			     ? kinko_err_set(e, KINKO_ELIMIT, "checkpoint too large")
			     : 0;
	} else if (rc == SQLITE_DONE) {
		rc = kinko_err_set(e, KINKO_ENOENT, "no checkpoint has been signed yet");
	} else {
		rc = db_err(s, e, "latest checkpoint");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_checkpoint_scan(struct store *s,
			      int (*cb)(void *ctx, uint64_t size, const uint8_t *p, size_t n),
			      void *ctx, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int rc = prep(s, "SELECT size, note FROM audit_checkpoint ORDER BY size", &st, e);

	if (rc)
		return rc;
	return scan_u64_blob(s, st, cb, ctx, "scan checkpoints", e);
}

/* ---------------------------------------------------------------- open/close */

static void sq_close(struct store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;

	for (int i = 0; i < HOT_COUNT; i++)
		sqlite3_finalize(q->hot[i]);
	sqlite3_close(q->db);
	if (q->wal_fd >= 0)
		close(q->wal_fd);
	pthread_mutex_destroy(&q->lock);
	pthread_mutex_destroy(&q->sync_lock);
	kinko_secure_free(q->row_key);
	kbuf_free(&q->schema);
	pthread_rwlock_destroy(&q->row_key_lock);
	free(q);
}

static const struct store_ops sqlite_ops = {
	.close = sq_close,
	.begin = sq_begin,
	.begin_read = sq_begin_read,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.meta_get = sq_meta_get,
	.meta_put = sq_meta_put,
	.user_insert = sq_user_insert,
	.user_update = sq_user_update,
	.user_get = sq_user_get,
	.user_list = sq_user_list,
	.user_count = sq_user_count,
	.session_insert = sq_session_insert,
	.session_get = sq_session_get,
	.session_touch = sq_session_touch,
	.session_delete = sq_session_delete,
	.session_delete_user = sq_session_delete_user,
	.session_delete_cert = sq_session_delete_cert,
	.session_purge = sq_session_purge,
	.cert_insert = sq_cert_insert,
	.cert_get = sq_cert_get,
	.cert_revoke = sq_cert_revoke,
	.cert_list = sq_cert_list,
	.contract_insert = sq_contract_insert,
	.contract_get = sq_contract_get,
	.contract_list = sq_contract_list,
	.member_put = sq_member_put,
	.member_delete = sq_member_delete,
	.member_role = sq_member_role,
	.member_list = sq_member_list,
	.folder_insert = sq_folder_insert,
	.folder_get = sq_folder_get,
	.folder_set_specific = sq_folder_set_specific,
	.folder_list = sq_folder_list,
	.acl_put = sq_acl_put,
	.acl_get = sq_acl_get,
	.acl_list = sq_acl_list,
	.object_insert = sq_object_insert,
	.object_get = sq_object_get,
	.object_find = sq_object_find,
	.object_delete = sq_object_delete,
	.object_list = sq_object_list,
	.audit_size = sq_audit_size,
	.audit_insert = sq_audit_insert,
	.audit_get = sq_audit_get,
	.audit_scan = sq_audit_scan,
	.audit_node_get = sq_audit_node_get,
	.audit_node_put = sq_audit_node_put,
	.checkpoint_put = sq_checkpoint_put,
	.checkpoint_latest = sq_checkpoint_latest,
	.checkpoint_scan = sq_checkpoint_scan,
	.blob_refs = sq_blob_refs,
	.integrity = sq_integrity,
	.block_put = sq_block_put,
	.block_delete = sq_block_delete,
	.block_list = sq_block_list,
	.set_row_key = sq_set_row_key,
	.rows_marked = sq_rows_marked,
	.rows_adopt = sq_rows_adopt,
	.cert_revoked_unverified = sq_cert_revoked_unverified,
	.rows_digest_kept = sq_rows_digest_kept,
	.rows_digest_reset = sq_rows_digest_reset,
	.rows_digest_problem = sq_rows_digest_problem,
	.rows_digest_expect = sq_rows_digest_expect,
};

static int migrate(sqlite3 *db, struct kinko_err *e)
{
	sqlite3_stmt *st;
	int version = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return kinko_err_set(e, KINKO_EIO, "store: %s", sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)store_migrations_count)
		return kinko_err_set(e, KINKO_ECONFLICT,
				     "store: schema version %d is newer than this kinko (%zu); "
				     "upgrade kinko",
				     version, store_migrations_count);
	for (size_t i = (size_t)version; i < store_migrations_count; i++) {
		char pragma[64];
		char *msg = NULL;
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, store_migrations[i], NULL, NULL, &msg) != SQLITE_OK) {
			int rc = kinko_err_set(e, KINKO_EIO, "store: migration %zu failed: %s",
					       i + 1, msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %zu", i + 1);
		if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return kinko_err_set(e, KINKO_EIO, "store: migration %zu: %s", i + 1,
					     sqlite3_errmsg(db));
		}
	}
	return 0;
}

/* The schema the migrations make, from an empty database in memory. */
static int expected_schema(struct kbuf *out, struct kinko_err *e)
{
	sqlite3 *mem = NULL;
	int rc;

	if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(mem);
		return kinko_err_set(e, KINKO_ENOMEM, "store: cannot open a database in memory");
	}
	rc = migrate(mem, e);
	if (rc == 0)
		rc = schema_text(mem, out, e);
	sqlite3_close(mem);
	return rc;
}

int store_sqlite_open(const char *path, bool create, struct store **out, struct kinko_err *e)
{
	static const char *pragmas =
		"PRAGMA journal_mode = WAL;"
		/* NORMAL: COMMIT does not sync; sq_commit makes the WAL durable itself
		 * (group commit), and checkpoints still sync the database file. */
		"PRAGMA synchronous = NORMAL;"
		"PRAGMA secure_delete = ON;"
		"PRAGMA foreign_keys = ON;"
		"PRAGMA trusted_schema = OFF;"
		"PRAGMA cell_size_check = ON;";
	struct sqlite_store *q;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
	int rc;

	if (create)
		flags |= SQLITE_OPEN_CREATE;
	q = calloc(1, sizeof *q);
	if (q && !(q->row_key = kinko_secure_alloc(32))) {
		free(q);
		q = NULL;
	}
	if (!q)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	kbuf_init(&q->schema, 1u << 20);
	rc = expected_schema(&q->schema, e);
	if (rc) {
		kbuf_free(&q->schema);
		kinko_secure_free(q->row_key);
		free(q);
		return rc;
	}
	if (sqlite3_open_v2(path, &q->db, flags, NULL) != SQLITE_OK) {
		rc = kinko_err_set(e, create ? KINKO_EIO : KINKO_ENOENT,
				   "cannot open the store %s: %s%s", path,
				   q->db ? sqlite3_errmsg(q->db) : "out of memory",
				   create ? "" : " (run kinko init first)");
		sqlite3_close(q->db);
		kbuf_free(&q->schema);
		kinko_secure_free(q->row_key);
		free(q);
		return rc;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, 10000);
	if (sqlite3_exec(q->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		rc = kinko_err_set(e, KINKO_EIO, "store %s: %s", path, sqlite3_errmsg(q->db));
		sqlite3_close(q->db);
		kbuf_free(&q->schema);
		kinko_secure_free(q->row_key);
		free(q);
		return rc;
	}
	rc = lockdown(q->db, e);
	if (rc == 0)
		rc = migrate(q->db, e);
	if (rc == 0)
		rc = rows_watch(q->db, q, e);
	if (rc) {
		sqlite3_close(q->db);
		kbuf_free(&q->schema);
		kinko_secure_free(q->row_key);
		free(q);
		return rc;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->sync_lock, NULL);
	pthread_rwlock_init(&q->row_key_lock, NULL);
	snprintf(q->wal_path, sizeof q->wal_path, "%s-wal", path);
	q->wal_fd = -1;
	/* Keep the WAL file in place (never deleted between connections), so the fd
	 * we sync is always the live log. */
	sqlite3_file_control(q->db, NULL, SQLITE_FCNTL_PERSIST_WAL, &(int){1});
	q->base.ops = &sqlite_ops;
	*out = &q->base;
	return 0;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_role_name(enum store_role r)
{
	switch (r) {
	case ROLE_MANAGER: return "manager";
	case ROLE_HANDLER: return "handler";
	case ROLE_AUDITOR: return "auditor";
	case ROLE_OPERATOR: return "operator";
	case ROLE_NONE: break;
	}
	return "none";
}

enum store_role store_role_parse(const char *s)
{
	if (!s)
		return ROLE_NONE;
	if (!strcmp(s, "manager"))
		return ROLE_MANAGER;
	if (!strcmp(s, "handler"))
		return ROLE_HANDLER;
	if (!strcmp(s, "auditor"))
		return ROLE_AUDITOR;
	if (!strcmp(s, "operator"))
		return ROLE_OPERATOR;
	return ROLE_NONE;
}

void store_new_id(char out[STORE_ID_LEN])
{
	uint8_t b[16];

	kinko_random(b, sizeof b);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, STORE_ID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
}

bool store_id_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return true;
}
