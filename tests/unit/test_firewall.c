/* The nftables rules `kinko firewall` prints (checked by nft itself in
 * tests/integration/test_firewall.py; here, what they say). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/firewall.h"

static char *rules(const char *allow, uint16_t port, const char *origin, struct kbuf *out)
{
	struct cidr_list l;
	struct kinko_err e;

	assert_int_equal(cidr_list_parse(allow, &l, &e), 0);
	kbuf_init(out, 1 << 20);
	assert_int_equal(firewall_nft(&l, port, origin, out, &e), 0);
	assert_int_equal(kbuf_append(out, "", 1), 0); /* a C string */
	return (char *)out->data;
}

static void both_families(void **state)
{
	struct kbuf b;
	char *t = rules("10.0.0.0/8, 192.0.2.7, ::1, 2001:db8::/48", 8443, "/srv/k/kinko.conf", &b);
	(void)state;

	assert_non_null(strstr(t, "table inet kinko\ndelete table inet kinko\ntable inet kinko {\n"));
	assert_non_null(strstr(t, "type ipv4_addr; flags interval; auto-merge;\n"
				  "\t\telements = { 10.0.0.0/8, 192.0.2.7/32 }\n"));
	assert_non_null(strstr(t, "type ipv6_addr; flags interval; auto-merge;\n"
				  "\t\telements = { ::1/128, 2001:db8::/48 }\n"));
	assert_non_null(strstr(t, "policy accept;\n"
				  "\t\ttcp dport 8443 ip saddr @allow4 accept\n"
				  "\t\ttcp dport 8443 ip6 saddr @allow6 accept\n"
				  "\t\ttcp dport 8443 counter drop"));
	assert_non_null(strstr(t, "from /srv/k/kinko.conf;"));
	/* Nothing of another port. */
	assert_null(strstr(t, "dport 8444"));
	kbuf_free(&b);
}

static void one_family_or_none(void **state)
{
	struct kbuf b;
	char *t = rules("127.0.0.0/8", 443, "x", &b);
	(void)state;

	assert_non_null(strstr(t, "set allow4"));
	assert_null(strstr(t, "allow6"));
	assert_null(strstr(t, "ip6"));
	assert_non_null(strstr(t, "tcp dport 443 counter drop"));
	kbuf_free(&b);

	/* An empty allowlist lets nobody in: the drop alone. */
	t = rules("", 8443, "x", &b);
	assert_null(strstr(t, "set allow"));
	assert_null(strstr(t, "accept\n"));
	assert_non_null(strstr(t, "tcp dport 8443 counter drop"));
	kbuf_free(&b);
}

static void origin_stays_in_its_comment(void **state)
{
	struct kbuf b;
	char *t = rules("127.0.0.1", 8443, "/tmp/a\nflush ruleset\r#", &b);
	(void)state;

	/* A path with a line break cannot start a rule of its own. */
	assert_null(strstr(t, "\nflush ruleset"));
	assert_non_null(strstr(t, "# Made by `kinko firewall` from /tmp/a?flush ruleset?#;"));
	kbuf_free(&b);
}

static void port_zero_is_refused(void **state)
{
	struct cidr_list l = {0};
	struct kbuf b;
	struct kinko_err e;
	(void)state;

	kbuf_init(&b, 1 << 20);
	assert_int_equal(firewall_nft(&l, 0, "x", &b, &e), KINKO_EINVAL);
	assert_int_equal(b.len, 0);
	kbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(both_families),
		cmocka_unit_test(one_family_or_none),
		cmocka_unit_test(origin_stays_in_its_comment),
		cmocka_unit_test(port_zero_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
