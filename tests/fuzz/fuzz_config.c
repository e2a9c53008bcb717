/* Fuzzes kinko.conf loading (inih underneath, kinko's reader, handler and value
 * parsers): the input is written to a file and loaded over the defaults. Whatever
 * loads must satisfy what the rest of kinko relies on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

static char path[64];
static int fd = -1;

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kinko_config c;
	struct kinko_err e;
	char host[64];
	uint16_t port;
	FILE *null;

	if (fd < 0) {
		snprintf(path, sizeof path, "/tmp/kinko-fuzz-config-XXXXXX");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		atexit(cleanup);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&e, 0, sizeof e);
	if (config_load(path, false, &c, &e) != 0) {
		/* A refusal always says why, and where. */
		if (e.msg[0] == '\0' || !strstr(e.msg, path))
			abort();
		return 0;
	}
	if (c.allow.n == 0 || c.allow.n > CIDR_MAX)
		abort();
	if (config_listen_addr(&c, host, sizeof host, &port, &e) != 0 || port == 0)
		abort();
	if (strcmp(c.audit_sink, "journald") && strcmp(c.audit_sink, "syslog") &&
	    strcmp(c.audit_sink, "none"))
		abort();
	if (c.lockout_failures < 1 || c.session_idle_seconds < 30 || c.max_header_bytes < 1024 ||
	    c.max_connections < 1 || c.max_uploads < 1)
		abort();
	null = fopen("/dev/null", "w");
	if (null) {
		(void)config_report(&c, null);
		fclose(null);
	}
	return 0;
}
