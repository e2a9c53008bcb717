/*
 * privdrop — a server started as root gives up root for the account that owns its
 * data directory (checklist S4).
 *
 * Root is only useful before the server runs: to bind a port below 1024, to read
 * a key file only root may read. After that, kinko serve needs exactly what the
 * data directory's owner has. So when the effective user is root and the
 * directory belongs to another account, privdrop_check (at start) checks that
 * everything in the directory belongs to that account too (a root-owned file
 * there would be unreadable or unwritable afterwards: better refused now, with
 * the chown to run, than failing mid-request); privdrop_apply (once the port is
 * bound and the key read) then sets the groups to the owner's own (those of
 * its account; none if the user ID has no account), the group and user IDs to the
 * owner's, and checks that root cannot be regained. All capabilities go
 * with the user ID. A directory owned by root leaves the process as it is (the
 * caller warns).
 */
#ifndef KINKO_CORE_PRIVDROP_H
#define KINKO_CORE_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/err.h"

struct privdrop {
	bool drop; /* root, on a directory another account owns */
	uid_t uid; /* that account */
	gid_t gid;
};

/* Decides, changing nothing: *pd says whether and to whom the process would drop.
 * Fails when the directory's content has another owner than the directory: so
 * that such a directory is refused before the server does anything. The tree is
 * walked here only. */
int privdrop_check(const char *dir, struct privdrop *pd, struct kinko_err *e) KINKO_WUR;
/* Drops as privdrop_check decided (nothing when pd->drop is false). Fails when the
 * kernel refuses or the account cannot reach dir; if the change itself failed
 * half-way, the error is one the caller must treat as fatal. */
int privdrop_apply(const struct privdrop *pd, const char *dir, struct kinko_err *e) KINKO_WUR;

#endif
