/*
 * vault — the rules of kinko: the data directory, sealing, accounts and sessions,
 * contracts, folders, per-folder ACLs, and encrypted objects.
 *
 * Every decision about who may do what is made here, never in the HTTP layer: each
 * call takes the acting user (struct vault_actor) and refuses what that actor may
 * not do. Things a caller may not see are reported as KINKO_ENOENT, not EPERM, so
 * IDs of other contracts cannot be probed. Every change is one store transaction.
 * Content and names are sealed before they reach the store or the disk.
 *
 * A struct vault is shared by the server's threads; its calls are thread-safe.
 */
#ifndef KINKO_VAULT_VAULT_H
#define KINKO_VAULT_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/addrblock.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/stream.h"
#include "crypto/keyring.h"
#include "store/store.h"

#define VAULT_NAME_MAX 255 /* bytes of UTF-8 in a file or folder name */

enum vault_perm {
	PERM_READ = 1,
	PERM_WRITE = 2,
	PERM_EXPORT = 4,
	PERM_ERASE = 8,
	PERM_ALL = 15,
};

struct vault;

/* What the vault tells the edge about a request's audit event. When the vault
 * changed something it appended the event itself, in the same transaction
 * (recorded = true, encoded = the canonical bytes for the system log); otherwise
 * the edge appends one, using the contract and targets the vault noted. */
struct vault_audit_note {
	bool recorded;
	char contract[STORE_ID_LEN];
	char targets[4][65];
	unsigned ntargets;
	uint64_t bytes;
	char encoded[2048 + 1];
	uint64_t seq; /* with recorded: where in the log the event was appended */
};

/* Whether the event the vault appended for a request (note->recorded) is in the
 * log: false when its transaction was rolled back or its COMMIT failed after the
 * append, so that the edge records the request itself. */
bool vault_audit_confirm(struct vault *v, const struct vault_audit_note *note);

/* Who is acting, from where, in which request. Filled by vault_session_check (the
 * edge adds the address, request ID and audit note). */
struct vault_actor {
	char user_id[STORE_ID_LEN];
	char user_name[65];
	enum store_role role;
	char cert_fp[65];
	char addr[64];
	char request_id[40];
	struct vault_audit_note *note; /* may be NULL (no request: offline acts) */
	/* The session the request came with (set by vault_session_check), so that a
	 * long act can check at its end that it still stands. */
	bool has_session;
	uint8_t session[32];
};

/* Appends the audit event for actor's act inside the caller's open transaction
 * (fail closed: on error the caller rolls back). contract and targets may be NULL. */
int vault_audit(struct vault *v, const struct vault_actor *a, const char *action,
		const char *contract, const char *t1, const char *t2, uint64_t bytes,
		unsigned status, struct kinko_err *e) KINKO_WUR;
/* Appends an event in its own transaction (for acts that changed nothing: reads,
 * refusals). */
int vault_audit_standalone(struct vault *v, const struct vault_actor *a, const char *action,
			   unsigned status, struct kinko_err *e) KINKO_WUR;

/* The audit log's verifier key ("<origin>+<id>+<key>") and its current state. */
int vault_log_verifier(struct vault *v, char *out, size_t cap, struct kinko_err *e) KINKO_WUR;
/* Signs a checkpoint of the current log (needs an unsealed vault); appends it to note.
 * With an actor, its log.checkpoint event is appended in the same transaction
 * (NULL: the server's own periodic checkpoints, which are not events). */
int vault_log_checkpoint(struct vault *v, const struct vault_actor *a, struct kbuf *note,
			 struct kinko_err *e) KINKO_WUR;
/* Recomputes and checks the whole log against the stored checkpoints and the
 * checkpoint file kept outside the store; names the first bad entry. */
int vault_log_verify(struct vault *v, uint64_t *events, uint64_t *checkpoints,
		     struct kinko_err *e) KINKO_WUR;
struct store *vault_store(struct vault *v);

/* The integrity check (kinko check, offline on DIR; a server may be running on it).
 * Quick: the database engine's checks, the audit log, and every object's blob file
 * present, of the right length, with its header. Deep (needs the vault unsealed)
 * also opens every object's key and name, authenticates every chunk, and compares
 * the SHA-256 of the content with the one recorded at upload. Each problem found
 * goes to `problem` (object_id NULL for the store and the log) as it is found. The
 * result is appended to the audit log (store.check or store.check_quick: 200 when
 * clean, 500 when not); a result that cannot be recorded fails the check. Returns
 * 0 when the check ran, whatever it found. */
struct vault_check_opts {
	bool deep;
	void (*problem)(void *ctx, const char *object_id, const char *what);
	void *ctx;
};
struct vault_check_report {
	bool deep, store_ok, log_ok;
	uint64_t events, checkpoints; /* the audit log's */
	uint64_t objects, bytes;      /* objects checked and their content's size */
	uint64_t damaged;             /* objects with a problem */
	uint64_t orphans;             /* blob files no object refers to */
	double seconds;
};
int vault_check(struct vault *v, const struct vault_check_opts *o, struct vault_check_report *r,
		struct kinko_err *e) KINKO_WUR;
/* Who may read the log and ask for checkpoints: managers, auditors, operators. */
int vault_log_access(const struct vault_actor *a, struct kinko_err *e) KINKO_WUR;
/* Reading the log (managers, auditors, operators): the newest signed checkpoint;
 * an inclusion (index x, size y) or consistency (from x, to y) proof of at most 64
 * hashes; the canonical events from `from` on, into cb (which may stop with > 0). */
int vault_log_latest(struct vault *v, const struct vault_actor *a, struct kbuf *note,
		     struct kinko_err *e) KINKO_WUR;
int vault_log_proof(struct vault *v, const struct vault_actor *a, bool inclusion, uint64_t x,
		    uint64_t y, uint8_t proof[][32], size_t *n, struct kinko_err *e) KINKO_WUR;
int vault_log_events(struct vault *v, const struct vault_actor *a, uint64_t from,
		     int (*cb)(void *ctx, uint64_t seq, const uint8_t *p, size_t n), void *ctx,
		     struct kinko_err *e) KINKO_WUR;

struct vault;

/* ---- life cycle ---------------------------------------------------------- */

struct vault_init_opts {
	const char *dir;
	enum keyring_secret_kind secret_kind;
	const uint8_t *secret;
	size_t secret_len;
	const char *manager_name;     /* first manager account, default "admin" */
	const char *const *server_names; /* SAN entries, default localhost + 127.0.0.1 + ::1 */
	size_t nserver_names;
};

/* What a person must keep, printed once by `kinko init`. */
struct vault_init_result {
	char manager_id[STORE_ID_LEN];
	char manager_password[64];
	char p12_password[64];
	char client_dir[4096]; /* where the manager's certificate bundle was written */
};

int vault_init(const struct vault_init_opts *o, struct vault_init_result *out,
	       struct kinko_err *e) KINKO_WUR;
/* Opens DIR (config, store, blob directory); the vault starts sealed. */
int vault_open(const char *dir, struct vault **out, struct kinko_err *e) KINKO_WUR;
void vault_close(struct vault *v);
const struct kinko_config *vault_config(const struct vault *v);
const char *vault_dir(const struct vault *v);

int vault_unseal(struct vault *v, enum keyring_secret_kind kind, const uint8_t *secret,
		 size_t len, struct kinko_err *e) KINKO_WUR;
/* vault_unseal, on record: the vault.unseal event (a: who; NULL for the server
 * itself) commits before the key is put to use; if it cannot, the vault stays
 * sealed. */
int vault_unseal_audited(struct vault *v, const struct vault_actor *a,
			 enum keyring_secret_kind kind, const uint8_t *secret, size_t len,
			 struct kinko_err *e) KINKO_WUR;
/* Reads a key file (its bytes, not yet checked: 32 raw bytes or 64 hex) into
 * secure memory; the caller frees *out with kinko_secure_free. */
int vault_key_file_read(const char *path, uint8_t **out, size_t *len,
			struct kinko_err *e) KINKO_WUR;
/* Reads a key file and unseals with it. */
int vault_unseal_keyfile(struct vault *v, const char *path, struct kinko_err *e) KINKO_WUR;
void vault_seal(struct vault *v);
/* fn(ctx) is called each time a seal starts waiting for the requests in progress
 * (set before serving, cleared with NULL after). */
void vault_set_seal_hook(struct vault *v, void (*fn)(void *ctx), void *ctx);
bool vault_is_sealed(struct vault *v);

/*
 * Replaces the server's TLS key and certificate (DIR/tls/server.key, server.pem)
 * with a new pair signed by the vault's CA, for names (DNS names or IP addresses;
 * NULL or none: the names of the certificate it replaces). Needs an unsealed
 * vault (the CA key's password comes from the master key). The act is audited
 * (tls.server_certificate, target: the new fingerprint) before the files take
 * their names; a failure before that leaves the old pair in place. A running
 * server keeps the pair it loaded until it is restarted.
 */
/*
 * The operator's way out when the access rows are not the set kinko keeps a digest
 * of (a row put back, removed or changed in kinko.db outside kinko) and no backup
 * is to be restored: makes the digest anew over the access rows that authenticate
 * now, on record as store.rows_accepted (bytes: how many), covered by a signed
 * checkpoint at once. Rows that do not authenticate stay refused. Unsealed vault;
 * *rows gets the count.
 */
int vault_rows_accept(struct vault *v, uint64_t *rows, struct kinko_err *e) KINKO_WUR;

#define VAULT_SERVER_NAMES_MAX 32
struct vault_server_cert {
	char fingerprint[65];
	int64_t not_after;
	size_t nnames;
	char names[VAULT_SERVER_NAMES_MAX][254];
	size_t dropped; /* names of the old certificate that could not be kept */
};
int vault_server_cert_renew(struct vault *v, const char *const *names, size_t nnames,
			    struct vault_server_cert *out, struct kinko_err *e) KINKO_WUR;

/* Deletes blob files no object row references (left by a crash mid-upload). */
int vault_collect_garbage(struct vault *v, unsigned *removed, struct kinko_err *e) KINKO_WUR;

/* ---- the scanner (clamd) -------------------------------------------------- */

struct vault_scanner {
	bool required;       /* [scan] required */
	bool ok;             /* uploads can be scanned now */
	char engine[32];
	uint32_t sig_version;
	int64_t sig_date;
	bool fresh;
	char reason[256];    /* why not ok */
};

/* clamd's state (engine, signature version and date), checked at most every few
 * seconds. */
void vault_scanner_status(struct vault *v, struct vault_scanner *out);

/* ---- accounts and sessions ----------------------------------------------- */

#define VAULT_TOKEN_LEN 64

struct vault_login {
	const char *name;
	const char *password;
	const char *totp; /* may be NULL */
	const struct sockaddr *addr;
	const char *cert_fp;
	/* The user UUID the client certificate was issued to ("" when it names none);
	 * the login succeeds only for that account. NULL: no certificate (offline). */
	const char *cert_user;
};

/* actor carries the request's context (address, request ID, audit note) in and
 * gets the logged-in user out.
 * On success writes a fresh session token (hex, VAULT_TOKEN_LEN chars + NUL).
 * KINKO_EAUTH for any wrong credential (one message for all), KINKO_ELOCKED while
 * locked; *alert is set when this failure locked the account. */
int vault_login(struct vault *v, const struct vault_login *l, char token[VAULT_TOKEN_LEN + 1],
		struct vault_actor *actor, bool *alert, struct kinko_err *e) KINKO_WUR;
/* Deletes the sessions past their absolute lifetime (a session nobody presents
 * again would otherwise stay on record for ever), counting them in *n.
 * kinko serve calls it periodically; nothing to do while sealed. */
int vault_sessions_purge(struct vault *v, uint64_t *n, struct kinko_err *e) KINKO_WUR;
/* Checks a token: it exists, is within its idle and absolute lifetime, was issued
 * to the same client certificate, and its user is enabled and allowed from addr. */
int vault_session_check(struct vault *v, const char *token, const char *cert_fp,
			const struct sockaddr *addr, struct vault_actor *out,
			struct kinko_err *e) KINKO_WUR;
int vault_logout(struct vault *v, const struct vault_actor *a, const char *token,
		 struct kinko_err *e) KINKO_WUR;

struct vault_user_info {
	char id[STORE_ID_LEN];
	char name[65];
	enum store_role role;
	bool disabled;
	bool totp_enrolled;
	bool locked;
	char allowed_cidrs[512];
	int64_t created_at;
};

struct vault_user_new {
	const char *name;
	enum store_role role;
	const char *password;      /* NULL: generate one (returned in password_out) */
	const char *allowed_cidrs; /* NULL or "": the server allowlist only */
};

int vault_user_create(struct vault *v, const struct vault_actor *a,
		      const struct vault_user_new *n, struct vault_user_info *out,
		      char password_out[64], struct kinko_err *e) KINKO_WUR;

struct vault_user_change {
	const bool *disabled;
	const char *password; /* new password */
	const char *allowed_cidrs;
	bool unlock;
};

int vault_user_update(struct vault *v, const struct vault_actor *a, const char *id,
		      const struct vault_user_change *c, struct vault_user_info *out,
		      struct kinko_err *e) KINKO_WUR;
int vault_user_get(struct vault *v, const struct vault_actor *a, const char *id,
		   struct vault_user_info *out, struct kinko_err *e) KINKO_WUR;
/* Looks a user up by login name (managers, auditors, or oneself). */
int vault_user_find(struct vault *v, const struct vault_actor *a, const char *name,
		    struct vault_user_info *out, struct kinko_err *e) KINKO_WUR;
/* Users after `after_name` in name order, at most limit, into cb. */
int vault_user_list(struct vault *v, const struct vault_actor *a, const char *after_name,
		    unsigned limit, int (*cb)(void *ctx, const struct vault_user_info *u),
		    void *ctx, struct kinko_err *e) KINKO_WUR;
/* Enrols (or replaces) TOTP for a user: self, or a manager. Writes the otpauth URI. */
int vault_user_totp_enroll(struct vault *v, const struct vault_actor *a, const char *id,
			   struct kbuf *uri, struct kinko_err *e) KINKO_WUR;
/* Issues a client certificate bundle for a user (managers only, or the user's own
 * replacement). p12_password receives a generated password. */
/* A client certificate kinko issued (checklist S2: the issued/revoked list). */
struct vault_cert_info {
	char fingerprint[65]; /* lowercase hex SHA-256 of the DER certificate */
	char user_id[STORE_ID_LEN];
	int64_t issued_at;
	int64_t not_after;
	int64_t revoked_at; /* 0: not revoked */
	char revoked_by[STORE_ID_LEN];
};

/* Managers and auditors: certificates newest first, of one user or (user_id NULL)
 * of all; after_issued < 0 starts the list, else it resumes after (after_issued,
 * after_fp). */
int vault_cert_list(struct vault *v, const struct vault_actor *a, const char *user_id,
		    int64_t after_issued, const char *after_fp, unsigned limit,
		    int (*cb)(void *ctx, const struct vault_cert_info *c), void *ctx,
		    struct kinko_err *e) KINKO_WUR;
/* Managers: revokes a certificate kinko issued, ends the sessions opened with it,
 * and records it in the audit log, in one transaction. Revoking twice keeps the
 * first revocation. */
int vault_cert_revoke(struct vault *v, const struct vault_actor *a, const char *fingerprint,
		      struct vault_cert_info *out, struct kinko_err *e) KINKO_WUR;
/* Every request: KINKO_EPERM when the client certificate was revoked (by its row,
 * or by a certificate.revoke in the audit log, which replaying an older row
 * cannot undo), or when
 * kinko issued it (kinko_issued: it names a kinko user) after its certificate
 * rows became authenticated (not_before: its validity's start) and its row is
 * missing. A row that does not authenticate, or a store that cannot answer,
 * refuses (fail closed). While sealed, rows cannot be authenticated: a
 * revocation as stored is still obeyed, nothing else is decided. */
int vault_cert_check(struct vault *v, const char *fingerprint, bool kinko_issued,
		     int64_t not_before, struct kinko_err *e) KINKO_WUR;
/* Reads every certificate.revoke in the audit log into the list vault_cert_check
 * consults (a server calls it once, after vault_log_verify; until then every
 * certificate is refused). An event that does not decode: KINKO_EINTEGRITY,
 * naming it. */
int vault_revocations_load(struct vault *v, struct kinko_err *e) KINKO_WUR;

/* ---- Addresses that keep failing (S4; core/addrblock.h, [server] block_*) ---- */

/* Whether connections and requests from sa are refused now; *until (may be NULL)
 * gets the block's end. Always false with block_failures = 0. */
bool vault_addr_blocked(struct vault *v, const struct sockaddr *sa, int64_t *until);
/* Counts a failed request (a refused client certificate, 401, 423) from sa, made
 * by a (the request's actor). Returns 1 when it blocked the source, with *blocked
 * (may be NULL) filled and a net.block event appended (the source as its address, the request's
 * ID); 0 when it did not; <0 when that event could not be appended (the block
 * stands all the same). */
int vault_addr_failed(struct vault *v, const struct vault_actor *a, const struct sockaddr *sa,
		      struct addrblock_entry *blocked, struct kinko_err *e);
/* The sources being counted or blocked, blocked first (managers, operators,
 * auditors); at most cap. */
/* Puts the blocks kept in the store back into the table (serve, at start); *n gets
 * how many are in force. */
int vault_blocks_restore(struct vault *v, size_t *n, struct kinko_err *e) KINKO_WUR;
int vault_blocks_list(struct vault *v, const struct vault_actor *a,
		      struct addrblock_entry *out, size_t cap, size_t *n,
		      struct kinko_err *e) KINKO_WUR;
/* Lifts the block on a source and forgets its count (managers, operators). The
 * net.unblock event is committed before the block is lifted. */
int vault_block_clear(struct vault *v, const struct vault_actor *a, const char *source,
		      struct addrblock_entry *was, struct kinko_err *e) KINKO_WUR;

int vault_user_cert_issue(struct vault *v, const struct vault_actor *a, const char *id,
			  unsigned days, struct kbuf *cert_pem, struct kbuf *key_pem,
			  struct kbuf *p12, char p12_password[64], char fingerprint[65],
			  struct kinko_err *e) KINKO_WUR;

/* ---- contracts, folders, ACL --------------------------------------------- */

struct vault_contract_info {
	char id[STORE_ID_LEN];
	char name[256];
	enum store_role my_role;
	int64_t created_at;
};

int vault_contract_create(struct vault *v, const struct vault_actor *a, const char *name,
			  struct vault_contract_info *out, struct kinko_err *e) KINKO_WUR;
int vault_contract_get(struct vault *v, const struct vault_actor *a, const char *id,
		       struct vault_contract_info *out, struct kinko_err *e) KINKO_WUR;
int vault_contract_list(struct vault *v, const struct vault_actor *a, const char *after_id,
			unsigned limit,
			int (*cb)(void *ctx, const struct vault_contract_info *c), void *ctx,
			struct kinko_err *e) KINKO_WUR;
/* Designates user as manager/handler/auditor of the contract (ROLE_NONE removes). */
int vault_member_set(struct vault *v, const struct vault_actor *a, const char *contract_id,
		     const char *user_id, enum store_role role, struct kinko_err *e) KINKO_WUR;
int vault_member_list(struct vault *v, const struct vault_actor *a, const char *contract_id,
		      store_member_cb cb, void *ctx, struct kinko_err *e) KINKO_WUR;

struct vault_folder_info {
	char id[STORE_ID_LEN];
	char contract_id[STORE_ID_LEN];
	char name[VAULT_NAME_MAX + 1];
	unsigned my_perms;
	int64_t created_at;
	bool specific_personal;
};

int vault_folder_create(struct vault *v, const struct vault_actor *a, const char *contract_id,
			const char *name, struct vault_folder_info *out,
			struct kinko_err *e) KINKO_WUR;
int vault_folder_get(struct vault *v, const struct vault_actor *a, const char *id,
		     struct vault_folder_info *out, struct kinko_err *e) KINKO_WUR;
int vault_folder_list(struct vault *v, const struct vault_actor *a, const char *contract_id,
		      const char *after_id, unsigned limit,
		      int (*cb)(void *ctx, const struct vault_folder_info *f), void *ctx,
		      struct kinko_err *e) KINKO_WUR;
/* Marks a folder as one that may hold My Numbers (特定個人情報): manager of its contract. */
int vault_folder_set_specific(struct vault *v, const struct vault_actor *a, const char *id,
			      bool on, struct vault_folder_info *out,
			      struct kinko_err *e) KINKO_WUR;
int vault_acl_set(struct vault *v, const struct vault_actor *a, const char *folder_id,
		  const char *user_id, unsigned perms, struct kinko_err *e) KINKO_WUR;
int vault_acl_list(struct vault *v, const struct vault_actor *a, const char *folder_id,
		   store_acl_cb cb, void *ctx, struct kinko_err *e) KINKO_WUR;

/* The ACL decision, as a pure function (unit-tested on its own): may a user whose
 * account role is `account`, whose role in the folder's contract is `member`
 * (ROLE_NONE if none) and whose ACL entry on the folder is `acl`, do `wanted`? */
bool vault_may(enum store_role account, enum store_role member, unsigned acl, unsigned wanted);
/* The permissions that decision grants in all. */
unsigned vault_perms(enum store_role account, enum store_role member, unsigned acl);

/* Checks a name a user gives a file or folder: valid UTF-8 in NFC, 1..255 bytes, no
 * control characters, no '/' or '\\', not "." or "..". */
int vault_name_check(const char *name, size_t len, struct kinko_err *e) KINKO_WUR;

/* ---- objects -------------------------------------------------------------- */

struct vault_object_info {
	char id[STORE_ID_LEN];
	char folder_id[STORE_ID_LEN];
	char name[VAULT_NAME_MAX + 1]; /* "" when the caller may not see names */
	uint64_t size;
	uint8_t sha256[32];
	int64_t created_at;
	int64_t seq;
	uint64_t records;         /* records counted by the scanning pass (数量) */
	char encoding[16];        /* utf-8, cp932, ascii, unknown */
	uint64_t mynumber_count;  /* My Numbers found (never the numbers themselves) */
	int mynumber_confidence;  /* 0 none, 1 low, 2 high */
	char scan_signatures[64];
};

struct vault_upload;

/* Starts an upload of a new object `name` into a folder (needs write). The content
 * is passed with vault_upload_write; the object becomes visible only when
 * vault_upload_finish commits. */
int vault_upload_begin(struct vault *v, const struct vault_actor *a, const char *folder_id,
		       const char *name, struct vault_upload **out, struct kinko_err *e) KINKO_WUR;
int vault_upload_write(struct vault_upload *u, const uint8_t *p, size_t n,
		       struct kinko_err *e) KINKO_WUR;
/* Seals the rest, flushes the blob to disk, then commits the object row. Frees u. */
int vault_upload_finish(struct vault_upload *u, struct vault_object_info *out,
			struct kinko_err *e) KINKO_WUR;
/* For several objects stored as one act (an import): prepare each as it ends
 * (sealed, scanned, durable, still invisible), then commit them all in one
 * transaction with one audit event, or none. Commit frees every upload. */
int vault_upload_prepare(struct vault_upload *u, struct kinko_err *e) KINKO_WUR;
int vault_upload_commit(struct vault_upload **ups, size_t n, const char *action,
			const char *extra_target, struct vault_object_info *out,
			struct kinko_err *e) KINKO_WUR;
/* Drops everything written so far. Frees u; NULL is a no-op. */
void vault_upload_abort(struct vault_upload *u);

struct vault_download;

int vault_download_open(struct vault *v, const struct vault_actor *a, const char *object_id,
			struct vault_object_info *info, struct vault_download **out,
			struct kinko_err *e) KINKO_WUR;
/* Reads plaintext at offset (sequential reads are pipelined). *got == 0 at the end. */
int vault_download_read(struct vault_download *d, uint64_t offset, uint8_t *buf, size_t cap,
			size_t *got, struct kinko_err *e) KINKO_WUR;
void vault_download_close(struct vault_download *d);

/* Receives a package from the ward (age or AES-256 zip, opened with password): every
 * file is sealed, scanned and counted like an upload, and all become objects of the
 * folder in one transaction with one audit event naming the package's SHA-256 --
 * or none do. */
struct vault_import_result {
	size_t n;
	struct vault_object_info *objects;
	const char *format;
	char package_sha256[65];
};
/* 0 when a may write to the folder (KINKO_ENOENT for a folder a cannot see,
 * KINKO_EPERM without the write right): decided before a body is taken. */
int vault_folder_writable(struct vault *v, const struct vault_actor *a, const char *folder_id,
			  struct kinko_err *e) KINKO_WUR;
/* derive_begin and derived (may be NULL) are package_key's: called around the
 * package password's expensive key derivation, so that a caller can bound how
 * many run at once. */
/* A seal is waiting (transfers stop at their next step). */
bool vault_seal_pending(struct vault *v);
int vault_import(struct vault *v, const struct vault_actor *a, const char *folder_id,
		 const struct kinko_reader *in, const char *password, size_t password_len,
		 const char *age_name, int (*derive_begin)(void *ctx, struct kinko_err *e),
		 void (*derived)(void *ctx), void *derived_ctx, struct vault_import_result *out,
		 struct kinko_err *e) KINKO_WUR;
void vault_import_result_free(struct vault_import_result *r);

int vault_object_stat(struct vault *v, const struct vault_actor *a, const char *object_id,
		      struct vault_object_info *out, struct kinko_err *e) KINKO_WUR;
int vault_object_delete(struct vault *v, const struct vault_actor *a, const char *object_id,
			struct kinko_err *e) KINKO_WUR;
int vault_object_list(struct vault *v, const struct vault_actor *a, const char *folder_id,
		      int64_t after_seq, unsigned limit,
		      int (*cb)(void *ctx, const struct vault_object_info *o), void *ctx,
		      struct kinko_err *e) KINKO_WUR;

#endif
