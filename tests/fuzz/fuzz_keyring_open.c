/*
 * Feeds arbitrary bytes to the parsers of stored key material: the sealed master
 * key (keyring_open with a fixed key-file secret), a wrapped key
 * (kinko_key_unwrap) and a sealed small value (kinko_key_open). None may crash,
 * leak or accept something it should not; a success must give the expected key.
 *
 * The seed corpus in tests/fuzz/corpus/fuzz_keyring_open/ holds valid blobs made
 * with these fixed secrets (FUZZ_KEYFILE, FUZZ_KEK, FUZZ_CONTEXT).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "crypto/crypto.h"
#include "crypto/keyring.h"

#define FUZZ_CONTEXT "fuzz:context"

static uint8_t FUZZ_KEYFILE[KINKO_KEY_LEN];
static struct kinko_key *FUZZ_KEK;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (kinko_crypto_init() != 0 || kinko_key_new(&FUZZ_KEK) != 0)
		abort();
	for (int i = 0; i < KINKO_KEY_LEN; i++) {
		FUZZ_KEYFILE[i] = (uint8_t)i;
		FUZZ_KEK->k[i] = (uint8_t)(0x80 + i);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyring *kr = NULL;
	struct kinko_key *k = NULL;
	struct kinko_err e;
	struct kbuf out;
	int rc;

	rc = keyring_open(KEYRING_KEYFILE, FUZZ_KEYFILE, sizeof FUZZ_KEYFILE, data, size, &kr, &e);
	if (rc == 0) {
		struct kinko_key *d = NULL;
		if (keyring_derive(kr, "fuzz", &d, &e) != 0)
			abort();
		kinko_key_free(d);
		keyring_close(kr);
	} else if (rc != KINKO_EFORMAT && rc != KINKO_EAUTH) {
		abort();
	}

	rc = kinko_key_unwrap(FUZZ_KEK, FUZZ_CONTEXT, data, size, &k, &e);
	if (rc == 0)
		kinko_key_free(k);
	else if (rc != KINKO_EFORMAT && rc != KINKO_ECRYPTO)
		abort();

	kbuf_init(&out, 1 << 20);
	rc = kinko_key_open(FUZZ_KEK, FUZZ_CONTEXT, data, size, &out, &e);
	if (rc == 0 && out.len + 43 != size)
		abort();
	if (rc != 0 && rc != KINKO_EFORMAT && rc != KINKO_ECRYPTO)
		abort();
	kbuf_free(&out);
	return 0;
}
