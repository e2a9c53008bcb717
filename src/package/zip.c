/*
 * zip — zip archives whose entries are WinZip AES-256 (AE-2) encrypted, on
 * crypto/zipaes.h and zlib, written and read as streams.
 *
 * Why not libarchive: Debian 12's libarchive 3.6.2 writes AE-1 (vendor version 1,
 * with the plaintext CRC-32) for every entry of 20 bytes or more, where the
 * handover rules ask for AE-2; and its reader says neither which cipher an entry
 * uses (ZipCrypto and AES look the same through its API) nor whether the central
 * directory agrees with the local headers, so names, sizes and attributes there
 * could be changed unnoticed. This file does both directions itself.
 *
 * Layout written: per entry a local header (flags: encrypted, data descriptor,
 * UTF-8 name; method 99; a ZIP64 extra so any size streams; the AES extra with
 * vendor version 2, strength 3), salt, password verifier, AES-CTR ciphertext of
 * the deflated data, the 10-byte HMAC-SHA1, a ZIP64 data descriptor (CRC 0 as
 * AE-2 says). Then the central directory, ZIP64 end records when needed, and the
 * end record whose comment carries kinko's integrity tag:
 * "kinko-integrity-v1 <salt hex> <HMAC-SHA-256 hex>" over the SHA-256 of every
 * byte before the comment except entry ciphertext (each entry's own MAC, which is
 * included, covers that), keyed by PBKDF2-HMAC-SHA-256(password, salt, 10000).
 * WinZip AES authenticates only entry contents; the tag extends that to names,
 * times, attributes and the directory. Readers that do not know it ignore it.
 */
#include "package/package_internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "core/buf.h"
#include "core/parse.h"
#include "core/wareki.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "crypto/zipaes.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_DD 0x08074b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DD 0x0008u
#define FLAG_STRONG 0x0040u
#define FLAG_UTF8 0x0800u
#define METHOD_STORE 0
#define METHOD_DEFLATE 8
#define METHOD_AES 99
#define EXTRA_ZIP64 0x0001u
#define EXTRA_AES 0x9901u
#define VERSION_AES 51
#define INTEGRITY_PREFIX "kinko-integrity-v1 "
#define INTEGRITY_ITER 10000
#define INTEGRITY_LEN (sizeof INTEGRITY_PREFIX - 1 + 32 + 1 + 64)
#define IO_CHUNK (64 * 1024)
#define ZR_BATCH (256 * 1024) /* ciphertext per step when opening */
#define CD_MAX ((size_t)256 << 20)

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void dos_time(int64_t t, uint16_t *tm, uint16_t *dt)
{
	/* DOS times are local; kinko's wards are in Japan (JST, no DST). */
	int64_t day = ((t + 9 * 3600) % 86400 + 86400) % 86400;
	struct civil_date d = civil_from_unix(t, 9 * 3600);

	if (d.year < 1980) {
		*tm = 0;
		*dt = (1 << 5) | 1;
		return;
	}
	if (d.year > 2107)
		d.year = 2107;
	*tm = (uint16_t)((day / 3600) << 11 | ((day / 60) % 60) << 5 | (day % 60) / 2);
	*dt = (uint16_t)((d.year - 1980) << 9 | d.month << 5 | d.day);
}

/* --- writer ---------------------------------------------------------------- */

struct package_zip_writer {
	struct kinko_writer out;
	char *pw; /* secure memory */
	size_t pw_len;
	int level;
	uint64_t off;
	uint64_t count;
	struct kbuf cd;
	struct kinko_sha256 sha;
	int failed;
	uint8_t *in, *zbuf;
};

static int zw_write(struct package_zip_writer *zw, const void *p, size_t n, struct kinko_err *e)
{
	int rc = zw->out.write(zw->out.ctx, p, n, e);

	if (rc) {
		zw->failed = 1;
		return rc;
	}
	kinko_sha256_update(&zw->sha, p, n);
	zw->off += n;
	return 0;
}

int package_zip_writer_new(const struct kinko_writer *out, const char *password,
			   size_t password_len, int level, struct package_zip_writer **zwp,
			   struct kinko_err *e)
{
	struct package_zip_writer *zw;

	if (!password || password_len == 0 || password_len > 0xffff)
		return kinko_err_set(e, KINKO_EINVAL, "a zip package needs a password");
	if (level < 1 || level > 9)
		return kinko_err_set(e, KINKO_EINVAL, "the deflate level must be 1..9");
	zw = calloc(1, sizeof *zw);
	if (!zw)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	zw->out = *out;
	zw->level = level;
	kbuf_init(&zw->cd, CD_MAX);
	zw->pw = kinko_secure_alloc(password_len + 1);
	zw->in = aligned_alloc(4096, IO_CHUNK); /* page-aligned reads copy faster */
	zw->zbuf = aligned_alloc(4096, IO_CHUNK);
	if (!zw->pw || !zw->in || !zw->zbuf || kinko_sha256_init(&zw->sha)) {
		package_zip_writer_free(zw);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	memcpy(zw->pw, password, password_len);
	zw->pw[password_len] = '\0';
	zw->pw_len = password_len;
	*zwp = zw;
	return 0;
}

void package_zip_writer_free(struct package_zip_writer *zw)
{
	if (!zw)
		return;
	kinko_secure_free(zw->pw);
	kbuf_free(&zw->cd);
	kinko_sha256_abort(&zw->sha);
	if (zw->in)
		kinko_wipe(zw->in, IO_CHUNK);
	free(zw->in);
	free(zw->zbuf);
	free(zw);
}

/* Encrypts, MACs and writes n bytes of compressed data. */
/* Entry ciphertext is left out of the integrity hash: the entry's own MAC, which
 * is hashed, already authenticates it. */
static int zw_emit(struct package_zip_writer *zw, struct zipaes *z, uint64_t *coff, uint8_t *p,
		   size_t n, struct kinko_err *e)
{
	int rc;

	if (n == 0)
		return 0;
	zipaes_crypt(z, *coff, p, n);
	zipaes_mac_update(z, p, n);
	*coff += n;
	rc = zw->out.write(zw->out.ctx, p, n, e);
	if (rc) {
		zw->failed = 1;
		return rc;
	}
	zw->off += n;
	return 0;
}

/*
 * Deflating data that does not compress (media, archives, ciphertext) costs far
 * more than it saves. At the start of every ADAPT_WINDOW of input, the first
 * chunk is test-compressed at level 1 on the side; above 97% the window is
 * written as stored deflate blocks (level 0, still method 8), otherwise at the
 * configured level. zlib switches levels at a block boundary, so the entry stays
 * one valid deflate stream. The probe costs about 1.6% of the input.
 */
#define ADAPT_WINDOW ((uint64_t)4 << 20)

/* Whether n bytes at in deflate (at level 1) below 97% of their size. */
static int zw_probe(struct package_zip_writer *zw, z_stream *probe, const uint8_t *in, size_t n,
		    int *compresses, struct kinko_err *e)
{
	int zr;

	if (deflateReset(probe) != Z_OK)
		return kinko_err_set(e, KINKO_EIO, "zlib probe failed");
	probe->next_in = (uint8_t *)(uintptr_t)in;
	probe->avail_in = (uInt)n;
	probe->next_out = zw->zbuf;
	probe->avail_out = IO_CHUNK;
	zr = deflate(probe, Z_FINISH);
	*compresses = zr == Z_STREAM_END && (uint64_t)probe->total_out * 100 <= (uint64_t)n * 97;
	return 0;
}

static int zw_adapt(struct package_zip_writer *zw, z_stream *zs, z_stream *probe,
		    struct zipaes *z, uint64_t *coff, const uint8_t *in, size_t n, int *cur_level,
		    struct kinko_err *e)
{
	int next, zr, rc, compresses = 0;

	rc = zw_probe(zw, probe, in, n, &compresses, e);
	if (rc)
		return rc;
	next = compresses ? zw->level : 0;
	if (next == *cur_level)
		return 0;
	do {
		zs->next_out = zw->zbuf;
		zs->avail_out = IO_CHUNK;
		zr = deflateParams(zs, next, Z_DEFAULT_STRATEGY);
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return kinko_err_set(e, KINKO_EIO, "zlib could not change level");
		rc = zw_emit(zw, z, coff, zw->zbuf, IO_CHUNK - zs->avail_out, e);
		if (rc)
			return rc;
	} while (zr == Z_BUF_ERROR || zs->avail_out == 0);
	*cur_level = next;
	return 0;
}

int package_zip_add(struct package_zip_writer *zw, const char *name, int64_t mtime,
		    const struct kinko_reader *content, struct kinko_err *e)
{
	return package_zip_add_sized(zw, name, mtime, -1, content, e);
}

/*
 * An entry whose size is known and whose first IO_CHUNK does not compress is
 * written stored (method 0 inside the AES extra) with its sizes in the local
 * header and no data descriptor, as 7-Zip writes such files: opening it is then
 * AES-CTR and the MAC only, where stored deflate blocks cost zlib a copy. A
 * stored entry needs its sizes up front (a streaming reader cannot find its end
 * otherwise), hence the size; the content must then be exactly that long.
 */
int package_zip_add_sized(struct package_zip_writer *zw, const char *name, int64_t mtime,
			  int64_t size, const struct kinko_reader *content, struct kinko_err *e)
{
	size_t nl = strlen(name);
	uint8_t lh[30], ex[20 + 11], salt[ZIPAES_SALT_LEN], pv[ZIPAES_PV_LEN], mac[ZIPAES_MAC_LEN];
	uint8_t dd[24], ch[46], cex[28 + 11];
	uint16_t tm, dt;
	uint64_t lho = zw->off, usize = 0, coff = 0, csize;
	int method = zw->level ? METHOD_DEFLATE : METHOD_STORE, rc, zinit = 0;
	uint32_t flags = FLAG_ENCRYPTED | FLAG_DD | FLAG_UTF8;
	struct zipaes *z = NULL;
	z_stream zs;
	size_t cexl = 0, first = 0;
	int cur_level = zw->level, have_first = 0;
	z_stream probe;

	if (zw->failed)
		return kinko_err_set(e, KINKO_EIO, "the zip writer failed earlier");
	if (package_name_check(name, nl, e) || name[nl - 1] == '/')
		return kinko_err_set(e, KINKO_EINVAL,
				     "a file name for the zip is not a plain relative name");
	if (zw->count >= 0xffffffffu)
		return kinko_err_set(e, KINKO_ELIMIT, "too many entries");
	dos_time(mtime, &tm, &dt);
	memset(&zs, 0, sizeof zs);
	memset(&probe, 0, sizeof probe);
	if (method == METHOD_DEFLATE) {
		if (deflateInit2(&zs, zw->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return kinko_err_set(e, KINKO_ENOMEM, "zlib could not start");
		zinit = 1;
		if (deflateInit2(&probe, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			rc = kinko_err_set(e, KINKO_ENOMEM, "zlib could not start");
			goto out;
		}
		zinit = 2;
	}
	if (method == METHOD_DEFLATE && size > 0) {
		int compresses = 0;
		rc = kinko_read_full(content, zw->in, IO_CHUNK, &first, e);
		rc = rc ? rc : zw_probe(zw, &probe, zw->in, first, &compresses, e);
		if (rc)
			goto out;
		have_first = 1;
		if (!compresses) {
			method = METHOD_STORE;
			flags = FLAG_ENCRYPTED | FLAG_UTF8;
		}
	}

	put32(lh, SIG_LOCAL);
	put16(lh + 4, VERSION_AES);
	put16(lh + 6, flags);
	put16(lh + 8, METHOD_AES);
	put16(lh + 10, tm);
	put16(lh + 12, dt);
	put32(lh + 14, 0);
	put32(lh + 18, 0xffffffffu);
	put32(lh + 22, 0xffffffffu);
	put16(lh + 26, (uint32_t)nl);
	put16(lh + 28, 20 + 11);
	put16(ex, EXTRA_ZIP64);
	put16(ex + 2, 16);
	put64(ex + 4, flags & FLAG_DD ? 0 : (uint64_t)size);
	put64(ex + 12,
	      flags & FLAG_DD ? 0 : (uint64_t)size + ZIPAES_SALT_LEN + ZIPAES_PV_LEN + ZIPAES_MAC_LEN);
	put16(ex + 20, EXTRA_AES);
	put16(ex + 22, 7);
	put16(ex + 24, 2); /* AE-2 */
	ex[26] = 'A';
	ex[27] = 'E';
	ex[28] = 3; /* AES-256 */
	put16(ex + 29, (uint32_t)method);

	kinko_random(salt, sizeof salt);
	rc = zipaes_new(zw->pw, zw->pw_len, salt, &z, pv);
	if (rc) {
		rc = kinko_err_set(e, rc, "deriving the zip entry keys failed");
		goto out;
	}
	rc = zw_write(zw, lh, sizeof lh, e);
	rc = rc ? rc : zw_write(zw, name, nl, e);
	rc = rc ? rc : zw_write(zw, ex, sizeof ex, e);
	rc = rc ? rc : zw_write(zw, salt, sizeof salt, e);
	rc = rc ? rc : zw_write(zw, pv, sizeof pv, e);
	if (rc)
		goto out;
	for (;;) {
		size_t got = first;
		rc = have_first ? 0 : kinko_read_full(content, zw->in, IO_CHUNK, &got, e);
		have_first = 0;
		if (rc)
			goto out;
		usize += got;
		if (method == METHOD_STORE) {
			rc = zw_emit(zw, z, &coff, zw->in, got, e);
			if (rc)
				goto out;
		} else {
			int flush = got < IO_CHUNK ? Z_FINISH : Z_NO_FLUSH, zr;
			if ((usize - got) % ADAPT_WINDOW == 0 && got > 0) {
				rc = zw_adapt(zw, &zs, &probe, z, &coff, zw->in, got, &cur_level, e);
				if (rc)
					goto out;
			}
			zs.next_in = zw->in;
			zs.avail_in = (uInt)got;
			do {
				zs.next_out = zw->zbuf;
				zs.avail_out = IO_CHUNK;
				zr = deflate(&zs, flush);
				if (zr == Z_STREAM_ERROR) {
					rc = kinko_err_set(e, KINKO_EIO, "zlib deflate failed");
					goto out;
				}
				rc = zw_emit(zw, z, &coff, zw->zbuf, IO_CHUNK - zs.avail_out, e);
				if (rc)
					goto out;
			} while (zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
		}
		if (got < IO_CHUNK)
			break;
	}
	if (!(flags & FLAG_DD) && usize != (uint64_t)size) {
		rc = kinko_err_set(e, KINKO_EIO,
				   "a file changed size while it was being sealed (%s); seal it "
				   "again when nothing writes to it",
				   name);
		goto out;
	}
	zipaes_mac_final(z, mac);
	rc = zw_write(zw, mac, sizeof mac, e);
	if (rc)
		goto out;
	csize = coff + ZIPAES_SALT_LEN + ZIPAES_PV_LEN + ZIPAES_MAC_LEN;
	if (flags & FLAG_DD) {
		put32(dd, SIG_DD);
		put32(dd + 4, 0);
		put64(dd + 8, csize);
		put64(dd + 16, usize);
		rc = zw_write(zw, dd, sizeof dd, e);
		if (rc)
			goto out;
	}

	/* The central directory entry, kept until finish. */
	put16(cex, EXTRA_ZIP64);
	cexl = 4;
	if (usize >= 0xffffffffu) {
		put64(cex + cexl, usize);
		cexl += 8;
	}
	if (csize >= 0xffffffffu) {
		put64(cex + cexl, csize);
		cexl += 8;
	}
	if (lho >= 0xffffffffu) {
		put64(cex + cexl, lho);
		cexl += 8;
	}
	if (cexl == 4)
		cexl = 0;
	else
		put16(cex + 2, (uint32_t)(cexl - 4));
	memcpy(cex + cexl, ex + 20, 11);
	cexl += 11;
	put32(ch, SIG_CENTRAL);
	put16(ch + 4, 3 << 8 | 63); /* made on Unix, spec 6.3 */
	put16(ch + 6, VERSION_AES);
	put16(ch + 8, flags);
	put16(ch + 10, METHOD_AES);
	put16(ch + 12, tm);
	put16(ch + 14, dt);
	put32(ch + 16, 0);
	put32(ch + 20, csize >= 0xffffffffu ? 0xffffffffu : (uint32_t)csize);
	put32(ch + 24, usize >= 0xffffffffu ? 0xffffffffu : (uint32_t)usize);
	put16(ch + 28, (uint32_t)nl);
	put16(ch + 30, (uint32_t)cexl);
	put16(ch + 32, 0);
	put16(ch + 34, 0);
	put16(ch + 36, 0);
	put32(ch + 38, (uint32_t)(S_IFREG | 0644) << 16);
	put32(ch + 42, lho >= 0xffffffffu ? 0xffffffffu : (uint32_t)lho);
	if (kbuf_append(&zw->cd, ch, sizeof ch) || kbuf_append(&zw->cd, name, nl) ||
	    kbuf_append(&zw->cd, cex, cexl)) {
		rc = kinko_err_set(e, KINKO_ELIMIT, "the zip's central directory grew too large");
		goto out;
	}
	zw->count++;
out:
	if (zinit)
		deflateEnd(&zs);
	if (zinit == 2)
		deflateEnd(&probe);
	zipaes_free(z);
	if (rc)
		zw->failed = 1;
	return rc;
}

int package_zip_finish(struct package_zip_writer *zw, struct kinko_err *e)
{
	uint8_t rec[56 + 20], eocd[22], digest[32], salt[16], key[32], mac[32];
	uint64_t cdo = zw->off, cds = zw->cd.len;
	char comment[INTEGRITY_LEN + 1], hex[65];
	int rc, z64;

	if (zw->failed)
		return kinko_err_set(e, KINKO_EIO, "the zip writer failed earlier");
	rc = zw->cd.len ? zw_write(zw, zw->cd.data, zw->cd.len, e) : 0;
	if (rc)
		return rc;
	z64 = zw->count >= 0xffff || cdo >= 0xffffffffu || cds >= 0xffffffffu;
	if (z64) {
		uint64_t r64 = zw->off;
		put32(rec, SIG_EOCD64);
		put64(rec + 4, 44);
		put16(rec + 12, 3 << 8 | 63);
		put16(rec + 14, 45);
		put32(rec + 16, 0);
		put32(rec + 20, 0);
		put64(rec + 24, zw->count);
		put64(rec + 32, zw->count);
		put64(rec + 40, cds);
		put64(rec + 48, cdo);
		put32(rec + 56, SIG_LOC64);
		put32(rec + 60, 0);
		put64(rec + 64, r64);
		put32(rec + 72, 1);
		rc = zw_write(zw, rec, sizeof rec, e);
		if (rc)
			return rc;
	}
	put32(eocd, SIG_EOCD);
	put16(eocd + 4, 0);
	put16(eocd + 6, 0);
	put16(eocd + 8, z64 ? 0xffff : (uint32_t)zw->count);
	put16(eocd + 10, z64 ? 0xffff : (uint32_t)zw->count);
	put32(eocd + 12, z64 ? 0xffffffffu : (uint32_t)cds);
	put32(eocd + 16, z64 ? 0xffffffffu : (uint32_t)cdo);
	put16(eocd + 20, (uint32_t)INTEGRITY_LEN);
	rc = zw_write(zw, eocd, sizeof eocd, e);
	if (rc)
		return rc;
	kinko_sha256_final(&zw->sha, digest);
	if (kinko_sha256_init(&zw->sha))
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	kinko_random(salt, sizeof salt);
	if (zipaes_pbkdf2_sha256(zw->pw, zw->pw_len, salt, sizeof salt, INTEGRITY_ITER, key,
				 sizeof key) ||
	    kinko_hmac_sha256(key, sizeof key, digest, sizeof digest, mac)) {
		kinko_wipe(key, sizeof key);
		return kinko_err_set(e, KINKO_ECRYPTO, "computing the integrity tag failed");
	}
	kinko_wipe(key, sizeof key);
	memcpy(comment, INTEGRITY_PREFIX, sizeof INTEGRITY_PREFIX - 1);
	format_hex(salt, sizeof salt, hex);
	memcpy(comment + sizeof INTEGRITY_PREFIX - 1, hex, 32);
	comment[sizeof INTEGRITY_PREFIX - 1 + 32] = ' ';
	format_hex(mac, sizeof mac, hex);
	memcpy(comment + sizeof INTEGRITY_PREFIX - 1 + 33, hex, 64);
	return zw_write(zw, comment, INTEGRITY_LEN, e);
}

/* --- reader ---------------------------------------------------------------- */

struct zentry {
	char *name;
	uint16_t nl;
	uint16_t version, flags, method, tm, dt;
	uint32_t crc; /* effective: from the descriptor when there is one */
	uint64_t csize, usize, offset;
	uint8_t aes[7];
	int has_aes, is_dir;
};

struct zreader {
	struct pkg_br *b;
	const struct package_key *key;
	const struct package_limits *lim;
	const struct package_sink *sink;
	struct zentry *ents;
	size_t n, cap;
	uint64_t total;
	uint8_t *plain, *ct; /* IO_CHUNK, ZR_BATCH bytes */
	struct pkg_par *par; /* the helper thread for entry MACs, started on demand */
	int par_failed;
};

static int zfmt(struct kinko_err *e, const char *what)
{
	return kinko_err_set(e, KINKO_EFORMAT,
			     "the zip is malformed or was changed (%s); the package is refused",
			     what);
}

/* Finds extra field id in ex[0..len); checks the whole extra is well formed. */
static int find_extra(const uint8_t *ex, size_t len, uint32_t id, const uint8_t **p,
		      size_t *plen)
{
	size_t o = 0;
	int found = 0;

	while (o < len) {
		uint32_t hid, hl;
		if (len - o < 4)
			return -1;
		hid = get16(ex + o);
		hl = get16(ex + o + 2);
		if (len - o - 4 < hl)
			return -1;
		if (hid == id) {
			if (found)
				return -1;
			found = 1;
			*p = ex + o + 4;
			*plen = hl;
		}
		o += 4 + hl;
	}
	return found;
}

static int64_t unix_from_dos(uint32_t tm, uint32_t dt)
{
	int y = (int)(dt >> 9) + 1980, m = (int)(dt >> 5) & 15, d = (int)dt & 31;
	int64_t days;

	if (m < 1 || m > 12 || d < 1)
		return -1;
	/* days from civil (inverse of civil_from_unix) */
	y -= m <= 2;
	{
		int64_t era = (y >= 0 ? y : y - 399) / 400;
		int64_t yoe = y - era * 400;
		int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
		days = era * 146097 + doe - 719468;
	}
	return days * 86400 + (tm >> 11) * 3600 + ((tm >> 5) & 63) * 60 + (tm & 31) * 2 -
	       9 * 3600;
}

static int zr_limit_bytes(struct zreader *zr, size_t n, struct kinko_err *e)
{
	if (n > zr->lim->max_bytes - zr->total)
		return kinko_err_set(e, KINKO_ELIMIT,
				     "the package unpacks to more than the limit of %llu bytes "
				     "(a zip bomb?); raise --max-bytes if this is expected",
				     (unsigned long long)zr->lim->max_bytes);
	zr->total += n;
	return 0;
}

/* The helper thread's share of one batch: the AES-CTR of its second half, then
 * the entry MAC over the whole batch's ciphertext. */
struct zr_job {
	struct zipaes *z;
	const uint8_t *src; /* the batch's ciphertext */
	uint8_t *dst;       /* its plaintext (zr->ct) */
	uint64_t off;       /* the batch's offset in the entry */
	size_t n, half;     /* batch size; the helper decrypts [half, n) */
	atomic_int ctr_done;
};

static void zr_job(void *arg)
{
	struct zr_job *j = arg;

	zipaes_crypt_to(j->z, j->off + j->half, j->src + j->half, j->dst + j->half,
			j->n - j->half);
	atomic_store_explicit(&j->ctr_done, 1, memory_order_release);
	zipaes_mac_update(j->z, j->src, j->n);
}

/* Hands on the plaintext of n bytes of decrypted data at ct: a stored entry
 * as it is, a deflated one through zs (*used: the input inflate took; *done: the
 * deflate stream ended). */
static int zr_plain(struct zreader *zr, int inner, z_stream *zs, uint8_t *ct, size_t n,
		    struct kinko_writer *w, int want_crc, uint32_t *c, uint64_t *produced,
		    size_t *used, int *done, struct kinko_err *e)
{
	int rc;

	if (inner == METHOD_STORE) {
		rc = zr_limit_bytes(zr, n, e);
		rc = rc ? rc : w->write(w->ctx, ct, n, e);
		if (rc)
			return rc;
		if (want_crc)
			*c = (uint32_t)crc32(*c, ct, (uInt)n);
		*produced += n;
		*used = n;
		return 0;
	}
	zs->next_in = ct;
	zs->avail_in = (uInt)n;
	do {
		int r;
		size_t got;
		zs->next_out = zr->plain;
		zs->avail_out = IO_CHUNK;
		r = inflate(zs, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && !(r == Z_BUF_ERROR && zs->avail_in == 0))
			return kinko_err_set(e, KINKO_ECRYPTO,
					     "an entry's data does not decompress: wrong "
					     "password, or the package was changed or damaged");
		got = IO_CHUNK - zs->avail_out;
		rc = zr_limit_bytes(zr, got, e);
		rc = rc ? rc : (got ? w->write(w->ctx, zr->plain, got, e) : 0);
		if (rc)
			return rc;
		if (want_crc)
			*c = (uint32_t)crc32(*c, zr->plain, (uInt)got);
		*produced += got;
		if (r == Z_STREAM_END) {
			*done = 1;
			break;
		}
		if (r == Z_BUF_ERROR)
			break;
	} while (zs->avail_out == 0 || zs->avail_in > 0);
	*used = n - zs->avail_in;
	return 0;
}

/*
 * Reads, decrypts, inflates and hands on one entry's data. known: csize is the
 * size of the ciphertext; otherwise the deflate stream delimits it.
 *
 * The data goes in batches of up to ZR_BATCH bytes. This thread decrypts (AES-CTR)
 * the first half of a batch and inflates and writes it, while the helper thread
 * decrypts the second half and then runs the entry's HMAC-SHA1 over the whole
 * batch's ciphertext; then this thread goes on with the second half. The shares
 * take about as long (this thread also does the I/O). A deflate stream may end
 * inside a batch; the MAC, which went ahead over the whole batch, then goes back
 * to its state before the batch (zipaes_mac_mark) and takes only the bytes the
 * entry used.
 */
static int zr_data(struct zreader *zr, struct zentry *ze, struct zipaes *z, int known,
		   uint64_t ct_len, struct kinko_writer *w, uint64_t *ct_used, uint64_t *out_len,
		   uint32_t *crc, struct kinko_err *e)
{
	struct pkg_br *b = zr->b;
	int inner = ze->aes[5] | ze->aes[6] << 8, rc = 0, zinit = 0, done = 0;
	int want_crc = get16(ze->aes) == 1; /* only AE-1 stores the CRC-32 */
	uint64_t off = 0, produced = 0;
	uint32_t c = (uint32_t)crc32(0L, Z_NULL, 0);
	z_stream zs;

	memset(&zs, 0, sizeof zs);
	if (inner == METHOD_DEFLATE) {
		if (inflateInit2(&zs, -15) != Z_OK)
			return kinko_err_set(e, KINKO_ENOMEM, "zlib could not start");
		zinit = 1;
	} else if (!known) {
		return zfmt(e, "a stored entry without sizes cannot be read as a stream");
	}
	while (!done) {
		size_t avail = 0, take, used = 0, half;
		struct zr_job job;
		int ahead = 0;
		rc = pkg_br_fill(b, ZR_BATCH, &avail, e);
		if (rc)
			goto out;
		take = avail < ZR_BATCH ? avail : ZR_BATCH;
		if (known && take > ct_len - off)
			take = (size_t)(ct_len - off);
		if (take == 0 && (!known || off < ct_len)) {
			rc = kinko_err_set(e, KINKO_EFORMAT,
					   "the zip is truncated inside an entry; ask the sender "
					   "for a complete copy");
			goto out;
		}
		if (take == ZR_BATCH && !zr->par && !zr->par_failed && pkg_par_new(&zr->par))
			zr->par_failed = 1; /* then this thread does the MAC as well */
		if (zr->par && take >= 2 * 4096) {
			if (inner == METHOD_DEFLATE && zipaes_mac_mark(z)) {
				rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory");
				goto out;
			}
			job.z = z;
			job.src = b->buf + b->pos;
			job.dst = zr->ct;
			job.off = off;
			job.n = take;
			job.half = take / 2;
			atomic_store(&job.ctr_done, 0);
			pkg_par_start(zr->par, zr_job, &job);
			ahead = 1;
		}
		half = ahead ? take / 2 : take;
		zipaes_crypt_to(z, off, b->buf + b->pos, zr->ct, half);
		rc = zr_plain(zr, inner, &zs, zr->ct, half, w, want_crc, &c, &produced, &used,
			      &done, e);
		if (!rc && !done && half < take) {
			size_t used2 = 0;
			while (!atomic_load_explicit(&job.ctr_done, memory_order_acquire))
				sched_yield();
			rc = zr_plain(zr, inner, &zs, zr->ct + half, take - half, w, want_crc, &c,
				      &produced, &used2, &done, e);
			used += used2;
		}
		if (ahead) {
			pkg_par_wait(zr->par);
			if (!rc && used < take) {
				zipaes_mac_rewind(z);
				zipaes_mac_update(z, b->buf + b->pos, used);
			}
		} else if (!rc) {
			zipaes_mac_update(z, b->buf + b->pos, used);
		}
		if (rc)
			goto out;
		pkg_br_skip(b, used);
		off += used;
		if (inner == METHOD_STORE) {
			done = off == ct_len;
			continue;
		}
		if (known && done && off != ct_len) {
			rc = zfmt(e, "data after the end of a deflate stream");
			goto out;
		}
		if (known && !done && off == ct_len) {
			rc = zfmt(e, "a deflate stream ends early");
			goto out;
		}
	}
	*ct_used = off;
	*out_len = produced;
	*crc = c;
out:
	if (zinit)
		inflateEnd(&zs);
	return rc;
}

static int refuse_write(void *ctx, const uint8_t *buf, size_t n, struct kinko_err *e)
{
	(void)ctx;
	(void)buf;
	return n ? zfmt(e, "a folder entry with content") : 0;
}

static int zr_local(struct zreader *zr, struct kinko_err *e)
{
	struct pkg_br *b = zr->b;
	uint8_t h[26], ex[0xffff], salt[ZIPAES_SALT_LEN], pv[ZIPAES_PV_LEN], pvx[ZIPAES_PV_LEN];
	uint8_t mac[ZIPAES_MAC_LEN], mac2[ZIPAES_MAC_LEN];
	struct zentry *ze;
	struct zipaes *z = NULL;
	struct kinko_writer w = {0};
	uint32_t nl, xl, lcrc;
	uint64_t lcs, lus, used = 0, plain = 0;
	uint32_t crc = 0;
	const uint8_t *xp = NULL;
	size_t xpl = 0;
	void *hash;
	int rc, z64 = 0;

	if (zr->n >= zr->lim->max_entries)
		return kinko_err_set(e, KINKO_ELIMIT,
				     "the zip has more than the limit of %llu entries; raise "
				     "--max-entries if this is expected",
				     (unsigned long long)zr->lim->max_entries);
	if (zr->n == zr->cap) {
		size_t nc = zr->cap ? zr->cap * 2 : 16;
		struct zentry *ne = realloc(zr->ents, nc * sizeof *ne);
		if (!ne)
			return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
		zr->ents = ne;
		zr->cap = nc;
	}
	ze = &zr->ents[zr->n];
	memset(ze, 0, sizeof *ze);
	ze->offset = b->consumed - 4;
	rc = pkg_br_read(b, h, sizeof h, e);
	if (rc)
		return rc;
	ze->version = (uint16_t)get16(h);
	ze->flags = (uint16_t)get16(h + 2);
	ze->method = (uint16_t)get16(h + 4);
	ze->tm = (uint16_t)get16(h + 6);
	ze->dt = (uint16_t)get16(h + 8);
	lcrc = get32(h + 10);
	lcs = get32(h + 14);
	lus = get32(h + 18);
	nl = get16(h + 22);
	xl = get16(h + 24);
	if (nl == 0)
		return zfmt(e, "an entry without a name");
	ze->name = malloc(nl + 1);
	if (!ze->name)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	zr->n++; /* owns name from here */
	ze->nl = (uint16_t)nl;
	rc = pkg_br_read(b, (uint8_t *)ze->name, nl, e);
	rc = rc ? rc : pkg_br_read(b, ex, xl, e);
	if (rc)
		return rc;
	ze->name[nl] = '\0';
	rc = package_name_check(ze->name, nl, e);
	if (rc)
		return rc;
	ze->is_dir = ze->name[nl - 1] == '/';
	if (ze->flags & FLAG_STRONG)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "a zip entry uses PKWARE strong encryption, which kinko does "
				     "not read; ask for WinZip AES-256 (7-Zip: -mem=AES256)");
	if (find_extra(ex, xl, 0xffff0000u, &xp, &xpl) < 0)
		return zfmt(e, "bad extra field");
	if (find_extra(ex, xl, EXTRA_ZIP64, &xp, &xpl) == 1) {
		size_t o = 0;
		z64 = 1;
		if (lus == 0xffffffffu) {
			if (xpl < o + 8)
				return zfmt(e, "bad ZIP64 field");
			lus = get64(xp + o);
			o += 8;
		}
		if (lcs == 0xffffffffu) {
			if (xpl < o + 8)
				return zfmt(e, "bad ZIP64 field");
			lcs = get64(xp + o);
		}
	}
	if (!(ze->flags & FLAG_ENCRYPTED)) {
		if (ze->is_dir && ze->method == METHOD_STORE && lcs == 0 && lus == 0 &&
		    !(ze->flags & FLAG_DD)) {
			rc = zr->sink->begin(zr->sink->ctx, ze->name, 1,
					     unix_from_dos(ze->tm, ze->dt), &w, e);
			return rc ? rc : zr->sink->end(zr->sink->ctx, e);
		}
		return kinko_err_set(e, KINKO_EPERM,
				     "the zip holds an unencrypted entry (entry %zu); an encrypted "
				     "package must encrypt every file, so it is refused",
				     zr->n);
	}
	if (ze->method != METHOD_AES)
		return kinko_err_set(e, KINKO_EPERM,
				     "entry %zu is encrypted with ZipCrypto, the broken legacy zip "
				     "cipher; ask the sender for AES-256 (7-Zip: -mem=AES256)",
				     zr->n);
	if (find_extra(ex, xl, EXTRA_AES, &xp, &xpl) != 1 || xpl != 7 || xp[2] != 'A' ||
	    xp[3] != 'E' || (get16(xp) != 1 && get16(xp) != 2))
		return zfmt(e, "an AES entry without a valid AES extra field");
	if (xp[4] != 3)
		return kinko_err_set(e, KINKO_EPERM,
				     "entry %zu uses AES with a key shorter than 256 bits; ask the "
				     "sender for AES-256",
				     zr->n);
	if (get16(xp + 5) != METHOD_STORE && get16(xp + 5) != METHOD_DEFLATE)
		return kinko_err_set(e, KINKO_EFORMAT,
				     "entry %zu uses a compression method kinko does not read "
				     "(only stored and deflate)",
				     zr->n);
	memcpy(ze->aes, xp, 7);
	ze->has_aes = 1;
	if (!(ze->flags & FLAG_DD) && lcs < ZIPAES_SALT_LEN + ZIPAES_PV_LEN + ZIPAES_MAC_LEN)
		return zfmt(e, "an AES entry too short to hold its salt and MAC");
	rc = pkg_br_read(b, salt, sizeof salt, e);
	rc = rc ? rc : pkg_br_read(b, pv, sizeof pv, e);
	if (rc)
		return rc;
	rc = zipaes_new(zr->key->password, zr->key->password_len, salt, &z, pvx);
	if (rc)
		return kinko_err_set(e, rc, "deriving the zip keys failed");
	if (memcmp(pv, pvx, sizeof pv)) {
		rc = kinko_err_set(e, KINKO_ECRYPTO,
				   "wrong password: the zip cannot be opened with it");
		goto out;
	}
	rc = zr->sink->begin(zr->sink->ctx, ze->name, ze->is_dir, unix_from_dos(ze->tm, ze->dt), &w,
			     e);
	if (rc)
		goto out;
	if (ze->is_dir) {
		w.write = refuse_write;
		w.ctx = NULL;
	}
	hash = b->hash; /* ciphertext is not hashed: see zw_emit */
	b->hash = NULL;
	rc = zr_data(zr, ze, z, !(ze->flags & FLAG_DD),
		     lcs - (ZIPAES_SALT_LEN + ZIPAES_PV_LEN + ZIPAES_MAC_LEN), &w, &used, &plain,
		     &crc, e);
	b->hash = hash;
	if (rc)
		goto out;
	rc = pkg_br_read(b, mac, sizeof mac, e);
	if (rc)
		goto out;
	zipaes_mac_final(z, mac2);
	if (!kinko_ct_equal(mac, mac2, sizeof mac)) {
		rc = kinko_err_set(e, KINKO_ECRYPTO,
				   "entry %zu does not verify (its AES authentication code "
				   "differs): the package was changed or damaged",
				   zr->n);
		goto out;
	}
	ze->csize = used + ZIPAES_SALT_LEN + ZIPAES_PV_LEN + ZIPAES_MAC_LEN;
	ze->usize = plain;
	if (ze->flags & FLAG_DD) {
		uint8_t d[24];
		size_t dl = z64 ? 20 : 12, o = 0;
		uint64_t dcs, dus;
		rc = pkg_br_read(b, d, 4, e);
		if (rc)
			goto out;
		if (get32(d) == SIG_DD) {
			rc = pkg_br_read(b, d, dl, e);
		} else {
			rc = pkg_br_read(b, d + 4, dl - 4, e);
		}
		if (rc)
			goto out;
		ze->crc = get32(d + o);
		dcs = z64 ? get64(d + 4) : get32(d + 4);
		dus = z64 ? get64(d + 12) : get32(d + 8);
		if (dcs != ze->csize || dus != ze->usize || lcrc != 0) {
			rc = zfmt(e, "the data descriptor disagrees with the data");
			goto out;
		}
	} else {
		ze->crc = lcrc;
		if (lcs != ze->csize || lus != ze->usize) {
			rc = zfmt(e, "the sizes in a local header disagree with the data");
			goto out;
		}
	}
	/* AE-1 carries the plaintext CRC; AE-2 carries zero. */
	if ((get16(ze->aes) == 1 && ze->crc != crc) || (get16(ze->aes) == 2 && ze->crc != 0)) {
		rc = kinko_err_set(e, KINKO_ECRYPTO,
				   "entry %zu has a wrong CRC: the package was changed or damaged",
				   zr->n);
		goto out;
	}
	rc = zr->sink->end(zr->sink->ctx, e);
out:
	zipaes_free(z);
	return rc;
}

static int zr_central(struct zreader *zr, size_t i, struct kinko_err *e)
{
	struct pkg_br *b = zr->b;
	uint8_t h[42], ex[0xffff], name[0xffff];
	struct zentry *ze;
	uint32_t made, nl, xl, cl, attr, host, mode;
	uint64_t cs, us, off;
	const uint8_t *xp = NULL;
	size_t xpl = 0;
	int rc;

	if (i >= zr->n)
		return zfmt(e, "the central directory lists more entries than the archive has");
	ze = &zr->ents[i];
	rc = pkg_br_read(b, h, sizeof h, e);
	if (rc)
		return rc;
	made = get16(h);
	nl = get16(h + 24);
	xl = get16(h + 26);
	cl = get16(h + 28);
	rc = pkg_br_read(b, name, nl, e);
	rc = rc ? rc : pkg_br_read(b, ex, xl, e);
	if (rc)
		return rc;
	while (cl > 0) { /* per-entry comments are read and ignored */
		uint8_t skip[256];
		uint32_t t = cl < sizeof skip ? cl : sizeof skip;
		rc = pkg_br_read(b, skip, t, e);
		if (rc)
			return rc;
		cl -= t;
	}
	cs = get32(h + 16);
	us = get32(h + 20);
	off = get32(h + 38);
	if (find_extra(ex, xl, 0xffff0000u, &xp, &xpl) < 0)
		return zfmt(e, "bad extra field in the central directory");
	if (find_extra(ex, xl, EXTRA_ZIP64, &xp, &xpl) == 1) {
		size_t o = 0;
		if (us == 0xffffffffu) {
			if (xpl < o + 8)
				return zfmt(e, "bad ZIP64 field");
			us = get64(xp + o);
			o += 8;
		}
		if (cs == 0xffffffffu) {
			if (xpl < o + 8)
				return zfmt(e, "bad ZIP64 field");
			cs = get64(xp + o);
			o += 8;
		}
		if (off == 0xffffffffu) {
			if (xpl < o + 8)
				return zfmt(e, "bad ZIP64 field");
			off = get64(xp + o);
		}
	}
	if (nl != ze->nl || memcmp(name, ze->name, nl) || get16(h + 2) != ze->version ||
	    get16(h + 4) != ze->flags || get16(h + 6) != ze->method || get16(h + 8) != ze->tm ||
	    get16(h + 10) != ze->dt || get32(h + 12) != ze->crc || cs != ze->csize ||
	    us != ze->usize || off != ze->offset || get16(h + 30) != 0)
		return zfmt(e, "the central directory disagrees with an entry's local header");
	if (ze->has_aes &&
	    (find_extra(ex, xl, EXTRA_AES, &xp, &xpl) != 1 || xpl != 7 || memcmp(xp, ze->aes, 7)))
		return zfmt(e, "the central directory disagrees with an entry's AES field");
	attr = get32(h + 34);
	host = made >> 8;
	mode = attr >> 16;
	if (host == 3 && mode != 0) {
		uint32_t type = mode & S_IFMT;
		if (type == S_IFLNK)
			return kinko_err_set(e, KINKO_EPERM,
					     "the zip holds a symbolic link (entry %zu); links are "
					     "refused because they can point outside the output folder",
					     i + 1);
		if (type != (ze->is_dir ? S_IFDIR : S_IFREG))
			return kinko_err_set(e, KINKO_EPERM,
					     "the zip holds a device, pipe or other special entry "
					     "(entry %zu); only files and folders are accepted",
					     i + 1);
	}
	if (((attr & 0x10) != 0) != ze->is_dir && (host == 0 || host == 10 || host == 11 ||
						   (host == 3 && (attr & 0xffff) != 0)))
		return zfmt(e, "an entry's folder attribute disagrees with its name");
	return 0;
}

static int zr_check_integrity(const uint8_t *c, size_t cl, const uint8_t digest[32],
			      const struct package_key *key, struct kinko_err *e)
{
	uint8_t salt[16], mac[32], want[32], k[32];
	char tmp[65];
	int ok;

	int prefixed = cl >= sizeof INTEGRITY_PREFIX - 1 &&
		       !memcmp(c, INTEGRITY_PREFIX, sizeof INTEGRITY_PREFIX - 1);
	int shaped = cl == INTEGRITY_LEN && c[sizeof INTEGRITY_PREFIX - 1 + 32] == ' ';

	if (shaped) {
		memcpy(tmp, c + sizeof INTEGRITY_PREFIX - 1, 32);
		tmp[32] = '\0';
		shaped = !parse_hex(tmp, salt, 16);
		memcpy(tmp, c + sizeof INTEGRITY_PREFIX - 1 + 33, 64);
		tmp[64] = '\0';
		shaped = shaped && !parse_hex(tmp, want, 32);
	}
	/* A comment with the tag's shape but not its prefix is a damaged tag, so a
	 * changed byte there cannot turn a kinko zip into an unchecked foreign one. */
	if (!prefixed && !shaped)
		return 0; /* a zip from another tool: nothing more to check */
	if (!prefixed || !shaped)
		return zfmt(e, "kinko's integrity tag is damaged");
	if (zipaes_pbkdf2_sha256(key->password, key->password_len, salt, sizeof salt,
				 INTEGRITY_ITER, k, sizeof k) ||
	    kinko_hmac_sha256(k, sizeof k, digest, 32, mac)) {
		kinko_wipe(k, sizeof k);
		return kinko_err_set(e, KINKO_ECRYPTO, "computing the integrity tag failed");
	}
	kinko_wipe(k, sizeof k);
	ok = kinko_ct_equal(mac, want, 32);
	return ok ? 0
		  : kinko_err_set(e, KINKO_ECRYPTO,
				  "kinko's integrity tag does not verify: the zip's names, times "
				  "or directory were changed after sealing; the package is refused");
}

int pkg_zip_open(struct pkg_br *b, const struct package_key *key,
		 const struct package_limits *lim, const struct package_sink *sink,
		 struct kinko_err *e)
{
	struct zreader zr;
	struct kinko_sha256 sha;
	uint8_t sig[4], digest[32];
	uint64_t cd_start = 0, cd_count = 0, z64_count = 0, z64_size = 0, z64_off = 0;
	int rc = 0, in_cd = 0, have64 = 0, sha_live = 0;

	if (!key->password)
		return kinko_err_set(e, KINKO_EINVAL, "opening a zip package needs a password");
	memset(&zr, 0, sizeof zr);
	zr.b = b;
	zr.key = key;
	zr.lim = lim;
	zr.sink = sink;
	zr.plain = aligned_alloc(4096, IO_CHUNK);
	zr.ct = aligned_alloc(4096, ZR_BATCH);
	if (!zr.plain || !zr.ct || pkg_br_reserve(b, ZR_BATCH + 8192) || kinko_sha256_init(&sha)) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory");
		goto out;
	}
	sha_live = 1;
	b->hash = &sha;
	for (;;) {
		uint32_t s;
		size_t avail = 0;
		rc = pkg_br_fill(b, 4, &avail, e);
		if (rc)
			goto out;
		if (avail == 0) {
			rc = kinko_err_set(e, KINKO_EFORMAT,
					   "the zip is truncated (no end of central directory); ask "
					   "the sender for a complete copy");
			goto out;
		}
		rc = pkg_br_read(b, sig, 4, e);
		if (rc)
			goto out;
		s = get32(sig);
		if (s == SIG_LOCAL && !in_cd) {
			rc = zr_local(&zr, e);
		} else if (s == SIG_CENTRAL && !have64) {
			if (!in_cd) {
				in_cd = 1;
				cd_start = b->consumed - 4;
			}
			rc = zr_central(&zr, cd_count++, e);
		} else if (s == SIG_EOCD64 && !have64) {
			uint8_t r[52];
			rc = pkg_br_read(b, r, sizeof r, e);
			if (rc)
				goto out;
			if (get64(r) != 44)
				rc = zfmt(e, "a ZIP64 end record of an unexpected size");
			have64 = 1;
			z64_count = get64(r + 28);
			z64_size = get64(r + 36);
			z64_off = get64(r + 44);
			if (!in_cd)
				cd_start = b->consumed - 56;
			if (!rc && (get64(r + 20) != z64_count || z64_count != cd_count ||
				    z64_off != cd_start ||
				    z64_size != b->consumed - 56 - cd_start || get32(r + 12) ||
				    get32(r + 16)))
				rc = zfmt(e, "the ZIP64 end record disagrees with the directory");
			in_cd = 1;
		} else if (s == SIG_LOC64 && have64 == 1) {
			uint8_t r[16];
			uint64_t rec_off = b->consumed - 4 - 56;
			rc = pkg_br_read(b, r, sizeof r, e);
			if (!rc && (get32(r) != 0 || get64(r + 4) != rec_off || get32(r + 12) != 1))
				rc = zfmt(e, "the ZIP64 locator disagrees with the archive");
			have64 = 2;
		} else if (s == SIG_EOCD && have64 != 1) {
			uint8_t r[18], c[0xffff];
			uint32_t cl;
			uint64_t cnt, size, off;
			size_t avail2 = 0;
			if (!in_cd)
				cd_start = b->consumed - 4;
			rc = pkg_br_read(b, r, sizeof r, e);
			if (rc)
				goto out;
			cl = get16(r + 16);
			cnt = get16(r + 6);
			size = get32(r + 8);
			off = get32(r + 12);
			if (have64) {
				if (cnt == 0xffff)
					cnt = z64_count;
				if (size == 0xffffffffu)
					size = z64_size;
				if (off == 0xffffffffu)
					off = z64_off;
			}
			if (get16(r) || get16(r + 2) || get16(r + 4) != get16(r + 6) ||
			    cnt != cd_count || cd_count != zr.n || off != cd_start ||
			    (!have64 && size != b->consumed - 22 - cd_start)) {
				rc = zfmt(e, "the end record disagrees with the central directory");
				goto out;
			}
			b->hash = NULL;
			kinko_sha256_final(&sha, digest);
			sha_live = 0;
			rc = pkg_br_read(b, c, cl, e);
			if (rc)
				goto out;
			rc = pkg_br_fill(b, 1, &avail2, e);
			if (rc)
				goto out;
			if (avail2) {
				rc = zfmt(e, "bytes after the end of the archive");
				goto out;
			}
			rc = zr_check_integrity(c, cl, digest, key, e);
			goto out;
		} else {
			rc = zfmt(e, "an unexpected record");
		}
		if (rc)
			goto out;
	}
out:
	b->hash = NULL;
	if (sha_live)
		kinko_sha256_abort(&sha);
	for (size_t i = 0; i < zr.n; i++)
		free(zr.ents[i].name);
	free(zr.ents);
	if (zr.plain)
		kinko_wipe(zr.plain, IO_CHUNK);
	free(zr.plain);
	if (zr.ct)
		kinko_wipe(zr.ct, ZR_BATCH);
	free(zr.ct);
	pkg_par_free(zr.par);
	return rc;
}
