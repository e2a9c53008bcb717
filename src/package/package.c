#include "package/package_internal.h"

#include <stdlib.h>
#include <string.h>

int pkg_br_init(struct pkg_br *b, const struct kinko_reader *r)
{
	memset(b, 0, sizeof *b);
	b->buf = aligned_alloc(4096, PKG_BR_CAP);
	if (!b->buf)
		return KINKO_ENOMEM;
	b->r = r;
	b->cap = PKG_BR_CAP;
	return 0;
}

int pkg_br_reserve(struct pkg_br *b, size_t cap)
{
	uint8_t *nb;

	if (cap <= b->cap)
		return 0;
	cap = (cap + 4095) / 4096 * 4096;
	nb = aligned_alloc(4096, cap);
	if (!nb)
		return KINKO_ENOMEM;
	memcpy(nb, b->buf, b->len); /* same offsets: reads stay page-aligned */
	free(b->buf);
	b->buf = nb;
	b->cap = cap;
	return 0;
}

void pkg_br_free(struct pkg_br *b)
{
	free(b->buf);
	b->buf = NULL;
}

int pkg_br_fill(struct pkg_br *b, size_t want, size_t *avail, struct kinko_err *e)
{
	if (want > b->cap - 4096)
		want = b->cap - 4096;
	if (b->len - b->pos < want && b->pos > 0) {
		/* Keep reads page-aligned in the buffer (so the kernel copies between
		 * equally aligned addresses, much faster): the kept bytes end on a page
		 * boundary. */
		size_t rem = b->len - b->pos, np = (4096 - rem % 4096) % 4096;
		memmove(b->buf + np, b->buf + b->pos, rem);
		b->pos = np;
		b->len = np + rem;
	}
	while (b->len - b->pos < want && !b->eof) {
		size_t got = 0;
		int rc = b->r->read(b->r->ctx, b->buf + b->len, b->cap - b->len, &got, e);
		if (rc)
			return rc;
		if (got == 0)
			b->eof = 1;
		b->len += got;
	}
	*avail = b->len - b->pos;
	return 0;
}

int pkg_br_read(struct pkg_br *b, uint8_t *out, size_t n, struct kinko_err *e)
{
	while (n > 0) {
		size_t avail = 0, take;
		int rc = pkg_br_fill(b, n, &avail, e);
		if (rc)
			return rc;
		if (avail == 0)
			return kinko_err_set(e, KINKO_EFORMAT,
					     "the package is truncated: it ends in the middle of a "
					     "record; ask the sender for a complete copy");
		take = avail < n ? avail : n;
		memcpy(out, b->buf + b->pos, take);
		pkg_br_skip(b, take);
		out += take;
		n -= take;
	}
	return 0;
}

void pkg_br_skip(struct pkg_br *b, size_t n)
{
	if (b->hash)
		kinko_sha256_update(b->hash, b->buf + b->pos, n);
	b->pos += n;
	b->consumed += n;
}

enum package_format package_detect(const uint8_t *p, size_t n)
{
	static const char age_magic[] = "age-encryption.org/";

	if (n >= 4 && !memcmp(p, "PK\x03\x04", 4))
		return PACKAGE_ZIP;
	if (n >= 4 && !memcmp(p, age_magic, n < sizeof age_magic - 1 ? n : sizeof age_magic - 1))
		return PACKAGE_AGE;
	return PACKAGE_UNKNOWN;
}

int package_name_check(const char *name, size_t len, struct kinko_err *e)
{
	size_t comp = 0;

	if (len == 0 || len > PACKAGE_NAME_MAX || memchr(name, '\0', len))
		return kinko_err_set(e, KINKO_EINVAL,
				     "an entry has an empty, over-long or NUL-containing name; "
				     "the package is refused");
	if (name[0] == '/')
		return kinko_err_set(e, KINKO_EINVAL,
				     "an entry has an absolute name (starting with '/'); the "
				     "package is refused");
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)name[i] : '/';
		if (c == '/') {
			size_t clen = i - comp;
			if (clen == 0 && i != len)
				return kinko_err_set(e, KINKO_EINVAL,
						     "an entry name has an empty component ('//'); "
						     "the package is refused");
			if ((clen == 1 && name[comp] == '.') ||
			    (clen == 2 && name[comp] == '.' && name[comp + 1] == '.'))
				return kinko_err_set(e, KINKO_EINVAL,
						     "an entry name contains '.' or '..' and could "
						     "escape the output folder; the package is refused");
			comp = i + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == '\\' || c == ':')
			return kinko_err_set(e, KINKO_EINVAL,
					     "an entry name contains a control character, '\\' or "
					     "':'; the package is refused");
	}
	/* UTF-8 validity (no overlongs, no surrogates). */
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)name[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		if (len - i - 1 < n)
			goto bad;
		for (size_t k = 1; k <= n; k++) {
			unsigned char cc = (unsigned char)name[i + k];
			if ((cc & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (cc & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += n + 1;
	}
	return 0;
bad:
	return kinko_err_set(e, KINKO_EINVAL,
			     "an entry name is not valid UTF-8; the package is refused");
}

int package_open(const struct kinko_reader *in, const struct package_key *key,
		 const struct package_limits *lim, const char *age_name,
		 const struct package_sink *sink, enum package_format *format,
		 struct kinko_err *e)
{
	struct pkg_br b;
	size_t avail = 0;
	enum package_format f;
	int rc;

	rc = pkg_br_init(&b, in);
	if (rc)
		return kinko_err_set(e, rc, "out of memory opening the package");
	rc = pkg_br_fill(&b, 32, &avail, e);
	if (rc)
		goto out;
	f = package_detect(b.buf + b.pos, avail);
	if (f == PACKAGE_AGE)
		rc = pkg_age_open(&b, key, lim, age_name, sink, e);
	else if (f == PACKAGE_ZIP)
		rc = pkg_zip_open(&b, key, lim, sink, e);
	else
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "the file is neither an age package nor a zip archive");
	if (rc == 0)
		rc = sink->commit(sink->ctx, e);
	if (rc == 0 && format)
		*format = f;
out:
	if (rc)
		sink->abort(sink->ctx);
	pkg_br_free(&b);
	if (key->derived)
		key->derived(key->derived_ctx);
	return rc;
}
