/*
 * tls — kinko's small CA and the TLS credentials of the server.
 *
 * A PKI directory holds ca.pem (the CA certificate, 0644), ca.key (its PKCS#8
 * key, 0600, encrypted with PBES2/AES-256 when a password is given), server.pem
 * (0644) and server.key (0600). tls_pki_create() makes all four once and never
 * overwrites them; tls_client_issue() signs a client certificate with the CA and
 * returns it with a fresh key as PEM and as PKCS#12; tls_server_creds_load()
 * reads what libmicrohttpd needs. All keys are ECDSA P-256 and all certificates
 * are signed with SHA-256. Files are written atomically (temporary file, fsync,
 * link into place) and never replace an existing file.
 *
 * libmicrohttpd only *requests* a client certificate, so the server must call
 * tls_peer_verify() on every connection before it acts on a request: it fails
 * closed with KINKO_EAUTH and a reason when the peer has no certificate, or one
 * that is not issued by a CA in the session's trust list, outside its validity,
 * or without the clientAuth purpose.
 *
 * Key material read from disk is held in secure memory and wiped when freed.
 * Nothing here prints or logs; passwords never appear in error messages.
 * Callers must have run kinko_crypto_init() (it initialises GnuTLS).
 */
#ifndef KINKO_TLS_TLS_H
#define KINKO_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/tmpfile.h"

/* Limits on what we issue and accept. */
#define TLS_USER_NAME_MAX 127 /* bytes of a subject CN we accept (UTF-8) */
#define TLS_SERVER_NAMES_MAX 32
#define TLS_PEER_CHAIN_MAX 4

#define TLS_CA_DAYS 3650     /* CA validity */
#define TLS_SERVER_DAYS 730  /* server certificate validity */

/*
 * Creates the PKI in dir (made with mode 0700 if missing): a CA valid for ten
 * years and a server certificate for server_names (DNS names, or IPv4/IPv6
 * literals which go into iPAddress SAN entries; the first one is also the CN),
 * valid for two years, with the serverAuth purpose. ca_key_password may be NULL
 * for an unencrypted CA key (tests, throwaway set-ups). Fails with KINKO_EEXIST
 * if any of the four files already exists, and removes what it wrote if it
 * fails half-way.
 */
int tls_pki_create(const char *dir, const char *const *server_names, size_t nnames,
		   const char *ca_key_password, struct kinko_err *e) KINKO_WUR;

/* 0 when name can go into the server certificate: an IPv4/IPv6 address or a DNS
 * name (LDH labels); KINKO_EINVAL with a message naming it otherwise. */
int tls_server_name_check(const char *name, struct kinko_err *e) KINKO_WUR;

/* The names a server certificate is for, in its order (the first is the CN). */
#define TLS_SERVER_NAME_LEN 253
struct tls_server_names {
	size_t n;
	char name[TLS_SERVER_NAMES_MAX][TLS_SERVER_NAME_LEN + 1];
	size_t dropped; /* entries left out: not a name kinko issues, or too many */
};

/* Reads the DNS names and IP addresses of dir's server.pem (IP addresses as
 * inet_ntop writes them); other entries (wildcards, URIs, ...) are counted in
 * dropped. */
int tls_server_names_read(const char *dir, struct tls_server_names *out,
			  struct kinko_err *e) KINKO_WUR;

/* The end of the validity of dir's server.pem (unix time). */
int tls_server_not_after(const char *dir, int64_t *out, struct kinko_err *e) KINKO_WUR;

/*
 * A new server key and certificate, written beside server.key and server.pem
 * under temporary names (see core/tmpfile.h), flushed, and not yet in their place.
 * tls_server_renew() makes one: a fresh ECDSA P-256 key and a certificate for
 * names, signed by dir's CA, valid for TLS_SERVER_DAYS or until the CA expires if
 * that is sooner (refused when the CA has less than a day left). The new files
 * take the owner and mode of the ones they replace (the key never readable by
 * others). It holds an exclusive lock on dir until install or discard (a second
 * renewal meanwhile gets KINKO_ECONFLICT) and first removes temporary files a
 * killed renewal left. A wrong CA key password gives KINKO_EAUTH. On failure out
 * is empty (discarding it is harmless). Then exactly one of:
 *   tls_server_renew_install() renames both into place, the key first, back to
 *   back, then flushes the directory. When the second rename fails (or the machine
 *   stops between the two) the key no longer matches the certificate, which the
 *   server refuses to start with; the error says to run the renewal again, which
 *   mends it.
 *   tls_server_renew_discard() removes both; the live files are untouched.
 */
struct tls_server_renewal {
	struct kinko_tmpfile key, cert;
	int lock; /* dir, flock'd */
	char fingerprint[65]; /* of the new certificate */
	int64_t not_after;
};
int tls_server_renew(const char *dir, const char *ca_key_password, const char *const *names,
		     size_t nnames, struct tls_server_renewal *out, struct kinko_err *e) KINKO_WUR;
int tls_server_renew_install(struct tls_server_renewal *r, struct kinko_err *e) KINKO_WUR;
void tls_server_renew_discard(struct tls_server_renewal *r);

/* An issued client credential. Free with tls_bundle_free(). */
struct tls_bundle {
	struct kbuf cert_pem;   /* the client certificate */
	struct kbuf key_pem;    /* its unencrypted PKCS#8 key (secret) */
	struct kbuf p12;        /* DER PKCS#12: key + certificate + CA certificate */
	char fingerprint[65];   /* lowercase hex SHA-256 of the DER certificate */
	int64_t not_before, not_after; /* unix times */
};

/*
 * Issues a client certificate for a user, signed by the CA in dir: subject
 * CN=user_name, UID=user_uuid, a SAN URI "urn:kinko:user:<uuid>", the
 * clientAuth purpose and the digitalSignature usage, with a fresh ECDSA P-256
 * key and a random 16-byte serial. user_uuid must be a canonical lowercase UUID
 * (8-4-4-4-12); user_name 1..127 bytes of UTF-8 without control characters.
 * The validity runs from not_before to not_after (unix times; tests use it to
 * make expired and not-yet-valid certificates) and must end before the CA's.
 * p12 is protected with p12_password (non-empty) using PBES2 (PBKDF2 with
 * HMAC-SHA-256, AES-256-CBC) for both bags and an HMAC-SHA-256 MAC, which
 * OpenSSL 3, curl and browsers open. A wrong or missing CA key password gives
 * KINKO_EAUTH. out is written only on success.
 */
int tls_client_issue(const char *dir, const char *ca_key_password, const char *user_name,
		     const char *user_uuid, int64_t not_before, int64_t not_after,
		     const char *p12_password, struct tls_bundle *out,
		     struct kinko_err *e) KINKO_WUR;

/* Wipes and frees; NULL is a no-op. */
void tls_bundle_free(struct tls_bundle *b);

/*
 * Writes a bundle for the CLI: <prefix>.pem (0644), <prefix>.key (0600) and
 * <prefix>.p12 (0600), each atomically. Refuses with KINKO_EEXIST if any of them
 * exists, and removes what it wrote on failure. (Clients verify the server with
 * the PKI's ca.pem.)
 */
int tls_bundle_write(const struct tls_bundle *b, const char *prefix,
		     struct kinko_err *e) KINKO_WUR;

/*
 * Server credentials as NUL-terminated PEM strings for MHD_OPTION_HTTPS_MEM_KEY,
 * MHD_OPTION_HTTPS_MEM_CERT and MHD_OPTION_HTTPS_MEM_TRUST. key_pem lives in
 * secure memory. Keep the struct alive until the daemon has stopped.
 */
struct tls_server_creds {
	char *key_pem;
	char *cert_pem;
	char *trust_pem;
};

/*
 * Loads server.key, server.pem and ca.pem (the trust list for client
 * certificates) from dir and checks that the key matches the certificate and that
 * the trust list holds at least one certificate. Refuses a server.key that others
 * can read (mode & 007). out is written only on success.
 */
int tls_server_creds_load(const char *dir, struct tls_server_creds *out,
			  struct kinko_err *e) KINKO_WUR;
void tls_server_creds_free(struct tls_server_creds *c);

/*
 * The GnuTLS priority string for the server (MHD_OPTION_HTTPS_PRIORITIES): TLS 1.3
 * only, AES-256-GCM then AES-128-GCM then CHACHA20-POLY1305, server order.
 */
const char *tls_priorities(void);

/*
 * Gives a session whose transport is socket fd a receive path that reads each
 * record in one recv instead of two: the body of a record together with the next
 * record's header (see tls_pull.c). It never holds a whole record, so an event
 * loop that waits for fd to be readable before reading the session (as
 * libmicrohttpd does) never misses one. Sends stay GnuTLS's own. session is a
 * gnutls_session_t. Returns NULL when out of memory (the session then keeps
 * GnuTLS's own transport). Free with tls_pull_free once the session is no longer
 * read (after gnutls_deinit).
 */
struct tls_pull;
struct tls_pull *tls_pull_attach(void *session, int fd);
void tls_pull_free(struct tls_pull *t);
/* The peer sent something but never completed the handshake (a protocol it does
 * not share, a server certificate it refused, garbage): a failure to count
 * against its address. A connection that sent nothing (a port probe) is not. */
bool tls_pull_handshake_failed(const struct tls_pull *t);

/* Who is on the other end of a verified session. */
struct tls_peer {
	char fingerprint[65];  /* lowercase hex SHA-256 of the DER leaf certificate */
	char user_name[128];   /* subject CN */
	char user_uuid[64];    /* from the SAN URI urn:kinko:user:<uuid> or the UID
				  attribute; "" when the certificate carries neither
				  (certificates from an external CA) */
	int64_t not_before;    /* unix time the certificate's validity starts */
	int64_t not_after;     /* unix time the certificate expires */
};

/*
 * Verifies the client of an established session (session is a gnutls_session_t,
 * e.g. MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION)->tls_session)
 * against the trust list of the credentials the session was configured with, at
 * time now (unix seconds). Returns KINKO_EAUTH with a reason when there is no
 * certificate, the chain does not lead to a trusted CA, a certificate in it is
 * expired or not yet valid at now, the leaf lacks the clientAuth extended key
 * usage (or has a key usage without digitalSignature), or its CN or UUID is
 * malformed. out is written only on success.
 */
int tls_peer_verify(void *session, int64_t now, struct tls_peer *out,
		    struct kinko_err *e) KINKO_WUR;

#endif
