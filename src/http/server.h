/*
 * server — the HTTPS edge: libmicrohttpd with GnuTLS, TLS 1.3 only.
 *
 * Refuses addresses outside the allowlist at accept; verifies the client
 * certificate on every request (libmicrohttpd only requests one, so kinko fails
 * closed itself); decides method, route, authentication and size limits on the
 * first callback, before any body byte is read; streams uploads and downloads
 * through the vault; answers errors as RFC 9457 problem+json; and gives every
 * response an X-Request-Id. It logs one line per request to stderr, with IDs only.
 */
#ifndef KINKO_HTTP_SERVER_H
#define KINKO_HTTP_SERVER_H

#include <signal.h>

#include "core/err.h"
#include "vault/vault.h"

struct server;

/* Binds and listens on [server] listen (a port below 1024 needs root): done
 * before root and the system calls to bind are given up. */
int server_listen(const struct kinko_config *cfg, int *fd, struct kinko_err *e) KINKO_WUR;
/* Serves on listen_fd (from server_listen), which it takes: closed by
 * server_stop, or on failure (when libmicrohttpd itself fails to start, it may
 * keep it open: the caller is about to exit then). */
int server_start(struct vault *v, int listen_fd, struct server **out, struct kinko_err *e) KINKO_WUR;
void server_stop(struct server *s);

#endif
