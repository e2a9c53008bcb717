/*
 * The vault: the access decision as a truth table, name checks, and the domain end
 * to end on a temporary data directory (key-file secret): contracts, folders,
 * streamed uploads and ranged downloads, tamper and truncation detection, garbage
 * collection, sealing, logins, lockout and sessions. Store faults are injected by
 * pointing the store at a copy of its operations table with one entry replaced:
 * a failed act must change nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/parse.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "crypto/objstream.h"
#include "vault/vault_internal.h"

/* ---------------------------------------------------------------- fixture */

static char root[256];
static char dir[512];
static uint8_t keyfile_secret[32];
static struct vault *V;
static struct vault_actor admin;   /* the first manager */
static struct vault_actor handler; /* a handler account, designated in the contract */
static char handler_pw[64];
static struct vault_contract_info contract;
static struct vault_folder_info folder;
static struct sockaddr_in loopback;

#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const struct sockaddr *lo(void)
{
	return (const struct sockaddr *)&loopback;
}

static int group_setup(void **state)
{
	struct vault_init_opts o;
	struct vault_init_result r;
	struct vault_user_new n;
	struct vault_user_info info;
	struct kinko_err e;
	(void)state;

	snprintf(root, sizeof root, "/tmp/kinko-test-vault-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(dir, sizeof dir, "%s/data", root);
	kinko_random(keyfile_secret, sizeof keyfile_secret);
	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.secret_kind = KEYRING_KEYFILE;
	o.secret = keyfile_secret;
	o.secret_len = sizeof keyfile_secret;
	if (vault_init(&o, &r, &e)) {
		fprintf(stderr, "vault_init: %s\n", e.msg);
		return -1;
	}
	/* Virus scanning has its own tests (and needs clamd); these are about storage. */
	{
		char conf[600];
		FILE *f;
		snprintf(conf, sizeof conf, "%s/kinko.conf", dir);
		f = fopen(conf, "a");
		if (!f || fputs("\n[scan]\nrequired = false\n", f) < 0 || fclose(f) != 0)
			return -1;
	}
	if (vault_open(dir, &V, &e) || vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, 32, &e)) {
		fprintf(stderr, "vault_open/unseal: %s\n", e.msg);
		return -1;
	}
	memset(&admin, 0, sizeof admin);
	memcpy(admin.user_id, r.manager_id, sizeof admin.user_id);
	snprintf(admin.user_name, sizeof admin.user_name, "admin");
	admin.role = ROLE_MANAGER;
	snprintf(admin.cert_fp, sizeof admin.cert_fp, FP_A);

	snprintf(handler_pw, sizeof handler_pw, "correct horse battery");
	memset(&n, 0, sizeof n);
	n.name = "hana";
	n.role = ROLE_HANDLER;
	n.password = handler_pw;
	if (vault_user_create(V, &admin, &n, &info, NULL, &e)) {
		fprintf(stderr, "user create: %s\n", e.msg);
		return -1;
	}
	memset(&handler, 0, sizeof handler);
	memcpy(handler.user_id, info.id, sizeof handler.user_id);
	snprintf(handler.user_name, sizeof handler.user_name, "hana");
	handler.role = ROLE_HANDLER;

	if (vault_contract_create(V, &admin, "契約 A", &contract, &e) ||
	    vault_folder_create(V, &admin, contract.id, "受付", &folder, &e) ||
	    vault_member_set(V, &admin, contract.id, handler.user_id, ROLE_HANDLER, &e) ||
	    vault_acl_set(V, &admin, folder.id, handler.user_id, PERM_READ | PERM_WRITE, &e)) {
		fprintf(stderr, "domain setup: %s\n", e.msg);
		return -1;
	}
	memset(&loopback, 0, sizeof loopback);
	loopback.sin_family = AF_INET;
	loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[600];
	(void)state;
	vault_close(V);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- helpers */

/* Files under blobs/ (recursively, including blobs/tmp). */
static int count_blob_files(void)
{
	char p[1024];
	DIR *top, *d;
	struct dirent *de, *f;
	int n = 0;

	snprintf(p, sizeof p, "%s/blobs", dir);
	top = opendir(p);
	assert_non_null(top);
	while ((de = readdir(top))) {
		char sub[1400];
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", p, de->d_name);
		d = opendir(sub);
		if (!d) {
			n++;
			continue;
		}
		while ((f = readdir(d)))
			if (f->d_name[0] != '.')
				n++;
		closedir(d);
	}
	closedir(top);
	return n;
}

static int64_t db_count(const char *sql)
{
	char p[1024];
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	snprintf(p, sizeof p, "%s/kinko.db", dir);
	assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static uint8_t *pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

/* Uploads data with a cycle of awkward write sizes. */
static int upload(const struct vault_actor *a, const char *name, const uint8_t *data, size_t n,
		  struct vault_object_info *out, struct kinko_err *e)
{
	static const size_t sizes[] = {1, 1, 65535, 1, 65537, 3, 131072, 7, 1000000};
	struct vault_upload *u;
	size_t off = 0, k = 0;
	int rc = vault_upload_begin(V, a, folder.id, name, &u, e);

	if (rc)
		return rc;
	while (off < n) {
		size_t w = sizes[k++ % (sizeof sizes / sizeof sizes[0])];
		if (w > n - off)
			w = n - off;
		rc = vault_upload_write(u, data + off, w, e);
		if (rc) {
			vault_upload_abort(u);
			return rc;
		}
		off += w;
	}
	return vault_upload_finish(u, out, e);
}

/* Reads [off, off+len) through vault_download_read, however many calls it takes. */
static int read_range(struct vault_download *d, uint64_t off, uint8_t *buf, size_t len,
		      size_t *got_total, struct kinko_err *e)
{
	size_t done = 0;

	while (done < len) {
		size_t got = 0;
		int rc = vault_download_read(d, off + done, buf + done, len - done, &got, e);
		if (rc)
			return rc;
		if (got == 0)
			break;
		done += got;
	}
	*got_total = done;
	return 0;
}

static void blob_path(const char *id, char *out, size_t cap)
{
	snprintf(out, cap, "%s/blobs/%.2s/%s", dir, id, id);
}

/* ---------------------------------------------------------------- decision */

/* The rules, stated independently of the implementation. */
static unsigned expected_perms(enum store_role account, enum store_role member, unsigned acl)
{
	/* Separation of duties: operators and auditors never reach content. */
	if (account == ROLE_OPERATOR || account == ROLE_AUDITOR)
		return 0;
	/* A manager account managing the contract may do everything. */
	if (account == ROLE_MANAGER && member == ROLE_MANAGER)
		return PERM_ALL;
	/* Handlers (and managers' accounts acting as handlers) get what the ACL grants. */
	if (member == ROLE_HANDLER || member == ROLE_MANAGER)
		return acl & PERM_ALL;
	/* Non-members and the contract's auditors get nothing, whatever the ACL says. */
	return 0;
}

static void decision_truth_table(void **state)
{
	unsigned checked = 0;
	(void)state;

	for (int a = ROLE_NONE; a <= ROLE_OPERATOR; a++)
		for (int m = ROLE_NONE; m <= ROLE_OPERATOR; m++)
			for (unsigned acl = 0; acl < 32; acl++) {
				unsigned want = expected_perms((enum store_role)a, (enum store_role)m, acl);
				unsigned got = vault_perms((enum store_role)a, (enum store_role)m, acl);
				if (got != want)
					fail_msg("vault_perms(%d, %d, %u) = %u, expected %u", a, m, acl,
						 got, want);
				for (unsigned w = 0; w < 32; w++) {
					bool may = vault_may((enum store_role)a, (enum store_role)m, acl, w);
					bool exp = w != 0 && (w & ~want) == 0;
					if (may != exp)
						fail_msg("vault_may(%d, %d, %u, %u) = %d", a, m, acl, w, may);
					checked++;
				}
			}
	assert_int_equal(checked, 5 * 5 * 32 * 32);

	/* The cases a reader of the checklist looks for, spelled out. */
	assert_true(vault_may(ROLE_MANAGER, ROLE_MANAGER, 0, PERM_ERASE));
	assert_false(vault_may(ROLE_MANAGER, ROLE_NONE, PERM_ALL, PERM_READ));
	assert_false(vault_may(ROLE_AUDITOR, ROLE_AUDITOR, PERM_ALL, PERM_READ));
	assert_false(vault_may(ROLE_OPERATOR, ROLE_MANAGER, PERM_ALL, PERM_READ));
	assert_true(vault_may(ROLE_HANDLER, ROLE_HANDLER, PERM_READ, PERM_READ));
	assert_false(vault_may(ROLE_HANDLER, ROLE_HANDLER, PERM_READ, PERM_READ | PERM_WRITE));
	assert_false(vault_may(ROLE_HANDLER, ROLE_HANDLER, PERM_ALL, 0));
	assert_false(vault_may(ROLE_HANDLER, ROLE_HANDLER, PERM_ALL, 16)); /* unknown bit */
	assert_int_equal(vault_perms(ROLE_HANDLER, ROLE_HANDLER, 0xff), PERM_ALL);
}

/* ---------------------------------------------------------------- names */

static void name_check(void **state)
{
	struct kinko_err e;
	char buf[512];
	(void)state;

#define OK(s) assert_int_equal(vault_name_check((s), strlen(s), &e), 0)
#define BAD(s)                                                                 \
	do {                                                                   \
		int rc_ = vault_name_check((s), strlen(s), &e);                \
		if (rc_ != KINKO_EINVAL)                                       \
			fail_msg("name '%s' gave %d, expected KINKO_EINVAL", (s), rc_); \
	} while (0)
	OK("a");
	OK("report.pdf");
	OK("契約書 2026年度.xlsx");
	OK("caf\xc3\xa9"); /* é precomposed (NFC) */
	OK("...");
	OK(".hidden");
	OK("a..b");
	OK("ｶﾀｶﾅ"); /* half-width stays half-width in NFC */
	OK("\xea\xb0\x80"); /* 가, precomposed */
	OK("name with spaces and (brackets) [1] {2} 'q' \"dq\" + & % # ~");

	/* Not NFC: e + combining acute (as macOS writes), Hangul as conjoining jamo. */
	BAD("cafe\xcc\x81");
	assert_non_null(strstr(e.msg, "NFC"));
	BAD("\xe1\x84\x80\xe1\x85\xa1");
	BAD("\xe3\x81\x8b\xe3\x82\x99"); /* か + combining dakuten, NFC is が */
	/* Separators and dot names. */
	BAD("/");
	BAD("a/b");
	BAD("a\\b");
	BAD("/etc/passwd");
	BAD(".");
	BAD("..");
	/* Control characters, including NUL within the given length. */
	BAD("a\tb");
	BAD("a\nb");
	BAD("\x01");
	BAD("x\x1f");
	BAD("x\x7f");
	assert_int_equal(vault_name_check("a\0b", 3, &e), KINKO_EINVAL);
	/* Invalid UTF-8: stray byte, truncated sequence, overlong '/', surrogate,
	 * beyond U+10FFFF. */
	BAD("\xff");
	BAD("abc\xc3");
	BAD("\xc0\xaf");
	BAD("\xe0\x80\xaf");
	BAD("\xed\xa0\x80");
	BAD("\xf4\x90\x80\x80");
	/* Length: 1..255 bytes, counted in bytes, not characters. */
	assert_int_equal(vault_name_check("", 0, &e), KINKO_EINVAL);
	memset(buf, 'x', 256);
	assert_int_equal(vault_name_check(buf, 255, &e), 0);
	assert_int_equal(vault_name_check(buf, 256, &e), KINKO_EINVAL);
	for (int i = 0; i < 85; i++)
		memcpy(buf + 3 * i, "\xe3\x81\x82", 3); /* あ */
	assert_int_equal(vault_name_check(buf, 255, &e), 0);
	memcpy(buf + 255, "\xe3\x81\x82", 3);
	assert_int_equal(vault_name_check(buf, 258, &e), KINKO_EINVAL);
	/* A multi-byte character cut by the length is invalid UTF-8. */
	assert_int_equal(vault_name_check(buf, 254, &e), KINKO_EINVAL);
	/* C1 controls and text-direction overrides disguise names. */
	BAD("report\xc2\x85.csv");          /* U+0085 NEL */
	BAD("invoice\xe2\x80\xaetxt.exe");  /* U+202E RIGHT-TO-LEFT OVERRIDE */
	BAD("a\xe2\x81\xa6" "b");              /* U+2066 LEFT-TO-RIGHT ISOLATE */
	BAD("a\xd8\x9c" "b");                  /* U+061C ARABIC LETTER MARK */
	OK("a\xe2\x80\x94" "b");               /* U+2014 EM DASH is fine */
#undef OK
#undef BAD

	/* Contract names: the same disguises are refused, and nothing is created. */
	{
		static const char *const bad[] = {"契約\xe2\x80\xae" "B", "x\xc2\x9b", "a\x01",
						  "\xe2\x81\xa9", ""};
		struct vault_contract_info c;
		int64_t before = db_count("SELECT count(*) FROM contracts");
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
			if (vault_contract_create(V, &admin, bad[i], &c, &e) != KINKO_EINVAL)
				fail_msg("contract name %zu was taken", i);
		assert_int_equal(db_count("SELECT count(*) FROM contracts"), before);
		assert_int_equal(vault_contract_create(V, &admin, "令和8年度/住民税通知", &c, &e), 0);
	}
}

/* ---------------------------------------------------------------- objects */

static void upload_download_round_trip(void **state)
{
	static const size_t sizes[] = {
		0, 1, 65535, 65536, 65537, 8 * 65536, 8 * 65536 + 1, 3 * 1024 * 1024 + 12345,
	};
	(void)state;

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		uint8_t *data = pattern(n, (uint32_t)i + 1);
		uint8_t *back = malloc(n + 100);
		uint8_t digest[32];
		struct vault_object_info info, dinfo, st;
		struct vault_download *d;
		struct kinko_err e;
		char name[64];
		size_t got;

		assert_non_null(back);
		snprintf(name, sizeof name, "object-%zu.bin", n);
		if (upload(&handler, name, data, n, &info, &e))
			fail_msg("upload %zu: %s", n, e.msg);
		assert_int_equal(info.size, n);
		assert_string_equal(info.name, name);
		assert_string_equal(info.folder_id, folder.id);
		assert_int_equal(kinko_sha256(data, n, digest), 0);
		assert_memory_equal(info.sha256, digest, 32);

		assert_int_equal(vault_object_stat(V, &handler, info.id, &st, &e), 0);
		assert_string_equal(st.name, name);
		assert_int_equal(st.size, n);

		/* Whole object, in one call per buffer. */
		assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e), 0);
		assert_int_equal(dinfo.size, n);
		assert_string_equal(dinfo.name, name);
		assert_int_equal(read_range(d, 0, back, n + 100, &got, &e), 0);
		assert_int_equal(got, n);
		assert_memory_equal(back, data, n);
		/* At and past the end: nothing. */
		assert_int_equal(vault_download_read(d, n, back, 10, &got, &e), 0);
		assert_int_equal(got, 0);
		assert_int_equal(vault_download_read(d, n + 12345, back, 10, &got, &e), 0);
		assert_int_equal(got, 0);

		/* Range-like reads at random offsets, backwards and forwards. */
		for (int k = 0; n > 0 && k < 40; k++) {
			uint64_t off = kinko_random_uniform((uint32_t)n);
			size_t len = 1 + kinko_random_uniform(k % 4 == 0 ? 300000 : 5000);
			size_t want = len > n - off ? (size_t)(n - off) : len;
			memset(back, 0, want);
			if (read_range(d, off, back, len, &got, &e))
				fail_msg("read %zu at %llu of %zu: %s", len, (unsigned long long)off, n,
					 e.msg);
			assert_int_equal(got, want);
			assert_memory_equal(back, data + off, want);
		}
		/* The last byte alone, and a read that starts on a chunk boundary. */
		if (n > 0) {
			assert_int_equal(read_range(d, n - 1, back, 1, &got, &e), 0);
			assert_int_equal(got, 1);
			assert_int_equal(back[0], data[n - 1]);
		}
		if (n > 65536) {
			size_t want = n - 65536 < 10 ? n - 65536 : 10;
			assert_int_equal(read_range(d, 65536, back, 10, &got, &e), 0);
			assert_int_equal(got, want);
			assert_memory_equal(back, data + 65536, want);
		}
		vault_download_close(d);
		free(data);
		free(back);
	}
	vault_download_close(NULL);
	vault_upload_abort(NULL);
}

static void upload_refusals(void **state)
{
	struct vault_upload *u = NULL;
	struct vault_object_info info;
	struct kinko_err e;
	struct vault_actor stranger;
	uint8_t byte = 1;
	int files = count_blob_files();
	uint64_t max = V->cfg.max_body_bytes;
	int64_t rows = db_count("SELECT count(*) FROM objects");
	(void)state;

	assert_int_equal(upload(&handler, "dup.txt", &byte, 1, &info, &e), 0);
	files++;
	/* The same name again in the folder. */
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "dup.txt", &u, &e), KINKO_EEXIST);
	assert_null(u);
	/* Bad names, unknown folders, and people without write access. */
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "a/b", &u, &e), KINKO_EINVAL);
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "..", &u, &e), KINKO_EINVAL);
	assert_int_equal(vault_upload_begin(V, &handler, "not-an-id", "x", &u, &e), KINKO_ENOENT);
	assert_int_equal(vault_upload_begin(V, &handler, contract.id, "x", &u, &e), KINKO_ENOENT);
	stranger = handler;
	store_new_id(stranger.user_id);
	assert_int_equal(vault_upload_begin(V, &stranger, folder.id, "x", &u, &e), KINKO_ENOENT);
	assert_int_equal(vault_acl_set(V, &admin, folder.id, handler.user_id, PERM_READ, &e), 0);
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "x", &u, &e), KINKO_EPERM);
	/* Write access withdrawn while the content streams: refused at finish. */
	assert_int_equal(vault_acl_set(V, &admin, folder.id, handler.user_id, PERM_READ | PERM_WRITE,
				       &e),
			 0);
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "late.txt", &u, &e), 0);
	assert_int_equal(vault_upload_write(u, &byte, 1, &e), 0);
	assert_int_equal(vault_acl_set(V, &admin, folder.id, handler.user_id, PERM_READ, &e), 0);
	assert_int_equal(vault_upload_finish(u, &info, &e), KINKO_EPERM);
	assert_int_equal(vault_acl_set(V, &admin, folder.id, handler.user_id, PERM_READ | PERM_WRITE,
				       &e),
			 0);
	/* Larger than max_body_bytes: refused while writing, nothing kept. */
	V->cfg.max_body_bytes = 100000;
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "big.bin", &u, &e), 0);
	{
		uint8_t *data = pattern(100001, 9);
		assert_int_equal(vault_upload_write(u, data, 100000, &e), 0);
		assert_int_equal(vault_upload_write(u, data, 1, &e), KINKO_ELIMIT);
		free(data);
	}
	vault_upload_abort(u);
	V->cfg.max_body_bytes = max;
	/* An aborted upload leaves nothing behind. */
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "aborted.bin", &u, &e), 0);
	{
		uint8_t *data = pattern(700000, 10);
		assert_int_equal(vault_upload_write(u, data, 700000, &e), 0);
		free(data);
	}
	vault_upload_abort(u);
	assert_int_equal(count_blob_files(), files);
	assert_int_equal(db_count("SELECT count(*) FROM objects"), rows + 1); /* dup.txt only */
}

static void tamper_and_truncate(void **state)
{
	struct vault_object_info info, dinfo;
	struct vault_download *d;
	struct kinko_err e;
	char path[1024];
	size_t n = 300000, got;
	uint8_t *data = pattern(n, 77), *back = malloc(n);
	int fd;
	uint8_t c;
	(void)state;

	assert_non_null(back);
	assert_int_equal(upload(&handler, "tamper.bin", data, n, &info, &e), 0);
	blob_path(info.id, path, sizeof path);

	/* One flipped byte in the second chunk's ciphertext. */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, 64 + 65536 + 16 + 100), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, 64 + 65536 + 16 + 100), 1);
	assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e), 0);
	assert_int_equal(read_range(d, 0, back, n, &got, &e), KINKO_EINTEGRITY);
	assert_non_null(strstr(e.msg, "altered"));
	/* And at an offset inside the damaged chunk. */
	assert_int_equal(read_range(d, 70000, back, 10, &got, &e), KINKO_EINTEGRITY);
	vault_download_close(d);
	/* Restored, it reads again (the failure was the byte, nothing else). */
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, 64 + 65536 + 16 + 100), 1);
	assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e), 0);
	assert_int_equal(read_range(d, 0, back, n, &got, &e), 0);
	assert_memory_equal(back, data, n);
	vault_download_close(d);

	/* The last chunk's tag. */
	{
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(pread(fd, &c, 1, st.st_size - 1), 1);
		c ^= 0x80;
		assert_int_equal(pwrite(fd, &c, 1, st.st_size - 1), 1);
		assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e), 0);
		assert_int_equal(read_range(d, n - 10, back, 10, &got, &e), KINKO_EINTEGRITY);
		vault_download_close(d);
		c ^= 0x80;
		assert_int_equal(pwrite(fd, &c, 1, st.st_size - 1), 1);
	}

	/* The header (it names the object). */
	assert_int_equal(pread(fd, &c, 1, 20), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, 20), 1);
	assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e), KINKO_EINTEGRITY);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, 20), 1);

	/* Truncated by one byte, and to the header only. */
	{
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(ftruncate(fd, st.st_size - 1), 0);
		assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e),
				 KINKO_EINTEGRITY);
		assert_non_null(strstr(e.msg, "cut short"));
		assert_int_equal(ftruncate(fd, 64), 0);
		assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e),
				 KINKO_EINTEGRITY);
	}
	close(fd);
	/* Missing altogether. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e), KINKO_EINTEGRITY);
	/* The row can still be deleted. */
	assert_int_equal(vault_object_delete(V, &handler, info.id, &e), 0);
	assert_int_equal(vault_object_stat(V, &handler, info.id, &dinfo, &e), KINKO_ENOENT);
	free(data);
	free(back);
}

static void garbage_collection(void **state)
{
	struct vault_object_info keep;
	struct vault_download *d;
	struct vault_object_info dinfo;
	struct kinko_err e;
	char orphan_id[STORE_ID_LEN], p[1200], sub[1024];
	uint8_t *data = pattern(5000, 5);
	unsigned removed = 99;
	int before, fd;
	(void)state;

	assert_int_equal(upload(&handler, "keep.bin", data, 5000, &keep, &e), 0);
	/* A clean store has nothing to collect. */
	assert_int_equal(vault_collect_garbage(V, &removed, &e), 0);
	assert_int_equal(removed, 0);
	before = count_blob_files();

	/* An orphan blob (as a crash between rename and commit leaves), and a
	 * leftover partial upload. */
	store_new_id(orphan_id);
	snprintf(sub, sizeof sub, "%s/blobs/%.2s", dir, orphan_id);
	(void)mkdir(sub, 0700);
	snprintf(p, sizeof p, "%s/%s", sub, orphan_id);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "orphan", 6), 6);
	close(fd);
	snprintf(p, sizeof p, "%s/blobs/tmp/%s.part", dir, orphan_id);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(count_blob_files(), before + 2);

	assert_int_equal(vault_collect_garbage(V, &removed, &e), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(count_blob_files(), before);
	snprintf(p, sizeof p, "%s/%s", sub, orphan_id);
	assert_int_equal(access(p, F_OK), -1);
	/* Every referenced blob survived: the kept object still reads. */
	assert_int_equal(db_count("SELECT count(*) FROM objects"), before);
	assert_int_equal(vault_download_open(V, &handler, keep.id, &dinfo, &d, &e), 0);
	{
		uint8_t back[5000];
		size_t got;
		assert_int_equal(read_range(d, 0, back, sizeof back, &got, &e), 0);
		assert_int_equal(got, 5000);
		assert_memory_equal(back, data, 5000);
	}
	vault_download_close(d);
	/* Links are never followed: a directory link in blobs/ and a file link in a
	 * blob directory survive, and so do the files they point to. */
	{
		char victim[1024], lnk[1200], f1[1200];
		snprintf(victim, sizeof victim, "%s/elsewhere", root);
		assert_int_equal(mkdir(victim, 0700), 0);
		snprintf(f1, sizeof f1, "%s/%s", victim, orphan_id);
		fd = open(f1, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
		snprintf(lnk, sizeof lnk, "%s/blobs/zz", dir);
		assert_int_equal(symlink(victim, lnk), 0);
		snprintf(p, sizeof p, "%s/%s", sub, orphan_id);
		assert_int_equal(symlink(f1, p), 0);
		assert_int_equal(vault_collect_garbage(V, &removed, &e), 0);
		assert_int_equal(removed, 0);
		assert_int_equal(access(f1, F_OK), 0);
		assert_int_equal(unlink(p), 0);
		assert_int_equal(unlink(lnk), 0);
		assert_int_equal(unlink(f1), 0);
		assert_int_equal(rmdir(victim), 0);
	}
	free(data);
}

static void sealed_refuses(void **state)
{
	struct vault_folder_info f;
	struct vault_upload *u = NULL;
	struct vault_download *d = NULL;
	struct vault_object_info info;
	struct vault_login l;
	struct vault_actor who;
	struct kinko_err e;
	char token[VAULT_TOKEN_LEN + 1], kf[1024], hex[65];
	bool alert;
	uint8_t wrong[32];
	uint8_t byte = 7;
	FILE *fp;
	(void)state;

	assert_int_equal(upload(&handler, "before-seal.txt", &byte, 1, &info, &e), 0);
	assert_false(vault_is_sealed(V));
	vault_seal(V);
	assert_true(vault_is_sealed(V));
	assert_int_equal(vault_folder_create(V, &admin, contract.id, "sealed", &f, &e), KINKO_ESEALED);
	assert_non_null(strstr(e.msg, "sealed"));
	assert_int_equal(vault_upload_begin(V, &handler, folder.id, "x", &u, &e), KINKO_ESEALED);
	assert_null(u);
	assert_int_equal(vault_download_open(V, &handler, info.id, &info, &d, &e), KINKO_ESEALED);
	assert_null(d);
	assert_int_equal(vault_object_stat(V, &handler, info.id, &info, &e), KINKO_ESEALED);
	assert_int_equal(vault_folder_get(V, &admin, folder.id, &f, &e), KINKO_ESEALED);
	memset(&l, 0, sizeof l);
	l.name = "hana";
	l.password = handler_pw;
	l.addr = lo();
	l.cert_fp = FP_A;
	memset(&who, 0, sizeof who);
	assert_int_equal(vault_login(V, &l, token, &who, &alert, &e), KINKO_ESEALED);

	/* A wrong key leaves it sealed; a key file that is not one is refused. */
	kinko_random(wrong, sizeof wrong);
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, wrong, sizeof wrong, &e), KINKO_EAUTH);
	assert_true(vault_is_sealed(V));
	assert_int_not_equal(vault_unseal(V, KEYRING_KEYFILE, wrong, 31, &e), 0);
	assert_int_not_equal(vault_unseal(V, KEYRING_PASSPHRASE, keyfile_secret, 32, &e), 0);
	assert_true(vault_is_sealed(V));

	/* The right key, from a key file in hex. */
	format_hex(keyfile_secret, 32, hex);
	snprintf(kf, sizeof kf, "%s/key.hex", root);
	fp = fopen(kf, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\n", hex);
	fclose(fp);
	assert_int_equal(vault_unseal_keyfile(V, kf, &e), 0);
	assert_false(vault_is_sealed(V));
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, 32, &e), KINKO_ECONFLICT);
	assert_int_equal(vault_object_stat(V, &handler, info.id, &info, &e), 0);
	snprintf(kf, sizeof kf, "%s/absent.key", root);
	assert_int_equal(vault_unseal_keyfile(V, kf, &e), KINKO_EIO);
}

/* ---------------------------------------------------------------- logins */

static int login(const char *name, const char *pw, const char *fp, char token[65],
		 struct vault_actor *who, bool *alert, struct kinko_err *e)
{
	struct vault_login l;

	int rc;

	memset(&l, 0, sizeof l);
	l.name = name;
	l.password = pw;
	l.addr = lo();
	l.cert_fp = fp;
	/* The actor carries the request's context in (none here). */
	memset(who, 0, sizeof *who);
	rc = vault_login(V, &l, token, who, alert, e);
	if (rc == KINKO_EUNAVAIL)
		print_message("login: %s\n", e->msg);
	return rc;
}

static void login_and_sessions(void **state)
{
	struct vault_actor who;
	struct kinko_err e;
	char token[VAULT_TOKEN_LEN + 1], other[VAULT_TOKEN_LEN + 1];
	bool alert = true;
	(void)state;

	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), 0);
	assert_false(alert);
	assert_int_equal(strlen(token), VAULT_TOKEN_LEN);
	assert_string_equal(who.user_id, handler.user_id);
	assert_int_equal(who.role, ROLE_HANDLER);
	/* The store keeps only the token's hash. */
	{
		char sql[256], hex[65];
		uint8_t h[32];
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM sessions WHERE hex(token_hash) = upper('%s')", token);
		assert_int_equal(db_count(sql), 0);
		assert_int_equal(kinko_sha256(token, strlen(token), h), 0);
		format_hex(h, 32, hex);
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM sessions WHERE hex(token_hash) = upper('%s')", hex);
		assert_int_equal(db_count(sql), 1);
	}

	memset(&who, 0, sizeof who);
	assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);
	assert_string_equal(who.user_id, handler.user_id);
	assert_string_equal(who.cert_fp, FP_A);
	/* Bound to the client certificate it was issued to. */
	assert_int_equal(vault_session_check(V, token, FP_B, lo(), &who, &e), KINKO_EAUTH);
	assert_non_null(strstr(e.msg, "another client certificate"));
	assert_int_equal(vault_session_check(V, token, NULL, lo(), &who, &e), KINKO_EAUTH);
	assert_int_equal(vault_session_check(V, token, "", lo(), &who, &e), KINKO_EAUTH);
	assert_int_equal(vault_session_check(V, token, FP_A "a", lo(), &who, &e), KINKO_EAUTH);
	/* Malformed and unknown tokens. */
	assert_int_equal(vault_session_check(V, NULL, FP_A, lo(), &who, &e), KINKO_EAUTH);
	assert_int_equal(vault_session_check(V, "abc", FP_A, lo(), &who, &e), KINKO_EAUTH);
	memcpy(other, token, sizeof other);
	other[0] = other[0] == 'a' ? 'b' : 'a';
	assert_int_equal(vault_session_check(V, other, FP_A, lo(), &who, &e), KINKO_EAUTH);
	other[0] = 'A'; /* upper case is not the token's syntax */
	assert_int_equal(vault_session_check(V, other, FP_A, lo(), &who, &e), KINKO_EAUTH);
	/* Still valid with the right certificate after all that. */
	assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);

	/* Activity is written back at most every 15 s: a session seen 5 s ago is left
	 * alone (no write), one seen 20 s ago is moved to now. */
	{
		uint8_t h[32];
		struct store *s = V->store;
		struct store_session ss;
		int64_t now = vault_now();
		assert_int_equal(kinko_sha256(token, strlen(token), h), 0);
		for (int age = 5; age <= 20; age += 15) {
			assert_int_equal(s->ops->begin(s, &e), 0);
			assert_int_equal(s->ops->session_touch(s, h, now - age, &e), 0);
			assert_int_equal(s->ops->commit(s, &e), 0);
			assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);
			assert_int_equal(s->ops->begin(s, &e), 0);
			assert_int_equal(s->ops->session_get(s, h, &ss, &e), 0);
			s->ops->rollback(s);
			if (age == 5)
				assert_int_equal(ss.last_seen, now - 5);
			else
				assert_true(ss.last_seen >= now);
		}
	}

	/* Idle expiry: age the session in the store past session_idle_seconds. */
	{
		uint8_t h[32];
		struct store *s = V->store;
		assert_int_equal(kinko_sha256(token, strlen(token), h), 0);
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_equal(s->ops->session_touch(s, h, vault_now() -
							     (int64_t)V->cfg.session_idle_seconds - 5,
						       &e),
				 0);
		assert_int_equal(s->ops->commit(s, &e), 0);
		assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), KINKO_EAUTH);
		assert_non_null(strstr(e.msg, "expired"));
		/* An expired session is removed, not only refused. */
		assert_int_equal(s->ops->session_get(s, h, &(struct store_session){0}, &e), KINKO_EAUTH);
	}

	/* Absolute expiry: a session in use all along still ends session_max_seconds
	 * after login (aged by writing its row again through the store, as plain SQL
	 * would leave a row that does not authenticate). */
	{
		uint8_t h[32];
		struct store *s = V->store;
		struct store_session ss;
		assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), 0);
		assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);
		assert_int_equal(kinko_sha256(token, strlen(token), h), 0);
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_equal(s->ops->session_get(s, h, &ss, &e), 0);
		assert_int_equal(s->ops->session_delete(s, h, &e), 0);
		ss.created_at -= (int64_t)V->cfg.session_max_seconds + 5;
		assert_int_equal(s->ops->session_insert(s, &ss, &e), 0);
		assert_int_equal(s->ops->commit(s, &e), 0);
		assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), KINKO_EAUTH);
		assert_non_null(strstr(e.msg, "expired"));
	}

	/* Logout ends the session. */
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), 0);
	assert_int_equal(login("hana", handler_pw, FP_B, other, &who, &alert, &e), 0);
	assert_string_not_equal(token, other);
	assert_int_equal(vault_logout(V, &handler, token, &e), 0);
	assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), KINKO_EAUTH);
	assert_int_equal(vault_logout(V, &handler, "junk", &e), KINKO_EAUTH);
	/* ... only that one. */
	assert_int_equal(vault_session_check(V, other, FP_B, lo(), &who, &e), 0);

	/* A disabled account's sessions stop working. */
	{
		bool yes = true, no = false;
		struct vault_user_change c = {.disabled = &yes};
		struct vault_user_info info;
		assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &info, &e), 0);
		assert_int_equal(vault_session_check(V, other, FP_B, lo(), &who, &e), KINKO_EAUTH);
		assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), KINKO_EAUTH);
		c.disabled = &no;
		c.unlock = true;
		assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &info, &e), 0);
	}
	/* Unknown user and wrong password give the same answer. */
	assert_int_equal(login("nobody", handler_pw, FP_A, token, &who, &alert, &e), KINKO_EAUTH);
	{
		char msg[sizeof e.msg];
		snprintf(msg, sizeof msg, "%s", e.msg);
		assert_int_equal(login("hana", "wrong password!", FP_A, token, &who, &alert, &e),
				 KINKO_EAUTH);
		assert_string_equal(e.msg, msg);
	}
	assert_int_equal(login(NULL, handler_pw, FP_A, token, &who, &alert, &e), KINKO_EAUTH);
	{
		struct vault_user_change c = {.unlock = true};
		struct vault_user_info info;
		assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &info, &e), 0);
	}
}

/* One manager cannot set another manager's password (and so act in their name);
 * they can still disable the account, and each manager sets their own. */
static void manager_password_is_their_own(void **state)
{
	struct vault_user_new n;
	struct vault_user_info boss, info;
	struct vault_actor boss_actor;
	struct kinko_err e;
	char pw[] = "another long password";
	bool yes = true, no = false;
	(void)state;

	memset(&n, 0, sizeof n);
	n.name = "boss2";
	n.role = ROLE_MANAGER;
	n.password = pw;
	assert_int_equal(vault_user_create(V, &admin, &n, &boss, NULL, &e), 0);
	{
		struct vault_user_change c = {.password = "taken over password"};
		assert_int_equal(vault_user_update(V, &admin, boss.id, &c, &info, &e), KINKO_EPERM);
		assert_non_null(strstr(e.msg, "their own password"));
		/* A handler's password stays a manager's to reset. */
		c.password = "a handler's new password";
		assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &info, &e), 0);
		snprintf(handler_pw, sizeof handler_pw, "%s", c.password);
	}
	{
		struct vault_user_change c = {.disabled = &yes};
		assert_int_equal(vault_user_update(V, &admin, boss.id, &c, &info, &e), 0);
		c.disabled = &no;
		assert_int_equal(vault_user_update(V, &admin, boss.id, &c, &info, &e), 0);
	}
	memset(&boss_actor, 0, sizeof boss_actor);
	memcpy(boss_actor.user_id, boss.id, sizeof boss_actor.user_id);
	snprintf(boss_actor.user_name, sizeof boss_actor.user_name, "boss2");
	boss_actor.role = ROLE_MANAGER;
	{
		struct vault_user_change c = {.password = "boss2 picks this one"};
		assert_int_equal(vault_user_update(V, &boss_actor, boss.id, &c, &info, &e), 0);
	}
}

static void lockout(void **state)
{
	struct vault_actor who;
	struct kinko_err e;
	char token[VAULT_TOKEN_LEN + 1];
	bool alert = false;
	uint64_t saved = V->cfg.lockout_failures;
	int rc;
	(void)state;

	V->cfg.lockout_failures = 3;
	for (int i = 1; i <= 3; i++) {
		rc = login("hana", "not the password", FP_A, token, &who, &alert, &e);
		if (i < 3) {
			assert_int_equal(rc, KINKO_EAUTH);
			assert_false(alert);
		} else {
			assert_int_equal(rc, KINKO_ELOCKED);
			assert_true(alert); /* this failure locked it: the operator is told */
			assert_string_equal(who.user_id, handler.user_id);
		}
	}
	/* Locked: even the right password is refused, with no new alert. */
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), KINKO_ELOCKED);
	assert_false(alert);
	{
		struct vault_user_info info;
		assert_int_equal(vault_user_get(V, &admin, handler.user_id, &info, &e), 0);
		assert_true(info.locked);
	}
	/* A manager unlocks it. */
	{
		struct vault_user_change c = {.unlock = true};
		struct vault_user_info info;
		assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &info, &e), 0);
		assert_false(info.locked);
	}
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), 0);
	/* A success resets the failure count. */
	assert_int_equal(login("hana", "not the password", FP_A, token, &who, &alert, &e),
			 KINKO_EAUTH);
	assert_int_equal(db_count("SELECT failed_logins FROM users WHERE name = 'hana'"), 1);
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), 0);
	assert_int_equal(db_count("SELECT failed_logins FROM users WHERE name = 'hana'"), 0);
	V->cfg.lockout_failures = saved;
}

/* ---------------------------------------------------------------- store faults */

static const struct store_ops *real_ops;
static struct store_ops faulty;
static pthread_t main_thread;
static int faults; /* how many times an injected fault fired */

static int fail_commit(struct store *s, struct kinko_err *e)
{
	/* The real rollback ends the transaction (and releases the store's lock), as
	 * a failed COMMIT does. */
	real_ops->rollback(s);
	faults++;
	return kinko_err_set(e, KINKO_EIO, "injected: commit failed");
}

static int fail_object_insert(struct store *s, struct store_object *o, struct kinko_err *e)
{
	(void)s;
	(void)o;
	faults++;
	return kinko_err_set(e, KINKO_EIO, "injected: object insert failed");
}

static int fail_user_update(struct store *s, const struct store_user *u, struct kinko_err *e)
{
	(void)s;
	(void)u;
	faults++;
	return kinko_err_set(e, KINKO_EIO, "injected: user update failed");
}

static int fail_session_insert(struct store *s, const struct store_session *ss,
			       struct kinko_err *e)
{
	(void)s;
	(void)ss;
	faults++;
	return kinko_err_set(e, KINKO_EIO, "injected: session insert failed");
}

static void inject_begin(void)
{
	real_ops = V->store->ops;
	faulty = *real_ops;
	faults = 0;
}

static void inject_end(void)
{
	V->store->ops = real_ops;
}

/* ---------------------------------------------------------------- blocked addresses */

static int64_t events_like(const char *pattern_)
{
	char sql[512];

	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM audit_event WHERE CAST(data AS TEXT) LIKE '%s'", pattern_);
	return db_count(sql);
}

static void db_exec(const char *sql)
{
	char p[1024];
	sqlite3 *db;

	snprintf(p, sizeof p, "%s/kinko.db", dir);
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

struct found {
	unsigned n;
	char ids[8][STORE_ID_LEN];
	char what[8][256];
};

static void found_problem(void *ctx, const char *object_id, const char *what)
{
	struct found *f = ctx;

	if (f->n < 8) {
		snprintf(f->ids[f->n], STORE_ID_LEN, "%s", object_id ? object_id : "");
		snprintf(f->what[f->n], sizeof f->what[0], "%s", what);
	}
	f->n++;
}

static struct vault_check_report check(bool deep, struct found *f)
{
	struct vault_check_opts o = {.deep = deep, .problem = found_problem, .ctx = f};
	struct vault_check_report r;
	struct kinko_err e;

	memset(f, 0, sizeof *f);
	assert_int_equal(vault_check(V, &o, &r, &e), 0);
	return r;
}

static void flip(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, at), 1);
	c ^= 0x04;
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

/* An object_get that finds the object the first time only: as if it were deleted
 * between the check's lookup and its second look. */
static char vanishing_id[STORE_ID_LEN];
static int vanishing_get(struct store *s, const char *id, struct store_object *out,
			 struct kinko_err *e)
{
	if (!strcmp(id, vanishing_id) && faults++ > 0)
		return kinko_err_set(e, KINKO_ENOENT, "injected: deleted meanwhile");
	return real_ops->object_get(s, id, out, e);
}

/* vault_check: intact, then each kind of damage, found by the depth that can see
 * it, named by object, and recorded in the audit log. */
static void integrity_check(void **state)
{
	struct vault_object_info a, b, empty;
	struct vault_check_report r;
	struct found f;
	struct kinko_err e;
	char pa[1024], pb[1024], sql[256];
	size_t n = 200000;
	uint8_t *data = pattern(n, 91);
	int64_t checks = events_like("%\"action\":\"store.check\"%");
	uint64_t objects;
	(void)state;

	assert_int_equal(upload(&handler, "check-a.bin", data, n, &a, &e), 0);
	assert_int_equal(upload(&handler, "check-b.bin", data, n, &b, &e), 0);
	assert_int_equal(upload(&handler, "check-empty.bin", data, 0, &empty, &e), 0);
	blob_path(a.id, pa, sizeof pa);
	blob_path(b.id, pb, sizeof pb);

	r = check(true, &f);
	assert_true(r.store_ok && r.log_ok);
	assert_int_equal(r.damaged, 0);
	assert_int_equal(f.n, 0);
	assert_true(r.objects >= 3);
	assert_true(r.bytes >= 2 * n);
	objects = r.objects;
	assert_int_equal(events_like("%\"action\":\"store.check\"%"), checks + 1);

	/* One byte of a's second chunk: only reading the content back finds it. */
	flip(pa, 64 + 65536 + 16 + 7);
	r = check(false, &f);
	assert_int_equal(r.damaged, 0);
	r = check(true, &f);
	assert_int_equal(r.damaged, 1);
	assert_int_equal(r.objects, objects);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.ids[0], a.id);
	assert_non_null(strstr(f.what[0], "chunk 1 of the object failed authentication"));
	flip(pa, 64 + 65536 + 16 + 7);

	/* b cut short: both depths find it. */
	assert_int_equal(truncate(pb, 64 + 65536), 0);
	r = check(false, &f);
	assert_int_equal(r.damaged, 1);
	assert_string_equal(f.ids[0], b.id);
	assert_non_null(strstr(f.what[0], "cut short"));

	/* A recorded digest that the content does not match (authentic chunks, wrong
	 * row), and a's blob gone: two objects named, b still cut short. */
	snprintf(sql, sizeof sql, "UPDATE objects SET sha256 = zeroblob(32) WHERE id = '%s'",
		 empty.id);
	db_exec(sql);
	assert_int_equal(rename(pa, "/tmp/kinko-test-check-a"), 0);
	r = check(true, &f);
	assert_int_equal(r.damaged, 3);
	assert_int_equal(f.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		if (!strcmp(f.ids[i], a.id))
			assert_non_null(strstr(f.what[i], "is missing"));
		else if (!strcmp(f.ids[i], empty.id))
			assert_non_null(strstr(f.what[i], "SHA-256"));
		else
			assert_string_equal(f.ids[i], b.id);
	}
	assert_true(r.store_ok && r.log_ok);
	assert_int_equal(events_like("%\"action\":\"store.check\",%\"status\":500%"), 2);

	/* A reference the database cannot resolve is the engine's check's to find. */
	db_exec("PRAGMA foreign_keys = OFF; INSERT INTO acl (folder_id, user_id, perms) "
		"VALUES ('00000000-0000-4000-8000-000000000001', 'nobody', 1)");
	r = check(false, &f);
	assert_false(r.store_ok);
	db_exec("DELETE FROM acl WHERE folder_id = '00000000-0000-4000-8000-000000000001'");

	/* A deep check needs the key. */
	vault_seal(V);
	{
		struct vault_check_opts o = {.deep = true};
		assert_int_equal(vault_check(V, &o, &r, &e), KINKO_ESEALED);
		assert_non_null(strstr(e.msg, "--quick"));
	}
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, sizeof keyfile_secret, &e),
			 0);

	/* An object deleted while its blob was read is neither damaged nor counted
	 * (its blob already gone, its row gone at the second look). */
	{
		struct vault_check_report before = check(true, &f);
		struct vault_object_info gone;
		char pg[1024];
		assert_int_equal(upload(&handler, "check-gone.bin", data, 1000, &gone, &e), 0);
		blob_path(gone.id, pg, sizeof pg);
		assert_int_equal(unlink(pg), 0);
		memcpy(vanishing_id, gone.id, STORE_ID_LEN);
		inject_begin();
		faulty.object_get = vanishing_get;
		V->store->ops = &faulty;
		r = check(true, &f);
		inject_end();
		assert_int_equal(faults, 2); /* looked up, verified, looked up again */
		assert_int_equal(r.damaged, before.damaged);
		assert_int_equal(r.objects, before.objects);
		assert_int_equal(r.bytes, before.bytes);
		assert_int_equal(vault_object_delete(V, &handler, gone.id, &e), 0);
	}

	/* A row whose ID is not an ID (the file altered) is damage, not a path. */
	{
		struct vault_check_report before = check(true, &f);
		db_exec("INSERT INTO objects (id, folder_id, name_mac, name_sealed, key_wrapped, alg, "
			"size, sha256, created_by, created_at) VALUES ('../../../etc/passwd', "
			"'x', zeroblob(32), x'00', x'00', 1, 0, zeroblob(32), 'x', 0)");
		r = check(true, &f);
		assert_int_equal(r.damaged, before.damaged + 1);
		assert_int_equal(r.objects, before.objects);
		assert_non_null(strstr(f.what[f.n - 1], "malformed ID"));
		assert_string_equal(f.ids[f.n - 1], "");
		db_exec("DELETE FROM objects WHERE id = '../../../etc/passwd'");
	}

	/* Put back as they were, for the tests after this one. */
	assert_int_equal(rename("/tmp/kinko-test-check-a", pa), 0);
	assert_int_equal(vault_object_delete(V, &handler, a.id, &e), 0);
	assert_int_equal(vault_object_delete(V, &handler, b.id, &e), 0);
	assert_int_equal(vault_object_delete(V, &handler, empty.id, &e), 0);
	r = check(true, &f);
	assert_int_equal(r.damaged, 0);
	free(data);
}

/* An IPv6 source is its /64, recorded as the /64's first address (the events'
 * address field takes one inet_ntop spelling); listing and lifting are role
 * checked; a lift whose events cannot be committed changes nothing. */
static void blocked_ipv6_source_is_audited_and_lifted(void **state)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	struct vault_actor req;
	struct addrblock_entry got, l[4];
	struct kinko_err e;
	size_t n = 99;
	int rc = 0;
	(void)state;

	memset(&req, 0, sizeof req);
	snprintf(req.request_id, sizeof req.request_id, "0123456789abcdef0123456789abcdef");
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2::77", &a6.sin6_addr), 1);
	for (unsigned i = 0; i < V->cfg.block_failures && rc == 0; i++)
		rc = vault_addr_failed(V, &req, (struct sockaddr *)&a6, &got, &e);
	assert_int_equal(rc, 1);
	assert_string_equal(got.source, "2001:db8:1:2::/64");
	assert_int_equal(events_like("%\"addr\":\"2001:db8:1:2::\"%\"action\":\"net.block\"%"
				     "0123456789abcdef0123456789abcdef%"), 1);
	assert_true(vault_addr_blocked(V, (struct sockaddr *)&a6, NULL));
	assert_int_equal(db_count("SELECT count(*) FROM addr_block WHERE source = "
				  "'2001:db8:1:2::/64' AND until > strftime('%s','now')"), 1);
	/* A server started again on the same directory puts the block back. */
	{
		struct vault *again = NULL;
		size_t kept = 0;
		assert_int_equal(vault_open(dir, &again, &e), 0);
		assert_false(vault_addr_blocked(again, (struct sockaddr *)&a6, NULL));
		assert_int_equal(vault_blocks_restore(again, &kept, &e), 0);
		assert_int_equal(kept, 1);
		assert_true(vault_addr_blocked(again, (struct sockaddr *)&a6, NULL));
		vault_close(again);
	}

	assert_int_equal(vault_blocks_list(V, &handler, l, 4, &n, &e), KINKO_EPERM);
	assert_int_equal(vault_blocks_list(V, &admin, l, 4, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].source, "2001:db8:1:2::/64");
	assert_int_equal(vault_block_clear(V, &handler, "2001:db8:1:2::", NULL, &e), KINKO_EPERM);

	/* The commit fails: still blocked, no event. */
	inject_begin();
	faulty.commit = fail_commit;
	V->store->ops = &faulty;
	assert_int_equal(vault_block_clear(V, &admin, "2001:db8:1:2::1", NULL, &e), KINKO_EIO);
	inject_end();
	assert_int_equal(faults, 1);
	assert_true(vault_addr_blocked(V, (struct sockaddr *)&a6, NULL));
	assert_int_equal(events_like("%\"action\":\"net.unblock%"), 0);

	assert_int_equal(db_count("SELECT count(*) FROM addr_block"), 1);
	assert_int_equal(vault_block_clear(V, &admin, "2001:db8:1:2:ffff::", &got, &e), 0);
	assert_string_equal(got.source, "2001:db8:1:2::/64");
	assert_false(vault_addr_blocked(V, (struct sockaddr *)&a6, NULL));
	assert_int_equal(db_count("SELECT count(*) FROM addr_block"), 0);
	assert_int_equal(events_like("%\"role\":\"manager\"%\"action\":\"net.unblock\"%"), 1);
	assert_int_equal(events_like("%\"addr\":\"2001:db8:1:2::\"%\"action\":\"net.unblocked\"%"),
			 1);
	assert_int_equal(vault_block_clear(V, &admin, "2001:db8:1:2::", NULL, &e), KINKO_ENOENT);

	/* The shortest spelling of a source, the IPv6 loopback's /64, is kept too. */
	memset(&a6.sin6_addr, 0, sizeof a6.sin6_addr);
	a6.sin6_addr.s6_addr[15] = 1;
	rc = 0;
	for (unsigned i = 0; i < V->cfg.block_failures && rc == 0; i++)
		rc = vault_addr_failed(V, &req, (struct sockaddr *)&a6, &got, &e);
	assert_int_equal(rc, 1);
	assert_string_equal(got.source, "::/64");
	assert_int_equal(db_count("SELECT count(*) FROM addr_block WHERE source = '::/64'"), 1);
	assert_int_equal(events_like("%\"addr\":\"::\"%\"action\":\"net.block\"%"), 1);
	assert_int_equal(vault_block_clear(V, &admin, "::1", NULL, &e), 0);
	assert_int_equal(db_count("SELECT count(*) FROM addr_block"), 0);
}

static void fault_upload_changes_nothing(void **state)
{
	struct vault_object_info info;
	struct kinko_err e;
	uint8_t *data = pattern(200000, 3);
	int files = count_blob_files();
	int64_t rows = db_count("SELECT count(*) FROM objects");
	(void)state;

	/* Commit fails. */
	inject_begin();
	faulty.commit = fail_commit;
	V->store->ops = &faulty;
	memset(&e, 0, sizeof e);
	assert_int_equal(upload(&handler, "fault-commit.bin", data, 200000, &info, &e), KINKO_EIO);
	inject_end();
	assert_int_equal(faults, 1);
	assert_non_null(strstr(e.msg, "injected"));
	assert_int_equal(db_count("SELECT count(*) FROM objects"), rows);
	assert_int_equal(count_blob_files(), files);

	/* The insert itself fails. */
	inject_begin();
	faulty.object_insert = fail_object_insert;
	V->store->ops = &faulty;
	assert_int_equal(upload(&handler, "fault-insert.bin", data, 200000, &info, &e), KINKO_EIO);
	inject_end();
	assert_int_equal(faults, 1);
	assert_int_equal(db_count("SELECT count(*) FROM objects"), rows);
	assert_int_equal(count_blob_files(), files);

	/* With the store healthy again, the same name uploads: nothing was left over. */
	assert_int_equal(upload(&handler, "fault-commit.bin", data, 200000, &info, &e), 0);
	assert_int_equal(db_count("SELECT count(*) FROM objects"), rows + 1);
	assert_int_equal(count_blob_files(), files + 1);
	free(data);
}

static void fault_login_changes_nothing(void **state)
{
	struct vault_actor who;
	struct kinko_err e;
	char token[VAULT_TOKEN_LEN + 1];
	bool alert = false;
	int64_t sessions = db_count("SELECT count(*) FROM sessions");
	(void)state;

	/* The user row cannot be updated: no session is created. */
	memset(token, 0, sizeof token);
	inject_begin();
	faulty.user_update = fail_user_update;
	V->store->ops = &faulty;
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), KINKO_EIO);
	inject_end();
	assert_int_equal(faults, 1);
	assert_int_equal(token[0], '\0'); /* no token handed out */
	assert_int_equal(db_count("SELECT count(*) FROM sessions"), sessions);

	/* A failed login whose counter cannot be written is still a failure (and
	 * does not count). */
	inject_begin();
	faulty.user_update = fail_user_update;
	V->store->ops = &faulty;
	assert_int_not_equal(login("hana", "not the password", FP_A, token, &who, &alert, &e), 0);
	inject_end();
	assert_int_equal(db_count("SELECT failed_logins FROM users WHERE name = 'hana'"), 0);

	/* One real failure, then a good login whose session cannot be stored: the
	 * counter reset of that login is rolled back with it. */
	assert_int_equal(login("hana", "not the password", FP_A, token, &who, &alert, &e),
			 KINKO_EAUTH);
	assert_int_equal(db_count("SELECT failed_logins FROM users WHERE name = 'hana'"), 1);
	inject_begin();
	faulty.session_insert = fail_session_insert;
	V->store->ops = &faulty;
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), KINKO_EIO);
	inject_end();
	assert_int_equal(faults, 1);
	assert_int_equal(db_count("SELECT count(*) FROM sessions"), sessions);
	assert_int_equal(db_count("SELECT failed_logins FROM users WHERE name = 'hana'"), 1);

	/* The commit fails. */
	inject_begin();
	faulty.commit = fail_commit;
	V->store->ops = &faulty;
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), KINKO_EIO);
	inject_end();
	assert_int_equal(db_count("SELECT count(*) FROM sessions"), sessions);
	assert_int_equal(db_count("SELECT failed_logins FROM users WHERE name = 'hana'"), 1);

	/* And the store works normally afterwards. */
	assert_int_equal(login("hana", handler_pw, FP_A, token, &who, &alert, &e), 0);
	assert_int_equal(db_count("SELECT count(*) FROM sessions"), sessions + 1);
	assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);
}

/* ---------------------------------------------------------------- login and the store lock */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int login_reads;     /* begin_read calls by the login */
static bool main_had_lock;  /* the other thread got the store's lock */
static bool login_finished;
static int login_rc;
static bool giving_up; /* the login never read outside a transaction */

static int gated_begin_read(struct store *s, struct kinko_err *e)
{
	pthread_mutex_lock(&gate_mu);
	login_reads++;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	return real_ops->begin_read(s, e);
}

/* The login's write transaction starts only once the other thread has had the
 * store's lock: with Argon2id run under that lock, this would never happen
 * before the login ends. */
static int gated_begin(struct store *s, struct kinko_err *e)
{
	pthread_mutex_lock(&gate_mu);
	if (pthread_self() != main_thread)
		while (!main_had_lock && !login_finished && !giving_up)
			pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	return real_ops->begin(s, e);
}

static void *login_main(void *arg)
{
	struct vault_login l = {.name = "hana", .password = "not the password at all"};
	struct vault_actor a;
	struct kinko_err e;
	char token[VAULT_TOKEN_LEN + 1];
	bool alert;
	(void)arg;

	memset(&a, 0, sizeof a);
	l.addr = lo();
	login_rc = vault_login(V, &l, token, &a, &alert, &e);
	pthread_mutex_lock(&gate_mu);
	login_finished = true;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	return NULL;
}

/* While a login runs Argon2id, other requests can still use the store. */
static void login_verifies_the_password_without_the_store_lock(void **state)
{
	struct kinko_err e;
	pthread_t th;
	(void)state;

	main_thread = pthread_self();
	login_reads = 0;
	main_had_lock = login_finished = giving_up = false;
	inject_begin();
	faulty.begin_read = gated_begin_read;
	faulty.begin = gated_begin;
	V->store->ops = &faulty;
	assert_int_equal(pthread_create(&th, NULL, login_main, NULL), 0);
	pthread_mutex_lock(&gate_mu);
	{
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 30;
		while (login_reads == 0 && !login_finished &&
		       pthread_cond_timedwait(&gate_cv, &gate_mu, &until) == 0)
			;
		giving_up = login_reads == 0;
		pthread_cond_broadcast(&gate_cv);
	}
	pthread_mutex_unlock(&gate_mu);
	if (giving_up) {
		assert_int_equal(pthread_join(th, NULL), 0);
		inject_end();
		fail_msg("the login read the account only inside its write transaction");
	}
	/* The login has read the account and is verifying the password. */
	assert_int_equal(real_ops->begin(V->store, &e), 0);
	pthread_mutex_lock(&gate_mu);
	main_had_lock = !login_finished;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	real_ops->rollback(V->store);
	assert_int_equal(pthread_join(th, NULL), 0);
	inject_end();
	assert_true(main_had_lock);
	assert_int_equal(login_rc, KINKO_EAUTH);
	/* The failure was counted in the login's own transaction, as before. */
	assert_int_equal(db_count("SELECT failed_logins FROM users WHERE name = 'hana'"), 1);
	{
		struct vault_user_change c;
		struct vault_user_info ui;
		memset(&c, 0, sizeof c);
		c.unlock = true;
		assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &ui, &e), 0);
	}
}

/* An upload is decided again at its end: an account disabled, or a session
 * ended, while the content streamed stores nothing. */
static void an_upload_ends_with_its_session(void **state)
{
	struct vault_actor who, logged;
	struct vault_upload *u;
	struct vault_object_info info;
	struct vault_user_change c;
	struct vault_user_info ui;
	struct kinko_err e;
	char token[VAULT_TOKEN_LEN + 1];
	bool alert, yes = true, no = false;
	uint8_t *data = pattern(300000, 41);
	int64_t rows = db_count("SELECT count(*) FROM objects");
	(void)state;

	for (int round = 0; round < 3; round++) {
		assert_int_equal(login("hana", handler_pw, FP_A, token, &logged, &alert, &e), 0);
		memset(&who, 0, sizeof who);
		assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);
		assert_true(who.has_session);
		assert_int_equal(vault_upload_begin(V, &who, folder.id, "mid.bin", &u, &e), 0);
		assert_int_equal(vault_upload_write(u, data, 150000, &e), 0);
		memset(&c, 0, sizeof c);
		if (round == 0) {
			c.disabled = &yes;
			assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &ui, &e), 0);
		} else if (round == 1) {
			assert_int_equal(vault_logout(V, &who, token, &e), 0);
		} else { /* the session reaches its absolute lifetime meanwhile */
			struct store *s = V->store;
			struct store_session ss;
			assert_int_equal(s->ops->begin(s, &e), 0);
			assert_int_equal(s->ops->session_get(s, who.session, &ss, &e), 0);
			assert_int_equal(s->ops->session_delete(s, who.session, &e), 0);
			ss.created_at -= (int64_t)V->cfg.session_max_seconds + 5;
			assert_int_equal(s->ops->session_insert(s, &ss, &e), 0);
			assert_int_equal(s->ops->commit(s, &e), 0);
		}
		assert_int_equal(vault_upload_write(u, data + 150000, 150000, &e), 0);
		assert_int_equal(vault_upload_finish(u, &info, &e), KINKO_EAUTH);
		/* Disabling an account ends its sessions too. */
		if (!strstr(e.msg, "nothing was stored") ||
		    (round == 2 && !strstr(e.msg, "maximum lifetime")))
			fail_msg("round %d: %s", round, e.msg);
		assert_int_equal(db_count("SELECT count(*) FROM objects"), rows);
		if (round == 0) {
			c.disabled = &no;
			assert_int_equal(vault_user_update(V, &admin, handler.user_id, &c, &ui, &e), 0);
		}
	}
	/* An upload that streams for longer than the idle timeout is stored, and its
	 * commit is the session's activity: the session goes on. */
	{
		struct store *s = V->store;
		assert_int_equal(login("hana", handler_pw, FP_A, token, &logged, &alert, &e), 0);
		memset(&who, 0, sizeof who);
		assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);
		assert_int_equal(vault_upload_begin(V, &who, folder.id, "long.bin", &u, &e), 0);
		assert_int_equal(vault_upload_write(u, data, 300000, &e), 0);
		assert_int_equal(s->ops->begin(s, &e), 0);
		assert_int_equal(s->ops->session_touch(s, who.session,
						       vault_now() -
							       (int64_t)V->cfg.session_idle_seconds - 5,
						       &e),
				 0);
		assert_int_equal(s->ops->commit(s, &e), 0);
		assert_int_equal(vault_upload_finish(u, &info, &e), 0);
		assert_int_equal(vault_session_check(V, token, FP_A, lo(), &who, &e), 0);
		assert_int_equal(vault_object_delete(V, &who, info.id, &e), 0);
		assert_int_equal(vault_logout(V, &who, token, &e), 0);
	}
	free(data);
}

/* The event an act appends is confirmed in the log only if its transaction
 * committed: a COMMIT that fails after the append leaves nothing to confirm, so
 * the edge records the request itself. */
static void an_event_rolled_back_is_not_confirmed(void **state)
{
	struct vault_audit_note note;
	struct vault_actor a = admin;
	struct vault_contract_info c;
	struct kinko_err e;
	(void)state;

	memset(&note, 0, sizeof note);
	a.note = &note;
	assert_int_equal(vault_contract_create(V, &a, "committed", &c, &e), 0);
	assert_true(note.recorded);
	assert_true(vault_audit_confirm(V, &note));

	memset(&note, 0, sizeof note);
	inject_begin();
	faulty.commit = fail_commit;
	V->store->ops = &faulty;
	assert_int_equal(vault_contract_create(V, &a, "rolled back", &c, &e), KINKO_EIO);
	inject_end();
	assert_true(note.recorded); /* appended, then lost with the COMMIT */
	assert_false(vault_audit_confirm(V, &note));
	/* The next event takes the same place in the log: still not this one. */
	{
		struct vault_audit_note other;
		memset(&other, 0, sizeof other);
		a.note = &other;
		assert_int_equal(vault_contract_create(V, &a, "next", &c, &e), 0);
		assert_int_equal(other.seq, note.seq);
		assert_false(vault_audit_confirm(V, &note));
		assert_true(vault_audit_confirm(V, &other));
	}
}

/* ---------------------------------------------------------------- sealing */

static void *seal_main(void *arg)
{
	vault_seal(arg);
	return NULL;
}

/* A seal waits only for transfers already running, and they stop at their next
 * block: a slow download cannot keep the key in memory, and no new request gets
 * in while the seal waits (glibc's lock would otherwise let readers overtake). */
static void a_seal_is_not_held_off_by_transfers(void **state)
{
	struct vault_object_info info, dinfo;
	struct vault_folder_info fi;
	struct vault_download *d = NULL;
	struct kinko_err e;
	uint8_t *data = pattern(200000, 31), buf[4096];
	size_t got = 0;
	pthread_t th;
	(void)state;

	assert_int_equal(upload(&handler, "seal-me.bin", data, 200000, &info, &e), 0);
	assert_int_equal(vault_download_open(V, &handler, info.id, &dinfo, &d, &e), 0);
	assert_int_equal(read_range(d, 0, buf, sizeof buf, &got, &e), 0);
	assert_int_equal(pthread_create(&th, NULL, seal_main, V), 0);
	for (int i = 0; i < 2000 && !atomic_load(&V->sealing); i++)
		usleep(1000);
	assert_true(atomic_load(&V->sealing));
	/* Waiting: nobody new gets in, and the open download stops at its next read. */
	assert_int_equal(vault_folder_get(V, &handler, folder.id, &fi, &e), KINKO_ESEALED);
	assert_int_equal(vault_download_read(d, sizeof buf, buf, sizeof buf, &got, &e), KINKO_ESEALED);
	vault_download_close(d);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(vault_is_sealed(V));
	assert_false(atomic_load(&V->sealing));
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, 32, &e), 0);
	assert_int_equal(vault_object_delete(V, &handler, info.id, &e), 0);
	free(data);
}

/* ---------------------------------------------------------------- store durability */

static volatile int fail_wal_sync;

/* Interposes libc's fdatasync for this test binary (kinkolib is linked
 * statically, so its calls come here); fails only for the store's WAL. */
int fdatasync(int fd)
{
	if (fail_wal_sync) {
		char l[64], p[4096];
		ssize_t n;
		snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
		n = readlink(l, p, sizeof p - 1);
		if (n > 4) {
			p[n] = 0;
			if (!strcmp(p + n - 4, "-wal")) {
				errno = EIO;
				return -1;
			}
		}
	}
	return (int)syscall(SYS_fdatasync, fd);
}

/* A WAL flush that fails after COMMIT: the upload IS stored and says so with its
 * own code (not one that reads as "nothing changed"), its blob stays, and the store
 * takes no more changes (even once flushing works again) until it is reopened. */
static void wal_flush_failure_keeps_the_blob_and_stops_the_store(void **state)
{
	struct vault_object_info info;
	struct vault_contract_info c2;
	struct vault_download *d = NULL;
	struct kinko_err e;
	uint8_t *data = pattern(300000, 21), *back = malloc(300000);
	int64_t rows = db_count("SELECT count(*) FROM objects");
	char id[64] = "", path[1024];
	size_t got = 0;
	(void)state;

	assert_non_null(back);
	fail_wal_sync = 1;
	assert_int_equal(upload(&handler, "durable.bin", data, 300000, &info, &e), KINKO_ENOTDURABLE);
	fail_wal_sync = 0;
	assert_non_null(strstr(e.msg, "was stored"));
	assert_int_equal(db_count("SELECT count(*) FROM objects"), rows + 1);
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		snprintf(path, sizeof path, "%s/kinko.db", dir);
		assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT id FROM objects ORDER BY seq DESC LIMIT 1",
						    -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	blob_path(id, path, sizeof path);
	assert_int_equal(access(path, F_OK), 0);
	/* Fail closed: no further change, although fdatasync works again. */
	assert_int_equal(vault_contract_create(V, &admin, "after the failure", &c2, &e), KINKO_EUNAVAIL);
	assert_non_null(strstr(e.msg, "restart"));

	/* Reopened (a restart), the object is whole. */
	vault_close(V);
	V = NULL;
	assert_int_equal(vault_open(dir, &V, &e), 0);
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, 32, &e), 0);
	assert_int_equal(vault_download_open(V, &handler, id, &info, &d, &e), 0);
	assert_int_equal(read_range(d, 0, back, 300000, &got, &e), 0);
	assert_int_equal(got, 300000);
	assert_memory_equal(back, data, 300000);
	vault_download_close(d);
	assert_int_equal(vault_object_delete(V, &handler, id, &e), 0);
	free(back);
	free(data);
}

/* A new handler account, made by the first manager; its actor (no session). */
static struct vault_actor new_handler(const char *name, const char *password)
{
	struct vault_user_new n;
	struct vault_user_info info;
	struct vault_actor h;
	struct kinko_err e;

	memset(&n, 0, sizeof n);
	n.name = name;
	n.role = ROLE_HANDLER;
	n.password = password;
	assert_int_equal(vault_user_create(V, &admin, &n, &info, NULL, &e), 0);
	memset(&h, 0, sizeof h);
	memcpy(h.user_id, info.id, sizeof h.user_id);
	h.role = ROLE_HANDLER;
	return h;
}

/* Removing a member removes their folder rights: designated again, they start
 * with none (before, the old grant came back without anyone granting it). */
static void removed_members_lose_their_folder_rights(void **state)
{
	struct vault_folder_info fi;
	struct vault_actor h2 = new_handler("kaori", "correct horse battery 2");
	struct kinko_err e;
	char sql[256];
	(void)state;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM acl WHERE user_id = '%s'", h2.user_id);
	assert_int_equal(vault_member_set(V, &admin, contract.id, h2.user_id, ROLE_HANDLER, &e), 0);
	assert_int_equal(vault_acl_set(V, &admin, folder.id, h2.user_id, PERM_READ | PERM_WRITE, &e), 0);
	assert_int_equal(db_count(sql), 1);
	assert_int_equal(vault_member_set(V, &admin, contract.id, h2.user_id, ROLE_NONE, &e), 0);
	assert_int_equal(db_count(sql), 0);
	assert_int_equal(vault_member_set(V, &admin, contract.id, h2.user_id, ROLE_HANDLER, &e), 0);
	assert_int_equal(vault_folder_get(V, &h2, folder.id, &fi, &e), 0);
	assert_int_equal(fi.my_perms, 0);
	assert_int_equal(vault_member_set(V, &admin, contract.id, h2.user_id, ROLE_NONE, &e), 0);
}

/* The store's mark that its access rows are authenticated sits in kinko.db; the
 * audit log decides whether rows were ever adopted. With the mark removed and a
 * right added without the key, the next unseal puts the mark back and adopts
 * nothing: the added right stays refused. With the log's record of adoption
 * erased as well, the log no longer verifies and the vault stays sealed.
 * (Adopting the rows of a real schema-6 store: tests/integration/test_rows.py.) */
static void access_rows_never_adopted_twice(void **state)
{
	struct vault_folder_info fi;
	struct vault_actor h2 = new_handler("mirai", "correct horse battery 3");
	struct kinko_err e;
	char sql[512];
	(void)state;

	assert_int_equal(vault_member_set(V, &admin, contract.id, h2.user_id, ROLE_HANDLER, &e), 0);
	assert_int_equal(vault_folder_get(V, &h2, folder.id, &fi, &e), 0);
	assert_int_equal(fi.my_perms, 0);
	assert_int_equal(events_like("%store.rows_authenticated%"), 1); /* kinko init's */

	vault_seal(V);
	snprintf(sql, sizeof sql,
		 "INSERT INTO acl(folder_id, user_id, perms) VALUES('%s', '%s', 15);"
		 "DELETE FROM meta WHERE key = 'rows_authenticated';",
		 folder.id, h2.user_id);
	db_exec(sql);
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, 32, &e), 0);
	assert_int_equal(events_like("%store.rows_mark_restored%"), 1);
	assert_int_equal(events_like("%store.rows_authenticated%"), 1);
	assert_int_equal(vault_folder_get(V, &h2, folder.id, &fi, &e), KINKO_EINTEGRITY);
	assert_non_null(strstr(e.msg, "does not authenticate"));

	/* The record of adoption renamed (the log's guard dropped first), the mark
	 * removed again: the log does not verify, so nothing is adopted and the
	 * vault stays sealed. */
	vault_seal(V);
	db_exec("DELETE FROM meta WHERE key = 'rows_authenticated';"
		"DROP TRIGGER audit_event_no_update;"
		"UPDATE audit_event SET data = CAST(replace(CAST(data AS TEXT), "
		"'store.rows_authenticated', 'store.rows_xxxxxxxxxxxxx') AS BLOB);");
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, 32, &e),
			 KINKO_EINTEGRITY);
	assert_non_null(strstr(e.msg, "does not verify"));
	assert_true(vault_is_sealed(V));

	/* Put back as it was (trigger included), the vault unseals again. */
	snprintf(sql, sizeof sql,
		 "UPDATE audit_event SET data = CAST(replace(CAST(data AS TEXT), "
		 "'store.rows_xxxxxxxxxxxxx', 'store.rows_authenticated') AS BLOB);"
		 "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
		 "  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;" /* as made */
		 "DELETE FROM acl WHERE user_id = '%s';",
		 h2.user_id);
	db_exec(sql);
	assert_int_equal(vault_unseal(V, KEYRING_KEYFILE, keyfile_secret, 32, &e), 0);
	assert_int_equal(events_like("%store.rows_mark_restored%"), 2);
	assert_int_equal(vault_member_set(V, &admin, contract.id, h2.user_id, ROLE_NONE, &e), 0);
}

/* The list of revoked certificates comes from the log: an empty list takes its
 * first entry; a repeat is one entry; and an event that names a revocation but
 * does not decode stops the server from starting, naming the event. */
static void revocations_come_from_the_log(void **state)
{
	struct kinko_err e;
	char sql[512];
	uint64_t n;
	(void)state;

	assert_int_equal(vault_revocations_load(V, &e), 0);
	assert_false(vault_revoked_has(V, FP_A));
	assert_int_equal(vault_revoked_add(V, FP_B), 0);
	assert_int_equal(vault_revoked_add(V, FP_A), 0);
	assert_int_equal(vault_revoked_add(V, FP_A), 0);
	assert_true(vault_revoked_has(V, FP_A) && vault_revoked_has(V, FP_B));
	assert_int_equal(V->n_revoked, 2);
	assert_int_equal(strcmp(V->revoked[0], FP_A), 0); /* sorted */
	assert_int_not_equal(vault_revoked_add(V, "short"), 0);

	assert_int_equal(V->store->ops->audit_size(V->store, &n, &e), 0);
	snprintf(sql, sizeof sql,
		 "INSERT INTO audit_event(seq, data) VALUES(%llu, CAST('{\"action\":"
		 "\"certificate.revoke\" garbage' AS BLOB))",
		 (unsigned long long)n);
	db_exec(sql);
	assert_int_equal(vault_revocations_load(V, &e), KINKO_EINTEGRITY);
	snprintf(sql, sizeof sql, "event %llu of the audit log", (unsigned long long)n);
	assert_non_null(strstr(e.msg, sql));
	snprintf(sql, sizeof sql,
		 "DROP TRIGGER audit_event_no_delete; DELETE FROM audit_event WHERE seq = %llu;"
		 "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
		 "  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;", /* as made */
		 (unsigned long long)n);
	db_exec(sql);
	assert_int_equal(vault_revocations_load(V, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decision_truth_table),
		cmocka_unit_test(name_check),
		cmocka_unit_test(upload_download_round_trip),
		cmocka_unit_test(upload_refusals),
		cmocka_unit_test(tamper_and_truncate),
		cmocka_unit_test(integrity_check),
		cmocka_unit_test(garbage_collection),
		cmocka_unit_test(login_and_sessions),
		cmocka_unit_test(manager_password_is_their_own),
		cmocka_unit_test(lockout),
		cmocka_unit_test(fault_upload_changes_nothing),
		cmocka_unit_test(fault_login_changes_nothing),
		cmocka_unit_test(sealed_refuses),
		cmocka_unit_test(blocked_ipv6_source_is_audited_and_lifted),
		cmocka_unit_test(removed_members_lose_their_folder_rights),
		cmocka_unit_test(access_rows_never_adopted_twice),
		cmocka_unit_test(revocations_come_from_the_log),
		cmocka_unit_test(a_seal_is_not_held_off_by_transfers),
		cmocka_unit_test(an_event_rolled_back_is_not_confirmed),
		cmocka_unit_test(an_upload_ends_with_its_session),
		cmocka_unit_test(login_verifies_the_password_without_the_store_lock),
		cmocka_unit_test(wal_flush_failure_keeps_the_blob_and_stops_the_store),
	};
	if (kinko_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
