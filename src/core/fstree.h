/*
 * fstree — removing a directory tree without following links.
 *
 * Entries are opened relative to their parent's descriptor with O_NOFOLLOW, so a
 * symbolic link inside the tree is removed as a link and never followed out of
 * it. Best effort: whatever cannot be removed is left, silently (callers use it
 * to clean up after a failure that they already report).
 */
#ifndef KINKO_CORE_FSTREE_H
#define KINKO_CORE_FSTREE_H

#include <stdbool.h>

/* Removes name (relative to dirfd, or AT_FDCWD) and everything under it; with
 * keep_top, only what is under it. */
void kinko_remove_tree(int dirfd, const char *name, bool keep_top);

#endif
