/* Address allowlists: strict parsing, IPv4/IPv6 matching, mapped IPv4, is_wide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "core/cidr.h"

static struct sockaddr_storage ss;

static const struct sockaddr *addr(const char *text)
{
	memset(&ss, 0, sizeof ss);
	if (strchr(text, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
	}
	return (const struct sockaddr *)&ss;
}

static bool match(const char *list, const char *a)
{
	struct cidr_list l;
	struct kinko_err e;
	assert_int_equal(cidr_list_parse(list, &l, &e), 0);
	return cidr_list_match(&l, addr(a));
}

static void parse_good(void **state)
{
	struct cidr_list l;
	struct kinko_err e;
	(void)state;

	assert_int_equal(cidr_list_parse("127.0.0.0/8, ::1/128", &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].family, AF_INET);
	assert_int_equal(l.v[0].prefix, 8);
	assert_int_equal(l.v[0].addr[0], 127);
	assert_int_equal(l.v[1].family, AF_INET6);
	assert_int_equal(l.v[1].prefix, 128);
	assert_int_equal(l.v[1].addr[15], 1);

	/* Separators: commas, spaces, tabs, repeated, leading and trailing. */
	assert_int_equal(cidr_list_parse(" ,192.0.2.1\t2001:db8::/32,,10.0.0.0/8 , ", &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[0].prefix, 32); /* a bare address is a host */
	assert_int_equal(l.v[1].prefix, 32);
	assert_int_equal(l.v[2].prefix, 8);

	/* Empty input is an empty list (the caller decides whether that is allowed). */
	l.n = 9;
	assert_int_equal(cidr_list_parse("", &l, &e), 0);
	assert_int_equal(l.n, 0);
	l.n = 9;
	assert_int_equal(cidr_list_parse(NULL, &l, &e), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(cidr_list_parse(" , ", &l, &e), 0);
	assert_int_equal(l.n, 0);

	/* Prefix limits, inclusive. */
	assert_int_equal(cidr_list_parse("0.0.0.0/0 ::/0 1.2.3.4/32 ::1/128", &l, &e), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.v[0].prefix, 0);
	assert_int_equal(l.v[1].prefix, 0);

	/* Mapped IPv4 written as IPv6 would never match (clients on mapped addresses
	 * are matched as IPv4): refused, saying how to write it. */
	assert_int_equal(cidr_list_parse("::ffff:192.0.2.0/120", &l, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "write it as IPv4"));
	/* ... but a list stored by an earlier version keeps such an entry (matching
	 * nothing, as before) and its other entries still work. */
	assert_int_equal(cidr_list_parse_stored("::ffff:192.0.2.0/120, 10.0.0.0/8", &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(cidr_list_parse_stored("junk", &l, &e), KINKO_EINVAL);

	/* Exactly CIDR_MAX entries. */
	{
		char big[CIDR_MAX * 16];
		size_t n = 0;
		for (int i = 0; i < CIDR_MAX; i++)
			n += (size_t)snprintf(big + n, sizeof big - n, "10.0.%d.0/24,", i);
		assert_int_equal(cidr_list_parse(big, &l, &e), 0);
		assert_int_equal(l.n, CIDR_MAX);
		snprintf(big + n, sizeof big - n, "10.1.0.0/16");
		l.n = 7;
		assert_int_equal(cidr_list_parse(big, &l, &e), KINKO_ELIMIT);
		assert_int_equal(l.n, 7); /* untouched on failure */
	}
}

static void parse_bad(void **state)
{
	static const char *bad[] = {
		"junk", "1.2.3", "1.2.3.4.5", "256.0.0.0", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/-1",
		"1.2.3.4/+8", "1.2.3.4/8x", "1.2.3.4/ 8", "/8", "::1/129", "::1/", ":::1",
		"2001:db8::g", "1.2.3.4/32/1", "10.0.0.1/8", "10.128.0.0/8", "192.168.1.1/31",
		"2001:db8::1/64", "::ffff:1.2.3.4/96", "::ffff:10.0.0.1", "::ffff:0:0/96", "fe80::1%eth0", "localhost",
		"127.0.0.0/8, junk", "127.0.0.1;10.0.0.0/8", "0x7f000001", "01.2.3.4",
		"1.2.3.4/0", "1.2.3.4/000000000000000000000000000000000000000000000000000000000000"
		"0000000000000000000000000000000000000000000000000000000000000000000008",
	};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct cidr_list l;
		struct kinko_err e;
		int rc;
		l.n = 42;
		memset(&e, 0, sizeof e);
		rc = cidr_list_parse(bad[i], &l, &e);
		if (rc == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_int_equal(rc, KINKO_EINVAL);
		assert_true(e.msg[0] != '\0');
		assert_int_equal(l.n, 42);
	}
}

static void host_bits_message(void **state)
{
	struct cidr_list l;
	struct kinko_err e;
	(void)state;

	assert_int_equal(cidr_list_parse("10.0.0.1/8", &l, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "host bits"));
	assert_non_null(strstr(e.msg, "10.0.0.1/8"));
	assert_int_equal(cidr_list_parse("1.2.3.4/33", &l, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "0..32"));
	assert_int_equal(cidr_list_parse("::/129", &l, &e), KINKO_EINVAL);
	assert_non_null(strstr(e.msg, "0..128"));
}

static void match_v4(void **state)
{
	(void)state;
	assert_true(match("127.0.0.0/8", "127.0.0.1"));
	assert_true(match("127.0.0.0/8", "127.255.255.255"));
	assert_false(match("127.0.0.0/8", "128.0.0.0"));
	assert_false(match("127.0.0.0/8", "126.255.255.255"));
	assert_true(match("192.0.2.128/25", "192.0.2.200"));
	assert_false(match("192.0.2.128/25", "192.0.2.127"));
	assert_true(match("192.0.2.5", "192.0.2.5"));
	assert_false(match("192.0.2.5", "192.0.2.4"));
	assert_true(match("0.0.0.0/0", "203.0.113.9"));
	assert_true(match("10.0.0.0/8 192.0.2.0/24", "192.0.2.1"));
	/* An IPv4 entry never matches a plain IPv6 address and vice versa. */
	assert_false(match("0.0.0.0/0", "2001:db8::1"));
	assert_false(match("::/0", "192.0.2.1"));
	/* An empty list matches nothing. */
	assert_false(match("", "127.0.0.1"));
}

static void match_v6_and_mapped(void **state)
{
	struct cidr_list l;
	struct kinko_err e;
	struct sockaddr_storage other;
	(void)state;

	assert_true(match("::1/128", "::1"));
	assert_false(match("::1/128", "::2"));
	assert_true(match("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(match("2001:db8::/32", "2001:db9::1"));
	assert_true(match("2001:db8:8000::/33", "2001:db8:8000::1"));
	assert_false(match("2001:db8:8000::/33", "2001:db8:7fff::1"));
	assert_true(match("::/0", "fe80::1"));
	/* IPv4-mapped IPv6 (a dual-stack socket) is matched as IPv4. */
	assert_true(match("127.0.0.0/8", "::ffff:127.0.0.1"));
	assert_false(match("127.0.0.0/8", "::ffff:10.0.0.1"));
	assert_true(match("0.0.0.0/0", "::ffff:8.8.8.8"));
	/* ... so an IPv6 entry does not cover mapped addresses. */
	assert_false(match("::/0", "::ffff:127.0.0.1"));
	/* NULL and other families never match. */
	assert_int_equal(cidr_list_parse("0.0.0.0/0 ::/0", &l, &e), 0);
	assert_false(cidr_list_match(&l, NULL));
	memset(&other, 0, sizeof other);
	other.ss_family = AF_UNIX;
	assert_false(cidr_list_match(&l, (const struct sockaddr *)&other));
}

static void wide(void **state)
{
	static const struct {
		const char *list;
		bool wide;
	} t[] = {
		{"127.0.0.0/8, ::1/128", false}, {"0.0.0.0/0", true},   {"10.0.0.0/7", true},
		{"10.0.0.0/8", false},           {"::/0", true},        {"2000::/3", true},
		{"2001:db8::/31", true},         {"2001:db8::/32", false}, {"", false},
		{"192.0.2.1, 128.0.0.0/1", true},
	};
	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct cidr_list l;
		struct kinko_err e;
		assert_int_equal(cidr_list_parse(t[i].list, &l, &e), 0);
		if (cidr_list_is_wide(&l) != t[i].wide)
			fail_msg("'%s': is_wide should be %d", t[i].list, t[i].wide);
	}
}

static void addr_text(void **state)
{
	char out[64];
	(void)state;
	cidr_addr_text(addr("192.0.2.7"), out, sizeof out);
	assert_string_equal(out, "192.0.2.7");
	cidr_addr_text(addr("2001:db8::7"), out, sizeof out);
	assert_string_equal(out, "2001:db8::7");
	cidr_addr_text(addr("::ffff:192.0.2.7"), out, sizeof out);
	assert_string_equal(out, "192.0.2.7");
	cidr_addr_text(NULL, out, sizeof out);
	assert_string_equal(out, "-");
	cidr_addr_text(addr("192.0.2.7"), out, 4); /* too small: a placeholder, not a cut */
	assert_string_equal(out, "-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_good),        cmocka_unit_test(parse_bad),
		cmocka_unit_test(host_bits_message), cmocka_unit_test(match_v4),
		cmocka_unit_test(match_v6_and_mapped), cmocka_unit_test(wide),
		cmocka_unit_test(addr_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
