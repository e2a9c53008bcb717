#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/err.h"
#include "crypto/crypto.h"

static const struct cli_command commands[] = {
	{NULL, "init", cmd_init, "create a vault in a new data directory"},
	{NULL, "serve", cmd_serve, "run the server on a data directory"},
	{"config", "check", cmd_config_check, "print effective settings and weakening warnings"},
	{NULL, "status", cmd_status, "ask the server for its status"},
	{NULL, "unseal", cmd_unseal, "unseal the server with the passphrase"},
	{NULL, "seal", cmd_seal, "seal the server (wipes the master key from memory)"},
	{NULL, "login", cmd_login, "log in and keep the session"},
	{NULL, "logout", cmd_logout, "end the session"},
	{NULL, "user", cmd_user, "create, list, show, disable, enable, unlock accounts; totp"},
	{"cert", "issue", cmd_cert_issue, "issue a client certificate bundle for a user"},
	{"cert", "list", cmd_cert_list, "list the certificates issued (all, or a user's) and revoked"},
	{"cert", "revoke", cmd_cert_revoke, "revoke a client certificate; its sessions end"},
	{"cert", "server", cmd_cert_server, "renew the server's TLS certificate (on DIR, offline)"},
	{"block", "list", cmd_block_list, "list addresses counted or blocked after failed requests"},
	{"block", "rm", cmd_block_rm, "lift the block on an address"},
	{NULL, "firewall", cmd_firewall, "print nftables rules: only [server] allow reaches the port"},
	{NULL, "contract", cmd_contract, "create and list contracts; designate people"},
	{NULL, "folder", cmd_folder, "create and list folders; grant access"},
	{NULL, "put", cmd_put, "upload a file into a folder"},
	{NULL, "import", cmd_import, "unpack a package from the ward into a folder (all or none)"},
	{NULL, "get", cmd_get, "download an object"},
	{NULL, "ls", cmd_ls, "list a folder's objects"},
	{NULL, "rm", cmd_rm, "delete an object"},
	{NULL, "check", cmd_check, "check the vault's integrity: database, audit log, every blob (offline)"},
	{"rows", "accept", cmd_rows_accept, "accept the access records as they are now, after a check (offline)"},
	{"log", "verify", cmd_log_verify, "verify the audit log (offline, or a kept checkpoint online)"},
	{"log", "show", cmd_log_show, "show audit events as JSON lines or CSV"},
	{NULL, "version", cmd_version, "print the version"},
	{NULL, "scan", cmd_scan, "scan files for malware, count records, look for My Numbers"},
	{"package", "seal", cmd_package_seal, "seal files into an age or AES-256 zip package"},
	{"package", "open", cmd_package_open, "open an age or AES-256 zip package into a folder"},
	{"package", "notice", cmd_package_notice, "print the password notice for a package"},
};

int cli_fail(const struct kinko_err *e)
{
	fprintf(stderr, "kinko: %s\n", e && e->msg[0] ? e->msg : kinko_strerror(e ? e->code : -1));
	return 1;
}

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kinko: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see kinko help)\n", stderr);
}

static void usage(FILE *out)
{
	fputs("usage: kinko <command> [options]\n\ncommands:\n", out);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s%s%s", commands[i].group ? commands[i].group : "",
			 commands[i].group ? " " : "", commands[i].name);
		fprintf(out, "  %-22s %s\n", name, commands[i].summary);
	}
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("kinko %s\n", KINKO_VERSION);
	return 0;
}

int cli_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* Everything kinko creates (store, blobs, keys, sessions) is for its owner only. */
	umask(077);
	/* No core dumps, from any command: the server holds keys and plaintext, and
	 * the client commands passphrases, passwords and session tokens. */
	{
		struct rlimit rl = {0, 0};
		(void)setrlimit(RLIMIT_CORE, &rl);
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (kinko_crypto_init()) {
		fputs("kinko: cannot initialise the crypto libraries\n", stderr);
		return 1;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const struct cli_command *c = &commands[i];
		if (!c->group) {
			if (!strcmp(argv[1], c->name))
				return c->run(argc - 1, argv + 1);
		} else if (!strcmp(argv[1], c->group) && argc >= 3 && !strcmp(argv[2], c->name)) {
			return c->run(argc - 2, argv + 2);
		}
	}
	cli_usage_error("unknown command '%s'", argv[1]);
	return 2;
}
