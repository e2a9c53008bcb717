#include "scan/clamd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"

/* Small feeds are coalesced into frames of this size; larger feeds go out directly
 * in frames of at most CLAMD_FRAME_MAX so no single frame is unreasonably big. */
#define CLAMD_BUF (64 * 1024)
#define CLAMD_FRAME_MAX (1024 * 1024)
/* clamd's answers are short lines; anything longer is not clamd. */
#define CLAMD_REPLY_MAX 1024

struct clamd_scan {
	int fd;  /* the connection to clamd; FILDES: -1 until the stream ends */
	int mfd; /* FILDES: the memory-only file holding the stream; INSTREAM: -1 */
	struct clamd_cfg cfg; /* FILDES: to connect at the end (socket_path is path) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool failed;
	bool ended;
	int io_ms;
	int reply_ms;
	struct clamd_budget *budget; /* FILDES: where `held` is counted */
	uint64_t held;               /* FILDES: bytes this scan counts in the budget */
	uint64_t sent; /* payload bytes handed to clamd_scan_feed */
	uint64_t max;
	size_t buffered;
	uint8_t buf[CLAMD_BUF];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_or(int v, int def)
{
	return v > 0 ? v : def;
}

/* Waits until fd is ready for ev or the deadline passes. 0 ready, 1 timeout, <0 error. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = ev};
		int r;

		if (left <= 0)
			return 1;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

#define CLAMD_SNDBUF (4 << 20)

static int connect_clamd(const struct clamd_cfg *cfg, int *out, struct kinko_err *e)
{
	struct sockaddr_un sa;
	int64_t deadline;
	size_t plen;
	int fd;

	if (!cfg || !cfg->socket_path || !cfg->socket_path[0])
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "no clamd socket is configured: set the scanner's socket path");
	plen = strlen(cfg->socket_path);
	memset(&sa, 0, sizeof sa);
	if (plen >= sizeof sa.sun_path)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "the clamd socket path is longer than %zu bytes: use a shorter path",
				     sizeof sa.sun_path - 1);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, cfg->socket_path, plen);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kinko_err_set(e, KINKO_EUNAVAIL, "cannot create a socket for clamd: %s",
				     strerror(errno));
	deadline = now_ms() + ms_or(cfg->connect_timeout_ms, CLAMD_DEFAULT_CONNECT_MS);
	for (;;) {
		int err;
		socklen_t el = sizeof err;

		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* The listen backlog is full: clamd is overloaded; retry until the deadline. */
			struct timespec ts = {0, 10 * 1000 * 1000};
			if (now_ms() >= deadline)
				goto timeout;
			nanosleep(&ts, NULL);
			continue;
		}
		if (errno != EINPROGRESS) {
			err = errno;
			close(fd);
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "cannot reach clamd at %s (%s): is clamd running "
					     "(scripts/clamd-start) and is the socket path right?",
					     cfg->socket_path, strerror(err));
		}
		if (wait_fd(fd, POLLOUT, deadline) != 0)
			goto timeout;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			close(fd);
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "cannot reach clamd at %s (%s): is clamd running?",
					     cfg->socket_path, strerror(err));
		}
		break;
	}
	*out = fd;
	return 0;
timeout:
	close(fd);
	return kinko_err_set(e, KINKO_EUNAVAIL,
			     "clamd at %s did not accept a connection in time: check that clamd "
			     "is not overloaded or hung",
			     cfg->socket_path);
}

/* Sends every byte of iov, waiting at most io_ms for each bit of progress. Returns
 * 0, 1 when clamd closed its end (EPIPE, ECONNRESET), or a negative error. */
static int send_iov(int fd, struct iovec *iov, int cnt, int io_ms, struct kinko_err *e)
{
	while (cnt > 0) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				int r = wait_fd(fd, POLLOUT, now_ms() + io_ms);
				if (r == 0)
					continue;
				return kinko_err_set(e, KINKO_EUNAVAIL,
						     "clamd stopped reading the stream for %d ms: check "
						     "clamd's load and its log",
						     io_ms);
			}
			if (errno == EPIPE || errno == ECONNRESET)
				return 1;
			return kinko_err_set(e, KINKO_EUNAVAIL, "sending to clamd failed: %s",
					     strerror(errno));
		}
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Reads one NUL-terminated reply (or up to EOF) within timeout_ms. */
static int recv_reply(int fd, int timeout_ms, char *buf, size_t cap, size_t *len,
		      struct kinko_err *e)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t n = 0;

	for (;;) {
		ssize_t r;
		int w;

		if (n > 0 && buf[n - 1] == '\0')
			break;
		if (n == cap - 1)
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "clamd sent an overlong reply: is the socket really clamd's?");
		r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (r == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == ECONNRESET)
				break;
			return kinko_err_set(e, KINKO_EUNAVAIL, "reading clamd's reply failed: %s",
					     strerror(errno));
		}
		w = wait_fd(fd, POLLIN, deadline);
		if (w == 1)
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "clamd did not answer within %d ms: check clamd's load, "
					     "its log and MaxScanTime",
					     timeout_ms);
		if (w < 0)
			return kinko_err_set(e, KINKO_EUNAVAIL, "waiting for clamd failed: %s",
					     strerror(errno));
	}
	if (n == 0)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "clamd closed the connection without an answer: check clamd's log");
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Copies the printable part of a reply for a message; replies are short ASCII. */
static void reply_excerpt(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[o] = '\0';
}

static bool ends_with(const char *s, size_t n, const char *suf, size_t *stem)
{
	size_t k = strlen(suf);

	if (n < k || memcmp(s + n - k, suf, k))
		return false;
	*stem = n - k;
	return true;
}

/* The length of the name clamd puts before a verdict: "stream: " for INSTREAM,
 * "fd[N]: " for FILDES; 0 when the reply starts with neither. */
static size_t reply_prefix(const char *r, size_t len)
{
	size_t i = 3;

	if (len >= 8 && !memcmp(r, "stream: ", 8))
		return 8;
	if (len < 7 || memcmp(r, "fd[", 3))
		return 0;
	while (i < len && i < 13 && r[i] >= '0' && r[i] <= '9')
		i++;
	if (i == 3 || len - i < 3 || memcmp(r + i, "]: ", 3))
		return 0;
	return i + 3;
}

int clamd_reply_parse(const char *reply, size_t len, struct clamd_verdict *v, struct kinko_err *e)
{
	static const char limit[] = "INSTREAM size limit exceeded";
	static const char heur[] = "Heuristics.Limits.Exceeded";
	char ex[160];
	const char *r;
	size_t n, stem, pre;

	while (len > 0 && (reply[len - 1] == '\0' || reply[len - 1] == '\n'))
		len--;
	reply_excerpt(reply, len, ex, sizeof ex);
	for (size_t i = 0; i < len; i++)
		if (reply[i] < 0x20 || reply[i] >= 0x7f)
			goto garbled;
	if (len >= sizeof limit - 1 && !memcmp(reply, limit, sizeof limit - 1))
		return kinko_err_set(e, KINKO_ELIMIT,
				     "clamd refused the stream as too long (INSTREAM size limit "
				     "exceeded): the file is refused; raise StreamMaxLength in "
				     "clamd.conf (scripts/clamd-start sets the maximum)");
	pre = reply_prefix(reply, len);
	if (pre == 0) {
		if (ends_with(reply, len, " ERROR", &stem))
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "clamd reported an error (%s): check clamd's log", ex);
		goto garbled;
	}
	r = reply + pre;
	n = len - pre;
	if (n == 2 && !memcmp(r, "OK", 2)) {
		v->result = CLAMD_CLEAN;
		v->signature[0] = '\0';
		return 0;
	}
	if (ends_with(r, n, " FOUND", &stem)) {
		if (stem == 0 || stem >= sizeof v->signature || memchr(r, ' ', stem))
			goto garbled;
		if (stem >= sizeof heur - 1 && !memcmp(r, heur, sizeof heur - 1))
			return kinko_err_set(e, KINKO_ELIMIT,
					     "clamd could not scan the whole file (%.*s): the file is "
					     "refused; raise that limit in clamd.conf",
					     (int)stem, r);
		v->result = CLAMD_INFECTED;
		memcpy(v->signature, r, stem);
		v->signature[stem] = '\0';
		return 0;
	}
	if (ends_with(r, n, " ERROR", &stem))
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "clamd could not scan the stream (%s): check clamd's log", ex);
garbled:
	return kinko_err_set(e, KINKO_EUNAVAIL,
			     "clamd gave a reply kinko does not understand (\"%.100s\"): is the "
			     "socket really clamd's, and is clamd 0.100 or newer?",
			     ex);
}

static int parse_digits(const char **p, const char *end, int maxdig, int *out)
{
	int v = 0, k = 0;

	while (*p < end && **p >= '0' && **p <= '9' && k < maxdig) {
		v = v * 10 + (**p - '0');
		(*p)++;
		k++;
	}
	if (k == 0)
		return -1;
	*out = v;
	return 0;
}

/* "Thu Nov 26 06:28:50 2026" (ctime without the newline; the day may be space-padded). */
static int parse_ctime(const char *s, const char *end, int64_t *out)
{
	static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	struct tm tm;
	int mon = -1, wday = -1, d, h, mi, sec, y;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (end - s < 24)
		return -1;
	for (int i = 0; i < 7; i++)
		if (!memcmp(s, days[i], 3))
			wday = i;
	if (wday < 0 || s[3] != ' ')
		return -1;
	s += 4;
	for (int i = 0; i < 12; i++)
		if (!memcmp(s, mons[i], 3))
			mon = i;
	if (mon < 0 || s[3] != ' ')
		return -1;
	s += 4;
	while (s < end && *s == ' ')
		s++;
	if (parse_digits(&s, end, 2, &d) || s >= end || *s++ != ' ' ||
	    parse_digits(&s, end, 2, &h) || s >= end || *s++ != ':' ||
	    parse_digits(&s, end, 2, &mi) || s >= end || *s++ != ':' ||
	    parse_digits(&s, end, 2, &sec) || s >= end || *s++ != ' ' ||
	    parse_digits(&s, end, 4, &y) || s != end)
		return -1;
	if (d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)
		return -1;
	*out = (int64_t)t;
	return 0;
}

int clamd_version_parse(const char *reply, size_t len, struct clamd_info *out, struct kinko_err *e)
{
	struct clamd_info info;
	const char *p, *end, *slash;
	char num[16];
	uint64_t ver;
	size_t elen;

	memset(&info, 0, sizeof info);
	while (len > 0 && (reply[len - 1] == '\0' || reply[len - 1] == '\n'))
		len--;
	end = reply + len;
	if (len < 8 || memcmp(reply, "ClamAV ", 7))
		goto garbled;
	p = reply + 7;
	slash = memchr(p, '/', (size_t)(end - p));
	elen = (size_t)((slash ? slash : end) - p);
	if (elen == 0 || elen >= sizeof info.engine)
		goto garbled;
	for (size_t i = 0; i < elen; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '-' || c == '+' || c == '~' || c == '_'))
			goto garbled;
	}
	memcpy(info.engine, p, elen);
	if (slash) {
		const char *s2;
		p = slash + 1;
		s2 = memchr(p, '/', (size_t)(end - p));
		if (!s2 || s2 == p || (size_t)(s2 - p) >= sizeof num)
			goto garbled;
		memcpy(num, p, (size_t)(s2 - p));
		num[s2 - p] = '\0';
		if (parse_u64(num, UINT32_MAX, &ver))
			goto garbled;
		info.sig_version = (uint32_t)ver;
		if (parse_ctime(s2 + 1, end, &info.sig_date))
			goto garbled;
	}
	*out = info;
	return 0;
garbled:
	return kinko_err_set(e, KINKO_EUNAVAIL,
			     "clamd's version reply is not understood: is the socket really clamd's?");
}

bool clamd_signatures_fresh(const struct clamd_info *info, int64_t max_age_seconds, int64_t now)
{
	if (!info || info->sig_date <= 0 || max_age_seconds < 0)
		return false;
	/* A date more than a day ahead means a broken clock or database: not trusted. */
	if (info->sig_date > now + 86400)
		return false;
	return now - info->sig_date <= max_age_seconds;
}

static int simple_command(const struct clamd_cfg *cfg, const char *cmd, char *reply, size_t cap,
			  size_t *len, struct kinko_err *e)
{
	struct iovec iov = {.iov_base = (void *)cmd, .iov_len = strlen(cmd) + 1};
	int fd, rc, io = ms_or(cfg ? cfg->io_timeout_ms : 0, CLAMD_DEFAULT_IO_MS);

	rc = connect_clamd(cfg, &fd, e);
	if (rc)
		return rc;
	rc = send_iov(fd, &iov, 1, io, e);
	if (rc == 1)
		rc = kinko_err_set(e, KINKO_EUNAVAIL,
				   "clamd closed the connection on %s: check clamd's log", cmd + 1);
	if (rc == 0)
		rc = recv_reply(fd, io, reply, cap, len, e);
	close(fd);
	return rc;
}

int clamd_ping(const struct clamd_cfg *cfg, struct kinko_err *e)
{
	char r[CLAMD_REPLY_MAX];
	size_t n = 0;
	int rc = simple_command(cfg, "zPING", r, sizeof r, &n, e);

	if (rc)
		return rc;
	if (strcmp(r, "PONG") != 0)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "clamd did not answer PING with PONG: is the socket really clamd's?");
	return 0;
}

int clamd_version(const struct clamd_cfg *cfg, struct clamd_info *out, struct kinko_err *e)
{
	char r[CLAMD_REPLY_MAX];
	size_t n = 0;
	int rc = simple_command(cfg, "zVERSION", r, sizeof r, &n, e);

	if (rc)
		return rc;
	return clamd_version_parse(r, n, out, e);
}

/* FILDES: no connection yet; clamd is asked now whether it answers, so a dead
 * scanner refuses the upload before any byte is taken. */
static int begin_fildes(const struct clamd_cfg *cfg, struct clamd_scan *s, struct kinko_err *e)
{
	size_t plen = cfg->socket_path ? strlen(cfg->socket_path) : 0;
	int rc = clamd_ping(cfg, e);

	if (rc)
		return rc;
	if (plen >= sizeof s->path) /* clamd_ping has refused it already */
		return kinko_err_set(e, KINKO_EUNAVAIL, "the clamd socket path is too long");
	memcpy(s->path, cfg->socket_path, plen + 1);
	s->cfg = *cfg;
	s->cfg.socket_path = s->path;
	s->budget = cfg->budget;
	s->mfd = memfd_create("kinko-scan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->mfd < 0)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "cannot create a memory-only file for the virus scanner (%s): "
				     "set [scan] pass_fd = false to stream to clamd instead",
				     strerror(errno));
	return 0;
}

int clamd_scan_begin(const struct clamd_cfg *cfg, struct clamd_scan **out, struct kinko_err *e)
{
	static const char cmd[] = "zINSTREAM";
	struct iovec iov = {.iov_base = (void *)cmd, .iov_len = sizeof cmd};
	struct clamd_scan *s;
	int rc;

	if (!cfg)
		return kinko_err_set(e, KINKO_EUNAVAIL, "no clamd is configured");
	s = calloc(1, sizeof *s);
	if (!s)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory starting a scan");
	s->fd = -1;
	s->mfd = -1;
	s->io_ms = ms_or(cfg->io_timeout_ms, CLAMD_DEFAULT_IO_MS);
	s->reply_ms = ms_or(cfg->reply_timeout_ms, CLAMD_DEFAULT_REPLY_MS);
	s->max = cfg->max_stream && cfg->max_stream < CLAMD_MAX_STREAM ? cfg->max_stream
								       : CLAMD_MAX_STREAM;
	if (cfg->pass_fd) {
		rc = begin_fildes(cfg, s, e);
		if (rc) {
			clamd_scan_abort(s);
			return rc;
		}
		*out = s;
		return 0;
	}
	rc = connect_clamd(cfg, &s->fd, e);
	if (rc) {
		clamd_scan_abort(s);
		return rc;
	}
	/* clamd reads a stream a few KiB per call from one receiving thread for all
	 * clients. A large send buffer lets a whole batch wait in the kernel, so clamd
	 * finds data at every read and the sender is not woken for each one: this
	 * halved the time to stream a 1 GiB upload here. The kernel caps the size at
	 * net.core.wmem_max; a smaller buffer only costs speed. */
	{
		int sz = CLAMD_SNDBUF;
		(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	}
	rc = send_iov(s->fd, &iov, 1, s->io_ms, e);
	if (rc == 1)
		rc = kinko_err_set(e, KINKO_EUNAVAIL,
				   "clamd closed the connection on INSTREAM: check clamd's log");
	if (rc) {
		clamd_scan_abort(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* FILDES: the next bytes of the stream go to the memory-only file, counted in the
 * budget first so that concurrent uploads cannot take the machine's memory. */
static int hold(struct clamd_scan *s, const uint8_t *p, size_t n, struct kinko_err *e)
{
	struct clamd_budget *b = s->budget;

	if (b && b->max) {
		uint64_t was;
		if (n > b->max - s->held)
			return kinko_err_set(e, KINKO_ELIMIT,
					     "the file is larger than the %llu bytes the scanner may hold "
					     "in memory ([scan] memory_max): the file is refused; raise "
					     "memory_max, or set pass_fd = false",
					     (unsigned long long)b->max);
		was = atomic_fetch_add(&b->used, (uint64_t)n);
		if (was + n > b->max) {
			atomic_fetch_sub(&b->used, (uint64_t)n);
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "other uploads being scanned hold the memory the scanner may "
					     "use ([scan] memory_max = %llu bytes): the file is refused; "
					     "retry when they are done, or raise memory_max",
					     (unsigned long long)b->max);
		}
		s->held += n;
	}
	while (n > 0) {
		ssize_t w = write(s->mfd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "cannot hold the file in memory for the virus scanner "
					     "(%s): the file is refused; free memory, or set [scan] "
					     "pass_fd = false",
					     strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* FILDES: freezes the file (clamd scans exactly what was fed; nobody holding the
 * descriptor can change it) and passes it to clamd after the command. */
static int pass_file(struct clamd_scan *s, struct kinko_err *e)
{
	static const char cmd[] = "zFILDES";
	struct iovec iov = {.iov_base = (void *)cmd, .iov_len = sizeof cmd};
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(int))];
	} ctl;
	uint8_t one = 0;
	struct iovec data = {.iov_base = &one, .iov_len = 1};
	struct msghdr m = {.msg_iov = &data, .msg_iovlen = 1, .msg_control = ctl.b,
			   .msg_controllen = sizeof ctl.b};
	struct cmsghdr *c;
	int rc;

	if (fcntl(s->mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
	    0)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "cannot seal the file for the virus scanner: %s",
				     strerror(errno));
	rc = connect_clamd(&s->cfg, &s->fd, e);
	if (rc)
		return rc;
	rc = send_iov(s->fd, &iov, 1, s->io_ms, e);
	if (rc == 1)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "clamd closed the connection on FILDES: check clamd's log");
	if (rc)
		return rc;
	memset(&ctl, 0, sizeof ctl);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &s->mfd, sizeof(int));
	for (;;) {
		ssize_t w = sendmsg(s->fd, &m, MSG_NOSIGNAL);
		if (w == 1)
			return 0;
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (wait_fd(s->fd, POLLOUT, now_ms() + s->io_ms) == 0)
				continue;
			return kinko_err_set(e, KINKO_EUNAVAIL,
					     "clamd stopped reading for %d ms before it took the file: "
					     "check clamd's load and its log",
					     s->io_ms);
		}
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "cannot pass the file to clamd (%s): check clamd's log",
				     w < 0 ? strerror(errno) : "short send");
	}
}

/* clamd answered or closed before the end of the stream: say why. */
static int early_reply(struct clamd_scan *s, struct kinko_err *e)
{
	char r[CLAMD_REPLY_MAX];
	struct clamd_verdict v;
	size_t n = 0;
	int rc = recv_reply(s->fd, 1000, r, sizeof r, &n, e);

	if (rc)
		return rc;
	rc = clamd_reply_parse(r, n, &v, e);
	if (rc)
		return rc;
	return kinko_err_set(e, KINKO_EUNAVAIL,
			     "clamd answered before the end of the stream: check clamd's log");
}

static int send_frame(struct clamd_scan *s, const uint8_t *p, size_t n, struct kinko_err *e)
{
	uint8_t hdr[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	struct iovec iov[2] = {{hdr, 4}, {(void *)p, n}};
	struct pollfd pf = {.fd = s->fd, .events = POLLIN};
	int rc = send_iov(s->fd, iov, n ? 2 : 1, s->io_ms, e);

	if (rc == 1)
		return early_reply(s, e);
	if (rc)
		return rc;
	/* clamd speaks early only to refuse (size limit) or on error; catch it now
	 * rather than after streaming gigabytes more. */
	if (n && poll(&pf, 1, 0) > 0)
		return early_reply(s, e);
	return 0;
}

static int flush_buf(struct clamd_scan *s, struct kinko_err *e)
{
	int rc;

	if (!s->buffered)
		return 0;
	rc = send_frame(s, s->buf, s->buffered, e);
	s->buffered = 0;
	return rc;
}

int clamd_scan_feed(struct clamd_scan *s, const void *p, size_t n, struct kinko_err *e)
{
	const uint8_t *c = p;
	int rc = 0;

	if (!s || s->failed)
		return kinko_err_set(e, KINKO_EINVAL, "scan already failed: abort it");
	if (s->ended)
		return kinko_err_set(e, KINKO_EINVAL, "the stream to clamd has already ended");
	if (n > s->max - s->sent) {
		s->failed = true;
		return kinko_err_set(e, KINKO_ELIMIT,
				     "the file is larger than the %llu bytes clamd can scan: the file "
				     "is refused (ClamAV cannot scan more than 2 GiB - 3 bytes)",
				     (unsigned long long)s->max);
	}
	s->sent += n;
	if (s->mfd >= 0) {
		rc = hold(s, c, n, e);
		n = 0;
	}
	while (n > 0 && rc == 0) {
		if (s->buffered || n < CLAMD_BUF) {
			size_t k = CLAMD_BUF - s->buffered;
			if (k > n)
				k = n;
			memcpy(s->buf + s->buffered, c, k);
			s->buffered += k;
			c += k;
			n -= k;
			if (s->buffered == CLAMD_BUF)
				rc = flush_buf(s, e);
		} else {
			size_t k = n > CLAMD_FRAME_MAX ? CLAMD_FRAME_MAX : n;
			rc = send_frame(s, c, k, e);
			c += k;
			n -= k;
		}
	}
	if (rc)
		s->failed = true;
	return rc;
}

int clamd_scan_end(struct clamd_scan *s, struct kinko_err *e)
{
	int rc;

	if (!s || s->failed)
		return kinko_err_set(e, KINKO_EINVAL, "scan already failed: abort it");
	if (s->ended)
		return 0;
	if (s->mfd >= 0) {
		rc = pass_file(s, e);
	} else {
		rc = flush_buf(s, e);
		if (!rc)
			rc = send_frame(s, NULL, 0, e);
	}
	if (rc)
		s->failed = true;
	else
		s->ended = true;
	return rc;
}

int clamd_scan_finish(struct clamd_scan *s, struct clamd_verdict *v, struct kinko_err *e)
{
	char r[CLAMD_REPLY_MAX];
	struct clamd_verdict out;
	size_t n = 0;
	int rc;

	memset(&out, 0, sizeof out);
	if (!s) {
		rc = kinko_err_set(e, KINKO_EINVAL, "no scan to finish");
		goto done;
	}
	out.bytes = s->sent;
	if (s->failed) {
		rc = kinko_err_set(e, KINKO_EUNAVAIL, "the scan failed earlier: the file is refused");
		goto done;
	}
	rc = clamd_scan_end(s, e);
	if (!rc)
		rc = recv_reply(s->fd, s->reply_ms, r, sizeof r, &n, e);
	if (!rc) {
		rc = clamd_reply_parse(r, n, &out, e);
		/* A clamd that cannot take descriptors (another host's socket through a
		 * proxy, a build without fd passing) answers FILDES with an error. */
		if (rc == KINKO_EUNAVAIL && s->mfd >= 0)
			kinko_err_wrap(e, "clamd did not scan the file passed to it (if this clamd "
					  "cannot take file descriptors, set [scan] pass_fd = false)");
		/* The verdict must name what was asked about: "fd[N]" for a passed
		 * file, "stream" for a stream. Anything else is not this scan's answer. */
		if (!rc && (s->mfd >= 0) != (strncmp(r, "fd[", 3) == 0))
			rc = kinko_err_set(e, KINKO_EUNAVAIL,
					   "clamd's verdict names another kind of scan than the one "
					   "asked for: is the socket really clamd's?");
	}
done:
	if (rc)
		out.result = CLAMD_ERROR;
	*v = out;
	clamd_scan_abort(s);
	return rc;
}

int clamd_scan_file(const struct clamd_scan *s)
{
	return s ? s->mfd : -1;
}

void clamd_scan_abort(struct clamd_scan *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->mfd >= 0)
		close(s->mfd);
	if (s->budget && s->held)
		atomic_fetch_sub(&s->budget->used, s->held);
	free(s);
}
