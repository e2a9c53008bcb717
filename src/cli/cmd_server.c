/* kinko init, serve, cert server, check, firewall, config check: the commands that
 * work on DIR. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "core/config.h"
#include "core/firewall.h"
#include "core/parse.h"
#include "core/privdrop.h"
#include "core/sandbox.h"
#include "crypto/hash.h"
#include "store/store.h"
#include "crypto/crypto.h"
#include "http/server.h"
#include "tls/tls.h"
#include "vault/vault.h"

/* A passphrase file's trailing line ends are not part of the passphrase. */
static size_t passphrase_len(const uint8_t *p, size_t n)
{
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	return n;
}

/* A --server-name option: after the three loopback names every list starts with. */
static int add_server_name(const char **names, size_t *n, const char *name)
{
	if (*n == TLS_SERVER_NAMES_MAX) {
		cli_usage_error("at most %d --server-name options", TLS_SERVER_NAMES_MAX - 3);
		return -1;
	}
	names[(*n)++] = name;
	return 0;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"passphrase-file", required_argument, NULL, 'p'},
		{"key-file", required_argument, NULL, 'k'},
		{"manager", required_argument, NULL, 'm'},
		{"server-name", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *ppfile = NULL, *keyfile = NULL, *manager = "admin";
	/* The loopback names always, so the CLI on the server itself works; then the
	 * names clients use (DNS names or addresses), checked by the TLS module. */
	const char *names[TLS_SERVER_NAMES_MAX] = {"localhost", "127.0.0.1", "::1"};
	size_t nnames = 3;
	struct vault_init_opts o;
	struct vault_init_result r;
	struct kinko_err e;
	uint8_t *secret;
	size_t n = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'p': ppfile = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'm': manager = optarg; break;
		case 'n':
			if (add_server_name(names, &nnames, optarg))
				return 2;
			break;
		default: return 2;
		}
	}
	if (!dir || optind != argc || (ppfile && keyfile)) {
		cli_usage_error("usage: kinko init --dir DIR [--passphrase-file F | --key-file F] "
				"[--manager NAME] [--server-name HOST]...");
		return 2;
	}
	secret = kinko_secure_alloc(4096);
	if (!secret)
		return cli_fail(&(struct kinko_err){KINKO_ENOMEM, "out of secure memory"});
	if (keyfile || ppfile) {
		rc = cli_read_secret_file(keyfile ? keyfile : ppfile, secret, 4096, &n, &e);
		if (rc == 0 && ppfile)
			n = passphrase_len(secret, n);
		/* One line, as kinko unseal reads it: a passphrase it could not take
		 * would lock the vault's owner out of unsealing over the API. */
		if (rc == 0 && ppfile && (memchr(secret, '\n', n) || memchr(secret, '\r', n) ||
					  memchr(secret, '\0', n)))
			rc = kinko_err_set(&e, KINKO_EINVAL,
					   "%s holds more than one line or a NUL byte; a passphrase is "
					   "one line",
					   ppfile);
	} else {
		char *a = (char *)secret, *b = (char *)secret + 2048;
		rc = cli_read_secret(NULL, "New unseal passphrase: ", a, 2048, &e);
		if (rc == 0)
			rc = cli_read_secret(NULL, "Repeat it: ", b, 2048, &e);
		if (rc == 0 && strcmp(a, b))
			rc = kinko_err_set(&e, KINKO_EINVAL, "the two passphrases differ");
		n = strlen(a);
	}
	if (rc == 0 && !keyfile && n < 12)
		rc = kinko_err_set(&e, KINKO_EINVAL, "the passphrase must have at least 12 characters");
	if (rc) {
		kinko_secure_free(secret);
		return cli_fail(&e);
	}
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.secret_kind = keyfile ? KEYRING_KEYFILE : KEYRING_PASSPHRASE;
	o.secret = secret;
	o.secret_len = n;
	o.manager_name = manager;
	o.server_names = names;
	o.nserver_names = nnames;
	rc = vault_init(&o, &r, &e);
	kinko_secure_free(secret);
	if (rc)
		return cli_fail(&e);
	printf("kinko: created the vault in %s\n\n", dir);
	printf("Keep these now; they are shown only once. / 以下は一度だけ表示されます。保管してください。\n");
	printf("  manager account / 取扱責任者アカウント: %s\n", manager);
	printf("  manager password / パスワード:          %s\n", r.manager_password);
	printf("  client certificate / クライアント証明書: %s/client.pem, client.key, client.p12\n",
	       r.client_dir);
	printf("  PKCS#12 password / PKCS#12 パスワード:   %s\n", r.p12_password);
	printf("  unseal secret / 開封の鍵:               the %s you gave\n\n",
	       keyfile ? "key file" : "passphrase");
	printf("Next: kinko serve --dir %s%s\n", dir, keyfile ? " --key-file FILE" : "");
	kinko_wipe(&r, sizeof r);
	return 0;
}


/* Start-up acts on record: the server's start and the configuration it loaded
 * (identified by the SHA-256 of kinko.conf). */
static int start_events(struct vault *v, const char *dir, struct kinko_err *e)
{
	char path[4096], hex[65];
	uint8_t d[32], buf[65536];
	size_t n;
	FILE *f;
	int rc;

	snprintf(path, sizeof path, "%s/kinko.conf", dir);
	f = fopen(path, "re");
	if (!f)
		return kinko_err_set(e, KINKO_EIO, "cannot read %s", path);
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (kinko_sha256(buf, n, d))
		return kinko_err_set(e, KINKO_ECRYPTO, "cannot hash the configuration");
	format_hex(d, 32, hex);
	rc = vault_audit_standalone(v, NULL, "server.start", 200, e);
	if (rc == 0) {
		struct store *s = vault_store(v);
		rc = s->ops->begin(s, e);
		if (rc == 0) {
			rc = vault_audit(v, NULL, "config.load", NULL, hex, NULL, 0, 200, e);
			if (rc == 0)
				rc = s->ops->commit(s, e);
			else
				s->ops->rollback(s);
		}
	}
	return rc;
}

/* Signs a checkpoint when the log grew since the last one (and the vault is open). */
static void purge_sessions(struct vault *v)
{
	static int last; /* the same failure is said once, not every interval */
	struct kinko_err e;
	uint64_t n = 0;
	int rc = vault_sessions_purge(v, &n, &e);

	if (rc && rc != last)
		fprintf(stderr, "kinko: cannot remove expired sessions: %s\n", e.msg);
	last = rc;
}

static void checkpoint_if_grown(struct vault *v)
{
	struct store *s = vault_store(v);
	struct kbuf note, last;
	struct kinko_err e;
	uint64_t size = 0, last_size = 0;
	int rc;

	if (vault_is_sealed(v))
		return;
	kbuf_init(&note, 1 << 16);
	kbuf_init(&last, 1 << 16);
	rc = s->ops->begin(s, &e);
	if (rc == 0) {
		rc = s->ops->audit_size(s, &size, &e);
		if (rc == 0 && s->ops->checkpoint_latest(s, &last_size, &last, NULL) != 0)
			last_size = UINT64_MAX;
		s->ops->rollback(s);
	}
	if (rc == 0 && size != last_size)
		rc = vault_log_checkpoint(v, NULL, &note, &e);
	if (rc)
		fprintf(stderr, "kinko: ALERT: cannot sign an audit checkpoint: %s\n", e.msg);
	kbuf_free(&note);
	kbuf_free(&last);
}

/* Says so in the log, at start and then daily, when the server certificate it
 * loaded (ending at `end`) ends within 30 days: clients refuse an expired one. */
#define CERT_WARN_DAYS 30
static void warn_server_cert(const char *dir, int64_t end, time_t *last)
{
	char when[32] = "?";
	time_t now = time(NULL), t = (time_t)end;
	struct tm tm;

	if ((*last && now - *last < 86400) || end - (int64_t)now > (int64_t)CERT_WARN_DAYS * 86400)
		return;
	*last = now;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(stderr,
		"kinko: WARNING: the server certificate %s %s; renew it with "
		"kinko cert server --dir %s, then restart\n",
		end <= (int64_t)now ? "expired" : "expires", when, dir);
}

/* Gives up root as pd says (privdrop_check), then installs the system-call
 * filter (if on). Either failing stops the start: fail closed. */
/* Gives up root for the owner of the data directory (when started as root on a
 * directory another account owns), and says which it is. */
static int drop_root(const char *dir, const struct privdrop *pd, struct kinko_err *e)
{
	int rc = privdrop_apply(pd, dir, e);

	if (rc)
		return rc;
	if (pd->drop)
		fprintf(stderr, "kinko: running as uid %u (the owner of %s), not root\n",
			(unsigned)pd->uid, dir);
	else if (geteuid() == 0)
		fprintf(stderr, "kinko: WARNING: running as root; give %s to a dedicated account "
				"(chown -R kinko: %s) and kinko serve drops to it\n",
			dir, dir);
	return 0;
}

/* Installs the system-call filter, unless the configuration turns it off. */
static int confine(struct vault *v, struct kinko_err *e)
{
	unsigned allowed = 0;
	int rc;

	if (!vault_config(v)->syscall_filter) {
		fprintf(stderr, "kinko: WARNING: system-call filter off ([server] syscall_filter "
				"= false)\n");
		return 0;
	}
	rc = sandbox_enter(&allowed, e);
	if (rc) {
		fprintf(stderr, "kinko: refusing to serve without the system-call filter ([server] "
				"syscall_filter = false turns it off)\n");
		return rc;
	}
	fprintf(stderr, "kinko: system-call filter on: %u calls allowed, any other stops the "
			"server\n", allowed);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"key-file", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *keyfile = NULL;
	struct vault *v = NULL;
	struct server *s;
	struct kinko_config cfg;
	struct kinko_err e;
	char path[4096];
	uint8_t *key = NULL;
	size_t keylen = 0;
	unsigned removed = 0;
	time_t cert_warned = 0;
	int64_t cert_end = 0;
	sigset_t set;
	struct privdrop pd;
	int c, sig, rc, listen_fd = -1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'k': keyfile = optarg; break;
		default: return 2;
		}
	}
	if (!dir || optind != argc) {
		cli_usage_error("usage: kinko serve --dir DIR [--key-file F]");
		return 2;
	}
	rc = privdrop_check(dir, &pd, &e);
	if (rc)
		return cli_fail(&e);
	/* As root (if started so), only what may need it: the listen address from the
	 * configuration, the port, the key file. Root is given up before the vault is
	 * opened, so nothing else (the store, garbage collection, the audit log) ever
	 * runs as root in a directory another account owns. */
	snprintf(path, sizeof path, "%s/kinko.conf", dir);
	rc = config_load(path, false, &cfg, &e);
	if (!keyfile && rc == 0 && cfg.key_file[0])
		keyfile = cfg.key_file;
	if (rc == 0)
		rc = server_listen(&cfg, &listen_fd, &e);
	if (rc == 0 && keyfile)
		rc = vault_key_file_read(keyfile, &key, &keylen, &e);
	if (rc == 0)
		rc = drop_root(dir, &pd, &e);
	if (rc)
		goto fail;
	rc = vault_open(dir, &v, &e);
	if (rc)
		goto fail;
	rc = vault_collect_garbage(v, &removed, &e);
	if (rc)
		goto fail;
	if (removed)
		fprintf(stderr, "kinko: removed %u unreferenced blob file(s) left by an interrupted "
				"upload\n", removed);
	/* Addresses blocked before a restart stay blocked. */
	{
		size_t kept = 0;
		rc = vault_blocks_restore(v, &kept, &e);
		if (rc)
			goto fail;
		if (kept)
			fprintf(stderr, "kinko: %zu address(es) blocked before the restart stay "
					"blocked (kinko block list)\n", kept);
	}
	/* Refuse to serve a log that was rolled back or altered. */
	{
		uint64_t events = 0, cps = 0;
		rc = vault_log_verify(v, &events, &cps, &e);
		if (rc) {
			fprintf(stderr, "kinko: the audit log failed verification; refusing to serve\n");
			goto fail;
		}
		fprintf(stderr, "kinko: audit log verified: %llu events, %llu checkpoints\n",
			(unsigned long long)events, (unsigned long long)cps);
		/* A revocation holds whatever a certificate's row says (auth.c). */
		rc = vault_revocations_load(v, &e);
		if (rc) {
			fprintf(stderr, "kinko: refusing to serve\n");
			goto fail;
		}
	}
	rc = start_events(v, dir, &e);
	if (rc)
		goto fail;
	if (key) {
		rc = vault_unseal_audited(v, NULL, KEYRING_KEYFILE, key, keylen, &e);
		kinko_secure_free(key);
		key = NULL;
		if (rc)
			goto fail;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	{ /* the end of the certificate the server is about to load */
		char tlsdir[4096];
		snprintf(tlsdir, sizeof tlsdir, "%s/tls", dir);
		rc = tls_server_not_after(tlsdir, &cert_end, &e);
	}
	/* Set up: the calls that set up a process are no longer needed. The filter
	 * goes on before the first connection is served. */
	if (rc == 0)
		rc = confine(v, &e);
	if (rc == 0) {
		rc = server_start(v, listen_fd, &s, &e);
		listen_fd = -1; /* the server's now, whatever happened */
	}
	if (rc)
		goto fail;
	checkpoint_if_grown(v);
	fprintf(stderr, "kinko: serving https://%s/api/v1/ (%s)\n", vault_config(v)->listen,
		vault_is_sealed(v) ? "sealed: run kinko unseal" : "unsealed");
	warn_server_cert(dir, cert_end, &cert_warned);
	for (;;) {
		struct timespec ts = {(time_t)vault_config(v)->checkpoint_seconds, 0};
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		purge_sessions(v);
		checkpoint_if_grown(v);
		warn_server_cert(dir, cert_end, &cert_warned);
	}
	fprintf(stderr, "kinko: stopping\n");
	checkpoint_if_grown(v);
	server_stop(s);
	vault_close(v);
	return 0;
fail:
	if (key)
		kinko_secure_free(key);
	if (listen_fd >= 0)
		close(listen_fd);
	if (v)
		vault_close(v);
	return cli_fail(&e);
}

static bool have_terminal(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Unseals a vault opened offline: with the key file given, else the one kinko.conf
 * names, else the passphrase from its file or typed on the terminal. */
static int unseal_offline(struct vault *v, const char *keyfile, const char *ppfile,
			  struct kinko_err *e)
{
	uint8_t *secret;
	size_t n = 0;
	int rc;

	if (!keyfile && !ppfile && vault_config(v)->key_file[0])
		keyfile = vault_config(v)->key_file;
	if (keyfile)
		return vault_unseal_keyfile(v, keyfile, e);
	if (!ppfile && !have_terminal())
		return kinko_err_set(e, KINKO_EINVAL,
				     "the vault's key is needed and there is no terminal to type the "
				     "passphrase on: give --key-file F or --passphrase-file F");
	secret = kinko_secure_alloc(4096);
	if (!secret)
		return kinko_err_set(e, KINKO_ENOMEM, "out of secure memory");
	if (ppfile) {
		rc = cli_read_secret_file(ppfile, secret, 4096, &n, e);
		n = rc ? 0 : passphrase_len(secret, n);
	} else {
		rc = cli_read_secret(NULL, "Unseal passphrase: ", (char *)secret, 4096, e);
		n = rc ? 0 : strlen((char *)secret);
	}
	if (rc == 0)
		rc = vault_unseal(v, KEYRING_PASSPHRASE, secret, n, e);
	kinko_secure_free(secret);
	return rc;
}

/* kinko cert server: a new server key and certificate, from the vault's CA. Works on
 * DIR, not through the API: the server's own credentials are the operator's, and
 * a server whose certificate has expired cannot be reached to renew it. */
int cmd_cert_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"passphrase-file", required_argument, NULL, 'p'},
		{"key-file", required_argument, NULL, 'k'},
		{"server-name", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *ppfile = NULL, *keyfile = NULL;
	/* As at init: the loopback names always, then the names clients use. */
	const char *names[TLS_SERVER_NAMES_MAX] = {"localhost", "127.0.0.1", "::1"};
	size_t nnames = 3;
	bool named = false;
	struct vault_server_cert out;
	struct vault *v = NULL;
	struct kinko_err e;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'p': ppfile = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'n':
			if (add_server_name(names, &nnames, optarg))
				return 2;
			named = true;
			break;
		default: return 2;
		}
	}
	if (!dir || optind != argc || (ppfile && keyfile)) {
		cli_usage_error("usage: kinko cert server --dir DIR [--passphrase-file F | "
				"--key-file F] [--server-name HOST]...");
		return 2;
	}
	/* Names are checked before anything is unsealed. */
	for (size_t i = 3; i < nnames; i++)
		if (tls_server_name_check(names[i], &e))
			return cli_fail(&e);
	rc = vault_open(dir, &v, &e);
	if (rc)
		return cli_fail(&e);
	rc = unseal_offline(v, keyfile, ppfile, &e);
	if (rc == 0)
		rc = vault_server_cert_renew(v, named ? names : NULL, named ? nnames : 0, &out, &e);
	vault_close(v);
	if (rc)
		return cli_fail(&e);
	{
		char when[32] = "?";
		time_t t = (time_t)out.not_after;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("kinko: a new server certificate is in %s/tls / 新しいサーバ証明書を作成しました\n",
		       dir);
		printf("  fingerprint / フィンガープリント (SHA-256): %s\n", out.fingerprint);
		printf("  names / ホスト名:");
		for (size_t i = 0; i < out.nnames; i++)
			printf("%s %s", i ? "," : "", out.names[i]);
		printf("\n  valid until / 有効期限: %s\n", when);
		if (out.dropped)
			printf("  WARNING: %zu name(s) of the old certificate were left out (wildcards, "
			       "URIs or others kinko does not issue): give the names with "
			       "--server-name\n",
			       out.dropped);
		printf("Restart kinko serve to use it. / kinko serve を再起動すると使われます。\n");
	}
	return 0;
}

/* kinko check: a problem found, as a line now, or into the JSON report's list. */
static void check_problem(void *ctx, const char *object_id, const char *what)
{
	json_t *list = ctx;

	if (list) {
		json_t *p = json_pack("{s:s?, s:s}", "object", object_id, "problem", what);
		if (!p || json_array_append_new(list, p))
			fprintf(stderr, "kinko: out of memory listing the problems\n");
		return;
	}
	if (object_id)
		printf("NG  object %s: %s\n", object_id, what);
	else
		printf("NG  %s\n", what);
	fflush(stdout);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"passphrase-file", required_argument, NULL, 'p'},
		{"key-file", required_argument, NULL, 'k'},
		{"quick", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *ppfile = NULL, *keyfile = NULL;
	bool quick = false, as_json = false, clean;
	struct vault_check_opts o = {0};
	struct vault_check_report r;
	struct vault *v = NULL;
	struct kinko_err e;
	json_t *problems = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'p': ppfile = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'q': quick = true; break;
		case 'j': as_json = true; break;
		default: return 2;
		}
	}
	if (!dir || optind != argc || (ppfile && keyfile) || (quick && (ppfile || keyfile))) {
		cli_usage_error("usage: kinko check --dir DIR [--passphrase-file F | --key-file F | "
				"--quick] [--json]");
		return 2;
	}
	rc = vault_open(dir, &v, &e);
	if (rc)
		return cli_fail(&e);
	if (!quick)
		rc = unseal_offline(v, keyfile, ppfile, &e);
	if (rc == 0 && as_json && !(problems = json_array()))
		rc = kinko_err_set(&e, KINKO_ENOMEM, "out of memory");
	o.deep = !quick;
	o.problem = check_problem;
	o.ctx = problems;
	if (rc == 0)
		rc = vault_check(v, &o, &r, &e);
	vault_close(v);
	if (rc) {
		json_decref(problems);
		return cli_fail(&e);
	}
	clean = r.store_ok && r.log_ok && r.damaged == 0;
	if (as_json) {
		json_t *doc = json_pack("{s:b, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}",
					"intact", clean, "depth", r.deep ? "content" : "files",
					"database_ok", r.store_ok, "log_ok", r.log_ok,
					"log_events", (json_int_t)r.events,
					"log_checkpoints", (json_int_t)r.checkpoints,
					"objects", (json_int_t)r.objects, "bytes", (json_int_t)r.bytes,
					"damaged", (json_int_t)r.damaged,
					"orphan_blobs", (json_int_t)r.orphans, "seconds", r.seconds,
					"problems", problems);
		if (!doc || json_dumpf(doc, stdout, JSON_COMPACT | JSON_REAL_PRECISION(4)) ||
		    fputc('\n', stdout) == EOF) {
			json_decref(doc);
			fprintf(stderr, "kinko: cannot write the report\n");
			return 1;
		}
		json_decref(doc);
		return clean ? 0 : 3;
	}
	printf("%s  database / データベース: SQLite integrity and reference checks\n",
	       r.store_ok ? "OK" : "NG");
	printf("%s  audit log / 監査ログ: %llu events, %llu signed checkpoints\n",
	       r.log_ok ? "OK" : "NG", (unsigned long long)r.events,
	       (unsigned long long)r.checkpoints);
	printf("%s  objects / オブジェクト: %llu checked (%s), %llu bytes, %llu damaged\n",
	       r.damaged ? "NG" : "OK", (unsigned long long)r.objects,
	       r.deep ? "content authenticated and SHA-256 compared / 内容を認証しハッシュを照合"
		      : "files only, content not read / ファイルのみ、内容は未読",
	       (unsigned long long)r.bytes, (unsigned long long)r.damaged);
	if (r.orphans)
		printf("--  %llu blob file(s) no object refers to (left by an interrupted upload; "
		       "kinko serve removes them when it starts) / 参照されないファイル\n",
		       (unsigned long long)r.orphans);
	printf("%s in %.1f s; the result is in the audit log (%s)\n",
	       clean ? "intact / 異常なし" : "DAMAGED / 異常あり: restore what is named from a backup",
	       r.seconds, r.deep ? "store.check" : "store.check_quick");
	return clean ? 0 : 3;
}

/* kinko rows accept: see vault_rows_accept. On DIR, like kinko check; a running
 * server notices the new digest at its next request. */
int cmd_rows_accept(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"passphrase-file", required_argument, NULL, 'p'},
		{"key-file", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *ppfile = NULL, *keyfile = NULL;
	struct vault *v = NULL;
	struct kinko_err e;
	uint64_t rows = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'p': ppfile = optarg; break;
		case 'k': keyfile = optarg; break;
		default: return 2;
		}
	}
	if (!dir || optind != argc || (ppfile && keyfile)) {
		cli_usage_error("usage: kinko rows accept --dir DIR [--passphrase-file F | "
				"--key-file F]");
		return 2;
	}
	rc = vault_open(dir, &v, &e);
	if (rc)
		return cli_fail(&e);
	rc = unseal_offline(v, keyfile, ppfile, &e);
	if (rc == 0)
		rc = vault_rows_accept(v, &rows, &e);
	vault_close(v);
	if (rc)
		return cli_fail(&e);
	printf("accepted / 承認: the %llu access records that authenticate now are the set "
	       "kinko keeps a digest of (store.rows_accepted in the audit log)\n",
	       (unsigned long long)rows);
	return 0;
}

/* The arguments of a command that takes --dir DIR and nothing else: DIR, or NULL
 * after printing usage. */
static const char *dir_only(int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'd')
			return NULL;
		dir = optarg;
	}
	if (!dir || optind != argc) {
		cli_usage_error("%s", usage);
		return NULL;
	}
	return dir;
}

int cmd_firewall(int argc, char **argv)
{
	const char *dir = dir_only(argc, argv, "usage: kinko firewall --dir DIR   (prints "
						"nftables rules)");
	struct kinko_config cfg;
	struct kinko_err e;
	struct kbuf out;
	char path[4096], host[80];
	uint16_t port = 0;
	int rc;

	if (!dir)
		return 2;
	snprintf(path, sizeof path, "%s/kinko.conf", dir);
	kbuf_init(&out, 1 << 20);
	rc = config_load(path, false, &cfg, &e);
	if (rc == 0)
		rc = config_listen_addr(&cfg, host, sizeof host, &port, &e);
	if (rc == 0)
		rc = firewall_nft(&cfg.allow, port, path, &out, &e);
	if (rc == 0 && (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout)))
		rc = kinko_err_set(&e, KINKO_EIO, "cannot write the rules");
	kbuf_free(&out);
	return rc ? cli_fail(&e) : 0;
}

int cmd_config_check(int argc, char **argv)
{
	const char *dir = dir_only(argc, argv, "usage: kinko config check --dir DIR");
	struct kinko_config cfg;
	struct kinko_err e;
	char path[4096];
	int w;

	if (!dir)
		return 2;
	snprintf(path, sizeof path, "%s/kinko.conf", dir);
	if (config_load(path, false, &cfg, &e))
		return cli_fail(&e);
	w = config_report(&cfg, stdout);
	{
		struct stat st;
		if (stat(dir, &st) == 0 && st.st_uid == 0) {
			printf("warning: S4: %s is owned by root, so kinko serve keeps root there "
			       "and its system-call filter does not stop it writing system files; "
			       "give it to a dedicated account (chown -R kinko: %s)\n",
			       dir, dir);
			w++;
		}
	}
	printf("%d warning(s)\n", w);
	return 0;
}
