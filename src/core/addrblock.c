/*
 * addrblock — see addrblock.h. The table is a plain array scanned under one mutex:
 * it holds only sources that failed recently (usually none or a few), and dead
 * entries are dropped on every call that changes or lists it.
 */
#include "core/addrblock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"

struct source {
	int family;     /* AF_INET or AF_INET6 */
	uint8_t key[16]; /* IPv4: 4 bytes; IPv6: the /64, the rest zero */
	unsigned failures;
	int64_t first, last, until;
};

struct addrblock {
	pthread_mutex_t mu;
	unsigned threshold;
	int64_t window, duration;
	size_t n;
	struct source s[ADDRBLOCK_MAX];
};

int addrblock_new(unsigned failures, uint64_t window, uint64_t duration, struct addrblock **out,
		  struct kinko_err *e)
{
	struct addrblock *b;

	if (failures < 1 || window < 1 || duration < 1 || window > INT32_MAX ||
	    duration > INT32_MAX)
		return kinko_err_set(e, KINKO_EINVAL, "addrblock: limits out of range");
	b = calloc(1, sizeof *b);
	if (!b)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory for the address block table");
	pthread_mutex_init(&b->mu, NULL);
	b->threshold = failures;
	b->window = (int64_t)window;
	b->duration = (int64_t)duration;
	*out = b;
	return 0;
}

void addrblock_free(struct addrblock *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static bool key_of(int family, const uint8_t a[16], struct source *k)
{
	memset(k, 0, sizeof *k);
	k->family = family;
	if (family == AF_INET)
		memcpy(k->key, a, 4);
	else if (family == AF_INET6)
		memcpy(k->key, a, 8);
	else
		return false;
	return true;
}

static bool key_of_sa(const struct sockaddr *sa, struct source *k)
{
	uint8_t a[16];

	return sa && key_of(cidr_sa_bytes(sa, a), a, k);
}

static void source_text(const struct source *s, char *out, size_t cap)
{
	char t[INET6_ADDRSTRLEN];

	if (!inet_ntop(s->family, s->key, t, sizeof t))
		snprintf(t, sizeof t, "?");
	snprintf(out, cap, "%s%s", t, s->family == AF_INET6 ? "/64" : "");
}

static void entry_of(const struct source *s, struct addrblock_entry *out)
{
	source_text(s, out->source, sizeof out->source);
	out->failures = s->failures;
	out->first = s->first;
	out->last = s->last;
	out->until = s->until;
}

/* Drops what is no longer live: ended blocks, windows run out. */
static void prune_locked(struct addrblock *b, int64_t now)
{
	for (size_t i = 0; i < b->n;) {
		const struct source *s = &b->s[i];
		bool dead = s->until ? s->until <= now : now - s->first >= b->window;
		if (dead)
			b->s[i] = b->s[--b->n];
		else
			i++;
	}
}

static struct source *find_locked(struct addrblock *b, const struct source *k)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->s[i].family == k->family && !memcmp(b->s[i].key, k->key, sizeof k->key))
			return &b->s[i];
	return NULL;
}

/* A slot for a new source: a free one, else the least recently failing source
 * that is not blocked; NULL when every slot holds a block (blocks are never
 * given up to make room: flooding the table must not lift them). */
static struct source *slot_locked(struct addrblock *b)
{
	struct source *victim = NULL;

	if (b->n < ADDRBLOCK_MAX)
		return &b->s[b->n++];
	for (size_t i = 0; i < b->n; i++) {
		struct source *s = &b->s[i];
		if (!s->until && (!victim || s->last < victim->last))
			victim = s;
	}
	return victim;
}

bool addrblock_fail(struct addrblock *b, const struct sockaddr *sa, int64_t now,
		    struct addrblock_entry *blocked)
{
	struct source k, *s;
	bool now_blocked = false;

	if (!key_of_sa(sa, &k))
		return false;
	pthread_mutex_lock(&b->mu);
	prune_locked(b, now);
	s = find_locked(b, &k);
	if (!s && (s = slot_locked(b)) != NULL) {
		*s = k;
		s->first = now;
	}
	if (s && !s->until) { /* a blocked source has nothing more to count */
		if (now - s->first >= b->window) {
			s->failures = 0;
			s->first = now;
		}
		s->failures++;
		s->last = now;
		if (s->failures >= b->threshold) {
			s->until = now + b->duration;
			now_blocked = true;
			if (blocked)
				entry_of(s, blocked);
		}
	}
	pthread_mutex_unlock(&b->mu);
	return now_blocked;
}

bool addrblock_blocked(struct addrblock *b, const struct sockaddr *sa, int64_t now,
		       int64_t *until)
{
	struct source k, *s;
	bool yes = false;

	if (!key_of_sa(sa, &k))
		return false;
	pthread_mutex_lock(&b->mu);
	s = find_locked(b, &k);
	if (s && s->until > now) {
		yes = true;
		if (until)
			*until = s->until;
	}
	pthread_mutex_unlock(&b->mu);
	return yes;
}

size_t addrblock_list(struct addrblock *b, int64_t now, struct addrblock_entry *out, size_t cap)
{
	size_t k = 0;

	pthread_mutex_lock(&b->mu);
	prune_locked(b, now);
	for (int pass = 0; pass < 2; pass++) /* blocked first */
		for (size_t i = 0; i < b->n && k < cap; i++)
			if ((b->s[i].until != 0) == (pass == 0))
				entry_of(&b->s[i], &out[k++]);
	pthread_mutex_unlock(&b->mu);
	return k;
}

/* The source `text` names (see addrblock_clear). */
static int parse_source(const char *text, struct source *k, struct kinko_err *e)
{
	char t[INET6_ADDRSTRLEN + 4];
	uint8_t a[16];
	size_t len = strlen(text);
	int family = -1;

	if (len < sizeof t) {
		memcpy(t, text, len + 1);
		if (len > 3 && !strcmp(t + len - 3, "/64"))
			t[len - 3] = '\0';
		if (inet_pton(AF_INET, t, a) == 1) {
			family = AF_INET;
		} else if (inet_pton(AF_INET6, t, a) == 1) {
			struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
			memcpy(sin6.sin6_addr.s6_addr, a, 16);
			family = cidr_sa_bytes((const struct sockaddr *)&sin6, a); /* mapped: IPv4 */
		}
	}
	if (family < 0 || !key_of(family, a, k))
		return kinko_err_set(e, KINKO_EINVAL, "\"%.64s\" is not an IP address; give it as "
				     "listed by GET /api/v1/blocks", text);
	return 0;
}

/* Finds (and with `remove`, drops) the source text names. */
static int lookup(struct addrblock *b, const char *text, int64_t now, bool remove,
		  struct addrblock_entry *entry, struct kinko_err *e)
{
	struct source k, *s;
	int rc = parse_source(text, &k, e);

	if (rc)
		return rc;
	pthread_mutex_lock(&b->mu);
	prune_locked(b, now);
	s = find_locked(b, &k);
	if (!s) {
		rc = kinko_err_set(e, KINKO_ENOENT, "%.64s is neither blocked nor counted", text);
	} else {
		if (entry)
			entry_of(s, entry);
		if (remove)
			*s = b->s[--b->n];
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int addrblock_restore(struct addrblock *b, const struct addrblock_entry *entry, int64_t now,
		      struct kinko_err *e)
{
	struct source k, *s;
	int rc = parse_source(entry->source, &k, e);

	if (rc || entry->until <= now)
		return rc;
	pthread_mutex_lock(&b->mu);
	prune_locked(b, now);
	s = find_locked(b, &k);
	if (!s && (s = slot_locked(b)) != NULL)
		*s = k;
	if (s) {
		s->failures = entry->failures;
		s->first = entry->first;
		s->last = entry->last;
		s->until = entry->until;
	} else {
		rc = kinko_err_set(e, KINKO_ELIMIT, "the table of blocked addresses is full");
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int addrblock_get(struct addrblock *b, const char *text, int64_t now,
		  struct addrblock_entry *entry, struct kinko_err *e)
{
	return lookup(b, text, now, false, entry, e);
}

int addrblock_clear(struct addrblock *b, const char *text, int64_t now,
		    struct addrblock_entry *entry, struct kinko_err *e)
{
	return lookup(b, text, now, true, entry, e);
}
