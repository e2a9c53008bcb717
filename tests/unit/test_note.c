/* Signed notes, checkpoints and Ed25519: interop vectors from Go's
 * golang.org/x/mod/sumdb/note tests and the C2SP tlog-checkpoint example, and the
 * signed-note rules for changed bytes, CRLF, unknown and bad keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/checkpoint.h"
#include "audit/note.h"
#include "core/base64.h"
#include "crypto/crypto.h"
#include "crypto/sign.h"

/* From golang.org/x/mod/sumdb/note's tests. */
#define PETER_SKEY_B64 "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz" /* 0x01 || seed */
#define PETER_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define TEXT                                                                                       \
	"If you think cryptography is the answer to your problem,\n"                               \
	"then you don't know what your problem is.\n"
#define PETER_SIG                                                                                  \
	"\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK" \
	"vqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_SIG                                                                                  \
	"\xe2\x80\x94 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01o" \
	"OTGwnWLox33WWd1RvMc+QQ=\n"

static struct kinko_sign_key *peter_key(void)
{
	uint8_t raw[33];
	size_t n;
	struct kinko_sign_key *k = NULL;

	assert_int_equal(kinko_base64_decode(PETER_SKEY_B64, strlen(PETER_SKEY_B64), true, raw, sizeof raw, &n), 0);
	assert_int_equal(n, 33);
	assert_int_equal(raw[0], 1);
	assert_int_equal(kinko_sign_key_from_seed(raw + 1, &k), 0);
	return k;
}

static int open_str(const char *msg, const struct note_verifier *keys, size_t nkeys,
		    struct note_opened *o)
{
	struct kinko_err e;
	return note_open((const uint8_t *)msg, strlen(msg), keys, nkeys, o, &e);
}

static void ed25519_sign_verify(void **state)
{
	struct kinko_sign_key *k = NULL, *k2 = NULL;
	uint8_t pk[32], pk2[32], seed[32], sig[64];
	(void)state;

	assert_int_equal(kinko_sign_keypair(&k), 0);
	kinko_sign_key_public(k, pk);
	assert_int_equal(kinko_sign(k, "msg", 3, sig), 0);
	assert_int_equal(kinko_sign_verify(pk, "msg", 3, sig), 0);
	assert_int_equal(kinko_sign_verify(pk, "msh", 3, sig), KINKO_ECRYPTO);
	sig[10] ^= 1;
	assert_int_equal(kinko_sign_verify(pk, "msg", 3, sig), KINKO_ECRYPTO);
	/* The seed rebuilds the same key. */
	kinko_sign_key_seed(k, seed);
	assert_int_equal(kinko_sign_key_from_seed(seed, &k2), 0);
	kinko_sign_key_public(k2, pk2);
	assert_memory_equal(pk, pk2, 32);
	/* An all-zero public key (small order) never verifies. */
	memset(pk2, 0, 32);
	assert_int_equal(kinko_sign_verify(pk2, "msg", 3, sig), KINKO_ECRYPTO);
	kinko_sign_key_free(k);
	kinko_sign_key_free(k2);
	kinko_sign_key_free(NULL);
}

static void go_note_vectors(void **state)
{
	struct kinko_sign_key *k = peter_key();
	struct note_verifier v, peter, enoch, keys[3];
	struct kinko_err e;
	struct kbuf out;
	uint8_t pk[32];
	struct note_opened o;
	(void)state;

	/* Our verifier key string and key ID match Go's for the same seed. */
	kinko_sign_key_public(k, pk);
	assert_int_equal(note_verifier_make("PeterNeumann", pk, &v, &e), 0);
	assert_int_equal(v.key_id, 0xc74f20a3);
	kbuf_init(&out, 4096);
	assert_int_equal(note_verifier_format(&v, &out), 0);
	assert_string_equal(kbuf_str(&out), PETER_VKEY);
	kbuf_reset(&out);
	assert_int_equal(note_verifier_parse(PETER_VKEY, &peter, &e), 0);
	assert_memory_equal(&peter, &v, sizeof v);
	assert_int_equal(note_verifier_parse(ENOCH_VKEY, &enoch, &e), 0);

	/* Signing gives Go's bytes exactly (Ed25519 is deterministic). */
	assert_int_equal(note_sign((const uint8_t *)TEXT, strlen(TEXT), "PeterNeumann", k, &out, &e), 0);
	assert_string_equal(kbuf_str(&out), TEXT "\n" PETER_SIG);

	/* One known and one unknown signature: ok, the unknown one ignored. */
	assert_int_equal(open_str(TEXT "\n" PETER_SIG ENOCH_SIG, &peter, 1, &o), 0);
	assert_int_equal(o.text_len, strlen(TEXT));
	assert_int_equal(o.verified, 1);
	assert_int_equal(o.ignored, 1);
	keys[0] = peter;
	keys[1] = enoch;
	assert_int_equal(open_str(TEXT "\n" PETER_SIG ENOCH_SIG, keys, 2, &o), 0);
	assert_int_equal(o.verified, 2);
	assert_int_equal(o.ignored, 0);
	/* Only unknown keys: refused. */
	assert_int_equal(open_str(TEXT "\n" ENOCH_SIG, &peter, 1, &o), KINKO_ENOENT);
	/* The same key given twice: a caller error. */
	keys[2] = enoch;
	assert_int_equal(open_str(TEXT "\n" PETER_SIG, keys, 3, &o), KINKO_EINVAL);
	assert_int_equal(open_str(TEXT "\n" PETER_SIG, keys, 0, &o), KINKO_EINVAL);
	kbuf_free(&out);
	kinko_sign_key_free(k);
}

static void note_rules(void **state)
{
	struct note_verifier peter;
	struct kinko_err e;
	struct note_opened o;
	char *msg, *p;
	size_t i, n;
	int rc;
	(void)state;

	assert_int_equal(note_verifier_parse(PETER_VKEY, &peter, &e), 0);
	msg = malloc(200 * 200);
	assert_non_null(msg);

	/* A signature by the known key that does not verify fails the note. */
	strcpy(msg, TEXT "\n" PETER_SIG);
	p = strstr(msg, "x08go") + 20;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(open_str(msg, &peter, 1, &o), KINKO_ECRYPTO);
	/* ... also next to a good one. */
	strcpy(msg, TEXT "\n" PETER_SIG);
	strcat(msg, PETER_SIG);
	p = strstr(strstr(msg, "x08go") + 1, "x08go") + 20;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(open_str(msg, &peter, 1, &o), KINKO_ECRYPTO);
	/* Go's "ABCD" insertion: still a well-formed line from the known key. */
	n = strlen(TEXT "\n");
	strcpy(msg, TEXT "\n");
	memcpy(msg + n, PETER_SIG, 60);
	strcpy(msg + n + 60, "ABCD");
	strcat(msg, PETER_SIG + 60);
	assert_int_equal(open_str(msg, &peter, 1, &o), KINKO_ECRYPTO);

	/* Every changed byte of the text is caught. */
	n = strlen(TEXT);
	for (i = 0; i < n; i++) {
		strcpy(msg, TEXT "\n" PETER_SIG);
		msg[i] = msg[i] == 'x' ? 'y' : 'x';
		rc = open_str(msg, &peter, 1, &o);
		assert_true(rc == KINKO_ECRYPTO || rc == KINKO_EFORMAT);
	}
	/* CRLF anywhere is malformed. */
	assert_int_equal(open_str("If you think cryptography is the answer to your problem,\r\n"
				  "then you don't know what your problem is.\n\n" PETER_SIG,
				  &peter, 1, &o),
			 KINKO_EFORMAT);
	strcpy(msg, TEXT "\n" PETER_SIG);
	msg[strlen(msg) - 1] = '\r';
	strcat(msg, "\n");
	assert_int_equal(open_str(msg, &peter, 1, &o), KINKO_EFORMAT);

	/* Go's malformed notes. */
	{
		static const char *bad[] = {
			TEXT,
			TEXT "\n",
			"\x01" TEXT "\n" PETER_SIG,
			"\xff" TEXT "\n" PETER_SIG,
			TEXT "\n" "\xe2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
			TEXT "\n" PETER_SIG "Unexpected line.\n",
			TEXT "\n" "- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
			TEXT "\n" "\xe2\x80\x94 PeterNeumann  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
			TEXT "\n" "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
			TEXT "\n" "\xe2\x80\x94 PeterNeumann AAAA\n",
			TEXT "\n" "\xe2\x80\x94 Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
			TEXT "\n" "\xe2\x80\x94 Peter\xe3\x80\x80Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
			"",
			"\n\n",
		};
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			assert_int_equal(open_str(bad[i], &peter, 1, &o), KINKO_EFORMAT);
		(void)PETER_SIG[0];
	}
	/* A 101st signature line is too many, whoever signed it. */
	strcpy(msg, TEXT "\n");
	for (i = 0; i < 100; i++)
		strcat(msg, PETER_SIG);
	assert_int_equal(open_str(msg, &peter, 1, &o), 0);
	assert_int_equal(o.verified, 100);
	strcat(msg, PETER_SIG);
	assert_int_equal(open_str(msg, &peter, 1, &o), KINKO_EFORMAT);

	/* A signature by the same name with another key ID is another key: ignored. */
	strcpy(msg, TEXT "\n" PETER_SIG);
	p = strstr(msg, "x08go");
	memcpy(p, "xxxx", 4);
	assert_int_equal(open_str(msg, &peter, 1, &o), KINKO_ENOENT);
	strcat(msg, PETER_SIG);
	assert_int_equal(open_str(msg, &peter, 1, &o), 0);
	assert_int_equal(o.ignored, 1);
	/* A blank line inside the text is part of the text: the last one separates. */
	{
		struct kinko_sign_key *k = peter_key();
		struct kbuf out;
		static const char t2[] = "line\n\nafter a blank line\n\n";

		kbuf_init(&out, 4096);
		assert_int_equal(note_sign((const uint8_t *)t2, strlen(t2), "PeterNeumann", k, &out, &e), 0);
		assert_int_equal(note_open(out.data, out.len, &peter, 1, &o, &e), 0);
		assert_int_equal(o.text_len, strlen(t2));
		kbuf_free(&out);
		kinko_sign_key_free(k);
	}
	free(msg);
}

static void verifier_key_manglings(void **state)
{
	const char *vk = PETER_VKEY;
	size_t len = strlen(vk), i, j;
	struct note_verifier v;
	struct kinko_err e;
	char buf[128];
	(void)state;

	/* Go's test: every proper substring and every single-byte change is refused. */
	for (i = 0; i <= len; i++)
		for (j = i + 1; j <= len; j++) {
			if (i == 0 && j == len)
				continue;
			memcpy(buf, vk + i, j - i);
			buf[j - i] = '\0';
			assert_int_not_equal(note_verifier_parse(buf, &v, &e), 0);
		}
	for (i = 0; i < len; i++) {
		strcpy(buf, vk);
		buf[i]++;
		assert_int_not_equal(note_verifier_parse(buf, &v, &e), 0);
	}
	/* Another algorithm, with a matching key ID, is refused too. */
	assert_int_not_equal(note_verifier_parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &v, &e), 0);
	assert_int_equal(note_verifier_parse(vk, &v, &e), 0);
}

static void checkpoints(void **state)
{
	struct kinko_sign_key *k = NULL, *other = NULL;
	struct checkpoint c, d;
	struct note_verifier v, vo;
	struct kinko_err e;
	struct kbuf out;
	uint8_t pk[32];
	char *s;
	static const char c2sp[] = "example.com/behind-the-sofa\n20852163\n"
				   "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	(void)state;

	/* The C2SP example body parses and formats back to the same bytes. */
	assert_int_equal(checkpoint_parse((const uint8_t *)c2sp, strlen(c2sp), &c, &e), 0);
	assert_string_equal(c.origin, "example.com/behind-the-sofa");
	assert_int_equal(c.size, 20852163);
	assert_int_equal(c.root[0], 0x0a);
	kbuf_init(&out, 8192);
	assert_int_equal(checkpoint_format(&c, &out, &e), 0);
	assert_string_equal(kbuf_str(&out), c2sp);
	kbuf_reset(&out);

	/* Sign, open, and the signed-note rules through checkpoint_open. */
	assert_int_equal(kinko_sign_keypair(&k), 0);
	assert_int_equal(kinko_sign_keypair(&other), 0);
	kinko_sign_key_public(k, pk);
	assert_int_equal(note_verifier_make("kinko.example/ward-log", pk, &v, &e), 0);
	kinko_sign_key_public(other, pk);
	assert_int_equal(note_verifier_make("kinko.example/ward-log", pk, &vo, &e), 0);
	memset(&c, 0, sizeof c);
	strcpy(c.origin, "kinko.example/ward-log");
	c.size = 42;
	memset(c.root, 0xab, sizeof c.root);
	strcpy(c.ext, "time 2026-11-26T07:00:00Z\n");
	assert_int_equal(checkpoint_sign(&c, c.origin, k, &out, &e), 0);
	assert_int_equal(checkpoint_open(out.data, out.len, &v, 1, "kinko.example/ward-log", &d, &e), 0);
	assert_memory_equal(&c, &d, sizeof c);
	assert_int_equal(checkpoint_open(out.data, out.len, &v, 1, "other.example/log", &d, &e), KINKO_EINTEGRITY);
	/* Same name, another key: unknown, so no trusted signature. */
	assert_int_equal(checkpoint_open(out.data, out.len, &vo, 1, NULL, &d, &e), KINKO_ENOENT);
	/* A changed size. */
	s = strstr((char *)out.data, "\n42\n");
	s[2] = '3';
	assert_int_equal(checkpoint_open(out.data, out.len, &v, 1, NULL, &d, &e), KINKO_ECRYPTO);
	kbuf_reset(&out);

	/* Bodies we would not write are refused. */
	{
		static const char *bad[] = {
			"o\n042\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"o\n+42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"o\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
			"o\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
			"o\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
			"o\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",
			"o\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
			"o\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nok\n\nx\n",
			"o\r\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"o\n42\r\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"o\n9223372036854775809\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"o\n99999999999999999999\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
			"o\n42\n",
			"",
		};
		size_t i;
		for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
			assert_int_equal(checkpoint_parse((const uint8_t *)bad[i], strlen(bad[i]), &d, &e),
					 KINKO_EFORMAT);
	}
	{
		static const char zero[] = "o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
		assert_int_equal(checkpoint_parse((const uint8_t *)zero, strlen(zero), &d, &e), 0);
	}
	assert_int_equal(d.size, 0);
	/* And so are checkpoints we are asked to write with bad fields. */
	strcpy(c.origin, "two\nlines");
	assert_int_equal(checkpoint_format(&c, &out, &e), KINKO_EINVAL);
	strcpy(c.origin, "o");
	strcpy(c.ext, "no newline");
	assert_int_equal(checkpoint_format(&c, &out, &e), KINKO_EINVAL);
	strcpy(c.ext, "a\n\n");
	assert_int_equal(checkpoint_format(&c, &out, &e), KINKO_EINVAL);
	assert_int_equal(out.len, 0);
	/* note_sign refuses texts that could not be opened again. */
	assert_int_equal(note_sign((const uint8_t *)"no newline", 10, "n", k, &out, &e), KINKO_EINVAL);
	assert_int_equal(note_sign((const uint8_t *)"cr\r\n", 4, "n", k, &out, &e), KINKO_EINVAL);
	assert_int_equal(note_sign((const uint8_t *)"ok\n", 3, "bad name", k, &out, &e), KINKO_EINVAL);
	assert_int_equal(out.len, 0);
	kbuf_free(&out);
	kinko_sign_key_free(k);
	kinko_sign_key_free(other);
}

static void base64_is_strict(void **state)
{
	uint8_t out[8];
	size_t n = 99;
	char enc[16];
	(void)state;

	assert_int_equal(kinko_base64_encode((const uint8_t *)"ab", 2, enc, sizeof enc), 0);
	assert_string_equal(enc, "YWI=");
	assert_int_equal(kinko_base64_decode("YWI=", 4, true, out, sizeof out, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(kinko_base64_decode("YWJ=", 4, true, out, sizeof out, &n), KINKO_EFORMAT); /* stray bits */
	assert_int_equal(kinko_base64_decode("YWI", 3, true, out, sizeof out, &n), KINKO_EFORMAT);
	assert_int_equal(kinko_base64_decode("Y=I=", 4, true, out, sizeof out, &n), KINKO_EFORMAT);
	assert_int_equal(kinko_base64_decode("YW==", 4, true, out, sizeof out, &n), KINKO_EFORMAT);
	assert_int_equal(kinko_base64_decode("Y===", 4, true, out, sizeof out, &n), KINKO_EFORMAT);
	assert_int_equal(kinko_base64_decode("YW I", 4, true, out, sizeof out, &n), KINKO_EFORMAT);
	assert_int_equal(kinko_base64_decode("YWJjZGVmZ2hp", 12, true, out, sizeof out, &n), KINKO_ELIMIT);
	assert_int_equal(kinko_base64_decode("", 0, true, out, sizeof out, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ed25519_sign_verify),
		cmocka_unit_test(go_note_vectors),
		cmocka_unit_test(note_rules),
		cmocka_unit_test(verifier_key_manglings),
		cmocka_unit_test(checkpoints),
		cmocka_unit_test(base64_is_strict),
	};
	if (kinko_crypto_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
