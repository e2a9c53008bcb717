/*
 * log — the audit log kept in the store: append an event inside the transaction of
 * the change it records, sign checkpoints, serve proofs, verify everything.
 *
 * Appending never happens outside a caller's open transaction, so an event and its
 * change commit together or not at all (fail closed: when the append fails, the
 * caller rolls back). Proofs read stored perfect-subtree hashes: O(log n) reads.
 * Verification recomputes every leaf from the stored event bytes, so edited,
 * deleted, reordered or truncated events are found, and checks each stored
 * checkpoint's signature and root against the recomputed tree.
 */
#ifndef KINKO_AUDIT_LOG_H
#define KINKO_AUDIT_LOG_H

#include <stdint.h>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"
#include "core/buf.h"
#include "core/err.h"
#include "crypto/sign.h"
#include "store/store.h"

/* Appends ev inside the caller's transaction. Sets ev->seq (and ev->time_ms when
 * 0); when encoded is not NULL the canonical bytes are appended to it. */
int audit_log_append(struct store *s, struct audit_event *ev, struct kbuf *encoded,
		     struct kinko_err *e) KINKO_WUR;

/* Inside a transaction: the current size and the root at `size`. */
int audit_log_root(struct store *s, uint64_t size, uint8_t root[MERKLE_HASH_LEN],
		   struct kinko_err *e) KINKO_WUR;
int audit_log_inclusion(struct store *s, uint64_t index, uint64_t size,
			uint8_t proof[][MERKLE_HASH_LEN], size_t *n, struct kinko_err *e) KINKO_WUR;
int audit_log_consistency(struct store *s, uint64_t m, uint64_t n,
			  uint8_t proof[][MERKLE_HASH_LEN], size_t *len,
			  struct kinko_err *e) KINKO_WUR;

/* Signs a checkpoint of the current tree (inside a transaction) and stores it,
 * after checking that the tree is consistent with the latest stored checkpoint;
 * the signed note is appended to note. */
int audit_log_checkpoint(struct store *s, const struct kinko_sign_key *k,
			 const struct note_verifier *vk, struct kbuf *note,
			 struct kinko_err *e) KINKO_WUR;

struct audit_verify_report {
	uint64_t events;
	uint64_t checkpoints;
	uint64_t bytes;
	uint64_t latest_checkpoint; /* size of the newest valid checkpoint */
	int64_t first_bad;          /* seq of the first bad event, or -1 */
};

/* Recomputes the whole tree from the stored events (inside a read transaction) and
 * checks every stored checkpoint against it with key vk. e names the first problem
 * ("event 17 ..."). */
int audit_log_verify(struct store *s, const struct note_verifier *vk,
		     struct audit_verify_report *r, struct kinko_err *e) KINKO_WUR;

#endif
