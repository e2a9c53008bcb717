/* The /api/v1 resources. */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/merkle.h"
#include "core/base64.h"
#include "core/parse.h"
#include "crypto/crypto.h"

#define LIST_MAX 1000
#define LIST_DEFAULT 100

int api_status_for(int code)
{
	switch (code) {
	case KINKO_OK: return 200;
	case KINKO_EINVAL:
	case KINKO_EFORMAT: return 400;
	case KINKO_EAUTH: return 401;
	case KINKO_EPERM: return 403;
	case KINKO_ENOENT: return 404;
	case KINKO_EEXIST:
	case KINKO_ECONFLICT: return 409;
	case KINKO_ELIMIT: return 413;
	case KINKO_ELOCKED: return 423;
	case KINKO_EINFECTED: return 422;
	case KINKO_ESEALED:
	case KINKO_ENOTDURABLE:
	case KINKO_EUNAVAIL: return 503;
	default: return 500;
	}
}

const char *api_problem_slug(int code)
{
	switch (code) {
	case KINKO_EINVAL: return "invalid-request";
	case KINKO_EFORMAT: return "malformed";
	case KINKO_EAUTH: return "unauthenticated";
	case KINKO_EPERM: return "forbidden";
	case KINKO_ENOENT: return "not-found";
	case KINKO_EEXIST: return "exists";
	case KINKO_ECONFLICT: return "conflict";
	case KINKO_ELIMIT: return "too-large";
	case KINKO_ELOCKED: return "locked";
	case KINKO_EINFECTED: return "infected";
	case KINKO_ESEALED: return "sealed";
	case KINKO_EUNAVAIL:
	case KINKO_ENOTDURABLE: return "unavailable";
	case KINKO_EINTEGRITY: return "integrity";
	default: return "internal";
	}
}

void api_error(struct api_resp *resp, int code, const struct kinko_err *e)
{
	resp->status = api_status_for(code);
	resp->err.code = code;
	if (e && e->msg[0] && code != KINKO_EIO && resp->status != 500)
		snprintf(resp->err.msg, sizeof resp->err.msg, "%s", e->msg);
	else if (resp->status == 500)
		/* Internal details stay in the server log, not in the answer. */
		snprintf(resp->err.msg, sizeof resp->err.msg,
			 "internal error; the operator can find the request ID in the server log");
	else
		snprintf(resp->err.msg, sizeof resp->err.msg, "%s", kinko_strerror(code));
	json_decref(resp->json);
	resp->json = NULL;
}

/* The answer for a path under a known resource that no route serves. */
static void no_route(struct api_resp *resp)
{
	struct kinko_err e;

	kinko_err_set(&e, KINKO_ENOENT, "no such route");
	api_error(resp, KINKO_ENOENT, &e);
}

static bool seg_is(const struct api_req *r, unsigned i, const char *s)
{
	return i < r->nseg && !strcmp(r->seg[i], s);
}

static bool method_is(const struct api_req *r, const char *m)
{
	return !strcmp(r->method, m);
}

/* ---------------------------------------------------------------- classify */

int api_classify(struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;

	/* /folders/{id}/objects PUT */
	if (r->nseg == 3 && seg_is(r, 0, "folders") && seg_is(r, 2, "objects") &&
	    method_is(r, "PUT"))
		return API_UPLOAD;
	if (r->nseg == 2 && seg_is(r, 0, "objects") && (method_is(r, "GET") || method_is(r, "HEAD")))
		return API_DOWNLOAD;
	if (r->nseg == 3 && seg_is(r, 0, "folders") && seg_is(r, 2, "imports") &&
	    method_is(r, "POST"))
		return API_IMPORT;
	if (method_is(r, "GET") || method_is(r, "POST") || method_is(r, "PATCH") ||
	    method_is(r, "PUT") || method_is(r, "DELETE"))
		return API_JSON;
	kinko_err_set(&e, KINKO_EINVAL, "method %s is not supported", r->method);
	api_error(resp, KINKO_EINVAL, &e);
	resp->status = 405;
	return -1;
}

struct action_rule {
	const char *method;
	const char *pattern; /* segments; "*" matches an ID */
	const char *action;
};

static const struct action_rule action_rules[] = {
	{"GET", "status", "status.read"},
	{"POST", "unseal", "vault.unseal"},
	{"POST", "seal", "vault.seal"},
	{"POST", "login", "auth.login"},
	{"POST", "logout", "auth.logout"},
	{"GET", "me", "user.read"},
	{"GET", "users", "user.list"},
	{"POST", "users", "user.create"},
	{"GET", "users/*", "user.read"},
	{"PATCH", "users/*", "user.update"},
	{"POST", "users/*/totp", "user.totp"},
	{"POST", "users/*/certificates", "user.certificate"},
	{"GET", "certificates", "certificate.list"},
	{"POST", "certificates/*/revoke", "certificate.revoke"},
	{"GET", "contracts", "contract.list"},
	{"POST", "contracts", "contract.create"},
	{"GET", "contracts/*", "contract.read"},
	{"GET", "contracts/*/folders", "folder.list"},
	{"POST", "contracts/*/folders", "folder.create"},
	{"GET", "contracts/*/members", "contract.members"},
	{"PUT", "contracts/*/members/*", "contract.designate"},
	{"DELETE", "contracts/*/members/*", "contract.designate"},
	{"GET", "folders/*", "folder.read"},
	{"PATCH", "folders/*", "folder.update"},
	{"GET", "folders/*/acl", "folder.acl.read"},
	{"PUT", "folders/*/acl/*", "folder.acl"},
	{"GET", "folders/*/objects", "object.list"},
	{"PUT", "folders/*/objects", "object.put"},
	{"POST", "folders/*/imports", "object.import"},
	{"GET", "objects/*", "object.get"},
	{"HEAD", "objects/*", "object.stat"},
	{"DELETE", "objects/*", "object.delete"},
	{"GET", "log/checkpoint", "log.checkpoint.read"},
	{"POST", "log/checkpoints", "log.checkpoint"},
	{"GET", "log/proof/inclusion", "log.proof"},
	{"GET", "log/proof/consistency", "log.proof"},
	{"GET", "log/events", "log.read"},
	{"GET", "log/key", "log.key"},
	{"GET", "blocks", "net.block.list"},
	{"DELETE", "blocks/*", "net.unblock"},
};

const char *api_action(const struct api_req *r)
{
	for (size_t i = 0; i < sizeof action_rules / sizeof action_rules[0]; i++) {
		const struct action_rule *a = &action_rules[i];
		const char *p = a->pattern;
		unsigned k = 0;
		bool ok = !strcmp(a->method, r->method);
		while (ok && *p) {
			size_t n = strcspn(p, "/");
			if (k >= r->nseg)
				ok = false;
			else if (!(n == 1 && *p == '*') &&
				 (strlen(r->seg[k]) != n || strncmp(r->seg[k], p, n)))
				ok = false;
			k++;
			p += n;
			if (*p == '/')
				p++;
		}
		if (ok && k == r->nseg)
			return a->action;
	}
	return "request.unknown";
}

bool api_needs_session(const struct api_req *r)
{
	if (r->nseg == 1 && (seg_is(r, 0, "status") || seg_is(r, 0, "unseal") ||
			     seg_is(r, 0, "login")))
		return false;
	return true;
}

/* ---------------------------------------------------------------- helpers */

static void ok_json(struct api_resp *resp, int status, json_t *j)
{
	resp->status = status;
	json_decref(resp->json);
	resp->json = j;
	if (!j)
		api_error(resp, KINKO_ENOMEM, NULL);
}

static const char *body_str(const struct api_req *r, const char *key)
{
	json_t *v = r->body ? json_object_get(r->body, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Rejects bodies that are not objects and keys we do not know, so a typo is an
 * error rather than a silently ignored field. */
static int body_check(const struct api_req *r, const char *const *allowed, struct kinko_err *e)
{
	const char *key;
	json_t *val;

	if (!r->body)
		return kinko_err_set(e, KINKO_EINVAL, "this request needs a JSON object body");
	if (!json_is_object(r->body))
		return kinko_err_set(e, KINKO_EINVAL, "the body must be a JSON object");
	json_object_foreach(r->body, key, val) {
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, key))
				known = true;
		if (!known)
			return kinko_err_set(e, KINKO_EINVAL, "unknown field '%.60s'", key);
		(void)val;
	}
	return 0;
}

static int limit_arg(const struct api_req *r, unsigned *limit, struct kinko_err *e)
{
	const char *l = r->arg(r->ctx, "limit");
	uint64_t n;

	*limit = LIST_DEFAULT;
	if (!l)
		return 0;
	if (parse_u64(l, LIST_MAX, &n) || n == 0)
		return kinko_err_set(e, KINKO_EINVAL, "limit must be 1 to %d", LIST_MAX);
	*limit = (unsigned)n;
	return 0;
}

/* Cursors are opaque to clients: "c" + the last key seen. */
static int cursor_arg(const struct api_req *r, const char **after, struct kinko_err *e)
{
	const char *c = r->arg(r->ctx, "cursor");

	*after = NULL;
	if (!c)
		return 0;
	if (c[0] != 'c' || strlen(c) > 100)
		return kinko_err_set(e, KINKO_EINVAL, "the cursor is not one this server gave");
	*after = c + 1;
	return 0;
}

static json_t *list_doc(json_t *items, unsigned limit, const char *last_key)
{
	json_t *doc = json_object();
	char cur[128];

	json_object_set_new(doc, "items", items);
	if (json_array_size(items) == limit && last_key) {
		snprintf(cur, sizeof cur, "c%s", last_key);
		json_object_set_new(doc, "next_cursor", json_string(cur));
	} else {
		json_object_set_new(doc, "next_cursor", json_null());
	}
	return doc;
}

static const char *perm_names[] = {"read", "write", "export", "erase"};

static json_t *perms_json(unsigned perms)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < 4; i++)
		if (perms & (1u << i))
			json_array_append_new(a, json_string(perm_names[i]));
	return a;
}

static int perms_parse(json_t *a, unsigned *out, struct kinko_err *e)
{
	size_t i;
	json_t *v;
	unsigned p = 0;

	if (!json_is_array(a))
		return kinko_err_set(e, KINKO_EINVAL,
				     "perms must be an array of read, write, export, erase");
	json_array_foreach(a, i, v) {
		bool found = false;
		for (unsigned k = 0; k < 4; k++)
			if (json_is_string(v) && !strcmp(json_string_value(v), perm_names[k])) {
				p |= 1u << k;
				found = true;
			}
		if (!found)
			return kinko_err_set(e, KINKO_EINVAL,
					     "perms may hold only read, write, export, erase");
	}
	*out = p;
	return 0;
}

static json_t *user_json(const struct vault_user_info *u)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:I}", "id", u->id, "name", u->name,
			 "role", store_role_name(u->role), "disabled", u->disabled, "totp",
			 u->totp_enrolled, "locked", u->locked, "allowed_cidrs", u->allowed_cidrs,
			 "created_at", (json_int_t)u->created_at);
}

static json_t *contract_json(const struct vault_contract_info *c)
{
	return json_pack("{s:s, s:s, s:s, s:I}", "id", c->id, "name", c->name, "my_role",
			 store_role_name(c->my_role), "created_at", (json_int_t)c->created_at);
}

static json_t *folder_json(const struct vault_folder_info *f)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:b, s:I}", "id", f->id, "contract_id",
			 f->contract_id, "name", f->name, "my_perms", perms_json(f->my_perms),
			 "specific_personal", f->specific_personal, "created_at",
			 (json_int_t)f->created_at);
}

json_t *api_object_json(const struct vault_object_info *o)
{
	char hex[65];

	static const char *conf[] = {"none", "low", "high"};

	format_hex(o->sha256, 32, hex);
	return json_pack("{s:s, s:s, s:o, s:I, s:s, s:I, s:I, s:s, s:{s:I, s:s}, s:s}", "id", o->id,
			 "folder_id", o->folder_id, "name",
			 o->name[0] ? json_string(o->name) : json_null(), "size",
			 (json_int_t)o->size, "sha256", hex, "created_at", (json_int_t)o->created_at,
			 "records", (json_int_t)o->records, "encoding", o->encoding, "mynumber",
			 "count", (json_int_t)o->mynumber_count, "confidence",
			 conf[o->mynumber_confidence >= 0 && o->mynumber_confidence <= 2
				      ? o->mynumber_confidence
				      : 0],
			 "scanned_with", o->scan_signatures);
}

/* ---------------------------------------------------------------- handlers */

static void h_status(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct vault_scanner sc;

	(void)r;
	vault_scanner_status(v, &sc);
	ok_json(resp, 200,
		json_pack("{s:s, s:s, s:b, s:{s:b, s:b, s:s, s:I, s:I, s:b, s:s?}}", "service",
			  "kinko", "version", KINKO_VERSION, "sealed", vault_is_sealed(v),
			  "scanner", "required", sc.required, "ok", sc.ok, "engine", sc.engine,
			  "signature_version", (json_int_t)sc.sig_version, "signature_date",
			  (json_int_t)sc.sig_date, "fresh", sc.fresh, "reason",
			  sc.ok ? NULL : sc.reason));
}

static void h_unseal(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	static const char *const allowed[] = {"passphrase", NULL};
	struct kinko_err e;
	const char *pp;
	int rc = body_check(r, allowed, &e);

	if (rc == 0 && !(pp = body_str(r, "passphrase")))
		rc = kinko_err_set(&e, KINKO_EINVAL, "give the passphrase as a string");
	if (rc == 0)
		rc = vault_unseal_audited(v, &r->actor, KEYRING_PASSPHRASE, (const uint8_t *)pp,
					  strlen(pp), &e);
	if (rc)
		return api_error(resp, rc, &e);
	ok_json(resp, 200, json_pack("{s:b}", "sealed", 0));
}

static void h_seal(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;

	if (r->actor.role != ROLE_OPERATOR && r->actor.role != ROLE_MANAGER) {
		kinko_err_set(&e, KINKO_EPERM, "only an operator or a manager may seal the vault");
		return api_error(resp, KINKO_EPERM, &e);
	}
	vault_seal(v);
	ok_json(resp, 200, json_pack("{s:b}", "sealed", 1));
}

static void h_login(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	static const char *const allowed[] = {"user", "password", "totp", NULL};
	struct kinko_err e;
	struct vault_login l;
	struct vault_actor a;
	char token[VAULT_TOKEN_LEN + 1];
	bool alert = false;
	int rc = body_check(r, allowed, &e);

	if (rc == 0) {
		memset(&l, 0, sizeof l);
		l.name = body_str(r, "user");
		l.password = body_str(r, "password");
		l.totp = body_str(r, "totp");
		l.addr = r->addr;
		l.cert_fp = r->cert_fp;
		l.cert_user = r->cert_user;
		if (!l.name || !l.password)
			rc = kinko_err_set(&e, KINKO_EINVAL, "give user and password as strings");
	}
	a = r->actor; /* the request's context goes in; the user comes out */
	if (rc == 0)
		rc = vault_login(v, &l, token, &a, &alert, &e);
	/* Whatever the outcome, keep what the vault noted for the audit event. */
	r->actor.note = a.note;
	if (rc == 0 || alert)
		memcpy(r->actor.user_id, a.user_id, sizeof r->actor.user_id);
	if (alert) {
		snprintf(resp->extra_header[0][0], 128, "X-Kinko-Alert");
		snprintf(resp->extra_header[0][1], 128, "account-locked");
		snprintf(resp->alert, sizeof resp->alert,
			 "account %s locked after repeated failed logins", a.user_id);
	}
	if (rc)
		return api_error(resp, rc, &e);
	r->actor = a;
	r->authed = true;
	ok_json(resp, 200,
		json_pack("{s:s, s:{s:s, s:s, s:s}}", "token", token, "user", "id", a.user_id, "name",
			  a.user_name, "role", store_role_name(a.role)));
	kinko_wipe(token, sizeof token);
}

static void h_logout(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	int rc = vault_logout(v, &r->actor, r->token, &e);

	if (rc)
		return api_error(resp, rc, &e);
	ok_json(resp, 200, json_pack("{s:b}", "logged_out", 1));
}

static void h_me(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct vault_user_info u;
	struct kinko_err e;
	int rc = vault_user_get(v, &r->actor, r->actor.user_id, &u, &e);

	if (rc)
		return api_error(resp, rc, &e);
	ok_json(resp, 200, user_json(&u));
}

struct list_acc {
	json_t *items;
	char last[128];
};

static int user_row(void *ctx, const struct vault_user_info *u)
{
	struct list_acc *l = ctx;
	json_array_append_new(l->items, user_json(u));
	snprintf(l->last, sizeof l->last, "%s", u->name);
	return 0;
}

static void h_users(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	int rc;

	if (method_is(r, "GET") && r->arg(r->ctx, "name")) {
		struct vault_user_info u;
		rc = vault_user_find(v, &r->actor, r->arg(r->ctx, "name"), &u, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, list_doc(json_pack("[o]", user_json(&u)), 0, NULL));
	}
	if (method_is(r, "GET")) {
		struct list_acc l = {json_array(), ""};
		const char *after;
		unsigned limit;
		rc = limit_arg(r, &limit, &e);
		if (rc == 0)
			rc = cursor_arg(r, &after, &e);
		if (rc == 0)
			rc = vault_user_list(v, &r->actor, after, limit, user_row, &l, &e);
		if (rc) {
			json_decref(l.items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, list_doc(l.items, limit, l.last));
	}
	if (method_is(r, "POST")) {
		static const char *const allowed[] = {"name", "role", "password", "allowed_cidrs",
						      NULL};
		struct vault_user_new n;
		struct vault_user_info u;
		char pw[64] = "";
		rc = body_check(r, allowed, &e);
		if (rc == 0) {
			memset(&n, 0, sizeof n);
			n.name = body_str(r, "name");
			n.role = store_role_parse(body_str(r, "role"));
			n.password = body_str(r, "password");
			n.allowed_cidrs = body_str(r, "allowed_cidrs");
			rc = vault_user_create(v, &r->actor, &n, &u, pw, &e);
		}
		if (rc)
			return api_error(resp, rc, &e);
		json_t *doc = json_pack("{s:o}", "user", user_json(&u));
		if (!n.password)
			json_object_set_new(doc, "password", json_string(pw));
		kinko_wipe(pw, sizeof pw);
		return ok_json(resp, 201, doc);
	}
	kinko_err_set(&e, KINKO_EINVAL, "use GET or POST on /users");
	api_error(resp, KINKO_EINVAL, &e);
	resp->status = 405;
}

static void h_user(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	struct vault_user_info u;
	const char *id = r->seg[1];
	int rc;

	if (!store_id_valid(id)) {
		kinko_err_set(&e, KINKO_ENOENT, "no such user");
		return api_error(resp, KINKO_ENOENT, &e);
	}
	if (r->nseg == 2 && method_is(r, "GET")) {
		rc = vault_user_get(v, &r->actor, id, &u, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, user_json(&u));
	}
	if (r->nseg == 2 && method_is(r, "PATCH")) {
		static const char *const allowed[] = {"disabled", "password", "allowed_cidrs",
						      "unlock", NULL};
		struct vault_user_change c;
		bool dis;
		json_t *d;
		memset(&c, 0, sizeof c);
		rc = body_check(r, allowed, &e);
		if (rc == 0 && (d = json_object_get(r->body, "disabled"))) {
			if (!json_is_boolean(d))
				rc = kinko_err_set(&e, KINKO_EINVAL, "disabled must be true or false");
			dis = json_is_true(d);
			c.disabled = &dis;
		}
		if (rc == 0 && (d = json_object_get(r->body, "unlock"))) {
			if (!json_is_boolean(d))
				rc = kinko_err_set(&e, KINKO_EINVAL, "unlock must be true or false");
			c.unlock = json_is_true(d);
		}
		if (rc == 0 && json_object_get(r->body, "password") && !body_str(r, "password"))
			rc = kinko_err_set(&e, KINKO_EINVAL, "password must be a string");
		if (rc == 0 && json_object_get(r->body, "allowed_cidrs") &&
		    !body_str(r, "allowed_cidrs"))
			rc = kinko_err_set(&e, KINKO_EINVAL, "allowed_cidrs must be a string");
		c.password = body_str(r, "password");
		c.allowed_cidrs = body_str(r, "allowed_cidrs");
		if (rc == 0)
			rc = vault_user_update(v, &r->actor, id, &c, &u, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, user_json(&u));
	}
	if (r->nseg == 3 && seg_is(r, 2, "totp") && method_is(r, "POST")) {
		struct kbuf uri;
		kbuf_init(&uri, 1024);
		rc = vault_user_totp_enroll(v, &r->actor, id, &uri, &e);
		if (rc == 0)
			ok_json(resp, 200, json_pack("{s:s}", "otpauth_uri", kbuf_str(&uri)));
		else
			api_error(resp, rc, &e);
		kbuf_free(&uri);
		return;
	}
	if (r->nseg == 3 && seg_is(r, 2, "certificates") && method_is(r, "POST")) {
		static const char *const allowed[] = {"days", NULL};
		struct kbuf cert, key, p12;
		char pw[64], fp[65];
		json_int_t days = 365;
		json_t *d;
		kbuf_init(&cert, 1 << 16);
		kbuf_init(&key, 1 << 16);
		kbuf_init(&p12, 1 << 16);
		rc = r->body ? body_check(r, allowed, &e) : 0;
		if (rc == 0 && r->body && (d = json_object_get(r->body, "days"))) {
			if (!json_is_integer(d) || json_integer_value(d) < 1 ||
			    json_integer_value(d) > 825)
				rc = kinko_err_set(&e, KINKO_EINVAL, "days must be 1 to 825");
			else
				days = json_integer_value(d);
		}
		if (rc == 0)
			rc = vault_user_cert_issue(v, &r->actor, id, (unsigned)days, &cert, &key, &p12,
						   pw, fp, &e);
		if (rc == 0) {
			char *b64 = NULL;
			size_t b64len = p12.len * 4 / 3 + 8;
			b64 = malloc(b64len);
			if (b64 && kinko_base64_encode(p12.data, p12.len, b64, b64len) == 0)
				ok_json(resp, 201,
					json_pack("{s:s, s:s, s:s, s:s, s:s}", "fingerprint", fp,
						  "cert_pem", kbuf_str(&cert), "key_pem", kbuf_str(&key),
						  "p12_base64", b64, "p12_password", pw));
			else
				api_error(resp, KINKO_ENOMEM, NULL);
			if (b64)
				kinko_wipe(b64, b64len);
			free(b64);
		} else {
			api_error(resp, rc, &e);
		}
		kinko_wipe(pw, sizeof pw);
		kbuf_free(&cert);
		kbuf_free(&key);
		kbuf_free(&p12);
		return;
	}
	no_route(resp);
}

static int contract_row(void *ctx, const struct vault_contract_info *c)
{
	struct list_acc *l = ctx;
	json_array_append_new(l->items, contract_json(c));
	snprintf(l->last, sizeof l->last, "%s", c->id);
	return 0;
}

static int folder_row(void *ctx, const struct vault_folder_info *f)
{
	struct list_acc *l = ctx;
	json_array_append_new(l->items, folder_json(f));
	snprintf(l->last, sizeof l->last, "%s", f->id);
	return 0;
}

static int member_row(void *ctx, const struct store_member *m)
{
	json_array_append_new(ctx, json_pack("{s:s, s:s, s:s}", "user_id", m->user_id, "name",
					     m->user_name, "role", store_role_name(m->role)));
	return 0;
}

static void h_contracts(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	const char *after;
	unsigned limit;
	int rc;

	if (r->nseg == 1 && method_is(r, "GET")) {
		struct list_acc l = {json_array(), ""};
		rc = limit_arg(r, &limit, &e);
		if (rc == 0)
			rc = cursor_arg(r, &after, &e);
		if (rc == 0)
			rc = vault_contract_list(v, &r->actor, after, limit, contract_row, &l, &e);
		if (rc) {
			json_decref(l.items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, list_doc(l.items, limit, l.last));
	}
	if (r->nseg == 1 && method_is(r, "POST")) {
		static const char *const allowed[] = {"name", NULL};
		struct vault_contract_info c;
		rc = body_check(r, allowed, &e);
		if (rc == 0)
			rc = vault_contract_create(v, &r->actor, body_str(r, "name"), &c, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 201, contract_json(&c));
	}
	if (r->nseg == 2 && method_is(r, "GET")) {
		struct vault_contract_info c;
		rc = vault_contract_get(v, &r->actor, r->seg[1], &c, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, contract_json(&c));
	}
	if (r->nseg == 3 && seg_is(r, 2, "folders") && method_is(r, "GET")) {
		struct list_acc l = {json_array(), ""};
		rc = limit_arg(r, &limit, &e);
		if (rc == 0)
			rc = cursor_arg(r, &after, &e);
		if (rc == 0)
			rc = vault_folder_list(v, &r->actor, r->seg[1], after, limit, folder_row, &l,
					       &e);
		if (rc) {
			json_decref(l.items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, list_doc(l.items, limit, l.last));
	}
	if (r->nseg == 3 && seg_is(r, 2, "folders") && method_is(r, "POST")) {
		static const char *const allowed[] = {"name", NULL};
		struct vault_folder_info f;
		rc = body_check(r, allowed, &e);
		if (rc == 0 && !body_str(r, "name"))
			rc = kinko_err_set(&e, KINKO_EINVAL, "give the folder name as a string");
		if (rc == 0)
			rc = vault_folder_create(v, &r->actor, r->seg[1], body_str(r, "name"), &f, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 201, folder_json(&f));
	}
	if (r->nseg == 3 && seg_is(r, 2, "members") && method_is(r, "GET")) {
		json_t *items = json_array();
		rc = vault_member_list(v, &r->actor, r->seg[1], member_row, items, &e);
		if (rc) {
			json_decref(items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, json_pack("{s:o}", "items", items));
	}
	if (r->nseg == 4 && seg_is(r, 2, "members") && (method_is(r, "PUT") || method_is(r, "DELETE"))) {
		static const char *const allowed[] = {"role", NULL};
		enum store_role role = ROLE_NONE;
		rc = 0;
		if (method_is(r, "PUT")) {
			rc = body_check(r, allowed, &e);
			role = store_role_parse(body_str(r, "role"));
			if (rc == 0 && (role == ROLE_NONE || role == ROLE_OPERATOR))
				rc = kinko_err_set(&e, KINKO_EINVAL,
						   "role must be manager, handler or auditor");
		}
		if (rc == 0)
			rc = vault_member_set(v, &r->actor, r->seg[1], r->seg[3], role, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200,
			       json_pack("{s:s, s:s}", "user_id", r->seg[3], "role",
					 store_role_name(role)));
	}
	no_route(resp);
}

static int acl_row(void *ctx, const char *user_id, unsigned perms)
{
	json_array_append_new(ctx, json_pack("{s:s, s:o}", "user_id", user_id, "perms",
					     perms_json(perms)));
	return 0;
}

static int object_row(void *ctx, const struct vault_object_info *o)
{
	struct list_acc *l = ctx;
	json_array_append_new(l->items, api_object_json(o));
	snprintf(l->last, sizeof l->last, "%lld", (long long)o->seq);
	return 0;
}

static void h_folders(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	int rc;

	if (r->nseg == 2 && method_is(r, "GET")) {
		struct vault_folder_info f;
		rc = vault_folder_get(v, &r->actor, r->seg[1], &f, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, folder_json(&f));
	}
	if (r->nseg == 2 && method_is(r, "PATCH")) {
		static const char *const allowed[] = {"specific_personal", NULL};
		struct vault_folder_info f;
		json_t *sp;
		rc = body_check(r, allowed, &e);
		if (rc == 0 && !json_is_boolean(sp = json_object_get(r->body, "specific_personal")))
			rc = kinko_err_set(&e, KINKO_EINVAL, "specific_personal must be true or false");
		if (rc == 0)
			rc = vault_folder_set_specific(v, &r->actor, r->seg[1], json_is_true(sp), &f, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, folder_json(&f));
	}
	if (r->nseg == 3 && seg_is(r, 2, "acl") && method_is(r, "GET")) {
		json_t *items = json_array();
		rc = vault_acl_list(v, &r->actor, r->seg[1], acl_row, items, &e);
		if (rc) {
			json_decref(items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, json_pack("{s:o}", "items", items));
	}
	if (r->nseg == 4 && seg_is(r, 2, "acl") && method_is(r, "PUT")) {
		static const char *const allowed[] = {"perms", NULL};
		unsigned perms = 0;
		rc = body_check(r, allowed, &e);
		if (rc == 0)
			rc = perms_parse(json_object_get(r->body, "perms"), &perms, &e);
		if (rc == 0)
			rc = vault_acl_set(v, &r->actor, r->seg[1], r->seg[3], perms, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200,
			       json_pack("{s:s, s:o}", "user_id", r->seg[3], "perms", perms_json(perms)));
	}
	if (r->nseg == 3 && seg_is(r, 2, "objects") && method_is(r, "GET")) {
		struct list_acc l = {json_array(), ""};
		const char *after;
		unsigned limit;
		uint64_t seq = 0;
		rc = limit_arg(r, &limit, &e);
		if (rc == 0)
			rc = cursor_arg(r, &after, &e);
		if (rc == 0 && after && parse_u64(after, INT64_MAX, &seq))
			rc = kinko_err_set(&e, KINKO_EINVAL, "the cursor is not one this server gave");
		if (rc == 0)
			rc = vault_object_list(v, &r->actor, r->seg[1], (int64_t)seq, limit,
					       object_row, &l, &e);
		if (rc) {
			json_decref(l.items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, list_doc(l.items, limit, l.last));
	}
	no_route(resp);
}

static void h_objects(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	int rc;

	if (r->nseg == 2 && method_is(r, "DELETE")) {
		rc = vault_object_delete(v, &r->actor, r->seg[1], &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, json_pack("{s:s, s:b}", "id", r->seg[1], "deleted", 1));
	}
	no_route(resp);
}

/* ---------------------------------------------------------------- audit log */

static json_t *hashes_json(uint8_t h[][MERKLE_HASH_LEN], size_t n)
{
	json_t *a = json_array();
	char b64[64];

	for (size_t i = 0; i < n; i++)
		if (kinko_base64_encode(h[i], MERKLE_HASH_LEN, b64, sizeof b64) == 0)
			json_array_append_new(a, json_string(b64));
	return a;
}

static int u64_arg(const struct api_req *r, const char *name, uint64_t *out, struct kinko_err *e)
{
	const char *v = r->arg(r->ctx, name);

	if (!v || parse_u64(v, UINT64_C(1) << 62, out))
		return kinko_err_set(e, KINKO_EINVAL, "give %s as a whole number", name);
	return 0;
}

static int event_row(void *ctx, uint64_t seq, const uint8_t *p, size_t n)
{
	json_t *items = ctx;
	json_t *ev = json_loadb((const char *)p, n, 0, NULL);

	(void)seq;
	if (!ev)
		return KINKO_EFORMAT;
	json_array_append_new(items, ev);
	return json_array_size(items) >= LIST_MAX ? 1 : 0;
}

static json_t *cert_json(const struct vault_cert_info *c)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:b}", "fingerprint", c->fingerprint,
			      "user_id", c->user_id, "issued_at", (json_int_t)c->issued_at,
			      "not_after", (json_int_t)c->not_after, "revoked", c->revoked_at != 0);
	if (j) {
		json_object_set_new(j, "revoked_at",
				    c->revoked_at ? json_integer(c->revoked_at) : json_null());
		json_object_set_new(j, "revoked_by",
				    c->revoked_at ? json_string(c->revoked_by) : json_null());
	}
	return j;
}

struct cert_acc {
	json_t *items;
	int64_t last_issued;
	char last_fp[65];
};

static int cert_row(void *ctx, const struct vault_cert_info *c)
{
	struct cert_acc *l = ctx;
	json_array_append_new(l->items, cert_json(c));
	l->last_issued = c->issued_at;
	memcpy(l->last_fp, c->fingerprint, sizeof l->last_fp);
	return 0;
}

/* GET /certificates[?user=ID]: the issued/revoked list (S2), newest first; the
 * cursor is "<issued_at>:<fingerprint>" of the last row.
 * POST /certificates/{fingerprint}/revoke. */
static void h_certs(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	int rc;

	if (r->nseg == 1 && method_is(r, "GET")) {
		struct cert_acc l = {json_array(), -1, ""};
		const char *after;
		int64_t after_issued = -1;
		char after_fp[65] = "", last[100];
		unsigned limit;
		rc = limit_arg(r, &limit, &e);
		if (rc == 0)
			rc = cursor_arg(r, &after, &e);
		if (rc == 0 && after) {
			const char *colon = strchr(after, ':');
			uint64_t t;
			char num[24];
			if (!colon || (size_t)(colon - after) >= sizeof num || strlen(colon + 1) != 64) {
				rc = kinko_err_set(&e, KINKO_EINVAL, "the cursor is not one this server gave");
			} else {
				memcpy(num, after, (size_t)(colon - after));
				num[colon - after] = '\0';
				if (parse_u64(num, INT64_MAX, &t))
					rc = kinko_err_set(&e, KINKO_EINVAL,
							   "the cursor is not one this server gave");
				else
					after_issued = (int64_t)t;
				memcpy(after_fp, colon + 1, 65);
			}
		}
		if (rc == 0 && r->arg(r->ctx, "user") && !store_id_valid(r->arg(r->ctx, "user")))
			rc = kinko_err_set(&e, KINKO_EINVAL,
					   "user must be an account ID (see kinko user show NAME)");
		if (rc == 0)
			rc = vault_cert_list(v, &r->actor, r->arg(r->ctx, "user"), after_issued,
					     after_fp, limit, cert_row, &l, &e);
		if (rc) {
			json_decref(l.items);
			return api_error(resp, rc, &e);
		}
		snprintf(last, sizeof last, "%lld:%s", (long long)l.last_issued, l.last_fp);
		return ok_json(resp, 200, list_doc(l.items, limit, last));
	}
	if (r->nseg == 3 && seg_is(r, 2, "revoke") && method_is(r, "POST")) {
		static const char *const allowed[] = {NULL};
		struct vault_cert_info c;
		rc = r->body ? body_check(r, allowed, &e) : 0;
		if (rc == 0)
			rc = vault_cert_revoke(v, &r->actor, r->seg[1], &c, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, cert_json(&c));
	}
	no_route(resp);
}

static void h_log(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	size_t n = 0;
	uint64_t a = 0, b = 0;
	int rc = vault_log_access(&r->actor, &e);

	if (rc)
		return api_error(resp, rc, &e);
	if (r->nseg == 2 && seg_is(r, 1, "key") && method_is(r, "GET")) {
		char vk[512];
		rc = vault_log_verifier(v, vk, sizeof vk, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, json_pack("{s:s}", "verifier", vk));
	}
	if (r->nseg == 2 && (seg_is(r, 1, "checkpoint") || seg_is(r, 1, "checkpoints"))) {
		struct kbuf note;
		kbuf_init(&note, 1 << 16);
		if (method_is(r, "POST") && seg_is(r, 1, "checkpoints")) {
			rc = vault_log_checkpoint(v, &r->actor, &note, &e);
		} else if (method_is(r, "GET") && seg_is(r, 1, "checkpoint")) {
			rc = vault_log_latest(v, &r->actor, &note, &e);
		} else {
			rc = kinko_err_set(&e, KINKO_ENOENT, "no such route");
		}
		if (rc == 0)
			ok_json(resp, method_is(r, "POST") ? 201 : 200,
				json_pack("{s:s%}", "checkpoint", (const char *)note.data, note.len));
		else
			api_error(resp, rc, &e);
		kbuf_free(&note);
		return;
	}
	if (r->nseg == 3 && seg_is(r, 1, "proof") && method_is(r, "GET")) {
		bool incl = seg_is(r, 2, "inclusion");
		if (!incl && !seg_is(r, 2, "consistency")) {
			kinko_err_set(&e, KINKO_ENOENT, "no such proof; use inclusion or consistency");
			return api_error(resp, KINKO_ENOENT, &e);
		}
		rc = u64_arg(r, incl ? "index" : "from", &a, &e);
		if (rc == 0)
			rc = u64_arg(r, incl ? "size" : "to", &b, &e);
		if (rc == 0)
			rc = vault_log_proof(v, &r->actor, incl, a, b, proof, &n, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200,
			       incl ? json_pack("{s:I, s:I, s:o}", "index", (json_int_t)a, "size",
						(json_int_t)b, "proof", hashes_json(proof, n))
				    : json_pack("{s:I, s:I, s:o}", "from", (json_int_t)a, "to",
						(json_int_t)b, "proof", hashes_json(proof, n)));
	}
	if (r->nseg == 2 && seg_is(r, 1, "events") && method_is(r, "GET")) {
		json_t *items = json_array();
		a = 0;
		if (r->arg(r->ctx, "from") && u64_arg(r, "from", &a, &e)) {
			json_decref(items);
			return api_error(resp, KINKO_EINVAL, &e);
		}
		rc = vault_log_events(v, &r->actor, a, event_row, items, &e);
		if (rc < 0) {
			json_decref(items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, json_pack("{s:o}", "items", items));
	}
	no_route(resp);
}

static json_t *block_json(const struct addrblock_entry *b)
{
	json_t *j = json_pack("{s:s, s:i, s:I, s:I}", "source", b->source, "failures",
			      (int)b->failures, "first_failure", (json_int_t)b->first,
			      "last_failure", (json_int_t)b->last);
	if (j)
		json_object_set_new(j, "blocked_until",
				    b->until ? json_integer((json_int_t)b->until) : json_null());
	return j;
}

/* GET /blocks: the sources being counted or blocked (S4), blocked first.
 * DELETE /blocks/{address}: lifts a block (any address of an IPv6 /64). */
static void h_blocks(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	static struct addrblock_entry none;
	struct kinko_err e;
	int rc;

	if (r->nseg == 1 && method_is(r, "GET")) {
		struct addrblock_entry *l = calloc(ADDRBLOCK_MAX, sizeof *l);
		json_t *items = json_array();
		size_t n = 0;
		if (!l || !items) {
			free(l);
			json_decref(items);
			return api_error(resp, KINKO_ENOMEM, NULL);
		}
		rc = vault_blocks_list(v, &r->actor, l, ADDRBLOCK_MAX, &n, &e);
		for (size_t i = 0; rc == 0 && i < n; i++)
			json_array_append_new(items, block_json(&l[i]));
		free(l);
		if (rc) {
			json_decref(items);
			return api_error(resp, rc, &e);
		}
		return ok_json(resp, 200, json_pack("{s:o}", "items", items));
	}
	if (r->nseg == 2 && method_is(r, "DELETE")) {
		struct addrblock_entry was = none;
		rc = vault_block_clear(v, &r->actor, r->seg[1], &was, &e);
		if (rc)
			return api_error(resp, rc, &e);
		return ok_json(resp, 200, block_json(&was));
	}
	no_route(resp);
}

void api_handle(struct vault *v, struct api_req *r, struct api_resp *resp)
{
	struct kinko_err e;
	const char *s0 = r->nseg ? r->seg[0] : "";

	if (r->nseg == 1 && !strcmp(s0, "status") && method_is(r, "GET"))
		return h_status(v, r, resp);
	if (r->nseg == 1 && !strcmp(s0, "unseal") && method_is(r, "POST"))
		return h_unseal(v, r, resp);
	if (r->nseg == 1 && !strcmp(s0, "login") && method_is(r, "POST"))
		return h_login(v, r, resp);
	if (r->nseg == 1 && !strcmp(s0, "logout") && method_is(r, "POST"))
		return h_logout(v, r, resp);
	if (r->nseg == 1 && !strcmp(s0, "seal") && method_is(r, "POST"))
		return h_seal(v, r, resp);
	if (r->nseg == 1 && !strcmp(s0, "me") && method_is(r, "GET"))
		return h_me(v, r, resp);
	if (r->nseg == 1 && !strcmp(s0, "users"))
		return h_users(v, r, resp);
	if (r->nseg >= 2 && !strcmp(s0, "users"))
		return h_user(v, r, resp);
	if (r->nseg >= 1 && !strcmp(s0, "contracts"))
		return h_contracts(v, r, resp);
	if (r->nseg >= 2 && !strcmp(s0, "folders"))
		return h_folders(v, r, resp);
	if (r->nseg >= 2 && !strcmp(s0, "objects"))
		return h_objects(v, r, resp);
	if (r->nseg >= 2 && !strcmp(s0, "log"))
		return h_log(v, r, resp);
	if (r->nseg >= 1 && !strcmp(s0, "certificates"))
		return h_certs(v, r, resp);
	if (r->nseg >= 1 && !strcmp(s0, "blocks"))
		return h_blocks(v, r, resp);
	kinko_err_set(&e, KINKO_ENOENT, "no such route; see docs/api.md");
	api_error(resp, KINKO_ENOENT, &e);
}
