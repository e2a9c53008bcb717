#include "core/fstree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void kinko_remove_tree(int dirfd, const char *name, bool keep_top)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0) {
		if (!keep_top)
			(void)unlinkat(dirfd, name, 0);
		return;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) && (errno == EISDIR || errno == EPERM))
			kinko_remove_tree(fd, de->d_name, false);
	}
	closedir(d);
	if (!keep_top)
		(void)unlinkat(dirfd, name, AT_REMOVEDIR);
}
