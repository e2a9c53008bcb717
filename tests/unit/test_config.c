/* kinko.conf: defaults, every key, refusals that name file:line and key, the
 * written default file, and the checklist warnings of config_report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

static char tmpdir[256];
static char conf[512];
static unsigned nfile;

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/kinko-test-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to a fresh file and returns its path (in `conf`). */
static const char *write_conf(const char *text)
{
	FILE *f;

	snprintf(conf, sizeof conf, "%s/kinko-%u.conf", tmpdir, nfile++);
	f = fopen(conf, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return conf;
}

static int load_text(const char *text, struct kinko_config *c, struct kinko_err *e)
{
	return config_load(write_conf(text), false, c, e);
}

static void assert_defaults(const struct kinko_config *c)
{
	assert_string_equal(c->listen, "127.0.0.1:8443");
	assert_string_equal(c->allow_text, "127.0.0.0/8, ::1/128");
	assert_int_equal(c->allow.n, 2);
	assert_int_equal(c->allow.v[0].prefix, 8);
	assert_int_equal(c->allow.v[1].prefix, 128);
	assert_int_equal(c->max_header_bytes, 16 * 1024);
	assert_int_equal(c->max_body_bytes, 64ull << 30);
	assert_int_equal(c->max_json_bytes, 64 * 1024);
	assert_int_equal(c->max_connections, 256);
	assert_int_equal(c->max_connections_per_ip, 32);
	assert_int_equal(c->max_uploads, 16);
	assert_true(c->syscall_filter);
	assert_int_equal(c->block_failures, 20);
	assert_int_equal(c->block_window_seconds, 600);
	assert_int_equal(c->block_seconds, 900);
	assert_int_equal(c->lockout_failures, 5);
	assert_int_equal(c->lockout_seconds, 900);
	assert_int_equal(c->session_idle_seconds, 900);
	assert_int_equal(c->session_max_seconds, 28800);
	assert_false(c->require_totp);
	assert_string_equal(c->key_file, "");
	assert_string_equal(c->audit_sink, "journald");
	assert_int_equal(c->checkpoint_seconds, 300);
	assert_string_equal(c->clamd_socket, "clamd/clamd.sock");
	assert_int_equal(c->signature_max_age, 86400);
	assert_int_equal(c->scan_timeout_seconds, 600);
	assert_true(c->scan_required);
	assert_true(c->scan_pass_fd);
	assert_int_equal(c->scan_memory_max, 0);
}

static void defaults_load(void **state)
{
	struct kinko_config c;
	struct kinko_err e;
	char missing[600];
	(void)state;

	config_defaults(&c);
	assert_defaults(&c);

	/* An empty file, comments only, and a missing file with missing_ok. */
	memset(&c, 0x55, sizeof c);
	assert_int_equal(load_text("", &c, &e), 0);
	assert_defaults(&c);
	assert_int_equal(load_text("# nothing\n; nothing either\n\n[server]\n", &c, &e), 0);
	assert_defaults(&c);
	snprintf(missing, sizeof missing, "%s/absent.conf", tmpdir);
	memset(&c, 0x55, sizeof c);
	assert_int_equal(config_load(missing, true, &c, &e), 0);
	assert_defaults(&c);
	/* Missing without missing_ok: an error naming the file; c untouched. */
	memset(&c, 0x55, sizeof c);
	assert_int_equal(config_load(missing, false, &c, &e), KINKO_EIO);
	assert_non_null(strstr(e.msg, missing));
	assert_int_equal((unsigned char)c.listen[0], 0x55);
}

static void every_key(void **state)
{
	struct kinko_config c;
	struct kinko_err e;
	(void)state;

	assert_int_equal(load_text("[server]\n"
				   "listen = [::1]:9443\n"
				   "allow = 192.0.2.0/24, 2001:db8::/32 10.1.2.3\n"
				   "max_header_bytes = 32K\n"
				   "max_body_bytes = 2G\n"
				   "max_json_bytes = 1M\n"
				   "max_connections = 100\n"
				   "max_connections_per_ip = 7\n"
				   "max_uploads = 3\n"
				   "[auth]\n"
				   "lockout_failures = 3\n"
				   "lockout_seconds = 3600\n"
				   "session_idle_seconds = 600\n"
				   "session_max_seconds = 3600\n"
				   "require_totp = yes\n"
				   "[vault]\n"
				   "key_file = /etc/kinko/key\n"
				   "[log]\n"
				   "audit_sink = none\n"
				   "checkpoint_seconds = 10\n"
				   "[scan]\n"
				   "clamd_socket = /run/clamav/clamd.ctl\n"
				   "signature_max_age = 600\n"
				   "timeout_seconds = 3600\n"
				   "required = false\n",
				   &c, &e),
			 0);
	assert_string_equal(c.listen, "[::1]:9443");
	assert_string_equal(c.allow_text, "192.0.2.0/24, 2001:db8::/32 10.1.2.3");
	assert_int_equal(c.allow.n, 3);
	assert_int_equal(c.allow.v[2].prefix, 32);
	assert_int_equal(c.max_header_bytes, 32768);
	assert_int_equal(c.max_body_bytes, 2ull << 30);
	assert_int_equal(c.max_json_bytes, 1 << 20);
	assert_int_equal(c.max_connections, 100);
	assert_int_equal(c.max_connections_per_ip, 7);
	assert_int_equal(c.max_uploads, 3);
	assert_int_equal(c.lockout_failures, 3);
	assert_int_equal(c.lockout_seconds, 3600);
	assert_int_equal(c.session_idle_seconds, 600);
	assert_int_equal(c.session_max_seconds, 3600);
	assert_true(c.require_totp);
	assert_string_equal(c.key_file, "/etc/kinko/key");
	assert_string_equal(c.audit_sink, "none");
	assert_int_equal(c.checkpoint_seconds, 10);
	assert_string_equal(c.clamd_socket, "/run/clamav/clamd.ctl");
	assert_int_equal(c.signature_max_age, 600);
	assert_int_equal(c.scan_timeout_seconds, 3600);
	assert_false(c.scan_required);

	/* Booleans in all their spellings; limits inclusive. */
	assert_int_equal(load_text("[auth]\nrequire_totp = FALSE\nlockout_failures = 100\n"
				   "session_idle_seconds = 30\n",
				   &c, &e),
			 0);
	assert_false(c.require_totp);
	assert_int_equal(c.lockout_failures, 100);
	assert_int_equal(c.session_idle_seconds, 30);
	assert_int_equal(load_text("[auth]\nrequire_totp = on\n[server]\nmax_header_bytes = 1024\n"
				   "max_body_bytes = 1024G\n",
				   &c, &e),
			 0);
	assert_true(c.require_totp);
	assert_int_equal(c.max_header_bytes, 1024);
	assert_int_equal(c.max_body_bytes, 1ull << 40);
}

struct bad {
	const char *section, *key, *value;
};

static void bad_values(void **state)
{
	static const struct bad bad[] = {
		{"server", "listen", "127.0.0.1"},
		{"server", "listen", "127.0.0.1:0"},
		{"server", "listen", "127.0.0.1:65536"},
		{"server", "listen", ":8443"},
		{"server", "listen", "[::1:8443"},
		{"server", "listen", "[::1]8443"},
		{"server", "listen", "127.0.0.1:84a3"},
		{"server", "listen",
		 "a-very-long-host-name-that-does-not-fit-in-the-listen-field-of-eighty-bytes.example:1"},
		{"server", "allow", "not-an-address"},
		{"server", "allow", "10.0.0.1/8"},
		{"server", "allow", "10.0.0.0/33"},
		{"server", "allow", ","},
		{"server", "max_header_bytes", "1023"},
		{"server", "max_header_bytes", "2M"},
		{"server", "max_header_bytes", "16KB"},
		{"server", "max_header_bytes", "-1"},
		{"server", "max_body_bytes", "1025G"},
		{"server", "max_body_bytes", "18446744073709551616"},
		{"server", "max_json_bytes", "17M"},
		{"server", "max_connections", "0"},
		{"server", "max_connections", "10001"},
		{"server", "max_connections_per_ip", "x"},
		{"server", "max_uploads", "1001"},
		{"server", "max_uploads", "+4"},
		{"auth", "lockout_failures", "0"},
		{"auth", "lockout_failures", "101"},
		{"auth", "lockout_seconds", "0"},
		{"auth", "lockout_seconds", "2592001"},
		{"auth", "session_idle_seconds", "29"},
		{"auth", "session_max_seconds", "59"},
		{"auth", "session_max_seconds", "604801"},
		{"auth", "require_totp", "maybe"},
		{"auth", "require_totp", "2"},
		{"log", "audit_sink", "file"},
		{"log", "audit_sink", "JOURNALD"},
		{"log", "checkpoint_seconds", "9"},
		{"log", "checkpoint_seconds", "86401"},
		{"scan", "clamd_socket",
		 "/a/very/long/socket/path/that/does/not/fit/in/the/one/hundred/and/eight/bytes/of/"
		 "sun_path/on/linux/clamd.sock"},
		{"scan", "signature_max_age", "599"},
		{"scan", "signature_max_age", "2592001"},
		{"scan", "timeout_seconds", "4"},
		{"scan", "timeout_seconds", "3601"},
		{"scan", "required", "no way"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[512], where[600];
		struct kinko_config c;
		struct kinko_err e;
		int rc;

		/* The bad line is line 4. */
		snprintf(text, sizeof text, "# a comment\n[%s]\n\n%s = %s\n", bad[i].section,
			 bad[i].key, bad[i].value);
		memset(&c, 0x55, sizeof c);
		memset(&e, 0, sizeof e);
		rc = load_text(text, &c, &e);
		if (rc != KINKO_EINVAL)
			fail_msg("[%s] %s = %s: rc %d", bad[i].section, bad[i].key, bad[i].value, rc);
		assert_int_equal(e.code, KINKO_EINVAL);
		/* listen is checked after the file is read, so it names the file only. */
		if (strcmp(bad[i].key, "listen") || strstr(bad[i].value, "a-very-long"))
			snprintf(where, sizeof where, "%s:4:", conf);
		else
			snprintf(where, sizeof where, "%s:", conf);
		if (!strstr(e.msg, where) || !strstr(e.msg, bad[i].key))
			fail_msg("[%s] %s = %s: message lacks file:line or key: %s", bad[i].section,
				 bad[i].key, bad[i].value, e.msg);
		assert_int_equal((unsigned char)c.max_uploads, 0x55); /* output untouched */
	}
}

static void unknown_and_duplicate(void **state)
{
	struct kinko_config c;
	struct kinko_err e;
	char where[600];
	(void)state;

	assert_int_equal(load_text("[server]\nlisten = 127.0.0.1:1\nlsten = 127.0.0.1:2\n", &c, &e),
			 KINKO_EINVAL);
	snprintf(where, sizeof where, "%s:3:", conf);
	assert_non_null(strstr(e.msg, where));
	assert_non_null(strstr(e.msg, "unknown setting [server] lsten"));

	/* A known key in the wrong section is unknown there. */
	assert_int_equal(load_text("[auth]\nmax_uploads = 2\n", &c, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "unknown setting [auth] max_uploads"));
	/* Keys before any section. */
	assert_int_equal(load_text("max_uploads = 2\n", &c, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "unknown setting"));
	assert_int_equal(load_text("[nope]\nx = 1\n", &c, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "[nope] x"));

	/* Set twice, even with the same value, even across repeated sections. */
	assert_int_equal(load_text("[server]\nmax_uploads = 2\n\nmax_uploads = 2\n", &c, &e), KINKO_EINVAL);
	snprintf(where, sizeof where, "%s:4:", conf);
	assert_non_null(strstr(e.msg, where));
	assert_non_null(strstr(e.msg, "[server] max_uploads is set twice"));
	assert_int_equal(load_text("[server]\nmax_uploads = 2\n[auth]\n[server]\nmax_uploads = 3\n", &c, &e),
			 KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "set twice"));

	/* A line that is neither a section nor key = value. */
	assert_int_equal(load_text("[server]\nmax_uploads 2\n", &c, &e), KINKO_EINVAL);
	snprintf(where, sizeof where, "%s:2:", conf);
	assert_non_null(strstr(e.msg, where));
	assert_int_equal(load_text("[server\n", &c, &e), KINKO_EINVAL);
	snprintf(where, sizeof where, "%s:1:", conf);
	assert_non_null(strstr(e.msg, where));
}

static void long_lines(void **state)
{
	struct kinko_config c;
	struct kinko_err e;
	char text[8192], where[600];
	size_t n;
	(void)state;

	/* A comment far longer than any line buffer must not be split into a second
	 * "line" that is then parsed. */
	n = (size_t)snprintf(text, sizeof text, "[server]\n# ");
	memset(text + n, 'x', 5000);
	n += 5000;
	snprintf(text + n, sizeof text - n, " max_uploads = 9\n");
	assert_int_equal(load_text(text, &c, &e), KINKO_EINVAL);
	snprintf(where, sizeof where, "%s:2:", conf);
	assert_non_null(strstr(e.msg, where));
	assert_non_null(strstr(e.msg, "longer than"));

	/* An over-long value as well. */
	n = (size_t)snprintf(text, sizeof text, "[vault]\nkey_file = /");
	memset(text + n, 'k', 5000);
	n += 5000;
	snprintf(text + n, sizeof text - n, "\n");
	assert_int_equal(load_text(text, &c, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "longer than"));

	/* An over-long last line without a newline is refused too. */
	n = (size_t)snprintf(text, sizeof text, "[vault]\nkey_file = /");
	memset(text + n, 'k', 5000);
	text[n + 5000] = '\0';
	assert_int_equal(load_text(text, &c, &e), KINKO_EINVAL);

	/* A NUL byte cannot hide a setting behind a comment: the line is refused,
	 * wherever the NUL and whatever follows it. */
	for (size_t pad = 150; pad < 260; pad += 1) {
		FILE *f;
		int rc;
		n = (size_t)snprintf(text, sizeof text, "[server]\n# ");
		text[n++] = '\0';
		memset(text + n, 'a', pad);
		n += pad;
		n += (size_t)snprintf(text + n, sizeof text - n, "max_uploads = 9\n");
		snprintf(conf, sizeof conf, "%s/nul-%zu.conf", tmpdir, pad);
		f = fopen(conf, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(text, 1, n, f), n);
		assert_int_equal(fclose(f), 0);
		memset(&c, 0, sizeof c);
		rc = config_load(conf, false, &c, &e);
		if (rc != KINKO_EINVAL || c.max_uploads == 9)
			fail_msg("NUL line with %zu bytes of padding: rc %d, max_uploads %llu", pad, rc,
				 (unsigned long long)c.max_uploads);
		snprintf(where, sizeof where, "%s:2:", conf);
		assert_non_null(strstr(e.msg, where));
		assert_non_null(strstr(e.msg, "NUL"));
	}

	/* A normal last line without a newline is fine. */
	assert_int_equal(load_text("[server]\nmax_uploads = 9", &c, &e), 0);
	assert_int_equal(c.max_uploads, 9);
}

static void write_default(void **state)
{
	struct kinko_config c, d;
	struct kinko_err e;
	char path[600], uncommented[600], line[512];
	struct stat st;
	FILE *in, *out;
	char *rep_c = NULL, *rep_d = NULL;
	size_t lc, ld;
	int keys = 0;
	(void)state;

	snprintf(path, sizeof path, "%s/default.conf", tmpdir);
	assert_int_equal(config_write_default(path, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Refuses to overwrite, and leaves the file as it was. */
	assert_int_equal(config_write_default(path, &e), KINKO_EEXIST);
	assert_non_null(strstr(e.msg, path));
	{
		struct stat st2;
		assert_int_equal(stat(path, &st2), 0);
		assert_int_equal(st2.st_size, st.st_size);
	}
	/* Nor through a missing directory. */
	snprintf(uncommented, sizeof uncommented, "%s/no/such/dir.conf", tmpdir);
	assert_int_equal(config_write_default(uncommented, &e), KINKO_EIO);

	/* As written (everything commented) it loads to the defaults. */
	assert_int_equal(config_load(path, false, &c, &e), 0);
	assert_defaults(&c);

	/* Every default shown in it is a valid value: uncomment them all. */
	snprintf(uncommented, sizeof uncommented, "%s/uncommented.conf", tmpdir);
	in = fopen(path, "r");
	out = fopen(uncommented, "w");
	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof line, in)) {
		size_t k = 2;
		while ((line[k] >= 'a' && line[k] <= 'z') || line[k] == '_')
			k++;
		if (!strncmp(line, "# ", 2) && k > 2 && !strncmp(line + k, " = ", 3)) {
			fputs(line + 2, out);
			keys++;
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(keys, 26); /* every key is listed */
	assert_int_equal(config_load(uncommented, false, &d, &e), 0);
	assert_defaults(&d);

	/* And the two report the same effective settings. */
	FILE *m1 = open_memstream(&rep_c, &lc), *m2 = open_memstream(&rep_d, &ld);
	assert_non_null(m1);
	assert_non_null(m2);
	config_report(&c, m1);
	config_report(&d, m2);
	fclose(m1);
	fclose(m2);
	assert_string_equal(rep_c, rep_d);
	free(rep_c);
	free(rep_d);
}

/* Runs config_report on c; returns the warning count and the output in *text. */
static int report(const struct kinko_config *c, char **text)
{
	size_t len;
	FILE *m = open_memstream(text, &len);
	int n;

	assert_non_null(m);
	n = config_report(c, m);
	assert_int_equal(fclose(m), 0);
	return n;
}

static int count_warnings(const char *text)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, "warning: ")); p++)
		n++;
	return n;
}

static void report_warnings(void **state)
{
	struct kinko_config c;
	struct kinko_err e;
	char *t = NULL;
	(void)state;

	/* Defaults: only require_totp = false weakens S6. */
	config_defaults(&c);
	assert_int_equal(report(&c, &t), 1);
	assert_non_null(strstr(t, "warning: S6: require_totp = false"));
	assert_non_null(strstr(t, "listen = 127.0.0.1:8443\n"));
	assert_non_null(strstr(t, "max_body_bytes = 68719476736\n"));
	assert_non_null(strstr(t, "require_totp = false\n"));
	assert_int_equal(count_warnings(t), 1);
	free(t);

	/* A hardened file: no warnings. */
	assert_int_equal(load_text("[auth]\nrequire_totp = true\n", &c, &e), 0);
	assert_int_equal(report(&c, &t), 0);
	assert_null(strstr(t, "warning"));
	free(t);

	/* Each weakening named with its checklist row. */
	static const struct {
		const char *text, *needle;
	} w[] = {
		{"[server]\nallow = 0.0.0.0/0\n", "warning: S1: allow = 0.0.0.0/0"},
		{"[server]\nallow = 127.0.0.1, ::/0\n", "warning: S1: allow"},
		{"[server]\nallow = 10.0.0.0/7\n", "warning: S1:"},
		{"[server]\nallow = 2000::/3\n", "warning: S1:"},
		{"[server]\nlisten = 0.0.0.0:8443\n", "warning: S1/S2: listen = 0.0.0.0:8443"},
		{"[server]\nlisten = [::]:8443\n", "warning: S1/S2:"},
		{"[auth]\nlockout_failures = 11\n", "warning: S6: lockout_failures = 11"},
		{"[auth]\nlockout_seconds = 299\n", "warning: S6: lockout_seconds = 299"},
		{"[auth]\nsession_idle_seconds = 3601\n", "warning: S6: sessions last long"},
		{"[auth]\nsession_max_seconds = 43201\n", "warning: S6: sessions last long"},
		{"[vault]\nkey_file = /k\n", "warning: S7: key_file = /k"},
		{"[log]\naudit_sink = none\n", "warning: S8: audit_sink = none"},
		{"[log]\ncheckpoint_seconds = 3601\n", "warning: S8: checkpoint_seconds = 3601"},
		{"[scan]\nrequired = false\n", "warning: S5: [scan] required = false"},
		{"[server]\nsyscall_filter = false\n", "warning: S4: syscall_filter = false"},
		{"[server]\nblock_failures = 0\n", "warning: S4: block_failures = 0 never blocks"},
		{"[server]\nblock_failures = 101\n", "warning: S4: block_failures = 101 lets"},
		{"[server]\nblock_window_seconds = 299\n", "warning: S4: block_window_seconds = 299"},
		{"[server]\nblock_seconds = 10\n", "block_seconds = 10: an address"},
		{"[scan]\nsignature_max_age = 172801\n", "warning: S5: signature_max_age = 172801"},
	};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
		char text[256];
		snprintf(text, sizeof text, "%s[auth]\nrequire_totp = true\n", w[i].text);
		if (strstr(w[i].text, "[auth]")) /* keep one [auth] block per key */
			snprintf(text, sizeof text, "%srequire_totp = true\n", w[i].text);
		assert_int_equal(load_text(text, &c, &e), 0);
		if (report(&c, &t) != 1 || !strstr(t, w[i].needle))
			fail_msg("case %zu: expected one warning '%s' in:\n%s", i, w[i].needle, t);
		free(t);
	}
	/* Values just inside the recommendations do not warn. */
	assert_int_equal(load_text("[server]\nallow = 10.0.0.0/8, 2001:db8::/32\nblock_failures = 100\n"
				   "block_window_seconds = 300\nblock_seconds = 300\n[auth]\n"
				   "lockout_failures = 10\nlockout_seconds = 300\n"
				   "session_idle_seconds = 3600\nsession_max_seconds = 43200\n"
				   "require_totp = true\n[log]\ncheckpoint_seconds = 3600\n"
				   "[scan]\nsignature_max_age = 172800\n",
				   &c, &e),
			 0);
	assert_int_equal(report(&c, &t), 0);
	free(t);

	/* All at once: thirteen warnings, counted as printed. */
	assert_int_equal(load_text("[server]\nlisten = 0.0.0.0:1\nallow = 0.0.0.0/0\n"
				   "syscall_filter = off\nblock_failures = 0\n[auth]\n"
				   "lockout_failures = 50\nlockout_seconds = 1\n"
				   "session_idle_seconds = 86400\n[vault]\nkey_file = /k\n"
				   "[log]\naudit_sink = none\ncheckpoint_seconds = 7200\n"
				   "[scan]\nrequired = off\nsignature_max_age = 864000\n",
				   &c, &e),
			 0);
	assert_int_equal(report(&c, &t), 13);
	assert_int_equal(count_warnings(t), 13);
	free(t);
}

static void listen_addr(void **state)
{
	struct kinko_config c;
	struct kinko_err e;
	char host[64], tiny[4];
	uint16_t port = 1;
	(void)state;

	config_defaults(&c);
	assert_int_equal(config_listen_addr(&c, host, sizeof host, &port, &e), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8443);
	snprintf(c.listen, sizeof c.listen, "[::1]:65535");
	assert_int_equal(config_listen_addr(&c, host, sizeof host, &port, &e), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	port = 7;
	assert_int_equal(config_listen_addr(&c, tiny, sizeof tiny, &port, &e), 0);
	snprintf(c.listen, sizeof c.listen, "localhost:1");
	assert_int_equal(config_listen_addr(&c, tiny, sizeof tiny, &port, &e), KINKO_EINVAL);
	assert_int_equal(port, 65535); /* untouched on failure */
	snprintf(c.listen, sizeof c.listen, "[]:1");
	assert_int_equal(config_listen_addr(&c, host, sizeof host, &port, &e), KINKO_EINVAL);
	snprintf(c.listen, sizeof c.listen, "host:");
	assert_int_equal(config_listen_addr(&c, host, sizeof host, &port, &e), KINKO_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_load),      cmocka_unit_test(every_key),
		cmocka_unit_test(bad_values),         cmocka_unit_test(unknown_and_duplicate),
		cmocka_unit_test(long_lines),         cmocka_unit_test(write_default),
		cmocka_unit_test(report_warnings),    cmocka_unit_test(listen_addr),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
