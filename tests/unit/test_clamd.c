/*
 * The clamd client against a fake clamd: a thread on a UNIX socket that checks the
 * INSTREAM framing (or reads the file passed with FILDES) and answers canned
 * replies, hangs, or closes. Proves that every failure (down, hung, closed,
 * garbled, limit) is refused, never passed as clean, in both transports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "scan/clamd.h"

enum fake_mode {
	FAKE_SCAN,       /* read the stream, answer by content */
	FAKE_REPLY,      /* read the command (and stream), answer reply verbatim */
	FAKE_HANG,       /* read everything, never answer */
	FAKE_NO_READ,    /* accept, never read */
	FAKE_CLOSE,      /* accept and close at once */
	FAKE_LIMIT,      /* after limit bytes answer the size-limit error and close */
};

struct fake {
	char dir[64];
	char path[128];
	int lfd;
	pthread_t th;
	enum fake_mode mode;
	const char *reply;
	size_t reply_len;
	uint64_t limit;
	/* what the fake saw */
	char cmd[32];
	uint64_t received;
	unsigned frames;
	unsigned max_frame;
	bool framing_ok;
	uint32_t sum; /* a simple checksum of the payload */
	bool saw_marker;
	int hold_ms;
	/* FILDES */
	bool ping_first; /* the first connection is zPING, answered PONG */
	int pings;       /* with ping_first: how many such connections (0 means 1) */
	const char *ping_reply;
	int passed_fd;   /* the descriptor number clamd would name in its reply */
	int seals;       /* the passed file's seals */
	bool passed_regular;
	atomic_bool got_all; /* the end of the stream, or the passed file, arrived */
};

static bool read_full(int fd, void *p, size_t n)
{
	uint8_t *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r <= 0)
			return false;
		c += r;
		n -= (size_t)r;
	}
	return true;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* What the fake "scans": a checksum, the byte count and the marker
 * "MALWARE-MARKER", which may straddle pieces (matched carries across calls). */
static void look_at(struct fake *f, const uint8_t *buf, size_t n, size_t *matched)
{
	static const char marker[] = "MALWARE-MARKER";
	const size_t mlen = sizeof marker - 1;

	for (size_t i = 0; i < n; i++) {
		f->sum = f->sum * 31 + buf[i];
		/* naive streaming match, good enough for a marker without self-overlap */
		if (buf[i] == (uint8_t)marker[*matched]) {
			if (++*matched == mlen) {
				f->saw_marker = true;
				*matched = 0;
			}
		} else {
			*matched = buf[i] == (uint8_t)marker[0] ? 1 : 0;
		}
	}
	f->received += n;
}

/* Reads the stream frames. */
static bool read_stream(struct fake *f, int fd)
{
	size_t matched = 0;
	uint8_t *buf = malloc(4 * 1024 * 1024);

	f->framing_ok = false;
	for (;;) {
		uint8_t h[4];
		uint32_t n;
		if (!read_full(fd, h, 4))
			break;
		n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (n == 0) {
			f->framing_ok = true;
			atomic_store(&f->got_all, true);
			break;
		}
		if (n > 4 * 1024 * 1024 || !read_full(fd, buf, n))
			break;
		f->frames++;
		if (n > f->max_frame)
			f->max_frame = n;
		look_at(f, buf, n, &matched);
		if (f->mode == FAKE_LIMIT && f->received > f->limit) {
			static const char r[] = "INSTREAM size limit exceeded. ERROR";
			(void)!send(fd, r, sizeof r, MSG_NOSIGNAL);
			break;
		}
	}
	free(buf);
	return f->framing_ok;
}

/* Receives the descriptor sent after zFILDES (with one byte of data). */
static int recv_fd(int sock)
{
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(int))];
	} ctl;
	uint8_t one;
	struct iovec iov = {&one, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			   .msg_controllen = sizeof ctl.b};
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

/* Reads the passed file from its start, as clamd does, without moving its offset. */
static void read_passed(struct fake *f, int fd)
{
	size_t matched = 0;
	uint8_t *buf = malloc(1 << 20);
	struct stat st;
	off_t off = 0;
	ssize_t r;

	f->passed_regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	f->seals = fcntl(fd, F_GET_SEALS);
	while ((r = pread(fd, buf, 1 << 20, off)) > 0) {
		look_at(f, buf, (size_t)r, &matched);
		off += r;
	}
	f->framing_ok = r == 0;
	free(buf);
}

static void read_cmd(int fd, char *cmd, size_t cap)
{
	size_t n = 0;

	memset(cmd, 0, cap);
	while (n < cap - 1) {
		char c;
		if (read(fd, &c, 1) != 1)
			break;
		cmd[n++] = c;
		if (c == '\0')
			break;
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	char verdict[64];
	int fd, pfd = -1;

	if (f->mode == FAKE_NO_READ) {
		sleep_ms(f->hold_ms);
		return NULL;
	}
	for (int k = 0; f->ping_first && k < (f->pings ? f->pings : 1); k++) {
		const char *pr = f->ping_reply ? f->ping_reply : "PONG";
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		read_cmd(fd, f->cmd, sizeof f->cmd);
		if (strcmp(f->cmd, "zPING") != 0 || strcmp(pr, "PONG") != 0) {
			(void)!send(fd, pr, strlen(pr) + 1, MSG_NOSIGNAL);
			close(fd);
			return NULL;
		}
		(void)!send(fd, pr, strlen(pr) + 1, MSG_NOSIGNAL);
		close(fd);
	}
	fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (f->mode == FAKE_CLOSE) {
		close(fd);
		return NULL;
	}
	/* the command, up to its NUL */
	read_cmd(fd, f->cmd, sizeof f->cmd);
	if (!strcmp(f->cmd, "zINSTREAM")) {
		read_stream(f, fd);
		snprintf(verdict, sizeof verdict, "stream");
	} else if (!strcmp(f->cmd, "zFILDES")) {
		pfd = recv_fd(fd);
		if (pfd >= 0) {
			atomic_store(&f->got_all, true);
			read_passed(f, pfd);
		}
		f->passed_fd = pfd;
		snprintf(verdict, sizeof verdict, "fd[%d]", pfd);
	}
	if (f->mode == FAKE_SCAN) {
		char r[128];
		snprintf(r, sizeof r, "%s: %s", verdict, f->saw_marker ? "Fake.Marker FOUND" : "OK");
		(void)!send(fd, r, strlen(r) + 1, MSG_NOSIGNAL);
	} else if (f->mode == FAKE_REPLY) {
		(void)!send(fd, f->reply, f->reply_len, MSG_NOSIGNAL);
	} else if (f->mode == FAKE_HANG) {
		sleep_ms(f->hold_ms);
	}
	if (pfd >= 0)
		close(pfd);
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(f, 0, sizeof *f);
	f->mode = mode;
	f->hold_ms = 1000;
	snprintf(f->dir, sizeof f->dir, "/tmp/kinko-fakeclamd.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/clamd.sock", f->dir);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_true(strlen(f->path) < sizeof sa.sun_path);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
}

static void fake_run(struct fake *f)
{
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
}

static struct clamd_cfg cfg_for(const struct fake *f)
{
	struct clamd_cfg c = {.socket_path = f->path,
			      .connect_timeout_ms = 300,
			      .io_timeout_ms = 300,
			      .reply_timeout_ms = 300};
	return c;
}

/* Streams data in pieces of step bytes; returns finish's result. Failures before
 * finish also leave CLAMD_ERROR in *v, as finish does for its own. */
static int scan_data(const struct clamd_cfg *c, const uint8_t *p, size_t n, size_t step,
		     struct clamd_verdict *v, struct kinko_err *e)
{
	struct clamd_scan *s = NULL;
	int rc = clamd_scan_begin(c, &s, e);
	if (rc) {
		v->result = CLAMD_ERROR;
		return rc;
	}
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		rc = clamd_scan_feed(s, p + off, k, e);
		if (rc) {
			clamd_scan_abort(s);
			v->result = CLAMD_ERROR;
			return rc;
		}
	}
	return clamd_scan_finish(s, v, e);
}

static uint8_t *make_data(size_t n, size_t marker_at)
{
	uint8_t *d = malloc(n);
	assert_non_null(d);
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)('a' + i % 23);
	if (marker_at != SIZE_MAX)
		memcpy(d + marker_at, "MALWARE-MARKER", 14);
	return d;
}

static uint32_t sum_of(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

static void clean_stream_passes_with_exact_framing(void **state)
{
	static const size_t steps[] = {1, 7, 4096, 65536, 300000, 3000000};
	size_t n = 3 * 1024 * 1024 + 17;
	uint8_t *d = make_data(n, SIZE_MAX);
	(void)state;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct fake f;
		struct clamd_cfg c;
		struct clamd_verdict v;
		struct kinko_err e = {0};
		size_t len = steps[i] == 1 ? 200000 : n; /* 1-byte feeds: a shorter stream */
		fake_start(&f, FAKE_SCAN);
		c = cfg_for(&f);
		c.io_timeout_ms = 5000;
		c.reply_timeout_ms = 5000;
		fake_run(&f);
		assert_int_equal(scan_data(&c, d, len, steps[i], &v, &e), 0);
		fake_stop(&f);
		assert_int_equal(v.result, CLAMD_CLEAN);
		assert_int_equal(v.bytes, len);
		assert_string_equal(f.cmd, "zINSTREAM");
		assert_true(f.framing_ok);
		assert_int_equal(f.received, len);
		assert_int_equal(f.sum, sum_of(d, len));
		assert_true(f.max_frame <= 1024 * 1024);
		if (steps[i] == 1)
			assert_true(f.frames <= 4); /* small feeds are coalesced */
	}
	free(d);
}

static void marker_across_boundary_is_infected(void **state)
{
	size_t n = 200000;
	uint8_t *d = make_data(n, 65536 - 5); /* straddles the 64 KiB frame boundary */
	struct fake f;
	struct clamd_cfg c;
	struct clamd_verdict v;
	struct kinko_err e = {0};
	(void)state;
	fake_start(&f, FAKE_SCAN);
	c = cfg_for(&f);
	fake_run(&f);
	assert_int_equal(scan_data(&c, d, n, 1000, &v, &e), 0);
	fake_stop(&f);
	assert_int_equal(v.result, CLAMD_INFECTED);
	assert_string_equal(v.signature, "Fake.Marker");
	free(d);
}

/* Scans data against a fake in the given mode and expects the refusal `want` with
 * msg_part in its message. fildes: pass a file (the fake answers ping at PING). */
static void refusal_case(bool fildes, enum fake_mode mode, const char *ping, const char *reply,
			 size_t rlen, int want, const char *msg_part)
{
	/* A clamd that stops reading must be noticed while streaming: send more than
	 * the client's socket send buffer holds (4 MiB, doubled by the kernel). The
	 * other cases stay small, so a slow (sanitized) fake keeps up with them. */
	size_t n = mode == FAKE_NO_READ ? 12u << 20 : 300000;
	uint8_t *d = make_data(n, SIZE_MAX);
	struct fake f;
	struct clamd_cfg c;
	struct clamd_verdict v;
	struct kinko_err e = {0};
	int rc;

	fake_start(&f, mode);
	f.reply = reply;
	f.reply_len = rlen;
	f.limit = 100000;
	c = cfg_for(&f);
	if (fildes) {
		f.ping_first = true;
		f.ping_reply = ping;
		c.pass_fd = true;
	}
	fake_run(&f);
	v.result = CLAMD_CLEAN;
	rc = scan_data(&c, d, n, 65536, &v, &e);
	fake_stop(&f);
	free(d);
	assert_int_equal(rc, want);
	assert_int_equal(e.code, want);
	assert_int_equal(v.result, CLAMD_ERROR); /* never passed as clean */
	if (msg_part && !strstr(e.msg, msg_part)) {
		fprintf(stderr, "message was: %s\n", e.msg);
		fail();
	}
}

static void expect_refusal(enum fake_mode mode, const char *reply, size_t rlen, int want,
			   const char *msg_part)
{
	refusal_case(false, mode, NULL, reply, rlen, want, msg_part);
}

static void failures_are_refused(void **state)
{
	static const char garbled[] = "hello there";
	static const char err[] = "stream: Can't create temporary file ERROR";
	static const char lim[] = "stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND";
	static const char nonul[] = "stream: OK"; /* no NUL, then close: still parsed */
	static const char sess[] = "1: stream: OK";
	static const char bin[] = "stream: \x01OK";
	(void)state;
	expect_refusal(FAKE_HANG, NULL, 0, KINKO_EUNAVAIL, "did not answer");
	expect_refusal(FAKE_CLOSE, NULL, 0, KINKO_EUNAVAIL, "clamd");
	expect_refusal(FAKE_NO_READ, NULL, 0, KINKO_EUNAVAIL, "stopped reading");
	expect_refusal(FAKE_LIMIT, NULL, 0, KINKO_ELIMIT, "StreamMaxLength");
	expect_refusal(FAKE_REPLY, garbled, sizeof garbled, KINKO_EUNAVAIL, "does not understand");
	expect_refusal(FAKE_REPLY, sess, sizeof sess, KINKO_EUNAVAIL, "does not understand");
	expect_refusal(FAKE_REPLY, bin, sizeof bin, KINKO_EUNAVAIL, "does not understand");
	expect_refusal(FAKE_REPLY, err, sizeof err, KINKO_EUNAVAIL, "temporary file");
	expect_refusal(FAKE_REPLY, lim, sizeof lim, KINKO_ELIMIT, "MaxFileSize");
	expect_refusal(FAKE_REPLY, "", 0, KINKO_EUNAVAIL, "without an answer");
	{
		/* a reply without its NUL before close is read to EOF and understood */
		size_t n = 1000;
		uint8_t *d = make_data(n, SIZE_MAX);
		struct fake f;
		struct clamd_cfg c;
		struct clamd_verdict v;
		fake_start(&f, FAKE_REPLY);
		f.reply = nonul;
		f.reply_len = strlen(nonul);
		c = cfg_for(&f);
		fake_run(&f);
		assert_int_equal(scan_data(&c, d, n, 100, &v, NULL), 0);
		fake_stop(&f);
		assert_int_equal(v.result, CLAMD_CLEAN);
		free(d);
	}
}

static void down_socket_is_unavailable(void **state)
{
	struct clamd_cfg c = {.socket_path = "/nonexistent/kinko/clamd.sock"};
	struct clamd_scan *s = (struct clamd_scan *)0x1;
	struct clamd_info info;
	struct kinko_err e = {0};
	char longp[200];
	(void)state;
	assert_int_equal(clamd_scan_begin(&c, &s, &e), KINKO_EUNAVAIL);
	assert_ptr_equal(s, (struct clamd_scan *)0x1); /* untouched */
	assert_non_null(strstr(e.msg, "clamd-start"));
	assert_int_equal(clamd_ping(&c, &e), KINKO_EUNAVAIL);
	assert_int_equal(clamd_version(&c, &info, &e), KINKO_EUNAVAIL);
	c.socket_path = NULL;
	assert_int_equal(clamd_ping(&c, &e), KINKO_EUNAVAIL);
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	c.socket_path = longp;
	assert_int_equal(clamd_ping(&c, &e), KINKO_EUNAVAIL);
	assert_non_null(strstr(e.msg, "shorter"));
	clamd_scan_abort(NULL);
}

static void finish_writes_error_verdict(void **state)
{
	struct clamd_verdict v;
	struct kinko_err e = {0};
	(void)state;
	v.result = CLAMD_CLEAN;
	assert_int_equal(clamd_scan_finish(NULL, &v, &e), KINKO_EINVAL);
	assert_int_equal(v.result, CLAMD_ERROR);
}

static void client_side_stream_limit(void **state)
{
	size_t n = 5000;
	uint8_t *d = make_data(n, SIZE_MAX);
	struct fake f;
	struct clamd_cfg c;
	struct clamd_scan *s = NULL;
	struct clamd_verdict v;
	struct kinko_err e = {0};
	(void)state;
	fake_start(&f, FAKE_SCAN);
	c = cfg_for(&f);
	c.max_stream = 4096;
	fake_run(&f);
	assert_int_equal(clamd_scan_begin(&c, &s, &e), 0);
	assert_int_equal(clamd_scan_feed(s, d, 4096, &e), 0);
	assert_int_equal(clamd_scan_feed(s, d, 1, &e), KINKO_ELIMIT);
	assert_int_equal(clamd_scan_feed(s, d, 1, &e), KINKO_EINVAL); /* stays failed */
	v.result = CLAMD_CLEAN;
	assert_int_not_equal(clamd_scan_finish(s, &v, &e), 0);
	assert_int_equal(v.result, CLAMD_ERROR);
	fake_stop(&f);
	free(d);
}

static void ping_and_version_against_fake(void **state)
{
	static const char pong[] = "PONG";
	static const char ver[] = "ClamAV 1.4.6/27001/Thu Nov 26 06:28:50 2026";
	static const char bad[] = "PANG";
	struct fake f;
	struct clamd_cfg c;
	struct clamd_info info;
	struct kinko_err e = {0};
	(void)state;
	fake_start(&f, FAKE_REPLY);
	f.reply = pong;
	f.reply_len = sizeof pong;
	c = cfg_for(&f);
	fake_run(&f);
	assert_int_equal(clamd_ping(&c, &e), 0);
	fake_stop(&f);
	assert_string_equal(f.cmd, "zPING");

	fake_start(&f, FAKE_REPLY);
	f.reply = bad;
	f.reply_len = sizeof bad;
	c = cfg_for(&f);
	fake_run(&f);
	assert_int_equal(clamd_ping(&c, &e), KINKO_EUNAVAIL);
	fake_stop(&f);

	fake_start(&f, FAKE_REPLY);
	f.reply = ver;
	f.reply_len = sizeof ver;
	c = cfg_for(&f);
	fake_run(&f);
	assert_int_equal(clamd_version(&c, &info, &e), 0);
	fake_stop(&f);
	assert_string_equal(f.cmd, "zVERSION");
	assert_string_equal(info.engine, "1.4.6");
	assert_int_equal(info.sig_version, 27001);

	fake_start(&f, FAKE_HANG);
	f.hold_ms = 800;
	c = cfg_for(&f);
	fake_run(&f);
	assert_int_equal(clamd_version(&c, &info, &e), KINKO_EUNAVAIL);
	fake_stop(&f);
}

static void reply_parser(void **state)
{
	/* reply, its length (0: strlen), the expected code, and on success the verdict
	 * and signature. On failure the verdict must stay untouched. */
	static const struct {
		const char *reply;
		size_t len;
		int rc;
		enum clamd_result result;
		const char *sig;
	} cases[] = {
		{"stream: OK", 0, 0, CLAMD_CLEAN, ""},
		{"stream: OK\n", 0, 0, CLAMD_CLEAN, ""},
		{"stream: Eicar-Test-Signature FOUND", 0, 0, CLAMD_INFECTED, "Eicar-Test-Signature"},
		{"stream:  FOUND", 0, KINKO_EUNAVAIL, 0, NULL},
		{"stream: a b FOUND", 0, KINKO_EUNAVAIL, 0, NULL},
		{"stream: OKAY", 0, KINKO_EUNAVAIL, 0, NULL},
		{"stream: OK\0junk", 15, KINKO_EUNAVAIL, 0, NULL},
		{"", 0, KINKO_EUNAVAIL, 0, NULL},
		{"INSTREAM size limit exceeded. ERROR", 0, KINKO_ELIMIT, 0, NULL},
		{"stream: Heuristics.Limits.Exceeded.MaxScanTime FOUND", 0, KINKO_ELIMIT, 0, NULL},
		/* FILDES names the descriptor instead of "stream" */
		{"fd[12]: OK", 0, 0, CLAMD_CLEAN, ""},
		{"fd[3]: Eicar-Test-Signature FOUND", 0, 0, CLAMD_INFECTED, "Eicar-Test-Signature"},
		{"fd[]: OK", 0, KINKO_EUNAVAIL, 0, NULL},
		{"fd[1] OK", 0, KINKO_EUNAVAIL, 0, NULL},
		{"fd[x]: OK", 0, KINKO_EUNAVAIL, 0, NULL},
		{"fd[12345678901]: OK", 0, KINKO_EUNAVAIL, 0, NULL},
		{"fd[1]: ", 0, KINKO_EUNAVAIL, 0, NULL},
		{"fd[4]: Heuristics.Limits.Exceeded.MaxFileSize FOUND", 0, KINKO_ELIMIT, 0, NULL},
	};
	char longname[200];
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct clamd_verdict v = {.result = CLAMD_ERROR};
		struct kinko_err e = {0};
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].reply);
		int rc = clamd_reply_parse(cases[i].reply, len, &v, &e);
		if (rc != cases[i].rc)
			fprintf(stderr, "case %zu (%s): %d\n", i, cases[i].reply, rc);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(v.result, cases[i].result);
			assert_string_equal(v.signature, cases[i].sig);
		} else {
			assert_int_equal(v.result, CLAMD_ERROR);
		}
	}
	snprintf(longname, sizeof longname, "stream: %0150d FOUND", 0);
	{
		struct clamd_verdict v;
		struct kinko_err e = {0};
		assert_int_equal(clamd_reply_parse(longname, strlen(longname), &v, &e),
				 KINKO_EUNAVAIL);
	}
}

#define VP(s) clamd_version_parse(s, strlen(s), &i, &e)

static void version_parser_and_freshness(void **state)
{
	struct clamd_info i;
	struct kinko_err e = {0};
	const char *full = "ClamAV 1.4.6/27001/Thu Nov 26 06:28:50 2026\n";
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(clamd_version_parse(full, strlen(full), &i, &e), 0);
	assert_string_equal(i.engine, "1.4.6");
	assert_int_equal(i.sig_version, 27001);
	assert_int_equal(i.sig_date, 1795674530); /* 2026-11-26T06:28:50Z */
	assert_int_equal(VP("ClamAV 0.103.8/26000/Mon Nov  2 08:01:02 2026"),
			 0);
	assert_int_equal(i.sig_version, 26000);
	assert_int_equal(VP("ClamAV 1.4.6"), 0); /* custom DB */
	assert_string_equal(i.engine, "1.4.6");
	assert_int_equal(i.sig_version, 0);
	assert_int_equal(i.sig_date, 0);
	i.sig_version = 99;
	assert_int_equal(VP("ClamAV "), KINKO_EUNAVAIL);
	assert_int_equal(VP("ClamAV 1.4.6/x/Thu Nov 26 06:28:50 2026"),
			 KINKO_EUNAVAIL);
	assert_int_equal(VP("ClamAV 1.4.6/1/Thu Nov 26 06:28:50"),
			 KINKO_EUNAVAIL);
	assert_int_equal(VP("ClamAV 1.4.6/1/Thu Foo 26 06:28:50 2026"),
			 KINKO_EUNAVAIL);
	assert_int_equal(VP("ClamAV 1.4.6/1/Thu Nov 31 06:28:50 2026"),
			 KINKO_EUNAVAIL);
	assert_int_equal(VP("ClamAV 1 4/1/Thu Nov 26 06:28:50 2026"),
			 KINKO_EUNAVAIL);
	assert_int_equal(VP("PONG"), KINKO_EUNAVAIL);
	assert_int_equal(i.sig_version, 99); /* untouched on failure */

	i.sig_date = 1000000;
	assert_true(clamd_signatures_fresh(&i, 86400, 1000000 + 86400));
	assert_false(clamd_signatures_fresh(&i, 86400, 1000000 + 86401));
	assert_true(clamd_signatures_fresh(&i, 86400, 1000000 - 3600));  /* slight clock skew */
	assert_false(clamd_signatures_fresh(&i, 86400, 1000000 - 90000)); /* far future */
	i.sig_date = 0;
	assert_false(clamd_signatures_fresh(&i, 86400, 1000000));
	assert_false(clamd_signatures_fresh(NULL, 86400, 1000000));
}

static void end_then_finish_overlaps(void **state)
{
	size_t n = 500000;
	uint8_t *d = make_data(n, 300000);
	struct fake f;
	struct clamd_cfg c;
	struct clamd_scan *s = NULL;
	struct clamd_verdict v;
	struct kinko_err e = {0};
	(void)state;
	fake_start(&f, FAKE_SCAN);
	c = cfg_for(&f);
	fake_run(&f);
	assert_int_equal(clamd_scan_begin(&c, &s, &e), 0);
	assert_int_equal(clamd_scan_feed(s, d, n, &e), 0);
	assert_int_equal(clamd_scan_end(s, &e), 0);
	assert_int_equal(clamd_scan_end(s, &e), 0); /* idempotent */
	assert_int_equal(clamd_scan_feed(s, d, 1, &e), KINKO_EINVAL);
	sleep_ms(500); /* the caller counts records while clamd scans; longer than reply timeout */
	assert_true(atomic_load(&f.got_all)); /* clamd had the whole stream before finish */
	assert_int_equal(clamd_scan_finish(s, &v, &e), 0);
	fake_stop(&f);
	assert_true(f.framing_ok);
	assert_int_equal(f.received, n);
	assert_int_equal(v.result, CLAMD_INFECTED);
	assert_int_equal(v.bytes, n);
	free(d);
}

/* FILDES: the fake answers PING, then takes the passed file. */
static void fildes_start(struct fake *f, enum fake_mode mode, struct clamd_cfg *c)
{
	fake_start(f, mode);
	f->ping_first = true;
	*c = cfg_for(f);
	c->pass_fd = true;
}

static void fildes_passes_a_sealed_file(void **state)
{
	static const size_t steps[] = {1, 4096, 65536, 524288, 3000000};
	size_t n = 3 * 1024 * 1024 + 17;
	uint8_t *d = make_data(n, SIZE_MAX);
	(void)state;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct fake f;
		struct clamd_cfg c;
		struct clamd_verdict v;
		struct kinko_err e = {0};
		size_t len = steps[i] == 1 ? 100000 : n;
		fildes_start(&f, FAKE_SCAN, &c);
		c.io_timeout_ms = 5000;
		c.reply_timeout_ms = 5000;
		fake_run(&f);
		assert_int_equal(scan_data(&c, d, len, steps[i], &v, &e), 0);
		fake_stop(&f);
		assert_string_equal(f.cmd, "zFILDES");
		assert_true(f.passed_fd >= 0);
		assert_true(f.passed_regular); /* clamd scans only regular files */
		/* frozen before clamd sees it: nobody can change what is scanned */
		assert_true(f.seals >= 0);
		assert_true(f.seals & F_SEAL_WRITE);
		assert_true(f.seals & F_SEAL_GROW);
		assert_true(f.seals & F_SEAL_SHRINK);
		assert_true(f.seals & F_SEAL_SEAL);
		assert_true(f.framing_ok);
		assert_int_equal(f.received, len);
		assert_int_equal(f.sum, sum_of(d, len));
		assert_int_equal(v.result, CLAMD_CLEAN);
		assert_int_equal(v.bytes, len);
	}
	free(d);
}

static void fildes_marker_is_infected_and_end_overlaps(void **state)
{
	size_t n = 500000;
	uint8_t *d = make_data(n, 65536 - 5);
	struct fake f;
	struct clamd_cfg c;
	struct clamd_scan *s = NULL;
	struct clamd_verdict v;
	struct kinko_err e = {0};
	(void)state;
	fildes_start(&f, FAKE_SCAN, &c);
	fake_run(&f);
	assert_int_equal(clamd_scan_begin(&c, &s, &e), 0);
	for (size_t off = 0; off < n; off += 1000)
		assert_int_equal(clamd_scan_feed(s, d + off, n - off < 1000 ? n - off : 1000, &e),
				 0);
	assert_int_equal(clamd_scan_end(s, &e), 0);
	assert_int_equal(clamd_scan_end(s, &e), 0);
	assert_int_equal(clamd_scan_feed(s, d, 1, &e), KINKO_EINVAL);
	sleep_ms(400);
	assert_true(atomic_load(&f.got_all)); /* clamd had the file before finish */
	assert_int_equal(clamd_scan_finish(s, &v, &e), 0);
	fake_stop(&f);
	assert_int_equal(v.result, CLAMD_INFECTED);
	assert_string_equal(v.signature, "Fake.Marker");
	assert_int_equal(f.received, n);
	free(d);
}

static void fildes_expect_refusal(enum fake_mode mode, const char *ping, const char *reply,
				  int want, const char *msg_part)
{
	refusal_case(true, mode, ping, reply, reply ? strlen(reply) + 1 : 0, want, msg_part);
}

static void fildes_failures_are_refused(void **state)
{
	(void)state;
	/* no PONG: refused at begin, before a byte is taken */
	fildes_expect_refusal(FAKE_SCAN, "PANG", NULL, KINKO_EUNAVAIL, "PONG");
	fildes_expect_refusal(FAKE_HANG, NULL, NULL, KINKO_EUNAVAIL, "did not answer");
	/* which step notices the close (passing the file, or the reply) is a race */
	fildes_expect_refusal(FAKE_CLOSE, NULL, NULL, KINKO_EUNAVAIL, NULL);
	/* a clamd that answers FILDES with an error: the hint names pass_fd */
	fildes_expect_refusal(FAKE_REPLY, NULL, "UNKNOWN COMMAND", KINKO_EUNAVAIL, "pass_fd = false");
	fildes_expect_refusal(FAKE_REPLY, NULL, "fd[7]: Not a regular file ERROR", KINKO_EUNAVAIL,
			      "Not a regular file");
	fildes_expect_refusal(FAKE_REPLY, NULL, "fd[7]: Heuristics.Limits.Exceeded.MaxScanSize FOUND",
			      KINKO_ELIMIT, "MaxScanSize");
	fildes_expect_refusal(FAKE_REPLY, NULL, "stream OK", KINKO_EUNAVAIL, "does not understand");
	/* a verdict for a stream is not an answer about a passed file, nor the reverse */
	fildes_expect_refusal(FAKE_REPLY, NULL, "stream: OK", KINKO_EUNAVAIL, "another kind");
	{
		static const char fdok[] = "fd[5]: OK";
		expect_refusal(FAKE_REPLY, fdok, sizeof fdok, KINKO_EUNAVAIL, "another kind");
	}
	{
		/* the limit holds without clamd: nothing past max_stream is kept */
		size_t n = 5000;
		uint8_t *d = make_data(n, SIZE_MAX);
		struct fake f;
		struct clamd_cfg c;
		struct clamd_scan *s = NULL;
		struct clamd_verdict v;
		struct kinko_err e = {0};
		fildes_start(&f, FAKE_SCAN, &c);
		c.max_stream = 4096;
		f.mode = FAKE_CLOSE; /* after the PING, nothing more is asked of it */
		fake_run(&f);
		assert_int_equal(clamd_scan_begin(&c, &s, &e), 0);
		assert_int_equal(clamd_scan_feed(s, d, 4096, &e), 0);
		assert_int_equal(clamd_scan_feed(s, d, 1, &e), KINKO_ELIMIT);
		v.result = CLAMD_CLEAN;
		assert_int_not_equal(clamd_scan_finish(s, &v, &e), 0);
		assert_int_equal(v.result, CLAMD_ERROR);
		/* unblock the fake's second accept */
		{
			struct clamd_cfg c2 = c;
			c2.pass_fd = false;
			(void)!clamd_ping(&c2, &e);
		}
		fake_stop(&f);
		free(d);
	}
	{
		/* the shared memory budget: a second upload cannot take what the first
		 * holds; aborting gives it back */
		uint8_t *d = make_data(6000, SIZE_MAX);
		struct clamd_budget b = {.max = 10000};
		struct fake f;
		struct clamd_cfg c;
		struct clamd_scan *s1 = NULL, *s2 = NULL, *s3 = NULL;
		struct kinko_err e = {0};
		fildes_start(&f, FAKE_CLOSE, &c);
		f.pings = 4;
		c.budget = &b;
		fake_run(&f);
		assert_int_equal(clamd_scan_begin(&c, &s1, &e), 0);
		assert_int_equal(clamd_scan_begin(&c, &s2, &e), 0);
		assert_int_equal(clamd_scan_feed(s1, d, 6000, &e), 0);
		assert_int_equal(atomic_load(&b.used), 6000);
		assert_int_equal(clamd_scan_feed(s2, d, 6000, &e), KINKO_EUNAVAIL);
		assert_non_null(strstr(e.msg, "memory_max"));
		assert_int_equal(atomic_load(&b.used), 6000);
		clamd_scan_abort(s2);
		clamd_scan_abort(s1);
		assert_int_equal(atomic_load(&b.used), 0);
		/* a file larger than the whole budget is refused as too large, not busy */
		{
			uint8_t *big = make_data(10001, SIZE_MAX);
			struct clamd_scan *s4 = NULL;
			assert_int_equal(clamd_scan_begin(&c, &s4, &e), 0);
			assert_int_equal(clamd_scan_feed(s4, big, 10000, &e), 0);
			assert_int_equal(clamd_scan_feed(s4, big, 1, &e), KINKO_ELIMIT);
			assert_non_null(strstr(e.msg, "larger than"));
			clamd_scan_abort(s4);
			assert_int_equal(atomic_load(&b.used), 0);
			free(big);
		}
		assert_int_equal(clamd_scan_begin(&c, &s3, &e), 0);
		assert_int_equal(clamd_scan_feed(s3, d, 6000, &e), 0);
		clamd_scan_abort(s3);
		assert_int_equal(atomic_load(&b.used), 0);
		{
			struct clamd_cfg c2 = c;
			c2.pass_fd = false;
			(void)!clamd_ping(&c2, &e); /* the fake's last accept */
		}
		fake_stop(&f);
		free(d);
	}
	{
		struct clamd_cfg c = {.socket_path = "/nonexistent/kinko/clamd.sock", .pass_fd = true};
		struct clamd_scan *s = (struct clamd_scan *)0x1;
		struct kinko_err e = {0};
		assert_int_equal(clamd_scan_begin(&c, &s, &e), KINKO_EUNAVAIL);
		assert_ptr_equal(s, (struct clamd_scan *)0x1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reply_parser),
		cmocka_unit_test(version_parser_and_freshness),
		cmocka_unit_test(clean_stream_passes_with_exact_framing),
		cmocka_unit_test(marker_across_boundary_is_infected),
		cmocka_unit_test(failures_are_refused),
		cmocka_unit_test(down_socket_is_unavailable),
		cmocka_unit_test(finish_writes_error_verdict),
		cmocka_unit_test(client_side_stream_limit),
		cmocka_unit_test(ping_and_version_against_fake),
		cmocka_unit_test(end_then_finish_overlaps),
		cmocka_unit_test(fildes_passes_a_sealed_file),
		cmocka_unit_test(fildes_marker_is_infected_and_end_overlaps),
		cmocka_unit_test(fildes_failures_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
