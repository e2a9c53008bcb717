/*
 * kinko scan: runs the upload path's scanning pass on local files, for operators
 * and tests. Each file is read once, in chunks, and fed to clamd (when a socket is
 * given) and to the record counter at the same time. One JSON object per file is
 * printed per line; My Number values are never printed, only counts and columns.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/err.h"
#include "core/parse.h"
#include "scan/clamd.h"
#include "scan/records.h"

#define SCAN_USAGE                                                                           \
	"usage: kinko scan [--clamd-socket PATH] [--instream] [--csv|--text] [--header] "    \
	"[--chunk SIZE] FILE...\n"                                                           \
	"       kinko scan --clamd-socket PATH --clamd-version [--max-age SECONDS]"

static int print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!s) {
		fputs("kinko: out of memory printing JSON\n", stderr);
		return 1;
	}
	puts(s);
	free(s);
	fflush(stdout);
	return 0;
}

static json_t *iso_time(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[32];

	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_null();
	return json_string(buf);
}

static int show_version(const struct clamd_cfg *cfg, int64_t max_age)
{
	struct clamd_info info;
	struct kinko_err e = {0};
	int64_t now = (int64_t)time(NULL);
	bool fresh;

	if (clamd_version(cfg, &info, &e))
		return cli_fail(&e);
	fresh = clamd_signatures_fresh(&info, max_age, now);
	if (print_json(json_pack("{s:s, s:I, s:o, s:I, s:I, s:b}", "engine", info.engine,
				 "signature_version", (json_int_t)info.sig_version,
				 "signature_date", iso_time(info.sig_date), "signature_time",
				 (json_int_t)info.sig_date, "max_age", (json_int_t)max_age, "fresh",
				 fresh)))
		return 1;
	return 0;
}

/* Reads fd to its end in chunks, handing each to clamd (when cs is set and has not
 * failed) and to the record counter (when rs is set). */
static int pass(int fd, uint8_t *buf, size_t chunk, struct clamd_scan **cs, int *crc,
		struct kinko_err *ce, struct records_scan *rs, struct kinko_err *e)
{
	for (;;) {
		ssize_t n = read(fd, buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kinko_err_set(e, KINKO_EIO, "read failed: %s", strerror(errno));
		if (n == 0)
			return 0;
		if (rs)
			records_feed(rs, buf, (size_t)n);
		if (cs && *cs && !*crc) {
			*crc = clamd_scan_feed(*cs, buf, (size_t)n, ce);
			if (*crc) {
				clamd_scan_abort(*cs);
				*cs = NULL;
			}
		}
	}
}

/* Scans one file; returns 0 clean, 1 infected or failed. For a regular file with
 * clamd, the file is handed to clamd first and counted while clamd scans (clamd
 * only scans once it has the whole file); otherwise both run in one read. */
static int scan_file(const char *path, const struct clamd_cfg *cfg,
		     const struct records_opts *ro, size_t chunk, uint8_t *buf)
{
	struct kinko_err e = {0}, ce = {0};
	struct clamd_scan *cs = NULL;
	struct records_scan *rs = NULL;
	struct records_result rr;
	struct clamd_verdict v = {0};
	struct stat st;
	json_t *o, *virus;
	int fd, crc = 0, rc, status = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		kinko_err_set(&e, KINKO_EIO, "cannot open %s: %s", path, strerror(errno));
		return cli_fail(&e);
	}
	if (records_new(ro, &rs, &e)) {
		close(fd);
		return cli_fail(&e);
	}
	if (cfg->socket_path)
		crc = clamd_scan_begin(cfg, &cs, &ce);
	if (cs && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		rc = pass(fd, buf, chunk, &cs, &crc, &ce, NULL, &e);
		if (!rc && cs && !crc && (crc = clamd_scan_end(cs, &ce)) != 0) {
			clamd_scan_abort(cs);
			cs = NULL;
		}
		if (!rc && lseek(fd, 0, SEEK_SET) != 0)
			rc = kinko_err_set(&e, KINKO_EIO, "cannot rewind: %s", strerror(errno));
		if (!rc)
			rc = pass(fd, buf, chunk, NULL, NULL, NULL, rs, &e);
	} else {
		rc = pass(fd, buf, chunk, &cs, &crc, &ce, rs, &e);
	}
	close(fd);
	if (rc) {
		clamd_scan_abort(cs);
		records_free(rs);
		kinko_err_wrap(&e, "%s", path);
		return cli_fail(&e);
	}
	if (cs)
		crc = clamd_scan_finish(cs, &v, &ce);
	if (records_finish(rs, &rr, &e)) {
		records_free(rs);
		return cli_fail(&e);
	}
	records_free(rs);
	if (cfg->socket_path && !crc && v.bytes != rr.bytes)
		crc = kinko_err_set(&ce, KINKO_ECONFLICT,
				    "the file changed while it was scanned: scan it again");

	if (!cfg->socket_path)
		virus = json_pack("{s:s}", "result", "skipped");
	else if (crc)
		virus = json_pack("{s:s, s:s, s:s}", "result", "error", "error",
				  kinko_strerror(ce.code), "message", ce.msg);
	else if (v.result == CLAMD_INFECTED)
		virus = json_pack("{s:s, s:s}", "result", "infected", "signature", v.signature);
	else
		virus = json_pack("{s:s}", "result", "clean");
	o = json_pack("{s:s, s:I, s:o, s:s, s:b, s:s, s:I, s:{s:I, s:s, s:i, s:i}}", "file", path,
		      "bytes", (json_int_t)rr.bytes, "virus", virus, "encoding",
		      records_encoding_name(rr.encoding), "bom", rr.has_bom, "format",
		      records_format_name(rr.format), "records", (json_int_t)rr.records,
		      "mynumber", "count", (json_int_t)rr.mynumber_count, "confidence",
		      records_confidence_name(rr.mynumber_confidence), "column", rr.mynumber_column,
		      "header_column", rr.mynumber_header_column);
	if (!o || print_json(o))
		return 1;
	if (cfg->socket_path && crc) {
		kinko_err_set(&e, ce.code, "%s: not scanned, refused: %s", path, ce.msg);
		status = cli_fail(&e);
	} else if (v.result == CLAMD_INFECTED) {
		kinko_err_set(&e, KINKO_EINFECTED, "%s: infected (%s)", path, v.signature);
		status = cli_fail(&e);
	}
	return status;
}

int cmd_scan(int argc, char **argv)
{
	/* Like the server: clamd gets each file as a sealed memory-only file (FILDES),
	 * or with --instream as a stream. */
	struct clamd_cfg cfg = {.pass_fd = true};
	struct records_opts ro = {0};
	bool version = false;
	uint64_t chunk = 64 * 1024, max_age = 86400, v;
	uint8_t *buf;
	int i, status = 0, nfiles = 0;
	char **files;

	files = calloc((size_t)argc, sizeof *files);
	if (!files) {
		fputs("kinko: out of memory\n", stderr);
		return 1;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--clamd-socket") && i + 1 < argc)
			cfg.socket_path = argv[++i];
		else if (!strcmp(a, "--instream"))
			cfg.pass_fd = false;
		else if (!strcmp(a, "--csv"))
			ro.format = RECORDS_FMT_CSV;
		else if (!strcmp(a, "--text"))
			ro.format = RECORDS_FMT_TEXT;
		else if (!strcmp(a, "--header"))
			ro.header = true;
		else if (!strcmp(a, "--clamd-version"))
			version = true;
		else if (!strcmp(a, "--max-age") && i + 1 < argc) {
			if (parse_u64(argv[++i], INT64_MAX, &v))
				goto usage;
			max_age = v;
		} else if (!strcmp(a, "--chunk") && i + 1 < argc) {
			if (parse_size(argv[++i], 64 * 1024 * 1024, &v) || v == 0)
				goto usage;
			chunk = v;
		} else if (!strcmp(a, "--")) {
			while (++i < argc)
				files[nfiles++] = argv[i];
		} else if (a[0] == '-' && a[1])
			goto usage;
		else
			files[nfiles++] = argv[i];
	}
	if (version != (nfiles == 0) || (version && !cfg.socket_path))
		goto usage;
	if (version) {
		free(files);
		return show_version(&cfg, (int64_t)max_age);
	}
	buf = malloc(chunk);
	if (!buf) {
		free(files);
		fputs("kinko: out of memory\n", stderr);
		return 1;
	}
	for (i = 0; i < nfiles; i++)
		if (scan_file(files[i], &cfg, &ro, chunk, buf))
			status = 1;
	free(buf);
	free(files);
	return status;
usage:
	free(files);
	fprintf(stderr, "%s\n", SCAN_USAGE);
	return 2;
}
