/* The SQLite store: migrations, durability PRAGMAs, every operation's round trip,
 * uniqueness and foreign keys, and rollback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "crypto/crypto.h"
#include "store/migrations.h"
#include "store/store.h"

static char tmpdir[256];
static char dbpath[512];
static unsigned ndb;

/* The store keeps its connection private; an auto-extension (a public SQLite hook
 * run for every new connection) hands the test the handle the store opened, so
 * its per-connection PRAGMAs can be read without knowing the store's layout. */
static sqlite3 *last_conn;

static int capture_conn(sqlite3 *db, char **err, const struct sqlite3_api_routines *api)
{
	(void)err;
	(void)api;
	last_conn = db;
	return SQLITE_OK;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/kinko-test-store-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return sqlite3_auto_extension((void (*)(void))capture_conn) == SQLITE_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];
	(void)state;
	sqlite3_reset_auto_extension();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The key that authenticates access rows, as the vault would derive it. */
static const uint8_t row_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static struct store *fresh(void)
{
	struct store *s = NULL;
	struct kinko_err e;

	snprintf(dbpath, sizeof dbpath, "%s/kinko-%u.db", tmpdir, ndb++);
	if (store_sqlite_open(dbpath, true, &s, &e))
		fail_msg("open: %s", e.msg);
	s->ops->set_row_key(s, row_key);
	return s;
}

/* One integer from a query on a separate connection to the same file. */
static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int64_t file_int(const char *path, const char *sql)
{
	sqlite3 *db;
	int64_t v;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	v = query_int(db, sql);
	sqlite3_close(db);
	return v;
}

static void make_user(struct store_user *u, const char *name, enum store_role role)
{
	memset(u, 0, sizeof *u);
	store_new_id(u->id);
	snprintf(u->name, sizeof u->name, "%s", name);
	u->role = role;
	snprintf(u->pw_hash, sizeof u->pw_hash, "$argon2id$v=19$fake-%s", name);
	kbuf_init(&u->totp_sealed, 1024);
	u->created_at = 1700000000;
}

static void put_user(struct store *s, struct store_user *u)
{
	struct kinko_err e;
	assert_int_equal(s->ops->begin(s, &e), 0);
	if (s->ops->user_insert(s, u, &e))
		fail_msg("user_insert: %s", e.msg);
	assert_int_equal(s->ops->commit(s, &e), 0);
}

/* Runs one write op in its own transaction and returns its code (rolled back on
 * failure, committed on success). */
#define TX(s, call)                                                   \
	({                                                            \
		struct kinko_err e_;                                  \
		int rc_ = (s)->ops->begin((s), &e_);                  \
		if (rc_ == 0) {                                       \
			rc_ = (call);                                 \
			if (rc_ == 0)                                 \
				rc_ = (s)->ops->commit((s), &e_);     \
			else                                          \
				(s)->ops->rollback(s);                \
		}                                                     \
		rc_;                                                  \
	})

/* ---------------------------------------------------------------- schema */

static void migrations_and_pragmas(void **state)
{
	struct store *s;
	(void)state;

	last_conn = NULL;
	s = fresh();
	assert_non_null(last_conn);
	/* The store's own connection has the durability settings in effect. */
	assert_int_equal(query_int(last_conn, "PRAGMA foreign_keys"), 1);
	/* NORMAL: COMMIT writes the WAL and the store's group commit syncs it once
	 * for every commit before it (see store_sqlite.c). */
	assert_int_equal(query_int(last_conn, "PRAGMA synchronous"), 1);
	assert_int_equal(query_int(last_conn, "PRAGMA secure_delete"), 1);
	assert_int_equal(query_int(last_conn, "PRAGMA trusted_schema"), 0);
	{
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(last_conn, "PRAGMA journal_mode", -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
	}
	store_close(s);

	/* On disk: the schema version is the number of migrations, every table exists,
	 * and WAL is recorded in the file. */
	assert_int_equal(file_int(dbpath, "PRAGMA user_version"), (int64_t)store_migrations_count);
	assert_int_equal(file_int(dbpath, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
					  "AND name IN ('meta','users','sessions','contracts',"
					  "'members','folders','acl','objects','audit_event',"
					  "'audit_node','audit_checkpoint')"),
			 11);
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

static void open_errors(void **state)
{
	struct store *s = (struct store *)0x1;
	struct kinko_err e;
	char path[600];
	(void)state;

	/* Without create, a missing store is ENOENT and says what to do. */
	snprintf(path, sizeof path, "%s/absent.db", tmpdir);
	assert_int_equal(store_sqlite_open(path, false, &s, &e), KINKO_ENOENT);
	assert_non_null(strstr(e.msg, "kinko init"));
	assert_ptr_equal(s, (struct store *)0x1);
	assert_int_equal(access(path, F_OK), -1); /* and nothing was created */
	/* A directory that does not exist. */
	snprintf(path, sizeof path, "%s/no/such/dir.db", tmpdir);
	assert_int_equal(store_sqlite_open(path, true, &s, &e), KINKO_EIO);
	/* A file that is not a database. */
	snprintf(path, sizeof path, "%s/junk.db", tmpdir);
	{
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		for (int i = 0; i < 200; i++)
			fputs("this is not an SQLite database file. ", f);
		fclose(f);
	}
	assert_int_not_equal(store_sqlite_open(path, false, &s, &e), 0);
	assert_ptr_equal(s, (struct store *)0x1);
	store_close(NULL); /* a no-op */
}

static void reopen_keeps_data(void **state)
{
	struct store *s = fresh();
	struct store_user u, got;
	struct kinko_err e;
	struct kbuf b;
	(void)state;

	make_user(&u, "alice", ROLE_HANDLER);
	put_user(s, &u);
	assert_int_equal(TX(s, s->ops->meta_put(s, "k", "v1", 2, &e_)), 0);
	store_close(s);

	assert_int_equal(store_sqlite_open(dbpath, false, &s, &e), 0);
	s->ops->set_row_key(s, row_key);
	assert_int_equal(s->ops->user_get(s, u.id, NULL, &got, &e), 0);
	assert_string_equal(got.name, "alice");
	store_user_clear(&got);
	kbuf_init(&b, 64);
	assert_int_equal(s->ops->meta_get(s, "k", &b, &e), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "v1", 2);
	kbuf_free(&b);
	store_close(s);
	assert_int_equal(file_int(dbpath, "PRAGMA user_version"), (int64_t)store_migrations_count);
	store_user_clear(&u);
}

static void newer_schema_refused(void **state)
{
	struct store *s = fresh(), *s2 = (struct store *)0x1;
	struct kinko_err e;
	sqlite3 *db;
	char sql[64];
	(void)state;

	store_close(s);
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", store_migrations_count + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_sqlite_open(dbpath, false, &s2, &e), KINKO_ECONFLICT);
	assert_non_null(strstr(e.msg, "newer"));
	assert_ptr_equal(s2, (struct store *)0x1);
	/* The file was not touched (no downgrade). */
	assert_int_equal(file_int(dbpath, "PRAGMA user_version"),
			 (int64_t)store_migrations_count + 1);
}

/* ---------------------------------------------------------------- ops */

static void meta_ops(void **state)
{
	struct store *s = fresh();
	struct kinko_err e;
	struct kbuf b;
	uint8_t bin[300];
	(void)state;

	kbuf_init(&b, 4096);
	assert_int_equal(s->ops->meta_get(s, "absent", &b, &e), KINKO_ENOENT);
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (uint8_t)i; /* includes NUL bytes */
	assert_int_equal(TX(s, s->ops->meta_put(s, "bin", bin, sizeof bin, &e_)), 0);
	assert_int_equal(s->ops->meta_get(s, "bin", &b, &e), 0);
	assert_int_equal(b.len, sizeof bin);
	assert_memory_equal(b.data, bin, sizeof bin);
	/* Put replaces. */
	assert_int_equal(TX(s, s->ops->meta_put(s, "bin", "x", 1, &e_)), 0);
	assert_int_equal(s->ops->meta_get(s, "bin", &b, &e), 0);
	assert_int_equal(b.len, 1);
	kbuf_free(&b);
	store_close(s);
}

/* A read transaction keeps one snapshot and holds no write lock: a writer on
 * another connection (the server, beside `kinko check`) commits meanwhile. */
static void a_read_transaction_lets_writers_on(void **state)
{
	struct store *s = fresh(), *w = NULL;
	struct kinko_err e;
	struct kbuf b;
	(void)state;

	kbuf_init(&b, 4096);
	assert_int_equal(TX(s, s->ops->meta_put(s, "k", "1", 1, &e_)), 0);
	assert_int_equal(store_sqlite_open(dbpath, false, &w, &e), 0);
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(TX(w, w->ops->meta_put(w, "k", "2", 1, &e_)), 0);
	assert_int_equal(s->ops->meta_get(s, "k", &b, &e), 0);
	assert_memory_equal(b.data, "1", 1); /* the snapshot of its start */
	s->ops->rollback(s);
	assert_int_equal(s->ops->meta_get(s, "k", &b, &e), 0);
	assert_memory_equal(b.data, "2", 1);
	kbuf_free(&b);
	store_close(w);
	store_close(s);
}

struct names {
	char v[8][65];
	int n;
	int stop_after;
};

static int collect_user(void *ctx, const struct store_user *u)
{
	struct names *l = ctx;
	snprintf(l->v[l->n++], 65, "%s", u->name);
	return l->n == l->stop_after ? 1234 : 0;
}

static void user_ops(void **state)
{
	struct store *s = fresh();
	struct store_user u, v, got;
	struct kinko_err e;
	struct names l = {.n = 0};
	int64_t n = -1;
	(void)state;

	make_user(&u, "bob", ROLE_MANAGER);
	assert_int_equal(kbuf_append(&u.totp_sealed, "\x01\x00\x02", 3), 0);
	u.totp_last_step = 55555;
	snprintf(u.allowed_cidrs, sizeof u.allowed_cidrs, "192.0.2.0/24");
	u.failed_logins = 3;
	u.locked_until = 1700000900;
	u.disabled = true;
	put_user(s, &u);

	assert_int_equal(s->ops->user_get(s, u.id, NULL, &got, &e), 0);
	assert_string_equal(got.id, u.id);
	assert_string_equal(got.name, "bob");
	assert_int_equal(got.role, ROLE_MANAGER);
	assert_string_equal(got.pw_hash, u.pw_hash);
	assert_int_equal(got.totp_sealed.len, 3);
	assert_memory_equal(got.totp_sealed.data, "\x01\x00\x02", 3);
	assert_int_equal(got.totp_last_step, 55555);
	assert_string_equal(got.allowed_cidrs, "192.0.2.0/24");
	assert_int_equal(got.failed_logins, 3);
	assert_int_equal(got.locked_until, 1700000900);
	assert_true(got.disabled);
	assert_int_equal(got.created_at, 1700000000);
	store_user_clear(&got);
	assert_int_equal(s->ops->user_get(s, NULL, "bob", &got, &e), 0);
	assert_string_equal(got.id, u.id);
	store_user_clear(&got);
	assert_int_equal(s->ops->user_get(s, NULL, "nobody", &got, &e), KINKO_ENOENT);
	assert_int_equal(s->ops->user_get(s, "00000000-0000-4000-8000-000000000000", NULL, &got, &e),
			 KINKO_ENOENT);

	/* Update every mutable field, including clearing TOTP. */
	kbuf_reset(&u.totp_sealed);
	u.totp_last_step = 0;
	u.allowed_cidrs[0] = '\0';
	u.failed_logins = 0;
	u.locked_until = 0;
	u.disabled = false;
	u.role = ROLE_HANDLER;
	assert_int_equal(TX(s, s->ops->user_update(s, &u, &e_)), 0);
	assert_int_equal(s->ops->user_get(s, u.id, NULL, &got, &e), 0);
	assert_int_equal(got.totp_sealed.len, 0);
	assert_int_equal(got.role, ROLE_HANDLER);
	assert_false(got.disabled);
	assert_string_equal(got.allowed_cidrs, "");
	store_user_clear(&got);
	/* Updating a missing user is ENOENT. */
	make_user(&v, "ghost", ROLE_HANDLER);
	assert_int_equal(TX(s, s->ops->user_update(s, &v, &e_)), KINKO_ENOENT);
	store_user_clear(&v);

	/* Lists in name order, paged with after_name and limit; a callback stops it. */
	const char *more[] = {"dave", "carol", "erin", "alice"};
	for (int i = 0; i < 4; i++) {
		make_user(&v, more[i], ROLE_HANDLER);
		put_user(s, &v);
		store_user_clear(&v);
	}
	assert_int_equal(s->ops->user_count(s, &n, &e), 0);
	assert_int_equal(n, 5);
	assert_int_equal(s->ops->user_list(s, NULL, 3, collect_user, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "alice");
	assert_string_equal(l.v[1], "bob");
	assert_string_equal(l.v[2], "carol");
	l.n = 0;
	assert_int_equal(s->ops->user_list(s, "carol", 10, collect_user, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "dave");
	assert_string_equal(l.v[1], "erin");
	l.n = 0;
	l.stop_after = 2;
	assert_int_equal(s->ops->user_list(s, NULL, 10, collect_user, &l, &e), 1234);
	assert_int_equal(l.n, 2);

	/* Uniqueness of name and of id; a role outside 1..4 is refused. */
	make_user(&v, "bob", ROLE_HANDLER);
	assert_int_equal(TX(s, s->ops->user_insert(s, &v, &e_)), KINKO_EEXIST);
	snprintf(v.name, sizeof v.name, "bob2");
	memcpy(v.id, u.id, sizeof v.id);
	assert_int_equal(TX(s, s->ops->user_insert(s, &v, &e_)), KINKO_EEXIST);
	store_new_id(v.id);
	v.role = ROLE_NONE;
	assert_int_equal(TX(s, s->ops->user_insert(s, &v, &e_)), KINKO_EINVAL);
	v.role = (enum store_role)5;
	assert_int_equal(TX(s, s->ops->user_insert(s, &v, &e_)), KINKO_EINVAL);
	assert_int_equal(s->ops->user_count(s, &n, &e), 0);
	assert_int_equal(n, 5);
	store_user_clear(&v);
	store_user_clear(&u);
	store_close(s);
}

static void session_ops(void **state)
{
	struct store *s = fresh();
	struct store_user u;
	struct store_session ss, got, other;
	struct kinko_err e;
	(void)state;

	make_user(&u, "sam", ROLE_HANDLER);
	put_user(s, &u);
	memset(&ss, 0, sizeof ss);
	kinko_random(ss.token_hash, 32);
	memcpy(ss.user_id, u.id, sizeof ss.user_id);
	snprintf(ss.cert_fp, sizeof ss.cert_fp, "%064d", 7);
	ss.created_at = 100;
	ss.last_seen = 200;
	assert_int_equal(TX(s, s->ops->session_insert(s, &ss, &e_)), 0);
	assert_int_equal(s->ops->session_get(s, ss.token_hash, &got, &e), 0);
	assert_memory_equal(got.token_hash, ss.token_hash, 32);
	assert_string_equal(got.user_id, u.id);
	assert_string_equal(got.cert_fp, ss.cert_fp);
	assert_int_equal(got.created_at, 100);
	assert_int_equal(got.last_seen, 200);
	assert_int_equal(TX(s, s->ops->session_touch(s, ss.token_hash, 300, &e_)), 0);
	assert_int_equal(s->ops->session_get(s, ss.token_hash, &got, &e), 0);
	assert_int_equal(got.last_seen, 300);
	assert_int_equal(got.created_at, 100);
	/* The same token twice is a conflict; an unknown user violates a foreign key. */
	assert_int_equal(TX(s, s->ops->session_insert(s, &ss, &e_)), KINKO_EEXIST);
	other = ss;
	kinko_random(other.token_hash, 32);
	store_new_id(other.user_id);
	assert_int_equal(TX(s, s->ops->session_insert(s, &other, &e_)), KINKO_EINVAL);
	assert_int_equal(s->ops->session_get(s, other.token_hash, &got, &e), KINKO_EAUTH);
	/* Delete one, then all of a user's. */
	memcpy(other.user_id, u.id, sizeof other.user_id);
	assert_int_equal(TX(s, s->ops->session_insert(s, &other, &e_)), 0);
	assert_int_equal(TX(s, s->ops->session_delete(s, ss.token_hash, &e_)), 0);
	assert_int_equal(s->ops->session_get(s, ss.token_hash, &got, &e), KINKO_EAUTH);
	assert_int_equal(s->ops->session_get(s, other.token_hash, &got, &e), 0);
	assert_int_equal(TX(s, s->ops->session_delete_user(s, u.id, &e_)), 0);
	assert_int_equal(s->ops->session_get(s, other.token_hash, &got, &e), KINKO_EAUTH);
	store_user_clear(&u);
	store_close(s);
}

struct fps {
	char v[8][65];
	int64_t issued[8];
	int n;
};

static int collect_cert(void *ctx, const struct store_cert *c)
{
	struct fps *l = ctx;
	memcpy(l->v[l->n], c->fingerprint, 65);
	l->issued[l->n++] = c->issued_at;
	return 0;
}

/* The issued/revoked list: insert, look up, revoke (the first revocation stands),
 * list newest first by user and in pages, sessions ended by certificate. */
static void cert_ops(void **state)
{
	struct store *s = fresh();
	struct store_user u, w;
	struct store_cert c, got;
	struct store_session ss;
	struct fps l = {0};
	struct kinko_err e;
	(void)state;

	make_user(&u, "cara", ROLE_HANDLER);
	put_user(s, &u);
	make_user(&w, "walt", ROLE_MANAGER);
	put_user(s, &w);
	for (int i = 0; i < 3; i++) { /* cara: issued at 100, 200, 200 */
		memset(&c, 0, sizeof c);
		snprintf(c.fingerprint, sizeof c.fingerprint, "%064d", i + 1);
		memcpy(c.user_id, u.id, sizeof c.user_id);
		c.issued_at = i ? 200 : 100;
		c.not_after = c.issued_at + 1000;
		assert_int_equal(TX(s, s->ops->cert_insert(s, &c, &e_)), 0);
	}
	snprintf(c.fingerprint, sizeof c.fingerprint, "%064d", 9);
	memcpy(c.user_id, w.id, sizeof c.user_id);
	c.issued_at = 50;
	assert_int_equal(TX(s, s->ops->cert_insert(s, &c, &e_)), 0);
	/* The same fingerprint twice, a short one, an unknown user: refused. */
	assert_int_equal(TX(s, s->ops->cert_insert(s, &c, &e_)), KINKO_EEXIST);
	got = c;
	snprintf(got.fingerprint, sizeof got.fingerprint, "abc");
	assert_int_not_equal(TX(s, s->ops->cert_insert(s, &got, &e_)), 0);
	snprintf(got.fingerprint, sizeof got.fingerprint, "%064d", 8);
	store_new_id(got.user_id);
	assert_int_equal(TX(s, s->ops->cert_insert(s, &got, &e_)), KINKO_EINVAL);

	snprintf(c.fingerprint, sizeof c.fingerprint, "%064d", 2);
	assert_int_equal(s->ops->cert_get(s, c.fingerprint, &got, &e), 0);
	assert_string_equal(got.user_id, u.id);
	assert_int_equal(got.issued_at, 200);
	assert_int_equal(got.not_after, 1200);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(s->ops->cert_get(s, "0000", &got, &e), KINKO_ENOENT);

	/* Revoking ends the sessions opened with it, and only those. */
	memset(&ss, 0, sizeof ss);
	kinko_random(ss.token_hash, 32);
	memcpy(ss.user_id, u.id, sizeof ss.user_id);
	memcpy(ss.cert_fp, c.fingerprint, sizeof ss.cert_fp);
	assert_int_equal(TX(s, s->ops->session_insert(s, &ss, &e_)), 0);
	assert_int_equal(TX(s, s->ops->cert_revoke(s, c.fingerprint, 500, w.id, &e_)), 0);
	assert_int_equal(TX(s, s->ops->session_delete_cert(s, "x", &e_)), 0);
	{
		struct store_session sg;
		assert_int_equal(s->ops->session_get(s, ss.token_hash, &sg, &e), 0);
		assert_int_equal(TX(s, s->ops->session_delete_cert(s, c.fingerprint, &e_)), 0);
		assert_int_equal(s->ops->session_get(s, ss.token_hash, &sg, &e), KINKO_EAUTH);
	}
	assert_int_equal(TX(s, s->ops->cert_revoke(s, c.fingerprint, 900, u.id, &e_)), 0);
	assert_int_equal(s->ops->cert_get(s, c.fingerprint, &got, &e), 0);
	assert_int_equal(got.revoked_at, 500); /* the first revocation stands */
	assert_string_equal(got.revoked_by, w.id);
	assert_int_equal(TX(s, s->ops->cert_revoke(s, "0000", 500, w.id, &e_)), KINKO_ENOENT);

	/* Newest first (ties by fingerprint, descending), one user or all, in pages. */
	assert_int_equal(s->ops->cert_list(s, u.id, -1, NULL, 10, collect_cert, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.issued[0], 200);
	assert_int_equal(l.v[0][63], '3');
	assert_int_equal(l.v[1][63], '2');
	assert_int_equal(l.v[2][63], '1');
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->cert_list(s, NULL, -1, NULL, 10, collect_cert, &l, &e), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.v[3][63], '9');
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->cert_list(s, NULL, 200, got.fingerprint, 10, collect_cert, &l, &e),
			 0); /* after (200, ...2) */
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0][63], '1');
	assert_int_equal(l.v[1][63], '9');
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->cert_list(s, w.id, -1, NULL, 1, collect_cert, &l, &e), 0);
	assert_int_equal(l.n, 1);
	store_user_clear(&u);
	store_user_clear(&w);
	store_close(s);
}

struct ids {
	char v[8][STORE_ID_LEN];
	unsigned perms[8];
	int n;
};

static int collect_contract(void *ctx, const struct store_contract *c)
{
	struct ids *l = ctx;
	memcpy(l->v[l->n++], c->id, STORE_ID_LEN);
	return 0;
}

static int collect_member(void *ctx, const struct store_member *m)
{
	struct ids *l = ctx;
	memcpy(l->v[l->n], m->user_id, STORE_ID_LEN);
	l->perms[l->n++] = m->role;
	return 0;
}

static int collect_folder(void *ctx, const struct store_folder *f)
{
	struct ids *l = ctx;
	memcpy(l->v[l->n++], f->id, STORE_ID_LEN);
	return 0;
}

static int collect_acl(void *ctx, const char *user_id, unsigned perms)
{
	struct ids *l = ctx;
	snprintf(l->v[l->n], STORE_ID_LEN, "%s", user_id);
	l->perms[l->n++] = perms;
	return 0;
}

static void contract_member_folder_acl_ops(void **state)
{
	struct store *s = fresh();
	struct store_user m, h;
	struct store_contract c1, c2, got;
	struct store_folder f, fg;
	struct kinko_err e;
	struct ids l;
	enum store_role role;
	unsigned perms = 99;
	(void)state;

	make_user(&m, "mgr", ROLE_MANAGER);
	make_user(&h, "hdl", ROLE_HANDLER);
	put_user(s, &m);
	put_user(s, &h);
	memset(&c1, 0, sizeof c1);
	store_new_id(c1.id);
	snprintf(c1.name, sizeof c1.name, "契約 2026");
	memcpy(c1.created_by, m.id, STORE_ID_LEN);
	c1.created_at = 42;
	c2 = c1;
	store_new_id(c2.id);
	assert_int_equal(TX(s, s->ops->contract_insert(s, &c1, &e_)), 0);
	assert_int_equal(TX(s, s->ops->contract_insert(s, &c2, &e_)), 0);
	assert_int_equal(TX(s, s->ops->contract_insert(s, &c1, &e_)), KINKO_EEXIST);
	assert_int_equal(s->ops->contract_get(s, c1.id, &got, &e), 0);
	assert_string_equal(got.name, "契約 2026");
	assert_string_equal(got.created_by, m.id);
	assert_int_equal(got.created_at, 42);
	assert_int_equal(s->ops->contract_get(s, "nope", &got, &e), KINKO_ENOENT);
	/* created_by must be a user. */
	{
		struct store_contract bad = c1;
		store_new_id(bad.id);
		store_new_id(bad.created_by);
		assert_int_equal(TX(s, s->ops->contract_insert(s, &bad, &e_)), KINKO_EINVAL);
	}

	/* Members: put, change role, look up, list, delete. */
	assert_int_equal(TX(s, s->ops->member_put(s, c1.id, m.id, ROLE_MANAGER, &e_)), 0);
	assert_int_equal(TX(s, s->ops->member_put(s, c1.id, h.id, ROLE_AUDITOR, &e_)), 0);
	assert_int_equal(TX(s, s->ops->member_put(s, c1.id, h.id, ROLE_HANDLER, &e_)), 0);
	assert_int_equal(s->ops->member_role(s, c1.id, h.id, &role, &e), 0);
	assert_int_equal(role, ROLE_HANDLER);
	assert_int_equal(s->ops->member_role(s, c2.id, h.id, &role, &e), 0);
	assert_int_equal(role, ROLE_NONE);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->member_list(s, c1.id, collect_member, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], h.id); /* by name: hdl < mgr */
	assert_int_equal(l.perms[0], ROLE_HANDLER);
	assert_int_equal(l.perms[1], ROLE_MANAGER);
	/* Operators are never members; unknown users and contracts violate keys. */
	assert_int_equal(TX(s, s->ops->member_put(s, c1.id, h.id, ROLE_OPERATOR, &e_)),
			 KINKO_EINVAL);
	{
		char ghost[STORE_ID_LEN];
		store_new_id(ghost);
		assert_int_equal(TX(s, s->ops->member_put(s, c1.id, ghost, ROLE_HANDLER, &e_)),
				 KINKO_EINVAL);
		assert_int_equal(TX(s, s->ops->member_put(s, ghost, h.id, ROLE_HANDLER, &e_)),
				 KINKO_EINVAL);
	}

	/* Contract lists: all, or those a user belongs to. */
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->contract_list(s, NULL, NULL, 10, collect_contract, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_true(strcmp(l.v[0], l.v[1]) < 0); /* by id */
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->contract_list(s, h.id, NULL, 10, collect_contract, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], c1.id);
	memset(&l, 0, sizeof l);
	{
		const char *first = strcmp(c1.id, c2.id) < 0 ? c1.id : c2.id;
		assert_int_equal(s->ops->contract_list(s, NULL, first, 10, collect_contract, &l, &e),
				 0);
		assert_int_equal(l.n, 1);
		assert_string_not_equal(l.v[0], first);
	}

	/* Folders. */
	memset(&f, 0, sizeof f);
	store_new_id(f.id);
	memcpy(f.contract_id, c1.id, STORE_ID_LEN);
	kbuf_init(&f.name_sealed, 64);
	kbuf_init(&f.key_wrapped, 64);
	assert_int_equal(kbuf_append(&f.name_sealed, "sealed-name", 11), 0);
	assert_int_equal(kbuf_append(&f.key_wrapped, "\0wrapped", 8), 0);
	f.created_at = 77;
	assert_int_equal(TX(s, s->ops->folder_insert(s, &f, &e_)), 0);
	assert_int_equal(TX(s, s->ops->folder_insert(s, &f, &e_)), KINKO_EEXIST);
	assert_int_equal(s->ops->folder_get(s, f.id, &fg, &e), 0);
	assert_string_equal(fg.contract_id, c1.id);
	assert_int_equal(fg.name_sealed.len, 11);
	assert_memory_equal(fg.name_sealed.data, "sealed-name", 11);
	assert_int_equal(fg.key_wrapped.len, 8);
	assert_memory_equal(fg.key_wrapped.data, "\0wrapped", 8);
	assert_int_equal(fg.created_at, 77);
	assert_false(fg.specific_personal);
	store_folder_clear(&fg);
	assert_int_equal(TX(s, s->ops->folder_set_specific(s, f.id, true, &e_)), 0);
	assert_int_equal(s->ops->folder_get(s, f.id, &fg, &e), 0);
	assert_true(fg.specific_personal);
	store_folder_clear(&fg);
	assert_int_equal(TX(s, s->ops->folder_set_specific(s, c2.id, true, &e_)), KINKO_ENOENT);
	store_folder_clear(NULL);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->folder_list(s, c1.id, NULL, 10, collect_folder, &l, &e), 0);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->folder_list(s, c2.id, NULL, 10, collect_folder, &l, &e), 0);
	assert_int_equal(l.n, 0);
	{
		struct store_folder bad = f;
		store_new_id(bad.id);
		store_new_id(bad.contract_id);
		assert_int_equal(TX(s, s->ops->folder_insert(s, &bad, &e_)), KINKO_EINVAL);
	}

	/* ACL: put, overwrite, get, list, remove with 0; bounds and keys enforced. */
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), 0);
	assert_int_equal(perms, 0);
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 3, &e_)), 0);
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 5, &e_)), 0);
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), 0);
	assert_int_equal(perms, 5);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->acl_list(s, f.id, collect_acl, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], h.id);
	assert_int_equal(l.perms[0], 5);
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 16, &e_)), KINKO_EINVAL);
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, c2.id, 1, &e_)), KINKO_EINVAL);
	assert_int_equal(TX(s, s->ops->acl_put(s, c2.id, h.id, 1, &e_)), KINKO_EINVAL);
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 0, &e_)), 0);
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), 0);
	assert_int_equal(perms, 0);
	/* Removing what is not there is fine; removing a member that is not is ENOENT. */
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 0, &e_)), 0);
	assert_int_equal(TX(s, s->ops->member_delete(s, c1.id, h.id, &e_)), 0);
	assert_int_equal(TX(s, s->ops->member_delete(s, c1.id, h.id, &e_)), KINKO_ENOENT);
	assert_int_equal(s->ops->member_role(s, c1.id, h.id, &role, &e), 0);
	assert_int_equal(role, ROLE_NONE);

	store_folder_clear(&f);
	store_user_clear(&m);
	store_user_clear(&h);
	store_close(s);
}

struct objs {
	int64_t seq[8];
	char id[8][STORE_ID_LEN];
	int n;
};

static int collect_object(void *ctx, const struct store_object *o)
{
	struct objs *l = ctx;
	l->seq[l->n] = o->seq;
	memcpy(l->id[l->n++], o->id, STORE_ID_LEN);
	return 0;
}

static int collect_blob(void *ctx, const char *blob)
{
	struct objs *l = ctx;
	snprintf(l->id[l->n++], STORE_ID_LEN, "%s", blob);
	return 0;
}

static void make_object(struct store_object *o, const char *folder_id, const char *user_id,
			uint8_t tag)
{
	memset(o, 0, sizeof *o);
	store_new_id(o->id);
	memcpy(o->folder_id, folder_id, STORE_ID_LEN);
	memset(o->name_mac, tag, 32);
	kbuf_init(&o->name_sealed, 64);
	kbuf_init(&o->key_wrapped, 64);
	assert_int_equal(kbuf_append(&o->name_sealed, "n", 1), 0);
	assert_int_equal(kbuf_append(&o->key_wrapped, "k", 1), 0);
	o->alg = 2;
	o->size = (1ull << 40) + tag; /* sizes above 4 GiB survive */
	memset(o->sha256, 0xa0 + tag, 32);
	memcpy(o->created_by, user_id, STORE_ID_LEN);
	o->created_at = 1000 + tag;
	o->records = 12345 + tag;
	snprintf(o->encoding, sizeof o->encoding, "cp932");
	o->mynumber_count = tag;
	o->mynumber_confidence = 2;
	snprintf(o->scan_signatures, sizeof o->scan_signatures, "ClamAV 1.0/27000");
}

static void object_ops(void **state)
{
	struct store *s = fresh();
	struct store_user u;
	struct store_contract c;
	struct store_folder f, f2;
	struct store_object o1, o2, got, dup;
	struct kinko_err e;
	struct objs l;
	(void)state;

	make_user(&u, "u", ROLE_MANAGER);
	put_user(s, &u);
	memset(&c, 0, sizeof c);
	store_new_id(c.id);
	snprintf(c.name, sizeof c.name, "c");
	memcpy(c.created_by, u.id, STORE_ID_LEN);
	assert_int_equal(TX(s, s->ops->contract_insert(s, &c, &e_)), 0);
	memset(&f, 0, sizeof f);
	store_new_id(f.id);
	memcpy(f.contract_id, c.id, STORE_ID_LEN);
	kbuf_init(&f.name_sealed, 64);
	kbuf_init(&f.key_wrapped, 64);
	assert_int_equal(kbuf_append(&f.name_sealed, "x", 1), 0);
	assert_int_equal(kbuf_append(&f.key_wrapped, "y", 1), 0);
	f2 = f;
	store_new_id(f2.id);
	assert_int_equal(TX(s, s->ops->folder_insert(s, &f, &e_)), 0);
	assert_int_equal(TX(s, s->ops->folder_insert(s, &f2, &e_)), 0);

	make_object(&o1, f.id, u.id, 1);
	make_object(&o2, f.id, u.id, 2);
	assert_int_equal(TX(s, s->ops->object_insert(s, &o1, &e_)), 0);
	assert_int_equal(TX(s, s->ops->object_insert(s, &o2, &e_)), 0);
	assert_true(o1.seq > 0);
	assert_true(o2.seq > o1.seq);

	assert_int_equal(s->ops->object_get(s, o1.id, &got, &e), 0);
	assert_int_equal(got.seq, o1.seq);
	assert_string_equal(got.folder_id, f.id);
	assert_memory_equal(got.name_mac, o1.name_mac, 32);
	assert_int_equal(got.alg, 2);
	assert_int_equal(got.size, (1ull << 40) + 1);
	assert_memory_equal(got.sha256, o1.sha256, 32);
	assert_string_equal(got.created_by, u.id);
	assert_int_equal(got.created_at, 1001);
	assert_int_equal(got.records, 12346);
	assert_string_equal(got.encoding, "cp932");
	assert_int_equal(got.mynumber_count, 1);
	assert_int_equal(got.mynumber_confidence, 2);
	assert_string_equal(got.scan_signatures, "ClamAV 1.0/27000");
	assert_int_equal(got.name_sealed.len, 1);
	assert_int_equal(got.key_wrapped.len, 1);
	store_object_clear(&got);
	store_object_clear(NULL);
	assert_int_equal(s->ops->object_find(s, f.id, o2.name_mac, &got, &e), 0);
	assert_string_equal(got.id, o2.id);
	store_object_clear(&got);
	/* The same name tag in another folder is another object. */
	assert_int_equal(s->ops->object_find(s, f2.id, o2.name_mac, &got, &e), KINKO_ENOENT);

	/* Uniqueness: name tag per folder, and id. */
	make_object(&dup, f.id, u.id, 1);
	assert_int_equal(TX(s, s->ops->object_insert(s, &dup, &e_)), KINKO_EEXIST);
	memcpy(dup.folder_id, f2.id, STORE_ID_LEN);
	assert_int_equal(TX(s, s->ops->object_insert(s, &dup, &e_)), 0);
	store_object_clear(&dup);
	make_object(&dup, f.id, u.id, 9);
	memcpy(dup.id, o1.id, STORE_ID_LEN);
	assert_int_equal(TX(s, s->ops->object_insert(s, &dup, &e_)), KINKO_EEXIST);
	/* Foreign keys: folder and creator must exist. */
	store_new_id(dup.id);
	store_new_id(dup.folder_id);
	assert_int_equal(TX(s, s->ops->object_insert(s, &dup, &e_)), KINKO_EINVAL);
	memcpy(dup.folder_id, f.id, STORE_ID_LEN);
	store_new_id(dup.created_by);
	assert_int_equal(TX(s, s->ops->object_insert(s, &dup, &e_)), KINKO_EINVAL);
	store_object_clear(&dup);

	/* List in seq order, paged by after_seq. */
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->object_list(s, f.id, 0, 10, collect_object, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.id[0], o1.id);
	assert_string_equal(l.id[1], o2.id);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->object_list(s, f.id, o1.seq, 10, collect_object, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.id[0], o2.id);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->object_list(s, f.id, 0, 1, collect_object, &l, &e), 0);
	assert_int_equal(l.n, 1);
	/* Blob references: every object row, in any folder. */
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->blob_refs(s, collect_blob, &l, &e), 0);
	assert_int_equal(l.n, 3);

	/* Delete: gone, and a second delete is ENOENT. A folder with objects cannot
	 * lose its contract row behind its back (foreign keys). */
	assert_int_equal(TX(s, s->ops->object_delete(s, o1.id, &e_)), 0);
	assert_int_equal(s->ops->object_get(s, o1.id, &got, &e), KINKO_ENOENT);
	assert_int_equal(TX(s, s->ops->object_delete(s, o1.id, &e_)), KINKO_ENOENT);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->blob_refs(s, collect_blob, &l, &e), 0);
	assert_int_equal(l.n, 2);

	store_object_clear(&o1);
	store_object_clear(&o2);
	store_folder_clear(&f);
	store_user_clear(&u);
	store_close(s);
}

struct events {
	uint64_t seq[8];
	size_t len[8];
	int n;
};

static int collect_event(void *ctx, uint64_t seq, const uint8_t *p, size_t n)
{
	struct events *l = ctx;
	(void)p;
	l->seq[l->n] = seq;
	l->len[l->n++] = n;
	return 0;
}

static void audit_ops(void **state)
{
	struct store *s = fresh();
	struct kinko_err e;
	struct kbuf b;
	struct events l;
	uint64_t n = 99, size = 0;
	uint8_t h[32], got[32];
	sqlite3 *db;
	(void)state;

	assert_int_equal(s->ops->audit_size(s, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(TX(s, s->ops->audit_insert(s, 0, "ev0", 3, &e_)), 0);
	assert_int_equal(TX(s, s->ops->audit_insert(s, 1, "event-1\0x", 9, &e_)), 0);
	assert_int_equal(s->ops->audit_size(s, &n, &e), 0);
	assert_int_equal(n, 2);
	/* A sequence number is written once. */
	assert_int_equal(TX(s, s->ops->audit_insert(s, 1, "forged", 6, &e_)), KINKO_EINTEGRITY);
	kbuf_init(&b, 64);
	assert_int_equal(s->ops->audit_get(s, 1, &b, &e), 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "event-1\0x", 9);
	assert_int_equal(s->ops->audit_get(s, 2, &b, &e), KINKO_ENOENT);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->audit_scan(s, 1, collect_event, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.seq[0], 1);
	assert_int_equal(l.len[0], 9);

	memset(h, 0x5a, sizeof h);
	assert_int_equal(s->ops->audit_node_get(s, 3, 7, got, &e), KINKO_ENOENT);
	assert_int_equal(TX(s, s->ops->audit_node_put(s, 3, 7, h, &e_)), 0);
	assert_int_equal(s->ops->audit_node_get(s, 3, 7, got, &e), 0);
	assert_memory_equal(got, h, 32);
	assert_int_equal(TX(s, s->ops->audit_node_put(s, 3, 7, h, &e_)), KINKO_EINTEGRITY);

	kbuf_reset(&b);
	assert_int_equal(s->ops->checkpoint_latest(s, &size, &b, &e), KINKO_ENOENT);
	assert_int_equal(TX(s, s->ops->checkpoint_put(s, 1, "note-1", 6, &e_)), 0);
	assert_int_equal(TX(s, s->ops->checkpoint_put(s, 2, "note-2", 6, &e_)), 0);
	/* A second checkpoint of the same size keeps the first. */
	assert_int_equal(TX(s, s->ops->checkpoint_put(s, 2, "other!", 6, &e_)), 0);
	assert_int_equal(s->ops->checkpoint_latest(s, &size, &b, &e), 0);
	assert_int_equal(size, 2);
	assert_memory_equal(b.data, "note-2", 6);
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->checkpoint_scan(s, collect_event, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.seq[0], 1);
	assert_int_equal(l.seq[1], 2);
	kbuf_free(&b);
	store_close(s);

	/* Append-only in the schema itself: not even plain SQL rewrites history. */
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE audit_event SET data = x'00' WHERE seq = 0",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit_event", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE audit_node SET hash = x'00'", NULL, NULL,
					  NULL),
			     SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(file_int(dbpath, "SELECT count(*) FROM audit_event"), 2);
}

static void rollback_leaves_nothing(void **state)
{
	struct store *s = fresh();
	struct store_user u, got;
	struct store_contract c;
	struct kinko_err e;
	struct kbuf b;
	int64_t n = -1;
	(void)state;

	make_user(&u, "temp", ROLE_MANAGER);
	memset(&c, 0, sizeof c);
	store_new_id(c.id);
	memcpy(c.created_by, u.id, STORE_ID_LEN);
	assert_int_equal(s->ops->begin(s, &e), 0);
	assert_int_equal(s->ops->user_insert(s, &u, &e), 0);
	assert_int_equal(s->ops->contract_insert(s, &c, &e), 0);
	assert_int_equal(s->ops->member_put(s, c.id, u.id, ROLE_MANAGER, &e), 0);
	assert_int_equal(s->ops->meta_put(s, "m", "1", 1, &e), 0);
	/* Visible inside the transaction... */
	assert_int_equal(s->ops->user_get(s, u.id, NULL, &got, &e), 0);
	store_user_clear(&got);
	s->ops->rollback(s);
	/* ... and gone after it. */
	assert_int_equal(s->ops->user_get(s, u.id, NULL, &got, &e), KINKO_ENOENT);
	assert_int_equal(s->ops->contract_get(s, c.id, &c, &e), KINKO_ENOENT);
	kbuf_init(&b, 16);
	assert_int_equal(s->ops->meta_get(s, "m", &b, &e), KINKO_ENOENT);
	kbuf_free(&b);
	assert_int_equal(s->ops->user_count(s, &n, &e), 0);
	assert_int_equal(n, 0);
	/* A rollback without a transaction is harmless, and the store is usable. */
	s->ops->rollback(s);
	put_user(s, &u);
	assert_int_equal(s->ops->user_count(s, &n, &e), 0);
	assert_int_equal(n, 1);
	/* A failed statement inside a transaction, then rollback: the earlier
	 * statement of the same transaction is undone as well. */
	{
		struct store_user v;
		make_user(&v, "second", ROLE_HANDLER);
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_equal(s->ops->user_insert(s, &v, &e), 0);
		assert_int_equal(s->ops->user_insert(s, &u, &e), KINKO_EEXIST);
		s->ops->rollback(s);
		assert_int_equal(s->ops->user_get(s, v.id, NULL, &got, &e), KINKO_ENOENT);
		store_user_clear(&v);
	}
	store_close(s);
	/* Nothing of the rolled-back transaction reached the file. */
	assert_int_equal(file_int(dbpath, "SELECT count(*) FROM users"), 1);
	assert_int_equal(file_int(dbpath, "SELECT count(*) FROM contracts"), 0);
	assert_int_equal(file_int(dbpath, "SELECT count(*) FROM meta"), 0);
	store_user_clear(&u);
}

static void ids_and_roles(void **state)
{
	char a[STORE_ID_LEN], b[STORE_ID_LEN];
	(void)state;

	for (int i = 0; i < 100; i++) {
		store_new_id(a);
		assert_true(store_id_valid(a));
		assert_int_equal(a[14], '4'); /* version 4 */
		assert_non_null(strchr("89ab", a[19]));
	}
	store_new_id(b);
	assert_string_not_equal(a, b);
	assert_true(store_id_valid("00000000-0000-4000-8000-000000000000"));
	assert_false(store_id_valid(NULL));
	assert_false(store_id_valid(""));
	assert_false(store_id_valid("00000000-0000-4000-8000-00000000000"));
	assert_false(store_id_valid("00000000-0000-4000-8000-0000000000000"));
	assert_false(store_id_valid("00000000-0000-4000-8000-00000000000A"));
	assert_false(store_id_valid("00000000x0000-4000-8000-000000000000"));
	assert_false(store_id_valid("000000000-000-4000-8000-000000000000"));
	assert_false(store_id_valid("../../../../../../../../etc/passwd0000"));

	for (int r = ROLE_MANAGER; r <= ROLE_OPERATOR; r++)
		assert_int_equal(store_role_parse(store_role_name((enum store_role)r)), r);
	assert_string_equal(store_role_name(ROLE_NONE), "none");
	assert_int_equal(store_role_parse("none"), ROLE_NONE);
	assert_int_equal(store_role_parse("Manager"), ROLE_NONE);
	assert_int_equal(store_role_parse(""), ROLE_NONE);
	assert_int_equal(store_role_parse(NULL), ROLE_NONE);
}

/* Raw SQL on a second connection: what someone who can write kinko.db can do. */
static void raw(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	char side[600];

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	/* The test's own copies of rows live in a side database: a table added to
	 * kinko.db itself is a change of its schema, which kinko refuses to work on. */
	snprintf(side, sizeof side, "ATTACH '%s-side' AS side", dbpath);
	assert_int_equal(sqlite3_exec(db, side, NULL, NULL, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "");
	assert_true(sqlite3_changes(db) >= 1);
	sqlite3_close(db);
}

static int count_triggers(void *ctx, const char *problem)
{
	if (strstr(problem, "kinko.db holds a trigger "))
		(*(int *)ctx)++;
	return 0;
}

static int count_problem(void *ctx, const char *problem)
{
	assert_non_null(strstr(problem, "does not authenticate"));
	(*(int *)ctx)++;
	return 0;
}

/* A manager m and a handler h designated for contract c, with the right to read
 * its folder f: one row of each access table but sessions and certificates. */
static void access_rows(struct store *s, struct store_user *m, struct store_user *h,
			struct store_contract *c, struct store_folder *f)
{
	make_user(m, "mgr", ROLE_MANAGER);
	make_user(h, "hdl", ROLE_HANDLER);
	put_user(s, m);
	put_user(s, h);
	memset(c, 0, sizeof *c);
	store_new_id(c->id);
	snprintf(c->name, sizeof c->name, "c");
	memcpy(c->created_by, m->id, STORE_ID_LEN);
	assert_int_equal(TX(s, s->ops->contract_insert(s, c, &e_)), 0);
	assert_int_equal(TX(s, s->ops->member_put(s, c->id, h->id, ROLE_HANDLER, &e_)), 0);
	memset(f, 0, sizeof *f);
	store_new_id(f->id);
	memcpy(f->contract_id, c->id, STORE_ID_LEN);
	kbuf_init(&f->name_sealed, 64);
	kbuf_init(&f->key_wrapped, 64);
	assert_int_equal(kbuf_append(&f->name_sealed, "n", 1), 0);
	assert_int_equal(kbuf_append(&f->key_wrapped, "k", 1), 0);
	assert_int_equal(TX(s, s->ops->folder_insert(s, f, &e_)), 0);
	assert_int_equal(TX(s, s->ops->acl_put(s, f->id, h->id, 1, &e_)), 0);
}

/* The rows that decide access authenticate under the row key: written with it,
 * refused when changed, added or copied by anyone else (the integrity check lists
 * them), unreadable and unwritable without it; rows from before schema 7 (no MAC)
 * are refused until adopted, and adoption sets the mark only the key can make. */
static void access_rows_are_authenticated(void **state)
{
	struct store *s = fresh();
	struct store_user m, h, got;
	struct store_contract c;
	struct store_folder f, fg;
	struct store_cert cert = {.issued_at = 10, .not_after = 20}, cg;
	struct store_session ss = {.created_at = 5, .last_seen = 5}, sg;
	struct kinko_err e;
	enum store_role role;
	unsigned perms;
	struct ids l;
	int problems = 0;
	uint64_t adopted = 0;
	bool marked = true;
	char sql[512];
	(void)state;

	access_rows(s, &m, &h, &c, &f);
	memset(cert.fingerprint, 'a', 64);
	memcpy(cert.user_id, h.id, STORE_ID_LEN);
	assert_int_equal(TX(s, s->ops->cert_insert(s, &cert, &e_)), 0);
	memset(ss.token_hash, 7, 32);
	memcpy(ss.user_id, h.id, STORE_ID_LEN);
	memset(ss.cert_fp, 'a', 64);
	assert_int_equal(TX(s, s->ops->session_insert(s, &ss, &e_)), 0);
	assert_int_equal(TX(s, s->ops->cert_revoke(s, cert.fingerprint, 15, m.id, &e_)), 0);
	assert_int_equal(TX(s, s->ops->folder_set_specific(s, f.id, true, &e_)), 0);
	assert_int_equal(s->ops->integrity(s, count_problem, &problems, &e), 0);
	assert_int_equal(problems, 0);

	/* Changed outside the store: each read refuses the row. */
	snprintf(sql, sizeof sql, "UPDATE users SET role = 1 WHERE id = '%s'", h.id);
	raw(sql);
	assert_int_equal(s->ops->user_get(s, h.id, NULL, &got, &e), KINKO_EINTEGRITY);
	assert_non_null(strstr(e.msg, "account record of 'hdl' does not authenticate"));
	memset(&l, 0, sizeof l);
	assert_int_equal(s->ops->user_list(s, NULL, 10, collect_user, &l, &e), KINKO_EINTEGRITY);
	snprintf(sql, sizeof sql, "UPDATE members SET role = 1 WHERE user_id = '%s'", h.id);
	raw(sql);
	assert_int_equal(s->ops->member_role(s, c.id, h.id, &role, &e), KINKO_EINTEGRITY);
	assert_int_equal(role, ROLE_NONE);
	assert_int_equal(s->ops->member_list(s, c.id, collect_member, &l, &e), KINKO_EINTEGRITY);
	assert_int_equal(s->ops->contract_list(s, h.id, NULL, 10, collect_contract, &l, &e),
			 KINKO_EINTEGRITY);
	snprintf(sql, sizeof sql, "UPDATE acl SET perms = 15 WHERE user_id = '%s'", h.id);
	raw(sql);
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), KINKO_EINTEGRITY);
	assert_int_equal(perms, 0);
	assert_int_equal(s->ops->acl_list(s, f.id, collect_acl, &l, &e), KINKO_EINTEGRITY);
	raw("UPDATE certificates SET revoked_at = 0, revoked_by = ''");
	assert_int_equal(s->ops->cert_get(s, cert.fingerprint, &cg, &e), KINKO_EINTEGRITY);
	snprintf(sql, sizeof sql, "UPDATE sessions SET user_id = '%s'", m.id);
	raw(sql);
	assert_int_equal(s->ops->session_get(s, ss.token_hash, &sg, &e), KINKO_EINTEGRITY);
	raw("UPDATE folders SET specific_personal = 0");
	assert_int_equal(s->ops->folder_get(s, f.id, &fg, &e), KINKO_EINTEGRITY);
	assert_int_equal(TX(s, s->ops->folder_set_specific(s, f.id, false, &e_)), KINKO_EINTEGRITY);
	raw("UPDATE contracts SET name = 'another'");
	{
		struct store_contract cgot;
		assert_int_equal(s->ops->contract_get(s, c.id, &cgot, &e), KINKO_EINTEGRITY);
	}
	problems = 0;
	assert_int_equal(s->ops->integrity(s, count_problem, &problems, &e), 0);
	assert_int_equal(problems, 7);

	/* A row larger than any kinko writes is refused whole. Its encoding is bounded;
	 * these sizes make one of its fields end within 5 bytes of the bound, where a
	 * check written as `n > MAX - 5 - used` wraps and writes past the buffer. */
	{
		struct store_user b;
		make_user(&b, "big", ROLE_HANDLER);
		put_user(s, &b);
		/* What such a row holds does not reach the error (nor the server's log). */
		snprintf(sql, sizeof sql,
			 "UPDATE users SET name = 'x' || char(10) || 'kinko: forged line' "
			 "WHERE id = '%s'",
			 b.id);
		raw(sql);
		assert_int_equal(s->ops->user_get(s, b.id, NULL, &got, &e), KINKO_EINTEGRITY);
		assert_null(strchr(e.msg, '\n'));
		assert_null(strstr(e.msg, "forged"));
		for (int big = 1240; big < 1320; big++) {
			snprintf(sql, sizeof sql,
				 "UPDATE users SET totp_sealed = randomblob(%d), "
				 "pw_hash = printf('%%.120c', 'x'), "
				 "allowed_cidrs = printf('%%.511c', 'y') WHERE id = '%s'",
				 big, b.id);
			raw(sql);
			assert_int_equal(s->ops->user_get(s, b.id, NULL, &got, &e), KINKO_EINTEGRITY);
		}
		snprintf(sql, sizeof sql, "DELETE FROM users WHERE id = '%s'", b.id);
		raw(sql);
		store_user_clear(&b);
	}

	/* A row copied from another row (its MAC with it) does not authenticate
	 * either: the MAC covers the table and every column. */
	snprintf(sql, sizeof sql,
		 "INSERT INTO acl(folder_id, user_id, perms, mac) SELECT folder_id, '%s', perms, "
		 "mac FROM acl",
		 m.id);
	raw(sql);
	assert_int_equal(s->ops->acl_get(s, f.id, m.id, &perms, &e), KINKO_EINTEGRITY);

	/* Without the key: neither read nor written. */
	s->ops->set_row_key(s, NULL);
	assert_int_equal(s->ops->user_get(s, m.id, NULL, &got, &e), KINKO_ESEALED);
	assert_int_equal(TX(s, s->ops->member_put(s, c.id, m.id, ROLE_MANAGER, &e_)),
			 KINKO_ESEALED);
	/* With another key, nothing authenticates. */
	{
		uint8_t other[32];
		memcpy(other, row_key, 32);
		other[0] ^= 1;
		s->ops->set_row_key(s, other);
		assert_int_equal(s->ops->user_get(s, m.id, NULL, &got, &e), KINKO_EINTEGRITY);
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_equal(s->ops->rows_marked(s, &marked, NULL, &e), 0);
		s->ops->rollback(s);
		assert_false(marked);
	}
	s->ops->set_row_key(s, row_key);
	assert_int_equal(s->ops->user_get(s, m.id, NULL, &got, &e), 0);
	store_user_clear(&got);

	/* Rows from before schema 7 carry no MAC: refused until adopted, and adopted
	 * as they are, once, with the mark. */
	assert_int_equal(s->ops->begin(s, &e), 0);
	assert_int_equal(s->ops->rows_marked(s, &marked, NULL, &e), 0);
	s->ops->rollback(s);
	assert_false(marked);
	raw("UPDATE users SET mac = NULL");
	raw("UPDATE acl SET mac = NULL");
	assert_int_equal(s->ops->user_get(s, m.id, NULL, &got, &e), KINKO_EINTEGRITY);
	assert_int_equal(TX(s, s->ops->rows_adopt(s, true, 1000, &adopted, &e_)), 0);
	assert_int_equal(adopted, 4); /* two users, two ACL rows */
	assert_int_equal(s->ops->user_get(s, h.id, NULL, &got, &e), 0);
	assert_int_equal(got.role, ROLE_MANAGER); /* adopted as it was */
	store_user_clear(&got);
	assert_int_equal(s->ops->acl_get(s, f.id, m.id, &perms, &e), 0);
	{
		int64_t since = 0;
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_equal(s->ops->rows_marked(s, &marked, &since, &e), 0);
		s->ops->rollback(s);
		assert_true(marked);
		assert_int_equal(since, 10); /* the earliest certificate row's, not later */
		/* The time in the mark cannot be moved either. */
		raw("UPDATE meta SET value = CAST(zeroblob(8) || substr(value, 9) AS BLOB) "
		    "WHERE key = 'rows_authenticated'");
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_equal(s->ops->rows_marked(s, &marked, &since, &e), 0);
		s->ops->rollback(s);
		assert_false(marked);
		assert_int_equal(TX(s, s->ops->rows_adopt(s, false, 1000, &adopted, &e_)), 0);
		assert_int_equal(adopted, 0);
	}
	/* A mark written by anyone without the key is no mark. */
	raw("UPDATE meta SET value = zeroblob(32) WHERE key = 'rows_authenticated'");
	assert_int_equal(s->ops->begin(s, &e), 0);
	assert_int_equal(s->ops->rows_marked(s, &marked, NULL, &e), 0);
	s->ops->rollback(s);
	assert_false(marked);
	store_folder_clear(&f);
	store_user_clear(&m);
	store_user_clear(&h);
	store_close(s);
}

/* The stored digest of the set of access rows, read on a separate connection. */
static void digest_of(uint8_t out[32])
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'rows_digest'",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(st, 0), 32);
	memcpy(out, sqlite3_column_blob(st, 0), 32);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* x = x + a - b, modulo 2^256, big-endian. */
static void add_sub(uint8_t x[32], const uint8_t a[32], const uint8_t b[32])
{
	int c = 0;

	for (int i = 31; i >= 0; i--) {
		c += x[i] + a[i] - b[i];
		x[i] = (uint8_t)(c & 0xff);
		c >>= 8; /* arithmetic shift: the borrow is -1 */
	}
}

/* Beside each row's MAC, the store keeps a digest of the whole set of access rows:
 * an authentic row put back after kinko removed it (a right taken away), or the
 * digest removed, is told at the next transaction and every access row is refused
 * until the set is the digested one again; changes through the store keep it. */
static void access_row_set_is_digested(void **state)
{
	struct store *s = fresh();
	struct store_user m, h, got;
	struct store_contract c;
	struct store_folder f;
	struct store_cert cert = {.issued_at = 10, .not_after = 20};
	struct store_session ss = {.created_at = 5, .last_seen = 5};
	struct kinko_err e, problem;
	unsigned perms = 0;
	uint64_t n = 0;
	bool kept = true;
	(void)state;

	access_rows(s, &m, &h, &c, &f);

	/* No digest yet (a store from before it): nothing is held against the rows. */
	assert_int_equal(s->ops->begin(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_kept(s, &kept, &e), 0);
	assert_false(kept);
	assert_int_equal(s->ops->rows_digest_reset(s, &n, &e), 0);
	assert_int_equal(s->ops->commit(s, &e), 0);
	assert_int_equal(n, 6); /* 2 accounts, the contract, the membership, folder, right */

	/* Changes through the store keep the digest (each transaction adds the terms
	 * of the rows it writes and takes out those of the rows it overwrites or
	 * deletes): after a reopen, rows and digest still agree. */
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 3, &e_)), 0); /* upsert */
	assert_int_equal(TX(s, s->ops->member_put(s, c.id, h.id, ROLE_AUDITOR, &e_)), 0);
	assert_int_equal(TX(s, s->ops->folder_set_specific(s, f.id, true, &e_)), 0);
	memset(cert.fingerprint, 'b', 64);
	memcpy(cert.user_id, h.id, STORE_ID_LEN);
	assert_int_equal(TX(s, s->ops->cert_insert(s, &cert, &e_)), 0);
	assert_int_equal(TX(s, s->ops->cert_revoke(s, cert.fingerprint, 15, m.id, &e_)), 0);
	memset(ss.token_hash, 7, 32);
	memcpy(ss.user_id, h.id, STORE_ID_LEN);
	memset(ss.cert_fp, 'b', 64);
	assert_int_equal(TX(s, s->ops->session_insert(s, &ss, &e_)), 0);
	assert_int_equal(TX(s, s->ops->session_touch(s, ss.token_hash, 9, &e_)), 0);
	assert_int_equal(TX(s, s->ops->session_delete_user(s, h.id, &e_)), 0);
	{ /* expired sessions go, live ones stay */
		struct store_session old = ss, sg;
		uint64_t purged = 0;
		ss.created_at = ss.last_seen = 100;
		assert_int_equal(TX(s, s->ops->session_insert(s, &ss, &e_)), 0);
		memset(old.token_hash, 8, 32);
		old.created_at = old.last_seen = 5;
		assert_int_equal(TX(s, s->ops->session_insert(s, &old, &e_)), 0);
		assert_int_equal(TX(s, s->ops->session_purge(s, 50, &purged, &e_)), 0);
		assert_int_equal(purged, 1);
		assert_int_equal(s->ops->session_get(s, old.token_hash, &sg, &e), KINKO_EAUTH);
		/* idle on record since 5, but young: it may be carrying an upload */
		memset(old.token_hash, 9, 32);
		old.created_at = 100;
		assert_int_equal(TX(s, s->ops->session_insert(s, &old, &e_)), 0);
		assert_int_equal(TX(s, s->ops->session_purge(s, 50, &purged, &e_)), 0);
		assert_int_equal(purged, 0);
		assert_int_equal(s->ops->session_get(s, ss.token_hash, &sg, &e), 0);
		assert_int_equal(s->ops->session_get(s, old.token_hash, &sg, &e), 0);
		assert_int_equal(TX(s, s->ops->session_delete(s, old.token_hash, &e_)), 0);
	}
	assert_int_equal(s->ops->begin(s, &e), 0); /* rolled back: no trace */
	assert_int_equal(s->ops->member_put(s, c.id, m.id, ROLE_MANAGER, &e), 0);
	s->ops->rollback(s);
	h.failed_logins = 2;
	assert_int_equal(TX(s, s->ops->user_update(s, &h, &e_)), 0);
	raw("CREATE TABLE side.saved AS SELECT * FROM acl; UPDATE saved SET perms = perms");
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 0, &e_)), 0); /* taken away */
	store_close(s);
	assert_int_equal(store_sqlite_open(dbpath, false, &s, &e), 0);
	s->ops->set_row_key(s, row_key);
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_problem(s, &problem), 0);
	perms = 9;
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), 0);
	assert_int_equal(perms, 0); /* none */
	assert_int_equal(s->ops->user_get(s, h.id, NULL, &got, &e), 0);
	assert_int_equal(got.failed_logins, 2);
	store_user_clear(&got);
	s->ops->rollback(s);

	/* The right put back from the earlier copy: authentic, but not current. */
	raw("INSERT INTO acl SELECT * FROM saved");
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_problem(s, &problem), KINKO_EINTEGRITY);
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), KINKO_EINTEGRITY);
	assert_non_null(strstr(e.msg, "not the set kinko keeps a digest of"));
	assert_int_equal(perms, 0);
	assert_int_equal(s->ops->user_get(s, h.id, NULL, &got, &e), KINKO_EINTEGRITY);
	s->ops->rollback(s);
	/* No access row is changed meanwhile (that would take the row into the
	 * digest); other writes, like the audit log's, go on. */
	assert_int_equal(TX(s, s->ops->member_put(s, c.id, m.id, ROLE_MANAGER, &e_)),
			 KINKO_EINTEGRITY);
	assert_int_equal(TX(s, s->ops->meta_put(s, "other", "v", 1, &e_)), 0);
	/* So it stays however often it is asked, and a reinstalled key does not
	 * forget it. */
	s->ops->set_row_key(s, row_key);
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), KINKO_EINTEGRITY);
	s->ops->rollback(s);

	/* Taken out again, the set is the digested one. */
	raw("DELETE FROM acl");
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_problem(s, &problem), 0);
	perms = 9;
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), 0);
	assert_int_equal(perms, 0); /* none */
	s->ops->rollback(s);

	/* An older version of an account (before it was disabled) is told too. */
	raw("CREATE TABLE side.before AS SELECT * FROM users; UPDATE before SET role = role");
	h.disabled = true;
	assert_int_equal(TX(s, s->ops->user_update(s, &h, &e_)), 0);
	raw("CREATE TABLE side.after AS SELECT * FROM users; UPDATE after SET role = role");
	raw("UPDATE users SET (disabled, mac) = (SELECT disabled, mac FROM before "
	    "WHERE before.id = users.id)");
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->user_get(s, h.id, NULL, &got, &e), KINKO_EINTEGRITY);
	s->ops->rollback(s);
	raw("UPDATE users SET (disabled, mac) = (SELECT disabled, mac FROM after "
	    "WHERE after.id = users.id)");
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->user_get(s, h.id, NULL, &got, &e), 0);
	assert_true(got.disabled);
	store_user_clear(&got);
	s->ops->rollback(s);

	/* A trigger stored in the file would run inside kinko's own transactions:
	 * one that puts a right back as soon as kinko deletes it (the digest would
	 * take it in), one that cancels the deletion, one that freezes the digest.
	 * kinko runs none of the file's triggers, and a schema that is not the one it
	 * makes stops every access decision; kinko check names what differs. */
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 1, &e_)), 0);
	raw("CREATE TRIGGER keep AFTER DELETE ON acl BEGIN INSERT INTO acl "
	    "VALUES(OLD.folder_id, OLD.user_id, OLD.perms, OLD.mac); END; "
	    "CREATE TRIGGER stay BEFORE DELETE ON acl BEGIN SELECT RAISE(IGNORE); END; "
	    "CREATE TRIGGER freeze BEFORE UPDATE ON meta BEGIN SELECT RAISE(IGNORE); END; "
	    "CREATE TABLE side.bump(x); INSERT INTO bump VALUES(1)");
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_problem(s, &problem), KINKO_EINTEGRITY);
	assert_non_null(strstr(problem.msg, "schema of kinko.db is not the one kinko makes"));
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), KINKO_EINTEGRITY);
	s->ops->rollback(s);
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 0, &e_)), KINKO_EINTEGRITY);
	/* Nor is a digest made over rows seen through such a schema (adoption, or the
	 * operator's rows accept). */
	assert_int_equal(TX(s, s->ops->rows_digest_reset(s, &n, &e_)), KINKO_EINTEGRITY);
	{
		int found = 0;
		assert_int_equal(s->ops->integrity(s, count_triggers, &found, &e), 0);
		assert_int_equal(found, 3);
	}
	raw("DROP TRIGGER keep; DROP TRIGGER stay; DROP TRIGGER freeze; "
	    "INSERT INTO bump VALUES(2)");
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 0, &e_)), 0);
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	perms = 9;
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), 0);
	assert_int_equal(perms, 0);
	s->ops->rollback(s);
	s->ops->set_row_key(s, row_key); /* and the file agrees: recomputed */
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_problem(s, &problem), 0);
	s->ops->rollback(s);

	/* The digest is a MAC of the sum, not the sum: the digests seen before and
	 * after a change do not give the digest of the rows with that change undone
	 * (for a sum they would: now + before - after). */
	{
		uint8_t before[32], after[32], real[32], forged[32];
		char sql[512], hex[65];
		assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 1, &e_)), 0);
		raw("DELETE FROM saved; INSERT INTO saved SELECT * FROM acl");
		digest_of(before);
		assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 0, &e_)), 0);
		digest_of(after);
		assert_int_equal(TX(s, s->ops->member_put(s, c.id, m.id, ROLE_MANAGER, &e_)), 0);
		digest_of(real);
		memcpy(forged, real, 32);
		add_sub(forged, before, after);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", forged[i]);
		snprintf(sql, sizeof sql,
			 "INSERT INTO acl SELECT * FROM saved; "
			 "UPDATE meta SET value = x'%s' WHERE key = 'rows_digest'", hex);
		raw(sql);
		assert_int_equal(s->ops->begin_read(s, &e), 0);
		assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), KINKO_EINTEGRITY);
		s->ops->rollback(s);
		/* Put back as kinko left it, rows and digest agree again. */
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", real[i]);
		snprintf(sql, sizeof sql,
			 "DELETE FROM acl; UPDATE meta SET value = x'%s' WHERE key = 'rows_digest'",
			 hex);
		raw(sql);
		assert_int_equal(s->ops->begin_read(s, &e), 0);
		assert_int_equal(s->ops->rows_digest_problem(s, &problem), 0);
		s->ops->rollback(s);
	}

	/* A statement that fails halfway takes back what its rows added to the delta:
	 * a right for an account that does not exist (the foreign key stops it after
	 * the row's term was counted), then a change that succeeds, then a commit. */
	{
		char nobody[STORE_ID_LEN];
		store_new_id(nobody);
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_not_equal(s->ops->acl_put(s, f.id, nobody, 1, &e), 0);
		assert_int_equal(s->ops->member_put(s, c.id, h.id, ROLE_HANDLER, &e), 0);
		assert_int_equal(s->ops->commit(s, &e), 0);
		s->ops->set_row_key(s, row_key); /* recomputed from the rows */
		assert_int_equal(s->ops->begin_read(s, &e), 0);
		assert_int_equal(s->ops->rows_digest_problem(s, &problem), 0);
		s->ops->rollback(s);
	}

	/* A lookup goes through an index and the column's collation; the digest counts
	 * the table's rows. A right put back with its key in another case, under a
	 * collation changed to NOCASE (the file's schema edited), would be found by
	 * the lookup but not counted by the digest: the schema is not kinko's, and
	 * the row as the table holds it is not the row asked for; refused. */
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 1, &e_)), 0);
	raw("DELETE FROM saved; INSERT INTO saved SELECT * FROM acl");
	assert_int_equal(TX(s, s->ops->acl_put(s, f.id, h.id, 0, &e_)), 0);
	store_close(s);
	raw("PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, "
	    "'user_id TEXT NOT NULL REFERENCES', 'user_id TEXT NOT NULL COLLATE NOCASE "
	    "REFERENCES') WHERE name = 'acl'");
	raw("INSERT INTO acl SELECT folder_id, upper(user_id), perms, mac FROM saved");
	assert_int_equal(store_sqlite_open(dbpath, false, &s, &e), 0);
	s->ops->set_row_key(s, row_key);
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_problem(s, &problem), KINKO_EINTEGRITY);
	perms = 9;
	assert_int_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), KINKO_EINTEGRITY);
	assert_int_equal(perms, 0);
	s->ops->rollback(s);
	raw("DELETE FROM acl; PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = "
	    "replace(sql, ' COLLATE NOCASE', '') WHERE name = 'acl'");
	store_close(s);
	assert_int_equal(store_sqlite_open(dbpath, false, &s, &e), 0);
	s->ops->set_row_key(s, row_key);

	/* Nor does kinko read a view put in place of a table (one could show rows
	 * that appear only later in a transaction, after the digest was checked). */
	raw("ALTER TABLE acl RENAME TO acl_t; "
	    "CREATE VIEW acl AS SELECT rowid AS rowid, * FROM acl_t; "
	    "INSERT INTO acl_t SELECT * FROM saved");
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	perms = 9;
	assert_int_not_equal(s->ops->acl_get(s, f.id, h.id, &perms, &e), 0);
	assert_int_not_equal(perms, 1); /* never the saved right */
	s->ops->rollback(s);
	raw("DROP VIEW acl; DELETE FROM acl_t; ALTER TABLE acl_t RENAME TO acl; "
	    "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = "
	    "replace(sql, 'CREATE TABLE \"acl\"', 'CREATE TABLE acl') WHERE name = 'acl'");
	store_close(s); /* the schema as kinko made it again */
	assert_int_equal(store_sqlite_open(dbpath, false, &s, &e), 0);
	s->ops->set_row_key(s, row_key);
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->rows_digest_problem(s, &problem), 0);
	s->ops->rollback(s);

	/* The digest removed while the key is set: refused, not taken for "none yet". */
	raw("DELETE FROM meta WHERE key = 'rows_digest'");
	assert_int_equal(s->ops->begin_read(s, &e), 0);
	assert_int_equal(s->ops->user_get(s, h.id, NULL, &got, &e), KINKO_EINTEGRITY);
	assert_non_null(strstr(e.msg, "digest of the records that decide access was removed"));
	s->ops->rollback(s);
	store_folder_clear(&f);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrations_and_pragmas),
		cmocka_unit_test(open_errors),
		cmocka_unit_test(reopen_keeps_data),
		cmocka_unit_test(newer_schema_refused),
		cmocka_unit_test(meta_ops),
		cmocka_unit_test(a_read_transaction_lets_writers_on),
		cmocka_unit_test(user_ops),
		cmocka_unit_test(session_ops),
		cmocka_unit_test(cert_ops),
		cmocka_unit_test(contract_member_folder_acl_ops),
		cmocka_unit_test(access_rows_are_authenticated),
		cmocka_unit_test(access_row_set_is_digested),
		cmocka_unit_test(object_ops),
		cmocka_unit_test(audit_ops),
		cmocka_unit_test(rollback_leaves_nothing),
		cmocka_unit_test(ids_and_roles),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
