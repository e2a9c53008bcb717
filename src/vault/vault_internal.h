/* Internals shared by the vault's source files; not part of its interface. */
#ifndef KINKO_VAULT_INTERNAL_H
#define KINKO_VAULT_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "crypto/sign.h"
#include "scan/clamd.h"
#include "vault/vault.h"

#define PW_VERIFY_AT_ONCE 2

struct vault {
	char dir[3072];
	struct kinko_config cfg;
	struct store *store;
	/* keyring is NULL while sealed. Readers take the lock shared; seal/unseal
	 * exclusive, so a key is never wiped under a request that uses it. */
	pthread_rwlock_t seal_lock;
	/* A seal is waiting for the lock: nobody new gets in, and transfers (which
	 * hold the lock shared for as long as they stream) stop at their next
	 * block, so that no open transfer can keep the key in memory. */
	atomic_uint sealing; /* seals waiting */
	/* Called when a seal starts waiting: the server cuts the connections of the
	 * transfers in progress, so that a client reading or sending slowly cannot
	 * keep them (and the key) open. */
	void (*seal_hook)(void *ctx);
	void *seal_hook_ctx;
	struct keyring *kr;
	struct kinko_key *totp_key; /* derived "totp" subkey, while unsealed */
	struct kinko_sign_key *log_key; /* the audit log's signing key, while unsealed */
	/* The scanner's last health check, cached for a few seconds. */
	pthread_mutex_t unseal_mu; /* one Argon2id attempt at a time */
	/* Logins verifying a password (Argon2id, 64 MiB each) at once; the rest wait
	 * their turn, so memory stays bounded however many connections log in. */
	sem_t pw_slots;
	pthread_mutex_t scan_mu;
	int64_t scan_checked;
	struct vault_scanner scan;
	char clamd_path[108];
	struct clamd_budget scan_budget; /* memory held by the uploads being scanned */
	struct addrblock *blocks; /* failing addresses; NULL when block_failures = 0 */
	/* Fingerprints of every certificate the audit log says was revoked, read at
	 * open and added to by each revocation: a revocation holds even if the
	 * certificate's row is put back as it was before (rows can be replayed; the
	 * log cannot, past its signed checkpoints). Sorted, under revoked_mu. */
	pthread_mutex_t revoked_mu;
	char (*revoked)[65];
	size_t n_revoked, cap_revoked;
	/* Set by vault_revocations_load (kinko serve, after the log verified); until
	 * then every client certificate is refused. */
	bool revoked_loaded;
	/* One checkpoint at a time, from its transaction to its file, so that the
	 * file never goes back to an older checkpoint than one already written. */
	pthread_mutex_t checkpoint_mu;
};

/* Signs a checkpoint of the log as it is now (by the system, no event of its own)
 * and writes the checkpoint file: after acts whose record must not be lost from
 * the log's unsigned end (a revocation, rows adopted). */
int signed_checkpoint(struct vault *v, struct kinko_err *e) KINKO_WUR;

/* Adds a fingerprint to the revoked list (kept sorted; a repeat is a no-op). */
int vault_revoked_add(struct vault *v, const char *fingerprint) KINKO_WUR;
bool vault_revoked_has(struct vault *v, const char *fingerprint);

/* Opens a scan for an upload: NULL (and 0) when scanning is switched off;
 * KINKO_EUNAVAIL when clamd is down, slow, or its signatures are stale. */
int vault_scan_open(struct vault *v, struct clamd_scan **out, struct kinko_err *e) KINKO_WUR;
int vault_scan_timeout_ms(const struct vault *v);

int vault_log_key_create(struct vault *v, struct kinko_err *e) KINKO_WUR;
int vault_log_key_open(struct vault *v, struct keyring *kr, struct kinko_sign_key **out,
		       struct kinko_err *e) KINKO_WUR;

/* Path helpers (snprintf into out; KINKO_EINVAL when too long). */
int vault_path(const struct vault *v, char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Takes the seal lock shared and fails with KINKO_ESEALED when sealed. */
int vault_enter(struct vault *v, struct kinko_err *e) KINKO_WUR;
void vault_leave(struct vault *v);

/* Unwraps a folder's key (caller holds the seal lock shared). */
int vault_folder_key(struct vault *v, const struct store_folder *f, struct kinko_key **out,
		     struct kinko_err *e) KINKO_WUR;

/* The role of actor in a contract, and the effective permissions on a folder; both
 * inside an open transaction. */
int vault_folder_access(struct vault *v, const struct vault_actor *a,
			const struct store_folder *f, unsigned *perms,
			enum store_role *member, struct kinko_err *e) KINKO_WUR;

/* Loads a folder whose contract the actor belongs to (in the caller's
 * transaction), with the actor's rights on it; KINKO_ENOENT for any other, so
 * that IDs cannot be probed. f is cleared on failure. */
int vault_folder_visible(struct vault *v, const struct vault_actor *a, const char *id,
			 struct store_folder *f, unsigned *perms, enum store_role *member,
			 struct kinko_err *e) KINKO_WUR;

/* The event appended for a's request was rolled back with its transaction: the
 * edge must record the request itself. */
void vault_audit_unrecord(const struct vault_actor *a);

/* In the caller's transaction: does the actor still stand (its session not ended,
 * its account not disabled)? For acts that run long, checked again at their end. */
int vault_actor_current(struct vault *v, const struct vault_actor *a,
			struct kinko_err *e) KINKO_WUR;

/* Blob files: DIR/blobs/<id[0:2]>/<id>; uploads are written to DIR/blobs/tmp first. */
int vault_blob_path(const struct vault *v, const char *object_id, bool tmp, char *out,
		    size_t cap);

/* Every regular file under DIR/blobs, passed to cb with a descriptor of its
 * directory, its name and whether it is in blobs/tmp (an upload in flight); stops
 * at cb's first non-zero return. Symbolic links are never followed, at either
 * level, and are not passed on. */
int vault_blob_files(const struct vault *v, int (*cb)(void *ctx, int dirfd, const char *name,
						      bool tmp),
		     void *ctx, struct kinko_err *e) KINKO_WUR;

/* Checks one object's blob (vault_check): with deep, also opens its key and name,
 * authenticates every chunk and compares the SHA-256 of the content with the one
 * recorded at upload. KINKO_EINTEGRITY, with what is wrong, when it is damaged;
 * other codes when the check itself could not run. */
int vault_object_verify(struct vault *v, const struct store_object *o, bool deep,
			struct kinko_err *e) KINKO_WUR;

int vault_user_to_info(const struct store_user *u, int64_t now, struct vault_user_info *out);
int64_t vault_now(void);
/* A generated password (crypto/password.h): grouped, no look-alikes, >= 128 bits. */
int vault_gen_password(char out[64]) KINKO_WUR;
int vault_user_name_check(const char *name, struct kinko_err *e);

#endif
