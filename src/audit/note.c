#include "audit/note.h"

#include <string.h>

#include "core/base64.h"
#include "crypto/hash.h"

#define NOTE_ALG_ED25519 0x01
/* "— " : U+2014 EM DASH and a space. */
static const char note_dash[] = "\xe2\x80\x94 ";
#define NOTE_DASH_LEN 4
/* Decoded signature bytes we accept on a line (room for post-quantum signatures
 * by keys we do not know, which are ignored but must still be well formed). */
#define NOTE_SIG_BYTES_MAX 8192

/* Decodes one UTF-8 sequence at p (n > 0 bytes available): its length, or 0 for an
 * invalid, overlong, surrogate or out-of-range sequence (RFC 3629). */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c = p[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

int note_text_check(const uint8_t *p, size_t n, int allow_newline)
{
	size_t i = 0;

	while (i < n) {
		uint32_t c;
		size_t len = utf8_next(p + i, n - i, &c);

		if (len == 0 || (c < 0x20 && !(c == '\n' && allow_newline)))
			return KINKO_EFORMAT;
		i += len;
	}
	return 0;
}

static int note_chars_ok(const uint8_t *p, size_t n)
{
	return note_text_check(p, n, 1) == 0;
}

/* Go's unicode.IsSpace, which is what the reference implementation refuses. */
static int is_unicode_space(uint32_t c)
{
	switch (c) {
	case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20:
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return 1;
	default:
		return c >= 0x2000 && c <= 0x200a;
	}
}

int note_name_check(const char *name, size_t n)
{
	const uint8_t *p = (const uint8_t *)name;
	size_t i = 0;

	if (n == 0 || n > NOTE_NAME_MAX)
		return KINKO_EINVAL;
	while (i < n) {
		uint32_t c;
		size_t len = utf8_next(p + i, n - i, &c);

		if (len == 0 || c == '+' || c < 0x20 || is_unicode_space(c))
			return KINKO_EINVAL;
		i += len;
	}
	return 0;
}

int note_key_id(const char *name, const uint8_t pk[KINKO_SIGN_PUBLIC_LEN], uint32_t *out)
{
	struct kinko_sha256 h;
	uint8_t d[KINKO_SHA256_LEN];
	static const uint8_t sep[2] = {'\n', NOTE_ALG_ED25519};
	int rc = kinko_sha256_init(&h);

	if (rc < 0)
		return rc;
	kinko_sha256_update(&h, name, strlen(name));
	kinko_sha256_update(&h, sep, sizeof sep);
	kinko_sha256_update(&h, pk, KINKO_SIGN_PUBLIC_LEN);
	kinko_sha256_final(&h, d);
	*out = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	return 0;
}

int note_verifier_make(const char *name, const uint8_t pk[KINKO_SIGN_PUBLIC_LEN],
		       struct note_verifier *out, struct kinko_err *e)
{
	struct note_verifier v;
	size_t n = strlen(name);
	int rc;

	if (note_name_check(name, n) < 0)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the key name must be 1 to %d bytes of UTF-8 without spaces, "
				     "'+' or control characters",
				     NOTE_NAME_MAX);
	memset(&v, 0, sizeof v);
	memcpy(v.name, name, n);
	memcpy(v.pk, pk, KINKO_SIGN_PUBLIC_LEN);
	rc = note_key_id(name, pk, &v.key_id);
	if (rc < 0)
		return kinko_err_set(e, rc, "computing the key ID failed");
	*out = v;
	return 0;
}

int note_verifier_format(const struct note_verifier *v, struct kbuf *out)
{
	uint8_t raw[1 + KINKO_SIGN_PUBLIC_LEN];
	char b64[NOTE_B64_LEN(sizeof raw) + 1];

	raw[0] = NOTE_ALG_ED25519;
	memcpy(raw + 1, v->pk, KINKO_SIGN_PUBLIC_LEN);
	if (kinko_base64_encode(raw, sizeof raw, b64, sizeof b64) < 0)
		return KINKO_ELIMIT;
	return kbuf_appendf(out, "%s+%08x+%s", v->name, (unsigned)v->key_id, b64);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int note_verifier_parse(const char *s, struct note_verifier *out, struct kinko_err *e)
{
	const char *p1 = strchr(s, '+'), *p2;
	uint8_t raw[1 + KINKO_SIGN_PUBLIC_LEN];
	char name[NOTE_NAME_MAX + 1];
	struct note_verifier v;
	uint32_t id = 0;
	size_t rawlen, i;
	int rc;

	if (!p1 || !(p2 = strchr(p1 + 1, '+')) || p2 - p1 != 9)
		goto bad;
	if ((size_t)(p1 - s) > NOTE_NAME_MAX || note_name_check(s, (size_t)(p1 - s)) < 0)
		goto bad;
	for (i = 1; i <= 8; i++) {
		int d = hex_digit(p1[i]);
		if (d < 0)
			goto bad;
		id = id << 4 | (uint32_t)d;
	}
	if (kinko_base64_decode(p2 + 1, strlen(p2 + 1), true, raw, sizeof raw, &rawlen) < 0 ||
	    rawlen != sizeof raw)
		goto bad;
	if (raw[0] != NOTE_ALG_ED25519)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the verifier key is not an Ed25519 key: use the log's "
				     "Ed25519 key");
	memcpy(name, s, (size_t)(p1 - s));
	name[p1 - s] = '\0';
	rc = note_verifier_make(name, raw + 1, &v, e);
	if (rc < 0)
		return rc;
	if (v.key_id != id)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the verifier key's ID does not match its name and public "
				     "key: copy the key again from the log's published value");
	*out = v;
	return 0;
bad:
	return kinko_err_set(e, KINKO_EINVAL,
			     "a verifier key looks like NAME+KEYID+BASE64 (e.g. "
			     "example.org/log+1a2b3c4d+AW...): check the value");
}

int note_sign(const uint8_t *text, size_t n, const char *name, const struct kinko_sign_key *k,
	      struct kbuf *out, struct kinko_err *e)
{
	uint8_t pk[KINKO_SIGN_PUBLIC_LEN], raw[4 + KINKO_SIGN_LEN];
	char b64[NOTE_B64_LEN(sizeof raw) + 1];
	struct note_verifier v;
	size_t before = out->len;
	int rc;

	if (n == 0 || text[n - 1] != '\n' || n > NOTE_SIZE_MAX / 2 || !note_chars_ok(text, n))
		return kinko_err_set(e, KINKO_EINVAL,
				     "a note text must be non-empty UTF-8 ending in a newline, "
				     "without control characters");
	kinko_sign_key_public(k, pk);
	rc = note_verifier_make(name, pk, &v, e);
	if (rc < 0)
		return rc;
	raw[0] = (uint8_t)(v.key_id >> 24);
	raw[1] = (uint8_t)(v.key_id >> 16);
	raw[2] = (uint8_t)(v.key_id >> 8);
	raw[3] = (uint8_t)v.key_id;
	rc = kinko_sign(k, text, n, raw + 4);
	if (rc < 0)
		return kinko_err_set(e, rc, "signing the note failed");
	rc = kinko_base64_encode(raw, sizeof raw, b64, sizeof b64);
	if (rc < 0)
		return kinko_err_set(e, rc, "encoding the signature failed");
	rc = kbuf_append(out, text, n);
	if (rc == 0)
		rc = kbuf_appendf(out, "\n%s%s %s\n", note_dash, v.name, b64);
	if (rc < 0) {
		out->len = before; /* leave the buffer as it was */
		if (out->data)
			out->data[before] = '\0';
		return kinko_err_set(e, rc, "the signed note does not fit in its buffer");
	}
	return 0;
}

int note_open(const uint8_t *msg, size_t n, const struct note_verifier *keys, size_t nkeys,
	      struct note_opened *out, struct kinko_err *e)
{
	uint8_t sigbuf[4 + NOTE_SIG_BYTES_MAX];
	size_t text_len, i, pos, nsig = 0;
	unsigned verified = 0, ignored = 0;
	struct note_opened r;

	if (nkeys == 0)
		return kinko_err_set(e, KINKO_EINVAL, "no verifier key given: name the log's key");
	for (i = 0; i < nkeys; i++) {
		size_t j;
		for (j = i + 1; j < nkeys; j++)
			if (keys[i].key_id == keys[j].key_id && strcmp(keys[i].name, keys[j].name) == 0)
				return kinko_err_set(e, KINKO_EINVAL,
						     "verifier key %s+%08x is given twice: give "
						     "each key once",
						     keys[i].name, (unsigned)keys[i].key_id);
	}
	if (n > NOTE_SIZE_MAX)
		return kinko_err_set(e, KINKO_EFORMAT, "the signed note is larger than %d bytes",
				     NOTE_SIZE_MAX);
	if (n < 2 || msg[n - 1] != '\n' || !note_chars_ok(msg, n))
		goto malformed;
	/* The text ends at the last blank line: find the last "\n\n". */
	for (i = n - 1; i > 0; i--)
		if (msg[i] == '\n' && msg[i - 1] == '\n')
			break;
	if (i == 0)
		goto malformed;
	text_len = i; /* msg[0..i) includes the text's final newline */
	if (text_len == 0)
		goto malformed;
	pos = i + 1;
	if (pos >= n)
		goto malformed; /* no signature lines */
	while (pos < n) {
		const uint8_t *line = msg + pos, *nl = memchr(line, '\n', n - pos);
		const uint8_t *name, *sp, *b64;
		size_t len = (size_t)(nl - line), namelen, siglen;
		uint32_t id;
		const struct note_verifier *key = NULL;

		if (++nsig > NOTE_SIGS_MAX)
			goto malformed;
		if (len < NOTE_DASH_LEN || memcmp(line, note_dash, NOTE_DASH_LEN) != 0)
			goto malformed;
		name = line + NOTE_DASH_LEN;
		sp = memchr(name, ' ', (size_t)(nl - name));
		if (!sp)
			goto malformed;
		namelen = (size_t)(sp - name);
		b64 = sp + 1;
		if (note_name_check((const char *)name, namelen) < 0)
			goto malformed;
		if (kinko_base64_decode((const char *)b64, (size_t)(nl - b64), true, sigbuf, sizeof sigbuf,
				  &siglen) < 0 ||
		    siglen < 5)
			goto malformed;
		id = (uint32_t)sigbuf[0] << 24 | (uint32_t)sigbuf[1] << 16 |
		     (uint32_t)sigbuf[2] << 8 | sigbuf[3];
		for (i = 0; i < nkeys; i++)
			if (keys[i].key_id == id && strlen(keys[i].name) == namelen &&
			    memcmp(keys[i].name, name, namelen) == 0)
				key = &keys[i];
		if (!key) {
			ignored++;
		} else {
			if (siglen != 4 + KINKO_SIGN_LEN ||
			    kinko_sign_verify(key->pk, msg, text_len, sigbuf + 4) != 0)
				return kinko_err_set(e, KINKO_ECRYPTO,
						     "the signature by key %s+%08x does not verify: "
						     "the note was changed or forged",
						     key->name, (unsigned)key->key_id);
			verified++;
		}
		pos += len + 1;
	}
	if (verified == 0)
		return kinko_err_set(e, KINKO_ENOENT,
				     "the note carries no signature by a trusted key: check that "
				     "the verifier key is the log's key");
	r.text_len = text_len;
	r.verified = verified;
	r.ignored = ignored;
	*out = r;
	return 0;
malformed:
	return kinko_err_set(e, KINKO_EFORMAT,
			     "the signed note is malformed (it must be UTF-8 text with LF line "
			     "ends, a blank line, then signature lines)");
}
