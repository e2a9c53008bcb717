/* kinko log verify / show / checkpoint: the ward's and the operator's view of the
 * audit log. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "core/base64.h"
#include "core/parse.h"
#include "store/store.h"
#include "vault/vault.h"

static int read_small_file(const char *path, struct kbuf *out, struct kinko_err *e)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return kinko_err_set(e, KINKO_EIO, "cannot read %s: %s", path, strerror(errno));
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		if (kbuf_append(out, buf, n)) {
			fclose(f);
			return kinko_err_set(e, KINKO_ELIMIT, "%s is too large", path);
		}
	fclose(f);
	return 0;
}

static int verify_offline(const char *dir)
{
	struct vault *v;
	struct kinko_err e;
	uint64_t events = 0, cps = 0;
	int rc = vault_open(dir, &v, &e);

	if (rc)
		return cli_fail(&e);
	rc = vault_log_verify(v, &events, &cps, &e);
	vault_close(v);
	if (rc) {
		printf("NG: %s\n", e.msg);
		return 1;
	}
	printf("OK: %llu events, %llu signed checkpoints; every checkpoint matches the events "
	       "and the checkpoint file\n",
	       (unsigned long long)events, (unsigned long long)cps);
	return 0;
}

static int hashes_from(json_t *a, uint8_t out[][MERKLE_HASH_LEN], size_t *n, struct kinko_err *e)
{
	size_t i;
	json_t *h;

	if (!json_is_array(a) || json_array_size(a) > MERKLE_PROOF_MAX)
		return kinko_err_set(e, KINKO_EFORMAT, "the server's proof is malformed");
	json_array_foreach(a, i, h) {
		size_t got = 0;
		const char *s = json_string_value(h);
		if (!s || kinko_base64_decode(s, strlen(s), true, out[i], MERKLE_HASH_LEN, &got) ||
		    got != MERKLE_HASH_LEN)
			return kinko_err_set(e, KINKO_EFORMAT, "the server's proof is malformed");
	}
	*n = json_array_size(a);
	return 0;
}

/* Checks a checkpoint the ward kept against the server's current one. */
static int verify_online(const struct client_opts *co, const char *cpfile, const char *keystr)
{
	struct client *c;
	struct kinko_err e;
	struct kbuf old, keybuf;
	struct note_verifier vk;
	struct checkpoint a, b;
	json_t *doc = NULL;
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	size_t n = 0;
	char path[128];
	int rc;

	kbuf_init(&old, 1 << 16);
	kbuf_init(&keybuf, 4096);
	rc = read_small_file(cpfile, &old, &e);
	if (rc == 0 && keystr && !strchr(keystr, '+'))
		rc = read_small_file(keystr, &keybuf, &e); /* a file holding the key */
	if (rc == 0 && keybuf.len) {
		keybuf.len = strcspn(kbuf_str(&keybuf), "\r\n");
		keybuf.data[keybuf.len] = '\0';
		keystr = kbuf_str(&keybuf);
	}
	if (rc == 0)
		rc = client_open(co, true, &c, &e);
	if (rc) {
		kbuf_free(&old);
		kbuf_free(&keybuf);
		return cli_fail(&e);
	}
	if (!keystr) {
		rc = client_json(c, "GET", "log/key", NULL, &doc, &e);
		if (rc == 0)
			rc = note_verifier_parse(json_string_value(json_object_get(doc, "verifier")),
						 &vk, &e);
		fprintf(stderr, "kinko: warning: using the key the server states; pass --log-key with "
				"the key you were given at the start to rule out a replaced key\n");
		json_decref(doc);
		doc = NULL;
	} else {
		rc = note_verifier_parse(keystr, &vk, &e);
	}
	if (rc == 0)
		rc = checkpoint_open(old.data, old.len, &vk, 1, NULL, &a, &e);
	if (rc == 0)
		rc = client_json(c, "GET", "log/checkpoint", NULL, &doc, &e);
	if (rc == 0) {
		const char *t = json_string_value(json_object_get(doc, "checkpoint"));
		rc = t ? checkpoint_open((const uint8_t *)t, strlen(t), &vk, 1, a.origin, &b, &e)
		       : kinko_err_set(&e, KINKO_EFORMAT, "the server sent no checkpoint");
	}
	json_decref(doc);
	doc = NULL;
	if (rc == 0 && b.size < a.size)
		rc = kinko_err_set(&e, KINKO_EINTEGRITY,
				   "the server's log has %llu events, fewer than the %llu in your "
				   "checkpoint: it was rolled back",
				   (unsigned long long)b.size, (unsigned long long)a.size);
	if (rc == 0) {
		snprintf(path, sizeof path, "log/proof/consistency?from=%llu&to=%llu",
			 (unsigned long long)a.size, (unsigned long long)b.size);
		rc = client_json(c, "GET", path, NULL, &doc, &e);
	}
	if (rc == 0)
		rc = hashes_from(json_object_get(doc, "proof"), proof, &n, &e);
	if (rc == 0 && merkle_verify_consistency(a.size, b.size, a.root, b.root, proof, n))
		rc = kinko_err_set(&e, KINKO_EINTEGRITY,
				   "the server's log is NOT an extension of your checkpoint at %llu: "
				   "events up to %llu were altered or removed",
				   (unsigned long long)a.size, (unsigned long long)a.size);
	json_decref(doc);
	client_close(c);
	kbuf_free(&old);
	kbuf_free(&keybuf);
	if (rc == KINKO_EINTEGRITY || rc == KINKO_ECRYPTO) {
		printf("NG: %s\n", e.msg);
		return 1;
	}
	if (rc)
		return cli_fail(&e);
	printf("OK: your checkpoint at %llu is consistent with the server's signed checkpoint "
	       "at %llu\n",
	       (unsigned long long)a.size, (unsigned long long)b.size);
	return 0;
}

int cmd_log_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		CLIENT_LONGOPTS,
		{"checkpoint", required_argument, NULL, 'c'},
		{"log-key", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	struct client_opts co = {0};
	const char *cp = NULL, *key = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			cp = optarg;
		else if (c == 'k')
			key = optarg;
		else if (!client_opt(&co, c, optarg))
			return 2;
	}
	if (optind != argc || (!cp && !co.dir)) {
		cli_usage_error("usage: kinko log verify --dir DIR | --checkpoint FILE [--log-key "
				"VERIFIER|FILE] [--url URL ...]");
		return 2;
	}
	if (!cp)
		return verify_offline(co.dir);
	return verify_online(&co, cp, key);
}

/* ---------------------------------------------------------------- show */

struct show_ctx {
	int64_t from_ms, to_ms;
	const char *actor, *contract, *action, *result;
	bool csv;
	uint64_t shown;
	int rc;
	struct kinko_err *e;
};

static void csv_field(const char *s, bool last)
{
	/* Every field is an ID, a word or a number; quote anyway for Excel. */
	printf("\"%s\"%s", s, last ? "\r\n" : ",");
}

static int show_row(void *ctx, uint64_t seq, const uint8_t *p, size_t n)
{
	struct show_ctx *c = ctx;
	struct audit_event ev;
	char t[AUDIT_TIME_LEN + 1], num[32];

	if (audit_event_decode(p, n, &ev, c->e))
		return kinko_err_wrap(c->e, "event %llu", (unsigned long long)seq);
	if ((c->from_ms && ev.time_ms < c->from_ms) || (c->to_ms && ev.time_ms >= c->to_ms) ||
	    (c->actor && strcmp(c->actor, ev.actor)) ||
	    (c->contract && strcmp(c->contract, ev.contract)) ||
	    (c->action && strncmp(c->action, ev.action, strlen(c->action))) ||
	    (c->result && strcmp(c->result, audit_result_name(ev.result))))
		return 0;
	c->shown++;
	if (!c->csv) {
		fwrite(p, 1, n, stdout);
		fputc('\n', stdout);
		return 0;
	}
	if (audit_time_format(ev.time_ms, t))
		return KINKO_EFORMAT;
	snprintf(num, sizeof num, "%llu", (unsigned long long)ev.seq);
	csv_field(num, false);
	csv_field(t, false);
	csv_field(ev.actor, false);
	csv_field(ev.role, false);
	csv_field(ev.cert, false);
	csv_field(ev.addr, false);
	csv_field(ev.contract, false);
	csv_field(ev.action, false);
	{
		char targets[AUDIT_TARGETS_MAX * (AUDIT_ID_MAX + 1) + 1] = "";
		size_t w = 0;
		for (unsigned i = 0; i < ev.ntargets; i++)
			w += (size_t)snprintf(targets + w, sizeof targets - w, "%s%s", i ? " " : "",
					      ev.targets[i]);
		csv_field(targets, false);
	}
	csv_field(audit_result_name(ev.result), false);
	snprintf(num, sizeof num, "%u", ev.status);
	csv_field(num, false);
	snprintf(num, sizeof num, "%llu", (unsigned long long)ev.bytes);
	csv_field(num, false);
	csv_field(ev.request, true);
	return 0;
}

int cmd_log_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},
		{"actor", required_argument, NULL, 'a'},
		{"contract", required_argument, NULL, 'c'},
		{"action", required_argument, NULL, 'A'},
		{"result", required_argument, NULL, 'r'},
		{"format", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	struct show_ctx sc;
	struct kinko_err e;
	struct vault *v;
	const char *dir = NULL;
	int c, rc;

	memset(&sc, 0, sizeof sc);
	sc.e = &e;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'f':
		case 't':
			if (audit_time_parse(optarg, strlen(optarg), c == 'f' ? &sc.from_ms : &sc.to_ms)) {
				cli_usage_error("--from/--to take UTC times like 2026-11-26T00:00:00.000Z");
				return 2;
			}
			break;
		case 'a': sc.actor = optarg; break;
		case 'c': sc.contract = optarg; break;
		case 'A': sc.action = optarg; break;
		case 'r': sc.result = optarg; break;
		case 'F':
			if (!strcmp(optarg, "csv"))
				sc.csv = true;
			else if (strcmp(optarg, "jsonl")) {
				cli_usage_error("--format is jsonl or csv");
				return 2;
			}
			break;
		default: return 2;
		}
	}
	if (!dir || optind != argc) {
		cli_usage_error("usage: kinko log show --dir DIR [--from T] [--to T] [--actor ID] "
				"[--contract ID] [--action PREFIX] [--result ok|denied|error] "
				"[--format jsonl|csv]");
		return 2;
	}
	rc = vault_open(dir, &v, &e);
	if (rc)
		return cli_fail(&e);
	if (sc.csv) {
		/* UTF-8 with BOM so that Excel opens it as UTF-8. */
		fputs("\xEF\xBB\xBF", stdout);
		fputs("seq,time,actor,role,cert,addr,contract,action,targets,result,status,bytes,"
		      "request\r\n", stdout);
	}
	{
		struct store *s = vault_store(v);
		rc = s->ops->begin(s, &e);
		if (rc == 0) {
			rc = s->ops->audit_scan(s, 0, show_row, &sc, &e);
			s->ops->rollback(s);
		}
	}
	vault_close(v);
	if (rc)
		return cli_fail(&e);
	fprintf(stderr, "kinko: %llu event(s)\n", (unsigned long long)sc.shown);
	return 0;
}
