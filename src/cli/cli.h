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

#endif
