#include "cli/client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/parse.h"
#include "core/stream.h"
#include "core/tmpfile.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"

#define RESP_MAX (16u << 20)

struct client {
	CURL *h;
	char url[512];
	char cert[4096];
	char key[4096];
	char cacert[4096];
	char token[128];
};

bool client_opt(struct client_opts *o, int c, const char *arg)
{
	switch (c) {
	case 0x100: o->url = arg; return true;
	case 0x101: o->cert = arg; return true;
	case 0x102: o->key = arg; return true;
	case 0x103: o->cacert = arg; return true;
	case 0x104: o->dir = arg; return true;
	case 0x105: o->user = arg; return true;
	}
	return false;
}

static void session_path(char *out, size_t cap)
{
	const char *env = getenv("KINKO_SESSION");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		snprintf(out, cap, "%s", env);
	else if (xdg && *xdg)
		snprintf(out, cap, "%s/kinko/session.json", xdg);
	else
		snprintf(out, cap, "%s/.config/kinko/session.json", home ? home : ".");
}

static void pick(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
	const char *v = a && *a ? a : b && *b ? b : c && *c ? c : "";
	snprintf(dst, cap, "%s", v);
}

int client_open(const struct client_opts *o, bool needs_session, struct client **out,
		struct kinko_err *e)
{
	struct client *c = calloc(1, sizeof *c);
	char sp[4096], durl[128] = "", dca[4096] = "", dcert[4096] = "", dkey[4096] = "";
	json_t *sess = NULL;

	if (!c)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	session_path(sp, sizeof sp);
	sess = json_load_file(sp, JSON_REJECT_DUPLICATES, NULL);
	if (o->dir) {
		struct kinko_config cfg;
		char path[4096], host[64];
		uint16_t port;
		snprintf(path, sizeof path, "%s/kinko.conf", o->dir);
		if (config_load(path, false, &cfg, e) == 0 &&
		    config_listen_addr(&cfg, host, sizeof host, &port, e) == 0)
			snprintf(durl, sizeof durl, strchr(host, ':') ? "https://[%s]:%u" : "https://%s:%u",
				 host, port);
		snprintf(dca, sizeof dca, "%s/tls/ca.pem", o->dir);
		if (o->user) {
			snprintf(dcert, sizeof dcert, "%s/clients/%s/client.pem", o->dir, o->user);
			snprintf(dkey, sizeof dkey, "%s/clients/%s/client.key", o->dir, o->user);
		}
	}
#define SESS(k) (sess && json_is_string(json_object_get(sess, k)) ? json_string_value(json_object_get(sess, k)) : NULL)
	pick(c->url, sizeof c->url, o->url, getenv("KINKO_URL"), durl[0] ? durl : SESS("url"));
	pick(c->cert, sizeof c->cert, o->cert, getenv("KINKO_CERT"), dcert[0] ? dcert : SESS("cert"));
	pick(c->key, sizeof c->key, o->key, getenv("KINKO_KEY"), dkey[0] ? dkey : SESS("key"));
	pick(c->cacert, sizeof c->cacert, o->cacert, getenv("KINKO_CACERT"),
	     dca[0] ? dca : SESS("cacert"));
	if (SESS("token"))
		snprintf(c->token, sizeof c->token, "%s", SESS("token"));
#undef SESS
	json_decref(sess);
	if (!c->url[0])
		snprintf(c->url, sizeof c->url, "https://127.0.0.1:8443");
	if (!c->cert[0] || !c->key[0] || !c->cacert[0]) {
		free(c);
		return kinko_err_set(e, KINKO_EINVAL,
				     "no client certificate configured: pass --cert, --key and --cacert "
				     "(or --dir DIR --as USER), or log in with them once");
	}
	{
		/* Say which file is missing; libcurl would only report "SSL connect error". */
		const char *what[] = {"client certificate", "client key", "CA certificate"};
		const char *file[] = {c->cert, c->key, c->cacert};
		for (size_t i = 0; i < 3; i++) {
			if (access(file[i], R_OK) != 0) {
				int err = errno;
				kinko_err_set(e, KINKO_EINVAL, "cannot read the %s %s: %s", what[i],
					      file[i], strerror(err));
				free(c);
				return KINKO_EINVAL;
			}
		}
	}
	if (needs_session && !c->token[0]) {
		free(c);
		return kinko_err_set(e, KINKO_EAUTH, "not logged in; run kinko login first");
	}
	c->h = curl_easy_init();
	if (!c->h) {
		free(c);
		return kinko_err_set(e, KINKO_ENOMEM, "cannot start libcurl");
	}
	*out = c;
	return 0;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	kinko_wipe(c->token, sizeof c->token);
	free(c);
}

char *client_escape(struct client *c, const char *s)
{
	return curl_easy_escape(c->h, s, 0);
}

struct resp_ctx {
	CURL *h;
	struct kbuf body;
	int fd;                 /* download target, or -1 */
	struct kinko_sha256 sha;
	bool hashing;
	long status;
	char server_sha[65];
	char request_id[40];
	bool failed_write;
};

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct resp_ctx *r = arg;
	size_t len = size * n;
	char line[256];

	if (len < sizeof line) {
		memcpy(line, buf, len);
		line[len] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (!strncasecmp(line, "X-Kinko-SHA256: ", 16))
			snprintf(r->server_sha, sizeof r->server_sha, "%.64s", line + 16);
		else if (!strncasecmp(line, "X-Request-Id: ", 14))
			snprintf(r->request_id, sizeof r->request_id, "%.39s", line + 14);
	}
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct resp_ctx *r = arg;
	size_t len = size * n;

	if (r->fd >= 0 && r->status == 0)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
	/* Only a 200 streams into the file; an error answer is JSON for us. */
	if (r->fd >= 0 && r->hashing && r->status == 200) {
		if (kinko_write_all(r->fd, buf, len, NULL)) {
			r->failed_write = true;
			return 0;
		}
		kinko_sha256_update(&r->sha, buf, len);
		return len;
	}
	return kbuf_append(&r->body, buf, len) ? 0 : len;
}

static void set_common(struct client *c, struct curl_slist **hdrs, const char *path,
		       struct resp_ctx *r)
{
	char url[2048], auth[200];

	curl_easy_reset(c->h);
	r->h = c->h;
	snprintf(url, sizeof url, "%s/api/v1/%s", c->url, path);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_SSLCERT, c->cert);
	curl_easy_setopt(c->h, CURLOPT_SSLKEY, c->key);
	curl_easy_setopt(c->h, CURLOPT_CAINFO, c->cacert);
	curl_easy_setopt(c->h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, r);
	if (c->token[0]) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
		*hdrs = curl_slist_append(*hdrs, auth);
		kinko_wipe(auth, sizeof auth);
	}
	*hdrs = curl_slist_append(*hdrs, "Expect:");
}

/* Turns a non-2xx answer into e. */
static int answer_error(struct resp_ctx *r, struct kinko_err *e)
{
	json_t *p = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
	const char *detail = p ? json_string_value(json_object_get(p, "detail")) : NULL;
	int code;

	switch (r->status) {
	case 400: code = KINKO_EINVAL; break;
	case 401: code = KINKO_EAUTH; break;
	case 403: code = KINKO_EPERM; break;
	case 404: code = KINKO_ENOENT; break;
	case 409: code = KINKO_EEXIST; break;
	case 413: code = KINKO_ELIMIT; break;
	case 423: code = KINKO_ELOCKED; break;
	case 503: code = KINKO_EUNAVAIL; break;
	default: code = KINKO_EIO; break;
	}
	kinko_err_set(e, code, "server answered %ld: %s%s%s%s", r->status,
		      detail ? detail : "(no detail)", r->request_id[0] ? " [request " : "",
		      r->request_id, r->request_id[0] ? "]" : "");
	json_decref(p);
	return code;
}

static int perform(struct client *c, struct resp_ctx *r, struct kinko_err *e)
{
	CURLcode cc = curl_easy_perform(c->h);

	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && r->status >= 400)) {
		if (r->failed_write)
			return kinko_err_set(e, KINKO_EIO, "cannot write the downloaded data");
		return kinko_err_set(e, KINKO_EIO, "cannot reach %s: %s", c->url,
				     curl_easy_strerror(cc));
	}
	return 0;
}

int client_json(struct client *c, const char *method, const char *path, json_t *body,
		json_t **out, struct kinko_err *e)
{
	struct resp_ctx r;
	struct curl_slist *hdrs = NULL;
	char *text = NULL;
	int rc;

	memset(&r, 0, sizeof r);
	r.fd = -1;
	kbuf_init(&r.body, RESP_MAX);
	set_common(c, &hdrs, path, &r);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			curl_slist_free_all(hdrs);
			return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	rc = perform(c, &r, e);
	if (text) {
		kinko_wipe(text, strlen(text));
		free(text);
	}
	curl_slist_free_all(hdrs);
	if (rc == 0 && (r.status < 200 || r.status >= 300))
		rc = answer_error(&r, e);
	if (rc == 0) {
		json_error_t je;
		*out = json_loadb((const char *)r.body.data, r.body.len, 0, &je);
		if (!*out)
			rc = kinko_err_set(e, KINKO_EFORMAT, "the server's answer is not JSON");
	}
	kbuf_free(&r.body);
	return rc;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	int fd = *(int *)arg;
	ssize_t got;

	do
		got = read(fd, buf, size * n);
	while (got < 0 && errno == EINTR);
	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

/* Streams fd as the body of method path, with an optional extra header. */
static int stream_body(struct client *c, const char *method, const char *path, int fd,
		       const char *extra, json_t **out, struct kinko_err *e)
{
	struct resp_ctx r;
	struct curl_slist *hdrs = NULL;
	struct stat st;
	int rc;

	memset(&r, 0, sizeof r);
	r.fd = -1;
	kbuf_init(&r.body, RESP_MAX);
	set_common(c, &hdrs, path, &r);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	if (extra)
		hdrs = curl_slist_append(hdrs, extra);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c->h, CURLOPT_READDATA, &fd);
	curl_easy_setopt(c->h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		curl_easy_setopt(c->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	rc = perform(c, &r, e);
	/* The header may hold a password: wipe our copies. */
	for (struct curl_slist *h = hdrs; h; h = h->next)
		kinko_wipe(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
	if (rc == 0 && r.status != 201)
		rc = answer_error(&r, e);
	if (rc == 0) {
		*out = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
		if (!*out)
			rc = kinko_err_set(e, KINKO_EFORMAT, "the server's answer is not JSON");
	}
	kbuf_free(&r.body);
	return rc;
}

int client_upload(struct client *c, const char *folder_id, const char *name, int fd, json_t **out,
		  struct kinko_err *e)
{
	char path[2048];
	char *ename = client_escape(c, name);

	if (!ename)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	snprintf(path, sizeof path, "folders/%.40s/objects?name=%s", folder_id, ename);
	curl_free(ename);
	return stream_body(c, "PUT", path, fd, NULL, out, e);
}

int client_import(struct client *c, const char *folder_id, const char *name,
		  const char *password, int fd, json_t **out, struct kinko_err *e)
{
	char path[2048], *hdr, *ename;
	char *epw = client_escape(c, password);
	size_t n;
	int rc;

	if (!epw)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	n = strlen(epw) + 64;
	hdr = kinko_secure_alloc(n);
	if (!hdr) {
		curl_free(epw);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	snprintf(hdr, n, "X-Kinko-Package-Password: %s", epw);
	kinko_wipe(epw, strlen(epw));
	curl_free(epw);
	ename = client_escape(c, name);
	if (!ename) {
		kinko_secure_free(hdr);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	snprintf(path, sizeof path, "folders/%.40s/imports?name=%s", folder_id, ename);
	curl_free(ename);
	rc = stream_body(c, "POST", path, fd, hdr, out, e);
	kinko_secure_free(hdr);
	return rc;
}

int client_download(struct client *c, const char *object_id, int fd, struct kinko_err *e)
{
	struct resp_ctx r;
	struct curl_slist *hdrs = NULL;
	char path[256];
	uint8_t d[32];
	char hex[65];
	int rc;

	snprintf(path, sizeof path, "objects/%s", object_id);
	memset(&r, 0, sizeof r);
	r.fd = fd;
	kbuf_init(&r.body, RESP_MAX);
	if (kinko_sha256_init(&r.sha))
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	set_common(c, &hdrs, path, &r);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_BUFFERSIZE, 512L * 1024);
	/* Bodies of error answers are JSON; only a 200 streams into the file. */
	curl_easy_setopt(c->h, CURLOPT_FAILONERROR, 0L);
	r.hashing = true;
	rc = perform(c, &r, e);
	curl_slist_free_all(hdrs);
	if (rc == 0 && r.status != 200)
		rc = answer_error(&r, e);
	kinko_sha256_final(&r.sha, d);
	format_hex(d, 32, hex);
	if (rc == 0 && strcmp(hex, r.server_sha))
		rc = kinko_err_set(e, KINKO_EINTEGRITY,
				   "the downloaded data's SHA-256 does not match the server's; do not "
				   "use the file");
	kbuf_free(&r.body);
	return rc;
}

int client_save_session(struct client *c, const char *token, struct kinko_err *e)
{
	char sp[4096], dir[4096];
	json_t *doc;
	char *text;
	int rc;

	session_path(sp, sizeof sp);
	snprintf(dir, sizeof dir, "%s", sp);
	if (strrchr(dir, '/')) {
		*strrchr(dir, '/') = '\0';
		/* ~/.config may not exist yet on a fresh account. */
		char parent[4096];
		snprintf(parent, sizeof parent, "%s", dir);
		if (strrchr(parent, '/')) {
			*strrchr(parent, '/') = '\0';
			(void)mkdir(parent, 0700);
		}
		(void)mkdir(dir, 0700);
	}
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "url", c->url, "cert", c->cert, "key", c->key,
			"cacert", c->cacert, "token", token);
	text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	/* A new file (0600, never through a link) takes the old one's place. */
	rc = kinko_file_write(sp, text, strlen(text), 0600, KINKO_TMPFILE_REPLACE, e);
	kinko_wipe(text, strlen(text));
	free(text);
	snprintf(c->token, sizeof c->token, "%s", token);
	return rc;
}

int client_forget_session(struct kinko_err *e)
{
	char sp[4096];

	session_path(sp, sizeof sp);
	if (unlink(sp) != 0 && errno != ENOENT)
		return kinko_err_set(e, KINKO_EIO, "cannot remove %s: %s", sp, strerror(errno));
	return 0;
}

int cli_read_secret_file(const char *path, void *buf, size_t cap, size_t *n, struct kinko_err *e)
{
	uint8_t *p = buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	struct kinko_reader r = {kinko_fd_read, &fd};
	struct kinko_err inner;

	if (fd < 0)
		return kinko_err_set(e, KINKO_EIO, "cannot read %s: %s", path, strerror(errno));
	rc = kinko_read_full(&r, p, cap, &got, &inner); /* cap: one byte more tells "too large" */
	close(fd);
	if (rc || got == cap) {
		kinko_wipe(p, cap);
		return rc ? kinko_err_set(e, KINKO_EIO, "cannot read %s: %s", path, inner.msg)
			  : kinko_err_set(e, KINKO_EINVAL, "%s is too large to hold a secret (at "
					  "most %zu bytes)", path, cap - 1);
	}
	p[got] = 0;
	*n = got;
	return 0;
}

/* A line typed on the terminal, without echo, read byte by byte into out. */
static int read_tty_line(const char *prompt, char *out, size_t cap, size_t *n,
			 struct kinko_err *e)
{
	struct termios old, quiet;
	bool restore = false, too_long = false, failed = false;
	size_t got = 0;
	char c;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return kinko_err_set(e, KINKO_EINVAL, "no terminal to ask on; give the secret in a "
				     "file (--password-file / --passphrase-file)");
	/* Echo goes off (and what was typed ahead is dropped) before the prompt shows:
	 * an answer typed as soon as the prompt appears is then neither echoed nor
	 * flushed away. */
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	/* A secret is never read with echo on: it would stay on the screen. */
	if (!restore) {
		close(fd);
		return kinko_err_set(e, KINKO_EIO,
				     "cannot turn echo off on the terminal, so the secret is not "
				     "asked for; give it in a file (--password-file / "
				     "--passphrase-file)");
	}
	(void)!write(fd, prompt, strlen(prompt));
	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		failed = r < 0;
		if (r <= 0 || c == '\n')
			break;
		if (got + 1 < cap)
			out[got++] = c;
		else
			too_long = true; /* read on to the line's end, keep nothing more */
	}
	c = 0;
	tcsetattr(fd, TCSANOW, &old);
	(void)!write(fd, "\n", 1);
	close(fd);
	out[got] = '\0';
	*n = got;
	if (too_long || failed) {
		kinko_wipe(out, cap);
		return kinko_err_set(e, too_long ? KINKO_EINVAL : KINKO_EIO,
				     too_long ? "the secret is too long"
					      : "cannot read the secret from the terminal");
	}
	return 0;
}

int cli_read_secret(const char *file, const char *prompt, char *out, size_t cap,
		    struct kinko_err *e)
{
	size_t n = 0, k;
	int rc;

	/* read(2) straight into out, never through stdio: a FILE's buffer would keep
	 * a copy of the secret that nothing wipes. */
	rc = file ? cli_read_secret_file(file, out, cap, &n, e)
		  : read_tty_line(prompt, out, cap, &n, e);
	if (rc)
		return rc;
	k = strcspn(out, "\r\n"); /* the first line is the secret */
	/* Nothing may follow it but line ends, and it may hold no NUL: a secret is
	 * never cut short without a word. */
	if (memchr(out, '\0', n) || strspn(out + k, "\r\n") != n - k) {
		kinko_wipe(out, cap);
		return kinko_err_set(e, KINKO_EINVAL,
				     file ? "%s holds more than one line or a NUL byte; put the "
					    "secret alone on its first line"
					  : "%sthe secret holds a control character",
				     file ? file : "");
	}
	kinko_wipe(out + k, n - k);
	if (k == 0)
		return kinko_err_set(e, KINKO_EINVAL, "the secret is empty");
	return 0;
}
