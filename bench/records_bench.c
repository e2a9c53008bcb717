/*
 * Record counter benchmark: records_feed alone (no I/O, no clamd) in MB/s on
 * in-memory inputs, against a memchr line count (what `wc -l` does) over the same
 * bytes in the same run.
 *   csv-utf8  the issue 5 benchmark CSV (bench/bench-scan-upload.sh): rows like
 *             123,山田 太郎,<12-digit My Number>,"東京都新宿区西新宿5"\r\n
 *   text      plain ASCII lines (words and numbers)
 *   csv-cp932 the same rows as csv-utf8 in CP932
 *   binary    random bytes
 * Usage: bench_records [-m MB] [-c CHUNK] [FILE...]  (files: benchmark those instead)
 */
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "scan/records.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd_state = 7;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void mynumber(char d[13])
{
	unsigned s = 0, r;
	for (int i = 0; i < 11; i++)
		d[i] = (char)('0' + rnd() % 10);
	for (int n = 1; n <= 11; n++)
		s += (unsigned)(d[11 - n] - '0') * (unsigned)(n <= 6 ? n + 1 : n - 5);
	r = s % 11;
	d[11] = (char)('0' + (r <= 1 ? 0 : 11 - r));
	d[12] = 0;
}

/* Fills buf (size n) by repeating a generated block. */
static void fill_repeat(uint8_t *buf, size_t n, const uint8_t *blk, size_t bl)
{
	for (size_t off = 0; off < n; off += bl)
		memcpy(buf + off, blk, n - off < bl ? n - off : bl);
}

/* Whole rows only (a cut character would make the file invalid); *n shrinks. */
static uint8_t *gen_csv(size_t *n, bool cp932)
{
	size_t cap = 20000 * 80, len = 0, hl;
	char *blk = malloc(cap), *conv = NULL;
	uint8_t *buf = malloc(*n);
	if (!blk || !buf)
		exit(1);
	for (int i = 0; i < 20000; i++) {
		char d[13];
		mynumber(d);
		len += (size_t)snprintf(blk + len, cap - len, "%d,山田 太郎,%s,\"東京都新宿区西新宿%d\"\r\n",
					i, d, i % 9);
	}
	if (cp932) {
		iconv_t cd = iconv_open("CP932", "UTF-8");
		char *in = blk, *o;
		size_t il = len, ol = cap;
		conv = malloc(cap);
		if (!conv || cd == (iconv_t)-1)
			exit(1);
		o = conv;
		if (iconv(cd, &in, &il, &o, &ol) == (size_t)-1)
			exit(1);
		iconv_close(cd);
		len = (size_t)(o - conv);
		memcpy(blk, conv, len);
		free(conv);
	}
	/* The header once, then the rows repeated (as bench-scan-upload.sh writes it). */
	hl = strlen(cp932 ? "id,\x8e\x81\x96\xbc,\x8c\xc2\x90\x6c\x94\xd4\x8d\x86,\x8f\x5a\x8f\x8a\r\n"
			  : "id,氏名,個人番号,住所\r\n");
	memcpy(buf, cp932 ? "id,\x8e\x81\x96\xbc,\x8c\xc2\x90\x6c\x94\xd4\x8d\x86,\x8f\x5a\x8f\x8a\r\n"
			  : "id,氏名,個人番号,住所\r\n", hl);
	*n = hl + (*n - hl) / len * len;
	fill_repeat(buf + hl, *n - hl, (uint8_t *)blk, len);
	free(blk);
	return buf;
}

static uint8_t *gen_text(size_t n)
{
	static const char *w[] = {"the", "resident", "moved", "to", "ward", "office", "on",
				  "April", "and", "filed", "form", "for", "tax", "notice"};
	size_t cap = 1 << 20, len = 0;
	char *blk = malloc(cap);
	uint8_t *buf = malloc(n);
	if (!blk || !buf)
		exit(1);
	while (len + 200 < cap) {
		int words = 3 + (int)(rnd() % 12);
		for (int i = 0; i < words; i++)
			len += (size_t)snprintf(blk + len, cap - len, "%s%s", i ? " " : "",
						w[rnd() % (sizeof w / sizeof w[0])]);
		len += (size_t)snprintf(blk + len, cap - len, " %u\n", (unsigned)(rnd() % 100000));
	}
	fill_repeat(buf, n, (uint8_t *)blk, len);
	free(blk);
	return buf;
}

static uint8_t *gen_binary(size_t n)
{
	uint8_t *buf = malloc(n);
	if (!buf)
		exit(1);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd();
		memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
	}
	return buf;
}

static uint8_t *load(const char *path, size_t *n)
{
	struct stat sb;
	uint8_t *buf;
	size_t off = 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &sb) || !(buf = malloc((size_t)sb.st_size + 1))) {
		perror(path);
		exit(1);
	}
	while (off < (size_t)sb.st_size) {
		ssize_t k = read(fd, buf + off, (size_t)sb.st_size - off);
		if (k <= 0) {
			perror(path);
			exit(1);
		}
		off += (size_t)k;
	}
	close(fd);
	*n = off;
	return buf;
}

static void bench(const char *name, const uint8_t *buf, size_t n, size_t chunk)
{
	struct records_result res;
	struct kinko_err e;
	double t0, t_rec = 1e9, t_wc = 1e9;
	uint64_t lines = 0;

	/* Best of three for each, interleaved. */
	for (int rep = 0; rep < 3; rep++) {
		struct records_scan *r;
		const uint8_t *p, *end = buf + n;
		if (records_new(NULL, &r, &e))
			exit(1);
		t0 = now();
		for (size_t off = 0; off < n; off += chunk)
			records_feed(r, buf + off, n - off < chunk ? n - off : chunk);
		if (records_finish(r, &res, &e))
			exit(1);
		if (now() - t0 < t_rec)
			t_rec = now() - t0;
		records_free(r);

		t0 = now();
		lines = 0;
		for (p = buf; p < end && (p = memchr(p, '\n', (size_t)(end - p))); p++)
			lines++;
		if (now() - t0 < t_wc)
			t_wc = now() - t0;
	}
	printf("%-10s %7.1f MB  records_feed %7.0f MB/s  (%s %s, %llu records, %llu My Numbers)"
	       "  memchr line count %7.0f MB/s (%llu lines)\n",
	       name, n / 1e6, n / 1e6 / t_rec, records_encoding_name(res.encoding),
	       records_format_name(res.format), (unsigned long long)res.records,
	       (unsigned long long)res.mynumber_count, n / 1e6 / t_wc, (unsigned long long)lines);
}

int main(int argc, char **argv)
{
	size_t mb = 256, chunk = 256 * 1024;
	int opt;

	while ((opt = getopt(argc, argv, "m:c:")) != -1) {
		uint64_t v;
		if (parse_u64(optarg, 1u << 30, &v) || v == 0) {
			fprintf(stderr, "bench_records: bad -%c value\n", opt);
			return 2;
		}
		if (opt == 'm')
			mb = (size_t)v;
		else
			chunk = (size_t)v;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			size_t n;
			uint8_t *buf = load(argv[i], &n);
			bench(argv[i], buf, n, chunk);
			free(buf);
		}
		return 0;
	}
	{
		size_t n = mb << 20, cn = n;
		uint8_t *buf = gen_csv(&cn, false);
		bench("csv-utf8", buf, cn, chunk);
		free(buf);
		buf = gen_text(n);
		bench("text", buf, n, chunk);
		free(buf);
		cn = n;
		buf = gen_csv(&cn, true);
		bench("csv-cp932", buf, cn, chunk);
		free(buf);
		buf = gen_binary(n);
		bench("binary", buf, n, chunk);
		free(buf);
	}
	return 0;
}
