#include "core/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t kinko_base64_len(size_t n, bool pad)
{
	return pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

int kinko_base64_encode_opt(const uint8_t *in, size_t n, char *out, size_t cap, bool pad)
{
	size_t o = 0, i = 0;

	if (n > SIZE_MAX / 2 || cap <= kinko_base64_len(n, pad))
		return KINKO_ELIMIT;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

int kinko_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	return kinko_base64_encode_opt(in, n, out, cap, true);
}

static int val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kinko_base64_decode(const char *in, size_t len, bool pad, uint8_t *out, size_t cap,
			size_t *outlen)
{
	size_t body = len, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (pad) {
		if (len % 4)
			return KINKO_EFORMAT;
		if (len && in[len - 1] == '=')
			body--;
		if (len > 1 && in[len - 2] == '=')
			body--;
	} else if (len % 4 == 1) {
		return KINKO_EFORMAT;
	}
	for (size_t i = 0; i < body; i++) {
		int v = val(in[i]);
		if (v < 0)
			return KINKO_EFORMAT;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return KINKO_ELIMIT;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits >= 6 || (acc & ((1u << bits) - 1)))
		return KINKO_EFORMAT; /* leftover bits must be zero padding */
	*outlen = o;
	return 0;
}
