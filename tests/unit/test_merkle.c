/* Merkle tree tests: known answers from the Certificate Transparency test vectors
 * (RFC 6962 / transparency-dev), and a cross-check of every root and proof against
 * a naive reference written straight from RFC 9162 section 2.1 (MTH, PATH, PROOF). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/merkle.h"
#include "core/parse.h"
#include "crypto/crypto.h"

#define H MERKLE_HASH_LEN

/* ---- an in-memory subtree store that counts gets ---- */

#define MEM_LEVELS 16
#define MEM_LEAVES 4200

struct mem_store {
	uint8_t (*node[MEM_LEVELS])[H];
	uint8_t *have[MEM_LEVELS];
	unsigned long gets, puts;
	int fail_put_at; /* fail the n-th put (1-based); 0: never */
};

static int mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	struct mem_store *m = ctx;

	m->gets++;
	if (level >= MEM_LEVELS || index >= (uint64_t)(MEM_LEAVES >> level) + 1 || !m->have[level][index])
		return KINKO_ENOENT;
	memcpy(out, m->node[level][index], H);
	return 0;
}

static int mem_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[H])
{
	struct mem_store *m = ctx;

	m->puts++;
	if (m->fail_put_at && (unsigned long)m->fail_put_at == m->puts)
		return KINKO_EIO;
	if (level >= MEM_LEVELS || index >= (uint64_t)(MEM_LEAVES >> level) + 1)
		return KINKO_ELIMIT;
	memcpy(m->node[level][index], h, H);
	m->have[level][index] = 1;
	return 0;
}

static void mem_init(struct mem_store *m)
{
	unsigned l;

	memset(m, 0, sizeof *m);
	for (l = 0; l < MEM_LEVELS; l++) {
		size_t n = (MEM_LEAVES >> l) + 1;
		m->node[l] = calloc(n, H);
		m->have[l] = calloc(n, 1);
		assert_non_null(m->node[l]);
		assert_non_null(m->have[l]);
	}
}

static void mem_free(struct mem_store *m)
{
	unsigned l;

	for (l = 0; l < MEM_LEVELS; l++) {
		free(m->node[l]);
		free(m->have[l]);
	}
}

/* ---- the naive reference, from RFC 9162 section 2.1 ---- */

static uint64_t ref_k(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void ref_node(const uint8_t l[H], const uint8_t r[H], uint8_t out[H])
{
	assert_int_equal(merkle_hash_node(l, r, out), 0);
}

/* MTH(D[n]) over leaf hashes. */
static void ref_mth(uint8_t (*leaf)[H], uint64_t n, uint8_t out[H])
{
	uint8_t a[H], b[H];
	uint64_t k;

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaf[0], H);
		return;
	}
	k = ref_k(n);
	ref_mth(leaf, k, a);
	ref_mth(leaf + k, n - k, b);
	ref_node(a, b, out);
}

/* PATH(m, D[n]) appended to out[*cnt]. */
static void ref_path(uint64_t m, uint8_t (*leaf)[H], uint64_t n, uint8_t out[][H], size_t *cnt)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = ref_k(n);
	if (m < k) {
		ref_path(m, leaf, k, out, cnt);
		ref_mth(leaf + k, n - k, out[(*cnt)++]);
	} else {
		ref_path(m - k, leaf + k, n - k, out, cnt);
		ref_mth(leaf, k, out[(*cnt)++]);
	}
}

/* SUBPROOF(m, D[n], b). */
static void ref_subproof(uint64_t m, uint8_t (*leaf)[H], uint64_t n, int b, uint8_t out[][H],
			 size_t *cnt)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			ref_mth(leaf, n, out[(*cnt)++]);
		return;
	}
	k = ref_k(n);
	if (m <= k) {
		ref_subproof(m, leaf, k, b, out, cnt);
		ref_mth(leaf + k, n - k, out[(*cnt)++]);
	} else {
		ref_subproof(m - k, leaf + k, n - k, 0, out, cnt);
		ref_mth(leaf, k, out[(*cnt)++]);
	}
}

static void hexh(const char *hex, uint8_t out[H])
{
	assert_int_equal(parse_hex(hex, out, H), 0);
}

/* ---- known answers ---- */

/* The CT test vectors' eight leaves and the roots of the trees of 1..8 leaves. */
static const char *kat_leaves[] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *kat_roots[] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct kat_proof {
	uint64_t a, b; /* inclusion: leaf index, size; consistency: m, n */
	size_t n;
	const char *h[3];
};

static const struct kat_proof kat_incl[] = {
	{0, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{5, 8, 3, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	{2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
	{1, 5, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static const struct kat_proof kat_cons[] = {
	{1, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{6, 8, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	{2, 5, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
	{6, 7, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		   "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
		   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static void kat_tree(struct mem_store *m)
{
	uint8_t data[16], leaf[H];
	size_t i, n;

	mem_init(m);
	for (i = 0; i < 8; i++) {
		n = strlen(kat_leaves[i]) / 2;
		if (n)
			assert_int_equal(parse_hex(kat_leaves[i], data, n), 0);
		assert_int_equal(merkle_hash_leaf(data, n, leaf), 0);
		assert_int_equal(merkle_append(&(struct merkle_store){mem_get, mem_put, m}, i, leaf), 0);
	}
}

static void known_answers(void **state)
{
	struct mem_store m;
	struct merkle_store st = {mem_get, mem_put, &m};
	uint8_t got[H], want[H], proof[MERKLE_PROOF_MAX][H], leaf[H], root2[H];
	size_t i, j, n;
	struct merkle_builder b;
	(void)state;

	/* The leaf hash of the empty string and the empty root. */
	assert_int_equal(merkle_hash_leaf("", 0, got), 0);
	hexh(kat_roots[0], want);
	assert_memory_equal(got, want, H);
	merkle_empty_root(got);
	hexh("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
	assert_memory_equal(got, want, H);

	kat_tree(&m);
	merkle_builder_init(&b);
	for (i = 0; i < 8; i++) {
		hexh(kat_roots[i], want);
		assert_int_equal(merkle_root(&st, i + 1, got), 0);
		assert_memory_equal(got, want, H);
		assert_int_equal(mem_get(&m, 0, i, leaf), 0);
		assert_int_equal(merkle_builder_add(&b, leaf), 0);
		assert_int_equal(merkle_builder_root(&b, got), 0);
		assert_memory_equal(got, want, H);
	}
	for (i = 0; i < sizeof kat_incl / sizeof kat_incl[0]; i++) {
		const struct kat_proof *k = &kat_incl[i];
		assert_int_equal(merkle_inclusion_proof(&st, k->a, k->b, proof, &n), 0);
		assert_int_equal(n, k->n);
		for (j = 0; j < n; j++) {
			hexh(k->h[j], want);
			assert_memory_equal(proof[j], want, H);
		}
		assert_int_equal(mem_get(&m, 0, k->a, leaf), 0);
		hexh(kat_roots[k->b - 1], want);
		assert_int_equal(merkle_verify_inclusion(k->a, k->b, leaf, proof, n, want), 0);
	}
	for (i = 0; i < sizeof kat_cons / sizeof kat_cons[0]; i++) {
		const struct kat_proof *k = &kat_cons[i];
		assert_int_equal(merkle_consistency_proof(&st, k->a, k->b, proof, &n), 0);
		assert_int_equal(n, k->n);
		for (j = 0; j < n; j++) {
			hexh(k->h[j], want);
			assert_memory_equal(proof[j], want, H);
		}
		hexh(kat_roots[k->a - 1], want);
		hexh(kat_roots[k->b - 1], root2);
		assert_int_equal(merkle_verify_consistency(k->a, k->b, want, root2, proof, n), 0);
	}
	mem_free(&m);
}

/* ---- cross-check against the reference at every size ---- */

#define BIG 4100

static unsigned ceil_log2(uint64_t n)
{
	unsigned l = 0;

	while ((UINT64_C(1) << l) < n)
		l++;
	return l;
}

static void check_inclusion(struct mem_store *m, uint8_t (*leaf)[H], uint8_t (*roots)[H],
			    uint64_t size, uint64_t idx)
{
	struct merkle_store st = {mem_get, mem_put, m};
	uint8_t proof[MERKLE_PROOF_MAX][H], ref[MERKLE_PROOF_MAX][H];
	size_t n, rn = 0, i;
	unsigned bit;
	unsigned long before = m->gets;

	assert_int_equal(merkle_inclusion_proof(&st, idx, size, proof, &n), 0);
	assert_true(m->gets - before <= 2 * ceil_log2(size) + 2);
	ref_path(idx, leaf, size, ref, &rn);
	assert_int_equal(n, rn);
	if (n)
		assert_memory_equal(proof, ref, n * H);
	assert_int_equal(merkle_verify_inclusion(idx, size, leaf[idx], proof, n, roots[size]), 0);

	/* One flipped bit anywhere in the proof. */
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8 * H; bit += 37) {
			proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(merkle_verify_inclusion(idx, size, leaf[idx], proof, n,
								 roots[size]),
					 KINKO_EINTEGRITY);
			proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	/* Wrong index, wrong size (with that size's true root), wrong leaf, trimmed or
	 * extended proof. */
	if (idx > 0)
		assert_int_not_equal(merkle_verify_inclusion(idx - 1, size, leaf[idx], proof, n, roots[size]), 0);
	assert_int_not_equal(merkle_verify_inclusion(idx + 1, size, leaf[idx], proof, n, roots[size]), 0);
	assert_int_not_equal(merkle_verify_inclusion(idx ^ 2, size, leaf[idx], proof, n, roots[size]), 0);
	if (size > idx + 1)
		assert_int_not_equal(merkle_verify_inclusion(idx, size - 1, leaf[idx], proof, n, roots[size - 1]), 0);
	if (size + 1 < BIG)
		assert_int_not_equal(merkle_verify_inclusion(idx, size + 1, leaf[idx], proof, n, roots[size + 1]), 0);
	assert_int_not_equal(merkle_verify_inclusion(idx, size * 2, leaf[idx], proof, n, roots[size]), 0);
	assert_int_not_equal(merkle_verify_inclusion(idx, size / 2, leaf[idx], proof, n, roots[size]), 0);
	if (size > 1)
		assert_int_not_equal(merkle_verify_inclusion(idx, size, leaf[(idx + 1) % size], proof, n, roots[size]), 0);
	if (n > 0)
		assert_int_not_equal(merkle_verify_inclusion(idx, size, leaf[idx], proof, n - 1, roots[size]), 0);
	memcpy(proof[n], roots[size], H);
	assert_int_not_equal(merkle_verify_inclusion(idx, size, leaf[idx], proof, n + 1, roots[size]), 0);
}

static void check_consistency(struct mem_store *m, uint8_t (*leaf)[H], uint8_t (*roots)[H],
			      uint64_t a, uint64_t b)
{
	struct merkle_store st = {mem_get, mem_put, m};
	uint8_t proof[MERKLE_PROOF_MAX + 1][H], ref[MERKLE_PROOF_MAX][H];
	size_t n, rn = 0, i;
	unsigned bit;
	unsigned long before = m->gets;

	assert_int_equal(merkle_consistency_proof(&st, a, b, proof, &n), 0);
	assert_true(m->gets - before <= 2 * ceil_log2(b) + 2);
	if (a > 0 && a < b)
		ref_subproof(a, leaf, b, 1, ref, &rn);
	assert_int_equal(n, rn);
	if (n)
		assert_memory_equal(proof, ref, n * H);
	assert_int_equal(merkle_verify_consistency(a, b, roots[a], roots[b], proof, n), 0);
	if (a == b || a == 0)
		return;
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8 * H; bit += 53) {
			proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(merkle_verify_consistency(a, b, roots[a], roots[b], proof, n),
					 KINKO_EINTEGRITY);
			proof[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	/* Wrong sizes, each paired with the true root of the size claimed. */
	assert_int_not_equal(merkle_verify_consistency(a - 1, b, roots[a - 1], roots[b], proof, n), 0);
	if (a + 1 < b)
		assert_int_not_equal(merkle_verify_consistency(a + 1, b, roots[a + 1], roots[b], proof, n), 0);
	if (b - 1 > a)
		assert_int_not_equal(merkle_verify_consistency(a, b - 1, roots[a], roots[b - 1], proof, n), 0);
	if (b + 1 < BIG)
		assert_int_not_equal(merkle_verify_consistency(a, b + 1, roots[a], roots[b + 1], proof, n), 0);
	assert_int_not_equal(merkle_verify_consistency(a, b * 2, roots[a], roots[b], proof, n), 0);
	assert_int_not_equal(merkle_verify_consistency(a, b, roots[b], roots[a], proof, n), 0);
	assert_int_not_equal(merkle_verify_consistency(a, b, roots[a], roots[b], proof, 0), 0);
	assert_int_not_equal(merkle_verify_consistency(a, b, roots[a], roots[b], proof, n - 1), 0);
	memcpy(proof[n], roots[b], H);
	assert_int_not_equal(merkle_verify_consistency(a, b, roots[a], roots[b], proof, n + 1), 0);
	memmove(proof[1], proof[0], n * H);
	memcpy(proof[0], roots[a], H);
	assert_int_not_equal(merkle_verify_consistency(a, b, roots[a], roots[b], proof, n + 1), 0);
}

static void every_size_matches_reference(void **state)
{
	struct mem_store m;
	struct merkle_store st = {mem_get, mem_put, &m};
	uint8_t (*leaf)[H] = calloc(BIG, H);
	uint8_t (*roots)[H] = calloc(BIG + 1, H);
	uint8_t got[H];
	struct merkle_builder b;
	uint64_t i, s, a;
	static const uint64_t big[] = {65, 100, 127, 128, 129, 255, 256, 257, 1000, 1023,
				       1024, 1025, 2047, 4095, 4096, 4099};
	(void)state;

	assert_non_null(leaf);
	assert_non_null(roots);
	mem_init(&m);
	merkle_builder_init(&b);
	merkle_empty_root(roots[0]);
	for (i = 0; i < BIG; i++) {
		uint8_t data[8];
		unsigned long before_gets = m.gets, before_puts = m.puts;

		memcpy(data, &i, 8);
		assert_int_equal(merkle_hash_leaf(data, sizeof data, leaf[i]), 0);
		assert_int_equal(merkle_append(&st, i, leaf[i]), 0);
		/* One put for the leaf and one get + put per completed subtree. */
		assert_int_equal(m.puts - before_puts, 1 + (unsigned long)__builtin_ctzll(~i));
		assert_int_equal(m.gets - before_gets, (unsigned long)__builtin_ctzll(~i));
		assert_int_equal(merkle_builder_add(&b, leaf[i]), 0);
		assert_int_equal(merkle_builder_root(&b, roots[i + 1]), 0);
	}
	/* The builder's roots (checked here against the reference) at every size. */
	for (s = 0; s <= 300; s++) {
		ref_mth(leaf, s, got);
		assert_memory_equal(got, roots[s], H);
		assert_int_equal(merkle_root(&st, s, got), 0);
		assert_memory_equal(got, roots[s], H);
	}
	for (i = 0; i < sizeof big / sizeof big[0]; i++) {
		ref_mth(leaf, big[i], got);
		assert_memory_equal(got, roots[big[i]], H);
		assert_int_equal(merkle_root(&st, big[i], got), 0);
		assert_memory_equal(got, roots[big[i]], H);
	}
	/* Every leaf of every tree of 1..64 leaves, every pair of sizes up to 64. */
	for (s = 1; s <= 64; s++) {
		for (i = 0; i < s; i++)
			check_inclusion(&m, leaf, roots, s, i);
		for (a = 0; a <= s; a++)
			check_consistency(&m, leaf, roots, a, s);
	}
	/* Larger trees: edges and a spread of indexes. */
	for (i = 0; i < sizeof big / sizeof big[0]; i++) {
		s = big[i];
		for (a = 0; a < s; a += 1 + s / 17) {
			check_inclusion(&m, leaf, roots, s, a);
			check_consistency(&m, leaf, roots, a, s);
		}
		check_inclusion(&m, leaf, roots, s, s - 1);
		check_consistency(&m, leaf, roots, s - 1, s);
		check_consistency(&m, leaf, roots, 64, s);
	}
	mem_free(&m);
	free(leaf);
	free(roots);
}

static void bad_arguments_and_store_errors(void **state)
{
	struct mem_store m;
	struct merkle_store st = {mem_get, mem_put, &m};
	uint8_t h[H] = {0}, proof[MERKLE_PROOF_MAX][H];
	size_t n = 99;
	struct merkle_builder b;
	(void)state;

	mem_init(&m);
	assert_int_equal(merkle_inclusion_proof(&st, 0, 0, proof, &n), KINKO_EINVAL);
	assert_int_equal(merkle_inclusion_proof(&st, 3, 3, proof, &n), KINKO_EINVAL);
	assert_int_equal(merkle_consistency_proof(&st, 4, 3, proof, &n), KINKO_EINVAL);
	assert_int_equal(n, 99); /* untouched on failure */
	/* Reading a tree the store does not hold passes the store's error on. */
	assert_int_equal(merkle_root(&st, 5, h), KINKO_ENOENT);
	assert_int_equal(merkle_inclusion_proof(&st, 1, 5, proof, &n), KINKO_ENOENT);
	/* A failing put fails the append. */
	m.fail_put_at = 1;
	assert_int_equal(merkle_append(&st, 0, h), KINKO_EIO);
	m.fail_put_at = 0;
	assert_int_equal(merkle_append(&st, MERKLE_SIZE_MAX, h), KINKO_ELIMIT);
	/* Verifiers: index beyond size, m > n, too long a proof, size 0 and 1. */
	assert_int_equal(merkle_verify_inclusion(1, 1, h, proof, 0, h), KINKO_EINTEGRITY);
	assert_int_equal(merkle_verify_inclusion(0, 1, h, proof, 0, h), 0);
	assert_int_equal(merkle_verify_inclusion(0, 0, h, proof, 0, h), KINKO_EINTEGRITY);
	assert_int_equal(merkle_verify_inclusion(0, 2, h, proof, MERKLE_PROOF_MAX + 1, h), KINKO_EINVAL);
	assert_int_equal(merkle_verify_consistency(2, 1, h, h, proof, 0), KINKO_EINTEGRITY);
	assert_int_equal(merkle_verify_consistency(0, 5, h, h, proof, 0), KINKO_EINTEGRITY);
	merkle_empty_root(proof[0]);
	assert_int_equal(merkle_verify_consistency(0, 5, proof[0], h, proof, 0), 0);
	assert_int_equal(merkle_verify_consistency(0, 5, proof[0], h, proof, 1), KINKO_EINTEGRITY);
	assert_int_equal(merkle_verify_consistency(3, 3, h, h, proof, 0), 0);
	assert_int_equal(merkle_verify_consistency(3, 3, h, h, proof, 1), KINKO_EINTEGRITY);
	assert_int_equal(merkle_verify_consistency(1, 2, h, h, proof, 0), KINKO_EINTEGRITY);
	/* The builder refuses to pass the size limit. */
	merkle_builder_init(&b);
	b.size = MERKLE_SIZE_MAX;
	assert_int_equal(merkle_builder_add(&b, h), KINKO_ELIMIT);
	mem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_answers),
		cmocka_unit_test(every_size_matches_reference),
		cmocka_unit_test(bad_arguments_and_store_errors),
	};
	if (kinko_crypto_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
