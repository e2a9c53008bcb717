/*
 * cli — the command-line edge. Parses argv, talks to the user, calls the domain
 * (offline commands) or the HTTPS API (online commands). Command functions return
 * a process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef KINKO_CLI_CLI_H
#define KINKO_CLI_CLI_H

struct kinko_err;

struct cli_command {
	const char *group; /* "package", or NULL for a top-level command */
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
	const char *summary;
};

int cli_main(int argc, char **argv);

/* Prints "kinko: <message>" to stderr; the one way commands report errors. */
int cli_fail(const struct kinko_err *e);
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Command entry points (one file per group under src/cli/). */
int cmd_version(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_cert_server(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_rows_accept(int argc, char **argv);
int cmd_firewall(int argc, char **argv);
int cmd_config_check(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_unseal(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_cert_issue(int argc, char **argv);
int cmd_cert_list(int argc, char **argv);
int cmd_cert_revoke(int argc, char **argv);
int cmd_block_list(int argc, char **argv);
int cmd_block_rm(int argc, char **argv);
int cmd_contract(int argc, char **argv);
int cmd_folder(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_log_verify(int argc, char **argv);
int cmd_log_show(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_package_seal(int argc, char **argv);
int cmd_package_open(int argc, char **argv);
int cmd_package_notice(int argc, char **argv);

#endif
