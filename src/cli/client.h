/*
 * client — the CLI's HTTPS client (libcurl, GnuTLS): TLS 1.3, the user's client
 * certificate, the server's CA, and the session token from `kinko login`.
 *
 * Connection settings come from, in order: command-line options, the environment
 * (KINKO_URL, KINKO_CERT, KINKO_KEY, KINKO_CACERT), the session file written by
 * `kinko login` ($KINKO_SESSION, default ~/.config/kinko/session.json, mode 0600),
 * and, with --dir DIR, the local data directory's CA, listen address and the
 * bundle under DIR/clients/USER/.
 */
#ifndef KINKO_CLI_CLIENT_H
#define KINKO_CLI_CLIENT_H

#include <getopt.h>
#include <stdbool.h>

#include <jansson.h>

#include "core/err.h"

struct client_opts {
	const char *url;
	const char *cert;
	const char *key;
	const char *cacert;
	const char *dir;
	const char *user; /* with --dir: whose bundle to use */
};

struct client;

/* Long options every online command accepts; append to a command's own table. */
#define CLIENT_LONGOPTS                                                  \
	{"url", required_argument, NULL, 0x100},                          \
	{"cert", required_argument, NULL, 0x101},                         \
	{"key", required_argument, NULL, 0x102},                          \
	{"cacert", required_argument, NULL, 0x103},                       \
	{"dir", required_argument, NULL, 0x104},                          \
	{"as", required_argument, NULL, 0x105}

/* Handles one of CLIENT_LONGOPTS; returns false for other options. */
bool client_opt(struct client_opts *o, int c, const char *arg);

/* needs_session: load the token from the session file (and fail if none). */
int client_open(const struct client_opts *o, bool needs_session, struct client **out,
		struct kinko_err *e) KINKO_WUR;
void client_close(struct client *c);

/* A JSON request; *out gets the parsed answer (caller json_decref). Errors from the
 * server (problem+json) become e with the server's detail and request ID. */
int client_json(struct client *c, const char *method, const char *path, json_t *body,
		json_t **out, struct kinko_err *e) KINKO_WUR;
/* Streams a local file up as a new object; *out is the server's answer. */
int client_upload(struct client *c, const char *folder_id, const char *name, int fd,
		  json_t **out, struct kinko_err *e) KINKO_WUR;
/* Streams a package (age or AES-256 zip) to be unpacked into a folder; name names
 * the file an age package holds. */
int client_import(struct client *c, const char *folder_id, const char *name,
		  const char *password, int fd, json_t **out, struct kinko_err *e) KINKO_WUR;
/* Streams an object down into fd and checks its SHA-256 against the server's. */
int client_download(struct client *c, const char *object_id, int fd, struct kinko_err *e) KINKO_WUR;

/* Saves the session file after a login (url, cert, key, cacert, token). */
int client_save_session(struct client *c, const char *token, struct kinko_err *e) KINKO_WUR;
int client_forget_session(struct kinko_err *e) KINKO_WUR;

/* Reads a whole file of at most cap - 1 bytes into buf and NUL-terminates it;
 * *n = its size. read(2) straight into buf: no stdio buffer keeps a copy. A larger
 * file is refused (and buf wiped). */
int cli_read_secret_file(const char *path, void *buf, size_t cap, size_t *n,
			 struct kinko_err *e) KINKO_WUR;

/* Reads a secret from a file (its first line), or from the terminal without echo;
 * never through stdio. */
int cli_read_secret(const char *file, const char *prompt, char *out, size_t cap,
		    struct kinko_err *e) KINKO_WUR;

/* Percent-encodes s for a URL path segment or query value. */
char *client_escape(struct client *c, const char *s);

#endif
