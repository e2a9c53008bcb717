/*
 * tls_int — helpers shared by the tls/ sources; not part of the module's API.
 */
#ifndef KINKO_TLS_TLS_INT_H
#define KINKO_TLS_TLS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/err.h"

#define TLS_FILE_MAX (1024 * 1024) /* no PEM file of ours comes near this */

/* A file's contents, NUL-terminated; in secure memory when secure is set. */
struct tls_file {
	char *data;
	size_t len;
	int secure;
	mode_t mode;
};

/* Joins dir and name into out; KINKO_EINVAL if it does not fit. */
int tls_path(char *out, size_t outlen, const char *dir, const char *name,
	     struct kinko_err *e) KINKO_WUR;
int tls_file_read(const char *path, int secure, struct tls_file *out,
		  struct kinko_err *e) KINKO_WUR;
void tls_file_free(struct tls_file *f);
/* Writes a new file atomically with the given mode; KINKO_EEXIST if path exists. */
int tls_file_write_new(const char *path, const void *p, size_t n, mode_t mode,
		       struct kinko_err *e) KINKO_WUR;

/* Lowercase hex SHA-256 of the certificate's DER encoding. */
int tls_crt_fingerprint(gnutls_x509_crt_t crt, char out[65]) KINKO_WUR;
/* "2026-11-26 07:00:00 UTC" */
void tls_format_time(int64_t t, char *out, size_t outlen);
/* Canonical lowercase UUID text (36 characters). */
int tls_uuid_valid(const char *s);
/* 1..TLS_USER_NAME_MAX bytes of strict UTF-8 (no overlong forms, surrogates or
 * C0/C1 control characters). */
int tls_user_name_valid(const char *s);

#endif
