#include "crypto/password.h"

#include <string.h>

#include "crypto/crypto.h"

size_t password_symbols_for(unsigned min_bits)
{
	size_t sym = (min_bits + 4) / 5;

	return (sym + PASSWORD_GROUP - 1) / PASSWORD_GROUP * PASSWORD_GROUP;
}

unsigned password_entropy_bits(size_t nsymbols)
{
	/* log2(32) = 5 exactly: the alphabet has 2^5 symbols. */
	return (unsigned)(nsymbols * 5);
}

int password_generate(unsigned min_bits, char *out, size_t cap)
{
	static const char alphabet[] = PASSWORD_ALPHABET;
	size_t nsym, need, o = 0;

	_Static_assert(sizeof alphabet - 1 == 32, "alphabet must have 32 symbols");
	if (min_bits < PASSWORD_MIN_BITS)
		min_bits = PASSWORD_MIN_BITS;
	nsym = password_symbols_for(min_bits);
	need = nsym + (nsym / PASSWORD_GROUP - 1) + 1;
	if (need > cap)
		return KINKO_ELIMIT;
	for (size_t i = 0; i < nsym; i++) {
		if (i && i % PASSWORD_GROUP == 0)
			out[o++] = '-';
		out[o++] = alphabet[kinko_random_uniform(32)];
	}
	out[o] = '\0';
	return 0;
}
