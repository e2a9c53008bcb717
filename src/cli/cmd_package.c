/*
 * cmd_package — `kinko package seal|open|notice`: offline commands over the
 * package module (files in, files out) and the password notice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/parse.h"
#include "core/tmpfile.h"
#include "core/wareki.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "crypto/password.h"
#include "package/package.h"

#define PW_MAX 1024
#define MAX_RECIPIENTS 64

/* Reads a password file: its first line, without the line end. The result is in
 * secure memory (free with kinko_secure_free). */
static int read_password_file(const char *path, char **pw, size_t *len, struct kinko_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t got = 0, n;
	int rc;

	if (fd < 0)
		return kinko_err_set(e, KINKO_EIO, "cannot open the password file: %s",
				     strerror(errno));
	buf = kinko_secure_alloc(PW_MAX + 2);
	if (!buf) {
		close(fd);
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	}
	struct kinko_reader r = {kinko_fd_read, &fd};
	rc = kinko_read_full(&r, (uint8_t *)buf, PW_MAX + 1, &got, e);
	close(fd);
	if (rc) {
		kinko_secure_free(buf);
		return rc;
	}
	n = 0;
	while (n < got && buf[n] != '\n' && buf[n] != '\r')
		n++;
	if (n > PW_MAX || (n == got && got > PW_MAX)) {
		kinko_secure_free(buf);
		return kinko_err_set(e, KINKO_EINVAL, "the password in the file is too long");
	}
	if (n == 0 || memchr(buf, '\0', n)) {
		kinko_secure_free(buf);
		return kinko_err_set(e, KINKO_EINVAL,
				     "the password file is empty (or its first line is)");
	}
	buf[n] = '\0';
	*pw = buf;
	*len = n;
	return 0;
}

/* Reads the X25519 identities of an age identity file (age-keygen's format). The
 * file is read into locked memory with read(2), never through stdio, and wiped. */
#define IDENTITY_FILE_MAX (64u * 1024)
static int read_identities(const char *path, uint8_t (*ids)[PACKAGE_X25519_LEN], size_t cap,
			   size_t *n, struct kinko_err *e)
{
	char *buf = kinko_secure_alloc(IDENTITY_FILE_MAX + 1), *line, *next;
	size_t len = 0, cnt = 0;
	int rc;

	if (!buf)
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	rc = cli_read_secret_file(path, buf, IDENTITY_FILE_MAX + 1, &len, e);
	if (rc == 0 && memchr(buf, '\0', len))
		rc = kinko_err_set(e, KINKO_EINVAL, "the identity file holds a NUL byte: it is not "
				   "a text file of age identities");
	for (line = buf; rc == 0 && line < buf + len; line = next) {
		size_t ll = strcspn(line, "\n");
		next = line + ll + 1; /* past the line end, or the NUL after the last line */
		line[ll] = '\0';
		while (ll > 0 && line[ll - 1] == '\r')
			line[--ll] = '\0';
		if (ll == 0 || line[0] == '#')
			continue;
		if (cnt == cap) {
			rc = kinko_err_set(e, KINKO_ELIMIT, "too many identities in the file");
			break;
		}
		rc = package_age_parse_identity(line, ids[cnt], e);
		if (rc)
			break;
		cnt++;
	}
	kinko_secure_free(buf);
	if (!rc && cnt == 0)
		rc = kinko_err_set(e, KINKO_EINVAL, "the identity file holds no identity");
	if (!rc)
		*n = cnt;
	return rc;
}

/* Output goes to a temporary file next to the target and takes its name only on
 * success, never over an existing file. */
static int out_open(struct kinko_tmpfile *o, const char *path, struct kinko_err *e)
{
	if (access(path, F_OK) == 0)
		return kinko_err_set(e, KINKO_EEXIST,
				     "the output file already exists; choose another name");
	return kinko_tmpfile_open(o, path, 0600, e);
}

static int out_commit(struct kinko_tmpfile *o, struct kinko_err *e)
{
	/* No fsync: a package cut short by a crash fails authentication when opened,
	 * and the rename still never shows a half-written file under the name while
	 * kinko runs. */
	return kinko_tmpfile_commit(o, 0, e);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Adds a regular file, or a folder's files recursively, under the zip name
 * zname. Symbolic links and special files are refused, never followed. */
static int zip_add_path(struct package_zip_writer *zw, int atfd, const char *path,
			const char *zname, int depth, struct kinko_err *e)
{
	int fd = openat(atfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int rc = 0;

	if (depth > 64)
		return kinko_err_set(e, KINKO_ELIMIT, "folders nested more than 64 deep");
	if (fd < 0 || fstat(fd, &st)) {
		rc = kinko_err_set(e, KINKO_EIO,
				   "cannot read an input (a symbolic link, or unreadable): %s",
				   strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		struct kinko_reader r = {kinko_fd_read, &fd};
		rc = package_zip_add_sized(zw, zname, st.st_mtime, st.st_size, &r, e);
	} else if (S_ISDIR(st.st_mode)) {
		DIR *d = fdopendir(fd);
		struct dirent **list = NULL;
		int n;
		if (!d) {
			close(fd);
			return kinko_err_set(e, KINKO_EIO, "cannot read a folder: %s", strerror(errno));
		}
		fd = -1;
		n = scandirat(dirfd(d), ".", &list, NULL, alphasort);
		if (n < 0)
			rc = kinko_err_set(e, KINKO_EIO, "cannot list a folder: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			const char *nm = list[i]->d_name;
			if (!rc && strcmp(nm, ".") && strcmp(nm, "..")) {
				struct kbuf child;
				kbuf_init(&child, PACKAGE_NAME_MAX + 1);
				if (kbuf_appendf(&child, "%s/%s", zname, nm))
					rc = kinko_err_set(e, KINKO_ELIMIT, "a path is too long for a zip");
				else
					rc = zip_add_path(zw, dirfd(d), nm, kbuf_str(&child), depth + 1, e);
				kbuf_free(&child);
			}
			free(list[i]);
		}
		free(list);
		closedir(d);
	} else {
		rc = kinko_err_set(e, KINKO_EINVAL,
				   "an input is neither a regular file nor a folder; it is refused");
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static void seal_usage(void)
{
	fputs("usage: kinko package seal --format age|zip --out FILE [--password-file F]\n"
	      "                          [--recipient age1...]... [--level 1-9]\n"
	      "                          [--scrypt-log-n N] INPUT...\n",
	      stderr);
}

int cmd_package_seal(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"out", required_argument, NULL, 'o'},
		{"password-file", required_argument, NULL, 'p'},
		{"recipient", required_argument, NULL, 'r'},
		{"level", required_argument, NULL, 'l'},
		{"scrypt-log-n", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *format = NULL, *out = NULL, *pwfile = NULL;
	uint8_t(*recips)[PACKAGE_X25519_LEN] = NULL;
	size_t nrecips = 0, pwlen = 0;
	uint64_t level = 1, log_n = PACKAGE_AGE_DEFAULT_LOG_N;
	struct kinko_err e = {0};
	struct kinko_tmpfile of = {.fd = -1};
	char *pw = NULL;
	int c, rc = 0, generated = 0, status = 1;

	recips = calloc(MAX_RECIPIENTS, sizeof *recips);
	if (!recips)
		return 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		case 'r':
			if (nrecips == MAX_RECIPIENTS) {
				cli_usage_error("too many recipients");
				goto usage;
			}
			if (package_age_parse_recipient(optarg, recips[nrecips], &e)) {
				cli_fail(&e);
				goto done;
			}
			nrecips++;
			break;
		case 'l':
			if (parse_u64(optarg, 9, &level) || level < 1) {
				cli_usage_error("--level must be 1..9");
				goto usage;
			}
			break;
		case 'n':
			if (parse_u64(optarg, PACKAGE_AGE_MAX_LOG_N, &log_n) || log_n < 10) {
				cli_usage_error("--scrypt-log-n must be 10..%d", PACKAGE_AGE_MAX_LOG_N);
				goto usage;
			}
			break;
		case 'h':
			seal_usage();
			status = 0;
			goto done;
		default:
			goto usage;
		}
	}
	if (!format || (strcmp(format, "age") && strcmp(format, "zip"))) {
		cli_usage_error("--format age or --format zip is required");
		goto usage;
	}
	if (!out || optind >= argc) {
		cli_usage_error("--out FILE and at least one INPUT are required");
		goto usage;
	}
	if (!strcmp(format, "age") && argc - optind != 1) {
		cli_usage_error("an age package holds exactly one file; use zip for several");
		goto usage;
	}
	if (nrecips && (!strcmp(format, "zip") || pwfile)) {
		cli_usage_error("--recipient is for age packages without --password-file");
		goto usage;
	}
	if (pwfile) {
		if (read_password_file(pwfile, &pw, &pwlen, &e)) {
			cli_fail(&e);
			goto done;
		}
	} else if (!nrecips) {
		pw = kinko_secure_alloc(128);
		if (!pw || password_generate(PASSWORD_MIN_BITS, pw, 128)) {
			fputs("kinko: cannot generate a password\n", stderr);
			goto done;
		}
		pwlen = strlen(pw);
		generated = 1;
	}
	if (out_open(&of, out, &e)) {
		cli_fail(&e);
		goto done;
	}
	struct kinko_writer w = {kinko_fd_write, &of.fd};
	if (!strcmp(format, "age")) {
		int fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
		struct kinko_reader r = {kinko_fd_read, &fd};
		struct package_age_seal_opts o = {pw, pwlen, (int)log_n,
						  (const uint8_t(*)[PACKAGE_X25519_LEN])recips,
						  nrecips};
		if (fd < 0) {
			rc = kinko_err_set(&e, KINKO_EIO, "cannot open input %d: %s", 1,
					   strerror(errno));
		} else {
			rc = package_age_seal(&o, &r, &w, &e);
			close(fd);
		}
	} else {
		struct package_zip_writer *zw = NULL;
		rc = package_zip_writer_new(&w, pw, pwlen, (int)level, &zw, &e);
		for (int i = optind; !rc && i < argc; i++) {
			const char *bn = base_name(argv[i]);
			if (!*bn) {
				rc = kinko_err_set(&e, KINKO_EINVAL,
						   "input %d has no name (a trailing '/'?)",
						   i - optind + 1);
				break;
			}
			rc = zip_add_path(zw, AT_FDCWD, argv[i], bn, 0, &e);
		}
		if (!rc)
			rc = package_zip_finish(zw, &e);
		package_zip_writer_free(zw);
	}
	if (!rc)
		rc = out_commit(&of, &e);
	if (rc) {
		cli_fail(&e);
		goto done;
	}
	if (generated) {
		printf("パスワード / password: %s\n", pw);
		fputs("kinko: this password is shown only once; send it separately from the "
		      "package (kinko package notice makes the notice)\n",
		      stderr);
	}
	status = 0;
	goto done;
usage:
	seal_usage();
	status = 2;
done:
	kinko_tmpfile_discard(&of);
	if (pw)
		kinko_secure_free(pw);
	free(recips);
	return status;
}

static void open_usage(void)
{
	fputs("usage: kinko package open (--password-file F | --identity F) --out DIR\n"
	      "                          [--max-entries N] [--max-bytes SIZE] [--name NAME]\n"
	      "                          PACKAGE\n",
	      stderr);
}

struct count_sink {
	struct package_sink inner;
	uint64_t entries;
};

static int cs_begin(void *ctx, const char *name, int is_dir, int64_t mtime,
		    struct kinko_writer *w, struct kinko_err *e)
{
	struct count_sink *cs = ctx;

	cs->entries++;
	return cs->inner.begin(cs->inner.ctx, name, is_dir, mtime, w, e);
}
static int cs_end(void *ctx, struct kinko_err *e)
{
	struct count_sink *cs = ctx;
	return cs->inner.end(cs->inner.ctx, e);
}
static int cs_commit(void *ctx, struct kinko_err *e)
{
	struct count_sink *cs = ctx;
	return cs->inner.commit(cs->inner.ctx, e);
}
static void cs_abort(void *ctx)
{
	struct count_sink *cs = ctx;
	cs->inner.abort(cs->inner.ctx);
}

int cmd_package_open(int argc, char **argv)
{
	static const struct option opts[] = {
		{"password-file", required_argument, NULL, 'p'},
		{"identity", required_argument, NULL, 'i'},
		{"out", required_argument, NULL, 'o'},
		{"max-entries", required_argument, NULL, 'E'},
		{"max-bytes", required_argument, NULL, 'B'},
		{"name", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *pwfile = NULL, *idfile = NULL, *out = NULL, *name = NULL;
	struct package_limits lim = {PACKAGE_DEFAULT_MAX_ENTRIES, PACKAGE_DEFAULT_MAX_BYTES, 0};
	struct package_key key = {0};
	struct kinko_err e = {0};
	struct package_dir_sink *ds = NULL;
	struct count_sink cs = {0};
	struct package_sink sink;
	enum package_format fmt = PACKAGE_UNKNOWN;
	uint8_t(*ids)[PACKAGE_X25519_LEN] = NULL;
	char *pw = NULL, *derived = NULL;
	int c, fd = -1, status = 1, made_dir = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pwfile = optarg;
			break;
		case 'i':
			idfile = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'E':
			if (parse_u64(optarg, UINT64_MAX, &lim.max_entries)) {
				cli_usage_error("--max-entries needs a number");
				goto usage;
			}
			break;
		case 'B':
			if (parse_size(optarg, UINT64_MAX, &lim.max_bytes)) {
				cli_usage_error("--max-bytes needs a size such as 500M or 16G");
				goto usage;
			}
			break;
		case 'N':
			name = optarg;
			break;
		case 'h':
			open_usage();
			return 0;
		default:
			goto usage;
		}
	}
	if (!out || optind != argc - 1 || (!pwfile == !idfile)) {
		cli_usage_error("give --out DIR, one PACKAGE, and one of --password-file or "
				"--identity");
		goto usage;
	}
	if (pwfile && read_password_file(pwfile, &pw, &key.password_len, &e)) {
		cli_fail(&e);
		goto done;
	}
	key.password = pw;
	if (idfile) {
		ids = kinko_secure_alloc(MAX_RECIPIENTS * sizeof *ids);
		if (!ids || read_identities(idfile, ids, MAX_RECIPIENTS, &key.nidentities, &e)) {
			if (!ids)
				kinko_err_set(&e, KINKO_ENOMEM, "out of secure memory");
			cli_fail(&e);
			goto done;
		}
		key.identities = (const uint8_t(*)[PACKAGE_X25519_LEN])ids;
	}
	if (!name) {
		const char *b = base_name(argv[optind]);
		size_t bl = strlen(b);
		if (bl > 4 && !strcmp(b + bl - 4, ".age"))
			bl -= 4;
		derived = strndup(b, bl);
		if (!derived)
			goto done;
		name = derived;
	}
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kinko_err_set(&e, KINKO_EIO, "cannot open the package: %s", strerror(errno));
		cli_fail(&e);
		goto done;
	}
	if (mkdir(out, 0700) == 0)
		made_dir = 1;
	else if (errno != EEXIST) {
		kinko_err_set(&e, KINKO_EIO, "cannot create the output folder: %s",
			      strerror(errno));
		cli_fail(&e);
		goto done;
	}
	if (package_dir_sink_new(out, &ds, &cs.inner, &e)) {
		cli_fail(&e);
		goto done;
	}
	sink = (struct package_sink){cs_begin, cs_end, cs_commit, cs_abort, &cs};
	struct kinko_reader r = {kinko_fd_read, &fd};
	if (package_open(&r, &key, &lim, name, &sink, &fmt, &e)) {
		cli_fail(&e);
		goto done;
	}
	printf("opened %s package: %llu entr%s\n", fmt == PACKAGE_AGE ? "age" : "zip",
	       (unsigned long long)cs.entries, cs.entries == 1 ? "y" : "ies");
	status = 0;
	goto done;
usage:
	open_usage();
	status = 2;
done:
	package_dir_sink_free(ds);
	if (status && made_dir)
		(void)rmdir(out);
	if (fd >= 0)
		close(fd);
	if (pw)
		kinko_secure_free(pw);
	if (ids)
		kinko_secure_free(ids);
	free(derived);
	return status;
}

/* --- notice ------------------------------------------------------------------ */

static void notice_usage(void)
{
	fputs("usage: kinko package notice PACKAGE [--format text|html] [--issuer TEXT]\n"
	      "                            [--addressee TEXT] [--password-file F]\n"
	      "                            [--date YYYY-MM-DD]\n",
	      stderr);
}

static int append_html(struct kbuf *b, const char *s)
{
	for (; *s; s++) {
		int rc;
		switch (*s) {
		case '<':
			rc = kbuf_append_str(b, "&lt;");
			break;
		case '>':
			rc = kbuf_append_str(b, "&gt;");
			break;
		case '&':
			rc = kbuf_append_str(b, "&amp;");
			break;
		case '"':
			rc = kbuf_append_str(b, "&quot;");
			break;
		case '\'':
			rc = kbuf_append_str(b, "&#39;");
			break;
		default:
			rc = kbuf_append(b, s, 1);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void group_thousands(uint64_t v, char *out, size_t cap)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v), o = 0;

	for (int i = 0; i < n && (size_t)o + 2 < cap; i++) {
		if (i && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = tmp[i];
	}
	out[o] = '\0';
}

int cmd_package_notice(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"issuer", required_argument, NULL, 'I'},
		{"addressee", required_argument, NULL, 'A'},
		{"password-file", required_argument, NULL, 'p'},
		{"date", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *format = "text", *issuer = "", *addressee = "", *pwfile = NULL, *date = NULL;
	struct kinko_err e = {0};
	struct kinko_sha256 sha = {0};
	struct civil_date d;
	struct kbuf b;
	uint8_t digest[32], head[32], *buf = NULL;
	char hex[65], id[24], wareki[64], size_s[40], *pw = NULL;
	size_t pwlen = 0, headlen = 0;
	uint64_t size = 0;
	int c, fd = -1, status = 1, html;
	const char *kind;

	kbuf_init(&b, 1 << 20);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'I':
			issuer = optarg;
			break;
		case 'A':
			addressee = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		case 'd':
			date = optarg;
			break;
		case 'h':
			notice_usage();
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || (strcmp(format, "text") && strcmp(format, "html"))) {
		cli_usage_error("give one PACKAGE; --format is text or html");
		goto usage;
	}
	if (!text_ok(issuer) || !text_ok(addressee) || strlen(issuer) > 400 ||
	    strlen(addressee) > 400) {
		cli_usage_error("--issuer and --addressee must be one line of at most 400 bytes");
		goto usage;
	}
	html = !strcmp(format, "html");
	if (date) {
		uint64_t y, m, dd;
		char tmp[16];
		if (strlen(date) != 10 || date[4] != '-' || date[7] != '-') {
			cli_usage_error("--date must be YYYY-MM-DD");
			goto usage;
		}
		memcpy(tmp, date, 10);
		tmp[4] = tmp[7] = tmp[10] = '\0';
		if (parse_u64(tmp, 9999, &y) || parse_u64(tmp + 5, 12, &m) ||
		    parse_u64(tmp + 8, 31, &dd) || m < 1 || dd < 1) {
			cli_usage_error("--date must be YYYY-MM-DD");
			goto usage;
		}
		d = (struct civil_date){(int)y, (int)m, (int)dd};
	} else {
		d = civil_from_unix((int64_t)time(NULL), 9 * 3600);
	}
	if (wareki_format(d, wareki, sizeof wareki)) {
		kinko_err_set(&e, KINKO_EINVAL, "the date is before the Shōwa era");
		cli_fail(&e);
		goto done;
	}
	if (pwfile && read_password_file(pwfile, &pw, &pwlen, &e)) {
		cli_fail(&e);
		goto done;
	}
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	buf = malloc(1 << 16);
	if (fd < 0 || !buf || kinko_sha256_init(&sha)) {
		kinko_err_set(&e, KINKO_EIO, "cannot read the package: %s", strerror(errno));
		cli_fail(&e);
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			kinko_sha256_abort(&sha);
			kinko_err_set(&e, KINKO_EIO, "reading the package: %s", strerror(errno));
			cli_fail(&e);
			goto done;
		}
		if (n == 0)
			break;
		if (headlen < sizeof head) {
			size_t t = sizeof head - headlen < (size_t)n ? sizeof head - headlen : (size_t)n;
			memcpy(head + headlen, buf, t);
			headlen += t;
		}
		kinko_sha256_update(&sha, buf, (size_t)n);
		size += (uint64_t)n;
	}
	kinko_sha256_final(&sha, digest);
	switch (package_detect(head, headlen)) {
	case PACKAGE_AGE:
		kind = "age";
		break;
	case PACKAGE_ZIP:
		kind = "zip (AES-256)";
		break;
	default:
		kinko_err_set(&e, KINKO_EFORMAT, "the file is not an age or zip package");
		cli_fail(&e);
		goto done;
	}
	format_hex(digest, sizeof digest, hex);
	/* Package ID: the first 64 bits of the SHA-256, upper case in groups of 4. */
	for (int i = 0, o = 0; i < 16; i++) {
		if (i && i % 4 == 0)
			id[o++] = '-';
		id[o++] = (char)(hex[i] >= 'a' ? hex[i] - 'a' + 'A' : hex[i]);
		id[o] = '\0';
	}
	group_thousands(size, size_s, sizeof size_s);
	{
		const char *fname = base_name(argv[optind]);
		const char *pws = pw ? pw : "";
		char greg[16];
		int rc = 0;
		(void)snprintf(greg, sizeof greg, "%04d-%02d-%02d", d.year, d.month, d.day);
		if (!html) {
			rc = kbuf_appendf(
				&b,
				"パスワード通知書 / Password notice\n"
				"==================================\n\n"
				"発行日 / Date of issue        : %s (%s)\n"
				"発行者 / Issuer               : %s\n"
				"宛先 / Addressee              : %s\n\n"
				"パッケージID / Package ID     : %s\n"
				"ファイル名 / File name        : %s\n"
				"形式 / Format                 : %s\n"
				"サイズ / Size                 : %s バイト / bytes\n"
				"SHA-256                       : %s\n\n"
				"パスワード / Password         : %s\n\n"
				"注意 / Notes\n"
				"・このパスワードは、パッケージ（媒体・送付ファイル）とは別の機会・別の経路で"
				"お渡しします。\n"
				"  This password travels separately from the package, on another "
				"occasion and by another route.\n"
				"・受領後、ファイルの SHA-256 が上記と一致することを確認してください。\n"
				"  On receipt, check that the file's SHA-256 matches the value above.\n"
				"・開封後、この通知書はシュレッダー等で確実に廃棄してください。\n"
				"  After opening the package, shred this notice.\n"
				"・開き方: zip は 7-Zip 等でパスワードを入力して展開、age は age -d で"
				"復号します。\n"
				"  To open: a zip with 7-Zip (enter the password); an age file with "
				"age -d.\n",
				wareki, greg, issuer, addressee, id, fname, kind, size_s, hex,
				pw ? pws : "______________________________ (手書き / write by hand)");
		} else {
			rc = kbuf_append_str(
				&b,
				"<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta "
				"charset=\"utf-8\">\n<title>パスワード通知書 / Password "
				"notice</title>\n<style>\nbody{font-family:\"IPAexGothic\","
				"\"Noto Sans CJK JP\",sans-serif;max-width:46em;margin:2em "
				"auto;}\nth{text-align:left;padding-right:1em;vertical-align:top;"
				"font-weight:normal;}\ntd.pw{font-family:monospace;font-size:1.4em;"
				"letter-spacing:.1em;}\n.en{color:#444;font-size:.85em;}\n"
				"@media print{body{margin:0;}}\n</style>\n</head>\n<body>\n"
				"<h1>パスワード通知書 <span class=\"en\">Password notice</span></h1>\n"
				"<table>\n");
			struct {
				const char *ja, *en, *val;
				int mono;
			} rows[] = {
				{"発行日", "Date of issue", NULL, 0},
				{"発行者", "Issuer", issuer, 0},
				{"宛先", "Addressee", addressee, 0},
				{"パッケージID", "Package ID", id, 1},
				{"ファイル名", "File name", fname, 0},
				{"形式", "Format", kind, 0},
				{"サイズ", "Size", NULL, 0},
				{"SHA-256", "", hex, 1},
				{"パスワード", "Password", pw ? pws : "", 2},
			};
			for (size_t i = 0; !rc && i < sizeof rows / sizeof rows[0]; i++) {
				rc = kbuf_appendf(&b, "<tr><th>%s <span class=\"en\">%s</span></th><td%s>",
						  rows[i].ja, rows[i].en,
						  rows[i].mono == 2 ? " class=\"pw\"" : "");
				if (rc)
					break;
				if (i == 0)
					rc = kbuf_appendf(&b, "%s（%s）", wareki, greg);
				else if (i == 6)
					rc = kbuf_appendf(&b, "%s バイト <span class=\"en\">bytes</span>",
							  size_s);
				else if (rows[i].mono == 1)
					rc = kbuf_appendf(&b, "<code>%s</code>", rows[i].val);
				else
					rc = append_html(&b, rows[i].val);
				rc = rc ? rc : kbuf_append_str(&b, "</td></tr>\n");
			}
			rc = rc ? rc
				: kbuf_append_str(
					  &b,
					  "</table>\n<h2>注意 <span class=\"en\">Notes</span></h2>\n<ul>\n"
					  "<li>このパスワードは、パッケージ（媒体・送付ファイル）とは別の機会"
					  "・別の経路でお渡しします。<br><span class=\"en\">This password "
					  "travels separately from the package, on another occasion and by "
					  "another route.</span></li>\n"
					  "<li>受領後、ファイルの SHA-256 が上記と一致することを確認してくだ"
					  "さい。<br><span class=\"en\">On receipt, check that the file's "
					  "SHA-256 matches the value above.</span></li>\n"
					  "<li>開封後、この通知書はシュレッダー等で確実に廃棄してください。"
					  "<br><span class=\"en\">After opening the package, shred this "
					  "notice.</span></li>\n"
					  "<li>開き方: zip は 7-Zip 等でパスワードを入力して展開、age は "
					  "<code>age -d</code> で復号します。<br><span class=\"en\">To open: "
					  "a zip with 7-Zip (enter the password); an age file with "
					  "<code>age -d</code>.</span></li>\n</ul>\n</body>\n</html>\n");
		}
		if (rc) {
			kinko_err_set(&e, KINKO_ELIMIT, "the notice does not fit");
			cli_fail(&e);
			goto done;
		}
	}
	if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout)) {
		fputs("kinko: cannot write the notice\n", stderr);
		goto done;
	}
	status = 0;
	goto done;
usage:
	notice_usage();
	status = 2;
done:
	kbuf_free(&b);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (pw)
		kinko_secure_free(pw);
	return status;
}
