/*
 * parse — strict parsers for numbers and small values from users and files.
 * They reject empty strings, signs, overflow, and trailing junk.
 */
#ifndef KINKO_CORE_PARSE_H
#define KINKO_CORE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/* Decimal digits only, value <= max. */
int parse_u64(const char *s, uint64_t max, uint64_t *out) KINKO_WUR;
/* A size with an optional K/M/G suffix (powers of 1024), value <= max. */
int parse_size(const char *s, uint64_t max, uint64_t *out) KINKO_WUR;
/* true/false/yes/no/on/off/1/0. */
int parse_bool(const char *s, bool *out) KINKO_WUR;
/* 32 lowercase hex chars -> 16 bytes etc.: exactly 2*n hex digits. */
int parse_hex(const char *s, uint8_t *out, size_t n) KINKO_WUR;
void format_hex(const uint8_t *in, size_t n, char *out /* 2n+1 */);

#endif
