/* Fuzzes the address a client names to lift a block (DELETE /blocks/{address}):
 * an input that parses names the source it would block, and the table's own
 * spelling of that source parses back to it. The same bytes also drive a table
 * as a stream of failures at growing times, checked against its invariants, and
 * the same text put back as a stored block must be taken exactly when it parses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addrblock.h"

static void run_table(const uint8_t *data, size_t size)
{
	struct addrblock *b = NULL;
	struct kinko_err e;
	static struct addrblock_entry l[ADDRBLOCK_MAX];
	int64_t now = 1000;

	if (addrblock_new(3, 50, 20, &b, &e))
		abort();
	/* Each 3 bytes: a time step, then one byte of an IPv4 or IPv6 address. */
	for (size_t i = 0; i + 3 <= size; i += 3) {
		struct sockaddr_storage ss;
		struct addrblock_entry got;
		int64_t until = 0;
		memset(&ss, 0, sizeof ss);
		now += data[i] % 16;
		if (data[i + 1] & 1) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			a->sin6_family = AF_INET6;
			a->sin6_addr.s6_addr[0] = 0x20;
			a->sin6_addr.s6_addr[7] = data[i + 2] & 7;
			a->sin6_addr.s6_addr[15] = data[i + 1];
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(0xc0000200u | (data[i + 2] & 15));
		}
		if (addrblock_fail(b, (struct sockaddr *)&ss, now, &got) &&
		    (got.until != now + 20 || got.failures != 3))
			abort();
		if (addrblock_blocked(b, (struct sockaddr *)&ss, now, &until) &&
		    (until <= now || until > now + 20))
			abort();
	}
	{
		size_t n = addrblock_list(b, now, l, ADDRBLOCK_MAX);
		bool seen_counted = false;
		for (size_t i = 0; i < n; i++) {
			if (l[i].until && seen_counted)
				abort(); /* blocked ones come first */
			seen_counted |= !l[i].until;
			if (l[i].failures < 1 || l[i].failures > 3 || l[i].first > l[i].last)
				abort();
			if (addrblock_get(b, l[i].source, now, NULL, &e) != 0)
				abort(); /* the table's own spelling names the source */
		}
	}
	addrblock_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256];
	struct addrblock *b = NULL;
	struct addrblock_entry got, again;
	struct kinko_err e;
	int64_t until = 0;
	int rc;

	run_table(data, size > 3000 ? 3000 : size);
	if (size >= sizeof s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (addrblock_new(1, 10, 10, &b, &e))
		abort();
	rc = addrblock_get(b, s, 0, &got, &e);
	if (rc != KINKO_EINVAL && rc != KINKO_ENOENT)
		abort(); /* an empty table has nothing */
	if (rc == KINKO_ENOENT) {
		/* It parsed: block what it names, then find and lift it by the same text
		 * and by the table's spelling. */
		struct sockaddr_storage ss;
		char t[64];
		size_t len = strlen(s);
		uint8_t a[16];
		memset(&ss, 0, sizeof ss);
		if (len >= sizeof t)
			abort(); /* a parsed address is short */
		memcpy(t, s, len + 1);
		if (len > 3 && !strcmp(t + len - 3, "/64"))
			t[len - 3] = '\0';
		if (inet_pton(AF_INET, t, a) == 1) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			in->sin_family = AF_INET;
			memcpy(&in->sin_addr, a, 4);
		} else if (inet_pton(AF_INET6, t, a) == 1) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			in6->sin6_family = AF_INET6;
			memcpy(&in6->sin6_addr, a, 16);
		} else {
			abort(); /* taken by the table, refused by inet_pton */
		}
		if (!addrblock_fail(b, (struct sockaddr *)&ss, 0, &got))
			abort();
		if (addrblock_get(b, s, 1, &again, &e) != 0 || strcmp(again.source, got.source))
			abort();
		if (addrblock_clear(b, got.source, 1, NULL, &e) != 0)
			abort();
		if (addrblock_blocked(b, (struct sockaddr *)&ss, 1, NULL))
			abort();
		/* Put back from storage by the table's spelling, it blocks the same
		 * source again, until the same end. */
		if (addrblock_restore(b, &got, 1, &e) != 0 ||
		    !addrblock_blocked(b, (struct sockaddr *)&ss, 1, &until) || until != got.until)
			abort();
	} else if (!e.msg[0]) {
		abort();
	}
	/* Restoring takes the text exactly as a lift does. */
	if (size < ADDRBLOCK_TEXT) {
		struct addrblock_entry r = {.failures = 1, .first = 0, .last = 0, .until = 5};
		int rr;
		memcpy(r.source, s, size + 1);
		rr = addrblock_restore(b, &r, 1, &e);
		if ((rr == 0) != (rc == KINKO_ENOENT) || (rr != 0 && rr != KINKO_EINVAL))
			abort();
	}
	addrblock_free(b);
	return 0;
}
