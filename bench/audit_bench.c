/*
 * Audit log benchmark (make bench): durable appends per second against the
 * machine's fsync limit measured in the same run, proof times at 10^3 and 10^6
 * events, and a full verification of 10^6 events against sha256sum of the same
 * bytes. Usage: bench_audit DIR [EVENTS]
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/log.h"
#include "crypto/crypto.h"
#include "store/store.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void event(struct audit_event *ev, uint64_t i)
{
	audit_event_init(ev);
	snprintf(ev->actor, sizeof ev->actor, "3f1c2a54-7b6e-4d2a-9c1e-5a7b8c9d0e1f");
	snprintf(ev->role, sizeof ev->role, "handler");
	snprintf(ev->cert, sizeof ev->cert, "%064x", 7);
	snprintf(ev->addr, sizeof ev->addr, "192.0.2.%u", (unsigned)(i % 250) + 1);
	snprintf(ev->contract, sizeof ev->contract, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
	snprintf(ev->action, sizeof ev->action, "object.get");
	if (audit_event_add_target(ev, "5d6e7f80-1a2b-4c3d-8e4f-5a6b7c8d9e0f"))
		exit(1);
	ev->bytes = i * 1000;
	snprintf(ev->request, sizeof ev->request, "%032llx", (unsigned long long)i);
}

static struct store *st;
static atomic_ulong appended;
static volatile int stop;

static void *appender(void *arg)
{
	struct kinko_err e;
	(void)arg;
	while (!stop) {
		struct audit_event ev;
		event(&ev, appended);
		if (st->ops->begin(st, &e) || audit_log_append(st, &ev, NULL, &e) ||
		    st->ops->commit(st, &e)) {
			fprintf(stderr, "append: %s\n", e.msg);
			exit(1);
		}
		atomic_fetch_add(&appended, 1);
	}
	return NULL;
}

static double fsync_limit(const char *dir)
{
	char path[4096], buf[256] = {0};
	double t0 = now(), t;
	unsigned n = 0;
	int fd;

	snprintf(path, sizeof path, "%s/fsync.probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	do {
		if (pwrite(fd, buf, sizeof buf, (off_t)(n % 64) * 256) < 0 || fdatasync(fd))
			exit(1);
		n++;
		t = now() - t0;
	} while (t < 2.0);
	close(fd);
	unlink(path);
	return n / t;
}

static double durable_rate(unsigned threads)
{
	pthread_t th[64];
	unsigned long before = atomic_load(&appended);
	double t0 = now(), t;

	stop = 0;
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, appender, NULL);
	sleep(3);
	stop = 1;
	for (unsigned i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t = now() - t0;
	return (atomic_load(&appended) - before) / t;
}

static double proof_us(uint64_t size, int consistency)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct kinko_err e;
	size_t n;
	double t0;
	int reps = 2000;

	if (st->ops->begin(st, &e))
		exit(1);
	t0 = now();
	for (int i = 0; i < reps; i++) {
		uint64_t a = (uint64_t)kinko_random_uniform((uint32_t)size);
		int rc = consistency ? audit_log_consistency(st, a, size, proof, &n, &e)
				     : audit_log_inclusion(st, a, size, proof, &n, &e);
		if (rc) {
			fprintf(stderr, "proof: %s\n", e.msg);
			exit(1);
		}
	}
	t0 = (now() - t0) / reps * 1e6;
	st->ops->rollback(st);
	return t0;
}

static int dump(void *ctx, uint64_t seq, const uint8_t *p, size_t n)
{
	(void)seq;
	return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct kinko_err e;
	char path[4096], cmd[8300];
	uint64_t target = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000, size = 0;
	double fl, r1, r8, t0, tv, ts;
	struct audit_verify_report rep;
	struct kinko_sign_key *k;
	struct note_verifier vk;
	uint8_t pk[KINKO_SIGN_PUBLIC_LEN];

	if (argc < 2 || kinko_crypto_init())
		return 2;
	snprintf(path, sizeof path, "%s/audit-bench.db", argv[1]);
	unlink(path);
	if (store_sqlite_open(path, true, &st, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	fl = fsync_limit(argv[1]);
	r1 = durable_rate(1);
	r8 = durable_rate(16);
	printf("audit appends, each commit durable (fdatasync before the answer)\n");
	printf("  machine fsync limit (write + fdatasync loop): %8.0f /s\n", fl);
	printf("  1 writer:   %8.0f events/s  ratio %.2f\n", r1, r1 / fl);
	printf("  16 writers: %8.0f events/s  ratio %.2f  (target > 1: group commit)\n", r8, r8 / fl);

	/* Grow the log to `target` events in large transactions. */
	if (st->ops->begin(st, &e) || st->ops->audit_size(st, &size, &e))
		return 1;
	st->ops->rollback(st);
	t0 = now();
	while (size < target) {
		if (st->ops->begin(st, &e))
			return 1;
		for (int i = 0; i < 20000 && size < target; i++, size++) {
			struct audit_event ev;
			event(&ev, size);
			if (audit_log_append(st, &ev, NULL, &e)) {
				fprintf(stderr, "%s\n", e.msg);
				return 1;
			}
		}
		if (st->ops->commit(st, &e))
			return 1;
	}
	printf("  grew the log to %llu events in %.1f s\n", (unsigned long long)size, now() - t0);
	printf("proof times (average of 2000 random proofs)\n");
	printf("  inclusion   at 10^3: %6.1f us   at %llu: %6.1f us\n", proof_us(1000, 0),
	       (unsigned long long)size, proof_us(size, 0));
	printf("  consistency at 10^3: %6.1f us   at %llu: %6.1f us\n", proof_us(1000, 1),
	       (unsigned long long)size, proof_us(size, 1));

	if (kinko_sign_keypair(&k))
		return 1;
	kinko_sign_key_public(k, pk);
	if (note_verifier_make("bench.local/log", pk, &vk, &e))
		return 1;
	if (st->ops->begin(st, &e))
		return 1;
	t0 = now();
	if (audit_log_verify(st, &vk, &rep, &e)) {
		fprintf(stderr, "verify: %s\n", e.msg);
		return 1;
	}
	tv = now() - t0;
	snprintf(cmd, sizeof cmd, "%s/events.bin", argv[1]);
	{
		FILE *f = fopen(cmd, "wb");
		if (!f || st->ops->audit_scan(st, 0, dump, f, &e))
			return 1;
		fclose(f);
	}
	st->ops->rollback(st);
	snprintf(cmd, sizeof cmd, "sha256sum %s/events.bin >/dev/null", argv[1]);
	t0 = now();
	if (system(cmd) != 0)
		return 1;
	ts = now() - t0;
	printf("full verification of %llu events (%.1f MB): %.2f s = %.0f MB/s; "
	       "sha256sum of the same bytes: %.2f s = %.0f MB/s; ratio %.2f (target >= 0.5)\n",
	       (unsigned long long)rep.events, rep.bytes / 1e6, tv, rep.bytes / 1e6 / tv, ts,
	       rep.bytes / 1e6 / ts, ts / tv);
	snprintf(cmd, sizeof cmd, "%s/events.bin", argv[1]);
	unlink(cmd);
	kinko_sign_key_free(k);
	store_close(st);
	unlink(path);
	return 0;
}
