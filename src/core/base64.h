/*
 * base64 — RFC 4648 standard alphabet, with or without padding. Decoding is
 * strict: no whitespace, no mixed padding, non-zero trailing bits rejected (the
 * canonical-encoding rule age and signed notes rely on).
 */
#ifndef KINKO_CORE_BASE64_H
#define KINKO_CORE_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Characters needed to encode n bytes (without the NUL). */
size_t kinko_base64_len(size_t n, bool pad);
/* Writes a NUL-terminated string; cap must be > kinko_base64_len(n, pad). */
int kinko_base64_encode_opt(const uint8_t *in, size_t n, char *out, size_t cap, bool pad) KINKO_WUR;
int kinko_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap) KINKO_WUR;
/* Decodes exactly len characters; padding required iff pad. */
int kinko_base64_decode(const char *in, size_t len, bool pad, uint8_t *out, size_t cap,
			size_t *outlen) KINKO_WUR;

#endif
