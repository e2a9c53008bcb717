/*
 * objstream — chunked AEAD for object content.
 *
 * Content is cut into OBJ_CHUNK_SIZE plaintext chunks; chunk i is sealed with the
 * object key, a nonce derived from i, and associated data binding the object ID,
 * the chunk index and a final-chunk flag, so reordering, truncation, extension and
 * splicing between objects all fail to open. Each object key is used for one object
 * only, which makes counter nonces safe. Chunks are independent: any chunk can be
 * opened alone (HTTP Range) and several threads may seal or open chunks of the same
 * object at once with one context. An empty object is one empty final chunk.
 * AES-256-GCM is used where the CPU has AES-NI, XChaCha20-Poly1305 elsewhere; the
 * algorithm is recorded per object so both stay readable.
 */
#ifndef KINKO_CRYPTO_OBJSTREAM_H
#define KINKO_CRYPTO_OBJSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/keyring.h"

#define OBJ_CHUNK_SIZE 65536u
#define OBJ_TAG_LEN 16u
#define OBJ_ID_LEN 16u

enum obj_alg {
	OBJ_ALG_AES256GCM = 1,
	OBJ_ALG_XCHACHA20POLY1305 = 2,
};

enum obj_alg objstream_default_alg(void);

struct objstream; /* safe to share between threads */

/* Copies what it needs from key (the caller may free key afterwards). An unknown alg
 * -> KINKO_EFORMAT. Objects of either algorithm open on any CPU. */
int objstream_new(const struct kinko_key *key, enum obj_alg alg,
		  const uint8_t object_id[OBJ_ID_LEN], struct objstream **out,
		  struct kinko_err *e) KINKO_WUR;
void objstream_free(struct objstream *s); /* wipes; NULL is a no-op */

/* Seals n <= OBJ_CHUNK_SIZE bytes (n < OBJ_CHUNK_SIZE only when final) into out,
 * which has room for n + OBJ_TAG_LEN bytes: ciphertext || tag. Other sizes ->
 * KINKO_EINVAL. in and out may be the same buffer. */
int objstream_seal_chunk(const struct objstream *s, uint64_t index, bool final,
			 const uint8_t *in, size_t n, uint8_t *out,
			 struct kinko_err *e) KINKO_WUR;
/* Opens a sealed chunk of n bytes (OBJ_TAG_LEN <= n <= OBJ_CHUNK_SIZE + OBJ_TAG_LEN)
 * into out (room for n - OBJ_TAG_LEN). KINKO_ECRYPTO when it does not verify,
 * including a non-final chunk shorter than a full one (cut off); out is then zeroed.
 * n out of range -> KINKO_EINVAL. in and out may be the same buffer. */
int objstream_open_chunk(const struct objstream *s, uint64_t index, bool final,
			 const uint8_t *in, size_t n, uint8_t *out,
			 struct kinko_err *e) KINKO_WUR;

#endif
