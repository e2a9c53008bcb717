/* Contracts, memberships, folders and their ACLs; the access decision. */
#include "vault/vault_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uninorm.h>
#include <unistr.h>

#include "crypto/crypto.h"

bool vault_may(enum store_role account, enum store_role member, unsigned acl, unsigned wanted)
{
	return wanted != 0 && (vault_perms(account, member, acl) & wanted) == wanted;
}

unsigned vault_perms(enum store_role account, enum store_role member, unsigned acl)
{
	/* Operators and auditors never reach content (separation of duties), whatever
	 * an ACL row says. */
	if (account == ROLE_OPERATOR || account == ROLE_AUDITOR)
		return 0;
	if (member == ROLE_MANAGER && account == ROLE_MANAGER)
		return PERM_ALL;
	if (member == ROLE_HANDLER || member == ROLE_MANAGER)
		return acl & PERM_ALL;
	return 0;
}

/* C1 controls and bidirectional marks (U+061C, U+200E, U+200F), embeddings,
 * overrides and isolates, which can disguise a name (a reversed extension, a
 * contract that reads like another): true when s has one. s is valid UTF-8. */
static bool has_disguise(const uint8_t *s, size_t len)
{
	for (const uint8_t *p = s; p < s + len;) {
		ucs4_t c;
		int n = u8_mbtouc(&c, p, (size_t)(s + len - p));
		if ((c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
		    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
			return true;
		p += n > 0 ? n : 1;
	}
	return false;
}

int vault_name_check(const char *name, size_t len, struct kinko_err *e)
{
	const uint8_t *s = (const uint8_t *)name;
	uint8_t *nfc;
	size_t nfclen = 0;
	bool same;

	if (len == 0 || len > VAULT_NAME_MAX)
		return kinko_err_set(e, KINKO_EINVAL, "a name must be 1 to %d bytes of UTF-8",
				     VAULT_NAME_MAX);
	if (u8_check(s, len) != NULL)
		return kinko_err_set(e, KINKO_EINVAL, "a name must be valid UTF-8");
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return kinko_err_set(e, KINKO_EINVAL,
					     "a name may not contain control characters or NUL");
		if (s[i] == '/' || s[i] == '\\')
			return kinko_err_set(e, KINKO_EINVAL, "a name may not contain '/' or '\\'");
	}
	if (has_disguise(s, len))
		return kinko_err_set(e, KINKO_EINVAL,
				     "a name may not contain control or text-direction characters");
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return kinko_err_set(e, KINKO_EINVAL, "'.' and '..' are not names");
	nfc = u8_normalize(UNINORM_NFC, s, len, NULL, &nfclen);
	if (!nfc)
		return kinko_err_set(e, KINKO_ENOMEM, "cannot normalise the name");
	same = nfclen == len && !memcmp(nfc, s, len);
	free(nfc);
	if (!same)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the name is not in Unicode NFC (macOS writes NFD); "
				     "normalise it to NFC and retry");
	return 0;
}

int vault_folder_key(struct vault *v, const struct store_folder *f, struct kinko_key **out,
		     struct kinko_err *e)
{
	char ctx[64];

	snprintf(ctx, sizeof ctx, "folder:%s", f->id);
	return keyring_unwrap(v->kr, ctx, f->key_wrapped.data, f->key_wrapped.len, out, e);
}

int vault_folder_access(struct vault *v, const struct vault_actor *a,
			const struct store_folder *f, unsigned *perms, enum store_role *member,
			struct kinko_err *e)
{
	struct store *s = v->store;
	unsigned acl = 0;
	int rc = s->ops->member_role(s, f->contract_id, a->user_id, member, e);

	if (rc == 0)
		rc = s->ops->acl_get(s, f->id, a->user_id, &acl, e);
	if (rc == 0)
		*perms = vault_perms(a->role, *member, acl);
	return rc;
}

/* ---------------------------------------------------------------- contracts */

static int text_check(const char *t, size_t max, const char *what, struct kinko_err *e)
{
	size_t n = t ? strlen(t) : 0;

	if (n == 0 || n > max)
		return kinko_err_set(e, KINKO_EINVAL, "%s must be 1 to %zu bytes", what, max);
	if (u8_check((const uint8_t *)t, n))
		return kinko_err_set(e, KINKO_EINVAL, "%s must be valid UTF-8", what);
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)t[i] < 0x20 || t[i] == 0x7f)
			return kinko_err_set(e, KINKO_EINVAL, "%s may not contain control characters",
					     what);
	if (has_disguise((const uint8_t *)t, n))
		return kinko_err_set(e, KINKO_EINVAL,
				     "%s may not contain control or text-direction characters", what);
	return 0;
}

int vault_contract_create(struct vault *v, const struct vault_actor *a, const char *name,
			  struct vault_contract_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_contract c;
	int rc;

	if (a->role != ROLE_MANAGER)
		return kinko_err_set(e, KINKO_EPERM, "only a manager may create contracts");
	rc = text_check(name, 255, "a contract name", e);
	if (rc)
		return rc;
	memset(&c, 0, sizeof c);
	store_new_id(c.id);
	snprintf(c.name, sizeof c.name, "%s", name);
	memcpy(c.created_by, a->user_id, sizeof c.created_by);
	c.created_at = vault_now();
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = s->ops->contract_insert(s, &c, e);
	if (rc == 0)
		rc = s->ops->member_put(s, c.id, a->user_id, ROLE_MANAGER, e);
	if (rc == 0)
		rc = vault_audit(v, a, "contract.create", c.id, c.id, NULL, 0, 201, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	if (rc == 0) {
		memset(out, 0, sizeof *out);
		memcpy(out->id, c.id, sizeof out->id);
		memcpy(out->name, c.name, sizeof out->name);
		out->my_role = ROLE_MANAGER;
		out->created_at = c.created_at;
	}
	return rc;
}

/* Loads a contract the actor belongs to; ENOENT otherwise (inside a transaction). */
static int contract_visible(struct vault *v, const struct vault_actor *a, const char *id,
			    struct store_contract *c, enum store_role *role, struct kinko_err *e)
{
	struct store *s = v->store;
	int rc;

	if (!store_id_valid(id))
		return kinko_err_set(e, KINKO_ENOENT, "no such contract");
	rc = s->ops->member_role(s, id, a->user_id, role, e);
	if (rc)
		return rc;
	if (*role == ROLE_NONE)
		return kinko_err_set(e, KINKO_ENOENT, "no such contract");
	return s->ops->contract_get(s, id, c, e);
}

int vault_contract_get(struct vault *v, const struct vault_actor *a, const char *id,
		       struct vault_contract_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_contract c;
	enum store_role role;
	int rc = s->ops->begin(s, e);

	if (rc)
		return rc;
	rc = contract_visible(v, a, id, &c, &role, e);
	s->ops->rollback(s);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	memcpy(out->id, c.id, sizeof out->id);
	memcpy(out->name, c.name, sizeof out->name);
	out->my_role = role;
	out->created_at = c.created_at;
	return 0;
}

struct contract_list_ctx {
	struct vault *v;
	const struct vault_actor *a;
	int (*cb)(void *ctx, const struct vault_contract_info *c);
	void *ctx;
	struct kinko_err *e;
};

static int contract_list_row(void *ctx, const struct store_contract *c)
{
	struct contract_list_ctx *l = ctx;
	struct vault_contract_info info;
	struct store *s = l->v->store;
	int rc;

	memset(&info, 0, sizeof info);
	memcpy(info.id, c->id, sizeof info.id);
	memcpy(info.name, c->name, sizeof info.name);
	info.created_at = c->created_at;
	rc = s->ops->member_role(s, c->id, l->a->user_id, &info.my_role, l->e);
	return rc ? rc : l->cb(l->ctx, &info);
}

int vault_contract_list(struct vault *v, const struct vault_actor *a, const char *after_id,
			unsigned limit,
			int (*cb)(void *ctx, const struct vault_contract_info *c), void *ctx,
			struct kinko_err *e)
{
	struct store *s = v->store;
	struct contract_list_ctx l = {v, a, cb, ctx, e};
	int rc = s->ops->begin(s, e);

	if (rc)
		return rc;
	rc = s->ops->contract_list(s, a->user_id, after_id, limit, contract_list_row, &l, e);
	s->ops->rollback(s);
	return rc;
}

int vault_member_set(struct vault *v, const struct vault_actor *a, const char *contract_id,
		     const char *user_id, enum store_role role, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_contract c;
	struct store_user u;
	enum store_role mine;
	int rc;

	if (role == ROLE_OPERATOR)
		return kinko_err_set(e, KINKO_EINVAL,
				     "operators run the server and are never members of a contract");
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = contract_visible(v, a, contract_id, &c, &mine, e);
	if (rc == 0 && (mine != ROLE_MANAGER || a->role != ROLE_MANAGER))
		rc = kinko_err_set(e, KINKO_EPERM,
				   "only a manager of the contract may designate its people");
	if (rc == 0 && !store_id_valid(user_id))
		rc = kinko_err_set(e, KINKO_ENOENT, "no such user");
	if (rc == 0)
		rc = s->ops->user_get(s, user_id, NULL, &u, e);
	if (rc == 0) {
		/* The account's kind bounds its role in a contract. */
		bool fits = role == ROLE_NONE || (role == ROLE_MANAGER && u.role == ROLE_MANAGER) ||
			    (role == ROLE_HANDLER &&
			     (u.role == ROLE_HANDLER || u.role == ROLE_MANAGER)) ||
			    (role == ROLE_AUDITOR && u.role == ROLE_AUDITOR);
		store_user_clear(&u);
		if (!fits)
			rc = kinko_err_set(e, KINKO_EINVAL,
					   "a %s account cannot be designated as %s of a contract",
					   store_role_name(u.role), store_role_name(role));
	}
	if (rc == 0 && role == ROLE_NONE && !strcmp(user_id, a->user_id))
		rc = kinko_err_set(e, KINKO_EINVAL, "you cannot remove yourself from a contract");
	if (rc == 0)
		rc = role == ROLE_NONE ? s->ops->member_delete(s, contract_id, user_id, e)
				       : s->ops->member_put(s, contract_id, user_id, role, e);
	if (rc == 0)
		rc = vault_audit(v, a, "contract.designate", contract_id, user_id, NULL, 0, 200, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	return rc;
}

int vault_member_list(struct vault *v, const struct vault_actor *a, const char *contract_id,
		      store_member_cb cb, void *ctx, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_contract c;
	enum store_role mine;
	int rc = s->ops->begin(s, e);

	if (rc)
		return rc;
	rc = contract_visible(v, a, contract_id, &c, &mine, e);
	if (rc == 0)
		rc = s->ops->member_list(s, contract_id, cb, ctx, e);
	s->ops->rollback(s);
	return rc;
}

/* ---------------------------------------------------------------- folders */

static int folder_info(struct vault *v, const struct store_folder *f, unsigned perms,
		       bool show_name, struct vault_folder_info *out, struct kinko_err *e)
{
	struct kinko_key *k = NULL;
	struct kbuf name;
	char ctx[64];
	int rc = 0;

	memset(out, 0, sizeof *out);
	memcpy(out->id, f->id, sizeof out->id);
	memcpy(out->contract_id, f->contract_id, sizeof out->contract_id);
	out->my_perms = perms;
	out->created_at = f->created_at;
	out->specific_personal = f->specific_personal;
	if (!show_name)
		return 0;
	kbuf_init(&name, VAULT_NAME_MAX + 64);
	rc = vault_folder_key(v, f, &k, e);
	snprintf(ctx, sizeof ctx, "folder-name:%s", f->id);
	if (rc == 0)
		rc = kinko_key_open(k, ctx, f->name_sealed.data, f->name_sealed.len, &name, e);
	if (rc == 0 && name.len <= VAULT_NAME_MAX)
		memcpy(out->name, name.data, name.len);
	kinko_key_free(k);
	kbuf_free(&name);
	return rc;
}

int vault_folder_create(struct vault *v, const struct vault_actor *a, const char *contract_id,
			const char *name, struct vault_folder_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_contract c;
	struct store_folder f;
	struct kinko_key *k = NULL;
	enum store_role mine;
	char ctx[64];
	int rc;

	rc = vault_name_check(name, name ? strlen(name) : 0, e);
	if (rc)
		return rc;
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	memset(&f, 0, sizeof f);
	kbuf_init(&f.name_sealed, 4096);
	kbuf_init(&f.key_wrapped, 4096);
	store_new_id(f.id);
	snprintf(f.contract_id, sizeof f.contract_id, "%s", contract_id);
	f.created_at = vault_now();
	rc = kinko_key_new(&k);
	if (rc) {
		rc = kinko_err_set(e, rc, "cannot allocate a key");
		goto out;
	}
	snprintf(ctx, sizeof ctx, "folder:%s", f.id);
	rc = keyring_wrap(v->kr, ctx, k, &f.key_wrapped, e);
	snprintf(ctx, sizeof ctx, "folder-name:%s", f.id);
	if (rc == 0)
		rc = kinko_key_seal(k, ctx, (const uint8_t *)name, strlen(name), &f.name_sealed, e);
	if (rc)
		goto out;
	rc = s->ops->begin(s, e);
	if (rc)
		goto out;
	rc = contract_visible(v, a, contract_id, &c, &mine, e);
	if (rc == 0 && (mine != ROLE_MANAGER || a->role != ROLE_MANAGER))
		rc = kinko_err_set(e, KINKO_EPERM, "only a manager of the contract may create folders");
	if (rc == 0)
		rc = s->ops->folder_insert(s, &f, e);
	if (rc == 0)
		rc = vault_audit(v, a, "folder.create", f.contract_id, f.id, NULL, 0, 201, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	if (rc == 0) {
		memset(out, 0, sizeof *out);
		memcpy(out->id, f.id, sizeof out->id);
		memcpy(out->contract_id, f.contract_id, sizeof out->contract_id);
		snprintf(out->name, sizeof out->name, "%s", name);
		out->my_perms = PERM_ALL;
		out->created_at = f.created_at;
	}
out:
	kinko_key_free(k);
	store_folder_clear(&f);
	vault_leave(v);
	return rc;
}

int vault_folder_visible(struct vault *v, const struct vault_actor *a, const char *id,
			 struct store_folder *f, unsigned *perms, enum store_role *member,
			 struct kinko_err *e)
{
	int rc;

	if (!store_id_valid(id))
		return kinko_err_set(e, KINKO_ENOENT, "no such folder");
	rc = v->store->ops->folder_get(v->store, id, f, e);
	if (rc)
		return rc;
	rc = vault_folder_access(v, a, f, perms, member, e);
	if (rc == 0 && *member == ROLE_NONE)
		rc = kinko_err_set(e, KINKO_ENOENT, "no such folder");
	if (rc)
		store_folder_clear(f);
	return rc;
}

int vault_folder_get(struct vault *v, const struct vault_actor *a, const char *id,
		     struct vault_folder_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	unsigned perms;
	enum store_role member;
	int rc = vault_enter(v, e);

	if (rc)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = vault_folder_visible(v, a, id, &f, &perms, &member, e);
		s->ops->rollback(s);
	}
	if (rc == 0) {
		rc = folder_info(v, &f, perms, perms != 0 || member == ROLE_AUDITOR, out, e);
		store_folder_clear(&f);
	}
	vault_leave(v);
	return rc;
}

struct folder_list_ctx {
	struct vault *v;
	const struct vault_actor *a;
	int (*cb)(void *ctx, const struct vault_folder_info *f);
	void *ctx;
	struct kinko_err *e;
};

static int folder_list_row(void *ctx, const struct store_folder *f)
{
	struct folder_list_ctx *l = ctx;
	struct vault_folder_info info;
	enum store_role member;
	unsigned perms;
	int rc = vault_folder_access(l->v, l->a, f, &perms, &member, l->e);

	if (rc == 0)
		rc = folder_info(l->v, f, perms, true, &info, l->e);
	return rc ? rc : l->cb(l->ctx, &info);
}

int vault_folder_list(struct vault *v, const struct vault_actor *a, const char *contract_id,
		      const char *after_id, unsigned limit,
		      int (*cb)(void *ctx, const struct vault_folder_info *f), void *ctx,
		      struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_contract c;
	struct folder_list_ctx l = {v, a, cb, ctx, e};
	enum store_role mine;
	int rc = vault_enter(v, e);

	if (rc)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = contract_visible(v, a, contract_id, &c, &mine, e);
		if (rc == 0)
			rc = s->ops->folder_list(s, contract_id, after_id, limit, folder_list_row, &l,
						 e);
		s->ops->rollback(s);
	}
	vault_leave(v);
	return rc;
}

int vault_folder_set_specific(struct vault *v, const struct vault_actor *a, const char *id,
			      bool on, struct vault_folder_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	unsigned perms;
	enum store_role member;
	int rc = vault_enter(v, e);

	if (rc)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc) {
		vault_leave(v);
		return rc;
	}
	rc = vault_folder_visible(v, a, id, &f, &perms, &member, e);
	if (rc == 0) {
		if (member != ROLE_MANAGER || a->role != ROLE_MANAGER)
			rc = kinko_err_set(e, KINKO_EPERM,
					   "only a manager of the contract may mark a folder for "
					   "特定個人情報");
		if (rc == 0)
			rc = s->ops->folder_set_specific(s, id, on, e);
		if (rc == 0)
			rc = vault_audit(v, a, "folder.update", f.contract_id, id, NULL, 0, 200, e);
		if (rc == 0)
			rc = s->ops->commit(s, e);
		else
			s->ops->rollback(s);
		f.specific_personal = on;
		if (rc == 0)
			rc = folder_info(v, &f, perms, true, out, e);
		store_folder_clear(&f);
	} else {
		s->ops->rollback(s);
	}
	vault_leave(v);
	return rc;
}

int vault_acl_set(struct vault *v, const struct vault_actor *a, const char *folder_id,
		  const char *user_id, unsigned perms, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	unsigned mine;
	enum store_role member, target;
	int rc;

	if (perms & ~(unsigned)PERM_ALL)
		return kinko_err_set(e, KINKO_EINVAL, "unknown permission bits");
	rc = s->ops->begin(s, e);
	if (rc)
		return rc;
	rc = vault_folder_visible(v, a, folder_id, &f, &mine, &member, e);
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	if (member != ROLE_MANAGER || a->role != ROLE_MANAGER)
		rc = kinko_err_set(e, KINKO_EPERM,
				   "only a manager of the contract may change folder access");
	if (rc == 0 && !store_id_valid(user_id))
		rc = kinko_err_set(e, KINKO_ENOENT, "no such user");
	if (rc == 0)
		rc = s->ops->member_role(s, f.contract_id, user_id, &target, e);
	if (rc == 0 && perms && target != ROLE_HANDLER && target != ROLE_MANAGER)
		rc = kinko_err_set(e, KINKO_EINVAL,
				   "designate the user as a handler of the contract first; only "
				   "handlers get folder access");
	if (rc == 0)
		rc = s->ops->acl_put(s, folder_id, user_id, perms, e);
	if (rc == 0)
		rc = vault_audit(v, a, "folder.acl", f.contract_id, folder_id, user_id, 0, 200, e);
	if (rc == 0)
		rc = s->ops->commit(s, e);
	else
		s->ops->rollback(s);
	store_folder_clear(&f);
	return rc;
}

int vault_acl_list(struct vault *v, const struct vault_actor *a, const char *folder_id,
		   store_acl_cb cb, void *ctx, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	unsigned mine;
	enum store_role member;
	int rc = s->ops->begin(s, e);

	if (rc)
		return rc;
	rc = vault_folder_visible(v, a, folder_id, &f, &mine, &member, e);
	if (rc == 0) {
		rc = s->ops->acl_list(s, folder_id, cb, ctx, e);
		store_folder_clear(&f);
	}
	s->ops->rollback(s);
	return rc;
}
