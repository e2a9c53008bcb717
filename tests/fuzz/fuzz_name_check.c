/* Fuzzes the file and folder name check: an accepted name must hold every promise
 * of vault_name_check's contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uninorm.h>
#include <unistr.h>

#include "vault/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kinko_err e;
	uint8_t *nfc;
	size_t nfclen = 0;

	if (vault_name_check((const char *)data, size, &e) != 0) {
		if (e.msg[0] == '\0')
			abort();
		return 0;
	}
	if (size == 0 || size > VAULT_NAME_MAX || u8_check(data, size) != NULL)
		abort();
	if ((size == 1 && data[0] == '.') || (size == 2 && data[0] == '.' && data[1] == '.'))
		abort();
	for (size_t i = 0; i < size; i++)
		if (data[i] < 0x20 || data[i] == 0x7f || data[i] == '/' || data[i] == '\\')
			abort();
	nfc = u8_normalize(UNINORM_NFC, data, size, NULL, &nfclen);
	if (!nfc)
		return 0;
	if (nfclen != size || memcmp(nfc, data, size) != 0)
		abort();
	free(nfc);
	return 0;
}
