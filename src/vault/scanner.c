/* The vault's use of clamd: health checks (cached) and a scan per upload. */
#include "vault/vault_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "scan/clamd.h"

#define SCAN_CHECK_SECONDS 5

static void clamd_cfg_of(struct vault *v, struct clamd_cfg *c)
{
	memset(c, 0, sizeof *c);
	c->socket_path = v->clamd_path;
	c->pass_fd = v->cfg.scan_pass_fd;
	c->budget = &v->scan_budget;
	c->reply_timeout_ms = vault_scan_timeout_ms(v);
	/* A hung clamd must not hold a request longer than the verdict would. */
	c->io_timeout_ms = c->reply_timeout_ms < CLAMD_DEFAULT_IO_MS ? c->reply_timeout_ms
								     : CLAMD_DEFAULT_IO_MS;
}

int vault_scan_timeout_ms(const struct vault *v)
{
	return (int)(v->cfg.scan_timeout_seconds * 1000);
}

static void check(struct vault *v)
{
	struct clamd_cfg cfg;
	struct clamd_info info;
	struct kinko_err e;
	struct vault_scanner *s = &v->scan;
	int64_t now = (int64_t)time(NULL);

	memset(s, 0, sizeof *s);
	s->required = v->cfg.scan_required;
	if (!v->clamd_path[0]) {
		snprintf(s->reason, sizeof s->reason,
			 "[scan] clamd_socket is too long for a UNIX socket (107 bytes)");
		return;
	}
	clamd_cfg_of(v, &cfg);
	if (clamd_version(&cfg, &info, &e)) {
		snprintf(s->reason, sizeof s->reason, "%.255s", e.msg);
		return;
	}
	snprintf(s->engine, sizeof s->engine, "%s", info.engine);
	s->sig_version = info.sig_version;
	s->sig_date = info.sig_date;
	s->fresh = clamd_signatures_fresh(&info, (int64_t)v->cfg.signature_max_age, now);
	if (!s->fresh) {
		snprintf(s->reason, sizeof s->reason,
			 info.sig_date ? "clamd's signatures are older than signature_max_age; run "
					 "freshclam (see docs/operations.md)"
				       : "clamd reports no signature date; load dated signatures "
					 "(freshclam)");
		return;
	}
	s->ok = true;
}

void vault_scanner_status(struct vault *v, struct vault_scanner *out)
{
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&v->scan_mu);
	if (!v->scan_checked || now - v->scan_checked >= SCAN_CHECK_SECONDS || !v->scan.ok) {
		check(v);
		v->scan_checked = now;
	}
	*out = v->scan;
	pthread_mutex_unlock(&v->scan_mu);
}

int vault_scan_open(struct vault *v, struct clamd_scan **out, struct kinko_err *e)
{
	struct vault_scanner st;
	struct clamd_cfg cfg;

	*out = NULL;
	if (!v->cfg.scan_required)
		return 0;
	vault_scanner_status(v, &st);
	if (!st.ok)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "uploads are refused until the virus scanner works: %s",
				     st.reason);
	clamd_cfg_of(v, &cfg);
	if (clamd_scan_begin(&cfg, out, e)) {
		pthread_mutex_lock(&v->scan_mu);
		v->scan_checked = 0; /* look again next time */
		pthread_mutex_unlock(&v->scan_mu);
		return kinko_err_wrap(e, "uploads are refused until the virus scanner works");
	}
	return 0;
}
