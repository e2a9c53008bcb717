/*
 * store — the only place with SQL. Metadata, wrapped keys, sealed names and (later)
 * the audit log live here; content lives in blob files (see vault/blob.h).
 *
 * The domain sees a table of operations (struct store_ops) so another engine
 * (PostgreSQL) can stand behind the same seam and tests can inject faults. Every
 * change happens inside store_begin()/store_commit(); a store handle serialises
 * transactions with a mutex, so one handle may be shared by the server's threads.
 * Rows come back in caller-provided structs; text fields are fixed-size arrays or
 * kbufs the caller frees with the row's _clear function.
 */
#ifndef KINKO_STORE_STORE_H
#define KINKO_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addrblock.h"
#include "core/buf.h"
#include "core/err.h"

#define STORE_ID_LEN 37 /* UUID text + NUL */

enum store_role {
	ROLE_NONE = 0,
	ROLE_MANAGER = 1,
	ROLE_HANDLER = 2,
	ROLE_AUDITOR = 3,
	ROLE_OPERATOR = 4,
};

struct store_user {
	char id[STORE_ID_LEN];
	char name[65];
	enum store_role role;
	char pw_hash[128];
	struct kbuf totp_sealed; /* empty when not enrolled */
	uint64_t totp_last_step;
	char allowed_cidrs[512]; /* comma-separated; empty = the server allowlist only */
	int64_t failed_logins;
	int64_t locked_until;
	bool disabled;
	int64_t created_at;
};
void store_user_clear(struct store_user *u);

struct store_session {
	uint8_t token_hash[32];
	char user_id[STORE_ID_LEN];
	char cert_fp[65];
	int64_t created_at;
	int64_t last_seen;
};

/* A client certificate kinko issued. revoked_at is 0 while it is valid. */
struct store_cert {
	char fingerprint[65]; /* lowercase hex SHA-256 of the DER certificate */
	char user_id[STORE_ID_LEN];
	int64_t issued_at;
	int64_t not_after;
	int64_t revoked_at;
	char revoked_by[STORE_ID_LEN]; /* the manager who revoked it */
};

struct store_contract {
	char id[STORE_ID_LEN];
	char name[256];
	char created_by[STORE_ID_LEN];
	int64_t created_at;
};

struct store_folder {
	char id[STORE_ID_LEN];
	char contract_id[STORE_ID_LEN];
	struct kbuf name_sealed;
	struct kbuf key_wrapped;
	int64_t created_at;
	bool specific_personal; /* may hold My Numbers (特定個人情報) */
};
void store_folder_clear(struct store_folder *f);

struct store_object {
	int64_t seq;
	char id[STORE_ID_LEN];
	char folder_id[STORE_ID_LEN];
	uint8_t name_mac[32];
	struct kbuf name_sealed;
	struct kbuf key_wrapped;
	int alg;
	uint64_t size;
	uint8_t sha256[32];
	char created_by[STORE_ID_LEN];
	int64_t created_at;
	/* From the scanning pass. */
	uint64_t records;
	char encoding[16];
	uint64_t mynumber_count;
	int mynumber_confidence;
	char scan_signatures[64]; /* clamd engine/signature version that passed it */
};
void store_object_clear(struct store_object *o);

struct store_member {
	char user_id[STORE_ID_LEN];
	char user_name[65];
	enum store_role role;
};

/* Row callbacks for lists: return 0 to continue, non-zero to stop with that code. */
typedef int (*store_user_cb)(void *ctx, const struct store_user *u);
typedef int (*store_contract_cb)(void *ctx, const struct store_contract *c);
typedef int (*store_folder_cb)(void *ctx, const struct store_folder *f);
typedef int (*store_object_cb)(void *ctx, const struct store_object *o);
typedef int (*store_member_cb)(void *ctx, const struct store_member *m);
typedef int (*store_acl_cb)(void *ctx, const char *user_id, unsigned perms);
typedef int (*store_cert_cb)(void *ctx, const struct store_cert *c);

struct store;

struct store_ops {
	void (*close)(struct store *s);
	int (*begin)(struct store *s, struct kinko_err *e);
	/* A transaction that only reads: one snapshot of the store for all its
	 * statements, without the write lock (in WAL mode writers, also those of other
	 * processes, go on beside it). Ended by rollback. */
	int (*begin_read)(struct store *s, struct kinko_err *e);
	/* Commits and makes the change durable before it returns. KINKO_ENOTDURABLE:
	 * the change IS committed (visible, and kept unless the power fails), but the
	 * log could not be flushed; from then on begin refuses (KINKO_EUNAVAIL) until
	 * the store is reopened. Any other error: nothing was committed. */
	int (*commit)(struct store *s, struct kinko_err *e);
	void (*rollback)(struct store *s);

	int (*meta_get)(struct store *s, const char *key, struct kbuf *out, struct kinko_err *e);
	int (*meta_put)(struct store *s, const char *key, const void *v, size_t n,
			struct kinko_err *e);

	int (*user_insert)(struct store *s, const struct store_user *u, struct kinko_err *e);
	int (*user_update)(struct store *s, const struct store_user *u, struct kinko_err *e);
	int (*user_get)(struct store *s, const char *id, const char *name, struct store_user *out,
			struct kinko_err *e);
	int (*user_list)(struct store *s, const char *after_name, unsigned limit,
			 store_user_cb cb, void *ctx, struct kinko_err *e);
	int (*user_count)(struct store *s, int64_t *n, struct kinko_err *e);

	int (*session_insert)(struct store *s, const struct store_session *ss,
			      struct kinko_err *e);
	int (*session_get)(struct store *s, const uint8_t token_hash[32],
			   struct store_session *out, struct kinko_err *e);
	int (*session_touch)(struct store *s, const uint8_t token_hash[32], int64_t now,
			     struct kinko_err *e);
	int (*session_delete)(struct store *s, const uint8_t token_hash[32],
			      struct kinko_err *e);
	int (*session_delete_user)(struct store *s, const char *user_id, struct kinko_err *e);
	int (*session_delete_cert)(struct store *s, const char *cert_fp, struct kinko_err *e);
	/* Deletes the sessions made before created_before (past their absolute
	 * lifetime), counting them in *n. */
	int (*session_purge)(struct store *s, int64_t created_before, uint64_t *n,
			     struct kinko_err *e);

	int (*cert_insert)(struct store *s, const struct store_cert *c, struct kinko_err *e);
	/* KINKO_ENOENT when kinko never issued it. */
	int (*cert_get)(struct store *s, const char *fingerprint, struct store_cert *out,
			struct kinko_err *e);
	/* Marks it revoked at `now` by `by` unless it already is (the first revocation
	 * stands). KINKO_ENOENT when kinko never issued it. */
	int (*cert_revoke)(struct store *s, const char *fingerprint, int64_t now, const char *by,
			   struct kinko_err *e);
	/* Newest first; user_id NULL for all users; after: the (issued_at, fingerprint)
	 * of the last row seen, or issued_at < 0 to start. */
	int (*cert_list)(struct store *s, const char *user_id, int64_t after_issued,
			 const char *after_fp, unsigned limit, store_cert_cb cb, void *ctx,
			 struct kinko_err *e);

	int (*contract_insert)(struct store *s, const struct store_contract *c,
			       struct kinko_err *e);
	int (*contract_get)(struct store *s, const char *id, struct store_contract *out,
			    struct kinko_err *e);
	/* Contracts the user is a member of (all contracts when user_id is NULL). */
	int (*contract_list)(struct store *s, const char *user_id, const char *after_id,
			     unsigned limit, store_contract_cb cb, void *ctx, struct kinko_err *e);

	int (*member_put)(struct store *s, const char *contract_id, const char *user_id,
			  enum store_role role, struct kinko_err *e);
	int (*member_delete)(struct store *s, const char *contract_id, const char *user_id,
			     struct kinko_err *e);
	/* ROLE_NONE when not a member. */
	int (*member_role)(struct store *s, const char *contract_id, const char *user_id,
			   enum store_role *out, struct kinko_err *e);
	int (*member_list)(struct store *s, const char *contract_id, store_member_cb cb,
			   void *ctx, struct kinko_err *e);

	int (*folder_insert)(struct store *s, const struct store_folder *f, struct kinko_err *e);
	int (*folder_get)(struct store *s, const char *id, struct store_folder *out,
			  struct kinko_err *e);
	int (*folder_set_specific)(struct store *s, const char *id, bool on, struct kinko_err *e);
	int (*folder_list)(struct store *s, const char *contract_id, const char *after_id,
			   unsigned limit, store_folder_cb cb, void *ctx, struct kinko_err *e);

	int (*acl_put)(struct store *s, const char *folder_id, const char *user_id,
		       unsigned perms, struct kinko_err *e); /* perms 0 removes the entry */
	int (*acl_get)(struct store *s, const char *folder_id, const char *user_id,
		       unsigned *perms, struct kinko_err *e); /* 0 when no entry */
	int (*acl_list)(struct store *s, const char *folder_id, store_acl_cb cb, void *ctx,
			struct kinko_err *e);

	int (*object_insert)(struct store *s, struct store_object *o, struct kinko_err *e);
	int (*object_get)(struct store *s, const char *id, struct store_object *out,
			  struct kinko_err *e);
	int (*object_find)(struct store *s, const char *folder_id, const uint8_t name_mac[32],
			   struct store_object *out, struct kinko_err *e);
	int (*object_delete)(struct store *s, const char *id, struct kinko_err *e);
	/* A folder's objects after after_seq in seq order; every folder's when
	 * folder_id is NULL (the integrity check). */
	int (*object_list)(struct store *s, const char *folder_id, int64_t after_seq,
			   unsigned limit, store_object_cb cb, void *ctx, struct kinko_err *e);
	/* The audit log: append-only events (canonical bytes), the Merkle tree's
	 * perfect-subtree hashes, and signed checkpoints. */
	int (*audit_size)(struct store *s, uint64_t *n, struct kinko_err *e);
	int (*audit_insert)(struct store *s, uint64_t seq, const void *data, size_t n,
			    struct kinko_err *e);
	int (*audit_get)(struct store *s, uint64_t seq, struct kbuf *out, struct kinko_err *e);
	int (*audit_scan)(struct store *s, uint64_t from,
			  int (*cb)(void *ctx, uint64_t seq, const uint8_t *p, size_t n), void *ctx,
			  struct kinko_err *e);
	/* KINKO_ENOENT when the node is not stored. */
	int (*audit_node_get)(struct store *s, unsigned level, uint64_t idx, uint8_t out[32],
			      struct kinko_err *e);
	int (*audit_node_put)(struct store *s, unsigned level, uint64_t idx, const uint8_t h[32],
			      struct kinko_err *e);
	int (*checkpoint_put)(struct store *s, uint64_t size, const void *note, size_t n,
			      struct kinko_err *e);
	/* KINKO_ENOENT when none was signed yet. */
	int (*checkpoint_latest)(struct store *s, uint64_t *size, struct kbuf *note,
				 struct kinko_err *e);
	int (*checkpoint_scan)(struct store *s,
			       int (*cb)(void *ctx, uint64_t size, const uint8_t *p, size_t n),
			       void *ctx, struct kinko_err *e);

	/* Every blob name referenced by an object row (for garbage collection). */
	int (*blob_refs)(struct store *s, int (*cb)(void *ctx, const char *blob), void *ctx,
			 struct kinko_err *e);
	/* Blocked addresses (core/addrblock's entries; source as addrblock writes it).
	 * put replaces the source's row and drops rows whose block ended before now;
	 * list passes the rows whose block lasts past now. */
	int (*block_put)(struct store *s, const struct addrblock_entry *b, int64_t now,
			 struct kinko_err *e);
	int (*block_delete)(struct store *s, const char *source, struct kinko_err *e);
	int (*block_list)(struct store *s, int64_t now,
			  int (*cb)(void *ctx, const struct addrblock_entry *b), void *ctx,
			  struct kinko_err *e);
	/* The database engine's own consistency checks (pages, indexes, foreign keys),
	 * and with the key the access rows and their digest: each problem found is
	 * passed to cb as one line of text; none when sound. Outside a transaction. */
	int (*integrity)(struct store *s, int (*cb)(void *ctx, const char *problem), void *ctx,
			 struct kinko_err *e);

	/* Authenticated rows. The rows that decide access (accounts, sessions,
	 * certificates, memberships, folders, folder rights) carry an HMAC-SHA-256
	 * under a key derived from the master key: written with it, checked on every
	 * read (KINKO_EINTEGRITY when a row does not authenticate; integrity lists
	 * such rows when the key is set). set_row_key installs the key (32 bytes, copied
	 * into locked memory) or removes it (NULL, wiped); without it those rows can
	 * be neither read nor written (KINKO_ESEALED). */
	void (*set_row_key)(struct store *s, const uint8_t *key);
	/* Inside a transaction, key set: whether the store carries the mark, which
	 * only the key's holder can make, that its rows are authenticated, and since
	 * when (*since: from then on every certificate kinko issued has its row). */
	int (*rows_marked)(struct store *s, bool *marked, int64_t *since, struct kinko_err *e);
	/* Inside a write transaction, key set: sets the mark with `since`; with
	 * rows_too also authenticates every row written by a version before schema 7
	 * (its MAC is NULL), counting them in *adopted. */
	int (*rows_adopt)(struct store *s, bool rows_too, int64_t since, uint64_t *adopted,
			  struct kinko_err *e);
	/* The revocation time of a certificate's row as stored, NOT authenticated (0
	 * when not revoked or not recorded): only for refusing while sealed. */
	int (*cert_revoked_unverified)(struct store *s, const char *fingerprint,
				       int64_t *revoked_at, struct kinko_err *e);
	/* The digest of the set of access rows (store_sqlite.c, "the set of access
	 * rows"): a row put back, added or removed outside kinko is told by it. Kept up
	 * to date by every commit once it exists; checked when a transaction starts
	 * after another program changed the file, and after the key is installed.
	 * Inside a transaction, key set: kept says whether the store has one yet;
	 * reset computes it over the rows as they are (the first unseal of a store
	 * without one, or the operator's kinko rows accept), counting them in *n;
	 * problem copies why access rows are refused now (returns its code, 0 when
	 * they are not); expect says that the store must have one (the audit log says
	 * it was made), so that its absence refuses access rows from the next
	 * transaction on. */
	int (*rows_digest_kept)(struct store *s, bool *kept, struct kinko_err *e);
	int (*rows_digest_reset)(struct store *s, uint64_t *n, struct kinko_err *e);
	int (*rows_digest_problem)(struct store *s, struct kinko_err *problem);
	void (*rows_digest_expect)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* Opens (creating when `create`) the SQLite store at path and migrates its schema. */
int store_sqlite_open(const char *path, bool create, struct store **out,
		      struct kinko_err *e) KINKO_WUR;
/* Closes through the ops table; NULL is a no-op. */
void store_close(struct store *s);

const char *store_role_name(enum store_role r);
enum store_role store_role_parse(const char *s);

/* A fresh random UUID (version 4) as text. */
void store_new_id(char out[STORE_ID_LEN]);
bool store_id_valid(const char *s);

#endif
