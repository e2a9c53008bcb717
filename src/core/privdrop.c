/*
 * privdrop — see privdrop.h.
 */
#include "core/privdrop.h"

#include <errno.h>
#include <stdbool.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* nftw has no context argument: the walk's state, one walk at a time (start-up). */
static struct {
	uid_t owner;
	char bad[4096];
	uid_t bad_uid;
	bool link;
} walk;

static int owned(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	/* kinko creates no links in its directory. One there would let whoever owns
	 * the directory point what kinko does as root (read the configuration, open
	 * the store, collect garbage) at files elsewhere. */
	if (flag == FTW_SL || flag == FTW_SLN) {
		snprintf(walk.bad, sizeof walk.bad, "%s", path);
		walk.link = true;
		return 1;
	}
	if (st->st_uid == walk.owner)
		return 0;
	snprintf(walk.bad, sizeof walk.bad, "%s", path);
	walk.bad_uid = st->st_uid;
	return 1; /* stop at the first */
}

int privdrop_check(const char *dir, struct privdrop *pd, struct kinko_err *e)
{
	struct stat st;
	int rc;

	memset(pd, 0, sizeof *pd);
	if (geteuid() != 0)
		return 0;
	if (stat(dir, &st) != 0)
		return kinko_err_set(e, KINKO_EIO, "cannot stat %s: %s", dir, strerror(errno));
	if (st.st_uid == 0)
		return 0;
	walk.owner = st.st_uid;
	walk.bad[0] = '\0';
	walk.link = false;
	rc = nftw(dir, owned, 16, FTW_PHYS);
	if (rc < 0)
		return kinko_err_set(e, KINKO_EIO, "cannot read the tree of %s: %s", dir,
				     strerror(errno));
	if (rc > 0 && walk.link)
		return kinko_err_set(e, KINKO_EPERM,
				     "%s is a symbolic link; kinko started as root refuses links in "
				     "its data directory (kinko makes none): remove it, or put the "
				     "file it points to in its place",
				     walk.bad);
	if (rc > 0)
		return kinko_err_set(e, KINKO_EPERM,
				     "%s belongs to uid %u, not to uid %u, which owns %s and which "
				     "kinko serve started as root runs as; run chown -R %u:%u %s",
				     walk.bad, (unsigned)walk.bad_uid, (unsigned)st.st_uid, dir,
				     (unsigned)st.st_uid, (unsigned)st.st_gid, dir);
	pd->drop = true;
	pd->uid = st.st_uid;
	pd->gid = st.st_gid;
	return 0;
}

int privdrop_apply(const struct privdrop *pd, const char *dir, struct kinko_err *e)
{
	struct passwd *pw;

	if (!pd->drop)
		return 0;
	/* Groups first (needs root), then the group, then the user: in that order, no
	 * step needs a privilege an earlier one gave up. The owner's own groups, if it
	 * is an account (clamd's socket may be open to a group only); none otherwise. */
	pw = getpwuid(pd->uid);
	if ((pw ? initgroups(pw->pw_name, pd->gid) : setgroups(0, NULL)) != 0 ||
	    setgid(pd->gid) != 0 || setuid(pd->uid) != 0)
		return kinko_err_set(e, KINKO_EPERM, "cannot give up root for uid %u: %s",
				     (unsigned)pd->uid, strerror(errno));
	if (getuid() != pd->uid || geteuid() != pd->uid || getgid() != pd->gid ||
	    getegid() != pd->gid || setuid(0) == 0 || setgid(0) == 0)
		return kinko_err_set(e, KINKO_EPERM, "giving up root for uid %u did not hold",
				     (unsigned)pd->uid);
	/* A change of user resets the dump flag to the system's default: no dumps. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (access(dir, R_OK | W_OK | X_OK) != 0)
		return kinko_err_set(e, KINKO_EPERM,
				     "uid %u cannot reach %s (%s): every directory above it must "
				     "let that account through (mode o+x)",
				     (unsigned)pd->uid, dir, strerror(errno));
	return 0;
}
