/*
 * core/addrblock: a source is blocked on its Nth failure within the window and
 * for exactly the duration; a window that runs out starts the count again; IPv6
 * counts per /64 and mapped IPv4 as IPv4; the list puts blocks first and drops
 * what is no longer live; clearing takes any address of the source and refuses
 * text that is not one; a full table keeps its blocks, however many new sources
 * fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "core/addrblock.h"

struct addr {
	struct sockaddr_storage ss;
};

static const struct sockaddr *ip(struct addr *a, const char *text)
{
	memset(a, 0, sizeof *a);
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->ss;
		s->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s->sin6_addr), 1);
	} else {
		struct sockaddr_in *s = (struct sockaddr_in *)&a->ss;
		s->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s->sin_addr), 1);
	}
	return (const struct sockaddr *)&a->ss;
}

static struct addrblock *make(unsigned n, uint64_t window, uint64_t duration)
{
	struct addrblock *b = NULL;
	struct kinko_err e;

	assert_int_equal(addrblock_new(n, window, duration, &b, &e), 0);
	return b;
}

static void blocks_on_the_nth_failure_for_the_duration(void **state)
{
	struct addrblock *b = make(5, 600, 900);
	struct addrblock_entry got;
	struct addr a, o;
	int64_t until = 0;
	(void)state;

	for (int i = 0; i < 4; i++)
		assert_false(addrblock_fail(b, ip(&a, "192.0.2.7"), 1000 + i, &got));
	assert_false(addrblock_blocked(b, ip(&a, "192.0.2.7"), 1004, NULL));
	assert_true(addrblock_fail(b, ip(&a, "192.0.2.7"), 1010, &got));
	assert_string_equal(got.source, "192.0.2.7");
	assert_int_equal(got.failures, 5);
	assert_int_equal(got.first, 1000);
	assert_int_equal(got.until, 1910);
	assert_true(addrblock_blocked(b, ip(&a, "192.0.2.7"), 1909, &until));
	assert_int_equal(until, 1910);
	assert_false(addrblock_blocked(b, ip(&a, "192.0.2.7"), 1910, NULL));
	/* another address is not touched */
	assert_false(addrblock_blocked(b, ip(&o, "192.0.2.8"), 1011, NULL));
	/* a failure while blocked blocks nothing new; after the block the count is new */
	assert_false(addrblock_fail(b, ip(&a, "192.0.2.7"), 1500, NULL));
	for (int i = 0; i < 4; i++)
		assert_false(addrblock_fail(b, ip(&a, "192.0.2.7"), 2000 + i, NULL));
	assert_true(addrblock_fail(b, ip(&a, "192.0.2.7"), 2004, NULL));
	addrblock_free(b);
}

static void a_window_that_runs_out_starts_again(void **state)
{
	struct addrblock *b = make(3, 60, 900);
	struct addr a;
	(void)state;

	assert_false(addrblock_fail(b, ip(&a, "198.51.100.1"), 0, NULL));
	assert_false(addrblock_fail(b, ip(&a, "198.51.100.1"), 59, NULL));
	/* 60 s after the first: a new window, this failure is its first */
	assert_false(addrblock_fail(b, ip(&a, "198.51.100.1"), 60, NULL));
	assert_false(addrblock_fail(b, ip(&a, "198.51.100.1"), 100, NULL));
	assert_true(addrblock_fail(b, ip(&a, "198.51.100.1"), 119, NULL));
	addrblock_free(b);
}

static void ipv6_counts_per_64_and_mapped_as_ipv4(void **state)
{
	struct addrblock *b = make(3, 600, 900);
	struct addrblock_entry got;
	struct addr a;
	(void)state;

	assert_false(addrblock_fail(b, ip(&a, "2001:db8:1:2::1"), 10, NULL));
	assert_false(addrblock_fail(b, ip(&a, "2001:db8:1:2:ffff::9"), 11, NULL));
	assert_false(addrblock_fail(b, ip(&a, "2001:db8:1:3::1"), 12, NULL)); /* another /64 */
	assert_true(addrblock_fail(b, ip(&a, "2001:db8:1:2:abcd::"), 13, &got));
	assert_string_equal(got.source, "2001:db8:1:2::/64");
	assert_true(addrblock_blocked(b, ip(&a, "2001:db8:1:2:1:2:3:4"), 14, NULL));
	assert_false(addrblock_blocked(b, ip(&a, "2001:db8:1:3::1"), 14, NULL));

	assert_false(addrblock_fail(b, ip(&a, "::ffff:192.0.2.9"), 20, NULL));
	assert_false(addrblock_fail(b, ip(&a, "192.0.2.9"), 21, NULL));
	assert_true(addrblock_fail(b, ip(&a, "::ffff:192.0.2.9"), 22, &got));
	assert_string_equal(got.source, "192.0.2.9");
	assert_true(addrblock_blocked(b, ip(&a, "192.0.2.9"), 23, NULL));

	/* other families are not counted */
	{
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		for (int i = 0; i < 5; i++)
			assert_false(addrblock_fail(b, (struct sockaddr *)&un, 30, NULL));
		assert_false(addrblock_blocked(b, (struct sockaddr *)&un, 30, NULL));
	}
	addrblock_free(b);
}

static void the_list_puts_blocks_first_and_drops_the_dead(void **state)
{
	struct addrblock *b = make(2, 100, 50);
	struct addrblock_entry l[8];
	struct addr a;
	(void)state;

	assert_false(addrblock_fail(b, ip(&a, "192.0.2.1"), 0, NULL));   /* window ends at 100 */
	assert_false(addrblock_fail(b, ip(&a, "192.0.2.2"), 10, NULL));
	assert_true(addrblock_fail(b, ip(&a, "192.0.2.2"), 20, NULL));   /* blocked until 70 */
	assert_int_equal(addrblock_list(b, 30, l, 8), 2);
	assert_string_equal(l[0].source, "192.0.2.2");
	assert_int_equal(l[0].until, 70);
	assert_string_equal(l[1].source, "192.0.2.1");
	assert_int_equal(l[1].until, 0);
	assert_int_equal(l[1].failures, 1);
	assert_int_equal(addrblock_list(b, 30, l, 1), 1); /* at most cap */
	assert_int_equal(addrblock_list(b, 70, l, 8), 1);  /* the block ended */
	assert_string_equal(l[0].source, "192.0.2.1");
	assert_int_equal(addrblock_list(b, 100, l, 8), 0); /* the window ran out */
	addrblock_free(b);
}

static void clearing_takes_any_address_of_the_source(void **state)
{
	struct addrblock *b = make(1, 600, 900);
	struct addrblock_entry got;
	struct kinko_err e;
	struct addr a;
	(void)state;

	assert_true(addrblock_fail(b, ip(&a, "192.0.2.7"), 0, NULL));
	assert_true(addrblock_fail(b, ip(&a, "2001:db8::5"), 0, NULL));
	/* get finds without changing */
	assert_int_equal(addrblock_get(b, "2001:db8::1", 1, &got, &e), 0);
	assert_string_equal(got.source, "2001:db8::/64");
	assert_true(addrblock_blocked(b, ip(&a, "2001:db8::5"), 1, NULL));
	assert_int_equal(addrblock_get(b, "192.0.2.8", 1, &got, &e), KINKO_ENOENT);
	assert_int_equal(addrblock_get(b, "nonsense", 1, &got, &e), KINKO_EINVAL);
	assert_int_equal(addrblock_clear(b, "192.0.2.7", 1, &got, &e), 0);
	assert_string_equal(got.source, "192.0.2.7");
	assert_int_equal(got.until, 900);
	assert_false(addrblock_blocked(b, ip(&a, "192.0.2.7"), 2, NULL));
	assert_int_equal(addrblock_clear(b, "192.0.2.7", 2, NULL, &e), KINKO_ENOENT);
	assert_int_equal(addrblock_clear(b, "2001:db8::/64", 2, NULL, &e), 0);
	assert_false(addrblock_blocked(b, ip(&a, "2001:db8::5"), 3, NULL));
	assert_true(addrblock_fail(b, ip(&a, "2001:db8::5"), 4, NULL));
	assert_int_equal(addrblock_clear(b, "2001:db8:0:0:1::", 5, NULL, &e), 0); /* same /64 */
	assert_true(addrblock_fail(b, ip(&a, "192.0.2.3"), 6, NULL));
	assert_int_equal(addrblock_clear(b, "::ffff:192.0.2.3", 7, NULL, &e), 0);

	static const char *bad[] = {"", "example.org", "192.0.2", "192.0.2.1/24", "::1/128",
				    "1.2.3.4 ", "/64",
				    "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:00"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (addrblock_clear(b, bad[i], 8, NULL, &e) != KINKO_EINVAL)
			fail_msg("'%s' was taken as an address", bad[i]);
	addrblock_free(b);
}

static void a_full_table_keeps_its_blocks(void **state)
{
	struct addrblock *b = make(2, 100000, 100000);
	static struct addrblock_entry l[ADDRBLOCK_MAX];
	struct addr a;
	char t[32];
	(void)state;

	assert_false(addrblock_fail(b, ip(&a, "203.0.113.1"), 0, NULL));
	assert_true(addrblock_fail(b, ip(&a, "203.0.113.1"), 0, NULL));
	for (unsigned i = 1; i < ADDRBLOCK_MAX; i++) {
		snprintf(t, sizeof t, "10.%u.%u.1", i / 256, i % 256);
		assert_false(addrblock_fail(b, ip(&a, t), 1 + (int64_t)i, NULL));
	}
	assert_int_equal(addrblock_list(b, ADDRBLOCK_MAX + 1, l, ADDRBLOCK_MAX), ADDRBLOCK_MAX);
	/* a new source replaces the least recent one that is not blocked (10.0.1.1) */
	assert_false(addrblock_fail(b, ip(&a, "198.51.100.200"), ADDRBLOCK_MAX + 1, NULL));
	assert_int_equal(addrblock_list(b, ADDRBLOCK_MAX + 1, l, ADDRBLOCK_MAX), ADDRBLOCK_MAX);
	assert_true(addrblock_blocked(b, ip(&a, "203.0.113.1"), ADDRBLOCK_MAX + 1, NULL));
	for (unsigned i = 0; i < ADDRBLOCK_MAX; i++)
		assert_string_not_equal(l[i].source, "10.0.1.1");
	addrblock_free(b);

	/* A table full of blocks keeps them all: a flood of new sources is not counted
	 * and lifts nothing. */
	b = make(1, 100000, 100000);
	for (unsigned i = 0; i < ADDRBLOCK_MAX; i++) {
		snprintf(t, sizeof t, "10.%u.%u.1", i / 256, i % 256);
		assert_true(addrblock_fail(b, ip(&a, t), (int64_t)i, NULL));
	}
	for (unsigned i = 0; i < 100; i++) {
		snprintf(t, sizeof t, "172.16.%u.1", i);
		assert_false(addrblock_fail(b, ip(&a, t), ADDRBLOCK_MAX + (int64_t)i, NULL));
		assert_false(addrblock_blocked(b, ip(&a, t), ADDRBLOCK_MAX + (int64_t)i, NULL));
	}
	assert_int_equal(addrblock_list(b, ADDRBLOCK_MAX + 100, l, ADDRBLOCK_MAX), ADDRBLOCK_MAX);
	for (unsigned i = 0; i < ADDRBLOCK_MAX; i++)
		assert_true(l[i].until != 0);
	assert_true(addrblock_blocked(b, ip(&a, "10.0.0.1"), ADDRBLOCK_MAX + 100, NULL));
	addrblock_free(b);
}

/* Blocks read back from storage at start: in force until their end, whatever the
 * count; an ended one, or a source that is no address, puts nothing back. */
static void restored_blocks_stand_until_their_end(void **state)
{
	struct addrblock *b = make(5, 600, 900);
	struct addrblock_entry in = {.failures = 5, .first = 900, .last = 990, .until = 1500};
	struct addrblock_entry l[4];
	struct kinko_err e;
	struct addr a;
	int64_t until = 0;
	(void)state;

	snprintf(in.source, sizeof in.source, "2001:db8:5:6::/64");
	assert_int_equal(addrblock_restore(b, &in, 1000, &e), 0);
	assert_true(addrblock_blocked(b, ip(&a, "2001:db8:5:6::99"), 1000, &until));
	assert_int_equal(until, 1500);
	assert_false(addrblock_blocked(b, ip(&a, "2001:db8:5:7::99"), 1000, NULL));
	assert_false(addrblock_blocked(b, ip(&a, "2001:db8:5:6::99"), 1500, NULL));
	assert_int_equal(addrblock_list(b, 1000, l, 4), 1);
	assert_string_equal(l[0].source, "2001:db8:5:6::/64");
	assert_int_equal(l[0].failures, 5);
	assert_int_equal(l[0].last, 990);

	/* Ended already: nothing. */
	snprintf(in.source, sizeof in.source, "192.0.2.9");
	in.until = 1000;
	assert_int_equal(addrblock_restore(b, &in, 1000, &e), 0);
	assert_false(addrblock_blocked(b, ip(&a, "192.0.2.9"), 1000, NULL));
	/* An IPv4 source, and a later restore of the same one replacing it. */
	in.until = 2000;
	assert_int_equal(addrblock_restore(b, &in, 1000, &e), 0);
	in.until = 3000;
	assert_int_equal(addrblock_restore(b, &in, 1000, &e), 0);
	assert_true(addrblock_blocked(b, ip(&a, "192.0.2.9"), 1000, &until));
	assert_int_equal(until, 3000);
	assert_int_equal(addrblock_list(b, 1000, l, 4), 2);
	/* Failures of a restored source add nothing while it is blocked. */
	assert_false(addrblock_fail(b, ip(&a, "192.0.2.9"), 1001, NULL));

	snprintf(in.source, sizeof in.source, "not-an-address");
	assert_int_equal(addrblock_restore(b, &in, 1000, &e), KINKO_EINVAL);
	assert_int_equal(addrblock_list(b, 1000, l, 4), 2);
	addrblock_free(b);

	/* A table full of blocks takes no more. */
	b = make(1, 600, 900);
	for (unsigned i = 0; i < ADDRBLOCK_MAX; i++) {
		char t[32];
		snprintf(t, sizeof t, "10.%u.%u.1", i / 256, i % 256);
		assert_true(addrblock_fail(b, ip(&a, t), 1000, NULL));
	}
	snprintf(in.source, sizeof in.source, "192.0.2.10");
	assert_int_equal(addrblock_restore(b, &in, 1000, &e), KINKO_ELIMIT);
	addrblock_free(b);
}

static void limits_are_checked(void **state)
{
	struct addrblock *b = NULL;
	struct kinko_err e;
	(void)state;

	assert_int_equal(addrblock_new(0, 1, 1, &b, &e), KINKO_EINVAL);
	assert_int_equal(addrblock_new(1, 0, 1, &b, &e), KINKO_EINVAL);
	assert_int_equal(addrblock_new(1, 1, 0, &b, &e), KINKO_EINVAL);
	assert_null(b);
	addrblock_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blocks_on_the_nth_failure_for_the_duration),
		cmocka_unit_test(a_window_that_runs_out_starts_again),
		cmocka_unit_test(ipv6_counts_per_64_and_mapped_as_ipv4),
		cmocka_unit_test(the_list_puts_blocks_first_and_drops_the_dead),
		cmocka_unit_test(clearing_takes_any_address_of_the_source),
		cmocka_unit_test(a_full_table_keeps_its_blocks),
		cmocka_unit_test(restored_blocks_stand_until_their_end),
		cmocka_unit_test(limits_are_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
