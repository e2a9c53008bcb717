/* Fail closed: when the audit log cannot be written (injected through the store's
 * operations table), the act it would record does not happen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/log.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "vault/vault.h"

static char dir[200], keyfile[256];
static struct store_ops broken;
static const struct store_ops *real;
static int insert_calls;

static int failing_insert(struct store *s, uint64_t seq, const void *d, size_t n,
			  struct kinko_err *e)
{
	(void)s;
	(void)seq;
	(void)d;
	(void)n;
	insert_calls++;
	return kinko_err_set(e, KINKO_EUNAVAIL, "store: append audit event: the disk is full");
}

static int setup(void **state)
{
	struct vault_init_opts o;
	struct vault_init_result r;
	struct kinko_err e;
	uint8_t key[32];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kinko-failclosed-%d", (int)getpid());
	snprintf(keyfile, sizeof keyfile, "%s.key", dir);
	kinko_random(key, sizeof key);
	f = fopen(keyfile, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(key, 1, 32, f), 32);
	fclose(f);
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.secret_kind = KEYRING_KEYFILE;
	o.secret = key;
	o.secret_len = 32;
	assert_int_equal(vault_init(&o, &r, &e), 0);
	/* The scanner has its own tests; here uploads go without clamd. */
	{
		char conf[300];
		snprintf(conf, sizeof conf, "%s/kinko.conf", dir);
		f = fopen(conf, "a");
		assert_non_null(f);
		fputs("\n[scan]\nrequired = false\n", f);
		fclose(f);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, keyfile);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_contracts(void *ctx, const struct vault_contract_info *c)
{
	(void)c;
	(*(int *)ctx)++;
	return 0;
}

static int count_objects(void *ctx, const struct vault_object_info *o)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

static unsigned files_in(const char *sub)
{
	char p[512];
	DIR *d;
	struct dirent *de;
	unsigned n = 0;

	snprintf(p, sizeof p, "%s/%s", dir, sub);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void writes_fail_and_change_nothing(void **state)
{
	struct vault *v;
	struct kinko_err e;
	struct vault_actor a;
	struct vault_login l;
	struct vault_contract_info c;
	struct vault_folder_info f;
	struct vault_upload *up;
	struct vault_object_info oi;
	struct store *s;
	uint64_t size_before, size_after;
	char token[VAULT_TOKEN_LEN + 1];
	bool alert;
	int n = 0;

	(void)state;
	assert_int_equal(vault_open(dir, &v, &e), 0);
	assert_int_equal(vault_unseal_keyfile(v, keyfile, &e), 0);
	s = vault_store(v);

	/* A working manager session, a contract and a folder, before the fault. */
	memset(&a, 0, sizeof a);
	memset(&l, 0, sizeof l);
	{
		/* Reset the admin's password through the domain, as a manager would. */
		struct vault_actor sys;
		struct vault_user_info u;
		struct vault_user_change ch;
		memset(&sys, 0, sizeof sys);
		sys.role = ROLE_MANAGER;
		assert_int_equal(vault_user_find(v, &(struct vault_actor){.role = ROLE_MANAGER},
						 "admin", &u, &e), 0);
		snprintf(sys.user_id, sizeof sys.user_id, "%s", u.id);
		memset(&ch, 0, sizeof ch);
		ch.password = "correct horse battery";
		assert_int_equal(vault_user_update(v, &sys, u.id, &ch, &u, &e), 0);
	}
	l.name = "admin";
	l.password = "correct horse battery";
	l.cert_fp = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	assert_int_equal(vault_login(v, &l, token, &a, &alert, &e), 0);
	assert_int_equal(vault_contract_create(v, &a, "before", &c, &e), 0);
	assert_int_equal(vault_folder_create(v, &a, c.id, "folder", &f, &e), 0);

	/* Now every audit append fails, as on a full disk. */
	real = s->ops;
	broken = *real;
	broken.audit_insert = failing_insert;
	s->ops = &broken;
	assert_int_equal(real->audit_size == broken.audit_size, 1);
	{
		struct store *rs = s;
		rs->ops = real;
		assert_int_equal(rs->ops->begin(rs, &e), 0);
		assert_int_equal(rs->ops->audit_size(rs, &size_before, &e), 0);
		rs->ops->rollback(rs);
		rs->ops = &broken;
	}

	insert_calls = 0;
	assert_int_equal(vault_contract_create(v, &a, "after", &c, &e), KINKO_EUNAVAIL);
	assert_non_null(strstr(e.msg, "audit log cannot be written"));
	assert_int_equal(vault_folder_create(v, &a, c.id, "folder2", &f, &e) != 0, 1);

	/* An upload streams, then fails at the commit: no row, no blob, no temp file. */
	assert_int_equal(vault_upload_begin(v, &a, f.id, "file.csv", &up, &e), 0);
	assert_int_equal(vault_upload_write(up, (const uint8_t *)"1,2,3\n", 6, &e), 0);
	assert_int_equal(vault_upload_finish(up, &oi, &e), KINKO_EUNAVAIL);

	/* A login cannot happen unaudited either. */
	assert_int_equal(vault_login(v, &l, token, &a, &alert, &e), KINKO_EUNAVAIL);
	assert_true(insert_calls >= 3);

	s->ops = real;
	assert_int_equal(vault_contract_list(v, &a, NULL, 100, count_contracts, &n, &e), 0);
	assert_int_equal(n, 1); /* only "before" */
	n = 0;
	assert_int_equal(vault_object_list(v, &a, f.id, 0, 100, count_objects, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(files_in("blobs/tmp"), 0);
	{
		char cmd[400], out[32] = "";
		FILE *pf;
		snprintf(cmd, sizeof cmd, "find '%s/blobs' -type f | wc -l", dir);
		pf = popen(cmd, "r");
		assert_non_null(pf);
		assert_non_null(fgets(out, sizeof out, pf));
		pclose(pf);
		assert_string_equal(out, "0\n"); /* the refused upload left no blob */
	}
	assert_int_equal(s->ops->begin(s, &e), 0);
	assert_int_equal(s->ops->audit_size(s, &size_after, &e), 0);
	s->ops->rollback(s);
	assert_int_equal(size_after, size_before);
	{
		uint64_t events, cps;
		assert_int_equal(vault_log_verify(v, &events, &cps, &e), 0);
		assert_int_equal(events, size_after);
	}
	vault_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_fail_and_change_nothing),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
