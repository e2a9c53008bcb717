/* Online commands: clients of the server's API. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "core/base64.h"
#include "core/parse.h"
#include "core/stream.h"
#include "core/tmpfile.h"
#include "crypto/crypto.h"

/* Parses the common options plus a command's own short flags. Own options are
 * returned through `own` (a small array of {letter, value}). */
struct own_opt {
	const char *name;
	const char *value;
	bool flag;
	bool has_arg;
};

static int parse_opts(int argc, char **argv, struct client_opts *co, struct own_opt *own,
		      size_t nown)
{
	struct option opts[24] = {CLIENT_LONGOPTS};
	size_t base = 6;
	int c;

	for (size_t i = 0; i < nown && base + i < 23; i++) {
		opts[base + i].name = own[i].name;
		opts[base + i].has_arg = own[i].has_arg ? required_argument : no_argument;
		opts[base + i].flag = NULL;
		opts[base + i].val = 0x200 + (int)i;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c >= 0x200 && c < 0x200 + (int)nown) {
			own[c - 0x200].value = optarg;
			own[c - 0x200].flag = true;
		} else if (!client_opt(co, c, optarg)) {
			return -1;
		}
	}
	return optind;
}

static int open_client(const struct client_opts *co, bool session, struct client **c)
{
	struct kinko_err e;

	if (client_open(co, session, c, &e))
		return cli_fail(&e);
	return 0;
}

static void print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (t) {
		puts(t);
		free(t);
	}
}

/* A one-shot JSON call that prints the answer. */
static int call(const struct client_opts *co, bool session, const char *method, const char *path,
		json_t *body)
{
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL;
	int rc = open_client(co, session, &c);

	if (rc) {
		json_decref(body);
		return rc;
	}
	rc = client_json(c, method, path, body, &out, &e);
	json_decref(body);
	client_close(c);
	if (rc)
		return cli_fail(&e);
	print_json(out);
	json_decref(out);
	return 0;
}

/* A command that takes only the connection options and makes one call. */
static int call_no_args(int argc, char **argv, const char *usage, bool session,
			const char *method, const char *path)
{
	struct client_opts co = {0};
	int i = parse_opts(argc, argv, &co, NULL, 0);

	if (i < 0 || i != argc) {
		cli_usage_error("%s", usage);
		return 2;
	}
	return call(&co, session, method, path, NULL);
}

int cmd_status(int argc, char **argv)
{
	return call_no_args(argc, argv, "usage: kinko status [--dir DIR --as USER | --cert F "
					"--key F --cacert F] [--url URL]",
			    false, "GET", "status");
}

int cmd_unseal(int argc, char **argv)
{
	struct client_opts co = {0};
	struct own_opt own[] = {{"passphrase-file", NULL, false, true}};
	struct kinko_err e;
	char *pp;
	int i = parse_opts(argc, argv, &co, own, 1), rc;

	if (i < 0 || i != argc) {
		cli_usage_error("usage: kinko unseal [--passphrase-file F] [connection options]");
		return 2;
	}
	pp = kinko_secure_alloc(2048);
	if (!pp)
		return 1;
	if (cli_read_secret(own[0].value, "Unseal passphrase: ", pp, 2048, &e)) {
		kinko_secure_free(pp);
		return cli_fail(&e);
	}
	rc = call(&co, false, "POST", "unseal", json_pack("{s:s}", "passphrase", pp));
	kinko_secure_free(pp);
	return rc;
}

int cmd_seal(int argc, char **argv)
{
	return call_no_args(argc, argv, "usage: kinko seal", true, "POST", "seal");
}

int cmd_login(int argc, char **argv)
{
	struct client_opts co = {0};
	struct own_opt own[] = {{"user", NULL, false, true},
				{"password-file", NULL, false, true},
				{"totp", NULL, false, true}};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL;
	char *pw, code[16] = "";
	int i = parse_opts(argc, argv, &co, own, 3), rc;

	if (i < 0 || i != argc || !own[0].value) {
		cli_usage_error("usage: kinko login --user NAME [--password-file F] [--totp -|CODE] "
				"[--dir DIR --as USER | --cert F --key F --cacert F] [--url URL]\n"
				"  --totp -   asks for the code on the terminal (a CODE given here "
				"is visible to other local users until it is used)");
		return 2;
	}
	if (co.dir && !co.user)
		co.user = own[0].value;
	pw = kinko_secure_alloc(2048);
	if (!pw)
		return 1;
	rc = cli_read_secret(own[1].value, "Password: ", pw, 2048, &e);
	if (rc == 0 && own[2].value && !strcmp(own[2].value, "-")) {
		int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (tty < 0)
			rc = kinko_err_set(&e, KINKO_EINVAL, "there is no terminal to ask for the TOTP "
							     "code on; give it as --totp CODE");
		else
			close(tty);
		if (rc == 0 && (rc = cli_read_secret(NULL, "TOTP code: ", code, sizeof code, &e)))
			kinko_err_wrap(&e, "the TOTP code");
	} else if (rc == 0 && own[2].value) {
		if (strlen(own[2].value) >= sizeof code)
			rc = kinko_err_set(&e, KINKO_EINVAL, "a TOTP code has 6 digits");
		else
			snprintf(code, sizeof code, "%s", own[2].value);
	}
	if (rc == 0)
		rc = client_open(&co, false, &c, &e);
	if (rc) {
		kinko_secure_free(pw);
		kinko_wipe(code, sizeof code);
		return cli_fail(&e);
	}
	json_t *body = json_pack("{s:s, s:s}", "user", own[0].value, "password", pw);
	if (code[0])
		json_object_set_new(body, "totp", json_string(code));
	kinko_wipe(code, sizeof code);
	rc = client_json(c, "POST", "login", body, &out, &e);
	json_decref(body);
	kinko_secure_free(pw);
	if (rc == 0)
		rc = client_save_session(c, json_string_value(json_object_get(out, "token")), &e);
	client_close(c);
	if (rc) {
		json_decref(out);
		return cli_fail(&e);
	}
	printf("logged in as %s (%s)\n",
	       json_string_value(json_object_get(json_object_get(out, "user"), "name")),
	       json_string_value(json_object_get(json_object_get(out, "user"), "role")));
	json_decref(out);
	return 0;
}

int cmd_logout(int argc, char **argv)
{
	struct client_opts co = {0};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL;
	int i = parse_opts(argc, argv, &co, NULL, 0), rc;

	if (i < 0 || i != argc) {
		cli_usage_error("usage: kinko logout");
		return 2;
	}
	rc = open_client(&co, true, &c);
	if (rc)
		return rc;
	rc = client_json(c, "POST", "logout", NULL, &out, &e);
	client_close(c);
	json_decref(out);
	if (rc == 0)
		rc = client_forget_session(&e);
	return rc ? cli_fail(&e) : 0;
}

/* Resolves a user name (or an ID) to an ID through the API. */
static int user_id(struct client *c, const char *ref, char out[40], struct kinko_err *e)
{
	json_t *doc = NULL;
	char path[256];
	char *esc;
	int rc;

	if (strlen(ref) == 36 && ref[8] == '-') {
		snprintf(out, 40, "%s", ref);
		return 0;
	}
	esc = client_escape(c, ref);
	if (!esc)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	snprintf(path, sizeof path, "users?name=%s", esc);
	curl_free(esc);
	rc = client_json(c, "GET", path, NULL, &doc, e);
	if (rc == 0) {
		const char *id = json_string_value(
			json_object_get(json_array_get(json_object_get(doc, "items"), 0), "id"));
		if (id)
			snprintf(out, 40, "%s", id);
		else
			rc = kinko_err_set(e, KINKO_ENOENT, "no user named %s", ref);
	}
	json_decref(doc);
	return rc;
}

int cmd_user(int argc, char **argv)
{
	struct client_opts co = {0};
	struct own_opt own[] = {{"role", NULL, false, true},
				{"allowed-cidrs", NULL, false, true},
				{"password-file", NULL, false, true}};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL, *body = NULL;
	char id[40], path[256];
	const char *sub;
	int i = parse_opts(argc, argv, &co, own, 3), rc;

	if (i < 0 || i >= argc) {
		cli_usage_error("usage: kinko user create NAME --role R [--allowed-cidrs L] | list | "
				"show USER | disable USER | enable USER | unlock USER | "
				"passwd USER [--password-file F] | totp USER");
		return 2;
	}
	sub = argv[i];
	if (!strcmp(sub, "list") && i + 1 == argc)
		return call(&co, true, "GET", "users?limit=1000", NULL);
	if (i + 2 != argc) {
		cli_usage_error("kinko user %s needs exactly one user", sub);
		return 2;
	}
	if (!strcmp(sub, "create")) {
		if (!own[0].value) {
			cli_usage_error("kinko user create needs --role manager|handler|auditor|operator");
			return 2;
		}
		body = json_pack("{s:s, s:s}", "name", argv[i + 1], "role", own[0].value);
		if (own[1].value)
			json_object_set_new(body, "allowed_cidrs", json_string(own[1].value));
		return call(&co, true, "POST", "users", body);
	}
	rc = open_client(&co, true, &c);
	if (rc)
		return rc;
	rc = user_id(c, argv[i + 1], id, &e);
	if (rc == 0) {
		snprintf(path, sizeof path, "users/%s", id);
		if (!strcmp(sub, "show")) {
			rc = client_json(c, "GET", path, NULL, &out, &e);
		} else if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
			body = json_pack("{s:b}", "disabled", !strcmp(sub, "disable"));
			rc = client_json(c, "PATCH", path, body, &out, &e);
		} else if (!strcmp(sub, "unlock")) {
			body = json_pack("{s:b}", "unlock", 1);
			rc = client_json(c, "PATCH", path, body, &out, &e);
		} else if (!strcmp(sub, "passwd")) {
			char *pw = kinko_secure_alloc(2048);
			rc = pw ? cli_read_secret(own[2].value, "New password: ", pw, 2048, &e)
				: kinko_err_set(&e, KINKO_ENOMEM, "out of memory");
			if (rc == 0) {
				body = json_pack("{s:s}", "password", pw);
				rc = client_json(c, "PATCH", path, body, &out, &e);
			}
			kinko_secure_free(pw);
		} else if (!strcmp(sub, "totp")) {
			snprintf(path, sizeof path, "users/%s/totp", id);
			rc = client_json(c, "POST", path, NULL, &out, &e);
		} else {
			client_close(c);
			cli_usage_error("unknown user command '%s'", sub);
			return 2;
		}
	}
	json_decref(body);
	client_close(c);
	if (rc)
		return cli_fail(&e);
	print_json(out);
	json_decref(out);
	return 0;
}

static int write_out(const char *dir, const char *name, const void *p, size_t n, mode_t mode,
		     struct kinko_err *e)
{
	char path[4096];
	int fd, rc;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return kinko_err_set(e, KINKO_EIO, "cannot create %s: %s", path, strerror(errno));
	rc = kinko_write_all(fd, p, n, e);
	close(fd);
	return rc;
}

int cmd_cert_issue(int argc, char **argv)
{
	struct client_opts co = {0};
	struct own_opt own[] = {{"days", NULL, false, true}, {"out", NULL, false, true}};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL, *body;
	char id[40], path[256];
	int i = parse_opts(argc, argv, &co, own, 2), rc;

	if (i < 0 || i + 1 != argc || !own[1].value) {
		cli_usage_error("usage: kinko cert issue USER --out DIR [--days N]");
		return 2;
	}
	rc = open_client(&co, true, &c);
	if (rc)
		return rc;
	body = json_object();
	if (own[0].value) {
		uint64_t days;
		if (parse_u64(own[0].value, 100000, &days)) {
			client_close(c);
			json_decref(body);
			cli_usage_error("--days must be a whole number");
			return 2;
		}
		json_object_set_new(body, "days", json_integer((json_int_t)days));
	}
	rc = user_id(c, argv[i], id, &e);
	if (rc == 0) {
		snprintf(path, sizeof path, "users/%s/certificates", id);
		rc = client_json(c, "POST", path, body, &out, &e);
	}
	json_decref(body);
	client_close(c);
	if (rc == 0 && mkdir(own[1].value, 0700) != 0 && errno != EEXIST)
		rc = kinko_err_set(&e, KINKO_EIO, "cannot create %s", own[1].value);
	if (rc == 0) {
		const char *cert = json_string_value(json_object_get(out, "cert_pem"));
		const char *key = json_string_value(json_object_get(out, "key_pem"));
		const char *p12 = json_string_value(json_object_get(out, "p12_base64"));
		uint8_t *bin = p12 ? malloc(strlen(p12)) : NULL;
		size_t blen = 0;
		if (!cert || !key || !bin ||
		    kinko_base64_decode(p12, strlen(p12), true, bin, strlen(p12), &blen))
			rc = kinko_err_set(&e, KINKO_EFORMAT, "the server's answer lacks the bundle");
		if (rc == 0)
			rc = write_out(own[1].value, "client.pem", cert, strlen(cert), 0644, &e);
		if (rc == 0)
			rc = write_out(own[1].value, "client.key", key, strlen(key), 0600, &e);
		if (rc == 0)
			rc = write_out(own[1].value, "client.p12", bin, blen, 0600, &e);
		free(bin);
	}
	if (rc) {
		json_decref(out);
		return cli_fail(&e);
	}
	printf("wrote %s/client.pem, client.key, client.p12\n", own[1].value);
	printf("fingerprint (SHA-256): %s\n", json_string_value(json_object_get(out, "fingerprint")));
	printf("PKCS#12 password (shown once): %s\n",
	       json_string_value(json_object_get(out, "p12_password")));
	json_decref(out);
	return 0;
}

/* kinko cert list [USER]: the issued/revoked list, newest first (1000 at most). */
int cmd_cert_list(int argc, char **argv)
{
	struct client_opts co = {0};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL;
	char id[40], path[256];
	int i = parse_opts(argc, argv, &co, NULL, 0), rc;

	if (i < 0 || i + 1 < argc) {
		cli_usage_error("usage: kinko cert list [USER]");
		return 2;
	}
	if (i == argc)
		return call(&co, true, "GET", "certificates?limit=1000", NULL);
	rc = open_client(&co, true, &c);
	if (rc)
		return rc;
	rc = user_id(c, argv[i], id, &e);
	if (rc == 0) {
		snprintf(path, sizeof path, "certificates?limit=1000&user=%s", id);
		rc = client_json(c, "GET", path, NULL, &out, &e);
	}
	client_close(c);
	if (rc)
		return cli_fail(&e);
	print_json(out);
	json_decref(out);
	return 0;
}

/* kinko cert revoke FINGERPRINT: refused on every request from then on, and the
 * sessions opened with it end. */
int cmd_cert_revoke(int argc, char **argv)
{
	struct client_opts co = {0};
	char path[128];
	int i = parse_opts(argc, argv, &co, NULL, 0);

	if (i < 0 || i + 1 != argc || strlen(argv[i]) != 64 || strchr(argv[i], '/') ||
	    strchr(argv[i], '?')) {
		cli_usage_error("usage: kinko cert revoke FINGERPRINT (64 hex digits, from kinko "
				"cert list)");
		return 2;
	}
	snprintf(path, sizeof path, "certificates/%s/revoke", argv[i]);
	return call(&co, true, "POST", path, NULL);
}

/* kinko block list: the addresses being counted or blocked after failed requests. */
int cmd_block_list(int argc, char **argv)
{
	return call_no_args(argc, argv, "usage: kinko block list", true, "GET", "blocks");
}

/* kinko block rm ADDRESS: lifts a block (any address of an IPv6 /64 will do). */
int cmd_block_rm(int argc, char **argv)
{
	struct client_opts co = {0};
	char path[128], addr[72];
	size_t n;
	int i = parse_opts(argc, argv, &co, NULL, 0);

	/* As the list shows it: an IPv6 source with its "/64", which a path cannot carry
	 * (the server takes any address of the /64). */
	n = i >= 0 && i < argc ? strlen(argv[i]) : 0;
	if (n > 0 && n < sizeof addr) {
		memcpy(addr, argv[i], n + 1);
		if (n > 3 && !strcmp(addr + n - 3, "/64"))
			addr[n -= 3] = '\0';
	}
	if (i < 0 || i + 1 != argc || n == 0 || n >= sizeof addr ||
	    strspn(addr, "0123456789abcdefABCDEF.:") != n) {
		cli_usage_error("usage: kinko block rm ADDRESS (an IPv4 address or an IPv6 /64, as "
				"kinko block list shows it)");
		return 2;
	}
	snprintf(path, sizeof path, "blocks/%s", addr);
	return call(&co, true, "DELETE", path, NULL);
}

int cmd_contract(int argc, char **argv)
{
	struct client_opts co = {0};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL, *body;
	char id[40], path[256];
	int i = parse_opts(argc, argv, &co, NULL, 0), rc;

	if (i < 0 || i >= argc)
		goto usage;
	if (!strcmp(argv[i], "list") && i + 1 == argc)
		return call(&co, true, "GET", "contracts?limit=1000", NULL);
	if (!strcmp(argv[i], "create") && i + 2 == argc)
		return call(&co, true, "POST", "contracts", json_pack("{s:s}", "name", argv[i + 1]));
	if (!strcmp(argv[i], "members") && i + 2 == argc) {
		snprintf(path, sizeof path, "contracts/%.40s/members", argv[i + 1]);
		return call(&co, true, "GET", path, NULL);
	}
	if (!strcmp(argv[i], "designate") && i + 4 == argc) {
		rc = open_client(&co, true, &c);
		if (rc)
			return rc;
		rc = user_id(c, argv[i + 2], id, &e);
		if (rc == 0) {
			snprintf(path, sizeof path, "contracts/%.40s/members/%s", argv[i + 1], id);
			if (!strcmp(argv[i + 3], "none")) {
				rc = client_json(c, "DELETE", path, NULL, &out, &e);
			} else {
				body = json_pack("{s:s}", "role", argv[i + 3]);
				rc = client_json(c, "PUT", path, body, &out, &e);
				json_decref(body);
			}
		}
		client_close(c);
		if (rc)
			return cli_fail(&e);
		print_json(out);
		json_decref(out);
		return 0;
	}
usage:
	cli_usage_error("usage: kinko contract create NAME | list | members CONTRACT | "
			"designate CONTRACT USER manager|handler|auditor|none");
	return 2;
}

int cmd_folder(int argc, char **argv)
{
	struct client_opts co = {0};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL, *body, *perms;
	char id[40], path[256];
	int i = parse_opts(argc, argv, &co, NULL, 0), rc;

	if (i < 0 || i >= argc)
		goto usage;
	if (!strcmp(argv[i], "list") && i + 2 == argc) {
		snprintf(path, sizeof path, "contracts/%.40s/folders?limit=1000", argv[i + 1]);
		return call(&co, true, "GET", path, NULL);
	}
	if (!strcmp(argv[i], "create") && i + 3 == argc) {
		snprintf(path, sizeof path, "contracts/%.40s/folders", argv[i + 1]);
		return call(&co, true, "POST", path, json_pack("{s:s}", "name", argv[i + 2]));
	}
	if (!strcmp(argv[i], "mark") && i + 3 == argc &&
	    (!strcmp(argv[i + 2], "specific") || !strcmp(argv[i + 2], "none"))) {
		snprintf(path, sizeof path, "folders/%.40s", argv[i + 1]);
		return call(&co, true, "PATCH", path,
			    json_pack("{s:b}", "specific_personal", !strcmp(argv[i + 2], "specific")));
	}
	if (!strcmp(argv[i], "acl") && i + 2 == argc) {
		snprintf(path, sizeof path, "folders/%.40s/acl", argv[i + 1]);
		return call(&co, true, "GET", path, NULL);
	}
	if (!strcmp(argv[i], "grant") && i + 4 == argc) {
		/* PERMS: comma-separated read,write,export,erase, or "none". */
		char list[128];
		perms = json_array();
		snprintf(list, sizeof list, "%s", argv[i + 3]);
		if (strcmp(list, "none")) {
			char *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
				json_array_append_new(perms, json_string(t));
		}
		rc = open_client(&co, true, &c);
		if (rc) {
			json_decref(perms);
			return rc;
		}
		rc = user_id(c, argv[i + 2], id, &e);
		body = json_pack("{s:o}", "perms", perms);
		if (rc == 0) {
			snprintf(path, sizeof path, "folders/%.40s/acl/%s", argv[i + 1], id);
			rc = client_json(c, "PUT", path, body, &out, &e);
		}
		json_decref(body);
		client_close(c);
		if (rc)
			return cli_fail(&e);
		print_json(out);
		json_decref(out);
		return 0;
	}
usage:
	cli_usage_error("usage: kinko folder create CONTRACT NAME | list CONTRACT | acl FOLDER | "
			"grant FOLDER USER read,write,export,erase|none | "
			"mark FOLDER specific|none (特定個人情報)");
	return 2;
}

int cmd_put(int argc, char **argv)
{
	struct client_opts co = {0};
	struct own_opt own[] = {{"name", NULL, false, true}};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL;
	const char *name;
	int fd, i = parse_opts(argc, argv, &co, own, 1), rc;

	if (i < 0 || i + 2 != argc) {
		cli_usage_error("usage: kinko put FOLDER FILE [--name NAME]");
		return 2;
	}
	name = own[0].value;
	if (!name) {
		name = strrchr(argv[i + 1], '/');
		name = name ? name + 1 : argv[i + 1];
	}
	fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail(&(struct kinko_err){KINKO_EIO, "cannot open the file"});
	rc = open_client(&co, true, &c);
	if (rc) {
		close(fd);
		return rc;
	}
	rc = client_upload(c, argv[i], name, fd, &out, &e);
	close(fd);
	client_close(c);
	if (rc)
		return cli_fail(&e);
	print_json(out);
	json_decref(out);
	return 0;
}

int cmd_import(int argc, char **argv)
{
	struct client_opts co = {0};
	struct own_opt own[] = {{"folder", NULL, false, true}, {"password-file", NULL, false, true}};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL;
	char *pw;
	int fd, i = parse_opts(argc, argv, &co, own, 2), rc;

	if (i < 0 || i + 1 != argc || !own[0].value) {
		cli_usage_error("usage: kinko import --folder FOLDER [--password-file F] PACKAGE");
		return 2;
	}
	pw = kinko_secure_alloc(2048);
	if (!pw)
		return 1;
	if (cli_read_secret(own[1].value, "Package password: ", pw, 2048, &e)) {
		kinko_secure_free(pw);
		return cli_fail(&e);
	}
	fd = open(argv[i], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kinko_secure_free(pw);
		return cli_fail(&(struct kinko_err){KINKO_EIO, "cannot open the package"});
	}
	rc = open_client(&co, true, &c);
	if (rc == 0) {
		/* An age package holds one unnamed file: name it after the package. */
		char name[256];
		const char *b = strrchr(argv[i], '/');
		size_t n;
		snprintf(name, sizeof name, "%s", b ? b + 1 : argv[i]);
		n = strlen(name);
		if (n > 4 && !strcmp(name + n - 4, ".age"))
			name[n - 4] = '\0';
		rc = client_import(c, own[0].value, name, pw, fd, &out, &e) ? cli_fail(&e) : 0;
		client_close(c);
	}
	close(fd);
	kinko_secure_free(pw);
	if (rc == 0) {
		print_json(out);
		json_decref(out);
	}
	return rc;
}

int cmd_get(int argc, char **argv)
{
	struct client_opts co = {0};
	struct own_opt own[] = {{"output", NULL, false, true}};
	struct client *c;
	struct kinko_err e;
	struct kinko_tmpfile out;
	int i = parse_opts(argc, argv, &co, own, 1), rc;

	if (i < 0 || i + 1 != argc || !own[0].value) {
		cli_usage_error("usage: kinko get OBJECT --output FILE");
		return 2;
	}
	/* Write beside the target and give it the name only after the digest matched. */
	if (kinko_tmpfile_open(&out, own[0].value, 0600, &e))
		return cli_fail(&e);
	rc = open_client(&co, true, &c);
	if (rc) {
		kinko_tmpfile_discard(&out);
		return rc;
	}
	rc = client_download(c, argv[i], out.fd, &e);
	client_close(c);
	if (rc) {
		kinko_tmpfile_discard(&out);
		return cli_fail(&e);
	}
	if (kinko_tmpfile_commit(&out, KINKO_TMPFILE_REPLACE | KINKO_TMPFILE_DURABLE, &e))
		return cli_fail(&e);
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	struct client_opts co = {0};
	struct client *c;
	struct kinko_err e;
	json_t *out = NULL, *it;
	char path[512], cursor[128] = "";
	size_t k;
	int i = parse_opts(argc, argv, &co, NULL, 0), rc;

	if (i < 0 || i + 1 != argc) {
		cli_usage_error("usage: kinko ls FOLDER");
		return 2;
	}
	rc = open_client(&co, true, &c);
	if (rc)
		return rc;
	do {
		snprintf(path, sizeof path, "folders/%.40s/objects?limit=1000%s%s", argv[i],
			 cursor[0] ? "&cursor=" : "", cursor);
		rc = client_json(c, "GET", path, NULL, &out, &e);
		if (rc)
			break;
		json_array_foreach(json_object_get(out, "items"), k, it) {
			const char *name = json_string_value(json_object_get(it, "name"));
			printf("%s  %12lld  %s  %s\n", json_string_value(json_object_get(it, "id")),
			       (long long)json_integer_value(json_object_get(it, "size")),
			       json_string_value(json_object_get(it, "sha256")),
			       name ? name : "(name hidden)");
		}
		const char *next = json_string_value(json_object_get(out, "next_cursor"));
		snprintf(cursor, sizeof cursor, "%s", next ? next : "");
		json_decref(out);
	} while (cursor[0]);
	client_close(c);
	return rc ? cli_fail(&e) : 0;
}

int cmd_rm(int argc, char **argv)
{
	struct client_opts co = {0};
	char path[256];
	int i = parse_opts(argc, argv, &co, NULL, 0);

	if (i < 0 || i + 1 != argc) {
		cli_usage_error("usage: kinko rm OBJECT");
		return 2;
	}
	snprintf(path, sizeof path, "objects/%.40s", argv[i]);
	return call(&co, true, "DELETE", path, NULL);
}
