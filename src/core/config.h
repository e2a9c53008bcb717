/*
 * config — kinko.conf, an INI file. Every setting has a secure default; the file
 * written by `kinko init` lists every key, commented, with its default. A bad value
 * is an error naming the file, line and reason, and start-up stops. Unknown keys are
 * errors too (a typo must not silently leave a default in place).
 */
#ifndef KINKO_CORE_CONFIG_H
#define KINKO_CORE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/cidr.h"
#include "core/err.h"

struct kinko_config {
	/* [server] */
	char listen[80];        /* "127.0.0.1:8443" or "[::1]:8443" */
	char allow_text[1024];  /* the allowlist as written */
	struct cidr_list allow; /* parsed */
	uint64_t max_header_bytes;
	uint64_t max_body_bytes;
	uint64_t max_json_bytes;
	uint64_t max_connections;
	uint64_t max_connections_per_ip;
	uint64_t max_uploads;
	bool syscall_filter; /* confine kinko serve with its seccomp filter */
	uint64_t block_failures; /* 0: never block an address */
	uint64_t block_window_seconds;
	uint64_t block_seconds;
	/* [auth] */
	uint64_t lockout_failures;
	uint64_t lockout_seconds;
	uint64_t session_idle_seconds;
	uint64_t session_max_seconds;
	bool require_totp;
	/* [vault] */
	char key_file[PATH_MAX]; /* empty: start sealed */
	/* [log] */
	char audit_sink[16]; /* journald, syslog, none */
	uint64_t checkpoint_seconds;
	/* [scan] */
	char clamd_socket[108];        /* relative paths are under the data directory */
	uint64_t signature_max_age;    /* seconds */
	uint64_t scan_timeout_seconds; /* for clamd's verdict after the last byte */
	bool scan_required;
	bool scan_pass_fd;             /* FILDES with a memfd instead of INSTREAM */
	uint64_t scan_memory_max;      /* pass_fd: bytes all scans may hold; 0: RAM / 2 */
};

void config_defaults(struct kinko_config *c);
/* Loads path over the defaults. A missing file is an error unless missing_ok. */
int config_load(const char *path, bool missing_ok, struct kinko_config *c,
		struct kinko_err *e) KINKO_WUR;
/* Writes the commented default file (mode 0600), refusing to overwrite. */
int config_write_default(const char *path, struct kinko_err *e) KINKO_WUR;
/* Prints effective settings, then one "warning:" line per setting that weakens a
 * checklist row. Returns the number of warnings. */
int config_report(const struct kinko_config *c, FILE *out);
/* Splits listen into host and port. */
int config_listen_addr(const struct kinko_config *c, char *host, size_t hostcap,
		       uint16_t *port, struct kinko_err *e) KINKO_WUR;

#endif
