/*
 * uri — the small text parsers of the HTTP edge, kept apart from libmicrohttpd so
 * unit tests and fuzzers can reach them: percent-decoding, splitting a request
 * path into decoded segments, finding a query argument, and the Range header.
 *
 * Everything here is pure: no allocation, no I/O, bounded by the caller's buffers.
 * Decoding is strict. A '%' must be followed by two hex digits; %00 is refused,
 * since a C string would silently end there; '+' stays '+' (this is not form
 * encoding). Nothing is ever truncated: a result that does not fit is an error.
 */
#ifndef KINKO_HTTP_URI_H
#define KINKO_HTTP_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Percent-decodes [s, s+n) into out as a NUL-terminated string of *outlen bytes.
 * Bad or truncated escape, or %00 -> KINKO_EINVAL; more than cap - 1 bytes ->
 * KINKO_ELIMIT. out may be written on failure; *outlen only on success. */
int uri_pct_decode(const char *s, size_t n, char *out, size_t cap, size_t *outlen) KINKO_WUR;

/* Splits the path of a raw request URI (the part before '?') below `prefix`
 * (e.g. "/api/v1/", which must end in '/') into percent-decoded segments. The
 * decoded segments are stored NUL-separated in buf (cap bytes) and seg[i] points at
 * each. Path outside prefix, an empty segment ("a//b"; one trailing '/' is
 * ignored) or more than maxseg segments -> KINKO_ENOENT; bad percent-encoding (or
 * a segment that does not fit in buf) -> KINKO_EINVAL. On failure *nseg counts the
 * segments decoded before the error, so the caller can log how far the path made
 * sense. */
int uri_split_path(const char *uri, const char *prefix, char *buf, size_t cap, char **seg,
		   unsigned maxseg, unsigned *nseg, struct kinko_err *e) KINKO_WUR;

/* Finds the first "name=value" argument of a query string (the text after '?',
 * '&'-separated) and percent-decodes its value into out. No "name=" argument ->
 * KINKO_ENOENT; its value does not decode -> KINKO_EINVAL or KINKO_ELIMIT (as for
 * uri_pct_decode; later arguments of the same name are not consulted). */
int uri_query_arg(const char *query, const char *name, char *out, size_t cap,
		  size_t *outlen) KINKO_WUR;
/* Whether the query names the argument at all, as "name" or "name=...". */
bool uri_query_has(const char *query, const char *name);

/* Parses a Range header value for an object of `size` bytes. Only a single
 * "bytes=a-b", "bytes=a-" or "bytes=-n" range is honoured. Returns 1 with the
 * inclusive [*start, *end] clamped to the object; 0 to serve the whole object (no
 * header, another unit, several ranges, or a range that does not parse -- "-",
 * "-abc" -- or ends before it starts, as RFC 9110 asks); -1 when the range is
 * unsatisfiable and the answer must be 416: it starts at or after the end, any
 * range of an empty object, "-0". *start and *end are written only for 1. */
int http_parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end);

#endif
