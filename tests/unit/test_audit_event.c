/* The canonical audit event encoding: exact bytes, round trips, and refusal of
 * everything that is not an ID-only, canonical event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/event.h"
#include "audit/merkle.h"
#include "crypto/crypto.h"

#define GOLDEN                                                                                     \
	"{\"v\":1,\"seq\":41,\"time\":\"2026-11-26T07:29:32.123Z\","                                \
	"\"actor\":\"0f8e3a52-5b7c-4d2e-9a1b-3c4d5e6f7a8b\",\"role\":\"handler\","                  \
	"\"cert\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\","             \
	"\"addr\":\"2001:db8::7\",\"contract\":\"6b1d0c3e-1f2a-4b5c-8d9e-0a1b2c3d4e5f\","            \
	"\"action\":\"object.put\",\"targets\":[\"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\",\"7\"],"   \
	"\"result\":\"ok\",\"status\":201,\"bytes\":1048576,\"request\":\"00112233445566778899aabbccddeeff\"}"

static void golden_event(struct audit_event *ev)
{
	audit_event_init(ev);
	ev->seq = 41;
	assert_int_equal(audit_time_parse("2026-11-26T07:29:32.123Z", 24, &ev->time_ms), 0);
	strcpy(ev->actor, "0f8e3a52-5b7c-4d2e-9a1b-3c4d5e6f7a8b");
	strcpy(ev->role, "handler");
	strcpy(ev->cert, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	strcpy(ev->addr, "2001:db8::7");
	strcpy(ev->contract, "6b1d0c3e-1f2a-4b5c-8d9e-0a1b2c3d4e5f");
	strcpy(ev->action, "object.put");
	assert_int_equal(audit_event_add_target(ev, "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"), 0);
	assert_int_equal(audit_event_add_target(ev, "7"), 0);
	ev->result = AUDIT_OK;
	ev->status = 201;
	ev->bytes = 1048576;
	strcpy(ev->request, "00112233445566778899aabbccddeeff");
}

static int decode_str(const char *s, struct audit_event *ev)
{
	struct kinko_err e;
	return audit_event_decode((const uint8_t *)s, strlen(s), ev, &e);
}

static void encodes_exact_bytes_and_round_trips(void **state)
{
	struct audit_event ev, back;
	struct kinko_err e;
	struct kbuf out;
	(void)state;

	golden_event(&ev);
	kbuf_init(&out, AUDIT_EVENT_MAX);
	assert_int_equal(audit_event_encode(&ev, &out, &e), 0);
	assert_string_equal(kbuf_str(&out), GOLDEN);
	assert_int_equal(decode_str(GOLDEN, &back), 0);
	assert_memory_equal(&ev, &back, sizeof ev);

	/* The minimal event: all "-", no targets. */
	audit_event_init(&ev);
	strcpy(ev.action, "auth.login");
	ev.result = AUDIT_DENIED;
	ev.status = 401;
	kbuf_reset(&out);
	assert_int_equal(audit_event_encode(&ev, &out, &e), 0);
	assert_string_equal(kbuf_str(&out),
			    "{\"v\":1,\"seq\":0,\"time\":\"1970-01-01T00:00:00.000Z\",\"actor\":\"-\","
			    "\"role\":\"-\",\"cert\":\"-\",\"addr\":\"-\",\"contract\":\"-\","
			    "\"action\":\"auth.login\",\"targets\":[],\"result\":\"denied\","
			    "\"status\":401,\"bytes\":0,\"request\":\"-\"}");
	assert_int_equal(audit_event_decode(out.data, out.len, &back, &e), 0);
	assert_memory_equal(&ev, &back, sizeof ev);

	/* The largest event fits the documented bound. */
	golden_event(&ev);
	ev.ntargets = 0;
	while (ev.ntargets < AUDIT_TARGETS_MAX)
		assert_int_equal(audit_event_add_target(&ev, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), 0);
	assert_int_equal(audit_event_add_target(&ev, "7"), KINKO_ELIMIT);
	strcpy(ev.addr, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ev.seq = ev.bytes = AUDIT_INT_MAX;
	strcpy(ev.action, "abcdefghijklmno.abcdefghijklmno.abcdefghijklmno.abcdefghijklmnop");
	strcpy(ev.request, ev.targets[0]);
	strcpy(ev.contract, ev.targets[0]);
	ev.result = AUDIT_DENIED;
	ev.status = 403;
	kbuf_reset(&out);
	assert_int_equal(audit_event_encode(&ev, &out, &e), 0);
	assert_true(out.len < AUDIT_EVENT_MAX);
	assert_int_equal(audit_event_decode(out.data, out.len, &back, &e), 0);
	assert_memory_equal(&ev, &back, sizeof ev);
	kbuf_free(&out);
}

static void refuses_anything_but_ids(void **state)
{
	struct audit_event ev;
	struct kinko_err e;
	struct kbuf out;
	size_t i;
	static const char *bad_ids[] = {
		"", "tanaka", "Tanaka Taro", "\xe7\x94\xb0\xe4\xb8\xad", "report.pdf",
		"0F8E3A52-5B7C-4D2E-9A1B-3C4D5E6F7A8B", "0f8e3a525b7c4d2e9a1b3c4d5e6f7a8g", "012",
		"-1", "1e5", "deadbeef", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
		"-9007199254740992", "0f8e3a52-5b7c-4d2e-9a1b-3c4d5e6f7a8b ", "123456789012-3456",
	};
	static const char *good_ids[] = {
		"0", "7", "9007199254740991", "9007199254740992" /* as hex */, "0f8e3a52-5b7c-4d2e-9a1b-3c4d5e6f7a8b", "0123456789abcdef",
	};
	(void)state;

	for (i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
		assert_int_equal(audit_id_check(bad_ids[i]), KINKO_EINVAL);
	for (i = 0; i < sizeof good_ids / sizeof good_ids[0]; i++)
		assert_int_equal(audit_id_check(good_ids[i]), 0);

	kbuf_init(&out, AUDIT_EVENT_MAX);
#define REFUSED(mutation)                                                                          \
	do {                                                                                       \
		golden_event(&ev);                                                                 \
		mutation;                                                                          \
		assert_int_equal(audit_event_encode(&ev, &out, &e), KINKO_EINVAL);                 \
		assert_int_equal(out.len, 0);                                                      \
	} while (0)
	REFUSED(strcpy(ev.actor, "tanaka"));
	REFUSED(strcpy(ev.actor, "7"));
	REFUSED(strcpy(ev.role, "admin"));
	REFUSED(strcpy(ev.role, ""));
	REFUSED(strcpy(ev.cert, "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"));
	REFUSED(strcpy(ev.cert, "9f86d0"));
	REFUSED(strcpy(ev.addr, "localhost"));
	REFUSED(strcpy(ev.addr, "2001:DB8::7"));
	REFUSED(strcpy(ev.addr, "2001:db8:0:0:0:0:0:7"));
	REFUSED(strcpy(ev.addr, "010.1.2.3"));
	REFUSED(strcpy(ev.addr, "10.1.2.3:443"));
	REFUSED(strcpy(ev.contract, "Shinjuku ward"));
	REFUSED(strcpy(ev.contract, ""));
	REFUSED(strcpy(ev.action, "object"));
	REFUSED(strcpy(ev.action, "Object.put"));
	REFUSED(strcpy(ev.action, "object..put"));
	REFUSED(strcpy(ev.action, "object.put."));
	REFUSED(strcpy(ev.action, ".object.put"));
	REFUSED(strcpy(ev.action, "object.9put"));
	REFUSED(strcpy(ev.action, "a.b.c.d.e"));
	REFUSED(strcpy(ev.action, "object.put name=x"));
	REFUSED(strcpy(ev.targets[1], "my-file.txt"));
	REFUSED(strcpy(ev.targets[0], "\"injected\""));
	REFUSED(ev.ntargets = AUDIT_TARGETS_MAX + 1);
	REFUSED(ev.status = 403);          /* ok needs < 400 */
	REFUSED((ev.result = AUDIT_DENIED, ev.status = 500));
	REFUSED((ev.result = AUDIT_ERROR, ev.status = 200));
	REFUSED(ev.result = (enum audit_result)9);
	REFUSED(ev.seq = AUDIT_INT_MAX + 1);
	REFUSED(ev.bytes = AUDIT_INT_MAX + 1);
	REFUSED(ev.time_ms = -1);
	REFUSED(ev.time_ms = INT64_C(253402300800000));
	REFUSED(strcpy(ev.request, "req 1"));
	REFUSED(memset(ev.request, 'a', sizeof ev.request)); /* not NUL-terminated */
#undef REFUSED
	kbuf_free(&out);
}

static void decoder_is_strict(void **state)
{
	struct audit_event ev;
	size_t i, n = strlen(GOLDEN);
	char *m = malloc(n + 128);
	int c;
	static const char *bad[] = {
		"",
		"{}",
		GOLDEN "\n",
		" " GOLDEN,
	};
	(void)state;

	assert_non_null(m);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(decode_str(bad[i], &ev), KINKO_EFORMAT);
	/* Hand-made variants of single fields. */
#define SWAP(from, to)                                                                             \
	do {                                                                                       \
		char *p;                                                                           \
		strcpy(m, GOLDEN);                                                                 \
		p = strstr(m, from);                                                               \
		assert_non_null(p);                                                                \
		memmove(p + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);           \
		memcpy(p, to, strlen(to));                                                         \
		assert_int_equal(decode_str(m, &ev), KINKO_EFORMAT);                               \
	} while (0)
	SWAP("{\"v\":1", "{\"v\":2");
	SWAP("{\"v\":1,\"seq\":41", "{\"seq\":41,\"v\":1");
	SWAP("\"seq\":41", "\"seq\":041");
	SWAP("\"seq\":41", "\"seq\":41.0");
	SWAP("\"seq\":41", "\"seq\":-41");
	SWAP(",\"seq\"", ", \"seq\"");
	SWAP(",\"role\":\"handler\"", ",\"role\":\"handler\",\"role\":\"handler\"");
	SWAP("07:29:32.123Z", "07:29:32.12Z ");
	SWAP("2026-11-26T07:29:32.123Z", "2026-11-26 07:29:32.123Z");
	SWAP("2026-11-26T07:29:32.123Z", "2026-11-26T07:29:32.123+");
	SWAP("2026-11-26", "2026-02-30");
	SWAP("2026-11-26", "2100-02-29");
	SWAP("07:29:32", "24:00:00");
	SWAP("07:29:32", "07:29:60");
	SWAP("\"handler\"", "\"handler\\u0020\"");
	SWAP("\"7\"]", "7]");
	SWAP("\"7\"]", "\"7\",]");
	SWAP("\"ok\"", "\"OK\"");
	SWAP("201", "1201");
	SWAP("1048576", "1048576.5");
	SWAP("1048576", "9007199254740992");
	SWAP("\"request\"", "\"req\"");
#undef SWAP
	/* Every single-byte change is refused, or yields an event whose canonical
	 * encoding is exactly the changed bytes (so no two spellings of one event). */
	for (i = 0; i < n; i++)
		for (c = 0; c < 256; c += 7) {
			struct kbuf re;
			struct kinko_err e;

			memcpy(m, GOLDEN, n);
			if ((unsigned char)m[i] == c)
				continue;
			m[i] = (char)c;
			if (audit_event_decode((const uint8_t *)m, n, &ev, &e) != 0)
				continue;
			kbuf_init(&re, AUDIT_EVENT_MAX);
			assert_int_equal(audit_event_encode(&ev, &re, &e), 0);
			assert_int_equal(re.len, n);
			assert_memory_equal(re.data, m, n);
			kbuf_free(&re);
		}
	/* Every truncation is refused. */
	for (i = 0; i < n; i++)
		assert_int_equal(audit_event_decode((const uint8_t *)GOLDEN, i, &ev, NULL), KINKO_EFORMAT);
	free(m);
}

static void time_encoding(void **state)
{
	char s[AUDIT_TIME_LEN + 1];
	int64_t ms, back;
	uint64_t x = 88172645463325252ULL;
	int i;
	(void)state;

	assert_int_equal(audit_time_format(0, s), 0);
	assert_string_equal(s, "1970-01-01T00:00:00.000Z");
	assert_int_equal(audit_time_format(INT64_C(951782400000), s), 0);
	assert_string_equal(s, "2000-02-29T00:00:00.000Z");
	assert_int_equal(audit_time_format(INT64_C(1795678172123), s), 0);
	assert_string_equal(s, "2026-11-26T07:29:32.123Z");
	assert_int_equal(audit_time_format(INT64_C(253402300799999), s), 0);
	assert_string_equal(s, "9999-12-31T23:59:59.999Z");
	assert_int_equal(audit_time_format(INT64_C(253402300800000), s), KINKO_EINVAL);
	assert_int_equal(audit_time_format(-1, s), KINKO_EINVAL);
	assert_int_equal(audit_time_parse("1969-12-31T23:59:59.999Z", 24, &ms), KINKO_EFORMAT);
	assert_int_equal(audit_time_parse("2024-02-29T12:00:00.000Z", 24, &ms), 0);
	assert_int_equal(audit_time_parse("2023-02-29T12:00:00.000Z", 24, &ms), KINKO_EFORMAT);
	assert_int_equal(audit_time_parse("2000-13-01T12:00:00.000Z", 24, &ms), KINKO_EFORMAT);
	assert_int_equal(audit_time_parse("2000-00-01T12:00:00.000Z", 24, &ms), KINKO_EFORMAT);
	assert_int_equal(audit_time_parse("2000-01-00T12:00:00.000Z", 24, &ms), KINKO_EFORMAT);
	assert_int_equal(audit_time_parse("2000-04-31T12:00:00.000Z", 24, &ms), KINKO_EFORMAT);
	/* Random round trips across the whole range. */
	for (i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ms = (int64_t)(x % UINT64_C(253402300800000));
		assert_int_equal(audit_time_format(ms, s), 0);
		assert_int_equal(audit_time_parse(s, strlen(s), &back), 0);
		assert_int_equal(back, ms);
	}
	ms = audit_time_now_ms();
	assert_true(ms > INT64_C(1700000000000));
}

static void leaf_hash_is_of_the_encoding(void **state)
{
	struct audit_event ev;
	struct kinko_err e;
	struct kbuf out;
	uint8_t a[32], b[32];
	(void)state;

	/* The leaf is the encoded bytes: one changed field, another leaf. */
	golden_event(&ev);
	kbuf_init(&out, AUDIT_EVENT_MAX);
	assert_int_equal(audit_event_encode(&ev, &out, &e), 0);
	assert_int_equal(merkle_hash_leaf(out.data, out.len, a), 0);
	ev.bytes++;
	kbuf_reset(&out);
	assert_int_equal(audit_event_encode(&ev, &out, &e), 0);
	assert_int_equal(merkle_hash_leaf(out.data, out.len, b), 0);
	assert_memory_not_equal(a, b, 32);
	kbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encodes_exact_bytes_and_round_trips),
		cmocka_unit_test(refuses_anything_but_ids),
		cmocka_unit_test(decoder_is_strict),
		cmocka_unit_test(time_encoding),
		cmocka_unit_test(leaf_hash_is_of_the_encoding),
	};
	if (kinko_crypto_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
