/*
 * tls_pull — a GnuTLS transport that reads each record in one recv instead of two.
 *
 * GnuTLS reads a record as two reads: its 5-byte header, then its body. This
 * transport reads the body together with the next record's header (one recvmsg
 * into GnuTLS's buffer and a 5-byte side buffer), and hands that header over when
 * GnuTLS asks for it. On a bulk upload that halves the receive system calls (and
 * the window updates each one may send).
 *
 * It must never hold bytes that an event loop waiting on the socket would miss:
 * libmicrohttpd waits for the socket to be readable before it asks GnuTLS for
 * more, and GnuTLS cannot report bytes held below it. The side buffer holds at
 * most 5 bytes, and the smallest complete TLS record is 6 bytes (a 5-byte header
 * and a 1-byte ChangeCipherSpec; a TLS 1.3 protected record has at least 17 bytes
 * of body). So whatever is held is the start of a record whose remaining bytes are
 * still in the socket or on their way: it is readable, or becomes so when they
 * arrive.
 */
#include "tls/tls.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <gnutls/gnutls.h>

#define AHEAD 5u /* a record header: never a whole record */

struct tls_pull {
	int fd;
	uint8_t ahead[AHEAD];
	uint8_t off, len; /* ahead[off..len) is unread */
	bool got_bytes;   /* the peer sent something */
	bool finished;    /* the peer's Finished arrived: the handshake completed */
};

static ssize_t pull(gnutls_transport_ptr_t ptr, void *data, size_t n)
{
	struct tls_pull *t = ptr;
	struct iovec iov[2];
	struct msghdr msg;
	ssize_t r;

	if (n == 0)
		return 0;
	if (t->off < t->len) {
		size_t k = (size_t)(t->len - t->off);
		if (k > n)
			k = n;
		memcpy(data, t->ahead + t->off, k);
		t->off = (uint8_t)(t->off + k);
		return (ssize_t)k;
	}
	iov[0].iov_base = data;
	iov[0].iov_len = n;
	iov[1].iov_base = t->ahead;
	iov[1].iov_len = AHEAD;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	r = recvmsg(t->fd, &msg, 0);
	if (r <= 0)
		return r; /* errno is what GnuTLS reads for -1: EAGAIN, EINTR, ... */
	t->got_bytes = true;
	if ((size_t)r > n) {
		t->off = 0;
		t->len = (uint8_t)((size_t)r - n);
		r = (ssize_t)n;
	} else {
		t->off = t->len = 0;
	}
	/* ahead[] holds bytes as they crossed the wire (a record's header, or the
	 * first bytes of a body GnuTLS has not asked for yet): nothing secret. */
	return r;
}

/* GnuTLS calls this only for sessions that wait (not GNUTLS_NONBLOCK), but it must
 * be right whenever it is called: held bytes count as readable. */
static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct tls_pull *t = ptr;
	struct pollfd p = {.fd = t->fd, .events = POLLIN};
	int r;

	if (t->off < t->len)
		return 1;
	do
		r = poll(&p, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Called when a Finished message passes; the peer's (incoming) ends the handshake. */
static int finished_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
			 const gnutls_datum_t *msg)
{
	struct tls_pull *t = gnutls_transport_get_ptr(s);

	(void)htype;
	(void)when;
	(void)msg;
	if (incoming && t)
		t->finished = true;
	return 0;
}

bool tls_pull_handshake_failed(const struct tls_pull *t)
{
	return t && t->got_bytes && !t->finished;
}

struct tls_pull *tls_pull_attach(void *session, int fd)
{
	gnutls_session_t s = session;
	struct tls_pull *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->fd = fd;
	/* Sends stay GnuTLS's own, on the socket itself. */
	gnutls_transport_set_ptr2(s, t, (gnutls_transport_ptr_t)(intptr_t)fd);
	gnutls_transport_set_pull_function(s, pull);
	gnutls_transport_set_pull_timeout_function(s, pull_timeout);
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
					   finished_hook);
	return t;
}

void tls_pull_free(struct tls_pull *t)
{
	free(t);
}
