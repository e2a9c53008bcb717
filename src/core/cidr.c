#include "core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/parse.h"

static int parse_one(const char *tok, bool stored, struct cidr *c, struct kinko_err *e)
{
	char addr[64];
	const char *slash = strchr(tok, '/');
	size_t alen = slash ? (size_t)(slash - tok) : strlen(tok);
	unsigned maxp;
	uint64_t p;

	if (alen == 0 || alen >= sizeof addr)
		return kinko_err_set(e, KINKO_EINVAL, "'%s' is not an address or CIDR block", tok);
	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		maxp = 128;
		/* A client on an IPv4-mapped address is matched as the IPv4 address it
		 * is, so an entry written in the mapped form would never match. */
		if (!stored && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)c->addr))
			return kinko_err_set(e, KINKO_EINVAL,
					     "'%s' is an IPv4-mapped IPv6 address; write it as IPv4 "
					     "(e.g. 192.0.2.0/24): IPv4 clients are matched as IPv4",
					     tok);
	} else {
		return kinko_err_set(e, KINKO_EINVAL,
				     "'%s' is not an IPv4/IPv6 address; write e.g. 192.0.2.0/24", tok);
	}
	if (slash) {
		if (parse_u64(slash + 1, maxp, &p))
			return kinko_err_set(e, KINKO_EINVAL,
					     "'%s': the prefix length must be 0..%u", tok, maxp);
		c->prefix = (unsigned)p;
	} else {
		c->prefix = maxp;
	}
	/* Host bits set means the writer probably meant something else. */
	for (unsigned bit = c->prefix; bit < maxp; bit++)
		if (c->addr[bit / 8] & (0x80 >> (bit % 8)))
			return kinko_err_set(e, KINKO_EINVAL,
					     "'%s' has host bits set beyond /%u; write the network address",
					     tok, c->prefix);
	return 0;
}

static int list_parse(const char *s, bool stored, struct cidr_list *out, struct kinko_err *e)
{
	struct cidr_list l = {.n = 0};
	char tok[128];

	while (s && *s) {
		size_t n;
		int rc;
		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		n = strcspn(s, ", \t");
		if (n >= sizeof tok)
			return kinko_err_set(e, KINKO_EINVAL, "an address list entry is too long");
		if (l.n == CIDR_MAX)
			return kinko_err_set(e, KINKO_ELIMIT, "at most %d address blocks are allowed",
					     CIDR_MAX);
		memcpy(tok, s, n);
		tok[n] = '\0';
		rc = parse_one(tok, stored, &l.v[l.n], e);
		if (rc)
			return rc;
		l.n++;
		s += n;
	}
	*out = l;
	return 0;
}

int cidr_list_parse(const char *s, struct cidr_list *out, struct kinko_err *e)
{
	return list_parse(s, false, out, e);
}

int cidr_list_parse_stored(const char *s, struct cidr_list *out, struct kinko_err *e)
{
	return list_parse(s, true, out, e);
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		return (a[full] & mask) == (b[full] & mask);
	}
	return true;
}

int cidr_sa_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (!memcmp(a, mapped, 12)) {
			memcpy(out, a + 12, 4);
			return AF_INET;
		}
		memcpy(out, a, 16);
		return AF_INET6;
	}
	return -1;
}

bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	uint8_t a[16];
	int fam;

	if (!sa)
		return false;
	fam = cidr_sa_bytes(sa, a);
	for (unsigned i = 0; i < l->n; i++)
		if (l->v[i].family == fam && prefix_match(a, l->v[i].addr, l->v[i].prefix))
			return true;
	return false;
}

bool cidr_list_is_wide(const struct cidr_list *l)
{
	for (unsigned i = 0; i < l->n; i++)
		if ((l->v[i].family == AF_INET && l->v[i].prefix < 8) ||
		    (l->v[i].family == AF_INET6 && l->v[i].prefix < 32))
			return true;
	return false;
}

void cidr_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
	uint8_t a[16];
	int fam = sa ? cidr_sa_bytes(sa, a) : -1;

	if (fam < 0 || !inet_ntop(fam, a, out, (socklen_t)cap))
		snprintf(out, cap, "-");
}
