/*
 * privdrop — see privdrop.h.
 */
#include "core/privdrop.h"

#include <errno.h>
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
} walk;

static int owned(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (st->st_uid == walk.owner)
		return 0;
	snprintf(walk.bad, sizeof walk.bad, "%s", path);
	walk.bad_uid = st->st_uid;
	return 1; /* stop at the first */
}

/* 1 when the process would drop to dir's owner (*st: dir's), 0 when it stays as it
 * is, <0 on error (a file with another owner included). */
static int check(const char *dir, struct stat *st, struct kinko_err *e)
{
	int rc;

	if (geteuid() != 0)
		return 0;
	if (stat(dir, st) != 0)
		return kinko_err_set(e, KINKO_EIO, "cannot stat %s: %s", dir, strerror(errno));
	if (st->st_uid == 0)
		return 0;
	walk.owner = st->st_uid;
	walk.bad[0] = '\0';
	rc = nftw(dir, owned, 16, FTW_PHYS);
	if (rc < 0)
		return kinko_err_set(e, KINKO_EIO, "cannot read the tree of %s: %s", dir,
				     strerror(errno));
	if (rc > 0)
		return kinko_err_set(e, KINKO_EPERM,
				     "%s belongs to uid %u, not to uid %u, which owns %s and which "
				     "kinko serve started as root runs as; run chown -R %u:%u %s",
				     walk.bad, (unsigned)walk.bad_uid, (unsigned)st->st_uid, dir,
				     (unsigned)st->st_uid, (unsigned)st->st_gid, dir);
	return 1;
}

int privdrop_check(const char *dir, struct kinko_err *e)
{
	struct stat st;
	int rc = check(dir, &st, e);

	return rc < 0 ? rc : 0;
}

int privdrop_to_owner(const char *dir, uid_t *uid, bool *dropped, struct kinko_err *e)
{
	struct stat st;
	struct passwd *pw;
	int rc = check(dir, &st, e);

	*dropped = false;
	*uid = geteuid();
	if (rc <= 0)
		return rc;
	/* Groups first (needs root), then the group, then the user: in that order, no
	 * step needs a privilege an earlier one gave up. The owner's own groups, if it
	 * is an account (clamd's socket may be open to a group only); none otherwise. */
	pw = getpwuid(st.st_uid);
	if ((pw ? initgroups(pw->pw_name, st.st_gid) : setgroups(0, NULL)) != 0 ||
	    setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0)
		return kinko_err_set(e, KINKO_EPERM, "cannot give up root for uid %u: %s",
				     (unsigned)st.st_uid, strerror(errno));
	if (getuid() != st.st_uid || geteuid() != st.st_uid || getgid() != st.st_gid ||
	    getegid() != st.st_gid || setuid(0) == 0 || setgid(0) == 0)
		return kinko_err_set(e, KINKO_EPERM, "giving up root for uid %u did not hold",
				     (unsigned)st.st_uid);
	/* A change of user resets the dump flag to the system's default: no dumps. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (access(dir, R_OK | W_OK | X_OK) != 0)
		return kinko_err_set(e, KINKO_EPERM,
				     "uid %u cannot reach %s (%s): every directory above it must "
				     "let that account through (mode o+x)",
				     (unsigned)st.st_uid, dir, strerror(errno));
	*dropped = true;
	*uid = st.st_uid;
	return 0;
}
