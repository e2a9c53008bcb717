#include "audit/checkpoint.h"

#include <string.h>

#include "core/base64.h"

/* A line of the body: non-empty, valid UTF-8, no control characters. */
static int line_ok(const char *p, size_t n)
{
	return n > 0 && note_text_check((const uint8_t *)p, n, 0) == 0;
}

static int ext_ok(const char *ext)
{
	size_t n = strlen(ext), pos = 0;

	if (n > CHECKPOINT_EXT_MAX || (n && ext[n - 1] != '\n'))
		return 0;
	while (pos < n) {
		const char *nl = memchr(ext + pos, '\n', n - pos);
		if (!line_ok(ext + pos, (size_t)(nl - (ext + pos))))
			return 0;
		pos = (size_t)(nl - ext) + 1;
	}
	return 1;
}

int checkpoint_format(const struct checkpoint *c, struct kbuf *out, struct kinko_err *e)
{
	char b64[NOTE_B64_LEN(MERKLE_HASH_LEN) + 1];
	size_t olen = strnlen(c->origin, sizeof c->origin);
	int rc;

	if (olen > CHECKPOINT_ORIGIN_MAX || !line_ok(c->origin, olen))
		return kinko_err_set(e, KINKO_EINVAL,
				     "the checkpoint origin must be one non-empty line of at most "
				     "%d bytes",
				     CHECKPOINT_ORIGIN_MAX);
	if (c->size > MERKLE_SIZE_MAX)
		return kinko_err_set(e, KINKO_EINVAL, "the tree size is out of range");
	if (strnlen(c->ext, sizeof c->ext) > CHECKPOINT_EXT_MAX || !ext_ok(c->ext))
		return kinko_err_set(e, KINKO_EINVAL,
				     "checkpoint extension lines must be non-empty lines ending "
				     "in a newline");
	if (kinko_base64_encode(c->root, MERKLE_HASH_LEN, b64, sizeof b64) < 0)
		return kinko_err_set(e, KINKO_ELIMIT, "encoding the root hash failed");
	rc = kbuf_appendf(out, "%s\n%llu\n%s\n%s", c->origin, (unsigned long long)c->size, b64,
			  c->ext);
	if (rc < 0) /* a failed append leaves out as it was */
		return kinko_err_set(e, rc, "the checkpoint does not fit in its buffer");
	return 0;
}

int checkpoint_parse(const uint8_t *text, size_t n, struct checkpoint *out,
		     struct kinko_err *e)
{
	const char *p = (const char *)text, *end = p + n, *nl;
	struct checkpoint c;
	size_t len, rootlen, i;
	uint64_t size = 0;

	memset(&c, 0, sizeof c);
	if (n == 0 || p[n - 1] != '\n')
		goto bad;
	/* origin */
	nl = memchr(p, '\n', n);
	len = (size_t)(nl - p);
	if (len > CHECKPOINT_ORIGIN_MAX || !line_ok(p, len))
		goto bad;
	memcpy(c.origin, p, len);
	p = nl + 1;
	/* size: decimal, no leading zeros, no sign */
	if (p >= end || !(nl = memchr(p, '\n', (size_t)(end - p))))
		goto bad;
	len = (size_t)(nl - p);
	if (len == 0 || len > 19 || (len > 1 && p[0] == '0'))
		goto bad;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			goto bad;
		size = size * 10 + (uint64_t)(p[i] - '0');
	}
	if (size > MERKLE_SIZE_MAX)
		goto bad;
	c.size = size;
	p = nl + 1;
	/* root */
	if (p >= end || !(nl = memchr(p, '\n', (size_t)(end - p))))
		goto bad;
	if (kinko_base64_decode(p, (size_t)(nl - p), true, c.root, sizeof c.root, &rootlen) < 0 ||
	    rootlen != MERKLE_HASH_LEN)
		goto bad;
	p = nl + 1;
	/* extension lines, kept verbatim */
	len = (size_t)(end - p);
	if (len > CHECKPOINT_EXT_MAX)
		goto bad;
	memcpy(c.ext, p, len);
	c.ext[len] = '\0';
	if (strlen(c.ext) != len || !ext_ok(c.ext))
		goto bad;
	*out = c;
	return 0;
bad:
	return kinko_err_set(e, KINKO_EFORMAT,
			     "the checkpoint is malformed: it must be origin, tree size and "
			     "base64 root hash, one per line");
}

int checkpoint_sign(const struct checkpoint *c, const char *key_name,
		    const struct kinko_sign_key *k, struct kbuf *out, struct kinko_err *e)
{
	struct kbuf body;
	int rc;

	kbuf_init(&body, CHECKPOINT_ORIGIN_MAX + CHECKPOINT_EXT_MAX + 128);
	rc = checkpoint_format(c, &body, e);
	if (rc == 0)
		rc = note_sign(body.data, body.len, key_name, k, out, e);
	kbuf_free(&body);
	return rc;
}

int checkpoint_open(const uint8_t *note, size_t n, const struct note_verifier *keys,
		    size_t nkeys, const char *origin, struct checkpoint *out,
		    struct kinko_err *e)
{
	struct note_opened o;
	struct checkpoint c;
	int rc;

	rc = note_open(note, n, keys, nkeys, &o, e);
	if (rc < 0)
		return rc;
	rc = checkpoint_parse(note, o.text_len, &c, e);
	if (rc < 0)
		return rc;
	if (origin && strcmp(origin, c.origin) != 0)
		return kinko_err_set(e, KINKO_EINTEGRITY,
				     "the checkpoint is for another log (origin differs): use "
				     "this log's checkpoint");
	*out = c;
	return 0;
}
