/*
 * api — the REST resources under /api/v1: JSON in, JSON out, the domain in between.
 *
 * The HTTP edge (http/) parses the request line, verifies the client certificate,
 * reads bounded JSON bodies and streams content; this layer maps a route to a
 * vault call and the result to a status and a JSON document. Authorization is not
 * decided here: every vault call takes the actor and decides itself.
 */
#ifndef KINKO_API_API_H
#define KINKO_API_API_H

#include <stdbool.h>
#include <sys/socket.h>

#include <jansson.h>

#include "core/err.h"
#include "vault/vault.h"

#define API_MAX_SEGS 8

enum api_kind {
	API_JSON,     /* bounded JSON body (or none), JSON answer */
	API_UPLOAD,   /* streaming PUT of object content */
	API_DOWNLOAD, /* GET/HEAD of object content */
	API_IMPORT,   /* streaming POST of a package to unpack into a folder */
};

struct api_req {
	const char *method;
	char *seg[API_MAX_SEGS]; /* path segments after /api/v1/, percent-decoded */
	unsigned nseg;
	const char *(*arg)(void *ctx, const char *name); /* query argument or NULL */
	const char *(*header)(void *ctx, const char *name);
	void *ctx;
	json_t *body; /* parsed body (NULL when none) */
	const struct sockaddr *addr;
	char cert_fp[65];
	char cert_user[64]; /* the user UUID in the client certificate, or "" */
	bool authed;
	struct vault_actor actor;
	const char *token; /* from Authorization: Bearer */
};

struct api_resp {
	int status;
	json_t *json;           /* body; NULL for 204 */
	struct kinko_err err;   /* when status >= 400 */
	char extra_header[2][2][128]; /* optional extra headers (name, value) */
	char alert[160];              /* a security alert for the operator's log */
};

/* How a route is served, decided before any body is read. Returns the kind, or
 * -1 with resp filled (404/405) when no route matches. */
int api_classify(struct api_req *r, struct api_resp *resp);

/* Whether the route needs a session (everything but status, unseal and login). */
bool api_needs_session(const struct api_req *r);

/* The audit action name of the request's route ("object.put", ...). */
const char *api_action(const struct api_req *r);

/* Serves an API_JSON route. */
void api_handle(struct vault *v, struct api_req *r, struct api_resp *resp);

/* An object's metadata as JSON (shared with the upload answer). */
json_t *api_object_json(const struct vault_object_info *o);

/* Maps a kinko error code to an HTTP status. */
int api_status_for(int code);

/* Fills resp as an error from code and e. */
void api_error(struct api_resp *resp, int code, const struct kinko_err *e);

/* Problem type slug for a status/code ("forbidden", "sealed", ...). */
const char *api_problem_slug(int code);

#endif
