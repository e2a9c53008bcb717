#include "store/migrations.h"

/* Never edit a released migration; add a new one. */
const char *const store_migrations[] = {
	/* 1: accounts, contracts, folders, objects */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL) STRICT;"
	"CREATE TABLE users ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 4),"
	"  pw_hash TEXT NOT NULL,"
	"  totp_sealed BLOB,"
	"  totp_last_step INTEGER NOT NULL DEFAULT 0,"
	"  allowed_cidrs TEXT NOT NULL DEFAULT '',"
	"  failed_logins INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0,"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE sessions ("
	"  token_hash BLOB PRIMARY KEY,"
	"  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  cert_fp TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL) STRICT;"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE TABLE contracts ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  created_by TEXT NOT NULL REFERENCES users(id),"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE TABLE members ("
	"  contract_id TEXT NOT NULL REFERENCES contracts(id),"
	"  user_id TEXT NOT NULL REFERENCES users(id),"
	"  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),"
	"  PRIMARY KEY (contract_id, user_id)) STRICT;"
	"CREATE INDEX members_user ON members(user_id);"
	"CREATE TABLE folders ("
	"  id TEXT PRIMARY KEY,"
	"  contract_id TEXT NOT NULL REFERENCES contracts(id),"
	"  name_sealed BLOB NOT NULL,"
	"  key_wrapped BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE INDEX folders_contract ON folders(contract_id);"
	"CREATE TABLE acl ("
	"  folder_id TEXT NOT NULL REFERENCES folders(id),"
	"  user_id TEXT NOT NULL REFERENCES users(id),"
	"  perms INTEGER NOT NULL CHECK (perms BETWEEN 1 AND 15),"
	"  PRIMARY KEY (folder_id, user_id)) STRICT;"
	"CREATE TABLE objects ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  folder_id TEXT NOT NULL REFERENCES folders(id),"
	"  name_mac BLOB NOT NULL,"
	"  name_sealed BLOB NOT NULL,"
	"  key_wrapped BLOB NOT NULL,"
	"  alg INTEGER NOT NULL,"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  sha256 BLOB NOT NULL,"
	"  created_by TEXT NOT NULL REFERENCES users(id),"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (folder_id, name_mac));",
	/* 2: the audit log (append-only), its Merkle subtree hashes and checkpoints */
	"CREATE TABLE audit_event ("
	"  seq INTEGER PRIMARY KEY CHECK (seq >= 0),"
	"  data BLOB NOT NULL) STRICT;"
	"CREATE TABLE audit_node ("
	"  level INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32),"
	"  PRIMARY KEY (level, idx)) STRICT, WITHOUT ROWID;"
	"CREATE TABLE audit_checkpoint ("
	"  size INTEGER PRIMARY KEY,"
	"  note BLOB NOT NULL) STRICT;"
	/* Rows are never rewritten or removed by kinko; refuse it in the engine too. */
	"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
	"  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TRIGGER audit_node_no_update BEFORE UPDATE ON audit_node "
	"  BEGIN SELECT RAISE(ABORT, 'audit nodes are append-only'); END;",
	/* 3: what the scanning pass learnt of each object; folders for 特定個人情報 */
	"ALTER TABLE objects ADD COLUMN records INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE objects ADD COLUMN encoding TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE objects ADD COLUMN mynumber_count INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE objects ADD COLUMN mynumber_confidence INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE objects ADD COLUMN scan_signatures TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE folders ADD COLUMN specific_personal INTEGER NOT NULL DEFAULT 0;",
	/* 4: client certificates issued, and their revocation (checklist S2) */
	"CREATE TABLE certificates ("
	"  fingerprint TEXT PRIMARY KEY CHECK (length(fingerprint) = 64),"
	"  user_id TEXT NOT NULL REFERENCES users(id),"
	"  issued_at INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0,"
	"  revoked_by TEXT NOT NULL DEFAULT '') STRICT;"
	"CREATE INDEX certificates_user ON certificates(user_id);",
	/* 5: addresses blocked after repeated failures, so a restart does not lift them
	 * (checklist S4); a row whose block has ended is dead and dropped when the next
	 * block is written */
	"CREATE TABLE addr_block ("
	"  source TEXT PRIMARY KEY CHECK (length(source) BETWEEN 5 AND 63),"
	"  failures INTEGER NOT NULL,"
	"  first_at INTEGER NOT NULL,"
	"  last_at INTEGER NOT NULL,"
	"  until INTEGER NOT NULL) STRICT;",
	/* 6: rights of people who are no longer members. Removing a member used to
	 * leave their folder rights behind, hidden while they were not a member and
	 * back in force if they were designated again. Removal now deletes them with
	 * the membership; this drops the ones left by earlier versions. */
	"DELETE FROM acl WHERE NOT EXISTS ("
	"  SELECT 1 FROM members m JOIN folders f ON f.contract_id = m.contract_id"
	"  WHERE f.id = acl.folder_id AND m.user_id = acl.user_id);",
	/* 7: the rows that decide access are authenticated (store.h, "Authenticated
	 * rows"). Rows from earlier versions have no MAC until the first unseal after
	 * the upgrade adopts them (vault.c, rows_authenticate). */
	"ALTER TABLE users ADD COLUMN mac BLOB;"
	"ALTER TABLE sessions ADD COLUMN mac BLOB;"
	"ALTER TABLE certificates ADD COLUMN mac BLOB;"
	"ALTER TABLE contracts ADD COLUMN mac BLOB;"
	"ALTER TABLE members ADD COLUMN mac BLOB;"
	"ALTER TABLE folders ADD COLUMN mac BLOB;"
	"ALTER TABLE acl ADD COLUMN mac BLOB;",
};

const size_t store_migrations_count = sizeof store_migrations / sizeof store_migrations[0];
