/*
 * age — the age-encryption.org/v1 format on crypto/age_prims.h.
 *
 * Header: "age-encryption.org/v1", one "-> type args" stanza per recipient with a
 * base64 body wrapped at 64 columns, then "--- " and the HMAC-SHA-256 of the
 * header under HKDF(file key, "header"). Payload: a 16-byte nonce, then STREAM:
 * 64 KiB chunks sealed with ChaCha20-Poly1305 under HKDF(file key, nonce,
 * "payload"), nonce = 11-byte big-endian chunk counter || last-chunk flag.
 */
#include "package/package_internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "crypto/age_prims.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

#define AGE_INTRO "age-encryption.org/v1"
#define FILE_KEY_LEN 16
#define CHUNK (64 * 1024)
#define CHUNK_CT (CHUNK + AGE_AEAD_TAG_LEN)
#define BATCH 16 /* chunks per batch, 1 MiB (see seal_payload) */
#define SCRYPT_LABEL "age-encryption.org/v1/scrypt"
#define X25519_LABEL "age-encryption.org/v1/X25519"

/* --- keys ------------------------------------------------------------------ */

int package_age_parse_recipient(const char *s, uint8_t pub[PACKAGE_X25519_LEN],
				struct kinko_err *e)
{
	char hrp[16];
	uint8_t d[64];
	size_t n = 0;

	if (pkg_bech32_decode(s, hrp, sizeof hrp, d, sizeof d, &n) || strcmp(hrp, "age") ||
	    n != PACKAGE_X25519_LEN || s[0] != 'a')
		return kinko_err_set(e, KINKO_EINVAL,
				     "not an age X25519 recipient (expected \"age1...\" as "
				     "age-keygen prints it)");
	memcpy(pub, d, PACKAGE_X25519_LEN);
	return 0;
}

int package_age_parse_identity(const char *s, uint8_t sec[PACKAGE_X25519_LEN],
			       struct kinko_err *e)
{
	char hrp[32];
	uint8_t d[64];
	size_t n = 0;
	int rc = 0;

	if (pkg_bech32_decode(s, hrp, sizeof hrp, d, sizeof d, &n) ||
	    strcmp(hrp, "age-secret-key-") || n != PACKAGE_X25519_LEN || s[0] != 'A')
		rc = kinko_err_set(e, KINKO_EINVAL,
				   "not an age X25519 identity (expected \"AGE-SECRET-KEY-1...\" "
				   "as age-keygen writes it)");
	else
		memcpy(sec, d, PACKAGE_X25519_LEN);
	kinko_wipe(d, sizeof d);
	return rc;
}

int package_age_format_recipient(const uint8_t pub[PACKAGE_X25519_LEN], char *out, size_t cap)
{
	return pkg_bech32_encode("age", pub, PACKAGE_X25519_LEN, out, cap);
}

int package_age_format_identity(const uint8_t sec[PACKAGE_X25519_LEN], char *out, size_t cap)
{
	int rc = pkg_bech32_encode("age-secret-key-", sec, PACKAGE_X25519_LEN, out, cap);

	if (rc == 0)
		for (char *p = out; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
	return rc;
}

/* --- header ---------------------------------------------------------------- */

static int is_b64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

void age_header_free(struct age_header *h)
{
	if (!h)
		return;
	free(h->text);
	if (h->bodies)
		kinko_wipe(h->bodies, h->len);
	free(h->bodies);
	memset(h, 0, sizeof *h);
}

static int bad(struct kinko_err *e, const char *what)
{
	return kinko_err_set(e, KINKO_EFORMAT,
			     "the age header is malformed (%s); the package is damaged or not "
			     "an age file",
			     what);
}

int age_header_parse(const uint8_t *p, size_t n, struct age_header *out, struct kinko_err *e)
{
	struct age_header h;
	size_t lim = n < AGE_HEADER_MAX ? n : AGE_HEADER_MAX;
	size_t end = 0, line, bo = 0;
	const char *t;
	int rc;

	memset(&h, 0, sizeof h);
	/* Find the MAC line: the first line after the intro that starts with "---". */
	for (line = 0; line < lim;) {
		const uint8_t *nl = memchr(p + line, '\n', lim - line);
		if (!nl)
			break;
		if (line > 0 && lim - line >= 3 && !memcmp(p + line, "---", 3)) {
			end = (size_t)(nl - p) + 1;
			break;
		}
		line = (size_t)(nl - p) + 1;
	}
	if (!end)
		return n >= AGE_HEADER_MAX ? bad(e, "no end of header within 64 KiB")
					   : kinko_err_set(e, KINKO_EFORMAT,
							   "the age header is truncated; ask the "
							   "sender for a complete copy");
	h.len = end;
	h.text = malloc(end + 1);
	h.bodies = malloc(end);
	if (!h.text || !h.bodies) {
		age_header_free(&h);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory reading the age header");
	}
	memcpy(h.text, p, end);
	h.text[end] = '\0';
	t = h.text;
	if (end < sizeof AGE_INTRO || memcmp(t, AGE_INTRO "\n", sizeof AGE_INTRO)) {
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "not an age-encryption.org/v1 file (unknown version line)");
		goto fail;
	}
	line = sizeof AGE_INTRO;
	for (;;) {
		char *l = h.text + line;
		char *nl = memchr(l, '\n', end - line);
		size_t ll = (size_t)(nl - l);
		if (ll >= 3 && !memcmp(l, "---", 3)) {
			uint8_t mac[40];
			size_t ml = 0;
			if (h.nst == 0) {
				rc = bad(e, "no recipient stanza");
				goto fail;
			}
			if (ll != 4 + 43 || l[3] != ' ' ||
			    age_b64_decode(l + 4, 43, mac, sizeof mac, &ml) || ml != 32) {
				rc = bad(e, "bad MAC line");
				goto fail;
			}
			memcpy(h.mac, mac, 32);
			h.mac_covered = line + 3;
			break;
		}
		if (ll < 3 || memcmp(l, "-> ", 3)) {
			rc = bad(e, "a line is neither a stanza nor the MAC line");
			goto fail;
		}
		if (h.nst == AGE_MAX_STANZAS) {
			rc = bad(e, "too many stanzas");
			goto fail;
		}
		struct age_stanza *st = &h.st[h.nst++];
		/* Arguments: non-empty runs of visible ASCII separated by single spaces. */
		char *a = l + 3;
		*nl = '\0';
		for (;;) {
			char *sp = strchr(a, ' ');
			size_t al = sp ? (size_t)(sp - a) : strlen(a);
			if (al == 0) {
				rc = bad(e, "empty stanza argument");
				goto fail;
			}
			for (size_t i = 0; i < al; i++)
				if ((unsigned char)a[i] < 0x21 || (unsigned char)a[i] > 0x7e) {
					rc = bad(e, "stanza argument with a non-printable byte");
					goto fail;
				}
			if (st->nargs == AGE_MAX_ARGS) {
				rc = bad(e, "too many stanza arguments");
				goto fail;
			}
			st->args[st->nargs++] = a;
			if (!sp)
				break;
			*sp = '\0';
			a = sp + 1;
		}
		line += ll + 1;
		/* Body: full 64-column lines, then one shorter (maybe empty) line. */
		size_t bstart = line, blen = 0;
		for (;;) {
			if (line >= end) {
				rc = bad(e, "stanza body runs into the end of the header");
				goto fail;
			}
			char *bl = h.text + line;
			char *bnl = memchr(bl, '\n', end - line);
			size_t bll = (size_t)(bnl - bl);
			if (bll > 64) {
				rc = bad(e, "stanza body line longer than 64 columns");
				goto fail;
			}
			for (size_t i = 0; i < bll; i++)
				if (!is_b64((unsigned char)bl[i])) {
					rc = bad(e, "stanza body is not base64");
					goto fail;
				}
			/* Gather the body text contiguously (lines shift left over newlines). */
			memmove(h.text + bstart + blen, bl, bll);
			blen += bll;
			line += bll + 1;
			if (bll < 64)
				break;
		}
		size_t dl = 0;
		if (age_b64_decode(h.text + bstart, blen, h.bodies + bo, end - bo, &dl)) {
			rc = bad(e, "stanza body is not canonical base64");
			goto fail;
		}
		st->body = h.bodies + bo;
		st->body_len = dl;
		bo += dl;
		if (line >= end) {
			rc = bad(e, "missing MAC line");
			goto fail;
		}
	}
	*out = h;
	return 0;
fail:
	age_header_free(&h);
	return rc;
}

/* --- file key wrapping ----------------------------------------------------- */

static const uint8_t zero_nonce[AGE_AEAD_NONCE_LEN];

static int scrypt_key(const char *pw, size_t pw_len, const uint8_t salt[16], int log_n,
		      uint8_t key[32])
{
	uint8_t s[sizeof SCRYPT_LABEL - 1 + 16];

	memcpy(s, SCRYPT_LABEL, sizeof SCRYPT_LABEL - 1);
	memcpy(s + sizeof SCRYPT_LABEL - 1, salt, 16);
	return age_scrypt(pw, pw_len, s, sizeof s, log_n, key, 32);
}

static int x25519_wrap_key(const uint8_t shared[32], const uint8_t eph[32],
			   const uint8_t recip[32], uint8_t key[32])
{
	uint8_t salt[64];

	memcpy(salt, eph, 32);
	memcpy(salt + 32, recip, 32);
	return age_hkdf_sha256(shared, 32, salt, sizeof salt, X25519_LABEL, key, 32);
}

static int parse_log_n(const char *s, int *out)
{
	int v = 0;

	if (!s[0] || (s[0] == '0') || strlen(s) > 2)
		return KINKO_EFORMAT;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return KINKO_EFORMAT;
		v = v * 10 + (*c - '0');
	}
	*out = v;
	return 0;
}

/* Finds the file key in the header for key; fk is secure memory. */
static int unwrap_file_key(const struct age_header *h, const struct package_key *key,
			   int max_log_n, uint8_t fk[FILE_KEY_LEN], struct kinko_err *e)
{
	uint8_t *w = kinko_secure_alloc(64); /* wrap key + shared secret */
	int rc = KINKO_ECRYPTO, saw_scrypt = 0, saw_x = 0;
	char unknown[64] = "";

	if (!w)
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	for (size_t i = 0; i < h->nst; i++) {
		const char *ty = h->st[i].args[0];
		if (!strcmp(ty, "scrypt"))
			saw_scrypt = 1;
		else if (!strcmp(ty, "X25519"))
			saw_x = 1;
		else if (!unknown[0])
			(void)snprintf(unknown, sizeof unknown, "%.40s", ty);
	}
	if (saw_scrypt && h->nst != 1) {
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "the age header has a passphrase (scrypt) stanza next to other "
				   "stanzas, which the format forbids; the package is refused");
		goto out;
	}
	if (key->password) {
		const struct age_stanza *st = &h->st[0];
		uint8_t salt[20];
		size_t sl = 0;
		int log_n = 0;
		if (!saw_scrypt) {
			rc = kinko_err_set(e, KINKO_EAUTH,
					   "this age package is not sealed with a passphrase "
					   "(its stanzas are %s%s%s); open it with an identity file",
					   saw_x ? "X25519" : "", saw_x && unknown[0] ? ", " : "",
					   unknown[0] ? unknown : "");
			goto out;
		}
		if (st->nargs != 3 || age_b64_decode(st->args[1], strlen(st->args[1]), salt,
						     sizeof salt, &sl) ||
		    sl != 16 || parse_log_n(st->args[2], &log_n) || st->body_len != 32) {
			rc = bad(e, "malformed scrypt stanza");
			goto out;
		}
		if (log_n > max_log_n) {
			rc = kinko_err_set(e, KINKO_ELIMIT,
					   "the age package asks for a scrypt work factor of 2^%d, "
					   "more than the 2^%d kinko allows; the package is refused",
					   log_n, max_log_n);
			goto out;
		}
		if (key->derive_begin && (rc = key->derive_begin(key->derived_ctx, e)) != 0)
			goto out;
		if (scrypt_key(key->password, key->password_len, salt, log_n, w)) {
			if (key->derived)
				key->derived(key->derived_ctx);
			rc = kinko_err_set(e, KINKO_ENOMEM, "scrypt failed (out of memory?)");
			goto out;
		}
		if (key->derived)
			key->derived(key->derived_ctx); /* scrypt's memory is freed */
		if (age_aead_open(w, zero_nonce, st->body, st->body_len, fk)) {
			rc = kinko_err_set(e, KINKO_ECRYPTO,
					   "wrong password: the package cannot be opened with it");
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (saw_scrypt) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "this age package is sealed with a passphrase; open it with "
				   "--password-file");
		goto out;
	}
	for (size_t i = 0; i < h->nst && rc; i++) {
		const struct age_stanza *st = &h->st[i];
		uint8_t eph[36];
		size_t el = 0;
		if (strcmp(st->args[0], "X25519"))
			continue; /* other recipients' stanzas: the spec says skip them */
		if (st->nargs != 2 ||
		    age_b64_decode(st->args[1], strlen(st->args[1]), eph, sizeof eph, &el) ||
		    el != 32 || st->body_len != 32) {
			rc = bad(e, "malformed X25519 stanza");
			goto out;
		}
		for (size_t k = 0; k < key->nidentities; k++) {
			uint8_t pub[32];
			if (age_x25519_public(key->identities[k], pub) ||
			    age_x25519_shared(key->identities[k], eph, w + 32) ||
			    x25519_wrap_key(w + 32, eph, pub, w))
				continue;
			if (age_aead_open(w, zero_nonce, st->body, st->body_len, fk) == 0) {
				rc = 0;
				break;
			}
		}
	}
	if (rc)
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "none of the given identities opens this age package (its "
				   "stanzas are %s%s%s)",
				   saw_x ? "X25519" : "", saw_x && unknown[0] ? ", " : "",
				   unknown[0] ? unknown : "");
out:
	kinko_secure_free(w);
	return rc;
}

/* --- payload --------------------------------------------------------------- */

static void chunk_nonce(uint8_t nonce[12], uint64_t counter, int last)
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[10 - i] = (uint8_t)(counter >> (8 * i));
	nonce[11] = last ? 1 : 0;
}

struct age_keys {
	uint8_t file_key[FILE_KEY_LEN];
	uint8_t mac_key[32];
	uint8_t payload_key[32];
	uint8_t wrap[64];
};

/*
 * The payload is sealed and opened in batches of BATCH chunks, split between the
 * calling thread and one helper thread (par.c): both take chunks from a shared
 * counter, so the caller, which also does the I/O, simply takes fewer. While the
 * helper works on batch k the caller writes batch k - 1 and, when sealing, reads
 * batch k + 1; all I/O stays in the calling thread, in page-aligned buffers (a
 * copy out of the page cache into a buffer at another offset within a page
 * measured three times slower). Only the read of the next batch tells whether
 * the last chunk of a batch is the final chunk, so the caller seals that chunk
 * itself after the read. A single-batch payload never starts the helper.
 */
struct age_batch {
	struct age_aead *aead[2]; /* [0] the caller's, [1] the helper's */
	const uint8_t *in;
	size_t len;     /* bytes at in */
	uint8_t *out;
	uint64_t counter; /* STREAM counter of chunk 0 */
	size_t n;         /* chunks in the batch */
	size_t pool;      /* chunks [0, pool) are shared out; the caller does the rest */
	int final;        /* chunk n - 1 is the last chunk of the stream */
	int open;
	atomic_size_t next;
	atomic_size_t fail; /* lowest chunk index that failed, or SIZE_MAX */
};

static int batch_chunk(struct age_batch *bt, struct age_aead *a, size_t i, int last)
{
	size_t isz = bt->open ? CHUNK_CT : CHUNK, osz = bt->open ? CHUNK : CHUNK_CT;
	size_t off = i * isz, n = bt->len - off < isz ? bt->len - off : isz;
	uint8_t cn[12];

	chunk_nonce(cn, bt->counter + i, last);
	return bt->open ? age_aead_open_chunk(a, cn, bt->in + off, n, bt->out + i * osz)
			: age_aead_seal_chunk(a, cn, bt->in + off, n, bt->out + i * osz);
}

static void batch_failed(struct age_batch *bt, size_t i)
{
	size_t cur = atomic_load(&bt->fail);

	while (i < cur && !atomic_compare_exchange_weak(&bt->fail, &cur, i))
		;
}

static void batch_run(struct age_batch *bt, int who)
{
	for (;;) {
		size_t i = atomic_fetch_add(&bt->next, 1);
		if (i >= bt->pool)
			break;
		if (batch_chunk(bt, bt->aead[who], i, i == bt->n - 1 && bt->final))
			batch_failed(bt, i);
	}
}

static void batch_job(void *arg)
{
	batch_run(arg, 1);
}

static void batch_setup(struct age_batch *bt, const uint8_t *in, size_t len, uint8_t *out,
			uint64_t counter, size_t n, size_t pool, int final)
{
	bt->in = in;
	bt->len = len;
	bt->out = out;
	bt->counter = counter;
	bt->n = n;
	bt->pool = pool;
	bt->final = final;
	atomic_store(&bt->next, 0);
	atomic_store(&bt->fail, SIZE_MAX);
}

/* Starts the helper for a payload longer than one batch; without one (it could
 * not start) the caller does every chunk. */
static void batch_par_start(struct age_batch *bt, const uint8_t key[32], struct pkg_par **par)
{
	if (*par || bt->aead[1])
		return;
	if (age_aead_new(key, &bt->aead[1]))
		return;
	if (pkg_par_new(par)) {
		age_aead_free(bt->aead[1]);
		bt->aead[1] = NULL;
	}
}

static int seal_payload(const uint8_t key[32], const struct kinko_reader *in,
			const struct kinko_writer *out, struct kinko_err *e)
{
	const size_t isz = BATCH * CHUNK, osz = (BATCH * CHUNK_CT + 4095) / 4096 * 4096;
	uint8_t *ibuf[2] = {aligned_alloc(4096, isz), aligned_alloc(4096, isz)};
	uint8_t *obuf[2] = {aligned_alloc(4096, osz), aligned_alloc(4096, osz)};
	struct age_batch bt = {0};
	struct pkg_par *par = NULL;
	size_t ilen[2] = {0, 0}, pending = 0;
	uint64_t counter = 0;
	int a = 0, rc;

	if (!ibuf[0] || !ibuf[1] || !obuf[0] || !obuf[1]) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory sealing an age package");
		goto out;
	}
	if (age_aead_new(key, &bt.aead[0])) {
		rc = kinko_err_set(e, KINKO_ECRYPTO, "ChaCha20-Poly1305 could not start");
		goto out;
	}
	bt.open = 0;
	rc = kinko_read_full(in, ibuf[0], isz, &ilen[0], e);
	while (!rc) {
		int b = 1 - a, full = ilen[a] == isz;
		size_t len = ilen[a], n = len ? (len + CHUNK - 1) / CHUNK : 1, olen;
		if (full)
			batch_par_start(&bt, key, &par);
		batch_setup(&bt, ibuf[a], len, obuf[a], counter, n, full ? n - 1 : n, !full);
		if (par)
			pkg_par_start(par, batch_job, &bt);
		if (pending)
			rc = out->write(out->ctx, obuf[b], pending, e);
		pending = 0;
		if (!rc && full)
			rc = kinko_read_full(in, ibuf[b], isz, &ilen[b], e);
		batch_run(&bt, 0);
		if (!rc && full) {
			if (batch_chunk(&bt, bt.aead[0], n - 1, ilen[b] == 0))
				batch_failed(&bt, n - 1);
		}
		if (par)
			pkg_par_wait(par);
		if (rc)
			break;
		if (atomic_load(&bt.fail) != SIZE_MAX) {
			rc = kinko_err_set(e, KINKO_ECRYPTO, "ChaCha20-Poly1305 failed");
			break;
		}
		olen = (n - 1) * CHUNK_CT + (len - (n - 1) * CHUNK) + AGE_AEAD_TAG_LEN;
		counter += n;
		if (!full || ilen[b] == 0) {
			rc = out->write(out->ctx, obuf[a], olen, e);
			break;
		}
		pending = olen;
		a = b;
	}
out:
	pkg_par_free(par);
	age_aead_free(bt.aead[0]);
	age_aead_free(bt.aead[1]);
	for (int i = 0; i < 2; i++) {
		if (ibuf[i])
			kinko_wipe(ibuf[i], isz);
		free(ibuf[i]);
		free(obuf[i]);
	}
	return rc;
}

int package_age_seal(const struct package_age_seal_opts *o, const struct kinko_reader *in,
		     const struct kinko_writer *out, struct kinko_err *e)
{
	struct age_keys *k = kinko_secure_alloc(sizeof *k);

	struct kbuf hdr;
	uint8_t nonce[16], body[FILE_KEY_LEN + AGE_AEAD_TAG_LEN], mac[32];
	char b64[128];
	int rc = 0;

	kbuf_init(&hdr, AGE_HEADER_MAX);
	if (!k) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory sealing an age package");
		goto out;
	}
	if ((o->password != NULL) == (o->nrecipients > 0)) {
		rc = kinko_err_set(e, KINKO_EINVAL,
				   "an age package needs either a password or recipients, not both");
		goto out;
	}
	kinko_random(k->file_key, FILE_KEY_LEN);
	rc = kbuf_append_str(&hdr, AGE_INTRO "\n");
	if (o->password) {
		uint8_t salt[16];
		int log_n = o->scrypt_log_n ? o->scrypt_log_n : PACKAGE_AGE_DEFAULT_LOG_N;
		if (log_n < 1 || log_n > PACKAGE_AGE_MAX_LOG_N) {
			rc = kinko_err_set(e, KINKO_EINVAL, "the scrypt work factor must be 1..%d",
					   PACKAGE_AGE_MAX_LOG_N);
			goto out;
		}
		kinko_random(salt, sizeof salt);
		if (scrypt_key(o->password, o->password_len, salt, log_n, k->wrap) ||
		    age_aead_seal(k->wrap, zero_nonce, k->file_key, FILE_KEY_LEN, body)) {
			rc = kinko_err_set(e, KINKO_ENOMEM, "scrypt failed (out of memory?)");
			goto out;
		}
		age_b64_encode(salt, sizeof salt, b64);
		rc = rc ? rc : kbuf_appendf(&hdr, "-> scrypt %s %d\n", b64, log_n);
		age_b64_encode(body, sizeof body, b64);
		rc = rc ? rc : kbuf_appendf(&hdr, "%s\n", b64);
	}
	for (size_t i = 0; i < o->nrecipients && !rc; i++) {
		uint8_t eph_pub[32];
		age_x25519_keypair(eph_pub, k->wrap + 32);
		if (age_x25519_shared(k->wrap + 32, o->recipients[i], k->wrap + 32) ||
		    x25519_wrap_key(k->wrap + 32, eph_pub, o->recipients[i], k->wrap) ||
		    age_aead_seal(k->wrap, zero_nonce, k->file_key, FILE_KEY_LEN, body)) {
			rc = kinko_err_set(e, KINKO_EINVAL,
					   "recipient %zu is not a usable X25519 public key", i + 1);
			goto out;
		}
		age_b64_encode(eph_pub, sizeof eph_pub, b64);
		rc = kbuf_appendf(&hdr, "-> X25519 %s\n", b64);
		age_b64_encode(body, sizeof body, b64);
		rc = rc ? rc : kbuf_appendf(&hdr, "%s\n", b64);
	}
	rc = rc ? rc : kbuf_append_str(&hdr, "---");
	if (rc) {
		rc = kinko_err_set(e, rc, "the age header does not fit");
		goto out;
	}
	if (age_hkdf_sha256(k->file_key, FILE_KEY_LEN, NULL, 0, "header", k->mac_key, 32) ||
	    kinko_hmac_sha256(k->mac_key, 32, hdr.data, hdr.len, mac)) {
		rc = kinko_err_set(e, KINKO_ECRYPTO, "HKDF/HMAC failed");
		goto out;
	}
	age_b64_encode(mac, sizeof mac, b64);
	if (kbuf_appendf(&hdr, " %s\n", b64)) {
		rc = kinko_err_set(e, KINKO_ELIMIT, "the age header does not fit");
		goto out;
	}
	kinko_random(nonce, sizeof nonce);
	if (age_hkdf_sha256(k->file_key, FILE_KEY_LEN, nonce, sizeof nonce, "payload",
			    k->payload_key, 32)) {
		rc = kinko_err_set(e, KINKO_ECRYPTO, "HKDF failed");
		goto out;
	}
	rc = out->write(out->ctx, hdr.data, hdr.len, e);
	rc = rc ? rc : out->write(out->ctx, nonce, sizeof nonce, e);
	if (rc)
		goto out;
	rc = seal_payload(k->payload_key, in, out, e);
out:
	kbuf_free(&hdr);
	kinko_secure_free(k);
	return rc;
}

int pkg_age_open(struct pkg_br *b, const struct package_key *key,
		 const struct package_limits *lim, const char *name,
		 const struct package_sink *sink, struct kinko_err *e)
{
	struct age_header h;
	struct age_keys *k = NULL;
	struct kinko_writer w = {0};
	const size_t isz = BATCH * CHUNK_CT, osz = BATCH * CHUNK;
	struct age_batch bt = {0};
	struct pkg_par *par = NULL;
	uint8_t *obuf[2] = {NULL, NULL}, mac[32], nonce[16];
	size_t avail = 0, pending = 0;
	uint64_t counter = 0, total = 0;
	int rc, a = 0;

	if (!key->password && key->nidentities == 0)
		return kinko_err_set(e, KINKO_EINVAL,
				     "opening an age package needs a password or an identity");
	if (lim->max_entries < 1)
		return kinko_err_set(e, KINKO_ELIMIT, "the entry limit allows no entry at all");
	if (!name || package_name_check(name, strlen(name), e) || strchr(name, '/'))
		return kinko_err_set(e, KINKO_EINVAL,
				     "the name for the file inside the age package is not a "
				     "plain file name; give one with --name");
	rc = pkg_br_fill(b, AGE_HEADER_MAX, &avail, e);
	if (rc)
		return rc;
	rc = age_header_parse(b->buf + b->pos, avail, &h, e);
	if (rc)
		return rc;
	k = kinko_secure_alloc(sizeof *k);
	obuf[0] = aligned_alloc(4096, osz);
	obuf[1] = aligned_alloc(4096, osz);
	if (!k || !obuf[0] || !obuf[1] || pkg_br_reserve(b, (isz + 1 + 4095) / 4096 * 4096 + 8192)) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory opening an age package");
		goto out;
	}
	rc = unwrap_file_key(&h, key,
			     lim->max_scrypt_log_n > 0 && lim->max_scrypt_log_n < PACKAGE_AGE_MAX_LOG_N
				     ? lim->max_scrypt_log_n
				     : PACKAGE_AGE_MAX_LOG_N,
			     k->file_key, e);
	if (rc)
		goto out;
	if (age_hkdf_sha256(k->file_key, FILE_KEY_LEN, NULL, 0, "header", k->mac_key, 32) ||
	    kinko_hmac_sha256(k->mac_key, 32, b->buf + b->pos, h.mac_covered, mac)) {
		rc = kinko_err_set(e, KINKO_ECRYPTO, "HKDF/HMAC failed");
		goto out;
	}
	if (!kinko_ct_equal(mac, h.mac, 32)) {
		rc = kinko_err_set(e, KINKO_ECRYPTO,
				   "the age header's MAC does not verify: the package was changed "
				   "or damaged after sealing");
		goto out;
	}
	pkg_br_skip(b, h.len);
	rc = pkg_br_read(b, nonce, sizeof nonce, e);
	if (rc)
		goto out;
	if (age_hkdf_sha256(k->file_key, FILE_KEY_LEN, nonce, sizeof nonce, "payload",
			    k->payload_key, 32) ||
	    age_aead_new(k->payload_key, &bt.aead[0])) {
		rc = kinko_err_set(e, KINKO_ECRYPTO, "HKDF or ChaCha20-Poly1305 failed");
		goto out;
	}
	bt.open = 1;
	rc = sink->begin(sink->ctx, name, 0, -1, &w, e);
	if (rc)
		goto out;
	for (;;) {
		size_t len, n, lastsz, pool, plain = 0, lim_at = SIZE_MAX, f;
		int final, trunc;
		rc = pkg_br_fill(b, isz + 1, &avail, e);
		if (rc)
			goto out;
		final = avail <= isz;
		len = final ? avail : isz;
		n = len ? (len + CHUNK_CT - 1) / CHUNK_CT : 1;
		lastsz = len - (n - 1) * CHUNK_CT;
		/* Only the first chunk may be an empty final chunk. */
		trunc = final && (lastsz < AGE_AEAD_TAG_LEN ||
				  (lastsz == AGE_AEAD_TAG_LEN && counter + n - 1 > 0));
		pool = trunc ? n - 1 : n;
		for (size_t i = 0; i < pool; i++) { /* the chunk that would pass the limit */
			size_t p = (i == n - 1 ? lastsz : CHUNK_CT) - AGE_AEAD_TAG_LEN;
			if (p > lim->max_bytes - total - plain) {
				lim_at = i;
				break;
			}
			plain += p;
		}
		if (!final)
			batch_par_start(&bt, k->payload_key, &par);
		batch_setup(&bt, b->buf + b->pos, len, obuf[a], counter, n, pool, final);
		if (par)
			pkg_par_start(par, batch_job, &bt);
		if (pending)
			rc = w.write(w.ctx, obuf[1 - a], pending, e);
		pending = 0;
		batch_run(&bt, 0);
		if (par)
			pkg_par_wait(par);
		if (rc)
			goto out;
		/* Report what a chunk-by-chunk reader would meet first. */
		f = atomic_load(&bt.fail);
		if (f != SIZE_MAX && f <= lim_at) {
			rc = kinko_err_set(e, KINKO_ECRYPTO,
					   "the age payload does not verify at chunk %llu: the "
					   "package was changed, damaged or truncated",
					   (unsigned long long)(counter + f));
			goto out;
		}
		if (lim_at != SIZE_MAX) {
			rc = kinko_err_set(e, KINKO_ELIMIT,
					   "the package unpacks to more than the limit of %llu "
					   "bytes; raise --max-bytes if this is expected",
					   (unsigned long long)lim->max_bytes);
			goto out;
		}
		if (trunc) {
			rc = kinko_err_set(e, KINKO_EFORMAT,
					   "the age package is truncated (its payload ends too "
					   "early); ask the sender for a complete copy");
			goto out;
		}
		pkg_br_skip(b, len);
		total += plain;
		counter += n;
		if (final) {
			rc = plain ? w.write(w.ctx, obuf[a], plain, e) : 0;
			break;
		}
		pending = plain;
		a = 1 - a;
	}
	if (!rc)
		rc = sink->end(sink->ctx, e);
out:
	pkg_par_free(par);
	age_aead_free(bt.aead[0]);
	age_aead_free(bt.aead[1]);
	age_header_free(&h);
	for (int i = 0; i < 2; i++) {
		if (obuf[i])
			kinko_wipe(obuf[i], osz);
		free(obuf[i]);
	}
	kinko_secure_free(k);
	return rc;
}
