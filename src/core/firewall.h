/*
 * firewall — the kernel's copy of kinko's network rule (checklist S1, S2): an
 * nftables ruleset that lets the listen port be reached only from the allowlist
 * ([server] allow), so that other addresses are dropped before any connection is
 * made, not only refused by kinko at accept.
 *
 * The ruleset is a table of its own (`inet kinko`), replaced whole each time it is
 * loaded, with a base chain at priority filter - 10 and policy accept: it filters
 * the kinko port and nothing else, beside whatever rules the host already has.
 * The allowlist becomes one interval set per family (auto-merge: overlapping
 * entries such as 10.0.0.0/8 and 10.1.0.0/16 are taken as their union).
 */
#ifndef KINKO_CORE_FIREWALL_H
#define KINKO_CORE_FIREWALL_H

#include <stdint.h>

#include "core/buf.h"
#include "core/cidr.h"
#include "core/err.h"

/* Appends the ruleset for TCP port `port` and the allowlist to out; `origin` (the
 * configuration file, say) goes into the header comment. */
int firewall_nft(const struct cidr_list *allow, uint16_t port, const char *origin,
		 struct kbuf *out, struct kinko_err *e) KINKO_WUR;

#endif
