#include "http/uri.h"

#include <stdio.h>
#include <string.h>

#include "core/parse.h"

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int uri_pct_decode(const char *s, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t o = 0;

	if (cap == 0)
		return KINKO_ELIMIT;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return KINKO_EINVAL;
			hi = hexv(s[i + 1]);
			lo = hexv(s[i + 2]);
			if (hi < 0 || lo < 0)
				return KINKO_EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
			if (c == '\0')
				return KINKO_EINVAL;
		}
		if (o + 1 >= cap)
			return KINKO_ELIMIT;
		out[o++] = c;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

int uri_split_path(const char *uri, const char *prefix, char *buf, size_t cap, char **seg,
		   unsigned maxseg, unsigned *nseg, struct kinko_err *e)
{
	const char *q = strchr(uri, '?');
	size_t plen = q ? (size_t)(q - uri) : strlen(uri);
	size_t pfx = strlen(prefix);
	const char *p;
	char *w = buf;
	size_t left = cap;

	*nseg = 0;
	if (plen < pfx || strncmp(uri, prefix, pfx))
		return kinko_err_set(e, KINKO_ENOENT, "no such route; the API lives under %s",
				     prefix);
	p = uri + pfx;
	plen -= pfx;
	while (plen > 0) {
		const char *slash = memchr(p, '/', plen);
		size_t n = slash ? (size_t)(slash - p) : plen, got;
		if (n == 0)
			return kinko_err_set(e, KINKO_ENOENT, "empty path segment");
		if (*nseg == maxseg)
			return kinko_err_set(e, KINKO_ENOENT, "no such route");
		if (uri_pct_decode(p, n, w, left, &got))
			return kinko_err_set(e, KINKO_EINVAL, "bad percent-encoding in the path");
		seg[(*nseg)++] = w;
		w += got + 1;
		left -= got + 1;
		p += n;
		plen -= n;
		if (slash) {
			p++;
			plen--;
		}
	}
	return 0;
}

int uri_query_arg(const char *query, const char *name, char *out, size_t cap, size_t *outlen)
{
	const char *p = query;
	size_t nlen = strlen(name);

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=')
			return uri_pct_decode(p + nlen + 1, len - nlen - 1, out, cap, outlen);
		p += len;
		if (*p == '&')
			p++;
	}
	return KINKO_ENOENT;
}

bool uri_query_has(const char *query, const char *name)
{
	const char *p = query;
	size_t nlen = strlen(name);

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len >= nlen && !strncmp(p, name, nlen) && (len == nlen || p[nlen] == '='))
			return true;
		p += len;
		if (*p == '&')
			p++;
	}
	return false;
}

int http_parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
	char a[32], b[32];
	const char *dash;
	uint64_t x, y;

	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0; /* absent, another unit, or several ranges: the whole object */
	h += 6;
	dash = strchr(h, '-');
	if (!dash || (size_t)(dash - h) >= sizeof a || strlen(dash + 1) >= sizeof b)
		return 0;
	memcpy(a, h, (size_t)(dash - h));
	a[dash - h] = '\0';
	snprintf(b, sizeof b, "%s", dash + 1);
	if (!a[0]) {
		if (parse_u64(b, UINT64_MAX, &y))
			return 0; /* "-", "-abc": malformed, so ignored like any other */
		if (y == 0 || size == 0)
			return -1;
		*start = y >= size ? 0 : size - y;
		*end = size - 1;
		return 1;
	}
	if (parse_u64(a, UINT64_MAX, &x))
		return 0;
	if (x >= size)
		return -1;
	if (!b[0]) {
		y = size - 1;
	} else {
		if (parse_u64(b, UINT64_MAX, &y) || y < x)
			return 0;
		if (y >= size)
			y = size - 1;
	}
	*start = x;
	*end = y;
	return 1;
}
