/* package_internal — shared by the files of src/package/ only. */
#ifndef KINKO_PACKAGE_INTERNAL_H
#define KINKO_PACKAGE_INTERNAL_H

#include "crypto/hash.h"
#include "package/package.h"

/* A buffered reader with look-ahead over a kinko_reader. */
#define PKG_BR_CAP (256 * 1024)
struct pkg_br {
	const struct kinko_reader *r;
	uint8_t *buf;
	size_t pos, len;
	size_t cap; /* PKG_BR_CAP, or more after pkg_br_reserve */
	int eof;
	uint64_t consumed; /* bytes handed out so far (offset in the stream) */
	void *hash;        /* a struct kinko_sha256 fed with every byte consumed, or NULL */
};
int pkg_br_init(struct pkg_br *b, const struct kinko_reader *r) KINKO_WUR;
void pkg_br_free(struct pkg_br *b);
/* Grows the buffer to at least cap bytes (page-aligned, contents kept). */
int pkg_br_reserve(struct pkg_br *b, size_t cap) KINKO_WUR;
/* Makes at least want bytes (<= cap - 4096) available unless the stream ends
 * first; returns what is available in *avail. */
int pkg_br_fill(struct pkg_br *b, size_t want, size_t *avail, struct kinko_err *e) KINKO_WUR;
/* Copies exactly n bytes or fails with KINKO_EFORMAT ("truncated"). */
int pkg_br_read(struct pkg_br *b, uint8_t *out, size_t n, struct kinko_err *e) KINKO_WUR;
void pkg_br_skip(struct pkg_br *b, size_t n); /* n <= available */

/* One helper thread (par.c): pkg_par_start hands it fn(arg), pkg_par_wait waits
 * until that job is done. One job at a time; pkg_par_free waits for a running job,
 * then stops and joins the thread. NULL-safe free. */
struct pkg_par;
int pkg_par_new(struct pkg_par **out) KINKO_WUR;
void pkg_par_start(struct pkg_par *p, void (*fn)(void *arg), void *arg);
void pkg_par_wait(struct pkg_par *p);
void pkg_par_free(struct pkg_par *p);

/* bech32 (BIP 173) without the 90-character limit; hrp is lowercase. */
int pkg_bech32_encode(const char *hrp, const uint8_t *data, size_t n, char *out, size_t cap);
int pkg_bech32_decode(const char *s, char *hrp, size_t hrp_cap, uint8_t *data, size_t cap,
		      size_t *n);

int pkg_age_open(struct pkg_br *b, const struct package_key *key,
		 const struct package_limits *lim, const char *name,
		 const struct package_sink *sink, struct kinko_err *e) KINKO_WUR;
int pkg_zip_open(struct pkg_br *b, const struct package_key *key,
		 const struct package_limits *lim, const struct package_sink *sink,
		 struct kinko_err *e) KINKO_WUR;

#endif
