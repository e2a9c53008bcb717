/*
 * tls_peer — the server's credentials, its priority string, and the check of
 * the client certificate that every connection must pass.
 */
#include "tls/tls.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "crypto/crypto.h"
#include "tls/tls_int.h"

#define KINKO_URN_PREFIX "urn:kinko:user:"

/*
 * TLS 1.3 only. AES-GCM comes first because GnuTLS's AES-GCM uses AES-NI and
 * PCLMUL here and is several times faster than its ChaCha20-Poly1305 (about
 * 0.6 GB/s); ChaCha stays for clients without AES hardware. The server's order
 * wins. SHA-1 signatures are not accepted anywhere.
 */
static const char PRIORITIES[] =
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:"
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:"
	"-MAC-ALL:+AEAD:-SIGN-RSA-SHA1:-SIGN-ECDSA-SHA1:%SERVER_PRECEDENCE";

const char *tls_priorities(void)
{
	return PRIORITIES;
}

/* ------------------------------------------------------- server credentials */

int tls_server_creds_load(const char *dir, struct tls_server_creds *out, struct kinko_err *e)
{
	struct tls_file key = {0}, cert = {0}, trust = {0};
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_datum_t kd, cd, td;
	char path[PATH_MAX];
	int rc, g;

	if (!dir || !out)
		return kinko_err_set(e, KINKO_EINVAL, "tls_server_creds_load: missing argument");
	if ((rc = tls_path(path, sizeof path, dir, "server.key", e)) ||
	    (rc = tls_file_read(path, 1, &key, e)))
		return rc;
	if (key.mode & 0007) {
		rc = kinko_err_set(e, KINKO_EPERM,
				   "%s can be read by other users: run `chmod 600 %s` (and "
				   "consider the key exposed)",
				   path, path);
		goto out;
	}
	if ((rc = tls_path(path, sizeof path, dir, "server.pem", e)) ||
	    (rc = tls_file_read(path, 0, &cert, e)) ||
	    (rc = tls_path(path, sizeof path, dir, "ca.pem", e)) ||
	    (rc = tls_file_read(path, 0, &trust, e)))
		goto out;

	/* Load them once the way libmicrohttpd will, so a broken pair is reported
	 * here with a clear message rather than as a failed daemon start. */
	if ((g = gnutls_certificate_allocate_credentials(&cred)) < 0) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory loading the TLS credentials");
		goto out;
	}
	kd.data = (unsigned char *)key.data;
	kd.size = (unsigned)key.len;
	cd.data = (unsigned char *)cert.data;
	cd.size = (unsigned)cert.len;
	td.data = (unsigned char *)trust.data;
	td.size = (unsigned)trust.len;
	g = gnutls_certificate_set_x509_key_mem2(cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "server.key in %s does not belong to server.pem: restore the "
				   "pair, or make a new one with kinko cert server",
				   dir);
		goto out;
	}
	if (g < 0) {
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "cannot load server.pem and server.key from %s: %s", dir,
				   gnutls_strerror(g));
		goto out;
	}
	g = gnutls_certificate_set_x509_trust_mem(cred, &td, GNUTLS_X509_FMT_PEM);
	if (g <= 0) {
		rc = kinko_err_set(e, KINKO_EFORMAT,
				   "%s/ca.pem holds no usable CA certificate%s%s", dir,
				   g < 0 ? ": " : "", g < 0 ? gnutls_strerror(g) : "");
		goto out;
	}
	out->key_pem = key.data;
	out->cert_pem = cert.data;
	out->trust_pem = trust.data;
	key.data = cert.data = trust.data = NULL;
	rc = 0;
out:
	if (cred)
		gnutls_certificate_free_credentials(cred);
	tls_file_free(&key);
	tls_file_free(&cert);
	tls_file_free(&trust);
	return rc;
}

void tls_server_creds_free(struct tls_server_creds *c)
{
	if (!c)
		return;
	if (c->key_pem)
		kinko_secure_free(c->key_pem);
	free(c->cert_pem);
	free(c->trust_pem);
	c->key_pem = c->cert_pem = c->trust_pem = NULL;
}

/* ---------------------------------------------------------- peer verify */

static int chain_reason(unsigned status, struct kinko_err *e)
{
	const char *why;

	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
		why = "was not issued by a CA this server trusts";
	else if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
		why = "has a signature that does not verify against a trusted CA";
	else if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		why = "is not meant for TLS client authentication (no clientAuth usage)";
	else if (status & GNUTLS_CERT_REVOKED)
		why = "has been revoked";
	else if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		why = "is signed with an insecure algorithm";
	else if (status & GNUTLS_CERT_SIGNER_NOT_CA)
		why = "has an issuer that is not a CA";
	else
		why = "has a chain that does not verify";
	return kinko_err_set(e, KINKO_EAUTH,
			     "the client certificate %s; ask the manager for a "
			     "certificate issued by this server's CA",
			     why);
}

static int check_times(gnutls_x509_crt_t crt, const char *which, int64_t now,
		       struct kinko_err *e)
{
	int64_t nb = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	int64_t na = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	char when[64];

	if (nb == -1 || na == -1)
		return kinko_err_set(e, KINKO_EAUTH,
				     "%s has no readable "
				     "validity period",
				     which);
	if (now < nb) {
		tls_format_time(nb, when, sizeof when);
		return kinko_err_set(e, KINKO_EAUTH,
				     "%s is not valid before %s "
				     "(check the clocks)",
				     which, when);
	}
	if (now > na) {
		tls_format_time(na, when, sizeof when);
		return kinko_err_set(e, KINKO_EAUTH,
				     "%s expired on %s; ask "
				     "for a new certificate",
				     which, when);
	}
	return 0;
}

static int check_usage(gnutls_x509_crt_t crt, struct kinko_err *e)
{
	char oid[128];
	size_t size;
	unsigned usage = 0, critical = 0, i;
	int g, client = 0;

	/* GnuTLS accepts a certificate without any extended key usage for every
	 * purpose; we insist on an explicit clientAuth. */
	for (i = 0;; i++) {
		size = sizeof oid;
		g = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, &critical);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (g == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* an OID longer than any we look for */
		if (g < 0)
			return kinko_err_set(e, KINKO_EAUTH,
					     "the client certificate's extended key usage "
					     "cannot be read");
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0)
			client = 1;
	}
	if (!client)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate lacks the clientAuth "
				     "extended key usage");
	g = gnutls_x509_crt_get_key_usage(crt, &usage, &critical);
	if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0; /* no key usage extension: no restriction (RFC 5280) */
	if (g < 0 || !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE))
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate's key usage does not allow "
				     "digital signatures");
	return 0;
}

/* Fills uuid (or leaves it "") from the SAN URI and the UID attribute. */
static int read_identity(gnutls_x509_crt_t crt, struct tls_peer *p, struct kinko_err *e)
{
	char buf[512], uid[64] = "";
	size_t size;
	unsigned i, critical;
	int g;

	size = sizeof p->user_name;
	g = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, p->user_name,
					  &size);
	if (g == GNUTLS_E_SHORT_MEMORY_BUFFER)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate's common name is longer "
				     "than %d bytes",
				     TLS_USER_NAME_MAX);
	if (g < 0)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate's subject has no common "
				     "name (CN)");
	if (size != strlen(p->user_name) || !tls_user_name_valid(p->user_name))
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate's common name is not "
				     "printable UTF-8");

	p->user_uuid[0] = '\0';
	for (i = 0;; i++) {
		size = sizeof buf - 1;
		g = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, &critical);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (g == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (g < 0)
			return kinko_err_set(e, KINKO_EAUTH,
					     "the client certificate's subject alternative "
					     "names cannot be read");
		if (g != GNUTLS_SAN_URI)
			continue;
		buf[size] = '\0';
		if (strncmp(buf, KINKO_URN_PREFIX, strlen(KINKO_URN_PREFIX)) != 0)
			continue;
		if (size != strlen(buf) || !tls_uuid_valid(buf + strlen(KINKO_URN_PREFIX)))
			return kinko_err_set(e, KINKO_EAUTH,
					     "the client certificate's kinko user URI is "
					     "malformed");
		if (p->user_uuid[0] &&
		    strcmp(p->user_uuid, buf + strlen(KINKO_URN_PREFIX)) != 0)
			return kinko_err_set(e, KINKO_EAUTH,
					     "the client certificate names two different "
					     "kinko users");
		memcpy(p->user_uuid, buf + strlen(KINKO_URN_PREFIX), 37);
	}

	size = sizeof uid;
	g = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_LDAP_UID, 0, 0, uid, &size);
	if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	if (g < 0 || size != strlen(uid) || !tls_uuid_valid(uid))
		return 0; /* a UID that is not ours (an external CA): the SAN decides */
	if (p->user_uuid[0] && strcmp(p->user_uuid, uid) != 0)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate's UID and its kinko user URI "
				     "disagree");
	memcpy(p->user_uuid, uid, 37);
	return 0;
}

int tls_peer_verify(void *session, int64_t now, struct tls_peer *out, struct kinko_err *e)
{
	gnutls_session_t s = session;
	gnutls_x509_crt_t crts[TLS_PEER_CHAIN_MAX] = {NULL};
	gnutls_x509_crt_t anchor = NULL;
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_x509_trust_list_t tl = NULL;
	const gnutls_datum_t *raw;
	gnutls_typed_vdata_st purpose;
	struct tls_peer p;
	unsigned n = 0, i, status = 0;
	void *credp = NULL;
	int rc, g;

	if (!s || !out)
		return kinko_err_set(e, KINKO_EINVAL, "tls_peer_verify: missing argument");
	memset(&p, 0, sizeof p);

	if (gnutls_certificate_type_get2(s, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate is not X.509: only X.509 "
				     "certificates are accepted");
	raw = gnutls_certificate_get_peers(s, &n);
	if (!raw || n == 0)
		return kinko_err_set(e, KINKO_EAUTH,
				     "no client certificate was presented: this server requires "
				     "one; configure your client with the certificate and key "
				     "kinko issued to you");
	if (n > TLS_PEER_CHAIN_MAX)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate chain has more than %d "
				     "certificates",
				     TLS_PEER_CHAIN_MAX);
	/* The trust list is the one the session's credentials were configured with
	 * (MHD_OPTION_HTTPS_MEM_TRUST), so there is one source of truth. */
	if (gnutls_credentials_get(s, GNUTLS_CRD_CERTIFICATE, &credp) < 0 || !credp)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate cannot be checked: the session has no "
				     "certificate credentials to verify against");
	cred = credp;
	gnutls_certificate_get_trust_list(cred, &tl);
	if (!tl)
		return kinko_err_set(e, KINKO_EAUTH,
				     "the client certificate cannot be checked: the server "
				     "has no trust list");

	for (i = 0; i < n; i++) {
		if ((g = gnutls_x509_crt_init(&crts[i])) < 0) {
			rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory verifying a client");
			goto out;
		}
		if (gnutls_x509_crt_import(crts[i], &raw[i], GNUTLS_X509_FMT_DER) < 0) {
			rc = kinko_err_set(e, KINKO_EAUTH,
					   "the client certificate cannot be parsed");
			goto out;
		}
	}

	/* Time is checked below against the caller's now, not the system clock,
	 * so the decision is the caller's (and testable). */
	purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
	purpose.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
	purpose.size = 0;
	g = gnutls_x509_trust_list_verify_crt2(tl, crts, n, &purpose, 1,
					       GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
						       GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
					       &status, NULL);
	if (g < 0) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "the client certificate could not be verified (%s)",
				   gnutls_strerror(g));
		goto out;
	}
	if (status != 0) {
		rc = chain_reason(status, e);
		goto out;
	}

	if ((rc = check_times(crts[0], "the client certificate", now, e)))
		goto out;
	for (i = 1; i < n; i++)
		if ((rc = check_times(crts[i], "the client certificate's issuer", now, e)))
			goto out;
	if (gnutls_x509_trust_list_get_issuer(tl, crts[n - 1], &anchor, GNUTLS_TL_GET_COPY) < 0 ||
	    !anchor) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "the client certificate's CA is not in the trust list");
		goto out;
	}
	if ((rc = check_times(anchor, "the CA that issued the client certificate", now, e)))
		goto out;
	if ((rc = check_usage(crts[0], e)) || (rc = read_identity(crts[0], &p, e)))
		goto out;
	if ((rc = tls_crt_fingerprint(crts[0], p.fingerprint))) {
		rc = kinko_err_set(e, KINKO_EAUTH,
				   "the client certificate's fingerprint cannot be computed");
		goto out;
	}
	p.not_before = (int64_t)gnutls_x509_crt_get_activation_time(crts[0]);
	p.not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crts[0]);
	*out = p;
	rc = 0;
out:
	if (anchor)
		gnutls_x509_crt_deinit(anchor);
	for (i = 0; i < n && i < TLS_PEER_CHAIN_MAX; i++)
		if (crts[i])
			gnutls_x509_crt_deinit(crts[i]);
	return rc;
}
