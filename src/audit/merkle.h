/*
 * merkle — RFC 9162 Merkle tree hashing, proofs and verification for the audit log.
 *
 * Leaf hash = SHA-256(0x00 || data), node hash = SHA-256(0x01 || left || right),
 * the empty tree's root = SHA-256(""). The module owns no storage: the caller gives
 * a struct merkle_store whose get/put read and write the hash of the perfect
 * subtree (level, index), which covers leaves [index << level, (index + 1) << level).
 * merkle_append stores the new leaf and every perfect subtree the append completes;
 * roots and proofs for any size up to the current one then cost O(log n) gets
 * (never a rehash of the log). The verifiers are pure functions of their inputs
 * (RFC 9162 sections 2.1.3.2 and 2.1.4.2). struct merkle_builder recomputes a tree
 * from its leaves in one pass with O(log n) memory, for offline verification.
 *
 * Sizes and indexes are limited to MERKLE_SIZE_MAX (2^63) so that no shift or sum
 * overflows. Proofs have at most MERKLE_PROOF_MAX hashes.
 */
#ifndef KINKO_AUDIT_MERKLE_H
#define KINKO_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MERKLE_HASH_LEN 32
#define MERKLE_SIZE_MAX (UINT64_C(1) << 63)
#define MERKLE_PROOF_MAX 64

/* get/put return 0 or a negative KINKO_E* code, which merkle_* pass on unchanged
 * (a get of a subtree that was never put must fail, e.g. with KINKO_ENOENT). */
struct merkle_store {
	int (*get)(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN]);
	int (*put)(void *ctx, unsigned level, uint64_t index, const uint8_t h[MERKLE_HASH_LEN]);
	void *ctx;
};

int merkle_hash_leaf(const void *data, size_t n, uint8_t out[MERKLE_HASH_LEN]) KINKO_WUR;
int merkle_hash_node(const uint8_t left[MERKLE_HASH_LEN], const uint8_t right[MERKLE_HASH_LEN],
		     uint8_t out[MERKLE_HASH_LEN]) KINKO_WUR;
/* SHA-256 of the empty string: the root of the empty tree. */
void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/* Appends the leaf (its leaf hash, not the data) as leaf number size_before:
 * one put at level 0 and one get + put for every subtree the leaf completes. */
int merkle_append(const struct merkle_store *st, uint64_t size_before,
		  const uint8_t leaf_hash[MERKLE_HASH_LEN]) KINKO_WUR;

/* The root of the first `size` leaves (size 0: the empty root). */
int merkle_root(const struct merkle_store *st, uint64_t size,
		uint8_t out[MERKLE_HASH_LEN]) KINKO_WUR;

/* RFC 9162 PATH(index, D[0:size]): the audit path from leaf to root, at most
 * MERKLE_PROOF_MAX hashes written to out; *n gets the count. index < size. */
int merkle_inclusion_proof(const struct merkle_store *st, uint64_t index, uint64_t size,
			   uint8_t out[][MERKLE_HASH_LEN], size_t *n) KINKO_WUR;

/* RFC 9162 PROOF(m, D[0:n]) for 0 <= m <= n; empty when m == 0 or m == n. */
int merkle_consistency_proof(const struct merkle_store *st, uint64_t m, uint64_t n,
			     uint8_t out[][MERKLE_HASH_LEN], size_t *len) KINKO_WUR;

/* 0 when the proof shows leaf_hash is leaf `index` of the tree of `size` leaves with
 * this root; KINKO_EINTEGRITY when it does not, KINKO_EINVAL for impossible input. */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
			    const uint8_t leaf_hash[MERKLE_HASH_LEN],
			    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
			    const uint8_t root[MERKLE_HASH_LEN]) KINKO_WUR;

/* 0 when the proof shows the tree (m, root1) is a prefix of (n, root2). m == n needs an
 * empty proof and equal roots; m == 0 needs an empty proof and root1 = the empty root. */
int merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root1[MERKLE_HASH_LEN],
			      const uint8_t root2[MERKLE_HASH_LEN],
			      const uint8_t proof[][MERKLE_HASH_LEN], size_t len) KINKO_WUR;

/* Streaming recomputation (a compact range from leaf 0): add leaf hashes in order,
 * read the root at any point. No allocation; 64 stack entries cover any size. */
struct merkle_builder {
	uint64_t size;
	unsigned depth;
	uint8_t stack[64][MERKLE_HASH_LEN];
};

void merkle_builder_init(struct merkle_builder *b);
int merkle_builder_add(struct merkle_builder *b, const uint8_t leaf_hash[MERKLE_HASH_LEN]) KINKO_WUR;
int merkle_builder_root(const struct merkle_builder *b, uint8_t out[MERKLE_HASH_LEN]) KINKO_WUR;

#endif
