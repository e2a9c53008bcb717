/*
 * privdrop — a server started as root gives up root for the account that owns its
 * data directory (checklist S4).
 *
 * Root is only useful before the server runs: to bind a port below 1024, to read
 * a key file only root may read. After that, kinko serve needs exactly what the
 * data directory's owner has. So when the effective user is root and the
 * directory belongs to another account, privdrop_to_owner checks that everything
 * in the directory belongs to that account too (a root-owned file there would be
 * unreadable or unwritable afterwards: better refused now, with the chown to run,
 * than failing mid-request), then sets the groups to the owner's own (those of
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

/* *uid gets the user ID the process runs as afterwards; *dropped whether it
 * changed. Fails (changing nothing, or, if the change itself failed half-way, with
 * an error the caller must treat as fatal) when the directory's content has
 * another owner, the owner cannot reach the directory, or the kernel refuses. */
int privdrop_to_owner(const char *dir, uid_t *uid, bool *dropped, struct kinko_err *e) KINKO_WUR;
/* The checks of privdrop_to_owner alone, changing nothing: so that a directory it
 * would refuse is refused before the server does anything. */
int privdrop_check(const char *dir, struct kinko_err *e) KINKO_WUR;

#endif
