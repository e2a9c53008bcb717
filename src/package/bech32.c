/* bech32 (BIP 173) for age's key strings; no 90-character limit, as in age. */
#include "package/package_internal.h"

#include <string.h>

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t polymod_step(uint32_t c)
{
	static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t b = c >> 25;

	c = (c & 0x1ffffff) << 5;
	for (int i = 0; i < 5; i++)
		if ((b >> i) & 1)
			c ^= gen[i];
	return c;
}

static uint32_t hrp_polymod(const char *hrp, size_t hl)
{
	uint32_t c = 1;

	for (size_t i = 0; i < hl; i++)
		c = polymod_step(c) ^ ((unsigned char)hrp[i] >> 5);
	c = polymod_step(c);
	for (size_t i = 0; i < hl; i++)
		c = polymod_step(c) ^ ((unsigned char)hrp[i] & 31);
	return c;
}

int pkg_bech32_encode(const char *hrp, const uint8_t *data, size_t n, char *out, size_t cap)
{
	size_t hl = strlen(hrp), o = 0, nv = (n * 8 + 4) / 5;
	uint32_t c, acc = 0;
	int bits = 0;

	if (hl + 1 + nv + 6 + 1 > cap)
		return KINKO_ELIMIT;
	memcpy(out, hrp, hl);
	o = hl;
	out[o++] = '1';
	c = hrp_polymod(hrp, hl);
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | data[i];
		bits += 8;
		while (bits >= 5) {
			uint32_t v = (acc >> (bits - 5)) & 31;
			bits -= 5;
			c = polymod_step(c) ^ v;
			out[o++] = charset[v];
		}
	}
	if (bits) {
		uint32_t v = (acc << (5 - bits)) & 31;
		c = polymod_step(c) ^ v;
		out[o++] = charset[v];
	}
	for (int i = 0; i < 6; i++)
		c = polymod_step(c);
	c ^= 1;
	for (int i = 0; i < 6; i++)
		out[o++] = charset[(c >> (5 * (5 - i))) & 31];
	out[o] = '\0';
	return 0;
}

int pkg_bech32_decode(const char *s, char *hrp, size_t hrp_cap, uint8_t *data, size_t cap,
		      size_t *n)
{
	size_t len = strlen(s), sep, hl, nd, o = 0;
	int lower = 0, upper = 0, bits = 0;
	uint32_t c, acc = 0;
	uint8_t vals[256];

	if (len < 8 || len > 255)
		return KINKO_EFORMAT;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 33 || ch > 126)
			return KINKO_EFORMAT;
		lower |= ch >= 'a' && ch <= 'z';
		upper |= ch >= 'A' && ch <= 'Z';
	}
	if (lower && upper)
		return KINKO_EFORMAT;
	sep = len;
	for (size_t i = len; i-- > 0;)
		if (s[i] == '1') {
			sep = i;
			break;
		}
	if (sep == len || sep == 0 || len - sep - 1 < 6)
		return KINKO_EFORMAT;
	hl = sep;
	if (hl + 1 > hrp_cap)
		return KINKO_EFORMAT;
	for (size_t i = 0; i < hl; i++) {
		char ch = s[i];
		hrp[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	hrp[hl] = '\0';
	nd = len - sep - 1;
	for (size_t i = 0; i < nd; i++) {
		char ch = s[sep + 1 + i];
		const char *p;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		p = strchr(charset, ch);
		if (!p || !ch)
			return KINKO_EFORMAT;
		vals[i] = (uint8_t)(p - charset);
	}
	c = hrp_polymod(hrp, hl);
	for (size_t i = 0; i < nd; i++)
		c = polymod_step(c) ^ vals[i];
	if (c != 1)
		return KINKO_EFORMAT;
	for (size_t i = 0; i < nd - 6; i++) {
		acc = acc << 5 | vals[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return KINKO_EFORMAT;
			data[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Padding must be under 5 bits and zero. */
	if (bits >= 5 || (acc & ((1u << bits) - 1)))
		return KINKO_EFORMAT;
	*n = o;
	return 0;
}
