/* Numbered schema migrations: entry i takes the schema from version i to i + 1. */
#ifndef KINKO_STORE_MIGRATIONS_H
#define KINKO_STORE_MIGRATIONS_H

#include <stddef.h>

extern const char *const store_migrations[];
extern const size_t store_migrations_count;

#endif
