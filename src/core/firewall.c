/* firewall — see firewall.h. */
#include "core/firewall.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int oom(struct kinko_err *e)
{
	return kinko_err_set(e, KINKO_ENOMEM, "out of memory writing the firewall rules");
}

/* The set of one family's networks, or nothing when the allowlist has none. */
static int put_set(const struct cidr_list *allow, int family, struct kbuf *out,
		   struct kinko_err *e)
{
	bool first = true;

	for (unsigned i = 0; i < allow->n; i++) {
		const struct cidr *c = &allow->v[i];
		char t[INET6_ADDRSTRLEN];
		if (c->family != family)
			continue;
		if (!inet_ntop(family, c->addr, t, sizeof t))
			return kinko_err_set(e, KINKO_EINVAL, "an allowlist entry has no text form");
		if (first && kbuf_appendf(out, "\tset allow%c {\n\t\ttype %s; flags interval; auto-merge;\n"
						"\t\telements = { ",
					  family == AF_INET ? '4' : '6',
					  family == AF_INET ? "ipv4_addr" : "ipv6_addr"))
			return oom(e);
		if (kbuf_appendf(out, "%s%s/%u", first ? "" : ", ", t, c->prefix))
			return oom(e);
		first = false;
	}
	if (!first && kbuf_append_str(out, " }\n\t}\n"))
		return oom(e);
	return 0;
}

static bool has_family(const struct cidr_list *allow, int family)
{
	for (unsigned i = 0; i < allow->n; i++)
		if (allow->v[i].family == family)
			return true;
	return false;
}

int firewall_nft(const struct cidr_list *allow, uint16_t port, const char *origin,
		 struct kbuf *out, struct kinko_err *e)
{
	bool v4 = has_family(allow, AF_INET), v6 = has_family(allow, AF_INET6);
	char from[256];
	size_t i;
	int rc;

	if (port == 0)
		return kinko_err_set(e, KINKO_EINVAL, "no port to filter");
	/* A comment line must stay one line: no control characters from a path. */
	for (i = 0; origin[i] && i + 1 < sizeof from; i++)
		from[i] = (unsigned char)origin[i] < 0x20 || origin[i] == 0x7f ? '?' : origin[i];
	from[i] = '\0';
	if (kbuf_appendf(out,
			 "#!/usr/sbin/nft -f\n"
			 "# kinko: only the allowlist reaches TCP port %u (checklist S1, S2).\n"
			 "# Made by `kinko firewall` from %s; make it again after changing\n"
			 "# [server] listen or allow. Load: nft -f FILE (as root); remove:\n"
			 "# nft delete table inet kinko. The table is replaced whole; other\n"
			 "# tables are left alone.\n"
			 "table inet kinko\n"
			 "delete table inet kinko\n"
			 "table inet kinko {\n",
			 (unsigned)port, from))
		return oom(e);
	rc = put_set(allow, AF_INET, out, e);
	if (rc || (rc = put_set(allow, AF_INET6, out, e)) != 0)
		return rc;
	if (kbuf_append_str(out, "\tchain input {\n"
				 "\t\ttype filter hook input priority filter - 10; policy accept;\n") ||
	    (v4 && kbuf_appendf(out, "\t\ttcp dport %u ip saddr @allow4 accept\n", (unsigned)port)) ||
	    (v6 && kbuf_appendf(out, "\t\ttcp dport %u ip6 saddr @allow6 accept\n", (unsigned)port)) ||
	    kbuf_appendf(out, "\t\ttcp dport %u counter drop comment \"kinko: not on [server] allow\"\n"
			      "\t}\n}\n",
			 (unsigned)port))
		return oom(e);
	return 0;
}
