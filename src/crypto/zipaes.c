#include "crypto/zipaes.h"

#include <endian.h>
#include <stdatomic.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/aes.h>
#include <nettle/memxor.h>

#include "crypto/crypto.h"

#define BATCH 128 /* counter blocks encrypted per nettle call */

struct zipaes {
	struct aes256_ctx aes;
	gnutls_hmac_hd_t mac;
	gnutls_hmac_hd_t mark; /* a copy of mac's state, or NULL */
};

int zipaes_new(const char *pw, size_t pw_len, const uint8_t salt[ZIPAES_SALT_LEN],
	       struct zipaes **out, uint8_t pv[ZIPAES_PV_LEN])
{
	uint8_t dk[32 + 32 + ZIPAES_PV_LEN];
	gnutls_datum_t key = {(unsigned char *)(uintptr_t)pw, (unsigned)pw_len};
	gnutls_datum_t s = {(unsigned char *)(uintptr_t)salt, ZIPAES_SALT_LEN};
	struct zipaes *z;

	if (pw_len > 0xffff)
		return KINKO_EINVAL;
	if (gnutls_pbkdf2(GNUTLS_MAC_SHA1, &key, &s, ZIPAES_ITERATIONS, dk, sizeof dk) < 0)
		return KINKO_ECRYPTO;
	z = kinko_secure_alloc(sizeof *z);
	if (!z) {
		kinko_wipe(dk, sizeof dk);
		return KINKO_ENOMEM;
	}
	memset(z, 0, sizeof *z);
	aes256_set_encrypt_key(&z->aes, dk);
	if (gnutls_hmac_init(&z->mac, GNUTLS_MAC_SHA1, dk + 32, 32) < 0) {
		kinko_wipe(dk, sizeof dk);
		kinko_secure_free(z);
		return KINKO_ECRYPTO;
	}
	memcpy(pv, dk + 64, ZIPAES_PV_LEN);
	kinko_wipe(dk, sizeof dk);
	*out = z;
	return 0;
}

/* Block i of the entry uses counter i + 1, little-endian over 16 bytes. The high
 * halves of the counter blocks stay zero (set once per call): 2^64 blocks is
 * beyond any zip entry. */
static void fill_counters(uint8_t *ctr, uint64_t first, size_t nblocks)
{
	for (size_t i = 0; i < nblocks; i++) {
		uint64_t le = htole64(first + i + 1);
		memcpy(ctr + i * 16, &le, 8);
	}
}

/* The key stream goes through scratch on the stack (wiped after), so calls on one
 * context for different ranges may run on two threads at once. */
static void ctr_nettle(const struct zipaes *z, uint64_t off, const uint8_t *src, uint8_t *dst,
		       size_t n)
{
	uint8_t ks[BATCH * 16], ctr[BATCH * 16];

	memset(ctr, 0, sizeof ctr);
	while (n > 0) {
		uint64_t block = off / 16;
		size_t skip = (size_t)(off % 16);
		size_t want = (skip + n + 15) / 16;
		size_t nb = want < BATCH ? want : BATCH;
		size_t avail = nb * 16 - skip;
		size_t take = n < avail ? n : avail;

		fill_counters(ctr, block, nb);
		aes256_encrypt(&z->aes, nb * 16, ks, ctr);
		if (src == dst)
			memxor(dst, ks + skip, take);
		else
			memxor3(dst, src, ks + skip, take);
		src += take;
		dst += take;
		n -= take;
		off += take;
	}
	kinko_wipe(ks, sizeof ks);
}

#if defined(__x86_64__)
/*
 * AES-256-CTR with VAES (two blocks per AES instruction, eight in flight): 7-Zip
 * opens zip AES this way, several times faster than nettle 3.8's one-block AES-NI
 * code; no library on Debian 12 has it for ECB or CTR. Counter blocks as in
 * fill_counters (the low 8 bytes little-endian, the high 8 zero). The round keys
 * are nettle's expanded key: struct aes256_ctx is the standard schedule as bytes,
 * the layout nettle's own AES-NI code loads. The unit tests compare with nettle.
 */
__attribute__((target("aes,vaes,avx2"))) static void ctr_vaes(const struct zipaes *z,
								uint64_t block,
								const uint8_t *src, uint8_t *dst,
								size_t nblocks)
{
	__m256i rk[15];
	const __m256i two = _mm256_set_epi64x(0, 2, 0, 2);
	__m256i c = _mm256_set_epi64x(0, (long long)(block + 2), 0, (long long)(block + 1));

	for (int r = 0; r < 15; r++)
		rk[r] = _mm256_broadcastsi128_si256(
			_mm_loadu_si128((const __m128i *)(const void *)(z->aes.keys + 4 * r)));
	while (nblocks > 0) {
		__m256i x0, x1, x2, x3;
		size_t nb = nblocks < 8 ? nblocks : 8;
		x0 = _mm256_xor_si256(c, rk[0]);
		c = _mm256_add_epi64(c, two);
		x1 = _mm256_xor_si256(c, rk[0]);
		c = _mm256_add_epi64(c, two);
		x2 = _mm256_xor_si256(c, rk[0]);
		c = _mm256_add_epi64(c, two);
		x3 = _mm256_xor_si256(c, rk[0]);
		c = _mm256_add_epi64(c, two);
		for (int r = 1; r < 14; r++) {
			__m256i k = rk[r];
			x0 = _mm256_aesenc_epi128(x0, k);
			x1 = _mm256_aesenc_epi128(x1, k);
			x2 = _mm256_aesenc_epi128(x2, k);
			x3 = _mm256_aesenc_epi128(x3, k);
		}
		x0 = _mm256_aesenclast_epi128(x0, rk[14]);
		x1 = _mm256_aesenclast_epi128(x1, rk[14]);
		x2 = _mm256_aesenclast_epi128(x2, rk[14]);
		x3 = _mm256_aesenclast_epi128(x3, rk[14]);
		if (nb == 8) {
			const __m256i *in = (const __m256i *)(const void *)src;
			__m256i *o = (__m256i *)(void *)dst;
			_mm256_storeu_si256(o, _mm256_xor_si256(_mm256_loadu_si256(in), x0));
			_mm256_storeu_si256(o + 1, _mm256_xor_si256(_mm256_loadu_si256(in + 1), x1));
			_mm256_storeu_si256(o + 2, _mm256_xor_si256(_mm256_loadu_si256(in + 2), x2));
			_mm256_storeu_si256(o + 3, _mm256_xor_si256(_mm256_loadu_si256(in + 3), x3));
		} else {
			uint8_t ks[128];
			__m256i *k = (__m256i *)(void *)ks;
			_mm256_storeu_si256(k, x0);
			_mm256_storeu_si256(k + 1, x1);
			_mm256_storeu_si256(k + 2, x2);
			_mm256_storeu_si256(k + 3, x3);
			if (src == dst)
				memxor(dst, ks, nb * 16);
			else
				memxor3(dst, src, ks, nb * 16);
			kinko_wipe(ks, sizeof ks);
		}
		src += nb * 16;
		dst += nb * 16;
		nblocks -= nb;
	}
	kinko_wipe(rk, sizeof rk);
}

static int have_vaes(void)
{
	static atomic_int known = -1; /* every thread that computes it gets the same */
	unsigned a, b, c, d;
	int v = atomic_load_explicit(&known, memory_order_relaxed);

	if (v >= 0)
		return v;
	v = 0;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_AES)) {
		unsigned lo, hi;
		__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		if ((lo & 6) == 6 && __get_cpuid_count(7, 0, &a, &b, &c, &d))
			v = (b & bit_AVX2) && (c & bit_VAES);
	}
	atomic_store_explicit(&known, v, memory_order_relaxed);
	return v;
}
#endif

void zipaes_crypt_to(const struct zipaes *z, uint64_t off, const uint8_t *src, uint8_t *dst,
		     size_t n)
{
#if defined(__x86_64__)
	if (have_vaes()) {
		size_t head = off % 16 ? 16 - (size_t)(off % 16) : 0, mid;
		if (head > n)
			head = n;
		if (head) { /* the rest of a block begun earlier */
			ctr_nettle(z, off, src, dst, head);
			src += head;
			dst += head;
			off += head;
			n -= head;
		}
		mid = n / 16;
		if (mid)
			ctr_vaes(z, off / 16, src, dst, mid);
		if (n % 16)
			ctr_nettle(z, off + mid * 16, src + mid * 16, dst + mid * 16, n % 16);
		return;
	}
#endif
	ctr_nettle(z, off, src, dst, n);
}

void zipaes_crypt(const struct zipaes *z, uint64_t off, uint8_t *buf, size_t n)
{
	zipaes_crypt_to(z, off, buf, buf, n);
}

void zipaes_mac_update(struct zipaes *z, const uint8_t *p, size_t n)
{
	if (n)
		(void)gnutls_hmac(z->mac, p, n);
}

int zipaes_mac_mark(struct zipaes *z)
{
	gnutls_hmac_hd_t m = gnutls_hmac_copy(z->mac);

	if (!m)
		return KINKO_ENOMEM;
	if (z->mark)
		gnutls_hmac_deinit(z->mark, NULL);
	z->mark = m;
	return 0;
}

void zipaes_mac_rewind(struct zipaes *z)
{
	gnutls_hmac_deinit(z->mac, NULL);
	z->mac = z->mark;
	z->mark = NULL;
}

void zipaes_mac_final(struct zipaes *z, uint8_t mac[ZIPAES_MAC_LEN])
{
	uint8_t full[20];

	gnutls_hmac_output(z->mac, full);
	memcpy(mac, full, ZIPAES_MAC_LEN);
}

void zipaes_free(struct zipaes *z)
{
	if (!z)
		return;
	if (z->mac)
		gnutls_hmac_deinit(z->mac, NULL);
	if (z->mark)
		gnutls_hmac_deinit(z->mark, NULL);
	kinko_secure_free(z); /* sodium_free wipes */
}

int zipaes_pbkdf2_sha256(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
			 unsigned iterations, uint8_t *out, size_t out_len)
{
	gnutls_datum_t key = {(unsigned char *)(uintptr_t)pw, (unsigned)pw_len};
	gnutls_datum_t s = {(unsigned char *)(uintptr_t)salt, (unsigned)salt_len};

	return gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, iterations, out, out_len) < 0
		       ? KINKO_ECRYPTO
		       : 0;
}

int zipaes_hmac256_init(struct zipaes_hmac *h, const uint8_t *key, size_t key_len)
{
	gnutls_hmac_hd_t hd;

	if (gnutls_hmac_init(&hd, GNUTLS_MAC_SHA256, key, key_len) < 0)
		return KINKO_ECRYPTO;
	h->hd = hd;
	return 0;
}

void zipaes_hmac256_update(struct zipaes_hmac *h, const void *p, size_t n)
{
	if (n)
		(void)gnutls_hmac((gnutls_hmac_hd_t)h->hd, p, n);
}

void zipaes_hmac256_final(struct zipaes_hmac *h, uint8_t out[32])
{
	gnutls_hmac_deinit((gnutls_hmac_hd_t)h->hd, out);
	h->hd = NULL;
}

void zipaes_hmac256_abort(struct zipaes_hmac *h)
{
	if (h->hd)
		gnutls_hmac_deinit((gnutls_hmac_hd_t)h->hd, NULL);
	h->hd = NULL;
}
