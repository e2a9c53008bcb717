#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "core/buf.h"
#include "core/parse.h"
#include "core/stream.h"
#include "core/tmpfile.h"

enum opt_type { OPT_U64, OPT_SIZE, OPT_BOOL, OPT_STR, OPT_CIDRS };

struct opt {
	const char *section;
	const char *name;
	enum opt_type type;
	size_t off;
	size_t cap; /* strings */
	uint64_t min, max;
	const char *def;
	const char *help;
};

#define OFF(f) offsetof(struct kinko_config, f)
#define CAP(f) sizeof(((struct kinko_config *)0)->f)

static const struct opt opts[] = {
	{"server", "listen", OPT_STR, OFF(listen), CAP(listen), 0, 0, "127.0.0.1:8443",
	 "Address and port to listen on (loopback by default)."},
	{"server", "allow", OPT_CIDRS, OFF(allow_text), CAP(allow_text), 0, 0,
	 "127.0.0.0/8, ::1/128",
	 "Client addresses allowed to connect (checklist S1). Others are refused at accept."},
	{"server", "max_header_bytes", OPT_SIZE, OFF(max_header_bytes), 0, 1024, 1 << 20, "16K",
	 "Largest request header block."},
	{"server", "max_body_bytes", OPT_SIZE, OFF(max_body_bytes), 0, 1024,
	 1024ull * 1024 * 1024 * 1024, "64G", "Largest upload."},
	{"server", "max_json_bytes", OPT_SIZE, OFF(max_json_bytes), 0, 1024, 16 << 20, "64K",
	 "Largest JSON request body."},
	{"server", "max_connections", OPT_U64, OFF(max_connections), 0, 1, 10000, "256",
	 "Concurrent connections in all."},
	{"server", "max_connections_per_ip", OPT_U64, OFF(max_connections_per_ip), 0, 1, 10000,
	 "32", "Concurrent connections from one address."},
	{"server", "max_uploads", OPT_U64, OFF(max_uploads), 0, 1, 1000, "16",
	 "Concurrent uploads in all."},
	{"server", "syscall_filter", OPT_BOOL, OFF(syscall_filter), 0, 0, 0, "true",
	 "Confine the running server to the system calls it needs (seccomp; checklist S4)."},
	{"server", "block_failures", OPT_U64, OFF(block_failures), 0, 0, 1000, "20",
	 "Block an address after this many failures (TLS handshake not completed, refused "
	 "certificate, failed login, "
	 "invalid session) within block_window_seconds; 0 never blocks (checklist S4)."},
	{"server", "block_window_seconds", OPT_U64, OFF(block_window_seconds), 0, 10, 86400, "600",
	 "The window in which failures from one address are counted."},
	{"server", "block_seconds", OPT_U64, OFF(block_seconds), 0, 10, 604800, "900",
	 "How long a blocked address stays blocked (an operator or manager can lift it)."},
	{"auth", "lockout_failures", OPT_U64, OFF(lockout_failures), 0, 1, 100, "5",
	 "Failed logins before an account is locked (checklist S6)."},
	{"auth", "lockout_seconds", OPT_U64, OFF(lockout_seconds), 0, 1, 86400 * 30, "900",
	 "How long a locked account stays locked."},
	{"auth", "session_idle_seconds", OPT_U64, OFF(session_idle_seconds), 0, 30, 86400, "900",
	 "A session ends after this much inactivity."},
	{"auth", "session_max_seconds", OPT_U64, OFF(session_max_seconds), 0, 60, 7 * 86400,
	 "28800", "A session ends this long after login, whatever its activity."},
	{"auth", "require_totp", OPT_BOOL, OFF(require_totp), 0, 0, 0, "false",
	 "Refuse password-only logins for accounts without TOTP (checklist S6)."},
	{"vault", "key_file", OPT_STR, OFF(key_file), CAP(key_file), 0, 0, "",
	 "Unseal at start with this key file; empty = start sealed, unseal by hand."},
	{"log", "audit_sink", OPT_STR, OFF(audit_sink), CAP(audit_sink), 0, 0, "journald",
	 "Where audit events are copied besides the store: journald, syslog or none."},
	{"log", "checkpoint_seconds", OPT_U64, OFF(checkpoint_seconds), 0, 10, 86400, "300",
	 "How often the server signs a checkpoint of the audit log when it grew."},
	{"scan", "clamd_socket", OPT_STR, OFF(clamd_socket), CAP(clamd_socket), 0, 0,
	 "clamd/clamd.sock",
	 "clamd's UNIX socket (relative to the data directory unless absolute)."},
	{"scan", "signature_max_age", OPT_U64, OFF(signature_max_age), 0, 600, 30 * 86400,
	 "86400", "Uploads are refused when clamd's signatures are older than this (S5)."},
	{"scan", "timeout_seconds", OPT_U64, OFF(scan_timeout_seconds), 0, 5, 3600, "600",
	 "How long to wait for clamd's verdict after the last byte."},
	{"scan", "pass_fd", OPT_BOOL, OFF(scan_pass_fd), 0, 0, 0, "true",
	 "Hand clamd each upload as a memory-only file (FILDES): clamd skips receiving and "
	 "spooling the stream. false: stream it (INSTREAM) into clamd's TemporaryDirectory."},
	{"scan", "memory_max", OPT_SIZE, OFF(scan_memory_max), 0, 0, 1ull << 40, "0",
	 "With pass_fd, the most memory all uploads being scanned may hold together "
	 "(each holds its plaintext until the verdict). 0: half of the machine's RAM."},
	{"scan", "required", OPT_BOOL, OFF(scan_required), 0, 0, 0, "true",
	 "Scan every upload and refuse it when clamd cannot (checklist S5). false is for "
	 "benchmarks only."},
};

#define NOPTS (sizeof opts / sizeof opts[0])

static int set_opt(struct kinko_config *c, const struct opt *o, const char *v, struct kinko_err *e)
{
	char *base = (char *)c;
	uint64_t n;
	bool b;

	switch (o->type) {
	case OPT_U64:
		if (parse_u64(v, o->max, &n) || n < o->min)
			return kinko_err_set(e, KINKO_EINVAL, "%s must be a whole number from %llu to %llu",
					     o->name, (unsigned long long)o->min,
					     (unsigned long long)o->max);
		memcpy(base + o->off, &n, sizeof n);
		return 0;
	case OPT_SIZE:
		if (parse_size(v, o->max, &n) || n < o->min)
			return kinko_err_set(e, KINKO_EINVAL,
					     "%s must be a size like 64K, 16M or 2G, from %llu to %llu bytes",
					     o->name, (unsigned long long)o->min,
					     (unsigned long long)o->max);
		memcpy(base + o->off, &n, sizeof n);
		return 0;
	case OPT_BOOL:
		if (parse_bool(v, &b))
			return kinko_err_set(e, KINKO_EINVAL, "%s must be true or false", o->name);
		memcpy(base + o->off, &b, sizeof b);
		return 0;
	case OPT_CIDRS: {
		int rc = cidr_list_parse(v, &c->allow, e);
		if (rc)
			return rc;
		if (c->allow.n == 0)
			return kinko_err_set(e, KINKO_EINVAL,
					     "allow must name at least one address block");
	}
		/* keep the text too */
		__attribute__((fallthrough));
	case OPT_STR:
		if (strlen(v) >= o->cap)
			return kinko_err_set(e, KINKO_EINVAL, "%s is too long (at most %zu bytes)",
					     o->name, o->cap - 1);
		memcpy(base + o->off, v, strlen(v) + 1);
		if (o->off == OFF(audit_sink) && strcmp(v, "journald") && strcmp(v, "syslog") &&
		    strcmp(v, "none"))
			return kinko_err_set(e, KINKO_EINVAL,
					     "audit_sink must be journald, syslog or none");
		return 0;
	}
	return KINKO_EINVAL;
}

void config_defaults(struct kinko_config *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NOPTS; i++) {
		struct kinko_err e;
		/* Defaults are compile-time constants; a failure here is a programming error
		 * caught by the unit tests. */
		(void)set_opt(c, &opts[i], opts[i].def, &e);
	}
}

struct load_ctx {
	struct kinko_config *c;
	struct kinko_err *e;
	const char *path;
	FILE *f;
	unsigned line;
	bool seen[NOPTS];
	int rc;
};

/* Reads one line for inih. Byte by byte rather than fgets, so that a NUL byte is
 * seen: with fgets, "# \0<padding>key = value" would pass the comment to inih and
 * the rest of the line as a new line that sets key. */
static char *reader(char *str, int num, void *stream)
{
	struct load_ctx *l = stream;
	int c = EOF, n = 0;

	if (num < 2)
		return NULL;
	while (n < num - 1 && (c = getc(l->f)) != EOF) {
		if (c == '\0') {
			l->rc = kinko_err_set(l->e, KINKO_EINVAL, "%s:%u: the line holds a NUL byte",
					      l->path, l->line + 1);
			return NULL;
		}
		str[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (n == 0)
		return NULL;
	str[n] = '\0';
	l->line++;
	if (n == num - 1 && str[n - 1] != '\n' && (c = getc(l->f)) != EOF) {
		l->rc = kinko_err_set(l->e, KINKO_EINVAL, "%s:%u: line is longer than %d bytes",
				      l->path, l->line, num - 3);
		return NULL;
	}
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *l = user;

	if (l->rc)
		return 0;
	for (size_t i = 0; i < NOPTS; i++) {
		if (strcmp(opts[i].section, section) || strcmp(opts[i].name, name))
			continue;
		if (l->seen[i]) {
			l->rc = kinko_err_set(l->e, KINKO_EINVAL, "%s:%u: [%s] %s is set twice",
					      l->path, l->line, section, name);
			return 0;
		}
		l->seen[i] = true;
		l->rc = set_opt(l->c, &opts[i], value, l->e);
		if (l->rc)
			kinko_err_wrap(l->e, "%s:%u: [%s] %s", l->path, l->line, section, name);
		return l->rc == 0;
	}
	l->rc = kinko_err_set(l->e, KINKO_EINVAL,
			      "%s:%u: unknown setting [%s] %s (see the commented defaults in the "
			      "file kinko init writes)",
			      l->path, l->line, section, name);
	return 0;
}

int config_load(const char *path, bool missing_ok, struct kinko_config *c, struct kinko_err *e)
{
	struct kinko_config tmp;
	struct load_ctx l = {.c = &tmp, .e = e, .path = path};
	int rc;

	config_defaults(&tmp);
	l.f = fopen(path, "re");
	if (!l.f) {
		if (errno == ENOENT && missing_ok) {
			*c = tmp;
			return 0;
		}
		return kinko_err_set(e, KINKO_EIO, "cannot read %s: %s", path, strerror(errno));
	}
	ini_allow_multiline = false;
	rc = ini_parse_stream(reader, &l, handler, &l);
	fclose(l.f);
	if (l.rc)
		return l.rc;
	if (rc != 0)
		return kinko_err_set(e, KINKO_EINVAL, "%s:%d: not a 'key = value' or '[section]' line",
				     path, rc > 0 ? rc : (int)l.line);
	{
		char host[64];
		uint16_t port;
		rc = config_listen_addr(&tmp, host, sizeof host, &port, e);
		if (rc)
			return kinko_err_wrap(e, "%s: [server] listen", path);
	}
	*c = tmp;
	return 0;
}

int config_write_default(const char *path, struct kinko_err *e)
{
	struct kbuf b;
	const char *section = "";
	int rc;

	kbuf_init(&b, 1 << 16);
	rc = kbuf_append_str(&b, "# kinko configuration. Every setting is shown with its secure default,\n"
				 "# commented out. Uncomment and change a line to override it.\n"
				 "# `kinko config check --dir DIR` prints the effective settings and\n"
				 "# warns about any that weaken a checklist row.\n");
	for (size_t i = 0; rc == 0 && i < NOPTS; i++) {
		if (strcmp(section, opts[i].section)) {
			section = opts[i].section;
			rc = kbuf_appendf(&b, "\n[%s]\n", section);
		}
		if (rc == 0)
			rc = kbuf_appendf(&b, "# %s\n# %s = %s\n", opts[i].help, opts[i].name,
					  opts[i].def);
	}
	if (rc) {
		kbuf_free(&b);
		return kinko_err_set(e, rc, "cannot build the configuration file");
	}
	/* Never over an existing file; complete under its name or not there at all. */
	rc = kinko_file_write(path, b.data, b.len, 0600, KINKO_TMPFILE_DURABLE, e);
	kbuf_free(&b);
	return rc;
}

int config_listen_addr(const struct kinko_config *c, char *host, size_t hostcap, uint16_t *port,
		       struct kinko_err *e)
{
	const char *colon;
	size_t hlen;
	const char *h = c->listen;
	uint64_t p;

	if (h[0] == '[') {
		const char *close = strchr(h, ']');
		if (!close || close[1] != ':')
			return kinko_err_set(e, KINKO_EINVAL, "write IPv6 as [::1]:8443");
		h++;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon)
			return kinko_err_set(e, KINKO_EINVAL, "write host:port, e.g. 127.0.0.1:8443");
		hlen = (size_t)(colon - h);
	}
	if (hlen == 0 || hlen >= hostcap)
		return kinko_err_set(e, KINKO_EINVAL, "the host part is empty or too long");
	if (parse_u64(colon + 1, 65535, &p) || p == 0)
		return kinko_err_set(e, KINKO_EINVAL, "the port must be 1..65535");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int config_report(const struct kinko_config *c, FILE *out)
{
	const char *section = "";
	int warnings = 0;

	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		const char *base = (const char *)c;
		if (strcmp(section, o->section)) {
			section = o->section;
			fprintf(out, "[%s]\n", section);
		}
		switch (o->type) {
		case OPT_U64:
		case OPT_SIZE: {
			uint64_t v;
			memcpy(&v, base + o->off, sizeof v);
			fprintf(out, "%s = %llu\n", o->name, (unsigned long long)v);
			break;
		}
		case OPT_BOOL: {
			bool v;
			memcpy(&v, base + o->off, sizeof v);
			fprintf(out, "%s = %s\n", o->name, v ? "true" : "false");
			break;
		}
		case OPT_STR:
		case OPT_CIDRS:
			fprintf(out, "%s = %s\n", o->name, base + o->off);
			break;
		}
	}
	fputc('\n', out);
	if (cidr_list_is_wide(&c->allow)) {
		fprintf(out, "warning: S1: allow = %s admits most of the Internet; list the ward's "
			     "and your own networks only\n", c->allow_text);
		warnings++;
	}
	if (strncmp(c->listen, "127.", 4) && strncmp(c->listen, "[::1]", 5) &&
	    strncmp(c->listen, "localhost", 9)) {
		fprintf(out, "warning: S1/S2: listen = %s is reachable from the network; put a "
			     "firewall in front (kinko accepts only allowlisted addresses)\n",
			c->listen);
		warnings++;
	}
	if (!c->syscall_filter) {
		fprintf(out, "warning: S4: syscall_filter = false runs the server without its "
			     "system-call filter; a compromised server could run programs\n");
		warnings++;
	}
	if (c->block_failures == 0 || c->block_failures > 100) {
		fprintf(out, "warning: S4: block_failures = %llu %s\n",
			(unsigned long long)c->block_failures,
			c->block_failures ? "lets an address fail many times before it is blocked; 20 "
					    "is recommended"
					  : "never blocks an address that keeps failing");
		warnings++;
	}
	if (c->block_failures && (c->block_window_seconds < 300 || c->block_seconds < 300)) {
		fprintf(out, "warning: S4: block_window_seconds = %llu, block_seconds = %llu: an "
			     "address that fails slowly enough, or waits out a short block, is "
			     "never stopped for long; 600 and 900 are recommended\n",
			(unsigned long long)c->block_window_seconds,
			(unsigned long long)c->block_seconds);
		warnings++;
	}
	if (c->lockout_failures > 10) {
		fprintf(out, "warning: S6: lockout_failures = %llu allows many password guesses; "
			     "5 is recommended\n", (unsigned long long)c->lockout_failures);
		warnings++;
	}
	if (c->lockout_seconds < 300) {
		fprintf(out, "warning: S6: lockout_seconds = %llu is short; 900 is recommended\n",
			(unsigned long long)c->lockout_seconds);
		warnings++;
	}
	if (!c->require_totp) {
		fprintf(out, "warning: S6: require_totp = false lets accounts without TOTP log in "
			     "with a password alone\n");
		warnings++;
	}
	if (c->session_idle_seconds > 3600 || c->session_max_seconds > 12 * 3600) {
		fprintf(out, "warning: S6: sessions last long (idle %llus, max %llus); unattended "
			     "terminals stay logged in\n",
			(unsigned long long)c->session_idle_seconds,
			(unsigned long long)c->session_max_seconds);
		warnings++;
	}
	if (c->key_file[0]) {
		fprintf(out, "warning: S7: key_file = %s unseals the vault at start; whoever can "
			     "read that file and the data directory can read every file\n",
			c->key_file);
		warnings++;
	}
	if (c->checkpoint_seconds > 3600) {
		fprintf(out, "warning: S8: checkpoint_seconds = %llu: events newer than the last "
			     "checkpoint can be altered unnoticed for that long\n",
			(unsigned long long)c->checkpoint_seconds);
		warnings++;
	}
	if (!c->scan_required) {
		fprintf(out, "warning: S5: [scan] required = false stores uploads without a virus "
			     "scan\n");
		warnings++;
	}
	if (c->signature_max_age > 2 * 86400) {
		fprintf(out, "warning: S5: signature_max_age = %llu accepts signatures older than "
			     "two days\n", (unsigned long long)c->signature_max_age);
		warnings++;
	}
	if (!strcmp(c->audit_sink, "none")) {
		fprintf(out, "warning: S8: audit_sink = none: audit events are not copied to the "
			     "system log for monitoring\n");
		warnings++;
	}
	return warnings;
}
