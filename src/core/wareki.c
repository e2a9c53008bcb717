#include "core/wareki.h"

#include <stdio.h>

/* Days since 1970-01-01 to civil date (Howard Hinnant's algorithm). */
struct civil_date civil_from_unix(int64_t unix_seconds, int64_t offset_seconds)
{
	int64_t s = unix_seconds + offset_seconds;
	int64_t z = (s >= 0 ? s : s - 86399) / 86400 + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);
	struct civil_date out = {(int)y, (int)m, (int)d};
	return out;
}

static int date_key(struct civil_date d)
{
	return d.year * 10000 + d.month * 100 + d.day;
}

int wareki_from_date(struct civil_date d, const char **era, int *era_year)
{
	static const struct {
		int start; /* yyyymmdd */
		const char *name;
	} eras[] = {
		{20190501, "令和"},
		{19890108, "平成"},
		{19261225, "昭和"},
	};
	int k = date_key(d);

	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;

	if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > mdays[d.month - 1] ||
	    (d.month == 2 && d.day == 29 && !leap) || d.year > 9999)
		return KINKO_EINVAL;
	for (size_t i = 0; i < sizeof eras / sizeof eras[0]; i++) {
		if (k >= eras[i].start) {
			*era = eras[i].name;
			*era_year = d.year - eras[i].start / 10000 + 1;
			return 0;
		}
	}
	return KINKO_EINVAL;
}

int wareki_format(struct civil_date d, char *out, size_t cap)
{
	const char *era;
	int y, n;
	char ys[16];

	if (wareki_from_date(d, &era, &y))
		return KINKO_EINVAL;
	if (y == 1)
		n = snprintf(ys, sizeof ys, "元");
	else
		n = snprintf(ys, sizeof ys, "%d", y);
	if (n < 0 || (size_t)n >= sizeof ys)
		return KINKO_EINVAL;
	n = snprintf(out, cap, "%s%s年%d月%d日", era, ys, d.month, d.day);
	if (n < 0 || (size_t)n >= cap)
		return KINKO_ELIMIT;
	return 0;
}
