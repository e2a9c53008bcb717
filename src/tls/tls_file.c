#include "tls/tls_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/tmpfile.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

int tls_path(char *out, size_t outlen, const char *dir, const char *name, struct kinko_err *e)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the PKI directory path is too long: use a shorter path");
	return 0;
}

static void file_release(char *p, size_t cap, int secure)
{
	if (!p)
		return;
	if (secure) {
		kinko_secure_free(p);
	} else {
		kinko_wipe(p, cap);
		free(p);
	}
}

int tls_file_read(const char *path, int secure, struct tls_file *out, struct kinko_err *e)
{
	struct stat st;
	char *p;
	size_t len = 0, cap;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return kinko_err_set(e, KINKO_ENOENT,
					     "%s does not exist: check the PKI directory "
					     "(`kinko init` creates it)",
					     path);
		return kinko_err_set(e, KINKO_EIO, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kinko_err_set(e, KINKO_EIO, "%s is not a regular file", path);
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > TLS_FILE_MAX) {
		close(fd);
		return kinko_err_set(e, KINKO_ELIMIT, "%s is larger than %d bytes", path,
				     TLS_FILE_MAX);
	}
	cap = (size_t)st.st_size + 1;
	p = secure ? kinko_secure_alloc(cap) : malloc(cap);
	if (!p) {
		close(fd);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory reading %s", path);
	}
	while (len < cap - 1) {
		ssize_t r = read(fd, p + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			close(fd);
			file_release(p, cap, secure);
			return kinko_err_set(e, KINKO_EIO, "cannot read %s: %s", path,
					     strerror(err));
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	p[len] = '\0';
	out->data = p;
	out->len = len;
	out->secure = secure;
	out->mode = st.st_mode & 07777;
	return 0;
}

void tls_file_free(struct tls_file *f)
{
	if (!f || !f->data)
		return;
	file_release(f->data, f->len + 1, f->secure);
	f->data = NULL;
	f->len = 0;
}

int tls_file_write_new(const char *path, const void *p, size_t n, mode_t mode,
		       struct kinko_err *e)
{
	/* Never replaces an existing file; durable once it returns. */
	return kinko_file_write(path, p, n, mode, KINKO_TMPFILE_DURABLE, e);
}

int tls_crt_fingerprint(gnutls_x509_crt_t crt, char out[65])
{
	gnutls_datum_t der = {NULL, 0};
	uint8_t d[KINKO_SHA256_LEN];
	int rc;

	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
		return KINKO_EFORMAT;
	rc = kinko_sha256(der.data, der.size, d);
	gnutls_free(der.data);
	if (rc)
		return rc;
	format_hex(d, sizeof d, out);
	return 0;
}

void tls_format_time(int64_t t, char *out, size_t outlen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outlen, "@%lld", (long long)t);
}

int tls_uuid_valid(const char *s)
{
	size_t i;

	for (i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}
