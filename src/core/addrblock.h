/*
 * addrblock — blocks client addresses that keep failing (checklist S4: brute force
 * and probing, answered by automatic blocking).
 *
 * Each failure (a refused client certificate, a failed login, an invalid session
 * token) is counted against its source: an IPv4 address, or the /64 network of an
 * IPv6 address (one host usually holds a whole /64, so counting single IPv6
 * addresses would let it step around the count). When a source reaches `failures`
 * within `window` seconds of its first counted failure, it is blocked for
 * `duration` seconds; a window that runs out starts the count again.
 *
 * The table lives in memory (the vault keeps blocks in its store too, and puts them
 * back at start) and holds at most ADDRBLOCK_MAX sources; when it is
 * full, a new source replaces the one that failed least recently and is not
 * blocked. Blocks are never given up for room: while every slot holds a block, a
 * new source's failures are not counted. Thread-safe.
 */
#ifndef KINKO_CORE_ADDRBLOCK_H
#define KINKO_CORE_ADDRBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/err.h"

#define ADDRBLOCK_MAX 4096
#define ADDRBLOCK_TEXT 64 /* "192.0.2.1", "2001:db8:1:2::/64" */

struct addrblock;

struct addrblock_entry {
	char source[ADDRBLOCK_TEXT];
	unsigned failures;  /* counted in the current window */
	int64_t first;      /* the window's first failure */
	int64_t last;       /* the latest failure */
	int64_t until;      /* end of the block; 0 when not blocked */
};

/* failures >= 1, window >= 1, duration >= 1 (seconds). */
int addrblock_new(unsigned failures, uint64_t window, uint64_t duration, struct addrblock **out,
		  struct kinko_err *e) KINKO_WUR;
/* NULL is a no-op. */
void addrblock_free(struct addrblock *b);

/* Counts a failure from sa at now. Returns true when this failure blocked the
 * source; then *blocked gets its entry. Sources other than IPv4/IPv6 are not
 * counted. */
bool addrblock_fail(struct addrblock *b, const struct sockaddr *sa, int64_t now,
		    struct addrblock_entry *blocked);
/* Whether sa's source is blocked at now; *until (may be NULL) gets the block's end. */
bool addrblock_blocked(struct addrblock *b, const struct sockaddr *sa, int64_t now,
		       int64_t *until);
/* The sources with a live count or block at now, blocked ones first, at most cap;
 * returns how many were written. */
size_t addrblock_list(struct addrblock *b, int64_t now, struct addrblock_entry *out, size_t cap);
/* Lifts the block on (and forgets the count of) the source `text` names: an IPv4
 * address, or any IPv6 address of the /64 (with or without "/64"). KINKO_EINVAL for
 * text that is not an address, KINKO_ENOENT when the source is not in the table.
 * *entry (may be NULL) gets the entry as it was. */
int addrblock_clear(struct addrblock *b, const char *text, int64_t now,
		    struct addrblock_entry *entry, struct kinko_err *e) KINKO_WUR;
/* Puts back a block read from storage at start: the source as entry->source names
 * it, blocked until entry->until. Nothing happens when that is not after now.
 * KINKO_EINVAL for a source that is not an address; KINKO_ELIMIT when every slot
 * already holds a block. */
int addrblock_restore(struct addrblock *b, const struct addrblock_entry *entry, int64_t now,
		      struct kinko_err *e) KINKO_WUR;
/* As addrblock_clear, without changing anything. */
int addrblock_get(struct addrblock *b, const char *text, int64_t now,
		  struct addrblock_entry *entry, struct kinko_err *e) KINKO_WUR;

#endif
