/*
 * package — encrypted packages for handing data to the ward and receiving data
 * from it (checklist O5): age (age-encryption.org/v1; scrypt passphrase and
 * X25519 recipients) and zip with WinZip AES-256 (AE-2) entries.
 *
 * Streams in, streams out: sealing reads kinko_readers and writes one
 * kinko_writer; opening reads one kinko_reader and hands every entry to a sink.
 * Nothing here prints, touches a terminal or assumes a file system, except
 * package_dir_sink (package_dir.c), a sink that extracts into a directory.
 * Everything runs in constant memory whatever the size of the content.
 *
 * Opening is strict: every entry name is checked (package_name_check), counts and
 * unpacked bytes are bounded (struct package_limits), zip entries must be AES-256
 * encrypted (never ZipCrypto, never plain), and links or device entries are
 * refused. Content reaches the sink before the final authentication check of its
 * entry or archive: a sink must treat everything as unverified until
 * package_open returns 0, and discard it otherwise (sink->abort is called).
 */
#ifndef KINKO_PACKAGE_PACKAGE_H
#define KINKO_PACKAGE_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/stream.h"

enum package_format { PACKAGE_UNKNOWN = 0, PACKAGE_AGE = 1, PACKAGE_ZIP = 2 };

#define PACKAGE_X25519_LEN 32
#define PACKAGE_DEFAULT_MAX_ENTRIES 10000
#define PACKAGE_DEFAULT_MAX_BYTES ((uint64_t)16 << 30)
#define PACKAGE_AGE_DEFAULT_LOG_N 18 /* what age itself uses */
#define PACKAGE_AGE_MAX_LOG_N 22     /* the most work a package may ask of us */
#define PACKAGE_NAME_MAX 1024

struct package_limits {
	uint64_t max_entries;
	uint64_t max_bytes;   /* total unpacked bytes */
	int max_scrypt_log_n; /* age: most scrypt work accepted; 0 means PACKAGE_AGE_MAX_LOG_N */
};

/* What opens a package: a password (age scrypt, zip), or X25519 identities (age).
 * The caller keeps ownership; secrets should live in secure memory. */
struct package_key {
	const char *password;
	size_t password_len;
	const uint8_t (*identities)[PACKAGE_X25519_LEN];
	size_t nidentities;
	/* May be NULL. derive_begin is called right before an expensive key
	 * derivation (age's scrypt, after the whole header has been read and checked);
	 * non-zero refuses the package with that code. derived is called when it is
	 * over and its memory freed, and again when package_open returns: the callee
	 * must take only the first call after a derive_begin into account. A zip's
	 * per-entry PBKDF2 is cheap and calls neither. */
	int (*derive_begin)(void *ctx, struct kinko_err *e);
	void (*derived)(void *ctx);
	void *derived_ctx;
};

/* --- sealing -------------------------------------------------------------- */

/* age: exactly one of password (scrypt, work factor 2^scrypt_log_n, 0 means the
 * default) or recipients (X25519 public keys) is given. */
struct package_age_seal_opts {
	const char *password;
	size_t password_len;
	int scrypt_log_n;
	const uint8_t (*recipients)[PACKAGE_X25519_LEN];
	size_t nrecipients;
};
int package_age_seal(const struct package_age_seal_opts *o, const struct kinko_reader *in,
		     const struct kinko_writer *out, struct kinko_err *e) KINKO_WUR;

/* zip: a writer that adds entries one by one, each AES-256 (AE-2) encrypted and
 * deflated (level 1..9), streamed with data descriptors (a stored entry of
 * unknown size could not be read back as a stream, so there is no level 0). Names are UTF-8
 * (the language-encoding flag is set) and must pass package_name_check. */
struct package_zip_writer;
int package_zip_writer_new(const struct kinko_writer *out, const char *password,
			   size_t password_len, int level, struct package_zip_writer **zw,
			   struct kinko_err *e) KINKO_WUR;
int package_zip_add(struct package_zip_writer *zw, const char *name, int64_t mtime,
		    const struct kinko_reader *content, struct kinko_err *e) KINKO_WUR;
/* The same for content of a known size (a regular file's st_size; -1: unknown).
 * Incompressible content of known size is stored rather than deflated, which
 * opens faster; content of another length than size fails with KINKO_EIO. */
int package_zip_add_sized(struct package_zip_writer *zw, const char *name, int64_t mtime,
			  int64_t size, const struct kinko_reader *content,
			  struct kinko_err *e) KINKO_WUR;
/* Writes the central directory and the integrity comment. */
int package_zip_finish(struct package_zip_writer *zw, struct kinko_err *e) KINKO_WUR;
void package_zip_writer_free(struct package_zip_writer *zw);

/* --- opening -------------------------------------------------------------- */

/* Receives the entries of a package in order. begin() opens an entry (name already
 * checked; directories have no content) and fills *w with the writer for its
 * content; end() closes it; commit() runs once after everything verified; abort()
 * runs instead on any failure and must leave nothing behind. */
struct package_sink {
	int (*begin)(void *ctx, const char *name, int is_dir, int64_t mtime,
		     struct kinko_writer *w, struct kinko_err *e);
	int (*end)(void *ctx, struct kinko_err *e);
	int (*commit)(void *ctx, struct kinko_err *e);
	void (*abort)(void *ctx);
	void *ctx;
};

/* age_name names the single file an age package holds (age has no names inside).
 * The format is detected from the first bytes. On success *format (if non-NULL)
 * is set. */
int package_open(const struct kinko_reader *in, const struct package_key *key,
		 const struct package_limits *lim, const char *age_name,
		 const struct package_sink *sink, enum package_format *format,
		 struct kinko_err *e) KINKO_WUR;

/* The format from a package's first bytes (at least 4 are needed). */
enum package_format package_detect(const uint8_t *p, size_t n);

/* Accepts a relative UTF-8 path of '/'-separated components: no empty, "." or ".."
 * component, no leading '/', no '\\', no ':', no control characters, at most
 * PACKAGE_NAME_MAX bytes. A trailing '/' (directory) is allowed. */
int package_name_check(const char *name, size_t len, struct kinko_err *e) KINKO_WUR;

/* A sink that extracts into the existing directory dir: entries go to a fresh
 * hidden staging directory inside dir and are renamed into place by commit() only
 * when every entry verified; abort() removes the staging directory. commit() also
 * refuses to replace anything that already exists in dir. */
struct package_dir_sink;
int package_dir_sink_new(const char *dir, struct package_dir_sink **ds, struct package_sink *out,
			 struct kinko_err *e) KINKO_WUR;
void package_dir_sink_free(struct package_dir_sink *ds);

/* --- age keys (bech32, as age-keygen writes them) ---------------------------- */

/* "age1..." -> public key; "AGE-SECRET-KEY-1..." -> secret key. */
int package_age_parse_recipient(const char *s, uint8_t pub[PACKAGE_X25519_LEN],
				struct kinko_err *e) KINKO_WUR;
int package_age_parse_identity(const char *s, uint8_t sec[PACKAGE_X25519_LEN],
			       struct kinko_err *e) KINKO_WUR;
/* Writes "age1..." (cap >= 63) / "AGE-SECRET-KEY-1..." (cap >= 75). */
int package_age_format_recipient(const uint8_t pub[PACKAGE_X25519_LEN], char *out,
				 size_t cap) KINKO_WUR;
int package_age_format_identity(const uint8_t sec[PACKAGE_X25519_LEN], char *out,
				size_t cap) KINKO_WUR;

/* --- the age header, exposed for tests and the fuzzer --------------------- */

#define AGE_MAX_STANZAS 32
#define AGE_MAX_ARGS 8
#define AGE_HEADER_MAX (64 * 1024)

struct age_stanza {
	const char *args[AGE_MAX_ARGS]; /* args[0] is the type; point into h->text */
	size_t nargs;
	uint8_t *body;
	size_t body_len;
};

struct age_header {
	char *text; /* a copy of the header with NULs at argument ends */
	uint8_t *bodies;
	struct age_stanza st[AGE_MAX_STANZAS];
	size_t nst;
	uint8_t mac[32];
	size_t mac_covered; /* bytes covered by the MAC (up to and including "---") */
	size_t len;         /* bytes of the header including its final newline */
};

/* Parses a header at the start of p (n bytes, perhaps followed by the payload).
 * KINKO_EFORMAT with a message on anything not exactly as the spec says. */
int age_header_parse(const uint8_t *p, size_t n, struct age_header *h,
		     struct kinko_err *e) KINKO_WUR;
void age_header_free(struct age_header *h);

#endif
