#include "http/server.h"
#include "scan/clamd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include "api/api.h"
#include "core/cidr.h"
#include "core/parse.h"
#include "crypto/crypto.h"
#include "http/uri.h"
#include "tls/tls.h"

#define URI_MAX 4096
#define DOWNLOAD_BLOCK (256u * 1024)
#define DRAIN_MAX (16u << 20) /* bytes of an over-long body read only to answer 413 */
/* Imports unpacking at once. Each derives its key from the package's password
 * (age: scrypt, up to 256 MiB for a second or so), so they are few whatever
 * max_uploads allows; more get 503 at once. */
#define IMPORTS_AT_ONCE 2

struct server {
	struct vault *v;
	struct MHD_Daemon *d;
	struct tls_server_creds creds;
	atomic_uint uploads;
	atomic_uint imports; /* imports deriving their package's key now (scrypt) */
	atomic_ulong refused;
	atomic_long refused_logged_at;
	/* Connections with a transfer (upload, download, import) in progress, cut
	 * when a seal starts. */
	pthread_mutex_t xfer_mu;
	struct xfer *xfers;
};

/* A transfer's connection: a duplicate of its socket, so that cutting it can
 * never reach another connection that reused the number. */
struct xfer {
	int fd;
	struct xfer *next, *prev;
};

/* NULL with e set when the transfer cannot be tracked (which is a 500: a transfer
 * a seal could not cut is not started). */
static struct xfer *xfer_add(struct server *s, struct MHD_Connection *conn,
			     struct kinko_err *e)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct xfer *x = calloc(1, sizeof *x);

	if (!x || !ci || (x->fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		kinko_err_set(e, KINKO_ENOMEM, "cannot track the transfer for a seal to cut: %s",
			      !x ? "out of memory" : !ci ? "no socket for the connection"
						     : strerror(errno));
		free(x);
		return NULL;
	}
	pthread_mutex_lock(&s->xfer_mu);
	x->next = s->xfers;
	if (s->xfers)
		s->xfers->prev = x;
	s->xfers = x;
	pthread_mutex_unlock(&s->xfer_mu);
	return x;
}

static void xfer_del(struct server *s, struct xfer *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&s->xfer_mu);
	if (x->prev)
		x->prev->next = x->next;
	else
		s->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	pthread_mutex_unlock(&s->xfer_mu);
	close(x->fd);
	free(x);
}

/* The seal hook: every transfer's connection is shut down, so that its thread
 * ends the transfer (an upload stores nothing) and gives the key up at once. */
static void cut_transfers(void *ctx)
{
	struct server *s = ctx;

	pthread_mutex_lock(&s->xfer_mu);
	for (struct xfer *x = s->xfers; x; x = x->next)
		(void)shutdown(x->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->xfer_mu);
}

enum req_state { REQ_NEW, REQ_BODY, REQ_DONE };

struct req {
	struct server *srv;
	char raw_uri[URI_MAX + 1];
	bool uri_too_long;
	char path[URI_MAX + 1]; /* decoded segments, NUL-separated */
	char query[URI_MAX + 1];
	struct api_req api;
	struct api_resp resp;
	int kind;
	enum req_state state;
	char request_id[33];
	struct kbuf body;
	uint64_t max_body;
	struct vault_upload *up;
	bool upload_counted;
	bool session_ended; /* its session, valid when it began, ended while it ran */
	atomic_bool import_counted; /* holds an import slot (IMPORTS_AT_ONCE) */
	struct xfer *xfer; /* an upload's or import's connection, while it streams */
	bool fail_pending; /* an error answer is ready; the rest of the body is dropped */
	uint64_t failed_at; /* with fail_pending: body bytes in when it failed */
	uint64_t bytes;
	struct MHD_Connection *conn;
	char addr_text[64];
	struct vault_audit_note note;
	bool audit_failed;
	bool close; /* end the connection after the answer (a blocked source) */
	/* An import: the body goes down a pipe to a thread that unpacks it. */
	struct import_job *imp;
};

struct import_job {
	struct req *r;
	int rfd, wfd;
	pthread_t th;
	char *password; /* secure memory */
	size_t password_len;
	char age_name[VAULT_NAME_MAX + 1];
	struct vault_import_result res;
	int rc;
	struct kinko_err err;
	bool broken; /* the thread stopped reading: drop the rest of the body */
};

/* The package passwords' key derivations running at once (scrypt at up to 2^18
 * takes 256 MiB) are bounded by IMPORTS_AT_ONCE. An import takes its turn right
 * before its derivation, when its whole header has arrived (a slow sender holds
 * no turn), waits for one up to IMPORT_TURN_WAIT_MS, and gives it back as soon
 * as the derivation is over. */
#define IMPORT_TURN_WAIT_MS 30000

static int import_derive_begin(void *ctx, struct kinko_err *e)
{
	struct req *r = ctx;

	for (int waited = 0;; waited += 50) {
		unsigned n = atomic_load(&r->srv->imports);
		if (n < IMPORTS_AT_ONCE &&
		    atomic_compare_exchange_weak(&r->srv->imports, &n, n + 1)) {
			atomic_store(&r->import_counted, true);
			return 0;
		}
		if (vault_seal_pending(r->srv->v))
			return kinko_err_set(e, KINKO_ESEALED, "the vault is being sealed");
		if (waited >= IMPORT_TURN_WAIT_MS)
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "%d imports are deriving their package's key and none "
					     "finished within %d s; retry later",
					     IMPORTS_AT_ONCE, IMPORT_TURN_WAIT_MS / 1000);
		nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
	}
}

static void import_derived(void *ctx)
{
	struct req *r = ctx;

	if (atomic_exchange(&r->import_counted, false))
		atomic_fetch_sub(&r->srv->imports, 1);
}

static void *import_thread(void *arg)
{
	struct import_job *j = arg;
	struct kinko_reader in = {kinko_fd_read, &j->rfd};

	j->rc = vault_import(j->r->srv->v, &j->r->api.actor, j->r->api.seg[1], &in, j->password,
			     j->password_len, j->age_name[0] ? j->age_name : NULL,
			     import_derive_begin, import_derived, j->r, &j->res, &j->err);
	/* Whatever happened, stop the request thread from blocking on the pipe. */
	close(j->rfd);
	j->rfd = -1;
	return NULL;
}

static void import_free(struct import_job *j)
{
	if (!j)
		return;
	if (j->wfd >= 0)
		close(j->wfd);
	if (j->th) {
		pthread_join(j->th, NULL);
	}
	if (j->rfd >= 0)
		close(j->rfd);
	kinko_secure_free(j->password);
	vault_import_result_free(&j->res);
	free(j);
}

/* ---------------------------------------------------------------- logging */

/* Path segments reach the log only when they are IDs or route words: a client
 * cannot write names, control characters or fake log lines into it. */
static bool log_safe(const char *seg)
{
	size_t n = strlen(seg);

	if (store_id_valid(seg))
		return true;
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((seg[i] >= 'a' && seg[i] <= 'z') || seg[i] == '-' || seg[i] == '_'))
			return false;
	return true;
}

/* The method as the log shows it. libmicrohttpd passes whatever the request line
 * holds (escapes, tabs), and a request refused for its certificate is logged too,
 * so anyone who can connect could write into the log: a method kinko does not know
 * is written as "?". */
static const char *log_method(const char *m)
{
	static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
					     "OPTIONS" };

	if (!m)
		return "-";
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (!strcmp(m, known[i]))
			return known[i];
	return "?";
}

static void log_request(struct req *r, int status)
{
	char ts[32];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* IDs only: the query string (which may hold a file name) is never logged. */
	fprintf(stderr, "%s kinko: req=%s addr=%s user=%s method=%s path=/api/v1", ts,
		r->request_id, r->addr_text, r->api.authed ? r->api.actor.user_id : "-",
		log_method(r->api.method));
	for (unsigned i = 0; i < r->api.nseg; i++)
		fprintf(stderr, "/%s", log_safe(r->api.seg[i]) ? r->api.seg[i] : "?");
	fprintf(stderr, " status=%d bytes=%" PRIu64 "\n", status, r->bytes);
}

/* ---------------------------------------------------------------- URI parsing */

/* Splits the raw URI into decoded path segments after /api/v1/ (see http/uri.h). */
static int parse_uri(struct req *r, struct kinko_err *e)
{
	const char *q = strchr(r->raw_uri, '?');

	if (q)
		snprintf(r->query, sizeof r->query, "%s", q + 1);
	return uri_split_path(r->raw_uri, "/api/v1/", r->path, sizeof r->path, r->api.seg,
			      API_MAX_SEGS, &r->api.nseg, e);
}

/* Finds a query argument and decodes it into a per-request buffer. Arguments are
 * looked up a handful of times per request, so a linear scan is fine. */
#define ARG_SLOTS 6

struct arg_buf {
	char v[ARG_SLOTS][URI_MAX + 1];
	const char *name[ARG_SLOTS]; /* the names looked up: static strings of the routes */
	bool found[ARG_SLOTS];       /* present and decoded */
	unsigned used;
};

static __thread struct arg_buf *tls_args;

/* A query argument, decoded, or NULL when absent or undecodable. A name asked for
 * again gets the slot it had, so a handler may look an argument up as often as it
 * likes; a handler asking for more distinct names than there are slots is a bug,
 * and aborts rather than see an argument (a filter, say) as absent. */
static const char *req_arg(void *ctx, const char *name)
{
	struct req *r = ctx;
	struct arg_buf *b = tls_args;
	size_t got;

	if (!b)
		return NULL;
	for (unsigned i = 0; i < b->used; i++)
		if (!strcmp(b->name[i], name))
			return b->found[i] ? b->v[i] : NULL;
	if (b->used == ARG_SLOTS)
		abort();
	b->name[b->used] = name;
	b->found[b->used] = uri_query_arg(r->query, name, b->v[b->used], sizeof b->v[0], &got) == 0;
	b->used++;
	return b->found[b->used - 1] ? b->v[b->used - 1] : NULL;
}

/* Whether a query argument is present at all (to tell "absent" from "undecodable"). */
static bool req_has_arg(struct req *r, const char *name)
{
	return uri_query_has(r->query, name);
}

static const char *req_header(void *ctx, const char *name)
{
	struct req *r = ctx;
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---------------------------------------------------------------- responses */

static void add_common_headers(struct req *r, struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static void sink_emit(struct req *r);

/* Counts a failure against a source address and, when that blocks the source,
 * says so in the log. Returns true when the source is now blocked. a: the
 * request's actor (its request ID goes on the block's event), or NULL. */
static bool source_failed(struct server *s, const char *request_id,
			  const struct vault_actor *a, const struct sockaddr *addr)
{
	struct addrblock_entry b;
	struct kinko_err e;
	char when[32] = "?";
	time_t t;
	struct tm tm;
	int rc;

	rc = vault_addr_failed(s->v, a, addr, &b, &e);
	if (rc == 0)
		return false;
	if (rc < 0) /* the block stands; its event and stored row could not be written */
		fprintf(stderr, "kinko: req=%s ALERT: the block below was not recorded (it holds "
				"until a restart): %s\n", request_id, e.msg);
	t = (time_t)b.until;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(stderr,
		"kinko: req=%s ALERT: blocked %s until %s after %u failures (TLS handshakes not "
		"completed, refused certificates, failed logins, invalid sessions); kinko block "
		"rm %s lifts it\n",
		request_id, b.source, when, b.failures, b.source);
	return true;
}

/* Counts a failed request against its source address (a refused client
 * certificate, 401, 423) and, when that blocks the source, ends the connection:
 * the source's next connection is refused at accept. */
static void count_failure(struct req *r, int status)
{
	if (r->kind != -2 && status != 401 && status != 423)
		return;
	/* A session that was valid when its upload or import began and ended while
	 * it ran (its owner logged out, was disabled, or it reached its lifetime):
	 * not a guess at anything. */
	if (status == 401 && r->session_ended && r->api.actor.has_session)
		return;
	if (source_failed(r->srv, r->request_id, &r->api.actor, r->api.addr))
		r->close = true;
}

/* Every request is one audit event, written before the answer leaves. When the
 * vault already appended it with the change, nothing more is needed; otherwise it
 * is appended here. If that fails, the answer becomes a 503: the request's effect
 * (a read) is not delivered unaudited. Returns false when the answer was replaced. */
static bool audit_request(struct req *r, int *status, json_t **doc, json_t **owned)
{
	struct kinko_err e;
	const char *action;
	bool sealed;

	count_failure(r, *status);
	/* The event the vault appended with the request's change stands for the
	 * request, whatever its status, once it is confirmed in the log: if its
	 * transaction rolled back or its COMMIT failed, it is not there, and the
	 * request is recorded here instead (nor is the lost event sent to the sink). */
	if (r->note.recorded && vault_audit_confirm(r->srv->v, &r->note))
		return true;
	r->note.recorded = false;
	r->note.encoded[0] = '\0';
	action = r->kind == -2 ? "tls.refused" : r->kind == -3 ? "net.blocked" : api_action(&r->api);
	if (vault_audit_standalone(r->srv->v, &r->api.actor, action, (unsigned)*status, &e) == 0)
		return true;
	fprintf(stderr, "kinko: req=%s ALERT: audit log unavailable: %s\n", r->request_id, e.msg);
	sealed = !strcmp(action, "vault.seal") && *status == 200;
	r->audit_failed = true;
	*status = 503;
	/* Sealing is the one act that stands without its record: it is the safe
	 * direction, and was done before this append failed. The answer says so. */
	*owned = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "urn:kinko:problem:unavailable",
			   "title", kinko_strerror(KINKO_EUNAVAIL), "status", 503, "detail",
			   sealed ? "the vault IS sealed, but the audit log cannot be written, so "
				    "the seal is not on record"
				  : "the audit log cannot be written; the request was refused (fail "
				    "closed)",
			   "request_id", r->request_id);
	*doc = *owned;
	r->resp.err.code = KINKO_EUNAVAIL;
	return false;
}

static enum MHD_Result send_json(struct req *r, int status, json_t *doc)
{
	json_t *owned = NULL;
	char *text;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)audit_request(r, &status, &doc, &owned);
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(owned);

	if (!text)
		text = strdup("{}");
	/* The answer may carry a secret (a session token, a generated password, a
	 * private key): wiped when libmicrohttpd is done with it. */
	resp = MHD_create_response_from_buffer_with_free_callback(strlen(text), text,
								   kinko_free_wiped);
	if (!resp) {
		kinko_free_wiped(text);
		return MHD_NO;
	}
	add_common_headers(r, resp);
	MHD_add_response_header(resp, "Content-Type",
				status >= 400 ? "application/problem+json" : "application/json");
	if (r->resp.extra_header[0][0][0])
		MHD_add_response_header(resp, r->resp.extra_header[0][0],
					r->resp.extra_header[0][1][0] ? r->resp.extra_header[0][1]
								      : "1");
	if (status == 503 && r->resp.err.code == KINKO_EUNAVAIL)
		MHD_add_response_header(resp, "Retry-After", "5");
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"kinko\"");
	if (r->close)
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	log_request(r, status);
	sink_emit(r);
	r->state = REQ_DONE;
	return ret;
}

static enum MHD_Result send_problem(struct req *r)
{
	char type[96];
	json_t *doc;
	enum MHD_Result ret;

	snprintf(type, sizeof type, "urn:kinko:problem:%s", api_problem_slug(r->resp.err.code));
	if (r->resp.status == 405)
		snprintf(type, sizeof type, "urn:kinko:problem:method-not-allowed");
	doc = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title",
			kinko_strerror(r->resp.err.code), "status", r->resp.status, "detail",
			r->resp.err.msg, "request_id", r->request_id);
	ret = send_json(r, r->resp.status, doc);
	json_decref(doc);
	return ret;
}

/* Logs a failure as it deserves and makes it the answer. */
static void note_failure(struct req *r, int code, const struct kinko_err *e)
{
	if (api_status_for(code) >= 500 && e)
		fprintf(stderr, "kinko: req=%s error: %s\n", r->request_id, e->msg);
	if (code == KINKO_EINFECTED)
		fprintf(stderr, "kinko: ALERT: req=%s addr=%s user=%s malware detected in an upload: %s\n",
			r->request_id, r->addr_text, r->api.actor.user_id[0] ? r->api.actor.user_id : "-",
			e ? e->msg : "");
	api_error(&r->resp, code, e);
}

static enum MHD_Result fail(struct req *r, int code, const struct kinko_err *e)
{
	note_failure(r, code, e);
	return send_problem(r);
}

/* ---------------------------------------------------------------- download */

struct dl {
	struct vault_download *d;
	uint64_t start;
	struct req *r;
	struct server *s;
	struct xfer *xfer;
};

static ssize_t dl_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct dl *x = cls;
	struct kinko_err e;
	size_t got = 0;

	if (vault_download_read(x->d, x->start + pos, (uint8_t *)buf, max, &got, &e)) {
		fprintf(stderr, "kinko: req=%s download failed: %s\n", x->r->request_id, e.msg);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (got == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)got;
}

static void dl_free(void *cls)
{
	struct dl *x = cls;
	vault_download_close(x->d);
	if (x->s)
		xfer_del(x->s, x->xfer);
	free(x);
}

/* HEAD's body, which libmicrohttpd never reads: should it ever, the answer ends
 * there (and its connection with it) rather than send bytes that are not the
 * object's. */
static ssize_t head_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static void object_headers(struct MHD_Response *resp, const struct vault_object_info *o)
{
	char hex[65], etag[70], disp[VAULT_NAME_MAX * 3 + 64];
	size_t w;

	format_hex(o->sha256, 32, hex);
	snprintf(etag, sizeof etag, "\"%s\"", hex);
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "X-Kinko-SHA256", hex);
	MHD_add_response_header(resp, "X-Kinko-Object-Id", o->id);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	/* RFC 6266 / 8187: the UTF-8 name, percent-encoded. */
	w = (size_t)snprintf(disp, sizeof disp, "attachment; filename*=UTF-8''");
	for (const unsigned char *p = (const unsigned char *)o->name; *p && w + 4 < sizeof disp; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			disp[w++] = (char)*p;
		else
			w += (size_t)snprintf(disp + w, sizeof disp - w, "%%%02X", *p);
	}
	disp[w] = '\0';
	MHD_add_response_header(resp, "Content-Disposition", disp);
}

/* Audits a download before any byte of it leaves; false (and a 503 queued) when
 * the audit log cannot be written. */
static bool audit_download(struct req *r, int status, enum MHD_Result *ret)
{
	json_t *doc = NULL, *owned = NULL;
	struct kinko_err e;

	if (audit_request(r, &status, &doc, &owned))
		return true;
	json_decref(owned);
	kinko_err_set(&e, KINKO_EUNAVAIL,
		      "the audit log cannot be written; the request was refused (fail closed)");
	api_error(&r->resp, KINKO_EUNAVAIL, &e);
	*ret = send_problem(r);
	return false;
}

static enum MHD_Result serve_download(struct req *r)
{
	struct server *s = r->srv;
	struct vault_object_info info;
	struct kinko_err e;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *id = r->api.seg[1];
	uint64_t start = 0, end = 0;
	int rc, ranged, status = 200;

	if (!strcmp(r->api.method, "HEAD")) {
		rc = vault_object_stat(s->v, &r->api.actor, id, &info, &e);
		if (rc)
			return fail(r, rc, &e);
		if (!audit_download(r, 200, &ret))
			return ret;
		/* libmicrohttpd takes Content-Length from the response's size and sends
		 * no body for HEAD, so the size is the object's (as GET's would be) and
		 * the reader is never asked for a byte. */
		resp = MHD_create_response_from_callback(info.size, 64, head_read, NULL, NULL);
		if (!resp)
			return MHD_NO;
		add_common_headers(r, resp);
		object_headers(resp, &info);
		{
			char len[32];
			snprintf(len, sizeof len, "%" PRIu64, info.size);
			MHD_add_response_header(resp, "X-Kinko-Size", len);
		}
		ret = MHD_queue_response(r->conn, 200, resp);
		MHD_destroy_response(resp);
		log_request(r, 200);
		sink_emit(r);
		r->state = REQ_DONE;
		return ret;
	}
	struct dl *x = calloc(1, sizeof *x);
	if (!x)
		return fail(r, KINKO_ENOMEM, NULL);
	rc = vault_download_open(s->v, &r->api.actor, id, &info, &x->d, &e);
	if (rc) {
		free(x);
		return fail(r, rc, &e);
	}
	x->r = r;
	x->s = s;
	ranged = http_parse_range(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Range"),
			     info.size, &start, &end);
	if (ranged < 0) {
		char cr[64];
		dl_free(x);
		kinko_err_set(&e, KINKO_EINVAL, "the requested range is outside the object");
		api_error(&r->resp, KINKO_EINVAL, &e);
		r->resp.status = 416;
		snprintf(r->resp.extra_header[0][0], 128, "Content-Range");
		snprintf(cr, sizeof cr, "bytes */%" PRIu64, info.size);
		snprintf(r->resp.extra_header[0][1], 128, "%s", cr);
		return send_problem(r);
	}
	if (ranged == 0) {
		start = 0;
		end = info.size ? info.size - 1 : 0;
	}
	/* Only a transfer that will send bytes is tracked: a 416 ends here. */
	if (!(x->xfer = xfer_add(s, r->conn, &e))) {
		dl_free(x);
		return fail(r, KINKO_ENOMEM, &e);
	}
	x->start = start;
	r->note.bytes = info.size ? end - start + 1 : 0;
	if (!audit_download(r, ranged > 0 ? 206 : 200, &ret)) {
		dl_free(x);
		return ret;
	}
	resp = MHD_create_response_from_callback(info.size ? end - start + 1 : 0, DOWNLOAD_BLOCK,
						 dl_read, x, dl_free);
	if (!resp) {
		dl_free(x);
		return MHD_NO;
	}
	add_common_headers(r, resp);
	object_headers(resp, &info);
	if (ranged > 0) {
		char cr[96];
		snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, end,
			 info.size);
		MHD_add_response_header(resp, "Content-Range", cr);
		status = 206;
	}
	r->bytes = info.size ? end - start + 1 : 0;
	ret = MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	log_request(r, status);
	sink_emit(r);
	r->state = REQ_DONE;
	return ret;
}

/* A copy of the request's audit event for the operator's monitoring (S8). The
 * store holds the authoritative log; a sink that is down does not stop work. */
static void sink_emit(struct req *r)
{
	const char *sink = vault_config(r->srv->v)->audit_sink;
	const char *ev = r->note.encoded;

	if (!ev[0] || !strcmp(sink, "none"))
		return;
	if (!strcmp(sink, "syslog"))
		syslog(LOG_AUTHPRIV | LOG_INFO, "%s", ev);
	else
		sd_journal_send("MESSAGE=kinko audit %s", ev, "KINKO_AUDIT=%s", ev,
				"KINKO_REQUEST_ID=%s", r->request_id, "SYSLOG_IDENTIFIER=kinko",
				"PRIORITY=6", NULL);
}

/* ---------------------------------------------------------------- first call */

static uint64_t content_length(struct req *r, bool *present, bool *bad)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n = 0;

	*present = cl != NULL;
	*bad = cl && parse_u64(cl, UINT64_MAX, &n);
	return n;
}

static enum MHD_Result headers_size(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	size_t *sum = cls;
	(void)kind;
	*sum += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

static enum MHD_Result begin_import(struct req *r, bool cl_present, uint64_t cl)
{
	const struct kinko_config *cfg = vault_config(r->srv->v);
	const char *pw = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     "X-Kinko-Package-Password");
	struct kinko_err e;
	struct import_job *j;
	int fds[2];
	size_t n = 0;

	if (cl_present && cl > cfg->max_body_bytes) {
		kinko_err_set(&e, KINKO_ELIMIT, "the package exceeds max_body_bytes");
		return fail(r, KINKO_ELIMIT, &e);
	}
	if (!pw || !*pw) {
		kinko_err_set(&e, KINKO_EINVAL,
			      "give the package password in X-Kinko-Package-Password "
			      "(percent-encoded UTF-8)");
		return fail(r, KINKO_EINVAL, &e);
	}
	/* Decided before the body is taken: a caller who may not write to the folder
	 * costs no password work (scrypt at 2^18 takes 256 MiB and a second of CPU). */
	{
		int rc = vault_folder_writable(r->srv->v, &r->api.actor, r->api.seg[1], &e);
		if (rc)
			return fail(r, rc, &e);
	}
	if (atomic_fetch_add(&r->srv->uploads, 1) >= cfg->max_uploads) {
		atomic_fetch_sub(&r->srv->uploads, 1);
		kinko_err_set(&e, KINKO_EUNAVAIL,
			      "too many uploads at once (max_uploads = %" PRIu64 "); retry later",
			      cfg->max_uploads);
		return fail(r, KINKO_EUNAVAIL, &e);
	}
	r->upload_counted = true;
	j = calloc(1, sizeof *j);
	if (!j)
		return fail(r, KINKO_ENOMEM, NULL);
	j->r = r;
	j->rfd = j->wfd = -1;
	j->password = kinko_secure_alloc(strlen(pw) + 1);
	if (!j->password || uri_pct_decode(pw, strlen(pw), j->password, strlen(pw) + 1, &n)) {
		import_free(j);
		kinko_err_set(&e, KINKO_EINVAL, "the package password is not valid percent-encoding");
		return fail(r, KINKO_EINVAL, &e);
	}
	j->password_len = n;
	if (req_has_arg(r, "name")) {
		const char *name = req_arg(r, "name");
		if (!name || strlen(name) > VAULT_NAME_MAX) {
			import_free(j);
			kinko_err_set(&e, KINKO_EINVAL, "the name is not valid");
			return fail(r, KINKO_EINVAL, &e);
		}
		snprintf(j->age_name, sizeof j->age_name, "%s", name);
	}
	if (!(r->xfer = xfer_add(r->srv, r->conn, &e))) {
		import_free(j);
		return fail(r, KINKO_ENOMEM, &e);
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		import_free(j);
		return fail(r, KINKO_EIO, &(struct kinko_err){KINKO_EIO, "cannot create a pipe"});
	}
	j->rfd = fds[0];
	j->wfd = fds[1];
	if (pthread_create(&j->th, NULL, import_thread, j) != 0) {
		j->th = 0;
		import_free(j);
		return fail(r, KINKO_ENOMEM, NULL);
	}
	r->imp = j;
	r->state = REQ_BODY;
	return MHD_YES;
}

static enum MHD_Result finish_import(struct req *r)
{
	struct import_job *j = r->imp;
	enum MHD_Result ret;
	json_t *items, *doc;

	close(j->wfd);
	j->wfd = -1;
	pthread_join(j->th, NULL);
	j->th = 0;
	if (j->rc) {
		struct kinko_err e = j->err;
		int rc = j->rc;
		r->session_ended = rc == KINKO_EAUTH; /* the only 401 an import's thread gives */
		r->imp = NULL;
		import_free(j);
		return fail(r, rc, &e);
	}
	items = json_array();
	for (size_t i = 0; i < j->res.n; i++)
		json_array_append_new(items, api_object_json(&j->res.objects[i]));
	doc = json_pack("{s:s, s:s, s:I, s:o}", "format", j->res.format, "package_sha256",
			j->res.package_sha256, "count", (json_int_t)j->res.n, "objects", items);
	r->imp = NULL;
	import_free(j);
	ret = send_json(r, 201, doc);
	json_decref(doc);
	return ret;
}

static enum MHD_Result begin_request(struct req *r, const char *method)
{
	struct server *s = r->srv;
	const struct kinko_config *cfg = vault_config(s->v);
	const union MHD_ConnectionInfo *ci;
	struct tls_peer peer;
	struct kinko_err e;
	bool cl_present, cl_bad;
	uint64_t cl;
	size_t hsum = 0;
	int rc;

	r->api.method = method;
	r->api.arg = req_arg;
	r->api.header = req_header;
	r->api.ctx = r;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	r->api.addr = ci ? ci->client_addr : NULL;
	cidr_addr_text(r->api.addr, r->addr_text, sizeof r->addr_text);
	memcpy(r->api.actor.addr, r->addr_text, sizeof r->api.actor.addr);

	/* A source blocked meanwhile, on a connection it opened before (S4). */
	{
		int64_t until = 0;
		if (vault_addr_blocked(s->v, r->api.addr, &until)) {
			char when[32] = "?";
			time_t t = (time_t)until;
			struct tm tm;
			if (gmtime_r(&t, &tm))
				strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
			kinko_err_set(&e, KINKO_EPERM,
				      "requests from %s are refused until %s after repeated failures "
				      "(refused certificates, failed logins); a manager or an operator "
				      "can lift this from another address: kinko block rm",
				      r->addr_text, when);
			api_error(&r->resp, KINKO_EPERM, &e);
			r->kind = -3; /* audited as net.blocked */
			r->close = true;
			return send_problem(r);
		}
	}
	/* The client certificate, every request, fail closed. */
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	rc = ci ? tls_peer_verify(ci->tls_session, (int64_t)time(NULL), &peer, &e)
		: kinko_err_set(&e, KINKO_EAUTH, "no TLS session");
	if (rc) {
		char msg[sizeof e.msg];
		snprintf(msg, sizeof msg, "%s", e.msg);
		kinko_err_set(&e, KINKO_EPERM, "client certificate refused: %.400s", msg);
		api_error(&r->resp, KINKO_EPERM, &e);
		r->kind = -2; /* audited as tls.refused */
		return send_problem(r);
	}
	/* A certificate a manager revoked is refused on every route, sealed or not. */
	rc = vault_cert_check(s->v, peer.fingerprint, peer.user_uuid[0] != '\0', peer.not_before,
			      &e);
	if (rc) {
		api_error(&r->resp, rc, &e);
		if (rc == KINKO_EPERM)
			r->kind = -2; /* audited as tls.refused; a store failure is not */
		return send_problem(r);
	}
	memcpy(r->api.cert_fp, peer.fingerprint, sizeof r->api.cert_fp);
	snprintf(r->api.cert_user, sizeof r->api.cert_user, "%s", peer.user_uuid);
	memcpy(r->api.actor.cert_fp, peer.fingerprint, sizeof r->api.actor.cert_fp);

	if (r->uri_too_long) {
		kinko_err_set(&e, KINKO_ELIMIT, "the request URI is longer than %d bytes", URI_MAX);
		api_error(&r->resp, KINKO_ELIMIT, &e);
		r->resp.status = 414;
		return send_problem(r);
	}
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, headers_size, &hsum);
	if (hsum > cfg->max_header_bytes) {
		kinko_err_set(&e, KINKO_ELIMIT, "the request headers exceed %" PRIu64 " bytes",
			      cfg->max_header_bytes);
		api_error(&r->resp, KINKO_ELIMIT, &e);
		r->resp.status = 431;
		return send_problem(r);
	}
	rc = parse_uri(r, &e);
	if (rc)
		return fail(r, rc, &e);
	r->kind = api_classify(&r->api, &r->resp);
	if (r->kind < 0)
		return send_problem(r);

	/* POST /seal included: the session it would need cannot be checked without
	 * the key (its row is authenticated under it), and the vault is sealed. */
	if (vault_is_sealed(s->v) && api_needs_session(&r->api)) {
		kinko_err_set(&e, KINKO_ESEALED,
			      "the vault is sealed; only status and unseal answer until an "
			      "operator unseals it");
		return fail(r, KINKO_ESEALED, &e);
	}
	if (api_needs_session(&r->api)) {
		const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_AUTHORIZATION);
		if (!auth || strncmp(auth, "Bearer ", 7)) {
			kinko_err_set(&e, KINKO_EAUTH,
				      "log in first and send the token as Authorization: Bearer");
			return fail(r, KINKO_EAUTH, &e);
		}
		r->api.token = auth + 7;
		rc = vault_session_check(s->v, r->api.token, r->api.cert_fp, r->api.addr,
					 &r->api.actor, &e);
		if (rc)
			return fail(r, rc, &e);
		r->api.authed = true;
	}

	cl = content_length(r, &cl_present, &cl_bad);
	/* libmicrohttpd answers a Content-Length that is not a number (400) or does
	 * not fit 64 bits (413) itself, before this callback, except when the body is
	 * chunked: it ignores the header then, and only then is this reached. */
	if (cl_bad) {
		kinko_err_set(&e, KINKO_EINVAL, "Content-Length is not a number");
		return fail(r, KINKO_EINVAL, &e);
	}
	if (r->kind == API_DOWNLOAD)
		return serve_download(r);
	if (r->kind == API_IMPORT)
		return begin_import(r, cl_present, cl);
	if (r->kind == API_JSON) {
		r->max_body = cfg->max_json_bytes;
		kbuf_init(&r->body, (size_t)r->max_body);
		if (cl_present && cl > r->max_body) {
			kinko_err_set(&e, KINKO_ELIMIT, "the JSON body exceeds %" PRIu64 " bytes",
				      r->max_body);
			/* Most clients send the whole body before they read an answer:
			 * answered now, they would see the connection close under them.
			 * A body that can be read and dropped is, and answered then. */
			if (cl > DRAIN_MAX)
				return fail(r, KINKO_ELIMIT, &e);
			note_failure(r, KINKO_ELIMIT, &e);
			r->fail_pending = true;
			r->failed_at = 0;
		}
		r->state = REQ_BODY;
		return MHD_YES;
	}
	/* API_UPLOAD */
	if (cl_present && cl > cfg->max_body_bytes) {
		kinko_err_set(&e, KINKO_ELIMIT, "the upload exceeds max_body_bytes (%" PRIu64 ")",
			      cfg->max_body_bytes);
		return fail(r, KINKO_ELIMIT, &e);
	}
	/* What clamd cannot scan whole is refused: say so before any byte is sent. */
	if (cl_present && cfg->scan_required && cl > CLAMD_MAX_STREAM) {
		kinko_err_set(&e, KINKO_ELIMIT,
			      "the file is larger than the virus scanner can scan whole "
			      "(%" PRIu64 " bytes); split it",
			      CLAMD_MAX_STREAM);
		return fail(r, KINKO_ELIMIT, &e);
	}
	if (!req_has_arg(r, "name")) {
		kinko_err_set(&e, KINKO_EINVAL, "give the file name as ?name=<percent-encoded UTF-8>");
		return fail(r, KINKO_EINVAL, &e);
	}
	{
		const char *name = req_arg(r, "name");
		if (!name) {
			kinko_err_set(&e, KINKO_EINVAL,
				      "the name is not valid percent-encoding or holds NUL");
			return fail(r, KINKO_EINVAL, &e);
		}
		if (atomic_fetch_add(&s->uploads, 1) >= cfg->max_uploads) {
			atomic_fetch_sub(&s->uploads, 1);
			kinko_err_set(&e, KINKO_EUNAVAIL,
				      "too many uploads at once (max_uploads = %" PRIu64 "); retry later",
				      cfg->max_uploads);
			return fail(r, KINKO_EUNAVAIL, &e);
		}
		r->upload_counted = true;
		rc = vault_upload_begin(s->v, &r->api.actor, r->api.seg[1], name, &r->up, &e);
		if (rc)
			return fail(r, rc, &e);
		if (!(r->xfer = xfer_add(s, r->conn, &e))) {
			vault_upload_abort(r->up);
			r->up = NULL;
			return fail(r, KINKO_ENOMEM, &e);
		}
	}
	r->state = REQ_BODY;
	return MHD_YES;
}

/* ---------------------------------------------------------------- MHD callbacks */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct req *r = calloc(1, sizeof *r);
	uint8_t id[16];

	if (!r)
		return NULL;
	r->srv = cls;
	r->conn = conn;
	if (strlen(uri) > URI_MAX)
		r->uri_too_long = true;
	else
		snprintf(r->raw_uri, sizeof r->raw_uri, "%s", uri);
	kinko_random(id, sizeof id);
	format_hex(id, sizeof id, r->request_id);
	memcpy(r->api.actor.request_id, r->request_id, sizeof r->request_id);
	r->api.actor.note = &r->note;
	kbuf_init(&r->body, 0);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct server *s = cls;
	struct arg_buf args;
	struct kinko_err e;
	int rc;

	(void)url;
	(void)version;
	if (!r)
		return MHD_NO;
	args.used = 0;
	tls_args = &args;
	r->conn = conn;
	if (r->state == REQ_NEW) {
		enum MHD_Result ret = begin_request(r, method);
		tls_args = NULL;
		return ret;
	}
	if (r->state == REQ_DONE) {
		/* An answer is already queued; drop whatever body still arrives. */
		*upload_data_size = 0;
		tls_args = NULL;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		r->bytes += n;
		if (r->kind == API_IMPORT) {
			/* A closed pipe means the unpacking already failed: the rest of the
			 * body is dropped, up to the same bound as below, and the reason
			 * given at the end. */
			if (!r->imp->broken && kinko_write_all(r->imp->wfd, upload_data, n, NULL)) {
				r->imp->broken = true;
				r->failed_at = r->bytes;
			}
			tls_args = NULL;
			return r->imp->broken && r->bytes > r->failed_at + DRAIN_MAX ? MHD_NO : MHD_YES;
		}
		if (r->fail_pending) {
			/* The request failed mid-body (an upload's scanner, disk or limits, a
			 * JSON body too large): libmicrohttpd can only answer once the body
			 * is in, so drop the rest, up to a bound, and answer then, so the
			 * client hears why; past the bound the connection is closed. */
			tls_args = NULL;
			return r->bytes > r->failed_at + DRAIN_MAX ? MHD_NO : MHD_YES;
		}
		if (r->kind == API_UPLOAD) {
			rc = vault_upload_write(r->up, (const uint8_t *)upload_data, n, &e);
			if (rc) {
				vault_upload_abort(r->up);
				r->up = NULL;
				note_failure(r, rc, &e);
			}
		} else if (kbuf_append(&r->body, upload_data, n)) {
			rc = kinko_err_set(&e, KINKO_ELIMIT, "the JSON body exceeds %" PRIu64 " bytes",
					   r->max_body);
			api_error(&r->resp, rc, &e);
		} else {
			rc = 0;
		}
		if (rc) {
			r->fail_pending = true;
			r->failed_at = r->bytes;
		}
		tls_args = NULL;
		return MHD_YES;
	}
	/* The whole body is in. */
	if (r->kind == API_IMPORT) {
		tls_args = NULL;
		return finish_import(r);
	}
	if (r->fail_pending) {
		tls_args = NULL;
		return send_problem(r);
	}
	if (r->kind == API_UPLOAD) {
		struct vault_object_info info;
		struct vault_upload *up = r->up;
		enum MHD_Result ret;
		r->up = NULL;
		rc = vault_upload_finish(up, &info, &e);
		tls_args = NULL;
		r->session_ended = rc == KINKO_EAUTH;
		if (rc)
			return fail(r, rc, &e);
		json_t *doc = api_object_json(&info);
		ret = send_json(r, 201, doc);
		json_decref(doc);
		return ret;
	}
	if (r->body.len) {
		json_error_t je;
		r->api.body = json_loadb((const char *)r->body.data, r->body.len,
					 JSON_REJECT_DUPLICATES, &je);
		if (!r->api.body) {
			kinko_err_set(&e, KINKO_EINVAL, "the body is not valid JSON: %.200s (line %d)",
				      je.text, je.line);
			tls_args = NULL;
			return fail(r, KINKO_EINVAL, &e);
		}
	}
	api_handle(s->v, &r->api, &r->resp);
	tls_args = NULL;
	if (r->resp.alert[0])
		fprintf(stderr, "kinko: ALERT: req=%s addr=%s %s\n", r->request_id, r->addr_text,
			r->resp.alert);
	if (r->resp.status >= 400)
		return send_problem(r);
	return send_json(r, r->resp.status, r->resp.json);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	struct server *s = cls;

	(void)conn;
	if (!r)
		return;
	if (r->up) {
		/* The client went away mid-upload: nothing becomes visible. */
		vault_upload_abort(r->up);
		if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			fprintf(stderr, "kinko: req=%s upload aborted by the client\n", r->request_id);
	}
	/* A client gone mid-import: nothing becomes visible. Its thread is joined
	 * first, so that a key derivation still running keeps its turn till it ends. */
	import_free(r->imp);
	if (r->upload_counted)
		atomic_fetch_sub(&s->uploads, 1);
	if (atomic_exchange(&r->import_counted, false))
		atomic_fetch_sub(&s->imports, 1);
	xfer_del(s, r->xfer);
	json_decref(r->api.body);
	json_decref(r->resp.json);
	kbuf_free(&r->body);
	free(r);
	*con_cls = NULL;
}

/* Gives each TLS connection the one-recv-per-record transport before its thread
 * starts, and frees it when the connection ends (libmicrohttpd has deinitialised
 * the session by then). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *sess, *fd;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		/* A handshake begun and never completed counts against the source, as a
		 * refused certificate does (a probe that sends nothing does not). */
		if (tls_pull_handshake_failed(*socket_ctx)) {
			const union MHD_ConnectionInfo *ca =
				MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			if (ca && ca->client_addr)
				(void)source_failed(cls, "-", NULL, ca->client_addr);
		}
		tls_pull_free(*socket_ctx);
		*socket_ctx = NULL;
		return;
	}
	sess = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (sess && sess->tls_session && fd)
		*socket_ctx = tls_pull_attach(sess->tls_session, fd->connect_fd);
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct server *s = cls;
	const struct kinko_config *cfg = vault_config(s->v);

	bool outside;

	(void)len;
	outside = !cidr_list_match(&cfg->allow, addr);
	if (!outside && !vault_addr_blocked(s->v, addr, NULL))
		return MHD_YES;
	atomic_fetch_add(&s->refused, 1);
	{
		/* At most one line per second, however hard someone knocks. */
		long now = (long)time(NULL);
		long last = atomic_load(&s->refused_logged_at);
		if (now != last && atomic_compare_exchange_strong(&s->refused_logged_at, &last, now)) {
			char a[64];
			cidr_addr_text(addr, a, sizeof a);
			fprintf(stderr, "kinko: refused connection from %s (%s; %lu refused so far)\n",
				a, outside ? "outside allow" : "blocked after repeated failures",
				(unsigned long)atomic_load(&s->refused));
		}
	}
	return MHD_NO;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							 va_list ap)
{
	(void)cls;
	fputs("kinko: httpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int server_listen(const struct kinko_config *cfg, int *fd_out, struct kinko_err *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char host[64];
	uint16_t port;
	int fd, one = 1, rc;

	memset(&ss, 0, sizeof ss);
	rc = config_listen_addr(cfg, host, sizeof host, &port, e);
	if (rc)
		return rc;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		return kinko_err_set(e, KINKO_EINVAL, "listen = %s: the host must be an IP address",
				     cfg->listen);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kinko_err_set(e, KINKO_EIO, "cannot listen on %s: %s", cfg->listen,
				     strerror(errno));
	/* As libmicrohttpd does: restart at once after a stop; IPv6 only on IPv6. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
		int err = errno;
		close(fd);
		return kinko_err_set(e, KINKO_EIO, "cannot listen on %s: %s%s", cfg->listen,
				     strerror(err), err == EADDRINUSE ? " (is kinko already running?)"
				     : err == EACCES ? " (a port below 1024 needs root at start)" : "");
	}
	*fd_out = fd;
	return 0;
}

int server_start(struct vault *v, int listen_fd, struct server **out, struct kinko_err *e)
{
	const struct kinko_config *cfg = vault_config(v);
	struct server *s;
	char tlsdir[4096];
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_TLS | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int rc;

	if (getsockname(listen_fd, (struct sockaddr *)&ss, &sl) != 0) {
		rc = kinko_err_set(e, KINKO_EINVAL, "the listening socket is not one: %s",
				   strerror(errno));
		close(listen_fd);
		return rc;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s = calloc(1, sizeof *s);
	if (!s) {
		close(listen_fd);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	s->v = v;
	pthread_mutex_init(&s->xfer_mu, NULL);
	snprintf(tlsdir, sizeof tlsdir, "%s/tls", vault_dir(v));
	rc = tls_server_creds_load(tlsdir, &s->creds, e);
	if (rc) {
		close(listen_fd);
		free(s);
		return rc;
	}
	s->d = MHD_start_daemon(
		flags, 0, on_accept, s, on_request, s,
		/* First, so every message libmicrohttpd prints goes through it. */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_HTTPS_MEM_KEY, s->creds.key_pem, MHD_OPTION_HTTPS_MEM_CERT,
		s->creds.cert_pem, MHD_OPTION_HTTPS_MEM_TRUST, s->creds.trust_pem,
		MHD_OPTION_HTTPS_PRIORITIES, tls_priorities(), MHD_OPTION_URI_LOG_CALLBACK, uri_log,
		s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, s, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)cfg->max_connections_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(cfg->max_header_bytes + 1024 * 1024),
		/* Grow the read buffer in large steps: each step is one recv() and one pass
		 * through the upload callback, and small steps cost most of a core. */
		MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)(256 * 1024),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)120, MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
	if (!s->d) {
		tls_server_creds_free(&s->creds);
		free(s);
		return kinko_err_set(e, KINKO_EIO, "cannot start the HTTPS server on %s",
				     cfg->listen);
	}
	vault_set_seal_hook(v, cut_transfers, s);
	*out = s;
	return 0;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d); /* no request runs after this, so no seal calls the hook */
	vault_set_seal_hook(s->v, NULL, NULL);
	tls_server_creds_free(&s->creds);
	pthread_mutex_destroy(&s->xfer_mu);
	free(s);
}
