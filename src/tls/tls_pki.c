/*
 * tls_pki — creating the CA and server certificate, issuing client certificates.
 */
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>

#include "core/stream.h"
#include "crypto/crypto.h"
#include "tls/tls_int.h"

#define DAY 86400
/* Backdate new certificates a little so a client whose clock is a few minutes
 * behind the server's does not see them as not yet valid. */
#define BACKDATE 300
#define LAST_TIME 253402300799LL /* 9999-12-31 23:59:59 UTC */
#define BUNDLE_MAX (256 * 1024)
#define P12_PASSWORD_MAX 1024
#define CA_PASSWORD_MAX 1024
#define KINKO_URN_PREFIX "urn:kinko:user:"

static const char *const PKI_FILES[] = {"ca.key", "ca.pem", "server.key", "server.pem"};

static int gtls_fail(struct kinko_err *e, int grc, const char *what)
{
	return kinko_err_set(e, grc == GNUTLS_E_MEMORY_ERROR ? KINKO_ENOMEM : KINKO_ECRYPTO,
			     "%s: %s", what, gnutls_strerror(grc));
}

/* Frees a datum gnutls allocated for us, wiping it first (it may be a key). */
static void datum_wipe_free(gnutls_datum_t *d)
{
	if (d->data) {
		kinko_wipe(d->data, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

static int key_generate(gnutls_x509_privkey_t *out, struct kinko_err *e)
{
	gnutls_x509_privkey_t key;
	int g;

	if ((g = gnutls_x509_privkey_init(&key)) < 0)
		return gtls_fail(e, g, "allocating a key");
	g = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (g < 0) {
		gnutls_x509_privkey_deinit(key);
		return gtls_fail(e, g, "generating an ECDSA P-256 key");
	}
	*out = key;
	return 0;
}

/*
 * Sets what every certificate we make shares: version 3, a random positive
 * 16-byte serial, the validity, the public key and its subject key identifier.
 * OpenSSL's strict verification (Python 3.13 turns it on by default) wants the
 * key identifiers, so they are always present.
 */
static int crt_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, int64_t not_before,
		      int64_t not_after, struct kinko_err *e)
{
	uint8_t serial[16], kid[64];
	size_t kidlen = sizeof kid;
	int g;

	kinko_random(serial, sizeof serial);
	/* DER INTEGERs are signed and minimal: clear the top bit, keep the first
	 * byte non-zero. */
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x01);
	if ((g = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (g = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
	    (g = gnutls_x509_crt_set_activation_time(crt, (time_t)not_before)) < 0 ||
	    (g = gnutls_x509_crt_set_expiration_time(crt, (time_t)not_after)) < 0 ||
	    (g = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (g = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, kid, &kidlen)) < 0 ||
	    (g = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen)) < 0)
		return gtls_fail(e, g, "preparing a certificate");
	return 0;
}

static int crt_sign(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer,
		    gnutls_x509_privkey_t issuer_key, struct kinko_err *e)
{
	uint8_t kid[64];
	size_t kidlen = sizeof kid;
	unsigned int critical;
	int g;

	if ((g = gnutls_x509_crt_get_subject_key_id(issuer, kid, &kidlen, &critical)) < 0 ||
	    (g = gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen)) < 0 ||
	    (g = gnutls_x509_crt_sign2(crt, issuer, issuer_key, GNUTLS_DIG_SHA256, 0)) < 0)
		return gtls_fail(e, g, "signing a certificate");
	return 0;
}

static int export_crt(gnutls_x509_crt_t crt, gnutls_datum_t *out, struct kinko_err *e)
{
	int g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, out);
	return g < 0 ? gtls_fail(e, g, "encoding a certificate") : 0;
}

static int export_key(gnutls_x509_privkey_t key, const char *password, gnutls_datum_t *out,
		      struct kinko_err *e)
{
	int g = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, password,
						  password ? GNUTLS_PKCS_PBES2_AES_256
							   : GNUTLS_PKCS_PLAIN,
						  out);
	return g < 0 ? gtls_fail(e, g, "encoding a private key") : 0;
}

static int dns_name_valid(const char *s)
{
	size_t n = strlen(s), label = 0, i;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[n - 1] != '-';
}

int tls_user_name_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	if (n == 0 || n > TLS_USER_NAME_MAX)
		return 0;
	while (i < n) {
		unsigned c = p[i];
		size_t k, more;
		unsigned cp, min;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			more = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		for (k = 1; k <= more; k++) {
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += more + 1;
	}
	return 1;
}

/* ---------------------------------------------------------------- create */

static int make_ca(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, int64_t now,
		   struct kinko_err *e)
{
	uint8_t tag[4];
	char cn[64];
	int g, rc;

	rc = crt_common(crt, key, now - BACKDATE, now + (int64_t)TLS_CA_DAYS * DAY, e);
	if (rc)
		return rc;
	/* A CA name of its own: two kinko installations' CAs must not share a
	 * subject, or verifiers looking an issuer up by name would confuse them. */
	kinko_random(tag, sizeof tag);
	snprintf(cn, sizeof cn, "kinko CA %02x%02x%02x%02x", tag[0], tag[1], tag[2], tag[3]);
	if ((g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
					       "kinko", 5)) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					       strlen(cn))) < 0 ||
	    (g = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
	    (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN |
							     GNUTLS_KEY_CRL_SIGN)) < 0 ||
	    (g = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
		return gtls_fail(e, g, "making the CA certificate");
	return 0;
}

static int make_server(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, gnutls_x509_crt_t ca,
		       gnutls_x509_privkey_t ca_key, const char *const *names, size_t nnames,
		       int64_t now, int64_t not_after, struct kinko_err *e)
{
	size_t i;
	int g, rc;

	rc = crt_common(crt, key, now - BACKDATE, not_after, e);
	if (rc)
		return rc;
	if ((g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
					       "kinko", 5)) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, names[0],
					       strlen(names[0]))) < 0 ||
	    (g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
		return gtls_fail(e, g, "making the server certificate");
	for (i = 0; i < nnames; i++) {
		uint8_t ip[16];
		if (inet_pton(AF_INET, names[i], ip) == 1)
			g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
								 GNUTLS_FSAN_APPEND);
		else if (inet_pton(AF_INET6, names[i], ip) == 1)
			g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
								 GNUTLS_FSAN_APPEND);
		else
			g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, names[i],
								 (unsigned)strlen(names[i]),
								 GNUTLS_FSAN_APPEND);
		if (g < 0)
			return gtls_fail(e, g, "adding a server name");
	}
	return crt_sign(crt, ca, ca_key, e);
}

static void remove_files(const char *dir, const int *written, size_t n)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < n; i++)
		if (written[i] && tls_path(path, sizeof path, dir, PKI_FILES[i], NULL) == 0)
			unlink(path);
}

int tls_server_name_check(const char *name, struct kinko_err *e)
{
	uint8_t ip[16];

	if (name && (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1 ||
		     dns_name_valid(name)))
		return 0;
	return kinko_err_set(e, KINKO_EINVAL,
			     "server name \"%.80s\" is neither a DNS name nor an IP address: use "
			     "names like kinko.example.jp or 192.0.2.10",
			     name ? name : "");
}

static int server_names_check(const char *const *names, size_t n, struct kinko_err *e)
{
	if (!names || n == 0 || n > TLS_SERVER_NAMES_MAX)
		return kinko_err_set(e, KINKO_EINVAL,
				     "give between 1 and %d server names (DNS names or IP "
				     "addresses) for the server certificate",
				     TLS_SERVER_NAMES_MAX);
	for (size_t i = 0; i < n; i++)
		if (tls_server_name_check(names[i], e))
			return KINKO_EINVAL;
	return 0;
}

int tls_pki_create(const char *dir, const char *const *server_names, size_t nnames,
		   const char *ca_key_password, struct kinko_err *e)
{
	gnutls_x509_privkey_t ca_key = NULL, srv_key = NULL;
	gnutls_x509_crt_t ca = NULL, srv = NULL;
	gnutls_datum_t out[4] = {{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}};
	static const mode_t modes[4] = {0600, 0644, 0600, 0644};
	int written[4] = {0, 0, 0, 0};
	char path[PATH_MAX];
	struct stat st;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int rc, g;

	if (!dir || !*dir)
		return kinko_err_set(e, KINKO_EINVAL, "no PKI directory given");
	if ((rc = server_names_check(server_names, nnames, e)))
		return rc;
	if (ca_key_password && (!*ca_key_password || strlen(ca_key_password) > CA_PASSWORD_MAX))
		return kinko_err_set(e, KINKO_EINVAL,
				     "the CA key password must be 1 to %d bytes, or none at all",
				     CA_PASSWORD_MAX);

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return kinko_err_set(e, KINKO_EIO, "cannot create the PKI directory %s: %s", dir,
				     strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return kinko_err_set(e, KINKO_EIO, "%s is not a directory", dir);
	/* A friendly early answer; the writes below refuse to replace anything
	 * anyway, so a race cannot make us overwrite a key. */
	for (i = 0; i < 4; i++) {
		if ((rc = tls_path(path, sizeof path, dir, PKI_FILES[i], e)))
			return rc;
		if (access(path, F_OK) == 0)
			return kinko_err_set(e, KINKO_EEXIST,
					     "%s already exists: this directory holds a PKI; "
					     "refusing to replace it",
					     path);
	}

	if ((rc = key_generate(&ca_key, e)) || (rc = key_generate(&srv_key, e)))
		goto out;
	if ((g = gnutls_x509_crt_init(&ca)) < 0 || (g = gnutls_x509_crt_init(&srv)) < 0) {
		rc = gtls_fail(e, g, "allocating a certificate");
		goto out;
	}
	if ((rc = make_ca(ca, ca_key, now, e)) ||
	    (rc = make_server(srv, srv_key, ca, ca_key, server_names, nnames, now,
			      now + (int64_t)TLS_SERVER_DAYS * DAY, e)))
		goto out;
	if ((rc = export_key(ca_key, ca_key_password, &out[0], e)) ||
	    (rc = export_crt(ca, &out[1], e)) || (rc = export_key(srv_key, NULL, &out[2], e)) ||
	    (rc = export_crt(srv, &out[3], e)))
		goto out;
	for (i = 0; i < 4; i++) {
		if ((rc = tls_path(path, sizeof path, dir, PKI_FILES[i], e)) ||
		    (rc = tls_file_write_new(path, out[i].data, out[i].size, modes[i], e))) {
			remove_files(dir, written, 4);
			goto out;
		}
		written[i] = 1;
	}
	rc = 0;
out:
	for (i = 0; i < 4; i++)
		datum_wipe_free(&out[i]);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (srv)
		gnutls_x509_crt_deinit(srv);
	if (ca_key)
		gnutls_x509_privkey_deinit(ca_key);
	if (srv_key)
		gnutls_x509_privkey_deinit(srv_key);
	return rc;
}

/* ----------------------------------------------------------------- issue */

/* Loads the CA certificate and key from dir and checks that they belong together. */
static int ca_load(const char *dir, const char *password, gnutls_x509_crt_t *crt_out,
		   gnutls_x509_privkey_t *key_out, struct kinko_err *e)
{
	struct tls_file kf = {0}, cf = {0};
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t d;
	uint8_t id1[64], id2[64];
	size_t l1 = sizeof id1, l2 = sizeof id2;
	char path[PATH_MAX];
	int rc, g;

	if ((rc = tls_path(path, sizeof path, dir, "ca.key", e)) ||
	    (rc = tls_file_read(path, 1, &kf, e)))
		return rc;
	if ((rc = tls_path(path, sizeof path, dir, "ca.pem", e)) ||
	    (rc = tls_file_read(path, 0, &cf, e)))
		goto out;
	if ((g = gnutls_x509_crt_init(&crt)) < 0 || (g = gnutls_x509_privkey_init(&key)) < 0) {
		rc = gtls_fail(e, g, "allocating the CA");
		goto out;
	}
	d.data = (unsigned char *)cf.data;
	d.size = (unsigned)cf.len;
	if ((g = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		rc = kinko_err_set(e, KINKO_EFORMAT, "%s/ca.pem is not a PEM certificate: %s", dir,
				   gnutls_strerror(g));
		goto out;
	}
	d.data = (unsigned char *)kf.data;
	d.size = (unsigned)kf.len;
	if (strstr(kf.data, "-----BEGIN ENCRYPTED PRIVATE KEY-----") && !password) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "the CA key in %s is encrypted: give its password", dir);
		goto out;
	}
	g = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, password, 0);
	if (g == GNUTLS_E_DECRYPTION_FAILED) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "the CA key password is wrong: give the password chosen "
				   "when the CA was created");
		goto out;
	}
	if (g < 0) {
		rc = kinko_err_set(e, password ? KINKO_EAUTH : KINKO_EFORMAT,
				   "cannot load the CA key in %s (%s): check the file and its "
				   "password",
				   dir, gnutls_strerror(g));
		goto out;
	}
	if ((g = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id1, &l1)) < 0 ||
	    (g = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, id2, &l2)) < 0) {
		rc = gtls_fail(e, g, "reading the CA key identifier");
		goto out;
	}
	if (l1 != l2 || memcmp(id1, id2, l1) != 0) {
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "ca.key in %s does not belong to ca.pem: restore the pair", dir);
		goto out;
	}
	*crt_out = crt;
	*key_out = key;
	crt = NULL;
	key = NULL;
	rc = 0;
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	tls_file_free(&kf);
	tls_file_free(&cf);
	return rc;
}

/* A fresh key and an empty certificate for it to be signed. */
static int new_leaf(gnutls_x509_privkey_t *key, gnutls_x509_crt_t *crt, struct kinko_err *e)
{
	int rc = key_generate(key, e), g;

	if (rc)
		return rc;
	if ((g = gnutls_x509_crt_init(crt)) < 0)
		return gtls_fail(e, g, "allocating a certificate");
	return 0;
}

/* Frees what new_leaf and ca_load made (any of them may be NULL). */
static void leaf_free(gnutls_x509_crt_t ca, gnutls_x509_privkey_t ca_key, gnutls_x509_crt_t crt,
		      gnutls_x509_privkey_t key)
{
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (ca_key)
		gnutls_x509_privkey_deinit(ca_key);
}

static int make_client(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, gnutls_x509_crt_t ca,
		       gnutls_x509_privkey_t ca_key, const char *user_name,
		       const char *user_uuid, int64_t not_before, int64_t not_after,
		       struct kinko_err *e)
{
	char uri[sizeof KINKO_URN_PREFIX + 40];
	int g, rc;

	rc = crt_common(crt, key, not_before, not_after, e);
	if (rc)
		return rc;
	snprintf(uri, sizeof uri, "%s%s", KINKO_URN_PREFIX, user_uuid);
	if ((g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
					       "kinko", 5)) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_LDAP_UID, 0, user_uuid,
					       strlen(user_uuid))) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, user_name,
					       strlen(user_name))) < 0 ||
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, uri,
						      (unsigned)strlen(uri),
						      GNUTLS_FSAN_SET)) < 0 ||
	    (g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0)
		return gtls_fail(e, g, "making the client certificate");
	return crt_sign(crt, ca, ca_key, e);
}

static int make_p12(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, gnutls_x509_crt_t ca,
		    const char *friendly, const char *password, gnutls_datum_t *out,
		    struct kinko_err *e)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t cbag = NULL, kbag = NULL;
	uint8_t kid[20];
	size_t kidlen = sizeof kid;
	gnutls_datum_t id;
	int g, idx;

	if ((g = gnutls_pkcs12_init(&p12)) < 0 || (g = gnutls_pkcs12_bag_init(&cbag)) < 0 ||
	    (g = gnutls_pkcs12_bag_init(&kbag)) < 0)
		goto fail;
	/* The localKeyID ties the key to its certificate for importers. */
	if ((g = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, kid, &kidlen)) < 0)
		goto fail;
	id.data = kid;
	id.size = (unsigned)kidlen;

	if ((idx = g = gnutls_pkcs12_bag_set_crt(cbag, crt)) < 0 ||
	    (g = gnutls_pkcs12_bag_set_key_id(cbag, (unsigned)idx, &id)) < 0 ||
	    (g = gnutls_pkcs12_bag_set_friendly_name(cbag, (unsigned)idx, friendly)) < 0 ||
	    (g = gnutls_pkcs12_bag_set_crt(cbag, ca)) < 0 ||
	    (g = gnutls_pkcs12_bag_encrypt(cbag, password, GNUTLS_PKCS_PBES2_AES_256)) < 0)
		goto fail;
	if ((idx = g = gnutls_pkcs12_bag_set_privkey(kbag, key, password,
						     GNUTLS_PKCS_PBES2_AES_256)) < 0 ||
	    (g = gnutls_pkcs12_bag_set_key_id(kbag, (unsigned)idx, &id)) < 0 ||
	    (g = gnutls_pkcs12_bag_set_friendly_name(kbag, (unsigned)idx, friendly)) < 0)
		goto fail;
	if ((g = gnutls_pkcs12_set_bag(p12, cbag)) < 0 ||
	    (g = gnutls_pkcs12_set_bag(p12, kbag)) < 0 ||
	    (g = gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256, password)) < 0 ||
	    (g = gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, out)) < 0)
		goto fail;
	gnutls_pkcs12_bag_deinit(cbag);
	gnutls_pkcs12_bag_deinit(kbag);
	gnutls_pkcs12_deinit(p12);
	return 0;
fail:
	if (cbag)
		gnutls_pkcs12_bag_deinit(cbag);
	if (kbag)
		gnutls_pkcs12_bag_deinit(kbag);
	if (p12)
		gnutls_pkcs12_deinit(p12);
	return gtls_fail(e, g, "making the PKCS#12 file");
}

static int kbuf_set(struct kbuf *b, const void *p, size_t n, struct kinko_err *e)
{
	kbuf_init(b, BUNDLE_MAX);
	if (kbuf_append(b, p, n))
		return kinko_err_set(e, KINKO_ENOMEM,
				     "out of memory building the certificate bundle");
	return 0;
}

int tls_client_issue(const char *dir, const char *ca_key_password, const char *user_name,
		     const char *user_uuid, int64_t not_before, int64_t not_after,
		     const char *p12_password, struct tls_bundle *out, struct kinko_err *e)
{
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	gnutls_datum_t cpem = {NULL, 0}, kpem = {NULL, 0}, p12 = {NULL, 0};
	struct tls_bundle b;
	int64_t ca_end;
	int rc;

	memset(&b, 0, sizeof b);
	kbuf_init(&b.cert_pem, BUNDLE_MAX);
	kbuf_init(&b.key_pem, BUNDLE_MAX);
	kbuf_init(&b.p12, BUNDLE_MAX);
	if (!dir || !user_name || !user_uuid || !p12_password || !out)
		return kinko_err_set(e, KINKO_EINVAL, "tls_client_issue: missing argument");
	if (!tls_user_name_valid(user_name))
		return kinko_err_set(e, KINKO_EINVAL,
				     "the user name must be 1 to %d bytes of UTF-8 without "
				     "control characters",
				     TLS_USER_NAME_MAX);
	if (!tls_uuid_valid(user_uuid))
		return kinko_err_set(e, KINKO_EINVAL,
				     "the user UUID must be in the canonical lowercase form "
				     "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
	if (!*p12_password || strlen(p12_password) > P12_PASSWORD_MAX)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the PKCS#12 password must be 1 to %d bytes",
				     P12_PASSWORD_MAX);
	if (not_before < 0 || not_after > LAST_TIME || not_before >= not_after)
		return kinko_err_set(e, KINKO_EINVAL,
				     "the validity period is empty or out of range: not_before "
				     "must be earlier than not_after");

	if ((rc = ca_load(dir, ca_key_password, &ca, &ca_key, e)))
		return rc;
	ca_end = (int64_t)gnutls_x509_crt_get_expiration_time(ca);
	if (not_after > ca_end) {
		char when[64];
		tls_format_time(ca_end, when, sizeof when);
		rc = kinko_err_set(e, KINKO_EINVAL,
				   "the certificate would outlive the CA, which expires %s: "
				   "choose an earlier end",
				   when);
		goto out;
	}
	if ((rc = new_leaf(&key, &crt, e)))
		goto out;
	if ((rc = make_client(crt, key, ca, ca_key, user_name, user_uuid, not_before, not_after,
			      e)) ||
	    (rc = export_crt(crt, &cpem, e)) || (rc = export_key(key, NULL, &kpem, e)) ||
	    (rc = make_p12(crt, key, ca, user_name, p12_password, &p12, e)))
		goto out;
	if ((rc = tls_crt_fingerprint(crt, b.fingerprint))) {
		rc = kinko_err_set(e, rc, "cannot compute the certificate fingerprint");
		goto out;
	}
	if ((rc = kbuf_set(&b.cert_pem, cpem.data, cpem.size, e)) ||
	    (rc = kbuf_set(&b.key_pem, kpem.data, kpem.size, e)) ||
	    (rc = kbuf_set(&b.p12, p12.data, p12.size, e)))
		goto out;
	b.not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	b.not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	*out = b;
	memset(&b, 0, sizeof b);
	rc = 0;
out:
	tls_bundle_free(&b);
	datum_wipe_free(&cpem);
	datum_wipe_free(&kpem);
	datum_wipe_free(&p12);
	leaf_free(ca, ca_key, crt, key);
	return rc;
}

void tls_bundle_free(struct tls_bundle *b)
{
	if (!b)
		return;
	kbuf_free(&b->cert_pem);
	kbuf_free(&b->key_pem);
	kbuf_free(&b->p12);
}

int tls_bundle_write(const struct tls_bundle *b, const char *prefix, struct kinko_err *e)
{
	static const char *const suffix[3] = {".key", ".p12", ".pem"};
	static const mode_t modes[3] = {0600, 0600, 0644};
	const struct kbuf *parts[3];
	char paths[3][PATH_MAX];
	size_t i, j;
	int rc, n;

	if (!b || !prefix || !*prefix)
		return kinko_err_set(e, KINKO_EINVAL, "tls_bundle_write: missing argument");
	parts[0] = &b->key_pem;
	parts[1] = &b->p12;
	parts[2] = &b->cert_pem;
	for (i = 0; i < 3; i++) {
		if (parts[i]->len == 0)
			return kinko_err_set(e, KINKO_EINVAL,
					     "the certificate bundle is incomplete");
		n = snprintf(paths[i], sizeof paths[i], "%s%s", prefix, suffix[i]);
		if (n < 0 || (size_t)n >= sizeof paths[i])
			return kinko_err_set(e, KINKO_EINVAL, "the output path is too long");
		if (access(paths[i], F_OK) == 0)
			return kinko_err_set(e, KINKO_EEXIST,
					     "%s already exists: refusing to overwrite it; choose "
					     "another name",
					     paths[i]);
	}
	for (i = 0; i < 3; i++) {
		rc = tls_file_write_new(paths[i], parts[i]->data, parts[i]->len, modes[i], e);
		if (rc) {
			for (j = 0; j < i; j++)
				unlink(paths[j]);
			return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------- server certificate */

static int server_crt_load(const char *dir, gnutls_x509_crt_t *out, struct kinko_err *e)
{
	struct tls_file f = {0};
	gnutls_datum_t d;
	char path[PATH_MAX];
	int rc, g;

	if ((rc = tls_path(path, sizeof path, dir, "server.pem", e)) ||
	    (rc = tls_file_read(path, 0, &f, e)))
		return rc;
	if ((g = gnutls_x509_crt_init(out)) < 0) {
		tls_file_free(&f);
		return gtls_fail(e, g, "allocating a certificate");
	}
	d.data = (unsigned char *)f.data;
	d.size = (unsigned)f.len;
	g = gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_PEM);
	tls_file_free(&f);
	if (g < 0) {
		gnutls_x509_crt_deinit(*out);
		*out = NULL;
		return kinko_err_set(e, KINKO_EFORMAT, "%s/server.pem is not a PEM certificate: %s",
				     dir, gnutls_strerror(g));
	}
	return 0;
}

int tls_server_names_read(const char *dir, struct tls_server_names *out, struct kinko_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	struct tls_server_names n;
	int rc;

	memset(&n, 0, sizeof n);
	if ((rc = server_crt_load(dir, &crt, e)))
		return rc;
	for (unsigned seq = 0;; seq++) {
		char buf[1024];
		size_t size = sizeof buf;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);

		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_E_SHORT_MEMORY_BUFFER) { /* longer than any name of ours */
			n.dropped++;
			continue;
		}
		if (type < 0) {
			rc = kinko_err_set(e, KINKO_EFORMAT,
					   "cannot read the names in %s/server.pem: %s", dir,
					   gnutls_strerror(type));
			goto out;
		}
		if (type == GNUTLS_SAN_DNSNAME && size < sizeof buf && strlen(buf) == size &&
		    tls_server_name_check(buf, NULL) == 0 && n.n < TLS_SERVER_NAMES_MAX) {
			memcpy(n.name[n.n++], buf, size + 1);
		} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16) &&
			   n.n < TLS_SERVER_NAMES_MAX &&
			   inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, n.name[n.n],
				     sizeof n.name[0])) {
			n.n++;
		} else {
			n.dropped++; /* not one kinko could issue again: left out, and counted */
		}
	}
	if (n.n == 0) {
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "%s/server.pem names no host: give the names with "
				   "--server-name",
				   dir);
		goto out;
	}
	*out = n;
	rc = 0;
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int tls_server_not_after(const char *dir, int64_t *out, struct kinko_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	int rc = server_crt_load(dir, &crt, e);

	if (rc)
		return rc;
	*out = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
	return 0;
}

static void renewal_clear(struct tls_server_renewal *r)
{
	memset(r, 0, sizeof *r);
	r->key.fd = r->cert.fd = r->lock = -1;
}

/* The new file takes the owner of the one it replaces (a vault renewed by root for
 * a service account stays readable by it) and its mode, never readable by others
 * for the key. */
static int keep_owner(int fd, const char *path, bool secret, struct kinko_err *e)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return 0; /* nothing to keep: the modes given at open stand */
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) != 0)
		return kinko_err_set(e, KINKO_EIO,
				     "cannot give the new file the owner of %s (%s): run as "
				     "root or as its owner",
				     path, strerror(errno));
	if (fchmod(fd, st.st_mode & (secret ? 0770 : 0777)) != 0)
		return kinko_err_set(e, KINKO_EIO, "cannot set the mode of the new %s: %s", path,
				     strerror(errno));
	return 0;
}

static int renewal_file(struct kinko_tmpfile *t, const char *dir, const char *name, bool secret,
			const gnutls_datum_t *d, struct kinko_err *e)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = tls_path(path, sizeof path, dir, name, e)) ||
	    (rc = kinko_tmpfile_open(t, path, secret ? 0600 : 0644, e)) ||
	    (rc = keep_owner(t->fd, path, secret, e)))
		return rc;
	return kinko_write_all(t->fd, d->data, d->size, e);
}

int tls_server_renew(const char *dir, const char *ca_key_password, const char *const *names,
		     size_t nnames, struct tls_server_renewal *out, struct kinko_err *e)
{
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	gnutls_datum_t kpem = {NULL, 0}, cpem = {NULL, 0};
	struct tls_server_renewal r;
	int64_t now = (int64_t)time(NULL), ca_end, end;
	int rc;

	renewal_clear(&r);
	if (out)
		renewal_clear(out);
	if (!dir || !out)
		return kinko_err_set(e, KINKO_EINVAL, "tls_server_renew: missing argument");
	if ((rc = server_names_check(names, nnames, e)))
		return rc;
	/* One renewal at a time per directory, from here until install or discard. */
	r.lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r.lock < 0)
		return kinko_err_set(e, KINKO_EIO, "cannot open %s: %s", dir, strerror(errno));
	if (flock(r.lock, LOCK_EX | LOCK_NB) != 0) {
		rc = kinko_err_set(e, KINKO_ECONFLICT,
				   "another renewal of the server certificate in %s is running; "
				   "wait for it to end",
				   dir);
		goto out;
	}
	/* Under the lock: what a killed renewal left beside the two files goes. */
	{
		char path[PATH_MAX];
		if (tls_path(path, sizeof path, dir, "server.key", NULL) == 0)
			kinko_tmpfile_remove_stale(path);
		if (tls_path(path, sizeof path, dir, "server.pem", NULL) == 0)
			kinko_tmpfile_remove_stale(path);
	}
	if ((rc = ca_load(dir, ca_key_password, &ca, &ca_key, e)))
		goto out;
	ca_end = (int64_t)gnutls_x509_crt_get_expiration_time(ca);
	end = now + (int64_t)TLS_SERVER_DAYS * DAY;
	if (end > ca_end)
		end = ca_end;
	if (end < now + DAY) {
		char when[64];
		tls_format_time(ca_end, when, sizeof when);
		rc = kinko_err_set(e, KINKO_EINVAL,
				   "the CA expires %s, too soon to sign a server certificate: "
				   "the vault needs a new CA",
				   when);
		goto out;
	}
	if ((rc = new_leaf(&key, &crt, e)))
		goto out;
	if ((rc = make_server(crt, key, ca, ca_key, names, nnames, now, end, e)) ||
	    (rc = export_key(key, NULL, &kpem, e)) || (rc = export_crt(crt, &cpem, e)))
		goto out;
	if ((rc = tls_crt_fingerprint(crt, r.fingerprint))) {
		rc = kinko_err_set(e, rc, "cannot compute the certificate fingerprint");
		goto out;
	}
	r.not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	if ((rc = renewal_file(&r.key, dir, "server.key", true, &kpem, e)) ||
	    (rc = renewal_file(&r.cert, dir, "server.pem", false, &cpem, e)))
		goto out;
	/* Both files are on the disk before either takes its name. */
	if (fsync(r.key.fd) != 0 || fsync(r.cert.fd) != 0) {
		rc = kinko_err_set(e, KINKO_EIO, "cannot flush the new files in %s: %s", dir,
				   strerror(errno));
		goto out;
	}
	*out = r;
	renewal_clear(&r);
	rc = 0;
out:
	tls_server_renew_discard(&r);
	datum_wipe_free(&kpem);
	datum_wipe_free(&cpem);
	leaf_free(ca, ca_key, crt, key);
	return rc;
}

int tls_server_renew_install(struct tls_server_renewal *r, struct kinko_err *e)
{
	int rc = 0;

	if (r->lock < 0 || r->key.fd < 0 || r->cert.fd < 0) {
		tls_server_renew_discard(r);
		return kinko_err_set(e, KINKO_EINVAL, "no server certificate renewal to install");
	}
	/* Flushed already (tls_server_renew): closing and the two renames are all that
	 * is left, back to back. */
	if (close(r->key.fd) != 0 || close(r->cert.fd) != 0)
		rc = kinko_err_set(e, KINKO_EIO, "writing the new server files failed: %s",
				   strerror(errno));
	r->key.fd = r->cert.fd = -1;
	if (rc == 0 && rename(r->key.tmp, r->key.path) != 0)
		rc = kinko_err_set(e, KINKO_EIO, "cannot put the new server.key in place: %s; the "
				   "old pair is unchanged", strerror(errno));
	else if (rc == 0 && rename(r->cert.tmp, r->cert.path) != 0)
		rc = kinko_err_set(e, KINKO_EIO,
				   "cannot put the new server.pem in place: %s; server.key is "
				   "already the new one: run the renewal again",
				   strerror(errno));
	if (rc == 0 && fsync(r->lock) != 0)
		rc = kinko_err_set(e, KINKO_EIO, "cannot flush the directory of the new server "
				   "files: %s", strerror(errno));
	tls_server_renew_discard(r); /* removes whatever was not renamed, and unlocks */
	return rc;
}

void tls_server_renew_discard(struct tls_server_renewal *r)
{
	kinko_tmpfile_discard(&r->key);
	kinko_tmpfile_discard(&r->cert);
	if (r->lock >= 0)
		close(r->lock); /* releases the flock */
	r->lock = -1;
}
