/*
 * Tests for tls/: the PKI files, issued certificates, PKCS#12, and real TLS 1.3
 * handshakes over a socketpair (server in a thread, configured the way
 * libmicrohttpd configures it: key/cert/trust from memory, the kinko priority
 * string, GNUTLS_CERT_REQUEST), followed by tls_peer_verify on the server side;
 * and the server's one-recv-per-record transport (tls_pull): records of every
 * size come through whole, and it never hides a record from poll().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include "core/parse.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "tls/tls.h"

#define CA_PASS "correct horse battery staple"
#define P12_PASS "p12-secret-パス"
#define UUID_A "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define DAY 86400

/* Shared fixtures, made once: two PKIs and client bundles from them. */
static char g_root[64];
static char g_dir_a[128], g_dir_b[128];
static struct tls_bundle g_valid, g_expired, g_future, g_other;
static char *g_ca_a, *g_ca_b; /* the two CA certificates (PEM) */
static int64_t g_now;
/* When set, the server does not list its CA names in the CertificateRequest,
 * so a GnuTLS client sends its certificate even if another CA issued it (as a
 * hostile client would anyway). */
static int g_hide_ca_names;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void path_join(char *out, size_t n, const char *dir, const char *name)
{
	int r = snprintf(out, n, "%s/%s", dir, name);
	assert_true(r > 0 && (size_t)r < n);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* For the group setup, where cmocka's asserts are not available. */
static char *read_text(const char *dir, const char *name)
{
	char path[PATH_MAX];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(p = malloc((size_t)n + 1))) {
		fclose(f);
		return NULL;
	}
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		fclose(f);
		return NULL;
	}
	p[n] = '\0';
	fclose(f);
	return p;
}

/* The server pair in dir is (same) or is not (!same) the one read before. */
static void pair_is(const char *dir, const char *pem, const char *key, bool same)
{
	char *p = read_text(dir, "server.pem"), *k = read_text(dir, "server.key");

	assert_non_null(p);
	assert_non_null(k);
	if (same) {
		assert_string_equal(p, pem);
		assert_string_equal(k, key);
	} else {
		assert_string_not_equal(p, pem);
		assert_string_not_equal(k, key);
	}
	free(p);
	free(k);
}

static int group_setup(void **state)
{
	const char *names[] = {"localhost", "127.0.0.1", "::1"};
	struct kinko_err e = {0};
	(void)state;

	g_now = (int64_t)time(NULL);
	snprintf(g_root, sizeof g_root, "/tmp/kinko-test-tls-XXXXXX");
	if (!mkdtemp(g_root))
		return -1;
	snprintf(g_dir_a, sizeof g_dir_a, "%s/a", g_root);
	snprintf(g_dir_b, sizeof g_dir_b, "%s/b", g_root);
	if (tls_pki_create(g_dir_a, names, 3, CA_PASS, &e) ||
	    tls_pki_create(g_dir_b, names, 1, NULL, &e)) {
		fprintf(stderr, "pki: %s\n", e.msg);
		return -1;
	}
	g_ca_a = read_text(g_dir_a, "ca.pem");
	g_ca_b = read_text(g_dir_b, "ca.pem");
	if (!g_ca_a || !g_ca_b)
		return -1;
	if (tls_client_issue(g_dir_a, CA_PASS, "alice", UUID_A, g_now - 60, g_now + DAY, P12_PASS,
			     &g_valid, &e) ||
	    tls_client_issue(g_dir_a, CA_PASS, "bob", UUID_A, g_now - 2 * DAY, g_now - DAY,
			     P12_PASS, &g_expired, &e) ||
	    tls_client_issue(g_dir_a, CA_PASS, "carol", UUID_A, g_now + DAY, g_now + 2 * DAY,
			     P12_PASS, &g_future, &e) ||
	    tls_client_issue(g_dir_b, NULL, "alice", UUID_A, g_now - 60, g_now + DAY, P12_PASS,
			     &g_other, &e)) {
		fprintf(stderr, "issue: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	tls_bundle_free(&g_valid);
	tls_bundle_free(&g_expired);
	tls_bundle_free(&g_future);
	tls_bundle_free(&g_other);
	free(g_ca_a);
	free(g_ca_b);
	if (g_root[0])
		nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ------------------------------------------------------------ handshake */

struct hs_result {
	int server_rc, client_rc;
	int verify_rc;
	struct kinko_err err;
	struct tls_peer peer;
	gnutls_protocol_t version;
	gnutls_cipher_algorithm_t cipher;
};

struct server_arg {
	int fd;
	const char *dir;
	int64_t now;
	struct hs_result *r;
};

static void set_timeouts(int fd)
{
	struct timeval tv = {10, 0};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
}

static int do_handshake(gnutls_session_t s)
{
	int rc;
	do {
		rc = gnutls_handshake(s);
	} while (rc < 0 && !gnutls_error_is_fatal(rc));
	return rc;
}

/* A PEM string as GnuTLS takes it. */
static gnutls_datum_t pem_datum(const char *pem)
{
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
	return d;
}

/* The server side, set up as libmicrohttpd 0.9.75 does with
 * MHD_OPTION_HTTPS_MEM_KEY/_CERT/_TRUST and MHD_OPTION_HTTPS_PRIORITIES. */
static void *server_main(void *p)
{
	struct server_arg *a = p;
	struct tls_server_creds creds = {0};
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	gnutls_datum_t k, c, t;
	struct kinko_err e = {0};

	a->r->server_rc = -1;
	a->r->verify_rc = 1; /* "not run" */
	if (tls_server_creds_load(a->dir, &creds, &e))
		goto out;
	k = pem_datum(creds.key_pem);
	c = pem_datum(creds.cert_pem);
	t = pem_datum(creds.trust_pem);
	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_certificate_set_x509_trust_mem(cred, &t, GNUTLS_X509_FMT_PEM) <= 0)
		goto out;
	if (gnutls_init(&s, GNUTLS_SERVER) < 0 ||
	    gnutls_priority_set_direct(s, tls_priorities(), NULL) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		goto out;
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
	if (g_hide_ca_names)
		gnutls_certificate_send_x509_rdn_sequence(s, 1);
	gnutls_transport_set_int(s, a->fd);
	a->r->server_rc = do_handshake(s);
	if (a->r->server_rc == 0) {
		a->r->version = gnutls_protocol_get_version(s);
		a->r->cipher = gnutls_cipher_get(s);
		a->r->verify_rc = tls_peer_verify(s, a->now, &a->r->peer, &a->r->err);
	}
out:
	if (s)
		gnutls_deinit(s);
	if (cred)
		gnutls_certificate_free_credentials(cred);
	tls_server_creds_free(&creds);
	close(a->fd);
	return NULL;
}

/*
 * Runs one handshake against the server of PKI dir. The client trusts ca_pem,
 * checks the server's name, and presents cert/key when given.
 */
static void handshake(const char *dir, int64_t now, const char *client_prio, const char *ca_pem,
		      const char *hostname, const char *cert_pem, const char *key_pem,
		      struct hs_result *r)
{
	int sv[2];
	pthread_t th;
	struct server_arg a;
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	gnutls_datum_t t, c, k;

	memset(r, 0, sizeof *r);
	memset(&r->peer, 0x5a, sizeof r->peer); /* to see that a refusal leaves it alone */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	set_timeouts(sv[0]);
	set_timeouts(sv[1]);
	a.fd = sv[1];
	a.dir = dir;
	a.now = now;
	a.r = r;
	assert_int_equal(pthread_create(&th, NULL, server_main, &a), 0);

	assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
	t.data = (unsigned char *)ca_pem;
	t.size = (unsigned)strlen(ca_pem);
	assert_int_equal(gnutls_certificate_set_x509_trust_mem(cred, &t, GNUTLS_X509_FMT_PEM), 1);
	if (cert_pem) {
		c.data = (unsigned char *)cert_pem;
		c.size = (unsigned)strlen(cert_pem);
		k.data = (unsigned char *)key_pem;
		k.size = (unsigned)strlen(key_pem);
		assert_int_equal(
			gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM), 0);
	}
	assert_int_equal(gnutls_init(&s, GNUTLS_CLIENT), 0);
	assert_int_equal(gnutls_priority_set_direct(s, client_prio, NULL), 0);
	assert_int_equal(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred), 0);
	gnutls_session_set_verify_cert(s, hostname, 0); /* the client checks the server */
	gnutls_transport_set_int(s, sv[0]);
	r->client_rc = do_handshake(s);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	close(sv[0]);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static void handshake_ok(const char *cert_pem, const char *key_pem, int64_t now,
			 struct hs_result *r)
{
	handshake(g_dir_a, now, "NORMAL", g_ca_a, "localhost", cert_pem,
		  key_pem, r);
	assert_int_equal(r->client_rc, 0);
	assert_int_equal(r->server_rc, 0);
	assert_int_equal(r->version, GNUTLS_TLS1_3);
}

static void peer_untouched(const struct tls_peer *p)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i;
	for (i = 0; i < sizeof *p; i++)
		assert_int_equal(b[i], 0x5a);
}

static void valid_client_is_accepted(void **state)
{
	struct hs_result r;
	(void)state;

	handshake_ok(kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem), g_now, &r);
	assert_int_equal(r.verify_rc, 0);
	assert_string_equal(r.peer.fingerprint, g_valid.fingerprint);
	assert_string_equal(r.peer.user_name, "alice");
	assert_string_equal(r.peer.user_uuid, UUID_A);
	assert_int_equal(r.peer.not_after, g_valid.not_after);
	/* The server's order wins and AES-256-GCM is first. */
	assert_int_equal(r.cipher, GNUTLS_CIPHER_AES_256_GCM);
}

static void server_name_ip_literals_verify(void **state)
{
	struct hs_result r;
	(void)state;

	handshake(g_dir_a, g_now, "NORMAL", g_ca_a, "127.0.0.1",
		  kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem), &r);
	assert_int_equal(r.client_rc, 0);
	assert_int_equal(r.verify_rc, 0);
	handshake(g_dir_a, g_now, "NORMAL", g_ca_a, "::1",
		  kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem), &r);
	assert_int_equal(r.client_rc, 0);
	/* A name that is not in the certificate fails on the client. */
	handshake(g_dir_a, g_now, "NORMAL", g_ca_a, "kinko.example.jp",
		  kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem), &r);
	assert_true(r.client_rc < 0);
}

static void server_cipher_order_wins(void **state)
{
	struct hs_result r;
	(void)state;

	/* A client preferring ChaCha still gets AES-256-GCM... */
	handshake(g_dir_a, g_now,
		  "NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305:+AES-128-GCM:+AES-256-GCM",
		  g_ca_a, "localhost", kbuf_str(&g_valid.cert_pem),
		  kbuf_str(&g_valid.key_pem), &r);
	assert_int_equal(r.server_rc, 0);
	assert_int_equal(r.cipher, GNUTLS_CIPHER_AES_256_GCM);
	/* ...and one that only speaks ChaCha is still served. */
	handshake(g_dir_a, g_now, "NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305",
		  g_ca_a, "localhost", kbuf_str(&g_valid.cert_pem),
		  kbuf_str(&g_valid.key_pem), &r);
	assert_int_equal(r.server_rc, 0);
	assert_int_equal(r.cipher, GNUTLS_CIPHER_CHACHA20_POLY1305);
	assert_int_equal(r.verify_rc, 0);
}

static void tls12_client_fails(void **state)
{
	struct hs_result r;
	(void)state;

	handshake(g_dir_a, g_now, "NORMAL:-VERS-ALL:+VERS-TLS1.2", g_ca_a,
		  "localhost", kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem), &r);
	assert_true(r.client_rc < 0);
	assert_true(r.server_rc < 0);
	assert_int_equal(r.verify_rc, 1); /* never reached */
	handshake(g_dir_a, g_now, "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0",
		  g_ca_a, "localhost", NULL, NULL, &r);
	assert_true(r.client_rc < 0);
	assert_true(r.server_rc < 0);
}

static void no_client_cert_is_refused(void **state)
{
	struct hs_result r;
	(void)state;

	handshake_ok(NULL, NULL, g_now, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "no client certificate"));
	peer_untouched(&r.peer);
}

static void other_ca_is_refused(void **state)
{
	struct hs_result r;
	(void)state;

	/* The server names its CA, so a well-behaved client keeps a foreign
	 * certificate to itself: refused for having none. */
	handshake_ok(kbuf_str(&g_other.cert_pem), kbuf_str(&g_other.key_pem), g_now, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "no client certificate"));
	/* A client that sends it anyway is refused for the issuer. */
	g_hide_ca_names = 1;
	handshake_ok(kbuf_str(&g_other.cert_pem), kbuf_str(&g_other.key_pem), g_now, &r);
	g_hide_ca_names = 0;
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "not issued by a CA this server trusts"));
	peer_untouched(&r.peer);
	/* The other PKI's server accepts its own client and refuses ours. */
	handshake(g_dir_b, g_now, "NORMAL", g_ca_b, "localhost",
		  kbuf_str(&g_other.cert_pem), kbuf_str(&g_other.key_pem), &r);
	assert_int_equal(r.verify_rc, 0);
	assert_string_equal(r.peer.fingerprint, g_other.fingerprint);
	g_hide_ca_names = 1;
	handshake(g_dir_b, g_now, "NORMAL", g_ca_b, "localhost",
		  kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem), &r);
	g_hide_ca_names = 0;
	assert_int_equal(r.client_rc, 0);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "not issued by a CA this server trusts"));
}

static void expired_and_future_are_refused(void **state)
{
	struct hs_result r;
	(void)state;

	handshake_ok(kbuf_str(&g_expired.cert_pem), kbuf_str(&g_expired.key_pem), g_now, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "expired"));
	peer_untouched(&r.peer);

	handshake_ok(kbuf_str(&g_future.cert_pem), kbuf_str(&g_future.key_pem), g_now, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "not valid before"));
	peer_untouched(&r.peer);

	/* The caller's clock decides: the valid certificate, checked a second after
	 * it expires, and the future one checked once it has begun. */
	handshake_ok(kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem),
		     g_valid.not_after + 1, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "expired"));
	handshake_ok(kbuf_str(&g_valid.cert_pem), kbuf_str(&g_valid.key_pem), g_valid.not_after,
		     &r);
	assert_int_equal(r.verify_rc, 0);
	handshake_ok(kbuf_str(&g_future.cert_pem), kbuf_str(&g_future.key_pem),
		     g_future.not_before, &r);
	assert_int_equal(r.verify_rc, 0);
	handshake_ok(kbuf_str(&g_future.cert_pem), kbuf_str(&g_future.key_pem),
		     g_future.not_before - 1, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
}

/*
 * Signs a certificate with PKI A's CA outside the module, to make what
 * tls_client_issue never makes: no clientAuth, or no extended key usage at all.
 */
static void make_odd_cert(const char *kp_oid, gnutls_datum_t *cert_pem, gnutls_datum_t *key_pem)
{
	char path[PATH_MAX];
	char *ca_pem, *ca_key_pem;
	gnutls_datum_t d;
	gnutls_x509_crt_t ca, crt;
	gnutls_x509_privkey_t ca_key, key;
	uint8_t serial[16] = {0x11, 0x22};
	size_t len;

	path_join(path, sizeof path, g_dir_a, "ca.pem");
	ca_pem = slurp(path, &len);
	path_join(path, sizeof path, g_dir_a, "ca.key");
	ca_key_pem = slurp(path, NULL);
	assert_int_equal(gnutls_x509_crt_init(&ca), 0);
	d.data = (unsigned char *)ca_pem;
	d.size = (unsigned)len;
	assert_int_equal(gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_privkey_init(&ca_key), 0);
	d.data = (unsigned char *)ca_key_pem;
	d.size = (unsigned)strlen(ca_key_pem);
	assert_int_equal(gnutls_x509_privkey_import2(ca_key, &d, GNUTLS_X509_FMT_PEM, CA_PASS, 0),
			 0);
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(
				 key, GNUTLS_PK_ECDSA,
				 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
			 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
	assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof serial), 0);
	assert_int_equal(gnutls_x509_crt_set_activation_time(crt, (time_t)(g_now - 60)), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, (time_t)(g_now + DAY)), 0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
						       "mallory", 7),
			 0);
	assert_int_equal(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
	if (kp_oid)
		assert_int_equal(gnutls_x509_crt_set_key_purpose_oid(crt, kp_oid, 0), 0);
	assert_int_equal(gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, cert_pem), 0);
	assert_int_equal(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, key_pem), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(key);
	gnutls_x509_privkey_deinit(ca_key);
	free(ca_pem);
	free(ca_key_pem);
}

static void cert_without_client_auth_is_refused(void **state)
{
	gnutls_datum_t c, k;
	struct hs_result r;
	(void)state;

	make_odd_cert(GNUTLS_KP_TLS_WWW_SERVER, &c, &k);
	handshake_ok((const char *)c.data, (const char *)k.data, g_now, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "clientAuth"));
	peer_untouched(&r.peer);
	gnutls_free(c.data);
	gnutls_free(k.data);

	/* GnuTLS alone would accept a certificate with no extended key usage. */
	make_odd_cert(NULL, &c, &k);
	handshake_ok((const char *)c.data, (const char *)k.data, g_now, &r);
	assert_int_equal(r.verify_rc, KINKO_EAUTH);
	assert_non_null(strstr(r.err.msg, "clientAuth"));
	gnutls_free(c.data);
	gnutls_free(k.data);

	/* With clientAuth but no kinko identity: accepted, with an empty UUID. */
	make_odd_cert(GNUTLS_KP_TLS_WWW_CLIENT, &c, &k);
	handshake_ok((const char *)c.data, (const char *)k.data, g_now, &r);
	assert_int_equal(r.verify_rc, 0);
	assert_string_equal(r.peer.user_name, "mallory");
	assert_string_equal(r.peer.user_uuid, "");
	gnutls_free(c.data);
	gnutls_free(k.data);

	/* The server's own certificate (serverAuth only) cannot log in as a client. */
	{
		char path[PATH_MAX];
		char *sc, *sk;
		path_join(path, sizeof path, g_dir_a, "server.pem");
		sc = slurp(path, NULL);
		path_join(path, sizeof path, g_dir_a, "server.key");
		sk = slurp(path, NULL);
		handshake_ok(sc, sk, g_now, &r);
		assert_int_equal(r.verify_rc, KINKO_EAUTH);
		free(sc);
		free(sk);
	}
}

static void peer_verify_rejects_null(void **state)
{
	struct tls_peer p;
	struct kinko_err e = {0};
	(void)state;
	assert_int_equal(tls_peer_verify(NULL, g_now, &p, &e), KINKO_EINVAL);
}

/* ------------------------------------------------------------ PKI files */

static void pki_files_modes_and_refusal(void **state)
{
	const char *names[] = {"localhost"};
	char path[PATH_MAX], sub[PATH_MAX];
	struct kinko_err e = {0};
	char *before, *after;
	(void)state;

	assert_int_equal(mode_of(g_dir_a), 0700);
	path_join(path, sizeof path, g_dir_a, "ca.key");
	assert_int_equal(mode_of(path), 0600);
	before = slurp(path, NULL);
	assert_non_null(strstr(before, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	path_join(path, sizeof path, g_dir_a, "server.key");
	assert_int_equal(mode_of(path), 0600);
	path_join(path, sizeof path, g_dir_a, "ca.pem");
	assert_int_equal(mode_of(path), 0644);
	path_join(path, sizeof path, g_dir_a, "server.pem");
	assert_int_equal(mode_of(path), 0644);
	/* Without a password the CA key is plain PKCS#8. */
	path_join(path, sizeof path, g_dir_b, "ca.key");
	after = slurp(path, NULL);
	assert_non_null(strstr(after, "-----BEGIN PRIVATE KEY-----"));
	free(after);

	/* An existing PKI is never replaced. */
	assert_int_equal(tls_pki_create(g_dir_a, names, 1, CA_PASS, &e), KINKO_EEXIST);
	assert_non_null(strstr(e.msg, "already exists"));
	path_join(path, sizeof path, g_dir_a, "ca.key");
	after = slurp(path, NULL);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* Not even a partial one: one file present, nothing else gets written. */
	path_join(sub, sizeof sub, g_root, "partial");
	assert_int_equal(mkdir(sub, 0700), 0);
	path_join(path, sizeof path, sub, "server.pem");
	fclose(fopen(path, "w"));
	assert_int_equal(tls_pki_create(sub, names, 1, NULL, &e), KINKO_EEXIST);
	path_join(path, sizeof path, sub, "ca.key");
	assert_int_equal(access(path, F_OK), -1);
	path_join(path, sizeof path, sub, "ca.pem");
	assert_int_equal(access(path, F_OK), -1);
}

static void pki_rejects_bad_input(void **state)
{
	const char *bad[] = {"bad name", "-x.example", "a..b", "", "x.example.", "a_b",
			     "1.2.3.4.5:80"};
	const char *good[] = {"localhost"};
	char sub[PATH_MAX], path[PATH_MAX];
	struct kinko_err e = {0};
	size_t i;
	(void)state;

	path_join(sub, sizeof sub, g_root, "bad");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *one[1] = {bad[i]};
		assert_int_equal(tls_pki_create(sub, one, 1, NULL, &e), KINKO_EINVAL);
	}
	assert_int_equal(tls_pki_create(sub, good, 0, NULL, &e), KINKO_EINVAL);
	assert_int_equal(tls_pki_create(sub, NULL, 1, NULL, &e), KINKO_EINVAL);
	assert_int_equal(tls_pki_create(sub, good, 1, "", &e), KINKO_EINVAL);
	assert_int_equal(tls_pki_create("", good, 1, NULL, &e), KINKO_EINVAL);
	/* Nothing was created by any of these. */
	assert_int_equal(access(sub, F_OK), -1);
	path_join(path, sizeof path, g_root, "nonexistent/deeper");
	assert_int_equal(tls_pki_create(path, good, 1, NULL, &e), KINKO_EIO);
}

static void ca_key_needs_its_password(void **state)
{
	char path[PATH_MAX];
	char *pem;
	gnutls_x509_privkey_t k;
	gnutls_datum_t d;
	struct tls_bundle b;
	struct kinko_err e = {0};
	(void)state;

	path_join(path, sizeof path, g_dir_a, "ca.key");
	pem = slurp(path, NULL);
	d.data = (unsigned char *)pem;
	d.size = (unsigned)strlen(pem);
	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_true(gnutls_x509_privkey_import2(k, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0);
	assert_true(gnutls_x509_privkey_import2(k, &d, GNUTLS_X509_FMT_PEM, "wrong", 0) < 0);
	assert_true(gnutls_x509_privkey_import(k, &d, GNUTLS_X509_FMT_PEM) < 0);
	assert_int_equal(gnutls_x509_privkey_import2(k, &d, GNUTLS_X509_FMT_PEM, CA_PASS, 0), 0);
	gnutls_x509_privkey_deinit(k);
	free(pem);

	memset(&b, 0x5a, sizeof b);
	assert_int_equal(tls_client_issue(g_dir_a, NULL, "alice", UUID_A, g_now, g_now + DAY,
					  P12_PASS, &b, &e),
			 KINKO_EAUTH);
	assert_non_null(strstr(e.msg, "password"));
	assert_int_equal(tls_client_issue(g_dir_a, "wrong", "alice", UUID_A, g_now, g_now + DAY,
					  P12_PASS, &b, &e),
			 KINKO_EAUTH);
	assert_null(strstr(e.msg, "wrong\"")); /* the password is not echoed */
	assert_int_equal(b.not_before, (int64_t)0x5a5a5a5a5a5a5a5aLL); /* untouched */
	path_join(path, sizeof path, g_root, "nowhere");
	assert_int_equal(tls_client_issue(path, NULL, "alice", UUID_A, g_now, g_now + DAY,
					  P12_PASS, &b, &e),
			 KINKO_ENOENT);
}

static void issue_rejects_bad_input(void **state)
{
	struct tls_bundle b;
	struct kinko_err e = {0};
	char longname[200];
	(void)state;

	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
#define ISSUE(name, uuid, nb, na, pass)                                                          \
	tls_client_issue(g_dir_b, NULL, name, uuid, nb, na, pass, &b, &e)
	assert_int_equal(ISSUE("alice", "3F2504E0-4F89-41D3-9A0C-0305E82C3301", g_now,
			       g_now + DAY, "p"),
			 KINKO_EINVAL);
	assert_int_equal(ISSUE("alice", "3f2504e0-4f89-41d3-9a0c-0305e82c330", g_now,
			       g_now + DAY, "p"),
			 KINKO_EINVAL);
	assert_int_equal(ISSUE("alice", "3f2504e0-4f89-41d3-9a0c-0305e82c33011", g_now,
			       g_now + DAY, "p"),
			 KINKO_EINVAL);
	assert_int_equal(ISSUE("", UUID_A, g_now, g_now + DAY, "p"), KINKO_EINVAL);
	assert_int_equal(ISSUE("al\nice", UUID_A, g_now, g_now + DAY, "p"), KINKO_EINVAL);
	assert_int_equal(ISSUE("al\xc3", UUID_A, g_now, g_now + DAY, "p"), KINKO_EINVAL);
	assert_int_equal(ISSUE("\xc0\xaf", UUID_A, g_now, g_now + DAY, "p"), KINKO_EINVAL);
	assert_int_equal(ISSUE(longname, UUID_A, g_now, g_now + DAY, "p"), KINKO_EINVAL);
	assert_int_equal(ISSUE("alice", UUID_A, g_now, g_now, "p"), KINKO_EINVAL);
	assert_int_equal(ISSUE("alice", UUID_A, g_now + 1, g_now, "p"), KINKO_EINVAL);
	assert_int_equal(ISSUE("alice", UUID_A, g_now, g_now + DAY, ""), KINKO_EINVAL);
	assert_int_equal(ISSUE("alice", UUID_A, g_now, g_now + 20LL * 365 * DAY, "p"),
			 KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "outlive the CA"));
#undef ISSUE
}

static void issued_cert_contents(void **state)
{
	gnutls_x509_crt_t crt, ca;
	gnutls_datum_t d;
	char buf[256];
	uint8_t fp[32], serial[32];
	char hex[65];
	size_t size;
	unsigned usage, crit;
	struct tls_bundle b;
	struct kinko_err e = {0};
	(void)state;

	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	d.data = g_valid.cert_pem.data;
	d.size = (unsigned)g_valid.cert_pem.len;
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	size = sizeof buf;
	assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
						       buf, &size),
			 0);
	assert_string_equal(buf, "alice");
	size = sizeof buf;
	assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_LDAP_UID, 0, 0, buf, &size),
			 0);
	assert_string_equal(buf, UUID_A);
	size = sizeof buf;
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 0, buf, &size, &crit),
			 GNUTLS_SAN_URI);
	assert_string_equal(buf, "urn:kinko:user:" UUID_A);
	size = sizeof buf;
	assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(crt, 0, buf, &size, &crit), 0);
	assert_string_equal(buf, GNUTLS_KP_TLS_WWW_CLIENT);
	assert_int_equal(gnutls_x509_crt_get_key_usage(crt, &usage, &crit), 0);
	assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
	assert_int_equal(gnutls_x509_crt_get_ca_status(crt, &crit), 0);
	assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, NULL), GNUTLS_PK_ECDSA);
	assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt), GNUTLS_SIGN_ECDSA_SHA256);
	size = sizeof serial;
	assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &size), 0);
	assert_int_equal(size, 16);
	assert_int_equal((int64_t)gnutls_x509_crt_get_activation_time(crt), g_now - 60);
	assert_int_equal((int64_t)gnutls_x509_crt_get_expiration_time(crt), g_now + DAY);
	assert_int_equal(g_valid.not_before, g_now - 60);
	assert_int_equal(g_valid.not_after, g_now + DAY);
	size = sizeof fp;
	assert_int_equal(gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &size), 0);
	format_hex(fp, 32, hex);
	assert_string_equal(hex, g_valid.fingerprint);

	/* Issued by A's CA, and the CA is what the bundle carries. */
	assert_int_equal(gnutls_x509_crt_init(&ca), 0);
	d.data = (unsigned char *)g_ca_a;
	d.size = (unsigned)strlen(g_ca_a);
	assert_int_equal(gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crt_check_issuer(crt, ca), 1);
	assert_int_equal(gnutls_x509_crt_get_ca_status(ca, &crit), 1);
	assert_true((int64_t)gnutls_x509_crt_get_expiration_time(ca) >
		    g_now + (int64_t)(TLS_CA_DAYS - 1) * DAY);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(crt);

	/* Two issues give different keys and serials; a Japanese name is fine. */
	assert_int_equal(tls_client_issue(g_dir_b, NULL, "山田 太郎", UUID_A, g_now,
					  g_now + DAY, "x", &b, &e),
			 0);
	assert_string_not_equal(b.fingerprint, g_other.fingerprint);
	assert_true(strcmp(kbuf_str(&b.key_pem), kbuf_str(&g_other.key_pem)) != 0);
	tls_bundle_free(&b);
	tls_bundle_free(NULL);
}

static void p12_opens_with_right_password_only(void **state)
{
	gnutls_pkcs12_t p12;
	gnutls_pkcs12_bag_t bag;
	gnutls_datum_t d, data;
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t *chain = NULL;
	unsigned chain_len = 0, i, schema, cipher, iter;
	uint8_t salt[64], fp[32];
	unsigned salt_size;
	char hex[65];
	size_t size;
	int idx, bags = 0, saw_key = 0;
	(void)state;

	assert_int_equal(gnutls_pkcs12_init(&p12), 0);
	d.data = g_valid.p12.data;
	d.size = (unsigned)g_valid.p12.len;
	assert_int_equal(gnutls_pkcs12_import(p12, &d, GNUTLS_X509_FMT_DER, 0), 0);
	assert_int_equal(gnutls_pkcs12_verify_mac(p12, P12_PASS), 0);
	assert_true(gnutls_pkcs12_verify_mac(p12, "wrong") < 0);
	assert_true(gnutls_pkcs12_verify_mac(p12, "") < 0);

	/* MAC: HMAC-SHA-256. */
	{
		unsigned mac, mac_iter;
		salt_size = sizeof salt;
		assert_int_equal(gnutls_pkcs12_mac_info(p12, &mac, salt, &salt_size, &mac_iter,
							NULL),
				 0);
		assert_int_equal(mac, GNUTLS_MAC_SHA256);
	}
	/* Every bag: PBES2 with AES-256 (never RC2 or 3DES). */
	for (i = 0;; i++) {
		assert_int_equal(gnutls_pkcs12_bag_init(&bag), 0);
		idx = gnutls_pkcs12_get_bag(p12, (int)i, bag);
		if (idx == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
			gnutls_pkcs12_bag_deinit(bag);
			break;
		}
		assert_int_equal(idx, 0);
		bags++;
		if (gnutls_pkcs12_bag_get_type(bag, 0) == GNUTLS_BAG_ENCRYPTED) {
			salt_size = sizeof salt;
			assert_int_equal(gnutls_pkcs12_bag_enc_info(bag, &schema, &cipher, salt,
								    &salt_size, &iter, NULL),
					 0);
			assert_int_equal(schema, GNUTLS_PKCS_PBES2_AES_256);
			assert_int_equal(cipher, GNUTLS_CIPHER_AES_256_CBC);
			assert_true(gnutls_pkcs12_bag_decrypt(bag, "wrong") < 0);
		} else {
			assert_int_equal(gnutls_pkcs12_bag_get_type(bag, 0),
					 GNUTLS_BAG_PKCS8_ENCRYPTED_KEY);
			assert_int_equal(gnutls_pkcs12_bag_get_data(bag, 0, &data), 0);
			salt_size = sizeof salt;
			assert_int_equal(gnutls_pkcs8_info(&data, GNUTLS_X509_FMT_DER, &schema,
							   &cipher, salt, &salt_size, &iter,
							   NULL),
					 0);
			assert_int_equal(schema, GNUTLS_PKCS_PBES2_AES_256);
			assert_int_equal(cipher, GNUTLS_CIPHER_AES_256_CBC);
			saw_key = 1;
		}
		gnutls_pkcs12_bag_deinit(bag);
	}
	assert_int_equal(bags, 2);
	assert_true(saw_key);

	/* The way a TLS client loads it: key + chain, leaf first. */
	assert_true(gnutls_pkcs12_simple_parse(p12, "wrong", &key, &chain, &chain_len, NULL, NULL,
					       NULL, 0) < 0);
	assert_int_equal(gnutls_pkcs12_simple_parse(p12, P12_PASS, &key, &chain, &chain_len, NULL,
						    NULL, NULL, 0),
			 0);
	assert_true(chain_len >= 1);
	size = sizeof fp;
	assert_int_equal(gnutls_x509_crt_get_fingerprint(chain[0], GNUTLS_DIG_SHA256, fp, &size),
			 0);
	format_hex(fp, 32, hex);
	assert_string_equal(hex, g_valid.fingerprint);
	assert_int_equal(gnutls_x509_privkey_get_pk_algorithm(key), GNUTLS_PK_ECDSA);
	for (i = 0; i < chain_len; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	gnutls_x509_privkey_deinit(key);
	gnutls_pkcs12_deinit(p12);
}

static void server_creds_load_checks(void **state)
{
	struct tls_server_creds c = {0}, untouched;
	struct kinko_err e = {0};
	char path[PATH_MAX], sub[PATH_MAX], from[PATH_MAX];
	const char *files[] = {"server.pem", "ca.pem"};
	size_t i;
	(void)state;

	assert_int_equal(tls_server_creds_load(g_dir_a, &c, &e), 0);
	assert_non_null(strstr(c.key_pem, "-----BEGIN PRIVATE KEY-----"));
	assert_non_null(strstr(c.cert_pem, "-----BEGIN CERTIFICATE-----"));
	assert_string_equal(c.trust_pem, g_ca_a);
	tls_server_creds_free(&c);
	tls_server_creds_free(&c); /* idempotent */
	tls_server_creds_free(NULL);

	memset(&untouched, 0, sizeof untouched);
	path_join(path, sizeof path, g_root, "missing");
	assert_int_equal(tls_server_creds_load(path, &c, &e), KINKO_ENOENT);

	/* A key others can read is refused. */
	path_join(path, sizeof path, g_dir_b, "server.key");
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(tls_server_creds_load(g_dir_b, &c, &e), KINKO_EPERM);
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_memory_equal(&c, &untouched, sizeof c);

	/* A's certificates with B's key: a mismatch, reported as such. */
	path_join(sub, sizeof sub, g_root, "mixed");
	assert_int_equal(mkdir(sub, 0700), 0);
	for (i = 0; i < 2; i++) {
		char *p;
		size_t n;
		FILE *f;
		path_join(from, sizeof from, g_dir_a, files[i]);
		p = slurp(from, &n);
		path_join(path, sizeof path, sub, files[i]);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(p, 1, n, f), n);
		fclose(f);
		free(p);
	}
	{
		char *p;
		size_t n;
		FILE *f;
		path_join(from, sizeof from, g_dir_b, "server.key");
		p = slurp(from, &n);
		path_join(path, sizeof path, sub, "server.key");
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(p, 1, n, f), n);
		fclose(f);
		free(p);
		assert_int_equal(chmod(path, 0600), 0);
	}
	assert_int_equal(tls_server_creds_load(sub, &c, &e), KINKO_EFORMAT);
	assert_non_null(strstr(e.msg, "does not belong"));
	assert_memory_equal(&c, &untouched, sizeof c);
}

static void bundle_write_files(void **state)
{
	char prefix[256], path[PATH_MAX];
	struct kinko_err e = {0};
	char *p;
	size_t n;
	(void)state;

	path_join(prefix, sizeof prefix, g_root, "alice");
	assert_int_equal(tls_bundle_write(&g_valid, prefix, &e), 0);
	snprintf(path, sizeof path, "%s.key", prefix);
	assert_int_equal(mode_of(path), 0600);
	p = slurp(path, &n);
	assert_int_equal(n, g_valid.key_pem.len);
	assert_memory_equal(p, g_valid.key_pem.data, n);
	free(p);
	snprintf(path, sizeof path, "%s.p12", prefix);
	assert_int_equal(mode_of(path), 0600);
	p = slurp(path, &n);
	assert_int_equal(n, g_valid.p12.len);
	assert_memory_equal(p, g_valid.p12.data, n);
	free(p);
	snprintf(path, sizeof path, "%s.pem", prefix);
	assert_int_equal(mode_of(path), 0644);
	snprintf(path, sizeof path, "%s-ca.pem", prefix);
	assert_int_equal(access(path, F_OK), -1);
	/* Never over an existing file. */
	assert_int_equal(tls_bundle_write(&g_expired, prefix, &e), KINKO_EEXIST);
	snprintf(path, sizeof path, "%s.pem", prefix);
	p = slurp(path, &n);
	assert_string_equal(p, kbuf_str(&g_valid.cert_pem));
	free(p);
}

/* ------------------------------------------------------ server renewal */

static int dir_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void server_renewal(void **state)
{
	const char *names[] = {"localhost", "127.0.0.1", "::1", "kinko.example.jp"};
	const char *next[] = {"vault.example.jp", "192.0.2.7", "2001:db8::1"};
	const char *bad[] = {"localhost", "no spaces"};
	struct tls_server_renewal r;
	struct tls_server_names got;
	struct tls_server_creds creds = {0};
	struct kinko_err e = {0};
	char dir[160], p[256];
	char *pem0, *key0;
	int64_t end = 0;
	(void)state;

	snprintf(dir, sizeof dir, "%s/renew", g_root);
	assert_int_equal(tls_pki_create(dir, names, 4, CA_PASS, &e), 0);
	assert_int_equal(tls_server_names_read(dir, &got, &e), 0);
	assert_int_equal(got.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(got.name[i], names[i]);
	pem0 = read_text(dir, "server.pem");
	key0 = read_text(dir, "server.key");

	/* Refused: wrong CA password, no names, a bad name. Nothing changes. */
	assert_int_equal(tls_server_renew(dir, "wrong", next, 3, &r, &e), KINKO_EAUTH);
	assert_int_equal(tls_server_renew(dir, CA_PASS, next, 0, &r, &e), KINKO_EINVAL);
	assert_int_equal(tls_server_renew(dir, CA_PASS, bad, 2, &r, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "no spaces"));
	/* Made, then discarded: nothing changes either. A killed renewal's leftover
	 * goes; a second renewal meanwhile is refused. */
	{
		char stale[256];
		FILE *f;
		struct tls_server_renewal r2;
		snprintf(stale, sizeof stale, "%s/server.key.tmp-AbC123", dir);
		assert_non_null(f = fopen(stale, "w"));
		fclose(f);
		assert_int_equal(dir_count(dir), 5);
		assert_int_equal(tls_server_renew(dir, CA_PASS, next, 3, &r, &e), 0);
		assert_int_equal(access(stale, F_OK), -1);
		assert_int_equal(tls_server_renew(dir, CA_PASS, next, 3, &r2, &e), KINKO_ECONFLICT);
		tls_server_renew_discard(&r2); /* empty after a failure: harmless */
	}
	assert_int_equal(dir_count(dir), 6); /* the two new files wait beside the four */
	tls_server_renew_discard(&r);
	tls_server_renew_discard(&r); /* twice is harmless */
	assert_int_equal(dir_count(dir), 4);
	pair_is(dir, pem0, key0, true);

	/* Made and installed: a matching pair for the new names, two years, with the
	 * old key's mode (group-readable here, as Debian's ssl-cert group has it). */
	path_join(p, sizeof p, dir, "server.key");
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(tls_server_renew(dir, CA_PASS, next, 3, &r, &e), 0);
	assert_int_equal(tls_server_renew_install(&r, &e), 0);
	assert_int_equal(dir_count(dir), 4);
	assert_int_equal(mode_of(p), 0640);
	path_join(p, sizeof p, dir, "server.pem");
	assert_int_equal(mode_of(p), 0644);
	pair_is(dir, pem0, key0, false);
	assert_int_equal(tls_server_creds_load(dir, &creds, &e), 0);
	tls_server_creds_free(&creds);
	assert_int_equal(tls_server_names_read(dir, &got, &e), 0);
	assert_int_equal(got.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(got.name[i], next[i]);
	assert_int_equal(tls_server_not_after(dir, &end, &e), 0);
	assert_int_equal(end, r.not_after);
	assert_true(end > (int64_t)time(NULL) + (TLS_SERVER_DAYS - 1) * (int64_t)DAY);
	assert_true(end <= (int64_t)time(NULL) + TLS_SERVER_DAYS * (int64_t)DAY);
	assert_int_equal(strlen(r.fingerprint), 64);
	/* Clients verify it for a new name against the same CA; the dropped name fails. */
	{
		char *ca = read_text(dir, "ca.pem");
		struct tls_bundle b;
		struct hs_result h;
		int64_t now = (int64_t)time(NULL);

		assert_int_equal(tls_client_issue(dir, CA_PASS, "dave", UUID_A, now - 60, now + DAY,
						  P12_PASS, &b, &e),
				 0);
		handshake(dir, now, "NORMAL", ca, "vault.example.jp", kbuf_str(&b.cert_pem),
			  kbuf_str(&b.key_pem), &h);
		assert_int_equal(h.client_rc, 0);
		assert_int_equal(h.verify_rc, 0);
		handshake(dir, now, "NORMAL", ca, "kinko.example.jp", kbuf_str(&b.cert_pem),
			  kbuf_str(&b.key_pem), &h);
		assert_true(h.client_rc < 0);
		tls_bundle_free(&b);
		free(ca);
	}
	free(pem0);
	free(key0);
}

/* A DNS name of the longest length kinko issues is read back whole; entries kinko
 * does not issue are counted, not fatal. */
static void server_names_longest(void **state)
{
	char longest[254], dir[160];
	const char *names[2] = {longest, "localhost"};
	struct tls_server_names got;
	struct kinko_err e = {0};
	(void)state;

	memset(longest, 'a', 253);
	longest[63] = longest[127] = longest[191] = '.';
	longest[253] = '\0';
	snprintf(dir, sizeof dir, "%s/longest", g_root);
	assert_int_equal(tls_pki_create(dir, names, 2, NULL, &e), 0);
	assert_int_equal(tls_server_names_read(dir, &got, &e), 0);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.dropped, 0);
	assert_string_equal(got.name[0], longest);
	assert_string_equal(got.name[1], "localhost");
}

/* ---------------------------------------------------------------- tls_pull */

#define PULL_BULK_SIZES 37

/* Record sizes the client sends: the smallest, around the 5-byte side buffer, and
 * up to the largest record, in an order that makes every kind of split. */
static size_t pull_size(unsigned i)
{
	static const size_t sizes[] = {1, 4, 5, 6, 7, 16, 17, 100, 4096, 16383, 16384, 9000, 2};
	return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

static uint8_t pull_byte(size_t i)
{
	return (uint8_t)(i * 2654435761u >> 11);
}

struct pull_arg {
	int fd;
	int gate; /* read end: the client writes a byte once both small records are out */
	int polled; /* write end: the server writes a byte once it has polled */
	size_t bulk;
	int handshake_rc;
	ssize_t first, second;
	int readable; /* poll() on the socket between the two small records */
	size_t got;   /* bulk bytes received and matching */
};

static void *pull_server_main(void *p)
{
	struct pull_arg *a = p;
	struct tls_server_creds creds = {0};
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	struct tls_pull *t = NULL;
	gnutls_datum_t k, c;
	struct kinko_err e = {0};
	uint8_t buf[20000];
	char gate;

	a->handshake_rc = -1;
	if (tls_server_creds_load(g_dir_a, &creds, &e))
		goto out;
	k = pem_datum(creds.key_pem);
	c = pem_datum(creds.cert_pem);
	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_init(&s, GNUTLS_SERVER) < 0 ||
	    gnutls_priority_set_direct(s, tls_priorities(), NULL) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		goto out;
	gnutls_transport_set_int(s, a->fd);
	t = tls_pull_attach(s, a->fd); /* the handshake goes through it too */
	if (!t)
		goto out;
	a->handshake_rc = do_handshake(s);
	if (a->handshake_rc)
		goto out;
	/* Both small records are on the socket before the first is read. Once the
	 * first is read, the rest of the second must still be there for poll() to
	 * see: a transport that had read it ahead would leave an event loop waiting
	 * on the socket for ever. */
	if (read(a->gate, &gate, 1) != 1)
		goto out;
	a->first = gnutls_record_recv(s, buf, sizeof buf);
	{
		struct pollfd pf = {.fd = a->fd, .events = POLLIN};
		a->readable = poll(&pf, 1, 0);
	}
	if (write(a->polled, "x", 1) != 1) /* now the bulk may come */
		goto out;
	a->second = gnutls_record_recv(s, buf, sizeof buf);
	while (a->got < a->bulk) {
		ssize_t n = gnutls_record_recv(s, buf, sizeof buf);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pull_byte(a->got + (size_t)i))
				goto out;
		a->got += (size_t)n;
	}
out:
	if (s)
		gnutls_deinit(s);
	tls_pull_free(t);
	if (cred)
		gnutls_certificate_free_credentials(cred);
	tls_server_creds_free(&creds);
	close(a->fd);
	close(a->polled); /* a server that failed early does not leave the client waiting */
	return NULL;
}

static void pull_reads_whole_records_and_hides_none(void **state)
{
	int sv[2], gate[2], polled[2];
	char x;
	pthread_t th;
	struct pull_arg a;
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	gnutls_datum_t ca;
	uint8_t small[1000], rec[16384];
	size_t sent = 0;
	(void)state;

	memset(&a, 0, sizeof a);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(pipe(polled), 0);
	set_timeouts(sv[0]);
	set_timeouts(sv[1]);
	a.fd = sv[1];
	a.gate = gate[0];
	a.polled = polled[1];
	for (unsigned i = 0; i < PULL_BULK_SIZES * 4; i++)
		a.bulk += pull_size(i);
	assert_int_equal(pthread_create(&th, NULL, pull_server_main, &a), 0);

	assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
	ca = pem_datum(g_ca_a);
	assert_int_equal(gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM), 1);
	assert_int_equal(gnutls_init(&s, GNUTLS_CLIENT), 0);
	assert_int_equal(gnutls_priority_set_direct(s, "NORMAL", NULL), 0);
	assert_int_equal(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred), 0);
	gnutls_session_set_verify_cert(s, "localhost", 0);
	gnutls_transport_set_int(s, sv[0]);
	assert_int_equal(do_handshake(s), 0);

	memset(small, 'A', sizeof small);
	/* A larger record, then one so small that a transport reading further ahead
	 * than a header would take all of it along with the first. */
	assert_int_equal(gnutls_record_send(s, small, 1000), 1000);
	assert_int_equal(gnutls_record_send(s, small, 20), 20);
	assert_int_equal(write(gate[1], "x", 1), 1);
	assert_int_equal(read(polled[0], &x, 1), 1);
	for (unsigned i = 0; i < PULL_BULK_SIZES * 4; i++) {
		size_t n = pull_size(i);
		for (size_t j = 0; j < n; j++)
			rec[j] = pull_byte(sent + j);
		assert_int_equal(gnutls_record_send(s, rec, n), (ssize_t)n);
		sent += n;
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	close(sv[0]);
	close(gate[0]);
	close(gate[1]);
	close(polled[0]);

	assert_int_equal(a.handshake_rc, 0);
	assert_int_equal(a.first, 1000); /* one record per read, as before */
	assert_int_equal(a.readable, 1);
	assert_int_equal(a.second, 20);
	assert_int_equal(a.got, a.bulk);
}

static void priorities_are_tls13_only(void **state)
{
	gnutls_priority_t prio;
	const char *err = NULL;
	(void)state;

	assert_non_null(strstr(tls_priorities(), "-VERS-ALL:+VERS-TLS1.3"));
	assert_null(strstr(tls_priorities(), "VERS-TLS1.2"));
	assert_int_equal(gnutls_priority_init(&prio, tls_priorities(), &err), 0);
	gnutls_priority_deinit(prio);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(priorities_are_tls13_only),
		cmocka_unit_test(pki_files_modes_and_refusal),
		cmocka_unit_test(pki_rejects_bad_input),
		cmocka_unit_test(ca_key_needs_its_password),
		cmocka_unit_test(issue_rejects_bad_input),
		cmocka_unit_test(issued_cert_contents),
		cmocka_unit_test(p12_opens_with_right_password_only),
		cmocka_unit_test(server_creds_load_checks),
		cmocka_unit_test(bundle_write_files),
		cmocka_unit_test(valid_client_is_accepted),
		cmocka_unit_test(server_name_ip_literals_verify),
		cmocka_unit_test(server_cipher_order_wins),
		cmocka_unit_test(tls12_client_fails),
		cmocka_unit_test(no_client_cert_is_refused),
		cmocka_unit_test(other_ca_is_refused),
		cmocka_unit_test(expired_and_future_are_refused),
		cmocka_unit_test(cert_without_client_auth_is_refused),
		cmocka_unit_test(peer_verify_rejects_null),
		cmocka_unit_test(pull_reads_whole_records_and_hides_none),
		cmocka_unit_test(server_renewal),
		cmocka_unit_test(server_names_longest),
	};
	int rc;

	if (kinko_crypto_init())
		return 1;
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	gnutls_global_deinit();
	return rc;
}
