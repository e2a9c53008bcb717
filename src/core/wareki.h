/*
 * wareki — Japanese era dates (和暦) for documents a ward reads.
 *
 * Converts a Gregorian civil date to the era name and year: 令和 from 2019-05-01,
 * 平成 from 1989-01-08, 昭和 from 1926-12-25; the first year of an era is 元年.
 * Earlier dates are refused. Also formats UTC seconds as the date in Japan
 * (JST, UTC+9, no daylight saving) without gmtime/localtime.
 */
#ifndef KINKO_CORE_WAREKI_H
#define KINKO_CORE_WAREKI_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct civil_date {
	int year, month, day;
};

/* The civil date (proleptic Gregorian) of a count of seconds since 1970 UTC,
 * shifted by offset_seconds (e.g. 9 * 3600 for JST). */
struct civil_date civil_from_unix(int64_t unix_seconds, int64_t offset_seconds);

/* Era name (UTF-8, e.g. "令和") and year of the era. */
int wareki_from_date(struct civil_date d, const char **era, int *era_year) KINKO_WUR;

/* "令和8年11月26日" or "令和元年5月1日" into out. */
int wareki_format(struct civil_date d, char *out, size_t cap) KINKO_WUR;

#endif
