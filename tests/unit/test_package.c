/* Unit tests for the package module: the age header parser and writer (against
 * files the real age tool made, in tests/data/package/), STREAM, the zip writer
 * and reader, entry-name checks, bech32 keys, the password generator, 和暦. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nettle/aes.h>
#include <nettle/pbkdf2.h>

#include "core/buf.h"
#include "core/wareki.h"
#include "crypto/age_prims.h"
#include "crypto/crypto.h"
#include "crypto/password.h"
#include "crypto/zipaes.h"
#include "package/package.h"

#define DATA KINKO_TEST_DATA "/package/"

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	uint8_t *p = malloc(1 << 16);

	snprintf(path, sizeof path, "%s%s", DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_non_null(p);
	*len = fread(p, 1, 1 << 16, f);
	fclose(f);
	return p;
}

/* A sink that keeps every entry in memory. */
struct mem_sink {
	struct kbuf data;
	char names[8][128];
	int n, committed, aborted, open;
};

static int ms_write(void *ctx, const uint8_t *buf, size_t n, struct kinko_err *e)
{
	struct mem_sink *m = ctx;
	(void)e;
	return kbuf_append(&m->data, buf, n);
}
static int ms_begin(void *ctx, const char *name, int is_dir, int64_t mtime, struct kinko_writer *w,
		    struct kinko_err *e)
{
	struct mem_sink *m = ctx;
	(void)is_dir;
	(void)mtime;
	(void)e;
	assert_true(m->n < 8);
	snprintf(m->names[m->n++], 128, "%s", name);
	m->open = 1;
	w->write = ms_write;
	w->ctx = m;
	return 0;
}
static int ms_end(void *ctx, struct kinko_err *e)
{
	struct mem_sink *m = ctx;
	(void)e;
	m->open = 0;
	return 0;
}
static int ms_commit(void *ctx, struct kinko_err *e)
{
	(void)e;
	((struct mem_sink *)ctx)->committed = 1;
	return 0;
}
static void ms_abort(void *ctx)
{
	((struct mem_sink *)ctx)->aborted = 1;
}

static struct package_sink mem_sink(struct mem_sink *m)
{
	memset(m, 0, sizeof *m);
	kbuf_init(&m->data, (size_t)64 << 20);
	return (struct package_sink){ms_begin, ms_end, ms_commit, ms_abort, m};
}

static const struct package_limits big = {100, (uint64_t)1 << 40, 0};

static int open_mem(const uint8_t *p, size_t n, const struct package_key *k,
		    const struct package_limits *lim, struct mem_sink *m, struct kinko_err *e)
{
	struct kinko_mem_reader mr = {p, n, 0};
	struct kinko_reader r = {kinko_mem_read, &mr};
	struct package_sink s = mem_sink(m);

	return package_open(&r, k, lim, "payload", &s, NULL, e);
}

/* --- age: vectors from the real tool ---------------------------------------- */

static void age_opens_x25519_vector(void **state)
{
	size_t kl, al, pl;
	uint8_t *key = slurp("x25519.key", &kl), *age = slurp("x25519.age", &al);
	uint8_t *plain = slurp("plaintext.txt", &pl), *pubtxt, sec[32], pub[32], derived[32];
	char *line, pubs[80];
	struct kinko_err e = {0};
	struct mem_sink m;
	size_t publ;
	(void)state;

	key[kl] = '\0';
	line = strstr((char *)key, "AGE-SECRET-KEY-1");
	assert_non_null(line);
	line[strcspn(line, "\n")] = '\0';
	assert_int_equal(package_age_parse_identity(line, sec, &e), 0);
	/* bech32 both ways: our recipient for the identity is what age-keygen -y printed. */
	pubtxt = slurp("x25519.pub", &publ);
	pubtxt[strcspn((char *)pubtxt, "\n")] = '\0';
	assert_int_equal(package_age_parse_recipient((char *)pubtxt, pub, &e), 0);
	assert_int_equal(age_x25519_public(sec, derived), 0);
	assert_memory_equal(pub, derived, 32);
	assert_int_equal(package_age_format_recipient(pub, pubs, sizeof pubs), 0);
	assert_string_equal(pubs, (char *)pubtxt);
	char ids[80];
	assert_int_equal(package_age_format_identity(sec, ids, sizeof ids), 0);
	assert_string_equal(ids, line);

	const uint8_t(*idl)[32] = (const uint8_t(*)[32])sec;
	struct package_key k = {.identities = idl, .nidentities = 1};
	assert_int_equal(open_mem(age, al, &k, &big, &m, &e), 0);
	assert_true(m.committed);
	assert_int_equal(m.data.len, pl);
	assert_memory_equal(m.data.data, plain, pl);
	kbuf_free(&m.data);

	/* Another identity does not open it. */
	uint8_t other[32];
	memset(other, 7, sizeof other);
	k.identities = (const uint8_t(*)[32])other;
	assert_int_equal(open_mem(age, al, &k, &big, &m, &e), KINKO_EAUTH);
	assert_true(m.aborted);
	assert_non_null(strstr(e.msg, "none of the given identities"));
	kbuf_free(&m.data);
	free(key);
	free(age);
	free(plain);
	free(pubtxt);
}

/* Counts the calls of package_key.derived, and the sink's bytes at the first. */
struct derived_count {
	unsigned calls;
	size_t bytes_then;
	struct mem_sink *m;
};

static void count_derived(void *ctx)
{
	struct derived_count *d = ctx;
	if (d->calls++ == 0)
		d->bytes_then = d->m->data.len;
}

static int refuse_derive(void *ctx, struct kinko_err *e)
{
	(void)ctx;
	return kinko_err_set(e, KINKO_EUNAVAIL, "no turn");
}

static void age_opens_scrypt_vector(void **state)
{
	size_t al, pl;
	uint8_t *age = slurp("scrypt.age", &al), *plain = slurp("plaintext.txt", &pl);
	struct kinko_err e = {0};
	struct mem_sink m;
	struct derived_count d = {0, 0, &m};
	struct package_key k = {.password = "kinko-vector", .password_len = 12};
	(void)state;

	/* The key derivation is reported over before any content is unpacked. */
	k.derived = count_derived;
	k.derived_ctx = &d;
	memset(&m, 0, sizeof m);
	assert_int_equal(open_mem(age, al, &k, &big, &m, &e), 0);
	assert_true(d.calls >= 1);
	assert_int_equal(d.bytes_then, 0);
	assert_int_equal(m.data.len, pl);
	assert_memory_equal(m.data.data, plain, pl);
	kbuf_free(&m.data);
	/* A derivation that may not start refuses the package, with nothing unpacked. */
	k.derive_begin = refuse_derive;
	assert_int_equal(open_mem(age, al, &k, &big, &m, &e), KINKO_EUNAVAIL);
	assert_true(m.aborted && m.n == 0);
	kbuf_free(&m.data);
	k.derive_begin = NULL;
	k.derived = NULL;
	/* The vector asks for 2^18; a lower ceiling refuses it before any work. */
	struct package_limits cheap = {1, 1 << 20, 16};
	assert_int_equal(open_mem(age, al, &k, &cheap, &m, &e), KINKO_ELIMIT);
	assert_non_null(strstr(e.msg, "work factor of 2^18"));
	kbuf_free(&m.data);
	k.password = "kinko-vectoR";
	assert_int_equal(open_mem(age, al, &k, &big, &m, &e), KINKO_ECRYPTO);
	assert_non_null(strstr(e.msg, "wrong password"));
	assert_true(m.aborted && !m.committed && m.n == 0);
	kbuf_free(&m.data);
	free(age);
	free(plain);
}

static void age_header_parses_vector(void **state)
{
	size_t al;
	uint8_t *age = slurp("scrypt.age", &al);
	struct age_header h;
	struct kinko_err e = {0};
	(void)state;

	assert_int_equal(age_header_parse(age, al, &h, &e), 0);
	assert_int_equal(h.nst, 1);
	assert_string_equal(h.st[0].args[0], "scrypt");
	assert_int_equal(h.st[0].nargs, 3);
	assert_string_equal(h.st[0].args[2], "18");
	assert_int_equal(h.st[0].body_len, 32);
	assert_memory_equal(age + h.mac_covered - 3, "---", 3);
	assert_int_equal(age[h.len - 1], '\n');
	age_header_free(&h);
	age_header_free(NULL);
	free(age);
}

static int parse_str(const char *s, struct kinko_err *e)
{
	struct age_header h;
	int rc = age_header_parse((const uint8_t *)s, strlen(s), &h, e);
	if (rc == 0)
		age_header_free(&h);
	return rc;
}

#define MAC " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
#define BODY43 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define LINE64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static void age_header_rejects_malformed(void **state)
{
	struct kinko_err e = {0};
	(void)state;

	/* The shapes that must parse. */
	assert_int_equal(parse_str("age-encryption.org/v1\n-> a\n\n---" MAC, &e), 0);
	assert_int_equal(parse_str("age-encryption.org/v1\n-> a b c\n" BODY43 "\n---" MAC, &e), 0);
	assert_int_equal(parse_str("age-encryption.org/v1\n-> a\n" LINE64 "\n\n---" MAC, &e), 0);
	assert_int_equal(
		parse_str("age-encryption.org/v1\n-> X\n\n-> Y z\n" BODY43 "\n---" MAC "payload", &e),
		0);
	/* And what must not. */
	const char *bad[] = {
		"",
		"age-encryption.org/v1\n",
		"age-encryption.org/v2\n-> a\n\n---" MAC,
		"age-encryption.org/v1\n---" MAC,                        /* no stanza */
		"age-encryption.org/v1\n-> \n\n---" MAC,                 /* empty type */
		"age-encryption.org/v1\n-> a  b\n\n---" MAC,             /* empty argument */
		"age-encryption.org/v1\n-> a \n\n---" MAC,               /* trailing space */
		"age-encryption.org/v1\n->a\n\n---" MAC,                 /* no space */
		"age-encryption.org/v1\n-> a\n" LINE64 "A\n\n---" MAC,   /* 65 columns */
		"age-encryption.org/v1\n-> a\n" LINE64 "\n---" MAC,      /* full last line */
		"age-encryption.org/v1\n-> a\nAAA=\n---" MAC,            /* padding */
		"age-encryption.org/v1\n-> a\nAB\n---" MAC,              /* non-canonical bits */
		"age-encryption.org/v1\n-> a\nA\n---" MAC,               /* impossible length */
		"age-encryption.org/v1\n-> a\n\n--- AAAA\n",             /* short MAC */
		"age-encryption.org/v1\n-> a\n\n---AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"age-encryption.org/v1\n-> a\n\nxyz\n---" MAC,           /* junk line */
		"age-encryption.org/v1\n-> a\x01\n\n---" MAC,            /* control byte */
		"age-encryption.org/v1\r\n-> a\n\n---" MAC,              /* CRLF */
		"age-encryption.org/v1\n-> a\n\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		kinko_err_clear(&e);
		if (parse_str(bad[i], &e) != KINKO_EFORMAT)
			fail_msg("bad header %zu was accepted", i);
		assert_true(e.msg[0] != '\0');
	}
}

/* --- age: our writer, our reader --------------------------------------------- */

static void age_seal_open(size_t size, int x25519)
{
	uint8_t *plain = malloc(size + 1), sec[32], pub[32];
	struct kinko_mem_reader mr = {plain, size, 0};
	struct kinko_reader r = {kinko_mem_read, &mr};
	struct kbuf out;
	struct kinko_writer w = {NULL, &out};
	struct kinko_err e = {0};
	struct mem_sink m;
	struct package_age_seal_opts o = {0};
	struct package_key k = {0};

	kbuf_init(&out, (size_t)64 << 20);
	w.write = ms_write; /* appends to a kbuf through the mem_sink layout */
	struct mem_sink holder;
	memset(&holder, 0, sizeof holder);
	holder.data = out;
	w.ctx = &holder;
	kinko_random(plain, size);
	if (x25519) {
		age_x25519_keypair(pub, sec);
		o.recipients = (const uint8_t(*)[32])pub;
		o.nrecipients = 1;
		k.identities = (const uint8_t(*)[32])sec;
		k.nidentities = 1;
	} else {
		o.password = "pw";
		o.password_len = 2;
		o.scrypt_log_n = 10;
		k.password = "pw";
		k.password_len = 2;
	}
	assert_int_equal(package_age_seal(&o, &r, &w, &e), 0);
	out = holder.data;
	/* Header + nonce + one tag per 64 KiB chunk (at least one). */
	size_t chunks = size ? (size + 65535) / 65536 : 1;
	const uint8_t *p = out.data;
	const uint8_t *end = (const uint8_t *)strstr((const char *)p, "\n---") + 49;
	assert_int_equal(out.len, (size_t)(end - p) + 16 + size + chunks * 16);
	assert_int_equal(open_mem(out.data, out.len, &k, &big, &m, &e), 0);
	assert_int_equal(m.data.len, size);
	if (size)
		assert_memory_equal(m.data.data, plain, size);
	kbuf_free(&m.data);
	/* Cutting the last chunk off (at a chunk boundary) is detected. */
	if (size > 65536) {
		size_t cut = (size_t)(end - p) + 16 + 65536 + 16;
		assert_int_equal(open_mem(out.data, cut, &k, &big, &m, &e), KINKO_ECRYPTO);
		assert_true(m.aborted);
		kbuf_free(&m.data);
	}
	/* A flipped payload byte is detected. */
	out.data[out.len - 1] ^= 1;
	assert_int_equal(open_mem(out.data, out.len, &k, &big, &m, &e), KINKO_ECRYPTO);
	kbuf_free(&m.data);
	/* And the byte limit holds. */
	out.data[out.len - 1] ^= 1;
	if (size > 10) {
		struct package_limits small = {1, 10, 0};
		assert_int_equal(open_mem(out.data, out.len, &k, &small, &m, &e), KINKO_ELIMIT);
		kbuf_free(&m.data);
	}
	kbuf_free(&out);
	free(plain);
}

static void age_round_trips(void **state)
{
	(void)state;
	/* Sizes around the 16-chunk batches the payload is sealed and opened in, and
	 * several batches (the helper thread at work). */
	size_t sizes[] = {0,	     1,		  65535,	  65536,	  65537,
			  3 * 65536, 200001,	  16 * 65536 - 1, 16 * 65536,	  16 * 65536 + 1,
			  32 * 65536, 40 * 65536 + 7};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		age_seal_open(sizes[i], 0);
		age_seal_open(sizes[i], 1);
	}
}

/* Errors in a payload of several batches are the ones a chunk-by-chunk reader
 * meets first: the lowest damaged chunk, or the byte limit if it comes earlier. */
static void age_multi_batch_errors(void **state)
{
	const size_t size = 40 * 65536 + 7, ct = 65536 + 16;
	uint8_t *plain = malloc(size), sec[32], pub[32];
	struct kinko_mem_reader mr = {plain, size, 0};
	struct kinko_reader r = {kinko_mem_read, &mr};
	struct mem_sink holder, m;
	struct kinko_writer w = {ms_write, &holder};
	struct kinko_err e = {0};
	struct package_age_seal_opts o = {0};
	struct package_key k = {0};
	size_t body;
	uint8_t *d;
	(void)state;

	assert_non_null(plain);
	memset(&holder, 0, sizeof holder);
	kbuf_init(&holder.data, (size_t)64 << 20);
	kinko_random(plain, size);
	age_x25519_keypair(pub, sec);
	o.recipients = (const uint8_t(*)[32])pub;
	o.nrecipients = 1;
	k.identities = (const uint8_t(*)[32])sec;
	k.nidentities = 1;
	assert_int_equal(package_age_seal(&o, &r, &w, &e), 0);
	d = holder.data.data;
	body = (size_t)((const uint8_t *)strstr((const char *)d, "\n---") + 49 - d) + 16;
	assert_int_equal(holder.data.len, body + size + 41 * 16);

	/* Chunks 20 and 25 damaged: chunk 20 is reported. */
	d[body + 25 * ct + 9] ^= 0x80;
	d[body + 20 * ct + 5] ^= 0x01;
	assert_int_equal(open_mem(d, holder.data.len, &k, &big, &m, &e), KINKO_ECRYPTO);
	assert_non_null(strstr(e.msg, "chunk 20:"));
	assert_true(m.aborted);
	kbuf_free(&m.data);
	/* With the limit passed in chunk 17, before the damage: the limit. */
	struct package_limits lim17 = {1, 17 * 65536 + 3, 0};
	assert_int_equal(open_mem(d, holder.data.len, &k, &lim17, &m, &e), KINKO_ELIMIT);
	kbuf_free(&m.data);
	/* Damage in chunk 10, before the limit: the damage. */
	d[body + 10 * ct + 100] ^= 0x10;
	assert_int_equal(open_mem(d, holder.data.len, &k, &lim17, &m, &e), KINKO_ECRYPTO);
	assert_non_null(strstr(e.msg, "chunk 10:"));
	kbuf_free(&m.data);
	d[body + 10 * ct + 100] ^= 0x10;
	d[body + 20 * ct + 5] ^= 0x01;
	d[body + 25 * ct + 9] ^= 0x80;
	/* Undamaged, at exactly the limit: opens. */
	struct package_limits exact = {1, size, 0};
	assert_int_equal(open_mem(d, holder.data.len, &k, &exact, &m, &e), 0);
	assert_int_equal(m.data.len, size);
	assert_memory_equal(m.data.data, plain, size);
	kbuf_free(&m.data);
	/* Cut at a batch boundary (after 32 chunks) and one byte into the next. */
	assert_int_equal(open_mem(d, body + 32 * ct, &k, &big, &m, &e), KINKO_ECRYPTO);
	assert_non_null(strstr(e.msg, "chunk 31:"));
	kbuf_free(&m.data);
	assert_int_equal(open_mem(d, body + 32 * ct + 1, &k, &big, &m, &e), KINKO_EFORMAT);
	kbuf_free(&m.data);
	kbuf_free(&holder.data);
	free(plain);
}

/* The payload context (OpenSSL) and the one-shot functions (libsodium) agree. */
static void age_aead_chunk_matches_oneshot(void **state)
{
	uint8_t key[32], nonce[12], in[1000], a[1016], b[1016], back[1000];
	struct age_aead *x = NULL;
	(void)state;

	kinko_random(key, sizeof key);
	kinko_random(nonce, sizeof nonce);
	kinko_random(in, sizeof in);
	assert_int_equal(age_aead_new(key, &x), 0);
	for (size_t n = 0; n <= sizeof in; n += 333) {
		assert_int_equal(age_aead_seal(key, nonce, in, n, a), 0);
		assert_int_equal(age_aead_seal_chunk(x, nonce, in, n, b), 0);
		assert_memory_equal(a, b, n + 16);
		assert_int_equal(age_aead_open_chunk(x, nonce, a, n + 16, back), 0);
		if (n)
			assert_memory_equal(back, in, n);
		a[n / 2] ^= 1;
		assert_int_equal(age_aead_open_chunk(x, nonce, a, n + 16, back), KINKO_ECRYPTO);
		nonce[11] ^= 1; /* another nonce: another result */
		assert_int_equal(age_aead_seal_chunk(x, nonce, in, n, b), 0);
		assert_memory_not_equal(a, b, 16);
	}
	assert_int_equal(age_aead_open_chunk(x, nonce, a, 15, back), KINKO_ECRYPTO);
	age_aead_free(x);
	age_aead_free(NULL);
}

static void age_seal_needs_one_kind_of_key(void **state)
{
	struct kinko_mem_reader mr = {(const uint8_t *)"", 0, 0};
	struct kinko_reader r = {kinko_mem_read, &mr};
	struct mem_sink holder;
	struct kinko_writer w = {ms_write, &holder};
	struct package_age_seal_opts o = {0};
	struct kinko_err e = {0};
	uint8_t pub[32] = {9};
	(void)state;

	memset(&holder, 0, sizeof holder);
	kbuf_init(&holder.data, 1 << 20);
	assert_int_equal(package_age_seal(&o, &r, &w, &e), KINKO_EINVAL);
	o.password = "x";
	o.password_len = 1;
	o.recipients = (const uint8_t(*)[32])pub;
	o.nrecipients = 1;
	assert_int_equal(package_age_seal(&o, &r, &w, &e), KINKO_EINVAL);
	assert_int_equal(holder.data.len, 0);
	kbuf_free(&holder.data);
}

static void hkdf_matches_rfc5869(void **state)
{
	/* RFC 5869 A.1 */
	uint8_t ikm[22], salt[13], okm[42];
	char info[11];
	static const uint8_t want[42] = {
		0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36,
		0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56,
		0xec, 0xc4, 0xc5, 0xbf, 0x34, 0x00, 0x72, 0x08, 0xd5, 0xb8, 0x87, 0x18, 0x58, 0x65};
	(void)state;
	memset(ikm, 0x0b, sizeof ikm);
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (char)(0xf0 + i);
	info[10] = '\0';
	assert_int_equal(age_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, okm, 42), 0);
	assert_memory_equal(okm, want, 42);
}

static void bech32_rejects_damage(void **state)
{
	uint8_t pub[32];
	struct kinko_err e = {0};
	char s[80];
	(void)state;

	memset(pub, 0x42, sizeof pub);
	assert_int_equal(package_age_format_recipient(pub, s, sizeof s), 0);
	assert_int_equal(strncmp(s, "age1", 4), 0);
	assert_int_equal(package_age_parse_recipient(s, pub, &e), 0);
	s[10] = s[10] == 'q' ? 'p' : 'q'; /* checksum catches a changed character */
	assert_int_equal(package_age_parse_recipient(s, pub, &e), KINKO_EINVAL);
	assert_int_equal(package_age_parse_recipient("age1", pub, &e), KINKO_EINVAL);
	assert_int_equal(package_age_parse_identity("age1qqqqqq", pub, &e), KINKO_EINVAL);
	assert_int_equal(package_age_format_recipient(pub, s, 20), KINKO_ELIMIT);
}

/* --- zip ------------------------------------------------------------------------ */

static void zip_round_trip(void **state)
{
	uint8_t *a = malloc(300000);
	struct mem_sink holder, m;
	struct kinko_writer w = {ms_write, &holder};
	struct package_zip_writer *zw = NULL;
	struct kinko_err e = {0};
	struct package_key k = {.password = "secret", .password_len = 6};
	(void)state;

	memset(&holder, 0, sizeof holder);
	kbuf_init(&holder.data, 1 << 22);
	memset(a, 'a', 300000);
	kinko_random(a, 1000);
	assert_int_equal(package_zip_writer_new(&w, "secret", 6, 6, &zw, &e), 0);
	{
		struct kinko_mem_reader mr = {a, 300000, 0};
		struct kinko_reader r = {kinko_mem_read, &mr};
		assert_int_equal(package_zip_add(zw, "一覧/a.bin", 1700000000, &r, &e), 0);
	}
	{
		struct kinko_mem_reader mr = {a, 0, 0};
		struct kinko_reader r = {kinko_mem_read, &mr};
		assert_int_equal(package_zip_add(zw, "empty", 1700000000, &r, &e), 0);
		assert_int_equal(package_zip_add(zw, "../bad", 0, &r, &e), KINKO_EINVAL);
	}
	assert_int_equal(package_zip_finish(zw, &e), 0);
	package_zip_writer_free(zw);
	package_zip_writer_free(NULL);
	/* The archive compresses (mostly 'a') and starts with a local header. */
	assert_true(holder.data.len < 20000);
	assert_memory_equal(holder.data.data, "PK\x03\x04", 4);

	assert_int_equal(open_mem(holder.data.data, holder.data.len, &k, &big, &m, &e), 0);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.names[0], "一覧/a.bin");
	assert_string_equal(m.names[1], "empty");
	assert_int_equal(m.data.len, 300000);
	assert_memory_equal(m.data.data, a, 300000);
	kbuf_free(&m.data);

	k.password = "secreT";
	assert_int_equal(open_mem(holder.data.data, holder.data.len, &k, &big, &m, &e),
			 KINKO_ECRYPTO);
	assert_true(m.aborted);
	kbuf_free(&m.data);
	k.password = "secret";
	struct package_limits few = {1, (uint64_t)1 << 40, 0}, small = {10, 1000, 0};
	assert_int_equal(open_mem(holder.data.data, holder.data.len, &k, &few, &m, &e),
			 KINKO_ELIMIT);
	kbuf_free(&m.data);
	assert_int_equal(open_mem(holder.data.data, holder.data.len, &k, &small, &m, &e),
			 KINKO_ELIMIT);
	assert_true(m.data.len <= 1000);
	kbuf_free(&m.data);
	/* Any flipped byte, anywhere, is refused. */
	for (size_t i = 0; i < holder.data.len; i += 7) {
		holder.data.data[i] ^= 0x10;
		if (open_mem(holder.data.data, holder.data.len, &k, &big, &m, &e) == 0)
			fail_msg("flipped byte %zu went unnoticed", i);
		assert_false(m.committed);
		kbuf_free(&m.data);
		holder.data.data[i] ^= 0x10;
	}
	/* A truncated archive too. */
	for (size_t cut = 0; cut < holder.data.len; cut += 97) {
		assert_int_not_equal(open_mem(holder.data.data, cut, &k, &big, &m, &e), 0);
		kbuf_free(&m.data);
	}
	kbuf_free(&holder.data);
	free(a);
}

/* Incompressible content of a known size is stored (sizes in the local header,
 * no data descriptor); several 256 KiB open batches (the helper thread) and a
 * deflated entry after it; a wrong size fails. */
static void zip_stores_incompressible_sized(void **state)
{
	const size_t n = 1000000;
	uint8_t *a = malloc(n), *t = malloc(n);
	struct mem_sink holder, m;
	struct kinko_writer w = {ms_write, &holder};
	struct package_zip_writer *zw = NULL;
	struct kinko_err e = {0};
	struct package_key k = {.password = "secret", .password_len = 6};
	const uint8_t *d;
	(void)state;

	assert_non_null(a);
	assert_non_null(t);
	memset(&holder, 0, sizeof holder);
	kbuf_init(&holder.data, 1 << 22);
	kinko_random(a, n);
	for (size_t i = 0; i < n; i++)
		t[i] = (uint8_t)("0123456789,abc\n"[i % 15]);
	assert_int_equal(package_zip_writer_new(&w, "secret", 6, 1, &zw, &e), 0);
	{
		struct kinko_mem_reader mr = {a, n, 0};
		struct kinko_reader r = {kinko_mem_read, &mr};
		assert_int_equal(package_zip_add_sized(zw, "r.bin", 1700000000, (int64_t)n, &r, &e),
				 0);
	}
	{
		struct kinko_mem_reader mr = {t, n, 0};
		struct kinko_reader r = {kinko_mem_read, &mr};
		assert_int_equal(package_zip_add_sized(zw, "t.csv", 1700000000, (int64_t)n, &r, &e),
				 0);
	}
	assert_int_equal(package_zip_finish(zw, &e), 0);
	package_zip_writer_free(zw);
	d = holder.data.data;
	/* Entry 1: no data descriptor flag, method 0 in the AES extra, the sizes in
	 * the ZIP64 extra; entry 2 is deflated, so the whole zip is much smaller
	 * than 2 MB. */
	assert_int_equal(d[6] & 0x08, 0);
	assert_int_equal(d[30 + 5 + 20 + 9], 0);
	assert_int_equal(d[30 + 5 + 4] | d[30 + 5 + 5] << 8 | d[30 + 5 + 6] << 16, (int)n);
	assert_true(holder.data.len < n + 200000);
	assert_int_equal(open_mem(holder.data.data, holder.data.len, &k, &big, &m, &e), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.data.len, 2 * n);
	assert_memory_equal(m.data.data, a, n);
	assert_memory_equal(m.data.data + n, t, n);
	kbuf_free(&m.data);
	/* Damage in the stored entry, in the helper's half of a batch. */
	holder.data.data[30 + 5 + 31 + 18 + 256 * 1024 + 200000] ^= 4;
	assert_int_equal(open_mem(holder.data.data, holder.data.len, &k, &big, &m, &e),
			 KINKO_ECRYPTO);
	assert_false(m.committed);
	kbuf_free(&m.data);
	kbuf_free(&holder.data);

	/* Content shorter or longer than the size given: refused. */
	for (int longer = 0; longer < 2; longer++) {
		memset(&holder, 0, sizeof holder);
		kbuf_init(&holder.data, 1 << 22);
		assert_int_equal(package_zip_writer_new(&w, "secret", 6, 1, &zw, &e), 0);
		struct kinko_mem_reader mr = {a, n, 0};
		struct kinko_reader r = {kinko_mem_read, &mr};
		assert_int_equal(package_zip_add_sized(zw, "r.bin", 0, (int64_t)n + (longer ? -1 : 1),
						       &r, &e),
				 KINKO_EIO);
		assert_int_equal(package_zip_finish(zw, &e), KINKO_EIO);
		package_zip_writer_free(zw);
		kbuf_free(&holder.data);
	}
	free(a);
	free(t);
}

/* zipaes's CTR (VAES where the CPU has it, nettle otherwise, both for the parts
 * of a block) against a reference built here on nettle: PBKDF2-HMAC-SHA1 keys,
 * AES-256 of each little-endian counter block. Any offset, any length, in place
 * or not. */
static void zipaes_ctr_matches_reference(void **state)
{
	const size_t n = 5000;
	uint8_t salt[16], pv[2], dk[66], *ref = malloc(n), *buf = malloc(n), *src = malloc(n);
	struct zipaes *z = NULL;
	struct aes256_ctx aes;
	(void)state;

	kinko_random(salt, sizeof salt);
	kinko_random(src, n);
	pbkdf2_hmac_sha1(6, (const uint8_t *)"secret", 1000, sizeof salt, salt, sizeof dk, dk);
	aes256_set_encrypt_key(&aes, dk);
	for (size_t blk = 0; blk * 16 < n; blk++) {
		uint8_t ctr[16] = {0}, ks[16];
		uint64_t c = blk + 1;
		for (int i = 0; i < 8; i++)
			ctr[i] = (uint8_t)(c >> (8 * i));
		aes256_encrypt(&aes, 16, ks, ctr);
		for (size_t i = 0; i < 16 && blk * 16 + i < n; i++)
			ref[blk * 16 + i] = src[blk * 16 + i] ^ ks[i];
	}
	assert_int_equal(zipaes_new("secret", 6, salt, &z, pv), 0);
	assert_memory_equal(pv, dk + 64, 2);
	zipaes_crypt_to(z, 0, src, buf, n);
	assert_memory_equal(buf, ref, n);
	const size_t cuts[][2] = {{0, 1}, {1, 15}, {3, 200}, {16, 128}, {17, 129}, {100, 4096},
				  {127, 1}, {4000, 1000}, {4991, 9}, {5, 4995}};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		size_t o = cuts[i][0], l = cuts[i][1];
		memcpy(buf, src, n);
		zipaes_crypt(z, o, buf + o, l); /* in place */
		assert_memory_equal(buf + o, ref + o, l);
		memset(buf, 0, n);
		zipaes_crypt_to(z, o, src + o, buf + o, l);
		assert_memory_equal(buf + o, ref + o, l);
	}
	zipaes_free(z);
	free(ref);
	free(buf);
	free(src);
}

static void names_are_checked(void **state)
{
	struct kinko_err e = {0};
	(void)state;
	const char *good[] = {"a", "a/b", "dir/", "住民/一覧.csv", "a..b", ".hidden", "x/.y/z"};
	const char *bad[] = {"",     "/abs", "../x",   "a/../b", "a/..", "./a",  "a//b",
			     "a\\b", "c:x",  "a\x01b", "\xff",   "\xc0\xaf", "\xed\xa0\x80",
			     "\xe6\x97"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (package_name_check(good[i], strlen(good[i]), &e))
			fail_msg("good name %zu refused: %s", i, e.msg);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (package_name_check(bad[i], strlen(bad[i]), &e) == 0)
			fail_msg("bad name %zu accepted", i);
	assert_int_equal(package_name_check("a\0b", 3, &e), KINKO_EINVAL);
}

static void detect_formats(void **state)
{
	(void)state;
	assert_int_equal(package_detect((const uint8_t *)"PK\x03\x04", 4), PACKAGE_ZIP);
	assert_int_equal(package_detect((const uint8_t *)"age-encryption.org/v1\n", 22),
			 PACKAGE_AGE);
	assert_int_equal(package_detect((const uint8_t *)"PK\x05\x06", 4), PACKAGE_UNKNOWN);
	assert_int_equal(package_detect((const uint8_t *)"PK", 2), PACKAGE_UNKNOWN);
}

/* --- password ---------------------------------------------------------------------- */

static void password_alphabet_and_entropy(void **state)
{
	const char *alpha = PASSWORD_ALPHABET;
	char pw[128], pw2[128];
	(void)state;

	assert_int_equal(strlen(alpha), 32);
	for (size_t i = 0; i < 32; i++) {
		assert_null(strchr("0O1lIo", alpha[i])); /* no look-alikes */
		assert_null(strchr(alpha + i + 1, alpha[i])); /* no repeats */
	}
	/* 128 bits need 26 symbols of 5 bits; whole groups of 5 make 30 (150 bits). */
	assert_int_equal(password_symbols_for(128), 30);
	assert_int_equal(password_entropy_bits(30), 150);
	assert_int_equal(password_symbols_for(150), 30);
	assert_int_equal(password_symbols_for(151), 35);
	assert_true(password_entropy_bits(password_symbols_for(128)) >= 128);
	assert_true(password_entropy_bits(25) < 128); /* 25 symbols would not be enough */

	assert_int_equal(password_generate(128, pw, sizeof pw), 0);
	assert_int_equal(strlen(pw), 35); /* 6 groups of 5 and 5 hyphens */
	for (size_t i = 0; i < 35; i++) {
		if (i % 6 == 5)
			assert_int_equal(pw[i], '-');
		else
			assert_non_null(strchr(alpha, pw[i]));
	}
	assert_int_equal(password_generate(64, pw2, sizeof pw2), 0); /* raised to 128 */
	assert_int_equal(strlen(pw2), 35);
	assert_string_not_equal(pw, pw2);
	assert_int_equal(password_generate(128, pw2, 35), KINKO_ELIMIT);
	/* Every symbol shows up over many passwords (uniform choice). */
	int seen[256] = {0};
	for (int n = 0; n < 200; n++) {
		assert_int_equal(password_generate(128, pw, sizeof pw), 0);
		for (char *c = pw; *c; c++)
			seen[(unsigned char)*c]++;
	}
	for (size_t i = 0; i < 32; i++)
		assert_true(seen[(unsigned char)alpha[i]] > 50);
}

/* --- 和暦 ---------------------------------------------------------------------------- */

static void wareki_conversions(void **state)
{
	char s[64];
	const char *era;
	int y;
	(void)state;

	assert_int_equal(wareki_format((struct civil_date){2019, 5, 1}, s, sizeof s), 0);
	assert_string_equal(s, "令和元年5月1日");
	assert_int_equal(wareki_format((struct civil_date){2019, 4, 30}, s, sizeof s), 0);
	assert_string_equal(s, "平成31年4月30日");
	assert_int_equal(wareki_format((struct civil_date){2020, 1, 1}, s, sizeof s), 0);
	assert_string_equal(s, "令和2年1月1日");
	assert_int_equal(wareki_format((struct civil_date){2026, 11, 26}, s, sizeof s), 0);
	assert_string_equal(s, "令和8年11月26日");
	assert_int_equal(wareki_format((struct civil_date){1989, 1, 8}, s, sizeof s), 0);
	assert_string_equal(s, "平成元年1月8日");
	assert_int_equal(wareki_format((struct civil_date){1989, 1, 7}, s, sizeof s), 0);
	assert_string_equal(s, "昭和64年1月7日");
	assert_int_equal(wareki_from_date((struct civil_date){1926, 12, 25}, &era, &y), 0);
	assert_string_equal(era, "昭和");
	assert_int_equal(y, 1);
	assert_int_equal(wareki_from_date((struct civil_date){1926, 12, 24}, &era, &y),
			 KINKO_EINVAL);
	assert_int_equal(wareki_from_date((struct civil_date){2020, 13, 1}, &era, &y),
			 KINKO_EINVAL);
	assert_int_equal(wareki_format((struct civil_date){2019, 5, 1}, s, 8), KINKO_ELIMIT);
	assert_int_equal(wareki_from_date((struct civil_date){2023, 2, 29}, &era, &y), KINKO_EINVAL);
	assert_int_equal(wareki_from_date((struct civil_date){2024, 2, 29}, &era, &y), 0);
	assert_int_equal(wareki_from_date((struct civil_date){2024, 4, 31}, &era, &y), KINKO_EINVAL);
	assert_int_equal(wareki_from_date((struct civil_date){2100, 2, 29}, &era, &y), KINKO_EINVAL);

	struct civil_date d = civil_from_unix(0, 0);
	assert_true(d.year == 1970 && d.month == 1 && d.day == 1);
	/* 2019-04-30T15:00:00Z is already 2019-05-01 in Japan. */
	d = civil_from_unix(1556636400, 9 * 3600);
	assert_true(d.year == 2019 && d.month == 5 && d.day == 1);
	d = civil_from_unix(1556636399, 9 * 3600);
	assert_true(d.year == 2019 && d.month == 4 && d.day == 30);
	d = civil_from_unix(951782400, 0); /* 2000-02-29 */
	assert_true(d.year == 2000 && d.month == 2 && d.day == 29);
	d = civil_from_unix(-1, 0);
	assert_true(d.year == 1969 && d.month == 12 && d.day == 31);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(age_opens_x25519_vector),
		cmocka_unit_test(age_opens_scrypt_vector),
		cmocka_unit_test(age_header_parses_vector),
		cmocka_unit_test(age_header_rejects_malformed),
		cmocka_unit_test(age_round_trips),
		cmocka_unit_test(age_multi_batch_errors),
		cmocka_unit_test(age_aead_chunk_matches_oneshot),
		cmocka_unit_test(age_seal_needs_one_kind_of_key),
		cmocka_unit_test(hkdf_matches_rfc5869),
		cmocka_unit_test(bech32_rejects_damage),
		cmocka_unit_test(zip_round_trip),
		cmocka_unit_test(zip_stores_incompressible_sized),
		cmocka_unit_test(zipaes_ctr_matches_reference),
		cmocka_unit_test(names_are_checked),
		cmocka_unit_test(detect_formats),
		cmocka_unit_test(password_alphabet_and_entropy),
		cmocka_unit_test(wareki_conversions),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
