/*
 * clamd — a client for ClamAV's clamd over its UNIX socket.
 *
 * It speaks the null-terminated ("z") commands: zINSTREAM to scan a stream that
 * the caller feeds chunk by chunk as the plaintext passes (so a file is read once),
 * zFILDES to hand clamd the same stream as a file descriptor, zVERSION for the
 * engine and signature versions, zPING for liveness. It never shells out.
 *
 * Two ways to hand clamd the content, same calls for the caller:
 *   - INSTREAM (pass_fd false): the content goes down the socket. clamd spools
 *     every stream to a file in its TemporaryDirectory from one receiving thread,
 *     a few KiB per read, and scans only once the stream has ended.
 *   - FILDES (pass_fd true): the content goes into a memory-only file (memfd: no
 *     name in any file system, gone when closed), sealed against any change when
 *     the stream ends and passed to clamd over the socket; clamd scans it in place.
 *     On the project's machine this halves clamd's share of a 1 GiB scan (it skips
 *     receiving and spooling). The plaintext of a scan in progress is in memory,
 *     as it is in clamd's tmpfs spool with INSTREAM; at most CLAMD_MAX_STREAM bytes
 *     per scan. clamd must be on the same host (it is: a UNIX socket).
 * Nothing is written anywhere else.
 *
 * Everything fails closed. A socket that is missing, refuses, stalls past a
 * timeout, closes early or answers something this client does not understand is
 * KINKO_EUNAVAIL with a sentence saying what to check. A scan clamd could not do
 * completely -- "INSTREAM size limit exceeded", or a Heuristics.Limits.Exceeded.*
 * alert (clamd must run with AlertExceedsMax yes) -- is KINKO_ELIMIT: the file is
 * refused, never passed as clean. clamd cannot scan a single file larger than
 * CLAMD_MAX_STREAM bytes (a libclamav design limit), so the client refuses to
 * stream more than that (KINKO_ELIMIT) without waiting for clamd to say so.
 *
 * The library never logs; messages carry no content, only what to check.
 */
#ifndef KINKO_SCAN_CLAMD_H
#define KINKO_SCAN_CLAMD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* libclamav 1.x clamps MaxFileSize to 2 GiB - 3 bytes ("File size limit set to
 * 2147483645 bytes"); a stream longer than that cannot be scanned fully. */
#define CLAMD_MAX_STREAM UINT64_C(2147483645)

#define CLAMD_DEFAULT_CONNECT_MS 5000
#define CLAMD_DEFAULT_IO_MS 30000
#define CLAMD_DEFAULT_REPLY_MS 600000

/* FILDES: what all scans in progress may hold in memory together. Shared by the
 * scans that name it; max 0 means no limit. */
struct clamd_budget {
	_Atomic uint64_t used;
	uint64_t max;
};

struct clamd_cfg {
	const char *socket_path; /* required */
	int connect_timeout_ms;  /* 0: CLAMD_DEFAULT_CONNECT_MS */
	int io_timeout_ms;       /* each send or receive while streaming; 0: default */
	int reply_timeout_ms;    /* the verdict after the last chunk; 0: default (10 min) */
	uint64_t max_stream;     /* 0 or > CLAMD_MAX_STREAM: CLAMD_MAX_STREAM */
	bool pass_fd;            /* FILDES with a memory-only file instead of INSTREAM */
	struct clamd_budget *budget; /* FILDES: the shared memory limit; NULL: none */
};

enum clamd_result {
	CLAMD_ERROR = 0, /* no verdict: treat as "not scanned" and refuse */
	CLAMD_CLEAN,
	CLAMD_INFECTED,
};

struct clamd_verdict {
	enum clamd_result result;
	char signature[128]; /* for CLAMD_INFECTED: the signature name, printable ASCII */
	uint64_t bytes;      /* bytes streamed to clamd */
};

struct clamd_info {
	char engine[32];      /* "1.4.6" */
	uint32_t sig_version; /* daily signature version; 0 when clamd reports none */
	int64_t sig_date;     /* unix time of the daily signatures; 0 when unknown */
};

struct clamd_scan;

/* INSTREAM: connects and sends zINSTREAM. FILDES: checks that clamd answers PING
 * and creates the memory-only file (clamd's connection is made at the end of the
 * stream, so clamd's CommandReadTimeout never runs while an upload is slow). On
 * success *out owns both; end it with clamd_scan_finish or clamd_scan_abort. */
int clamd_scan_begin(const struct clamd_cfg *cfg, struct clamd_scan **out,
		     struct kinko_err *e) KINKO_WUR;

/* Streams n more bytes. Any chunking by the caller is fine (small feeds are
 * coalesced). Fails with KINKO_ELIMIT past max_stream, KINKO_EUNAVAIL when clamd
 * stalls, closes or answers early, or (FILDES) when the memory-only file cannot
 * grow or the budget is spent. After a failure only abort is allowed. */
int clamd_scan_feed(struct clamd_scan *s, const void *p, size_t n, struct kinko_err *e) KINKO_WUR;

/* Sends the end of the stream without waiting (INSTREAM: the empty frame; FILDES:
 * seals the file, connects and passes it): clamd scans only once the stream has
 * ended, so work the caller does between clamd_scan_end and clamd_scan_finish
 * (counting records, sealing) runs while clamd scans. Optional: clamd_scan_finish
 * ends the stream itself. After it, feed is refused. */
int clamd_scan_end(struct clamd_scan *s, struct kinko_err *e) KINKO_WUR;

/* Ends the stream (unless clamd_scan_end did), waits for the verdict and frees s
 * (always). Returns 0 when clamd
 * gave a verdict (CLEAN or INFECTED in v). On failure returns a negative code and,
 * unlike the usual convention, still writes v->result = CLAMD_ERROR, so a caller
 * that only looks at v cannot mistake an unscanned file for a clean one. */
int clamd_scan_finish(struct clamd_scan *s, struct clamd_verdict *v, struct kinko_err *e) KINKO_WUR;

/* FILDES: the memory-only file holding what was fed, for the caller to read back
 * with pread (offsets below the bytes fed are stable); -1 with INSTREAM. It stays
 * the scan's: valid until clamd_scan_finish or clamd_scan_abort, never written. */
int clamd_scan_file(const struct clamd_scan *s);

/* Drops the connection without a verdict; clamd discards the stream. NULL is a no-op. */
void clamd_scan_abort(struct clamd_scan *s);

/* zVERSION: engine and signature versions and date. */
int clamd_version(const struct clamd_cfg *cfg, struct clamd_info *out, struct kinko_err *e) KINKO_WUR;

/* zPING: 0 when clamd answers PONG. */
int clamd_ping(const struct clamd_cfg *cfg, struct kinko_err *e) KINKO_WUR;

/* Parsers, exposed for tests and fuzzing. reply is clamd's answer without or with
 * its terminating NUL / newline: "stream: ..." (INSTREAM) or "fd[N]: ..." (FILDES). */
int clamd_reply_parse(const char *reply, size_t len, struct clamd_verdict *v,
		      struct kinko_err *e) KINKO_WUR;
/* The date part is clamd's ctime() text, in the local time zone of the host that
 * runs clamd (the same host: it is a UNIX socket), and is read back with mktime. */
int clamd_version_parse(const char *reply, size_t len, struct clamd_info *out,
			struct kinko_err *e) KINKO_WUR;

/* True when the signature date is known and no older than max_age_seconds at now.
 * An unknown date (a custom database without a daily.cvd/cld/cud) is not fresh. */
bool clamd_signatures_fresh(const struct clamd_info *info, int64_t max_age_seconds, int64_t now);

#endif
