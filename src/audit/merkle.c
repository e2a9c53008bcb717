#include "audit/merkle.h"

#include <string.h>

#include "crypto/hash.h"

/* Leaves up to this size are hashed from one stack buffer in a single call, which is
 * measurably faster than GnuTLS's init/update/final (it allocates a context). */
#define MERKLE_LEAF_FAST 4096

static const uint8_t merkle_empty[MERKLE_HASH_LEN] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
	memcpy(out, merkle_empty, MERKLE_HASH_LEN);
}

int merkle_hash_leaf(const void *data, size_t n, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + MERKLE_LEAF_FAST];
	struct kinko_sha256 h;
	int rc;

	if (n <= MERKLE_LEAF_FAST) {
		buf[0] = 0x00;
		if (n)
			memcpy(buf + 1, data, n);
		return kinko_sha256(buf, n + 1, out);
	}
	rc = kinko_sha256_init(&h);
	if (rc < 0)
		return rc;
	kinko_sha256_update(&h, "\0", 1);
	kinko_sha256_update(&h, data, n);
	kinko_sha256_final(&h, out);
	return 0;
}

int merkle_hash_node(const uint8_t left[MERKLE_HASH_LEN], const uint8_t right[MERKLE_HASH_LEN],
		     uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	/* Copy first: out may alias left or right. */
	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	return kinko_sha256(buf, sizeof buf, out);
}

static unsigned floor_log2(uint64_t x)
{
	return 63u - (unsigned)__builtin_clzll(x);
}

/* The largest power of two strictly below n (n >= 2): RFC 9162's split point k. */
static uint64_t split_point(uint64_t n)
{
	return UINT64_C(1) << floor_log2(n - 1);
}

int merkle_append(const struct merkle_store *st, uint64_t size_before,
		  const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN], left[MERKLE_HASH_LEN];
	uint64_t i = size_before;
	unsigned level;
	int rc;

	if (i >= MERKLE_SIZE_MAX)
		return KINKO_ELIMIT;
	rc = st->put(st->ctx, 0, i, leaf_hash);
	if (rc < 0)
		return rc;
	memcpy(h, leaf_hash, MERKLE_HASH_LEN);
	/* Leaf i completes the subtree at level+1 whenever it is the right child at
	 * level, i.e. while bit `level` of i is set. */
	for (level = 0; (i >> level) & 1; level++) {
		rc = st->get(st->ctx, level, (i >> level) - 1, left);
		if (rc < 0)
			return rc;
		rc = merkle_hash_node(left, h, h);
		if (rc < 0)
			return rc;
		rc = st->put(st->ctx, level + 1, i >> (level + 1), h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* MTH(D[a:b]) for a < b where a is a multiple of the largest power of two not above
 * b - a (true for every range RFC 9162's recursions visit). The range is the
 * sequence of perfect subtrees given by the bits of b - a, largest first; they are
 * folded from the right, so the cost is popcount(b - a) gets. */
static int range_hash(const struct merkle_store *st, uint64_t a, uint64_t b,
		      uint8_t out[MERKLE_HASH_LEN])
{
	uint64_t len = b - a;
	uint8_t h[MERKLE_HASH_LEN], p[MERKLE_HASH_LEN];
	int have = 0, rc;
	unsigned j;

	if (b <= a || (a & ((UINT64_C(1) << floor_log2(len)) - 1)) != 0)
		return KINKO_EINVAL;
	for (j = 0; j < 64; j++) {
		uint64_t above, start;

		if (!((len >> j) & 1))
			continue;
		above = j >= 63 ? 0 : len & ~((UINT64_C(1) << (j + 1)) - 1);
		start = a + above;
		rc = st->get(st->ctx, j, start >> j, have ? p : h);
		if (rc < 0)
			return rc;
		if (have) {
			rc = merkle_hash_node(p, h, h);
			if (rc < 0)
				return rc;
		}
		have = 1;
	}
	memcpy(out, h, MERKLE_HASH_LEN);
	return 0;
}

int merkle_root(const struct merkle_store *st, uint64_t size, uint8_t out[MERKLE_HASH_LEN])
{
	if (size > MERKLE_SIZE_MAX)
		return KINKO_EINVAL;
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	return range_hash(st, 0, size, out);
}

static void reverse_into(uint8_t (*tmp)[MERKLE_HASH_LEN], size_t cnt,
			 uint8_t out[][MERKLE_HASH_LEN])
{
	size_t i;

	for (i = 0; i < cnt; i++)
		memcpy(out[i], tmp[cnt - 1 - i], MERKLE_HASH_LEN);
}

int merkle_inclusion_proof(const struct merkle_store *st, uint64_t index, uint64_t size,
			   uint8_t out[][MERKLE_HASH_LEN], size_t *n)
{
	uint8_t tmp[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint64_t lo = 0, hi = size;
	size_t cnt = 0;
	int rc;

	if (size > MERKLE_SIZE_MAX || index >= size)
		return KINKO_EINVAL;
	/* Walk from the root down to the leaf; RFC 9162 lists the siblings leaf first. */
	while (hi - lo > 1) {
		uint64_t k = split_point(hi - lo);

		if (cnt >= MERKLE_PROOF_MAX)
			return KINKO_EINVAL;
		if (index < lo + k) {
			rc = range_hash(st, lo + k, hi, tmp[cnt]);
			hi = lo + k;
		} else {
			rc = st->get(st->ctx, floor_log2(k), lo >> floor_log2(k), tmp[cnt]);
			lo += k;
		}
		if (rc < 0)
			return rc;
		cnt++;
	}
	reverse_into(tmp, cnt, out);
	*n = cnt;
	return 0;
}

int merkle_consistency_proof(const struct merkle_store *st, uint64_t m, uint64_t n,
			     uint8_t out[][MERKLE_HASH_LEN], size_t *len)
{
	uint8_t tmp[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint64_t lo = 0, hi = n;
	size_t cnt = 0;
	int whole = 1; /* RFC 9162's b: the old tree is the whole current subtree */
	int rc;

	if (n > MERKLE_SIZE_MAX || m > n)
		return KINKO_EINVAL;
	if (m == 0 || m == n) {
		*len = 0;
		return 0;
	}
	for (;;) {
		uint64_t k;

		if (cnt >= MERKLE_PROOF_MAX)
			return KINKO_EINVAL;
		if (m == hi) {
			if (!whole) {
				rc = range_hash(st, lo, hi, tmp[cnt]);
				if (rc < 0)
					return rc;
				cnt++;
			}
			break;
		}
		k = split_point(hi - lo);
		if (m <= lo + k) {
			rc = range_hash(st, lo + k, hi, tmp[cnt]);
			hi = lo + k;
		} else {
			rc = range_hash(st, lo, lo + k, tmp[cnt]);
			lo += k;
			whole = 0;
		}
		if (rc < 0)
			return rc;
		cnt++;
	}
	reverse_into(tmp, cnt, out);
	*len = cnt;
	return 0;
}

static int hash_equal(const uint8_t a[MERKLE_HASH_LEN], const uint8_t b[MERKLE_HASH_LEN])
{
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < MERKLE_HASH_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

int merkle_verify_inclusion(uint64_t index, uint64_t size,
			    const uint8_t leaf_hash[MERKLE_HASH_LEN],
			    const uint8_t proof[][MERKLE_HASH_LEN], size_t n,
			    const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t r[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t i;
	int rc;

	if (size > MERKLE_SIZE_MAX || n > MERKLE_PROOF_MAX)
		return KINKO_EINVAL;
	if (index >= size)
		return KINKO_EINTEGRITY;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, MERKLE_HASH_LEN);
	for (i = 0; i < n; i++) {
		if (sn == 0)
			return KINKO_EINTEGRITY;
		if ((fn & 1) || fn == sn) {
			rc = merkle_hash_node(proof[i], r, r);
			if (rc < 0)
				return rc;
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			rc = merkle_hash_node(r, proof[i], r);
			if (rc < 0)
				return rc;
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !hash_equal(r, root))
		return KINKO_EINTEGRITY;
	return 0;
}

int merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root1[MERKLE_HASH_LEN],
			      const uint8_t root2[MERKLE_HASH_LEN],
			      const uint8_t proof[][MERKLE_HASH_LEN], size_t len)
{
	uint8_t path[MERKLE_PROOF_MAX + 1][MERKLE_HASH_LEN];
	uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t plen = 0, i;
	int rc;

	if (n > MERKLE_SIZE_MAX || len > MERKLE_PROOF_MAX)
		return KINKO_EINVAL;
	if (m > n)
		return KINKO_EINTEGRITY;
	if (m == 0)
		return (len == 0 && hash_equal(root1, merkle_empty)) ? 0 : KINKO_EINTEGRITY;
	if (m == n)
		return (len == 0 && hash_equal(root1, root2)) ? 0 : KINKO_EINTEGRITY;
	if (len == 0)
		return KINKO_EINTEGRITY;
	/* RFC 9162 section 2.1.4.2. */
	if ((m & (m - 1)) == 0)
		memcpy(path[plen++], root1, MERKLE_HASH_LEN);
	for (i = 0; i < len; i++)
		memcpy(path[plen++], proof[i], MERKLE_HASH_LEN);
	fn = m - 1;
	sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, path[0], MERKLE_HASH_LEN);
	memcpy(sr, path[0], MERKLE_HASH_LEN);
	for (i = 1; i < plen; i++) {
		if (sn == 0)
			return KINKO_EINTEGRITY;
		if ((fn & 1) || fn == sn) {
			rc = merkle_hash_node(path[i], fr, fr);
			if (rc == 0)
				rc = merkle_hash_node(path[i], sr, sr);
			if (rc < 0)
				return rc;
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			rc = merkle_hash_node(sr, path[i], sr);
			if (rc < 0)
				return rc;
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !hash_equal(fr, root1) || !hash_equal(sr, root2))
		return KINKO_EINTEGRITY;
	return 0;
}

void merkle_builder_init(struct merkle_builder *b)
{
	memset(b, 0, sizeof *b);
}

int merkle_builder_add(struct merkle_builder *b, const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	uint64_t s = b->size;
	unsigned depth = b->depth;
	int rc;

	if (s >= MERKLE_SIZE_MAX)
		return KINKO_ELIMIT;
	memcpy(h, leaf_hash, MERKLE_HASH_LEN);
	/* The stack holds one perfect subtree per set bit of size, largest first; the
	 * new leaf merges with as many as the carry of size + 1 consumes. */
	while (s & 1) {
		rc = merkle_hash_node(b->stack[--depth], h, h);
		if (rc < 0)
			return rc;
		s >>= 1;
	}
	memcpy(b->stack[depth++], h, MERKLE_HASH_LEN);
	b->depth = depth;
	b->size++;
	return 0;
}

int merkle_builder_root(const struct merkle_builder *b, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t r[MERKLE_HASH_LEN];
	unsigned i;
	int rc;

	if (b->depth == 0) {
		merkle_empty_root(out);
		return 0;
	}
	memcpy(r, b->stack[b->depth - 1], MERKLE_HASH_LEN);
	for (i = b->depth - 1; i-- > 0;) {
		rc = merkle_hash_node(b->stack[i], r, r);
		if (rc < 0)
			return rc;
	}
	memcpy(out, r, MERKLE_HASH_LEN);
	return 0;
}
