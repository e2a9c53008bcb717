#include "core/parse.h"

#include <string.h>
#include <strings.h>

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return KINKO_EINVAL;
	for (; *s; s++) {
		unsigned d;
		if (*s < '0' || *s > '9')
			return KINKO_EINVAL;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return KINKO_EINVAL;
		v = v * 10 + d;
	}
	if (v > max)
		return KINKO_EINVAL;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t max, uint64_t *out)
{
	char num[32];
	size_t n;
	uint64_t v, mul = 1;

	if (!s || !*s)
		return KINKO_EINVAL;
	n = strlen(s);
	if (n >= sizeof num)
		return KINKO_EINVAL;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'k': case 'K': mul = 1024ull; num[--n] = '\0'; break;
	case 'm': case 'M': mul = 1024ull * 1024; num[--n] = '\0'; break;
	case 'g': case 'G': mul = 1024ull * 1024 * 1024; num[--n] = '\0'; break;
	default: break;
	}
	if (parse_u64(num, UINT64_MAX, &v))
		return KINKO_EINVAL;
	if (v > UINT64_MAX / mul || v * mul > max)
		return KINKO_EINVAL;
	*out = v * mul;
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"true", "yes", "on", "1"};
	static const char *no[] = {"false", "no", "off", "0"};

	if (!s)
		return KINKO_EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return KINKO_EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_hex(const char *s, uint8_t *out, size_t n)
{
	if (!s || strlen(s) != 2 * n)
		return KINKO_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return KINKO_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void format_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}
