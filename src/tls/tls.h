/* Provisional declarations; the tls module (branch tls) replaces this file. */
#ifndef KINKO_TLS_TLS_H
#define KINKO_TLS_TLS_H
#include <stdint.h>
#include "core/buf.h"
#include "core/err.h"
int tls_pki_create(const char *dir, const char *const *server_names, size_t nnames, const char *ca_key_password, struct kinko_err *e);
struct tls_bundle { struct kbuf cert_pem; struct kbuf key_pem; struct kbuf p12; char fingerprint[65]; int64_t not_before, not_after; };
int tls_client_issue(const char *dir, const char *ca_key_password, const char *user_name, const char *user_uuid, int64_t not_before, int64_t not_after, const char *p12_password, struct tls_bundle *out, struct kinko_err *e);
void tls_bundle_free(struct tls_bundle *b);
struct tls_server_creds { char *key_pem; char *cert_pem; char *trust_pem; };
int tls_server_creds_load(const char *dir, struct tls_server_creds *out, struct kinko_err *e);
void tls_server_creds_free(struct tls_server_creds *c);
const char *tls_priorities(void);
struct tls_peer { char fingerprint[65]; char user_name[128]; char user_uuid[64]; int64_t not_after; };
int tls_peer_verify(void *session, int64_t now, struct tls_peer *out, struct kinko_err *e);
#endif
