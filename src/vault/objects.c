/*
 * Objects: streaming upload and download of encrypted content.
 *
 * Both directions run as pipelines so the machine's cores share the work. On
 * upload the request thread (which also runs TLS) fills plaintext batches; each
 * batch goes to two stages in their own threads: one hashes it (SHA-256) and seals
 * its chunks straight into the blob writer's buffers (seqwrite writes them from
 * two more threads and makes them durable as it goes), the other counts records,
 * looks for My Numbers and streams the plaintext to clamd. When clamd takes the
 * upload as a memory-only file (FILDES, the default), the scanning stage only
 * fills that file, and the sealing stage waits for the end of the body and reads
 * it back from there, counting and sealing while clamd scans (see
 * seal_from_spool). On download
 * a worker reads and opens batches ahead of the request thread. A ring of NSLOTS
 * plaintext batches (plus the blob writer's buffers on upload) bounds the buffers
 * per transfer, whatever its size; a scanned upload's plaintext is also in
 * clamd's memory-only file until the verdict (bounded by [scan] memory_max).
 *
 * Blob file: a 64-byte header ("KINKOOB1", version, algorithm, chunk size, object
 * ID), then every chunk sealed by objstream (ciphertext || tag), all full-size but
 * the last. See docs/formats.md.
 */
#include "vault/vault_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/parse.h"
#include "core/seqwrite.h"
#include "core/tmpfile.h"
#include "core/stream.h"
#include "crypto/crypto.h"
#include "crypto/hash.h"
#include "crypto/objstream.h"
#include "scan/clamd.h"
#include "scan/records.h"

#define BATCH_CHUNKS 8u
#define BATCH_BYTES (BATCH_CHUNKS * OBJ_CHUNK_SIZE)
#define SEALED_CHUNK (OBJ_CHUNK_SIZE + OBJ_TAG_LEN)
#define NSLOTS 4u
#define BLOB_HEADER 64u
#define BLOB_MAGIC "KINKOOB1"
/* The blob writer's buffers: four sealed batches each, written as one. */
#define BLOB_WRITE_BUF (4u * BATCH_CHUNKS * SEALED_CHUNK + SEQWRITE_ALIGN)

struct slot {
	uint8_t *plain;  /* BATCH_BYTES */
	uint8_t *sealed; /* BATCH_CHUNKS * SEALED_CHUNK */
	size_t len;      /* plaintext bytes */
	uint64_t first;  /* index of the batch's first chunk */
	bool last;
};

/* A ring of slots passed between two threads. `filled` counts slots handed from
 * the producer to the consumer and not yet given back. */
struct ring {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot slot[NSLOTS];
	unsigned put, take, filled;
	bool stop;
	int err;
	struct kinko_err emsg;
	pthread_t th;
	bool running;
	bool freed;
};

/* sealed: give every slot a buffer for sealed chunks too (downloads read into it;
 * uploads seal straight into the blob writer's buffers). */
static int ring_init(struct ring *r, bool sealed)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	for (unsigned i = 0; i < NSLOTS; i++) {
		r->slot[i].plain = malloc(BATCH_BYTES);
		r->slot[i].sealed = sealed ? malloc(BATCH_CHUNKS * SEALED_CHUNK) : NULL;
		if (!r->slot[i].plain || (sealed && !r->slot[i].sealed))
			return KINKO_ENOMEM;
	}
	return 0;
}

static void ring_free(struct ring *r)
{
	if (r->freed)
		return;
	for (unsigned i = 0; i < NSLOTS; i++) {
		if (r->slot[i].plain) {
			kinko_wipe(r->slot[i].plain, BATCH_BYTES);
			free(r->slot[i].plain);
		}
		free(r->slot[i].sealed);
		r->slot[i].plain = r->slot[i].sealed = NULL;
	}
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	r->freed = true;
}

static void ring_fail(struct ring *r, int rc, const struct kinko_err *e)
{
	pthread_mutex_lock(&r->mu);
	if (!r->err) {
		r->err = rc;
		if (e)
			r->emsg = *e;
		else
			kinko_err_set(&r->emsg, rc, "%s", kinko_strerror(rc));
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void uuid_bytes(const char *id, uint8_t out[OBJ_ID_LEN])
{
	char hex[33];
	size_t j = 0;

	for (size_t i = 0; id[i] && j < 32; i++)
		if (id[i] != '-')
			hex[j++] = id[i];
	hex[j] = '\0';
	if (parse_hex(hex, out, OBJ_ID_LEN))
		memset(out, 0, OBJ_ID_LEN);
}

static void blob_header(uint8_t h[BLOB_HEADER], int alg, const uint8_t id[OBJ_ID_LEN])
{
	memset(h, 0, BLOB_HEADER);
	memcpy(h, BLOB_MAGIC, 8);
	h[8] = 1; /* version */
	h[9] = (uint8_t)alg;
	h[12] = (uint8_t)(OBJ_CHUNK_SIZE >> 24);
	h[13] = (uint8_t)(OBJ_CHUNK_SIZE >> 16);
	h[14] = (uint8_t)(OBJ_CHUNK_SIZE >> 8);
	h[15] = (uint8_t)OBJ_CHUNK_SIZE;
	memcpy(h + 16, id, OBJ_ID_LEN);
}

static uint64_t chunk_count(uint64_t size)
{
	return size == 0 ? 1 : (size + OBJ_CHUNK_SIZE - 1) / OBJ_CHUNK_SIZE;
}

static uint64_t blob_size(uint64_t size)
{
	return BLOB_HEADER + size + chunk_count(size) * OBJ_TAG_LEN;
}

/* The key that makes a name's lookup tag: derived from the folder key, never the
 * folder key itself. */
static int name_mac(const struct kinko_key *folder_key, const char *name, uint8_t out[32])
{
	uint8_t mk[32];
	int rc = kinko_hmac_sha256(folder_key->k, KINKO_KEY_LEN, "kinko-name-mac-v1", 17, mk);

	if (rc == 0)
		rc = kinko_hmac_sha256(mk, sizeof mk, name, strlen(name), out);
	kinko_wipe(mk, sizeof mk);
	return rc;
}

/* Tells the edge which contract and IDs a request touched, for its audit event. */
static void note_ids(const struct vault_actor *a, const char *contract, const char *t1,
		     const char *t2)
{
	struct vault_audit_note *n = a ? a->note : NULL;

	if (!n)
		return;
	snprintf(n->contract, sizeof n->contract, "%s", contract);
	n->ntargets = 0;
	if (t1)
		snprintf(n->targets[n->ntargets++], sizeof n->targets[0], "%s", t1);
	if (t2)
		snprintf(n->targets[n->ntargets++], sizeof n->targets[0], "%s", t2);
}

/* ---------------------------------------------------------------- upload */

/* The two stages every uploaded batch goes through, each in its own thread. */
enum { STAGE_SEAL, STAGE_SCAN, NSTAGES };

struct vault_upload;
struct stage_arg {
	struct vault_upload *u;
	int stage;
};

struct vault_upload {
	struct vault *v;
	struct vault_actor actor;
	struct store_object obj;
	struct objstream *os;
	struct kinko_sha256 sha;
	char tmp_path[4096];
	int fd;
	struct seqwrite *sw; /* writes the blob, leaving little in the page cache */
	uint64_t total;
	uint64_t max;
	struct ring ring;
	struct slot *cur; /* slot being filled by the request thread */
	uint64_t produced;         /* slots filled (under ring.mu) */
	uint64_t done[NSTAGES];    /* slots each stage finished (under ring.mu) */
	pthread_t th[NSTAGES];
	struct stage_arg stage[NSTAGES];
	unsigned nthreads;
	uint64_t next_chunk;
	char name[VAULT_NAME_MAX + 1];
	/* The scanning pass, fed the same plaintext as it is sealed (read once). */
	struct clamd_scan *scan;
	/* With a FILDES scan the plaintext is already in clamd's memory-only file:
	 * the sealing stage reads it back from there (spool >= 0) instead of from the
	 * slots, so it may fall behind the body and catch up while clamd scans. */
	int spool;
	uint8_t *spool_buf;  /* BATCH_BYTES, the sealing stage's */
	uint64_t spooled;    /* bytes of the body in the spool (under ring.mu) */
	bool spool_done;     /* the whole body is in it (under ring.mu) */
	/* The scanning stage ends clamd's stream as soon as it has the last batch. */
	bool scan_ended;
	int end_rc;
	struct kinko_err end_e;
	struct records_scan *rec;
	bool specific_personal;
	char contract_id[STORE_ID_LEN];
	uint64_t written; /* bytes of the blob written so far (after the header) */
	bool prepared;
	bool committed;
	char final_path[4096];
};

/* The sealing stage: each chunk of the batch is hashed (SHA-256 of the
 * plaintext) and sealed straight into the blob writer's buffer. */
static int seal_batch(struct vault_upload *u, struct slot *s, struct kinko_err *e)
{
	size_t nchunks = s->len == 0 ? 1 : (s->len + OBJ_CHUNK_SIZE - 1) / OBJ_CHUNK_SIZE;
	size_t out = 0;
	uint8_t *sealed = seqwrite_reserve(u->sw, nchunks * SEALED_CHUNK, e);

	if (!sealed)
		return KINKO_EIO;
	for (size_t i = 0; i < nchunks; i++) {
		size_t off = i * OBJ_CHUNK_SIZE;
		size_t n = s->len - off < OBJ_CHUNK_SIZE ? s->len - off : OBJ_CHUNK_SIZE;
		bool final = s->last && i == nchunks - 1;
		int rc;

		/* Hash and seal a chunk at a time: the second pass finds it in cache. */
		kinko_sha256_update(&u->sha, s->plain + off, n);
		rc = objstream_seal_chunk(u->os, s->first + i, final, s->plain + off, n,
					  sealed + out, e);
		if (rc)
			return rc;
		out += n + OBJ_TAG_LEN;
	}
	seqwrite_advance(u->sw, out);
	u->written += out;
	return 0;
}

/* The scanning stage: the record count and My Number search, and the stream to
 * clamd. */
static int scan_batch(struct vault_upload *u, struct slot *s, struct kinko_err *e)
{
	if (u->spool < 0) /* else counted from the spool, after the body */
		records_feed(u->rec, s->plain, s->len);
	if (u->scan && s->len) {
		int rc = clamd_scan_feed(u->scan, s->plain, s->len, e);
		if (rc)
			return rc == KINKO_ELIMIT ? KINKO_ELIMIT : KINKO_EUNAVAIL;
	}
	/* clamd scans only once the stream has ended: end it now, so that clamd
	 * scans while the rest of the upload (sealing, the flush) is done. How it went
	 * is kept for the verdict. */
	if (u->scan && s->last) {
		u->end_rc = clamd_scan_end(u->scan, &u->end_e);
		u->scan_ended = true;
		if (u->end_rc) { /* no verdict can come: stop the sealing too */
			if (e)
				*e = u->end_e;
			return u->end_rc == KINKO_ELIMIT ? KINKO_ELIMIT : KINKO_EUNAVAIL;
		}
	}
	return 0;
}

/* The sealing stage with a spool: it waits for the whole body to be in clamd's
 * memory-only file, then reads it back batch by batch, counts records and seals
 * (the same chunks as when sealing from the slots; the last carries the final
 * flag). clamd can only start once the body is complete, so while the body
 * arrives the cores go only to receiving it and filling the spool; counting and
 * sealing then run while clamd scans, on the core clamd leaves (they finish within
 * clamd's scan here), and the verdict comes that much sooner.
 * At most 2 GiB wait in the spool: clamd's limit. */
static void seal_from_spool(struct vault_upload *u)
{
	struct ring *r = &u->ring;
	uint64_t off = 0, chunk = 0, total;
	int stop;

	pthread_mutex_lock(&r->mu);
	while (!r->err && !r->stop && !u->spool_done)
		pthread_cond_wait(&r->cv, &r->mu);
	total = u->spooled;
	stop = r->err || r->stop;
	pthread_mutex_unlock(&r->mu);
	if (stop)
		return;
	for (;;) {
		struct slot s = {.plain = u->spool_buf};
		struct kinko_err e;
		uint64_t avail = total - off;
		size_t got = 0;
		int rc;

		s.last = avail <= BATCH_BYTES;
		s.len = avail < BATCH_BYTES ? (size_t)avail : BATCH_BYTES;
		s.first = chunk;
		while (got < s.len) {
			ssize_t n = pread(u->spool, u->spool_buf + got, s.len - got, (off_t)(off + got));
			if (n <= 0 && !(n < 0 && errno == EINTR)) {
				kinko_err_set(&e, KINKO_EIO, "reading the upload back for sealing failed: %s",
					      n < 0 ? strerror(errno) : "short read");
				ring_fail(r, KINKO_EIO, &e);
				return;
			}
			if (n > 0)
				got += (size_t)n;
		}
		records_feed(u->rec, s.plain, s.len);
		rc = seal_batch(u, &s, &e);
		if (rc) {
			ring_fail(r, rc, &e);
			return;
		}
		pthread_mutex_lock(&r->mu);
		stop = r->err || r->stop; /* the upload was abandoned: stop early */
		pthread_mutex_unlock(&r->mu);
		if (stop)
			return;
		off += s.len;
		chunk += s.len / OBJ_CHUNK_SIZE;
		if (s.last)
			return;
	}
}

/* Each filled slot goes to both stages; a slot is free again once both are done
 * with it. The counters only grow: the producer has filled `produced` slots, stage
 * i has finished `done[i]`; slot k lives at k % NSLOTS. */
static void *upload_stage(void *arg)
{
	struct stage_arg *sa = arg;
	struct vault_upload *u = sa->u;
	struct ring *r = &u->ring;
	uint64_t *done = &u->done[sa->stage];

	if (sa->stage == STAGE_SEAL && u->spool >= 0) {
		seal_from_spool(u);
		return NULL;
	}
	for (;;) {
		struct slot *s;
		struct kinko_err e;
		bool last;
		int rc;

		pthread_mutex_lock(&r->mu);
		while (*done == u->produced && !r->stop && !r->err)
			pthread_cond_wait(&r->cv, &r->mu);
		if (*done == u->produced || r->err) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		s = &r->slot[*done % NSLOTS];
		pthread_mutex_unlock(&r->mu);

		rc = sa->stage == STAGE_SEAL ? seal_batch(u, s, &e) : scan_batch(u, s, &e);
		last = s->last;
		if (rc) {
			ring_fail(r, rc, &e);
			return NULL;
		}
		pthread_mutex_lock(&r->mu);
		(*done)++;
		if (sa->stage == STAGE_SCAN) {
			u->spooled += s->len;
			u->spool_done = last;
		}
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (last)
			return NULL;
	}
}

/* Slots the producer may not fill yet: those a stage has not finished (a sealing
 * stage that reads the spool takes nothing from the slots). */
static uint64_t upload_in_use(const struct vault_upload *u)
{
	uint64_t low = u->done[STAGE_SCAN];

	if (u->spool < 0 && u->done[STAGE_SEAL] < low)
		low = u->done[STAGE_SEAL];
	return u->produced - low;
}

/* Hands the current slot to the stages and takes a free one. */
static int upload_submit(struct vault_upload *u, bool last, struct kinko_err *e)
{
	struct ring *r = &u->ring;
	struct slot *s = u->cur;
	int rc = 0;

	s->last = last;
	s->first = u->next_chunk;
	u->next_chunk += s->len / OBJ_CHUNK_SIZE;
	pthread_mutex_lock(&r->mu);
	u->produced++;
	pthread_cond_broadcast(&r->cv);
	while (!last && upload_in_use(u) == NSLOTS && !r->err)
		pthread_cond_wait(&r->cv, &r->mu);
	if (r->err) {
		rc = r->err;
		if (e)
			*e = r->emsg;
	} else if (!last) {
		u->cur = &r->slot[u->produced % NSLOTS];
		u->cur->len = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Stops (when told to) and joins the stage threads. */
static void upload_join(struct vault_upload *u, bool stop)
{
	if (!u->nthreads)
		return;
	if (stop) {
		pthread_mutex_lock(&u->ring.mu);
		u->ring.stop = true;
		if (!u->ring.err)
			u->ring.err = KINKO_EIO; /* makes the stages quit without writing */
		pthread_cond_broadcast(&u->ring.cv);
		pthread_mutex_unlock(&u->ring.mu);
	}
	for (unsigned i = 0; i < u->nthreads; i++)
		pthread_join(u->th[i], NULL);
	u->nthreads = 0;
}

static void spool_buf_free(struct vault_upload *u)
{
	if (u->spool_buf) {
		kinko_wipe(u->spool_buf, BATCH_BYTES);
		free(u->spool_buf);
		u->spool_buf = NULL;
	}
}

static void upload_free(struct vault_upload *u)
{
	upload_join(u, true);
	seqwrite_free(u->sw);
	if (u->fd >= 0) {
		close(u->fd);
		unlink(u->tmp_path);
	}
	/* Prepared but never committed (an import that failed later): no row will
	 * ever reference the blob. */
	if (u->prepared && !u->committed && u->final_path[0])
		unlink(u->final_path);
	kinko_sha256_abort(&u->sha);
	objstream_free(u->os);
	clamd_scan_abort(u->scan);
	spool_buf_free(u);
	records_free(u->rec);
	ring_free(&u->ring);
	store_object_clear(&u->obj);
	vault_leave(u->v);
	kinko_wipe(u->name, sizeof u->name);
	free(u);
}

/* Loads a folder the actor may write to (in the caller's transaction); f is
 * cleared on failure. A folder the actor can see is named in the request's audit
 * event, refused or not (as a listing does). */
static int folder_for_write(struct vault *v, const struct vault_actor *a, const char *id,
			    struct store_folder *f, struct kinko_err *e)
{
	enum store_role member;
	unsigned perms = 0;
	int rc = vault_folder_visible(v, a, id, f, &perms, &member, e);

	if (rc == 0)
		note_ids(a, f->contract_id, f->id, NULL);
	if (rc == 0 && !(perms & PERM_WRITE)) {
		store_folder_clear(f);
		rc = kinko_err_set(e, KINKO_EPERM, "you may not write to this folder; ask its manager");
	}
	return rc;
}

int vault_folder_writable(struct vault *v, const struct vault_actor *a, const char *folder_id,
			  struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	int rc;

	rc = vault_enter(v, e);
	if (rc)
		return rc;
	rc = s->ops->begin_read(s, e);
	if (rc == 0) {
		rc = folder_for_write(v, a, folder_id, &f, e);
		if (rc == 0)
			store_folder_clear(&f);
		s->ops->rollback(s);
	}
	vault_leave(v);
	return rc;
}

int vault_upload_begin(struct vault *v, const struct vault_actor *a, const char *folder_id,
		       const char *name, struct vault_upload **out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	struct store_object existing;
	struct kinko_key *fk = NULL, *ok = NULL;
	struct vault_upload *u;
	uint8_t oid[OBJ_ID_LEN];
	char ctx[64];
	int rc;

	rc = vault_name_check(name, name ? strlen(name) : 0, e);
	if (rc)
		return rc;
	if (!store_id_valid(folder_id))
		return kinko_err_set(e, KINKO_ENOENT, "no such folder");
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	u = calloc(1, sizeof *u);
	if (!u) {
		vault_leave(v);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	}
	u->v = v;
	u->actor = *a;
	u->fd = -1;
	u->spool = -1;
	u->max = v->cfg.max_body_bytes;
	snprintf(u->name, sizeof u->name, "%s", name);
	kbuf_init(&u->obj.name_sealed, 4096);
	kbuf_init(&u->obj.key_wrapped, 4096);
	if (ring_init(&u->ring, false)) {
		upload_free(u);
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory for the upload buffers");
	}
	u->cur = &u->ring.slot[0];

	rc = s->ops->begin(s, e);
	if (rc)
		goto fail;
	rc = folder_for_write(v, a, folder_id, &f, e);
	if (rc == 0) {
		rc = vault_folder_key(v, &f, &fk, e);
		u->specific_personal = f.specific_personal;
		memcpy(u->contract_id, f.contract_id, sizeof u->contract_id);
		store_folder_clear(&f);
	}
	if (rc == 0 && name_mac(fk, name, u->obj.name_mac))
		rc = kinko_err_set(e, KINKO_ECRYPTO, "cannot compute the name tag");
	if (rc == 0) {
		rc = s->ops->object_find(s, folder_id, u->obj.name_mac, &existing, NULL);
		if (rc == 0) {
			store_object_clear(&existing);
			rc = kinko_err_set(e, KINKO_EEXIST,
					   "an object with this name already exists in the folder; "
					   "delete it first or choose another name");
		} else if (rc == KINKO_ENOENT) {
			rc = 0;
		}
	}
	s->ops->rollback(s);
	if (rc)
		goto fail;

	store_new_id(u->obj.id);
	snprintf(u->obj.folder_id, sizeof u->obj.folder_id, "%s", folder_id);
	memcpy(u->obj.created_by, a->user_id, sizeof u->obj.created_by);
	u->obj.alg = objstream_default_alg();
	uuid_bytes(u->obj.id, oid);
	rc = kinko_key_new(&ok);
	if (rc) {
		rc = kinko_err_set(e, rc, "cannot allocate a key");
		goto fail;
	}
	snprintf(ctx, sizeof ctx, "object:%s", u->obj.id);
	rc = kinko_key_wrap(fk, ctx, ok, &u->obj.key_wrapped, e);
	snprintf(ctx, sizeof ctx, "object-name:%s", u->obj.id);
	if (rc == 0)
		rc = kinko_key_seal(fk, ctx, (const uint8_t *)name, strlen(name), &u->obj.name_sealed,
				    e);
	if (rc == 0)
		rc = objstream_new(ok, (enum obj_alg)u->obj.alg, oid, &u->os, e);
	if (rc == 0 && kinko_sha256_init(&u->sha))
		rc = kinko_err_set(e, KINKO_ENOMEM, "cannot start SHA-256");
	if (rc == 0) {
		struct records_opts ro = {0};
		rc = records_new(&ro, &u->rec, e);
	}
	/* No scanner, no upload (fail closed), decided before any byte is taken. */
	if (rc == 0)
		rc = vault_scan_open(v, &u->scan, e);
	if (rc)
		goto fail;
	u->spool = clamd_scan_file(u->scan);
	if (u->spool >= 0 && !(u->spool_buf = malloc(BATCH_BYTES))) {
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory for the upload buffers");
		goto fail;
	}
	if (vault_blob_path(v, u->obj.id, true, u->tmp_path, sizeof u->tmp_path)) {
		rc = kinko_err_set(e, KINKO_EINVAL, "path too long");
		goto fail;
	}
	u->fd = open(u->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (u->fd < 0) {
		rc = kinko_err_set(e, KINKO_EIO, "cannot create a blob file: %s", strerror(errno));
		goto fail;
	}
	rc = seqwrite_open(u->fd, BLOB_WRITE_BUF, &u->sw, e);
	if (rc)
		goto fail;
	{
		uint8_t *p = seqwrite_reserve(u->sw, BLOB_HEADER, e);
		if (!p) {
			rc = KINKO_EIO;
			goto fail;
		}
		blob_header(p, u->obj.alg, oid);
		seqwrite_advance(u->sw, BLOB_HEADER);
	}
	u->written = BLOB_HEADER;
	for (int i = 0; i < NSTAGES; i++) {
		u->stage[i] = (struct stage_arg){u, i};
		if (pthread_create(&u->th[i], NULL, upload_stage, &u->stage[i]) != 0) {
			rc = kinko_err_set(e, KINKO_ENOMEM, "cannot start the upload threads");
			goto fail;
		}
		u->nthreads++;
	}
	kinko_key_free(fk);
	kinko_key_free(ok);
	*out = u;
	return 0;
fail:
	kinko_key_free(fk);
	kinko_key_free(ok);
	upload_free(u);
	return rc;
}

/* A seal is waiting: the transfer stops here, so that it cannot hold the seal off. */
static int sealing(struct vault *v, struct kinko_err *e)
{
	return atomic_load(&v->sealing)
		       ? kinko_err_set(e, KINKO_ESEALED,
				       "the vault is being sealed; the transfer was stopped")
		       : 0;
}

int vault_upload_write(struct vault_upload *u, const uint8_t *p, size_t n, struct kinko_err *e)
{
	if (sealing(u->v, e))
		return KINKO_ESEALED;
	if (n > u->max - u->total)
		return kinko_err_set(e, KINKO_ELIMIT,
				     "the upload is larger than max_body_bytes (%llu bytes)",
				     (unsigned long long)u->max);
	u->total += n;
	while (n > 0) {
		size_t room;
		if (u->cur->len == BATCH_BYTES) {
			/* Only hand a full batch over once more data follows it: the last
			 * chunk of an object must carry the final flag. */
			int rc = upload_submit(u, false, e);
			if (rc)
				return rc;
		}
		room = BATCH_BYTES - u->cur->len;
		if (room > n)
			room = n;
		memcpy(u->cur->plain + u->cur->len, p, room);
		u->cur->len += room;
		p += room;
		n -= room;
	}
	return 0;
}

/* Ends the scan and the record count. Refuses infected files, files clamd could not
 * scan, and My Numbers in a folder not marked for them; each refusal is audited.
 * end_rc/end_e: how ending the clamd stream went (done earlier, so clamd scans
 * while the blob is flushed). */
static int upload_verdict(struct vault_upload *u, int end_rc, const struct kinko_err *end_e,
			  struct kinko_err *e)
{
	struct records_result rr;
	struct clamd_verdict cv;
	struct kinko_err ae;
	int rc = 0;

	memset(&cv, 0, sizeof cv);
	if (records_finish(u->rec, &rr, e))
		return KINKO_EIO;
	if (u->scan) {
		rc = end_rc;
		if (rc && e)
			*e = *end_e;
		if (rc == 0)
			rc = clamd_scan_finish(u->scan, &cv, e);
		else
			clamd_scan_abort(u->scan);
		u->scan = NULL;
		if (rc == 0 && cv.result == CLAMD_INFECTED) {
			if (vault_audit_standalone(u->v, &u->actor, "object.put", 422, &ae))
				return kinko_err_set(e, KINKO_EUNAVAIL,
						     "the file is infected and the audit log cannot be "
						     "written: %.200s",
						     ae.msg);
			return kinko_err_set(e, KINKO_EINFECTED,
					     "the file is infected (%.100s); it was not stored",
					     cv.signature);
		}
		if (rc || cv.result != CLAMD_CLEAN)
			return kinko_err_set(e, rc == KINKO_ELIMIT ? KINKO_ELIMIT : KINKO_EUNAVAIL,
					     "the virus scanner could not scan the whole file, so it "
					     "was not stored: %.300s",
					     rc ? e->msg : "no verdict");
		{
			struct vault_scanner st;
			vault_scanner_status(u->v, &st);
			snprintf(u->obj.scan_signatures, sizeof u->obj.scan_signatures, "%s/%u",
				 st.engine, st.sig_version);
		}
	}
	if (rr.mynumber_count > 0 && !u->specific_personal) {
		if (vault_audit_standalone(u->v, &u->actor, "object.put", 403, &ae))
			return kinko_err_set(e, KINKO_EUNAVAIL, "the audit log cannot be written");
		return kinko_err_set(e, KINKO_EPERM,
				     "the file holds %llu My Number(s) (個人番号, confidence %s), but "
				     "this folder is not marked for 特定個人情報; ask the contract's "
				     "manager to mark it, or remove the numbers",
				     (unsigned long long)rr.mynumber_count,
				     records_confidence_name(rr.mynumber_confidence));
	}
	u->obj.records = rr.records;
	snprintf(u->obj.encoding, sizeof u->obj.encoding, "%s", records_encoding_name(rr.encoding));
	u->obj.mynumber_count = rr.mynumber_count;
	u->obj.mynumber_confidence = (int)rr.mynumber_confidence;
	return 0;
}

/* Ends the stream: seals the rest, takes the scanner's verdict, and moves the
 * durable blob into place. The object is not visible until it is committed. */
int vault_upload_prepare(struct vault_upload *u, struct kinko_err *e)
{
	struct vault *v = u->v;
	struct kinko_err end_e = {0};
	char dir[4096];
	int rc, end_rc;

	if (u->prepared)
		return 0;
	rc = upload_submit(u, true, e);
	if (rc == 0) {
		upload_join(u, false);
		if (u->ring.err) {
			rc = u->ring.err;
			if (e)
				*e = u->ring.emsg;
		}
	}
	if (rc)
		return rc;
	/* The scanning stage ended clamd's stream with the last batch, so clamd has
	 * been scanning while the sealing finished, and scans on while the blob is
	 * made durable. */
	end_rc = 0;
	if (u->scan && u->scan_ended) {
		end_rc = u->end_rc;
		end_e = u->end_e;
	} else if (u->scan) {
		end_rc = clamd_scan_end(u->scan, &end_e);
	}
	/* The blob is durable before the row that references it commits. */
	rc = seqwrite_finish(u->sw, e);
	if (rc)
		return rc;
	seqwrite_free(u->sw);
	u->sw = NULL;
	/* The verdict before anything becomes visible. */
	rc = upload_verdict(u, end_rc, &end_e, e);
	if (rc)
		return rc;
	close(u->fd);
	u->fd = -1;
	kinko_sha256_final(&u->sha, u->obj.sha256);
	u->obj.size = u->total;
	u->obj.created_at = vault_now();
	if (vault_blob_path(v, u->obj.id, false, u->final_path, sizeof u->final_path) ||
	    vault_path(v, dir, sizeof dir, "blobs/%.2s", u->obj.id)) {
		unlink(u->tmp_path);
		return kinko_err_set(e, KINKO_EINVAL, "path too long");
	}
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || rename(u->tmp_path, u->final_path) != 0 ||
	    kinko_fsync_parent(u->final_path) != 0 || kinko_fsync_parent(u->tmp_path) != 0) {
		rc = kinko_err_set(e, KINKO_EIO, "cannot move the blob into place: %s",
				   strerror(errno));
		unlink(u->tmp_path);
		unlink(u->final_path);
		u->final_path[0] = '\0';
		return rc;
	}
	u->prepared = true;
	/* Only the row is left: give the buffers back now (an import holds many). */
	ring_free(&u->ring);
	spool_buf_free(u);
	return 0;
}

static void upload_info(const struct vault_upload *u, struct vault_object_info *out)
{
	memset(out, 0, sizeof *out);
	memcpy(out->id, u->obj.id, sizeof out->id);
	memcpy(out->folder_id, u->obj.folder_id, sizeof out->folder_id);
	snprintf(out->name, sizeof out->name, "%s", u->name);
	out->size = u->obj.size;
	memcpy(out->sha256, u->obj.sha256, 32);
	out->created_at = u->obj.created_at;
	out->seq = u->obj.seq;
	out->records = u->obj.records;
	memcpy(out->encoding, u->obj.encoding, sizeof out->encoding);
	out->mynumber_count = u->obj.mynumber_count;
	out->mynumber_confidence = u->obj.mynumber_confidence;
	memcpy(out->scan_signatures, u->obj.scan_signatures, sizeof out->scan_signatures);
}

int vault_upload_commit(struct vault_upload **ups, size_t n, const char *action,
			const char *extra_target, struct vault_object_info *out,
			struct kinko_err *e)
{
	struct vault *v;
	struct store *s;
	struct store_folder f = {0};
	enum store_role member;
	unsigned perms = 0;
	uint64_t bytes = 0;
	int rc = 0;

	if (n == 0)
		return kinko_err_set(e, KINKO_EINVAL, "nothing to store");
	v = ups[0]->v;
	s = v->store;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = vault_upload_prepare(ups[i], e);
		bytes += ups[i]->obj.size;
	}
	if (rc == 0)
		rc = s->ops->begin(s, e);
	if (rc == 0) {
		/* The session, the account and the rights may have changed while the
		 * content streamed: decide again. */
		rc = vault_actor_current(v, &ups[0]->actor, e);
		if (rc == 0)
			rc = s->ops->folder_get(s, ups[0]->obj.folder_id, &f, e);
		if (rc == 0)
			rc = vault_folder_access(v, &ups[0]->actor, &f, &perms, &member, e);
		if (rc == 0 && !(perms & PERM_WRITE))
			rc = kinko_err_set(e, KINKO_EPERM, "your write access was withdrawn");
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (strcmp(ups[i]->obj.folder_id, ups[0]->obj.folder_id))
				rc = kinko_err_set(e, KINKO_EINVAL, "one folder per commit");
			else
				rc = s->ops->object_insert(s, &ups[i]->obj, e);
		}
		/* One event for the whole act: a single upload names the object, an
		 * import the folder and the package's digest. */
		if (rc == 0)
			rc = n == 1 && !extra_target
				     ? vault_audit(v, &ups[0]->actor, action, f.contract_id,
						   ups[0]->obj.id, ups[0]->obj.folder_id, bytes, 201, e)
				     : vault_audit(v, &ups[0]->actor, action, f.contract_id,
						   ups[0]->obj.folder_id, extra_target, bytes, 201, e);
		store_folder_clear(&f);
		if (rc == 0)
			rc = s->ops->commit(s, e);
		else
			s->ops->rollback(s);
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && out)
			upload_info(ups[i], &out[i]);
		/* Committed but not durable: the row refers to the blob, which stays. */
		ups[i]->committed = rc == 0 || rc == KINKO_ENOTDURABLE;
		upload_free(ups[i]);
		ups[i] = NULL;
	}
	return rc;
}

int vault_upload_finish(struct vault_upload *u, struct vault_object_info *out,
			struct kinko_err *e)
{
	return vault_upload_commit(&u, 1, "object.put", NULL, out, e);
}

void vault_upload_abort(struct vault_upload *u)
{
	if (u)
		upload_free(u);
}

/* ---------------------------------------------------------------- download */

struct vault_download {
	struct vault *v;
	struct objstream *os;
	int fd;
	uint64_t size;
	uint64_t nchunks;
	struct ring ring;
	uint64_t next_batch_chunk; /* worker: first chunk of the next batch to produce */
	uint64_t pos;              /* reader: plaintext offset the ring is positioned at */
	size_t slot_off;           /* reader: bytes consumed from the current slot */
};

static int open_batch(struct vault_download *d, struct slot *s, struct kinko_err *e)
{
	uint64_t first = s->first;
	uint64_t n = d->nchunks - first < BATCH_CHUNKS ? d->nchunks - first : BATCH_CHUNKS;
	uint64_t plain_end = (first + n) * OBJ_CHUNK_SIZE;
	size_t plain_len, sealed_len;
	ssize_t got;

	if (plain_end > d->size)
		plain_end = d->size;
	plain_len = (size_t)(plain_end - first * OBJ_CHUNK_SIZE);
	sealed_len = plain_len + (size_t)n * OBJ_TAG_LEN;
	got = pread(d->fd, s->sealed, sealed_len,
		    (off_t)(BLOB_HEADER + first * SEALED_CHUNK));
	if (got < 0 || (size_t)got != sealed_len)
		return kinko_err_set(e, KINKO_EINTEGRITY,
				     "the object's blob file is short or unreadable");
	for (uint64_t i = 0, in = 0, out = 0; i < n; i++) {
		size_t cl = plain_len - out < OBJ_CHUNK_SIZE ? plain_len - out : OBJ_CHUNK_SIZE;
		int rc = objstream_open_chunk(d->os, first + i, first + i == d->nchunks - 1,
					      s->sealed + in, cl + OBJ_TAG_LEN, s->plain + out, e);
		if (rc)
			return kinko_err_set(e, KINKO_EINTEGRITY,
					     "chunk %llu of the object failed authentication: the "
					     "stored data was altered",
					     (unsigned long long)(first + i));
		in += cl + OBJ_TAG_LEN;
		out += cl;
	}
	s->len = plain_len;
	s->last = first + n >= d->nchunks;
	return 0;
}

static void *download_worker(void *arg)
{
	struct vault_download *d = arg;
	struct ring *r = &d->ring;

	for (;;) {
		struct slot *s;
		struct kinko_err e;
		int rc;

		pthread_mutex_lock(&r->mu);
		while (r->filled == NSLOTS && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		s = &r->slot[r->put];
		pthread_mutex_unlock(&r->mu);

		s->first = d->next_batch_chunk;
		rc = open_batch(d, s, &e);
		if (rc) {
			ring_fail(r, rc, &e);
			return NULL;
		}
		d->next_batch_chunk += BATCH_CHUNKS;
		pthread_mutex_lock(&r->mu);
		r->put = (r->put + 1) % NSLOTS;
		r->filled++;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (s->last)
			return NULL;
	}
}

static void download_stop(struct vault_download *d)
{
	struct ring *r = &d->ring;

	if (!r->running)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	r->running = false;
}

static int download_start(struct vault_download *d, uint64_t offset, struct kinko_err *e)
{
	struct ring *r = &d->ring;
	uint64_t chunk = offset / OBJ_CHUNK_SIZE;

	download_stop(d);
	r->put = r->take = r->filled = 0;
	r->stop = false;
	r->err = 0;
	/* Batches start on a batch boundary relative to the first chunk asked for. */
	d->next_batch_chunk = chunk;
	d->pos = offset;
	d->slot_off = (size_t)(offset - chunk * OBJ_CHUNK_SIZE);
	if (pthread_create(&r->th, NULL, download_worker, d) != 0)
		return kinko_err_set(e, KINKO_ENOMEM, "cannot start the download worker");
	r->running = true;
	return 0;
}

/* Opens o's blob read-only and checks what needs no key: the file is there, exactly
 * as long as o's size makes it, and its header names o. */
static int blob_open_checked(struct vault *v, const struct store_object *o, int *out,
			     struct kinko_err *e)
{
	uint8_t hdr[BLOB_HEADER], want[BLOB_HEADER], oid[OBJ_ID_LEN];
	char path[4096];
	struct stat st;
	const char *why = NULL;
	int fd = -1;

	if (vault_blob_path(v, o->id, false, path, sizeof path) == 0)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uuid_bytes(o->id, oid);
	blob_header(want, o->alg, oid);
	if (fd < 0)
		why = errno == ENOENT ? "is missing" : "cannot be opened";
	else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		why = "is not a regular file";
	else if ((uint64_t)st.st_size != blob_size(o->size))
		why = (uint64_t)st.st_size < blob_size(o->size) ? "is cut short"
							       : "is longer than its content";
	else if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
		why = "cannot be read";
	else if (memcmp(hdr, want, sizeof hdr))
		why = "has a header that does not name this object";
	if (!why) {
		*out = fd;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return kinko_err_set(e, KINKO_EINTEGRITY,
			     "the object's blob file %s; restore it from a backup", why);
}

/* The part of a download after the right to read was decided: opens o's key and
 * name (into name) with its folder's key fk, checks and opens its blob, and sets up
 * the read-ahead. The caller holds the seal lock; vault_download_close gives it
 * back. */
static int download_prepare(struct vault *v, const struct store_object *o,
			    const struct kinko_key *fk, struct kbuf *name,
			    struct vault_download **out, struct kinko_err *e)
{
	struct vault_download *d = calloc(1, sizeof *d);
	struct kinko_key *ok = NULL;
	uint8_t oid[OBJ_ID_LEN];
	char ctx[64];
	int rc;

	if (!d)
		return kinko_err_set(e, KINKO_ENOMEM, "out of memory");
	d->v = v;
	d->fd = -1;
	snprintf(ctx, sizeof ctx, "object:%s", o->id);
	rc = kinko_key_unwrap(fk, ctx, o->key_wrapped.data, o->key_wrapped.len, &ok, e);
	snprintf(ctx, sizeof ctx, "object-name:%s", o->id);
	if (rc == 0)
		rc = kinko_key_open(fk, ctx, o->name_sealed.data, o->name_sealed.len, name, e);
	uuid_bytes(o->id, oid);
	if (rc == 0)
		rc = objstream_new(ok, (enum obj_alg)o->alg, oid, &d->os, e);
	kinko_key_free(ok);
	if (rc == 0)
		rc = blob_open_checked(v, o, &d->fd, e);
	/* A blob leaves the page cache as it is written, so a download usually reads
	 * from the device: ask for the larger sequential read-ahead. */
	if (rc == 0)
		(void)posix_fadvise(d->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (rc == 0 && ring_init(&d->ring, true))
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory for the download buffers");
	if (rc) {
		if (d->fd >= 0)
			close(d->fd);
		objstream_free(d->os);
		if (d->ring.slot[0].plain || d->ring.slot[0].sealed)
			ring_free(&d->ring);
		free(d);
		return rc;
	}
	d->size = o->size;
	d->nchunks = chunk_count(o->size);
	d->pos = UINT64_MAX; /* not started */
	*out = d;
	return 0;
}

int vault_object_verify(struct vault *v, const struct store_object *o, bool deep,
			struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	struct kinko_key *fk = NULL;
	struct vault_download *d = NULL;
	struct kinko_sha256 h;
	struct kbuf name;
	uint8_t *buf, digest[KINKO_SHA256_LEN];
	uint64_t off = 0;
	int fd = -1, rc;

	if (!deep) {
		rc = blob_open_checked(v, o, &fd, e);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	kbuf_init(&name, VAULT_NAME_MAX + 64);
	rc = s->ops->folder_get(s, o->folder_id, &f, e);
	if (rc == 0) {
		rc = vault_folder_key(v, &f, &fk, e);
		if (rc == KINKO_ECRYPTO || rc == KINKO_EFORMAT)
			rc = kinko_err_set(e, KINKO_EINTEGRITY, "its folder's key does not open");
		store_folder_clear(&f);
	}
	if (rc == 0)
		rc = download_prepare(v, o, fk, &name, &d, e);
	kinko_key_free(fk);
	kbuf_free(&name);
	if (rc == KINKO_ECRYPTO || rc == KINKO_EFORMAT)
		rc = kinko_err_set(e, KINKO_EINTEGRITY,
				   "its key or its sealed name does not open under its folder's key");
	if (rc) {
		vault_leave(v);
		return rc;
	}
	/* Every chunk, in order, through the download's own read-ahead and
	 * authentication (a second thread opens batches while this one hashes); then
	 * the digest of all of it against the one recorded at upload. */
	buf = malloc(BATCH_BYTES);
	if (!buf)
		rc = kinko_err_set(e, KINKO_ENOMEM, "out of memory for the check's buffer");
	else if ((rc = kinko_sha256_init(&h)) != 0)
		kinko_err_set(e, rc, "cannot start SHA-256");
	while (rc == 0) {
		size_t got = 0;
		rc = vault_download_read(d, off, buf, BATCH_BYTES, &got, e);
		if (rc) {
			kinko_sha256_abort(&h);
			break;
		}
		if (got == 0) {
			kinko_sha256_final(&h, digest);
			if (off != o->size || memcmp(digest, o->sha256, sizeof digest))
				rc = kinko_err_set(e, KINKO_EINTEGRITY,
						   "its content does not match the SHA-256 "
						   "recorded at upload");
			break;
		}
		kinko_sha256_update(&h, buf, got);
		off += got;
	}
	if (buf) {
		kinko_wipe(buf, BATCH_BYTES);
		free(buf);
	}
	/* The check reads every blob once: leave the page cache to the server. */
	(void)posix_fadvise(d->fd, 0, 0, POSIX_FADV_DONTNEED);
	vault_download_close(d);
	return rc;
}

int vault_download_open(struct vault *v, const struct vault_actor *a, const char *object_id,
			struct vault_object_info *info, struct vault_download **out,
			struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_object o;
	struct store_folder f;
	struct kinko_key *fk = NULL;
	struct vault_download *d = NULL;
	struct kbuf name;
	enum store_role member;
	unsigned perms = 0;
	int rc;

	if (!store_id_valid(object_id))
		return kinko_err_set(e, KINKO_ENOENT, "no such object");
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	kbuf_init(&name, VAULT_NAME_MAX + 64);
	memset(&o, 0, sizeof o);
	rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = s->ops->object_get(s, object_id, &o, e);
		if (rc == 0)
			rc = s->ops->folder_get(s, o.folder_id, &f, e);
		if (rc == 0) {
			rc = vault_folder_access(v, a, &f, &perms, &member, e);
			if (rc == 0 && member != ROLE_NONE)
				note_ids(a, f.contract_id, o.id, o.folder_id);
			if (rc == 0 && member == ROLE_NONE)
				rc = kinko_err_set(e, KINKO_ENOENT, "no such object");
			else if (rc == 0 && !(perms & PERM_READ))
				rc = kinko_err_set(e, KINKO_EPERM,
						   "you may not read this folder's files");
			if (rc == 0)
				rc = vault_folder_key(v, &f, &fk, e);
			store_folder_clear(&f);
		}
		s->ops->rollback(s);
	}
	if (rc == 0)
		rc = download_prepare(v, &o, fk, &name, &d, e);
	if (rc == 0) {
		memset(info, 0, sizeof *info);
		memcpy(info->id, o.id, sizeof info->id);
		memcpy(info->folder_id, o.folder_id, sizeof info->folder_id);
		if (name.len <= VAULT_NAME_MAX)
			memcpy(info->name, name.data, name.len);
		info->size = o.size;
		memcpy(info->sha256, o.sha256, 32);
		info->created_at = o.created_at;
		info->seq = o.seq;
	}
	kinko_key_free(fk);
	kbuf_free(&name);
	store_object_clear(&o);
	if (rc) {
		vault_leave(v);
		return rc;
	}
	*out = d;
	return 0;
}

int vault_download_read(struct vault_download *d, uint64_t offset, uint8_t *buf, size_t cap,
			size_t *got, struct kinko_err *e)
{
	struct ring *r = &d->ring;
	size_t done = 0;
	int rc;

	if (sealing(d->v, e))
		return KINKO_ESEALED;
	if (offset >= d->size) {
		*got = 0;
		return 0;
	}
	if (offset != d->pos) {
		rc = download_start(d, offset, e);
		if (rc)
			return rc;
	}
	while (done < cap && d->pos < d->size) {
		struct slot *s;
		size_t n;

		pthread_mutex_lock(&r->mu);
		while (r->filled == 0 && !r->err)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->filled == 0 && r->err) {
			rc = r->err;
			if (e)
				*e = r->emsg;
			pthread_mutex_unlock(&r->mu);
			d->pos = UINT64_MAX;
			return rc;
		}
		s = &r->slot[r->take];
		pthread_mutex_unlock(&r->mu);

		n = s->len - d->slot_off;
		if (n > cap - done)
			n = cap - done;
		memcpy(buf + done, s->plain + d->slot_off, n);
		done += n;
		d->slot_off += n;
		d->pos += n;
		if (d->slot_off == s->len) {
			d->slot_off = 0;
			pthread_mutex_lock(&r->mu);
			r->take = (r->take + 1) % NSLOTS;
			r->filled--;
			pthread_cond_broadcast(&r->cv);
			pthread_mutex_unlock(&r->mu);
		}
	}
	*got = done;
	return 0;
}

void vault_download_close(struct vault_download *d)
{
	if (!d)
		return;
	download_stop(d);
	close(d->fd);
	objstream_free(d->os);
	ring_free(&d->ring);
	vault_leave(d->v);
	free(d);
}

/* ---------------------------------------------------------------- metadata */

static int object_info(struct vault *v, const struct store_object *o, const struct store_folder *f,
		       bool show_name, struct vault_object_info *out, struct kinko_err *e)
{
	struct kinko_key *fk = NULL;
	struct kbuf name;
	char ctx[64];
	int rc = 0;

	memset(out, 0, sizeof *out);
	memcpy(out->id, o->id, sizeof out->id);
	memcpy(out->folder_id, o->folder_id, sizeof out->folder_id);
	out->size = o->size;
	memcpy(out->sha256, o->sha256, 32);
	out->created_at = o->created_at;
	out->seq = o->seq;
	out->records = o->records;
	memcpy(out->encoding, o->encoding, sizeof out->encoding);
	out->mynumber_count = o->mynumber_count;
	out->mynumber_confidence = o->mynumber_confidence;
	memcpy(out->scan_signatures, o->scan_signatures, sizeof out->scan_signatures);
	if (!show_name)
		return 0;
	kbuf_init(&name, VAULT_NAME_MAX + 64);
	rc = vault_folder_key(v, f, &fk, e);
	snprintf(ctx, sizeof ctx, "object-name:%s", o->id);
	if (rc == 0)
		rc = kinko_key_open(fk, ctx, o->name_sealed.data, o->name_sealed.len, &name, e);
	if (rc == 0 && name.len <= VAULT_NAME_MAX)
		memcpy(out->name, name.data, name.len);
	kinko_key_free(fk);
	kbuf_free(&name);
	return rc;
}

/* Loads object and folder for an actor who needs `need` (0: any member) (in a tx). */
static int object_access(struct vault *v, const struct vault_actor *a, const char *id,
			 unsigned need, struct store_object *o, struct store_folder *f,
			 unsigned *perms, struct kinko_err *e)
{
	struct store *s = v->store;
	enum store_role member;
	int rc;

	if (!store_id_valid(id))
		return kinko_err_set(e, KINKO_ENOENT, "no such object");
	rc = s->ops->object_get(s, id, o, e);
	if (rc)
		return rc;
	rc = s->ops->folder_get(s, o->folder_id, f, e);
	if (rc == 0) {
		rc = vault_folder_access(v, a, f, perms, &member, e);
		if (rc == 0 && member != ROLE_NONE)
			note_ids(a, f->contract_id, o->id, o->folder_id);
		if (rc == 0 && member == ROLE_NONE)
			rc = kinko_err_set(e, KINKO_ENOENT, "no such object");
		else if (rc == 0 && need && (*perms & need) != need)
			rc = kinko_err_set(e, KINKO_EPERM, "you lack the %s right on this folder",
					   need == PERM_READ ? "read" : "write");
		if (rc)
			store_folder_clear(f);
	}
	if (rc)
		store_object_clear(o);
	return rc;
}

int vault_object_stat(struct vault *v, const struct vault_actor *a, const char *object_id,
		      struct vault_object_info *out, struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_object o;
	struct store_folder f;
	unsigned perms;
	int rc = vault_enter(v, e);

	if (rc)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = object_access(v, a, object_id, PERM_READ, &o, &f, &perms, e);
		s->ops->rollback(s);
	}
	if (rc == 0) {
		rc = object_info(v, &o, &f, true, out, e);
		store_object_clear(&o);
		store_folder_clear(&f);
	}
	vault_leave(v);
	return rc;
}

int vault_object_delete(struct vault *v, const struct vault_actor *a, const char *object_id,
			struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_object o;
	struct store_folder f;
	char path[4096];
	unsigned perms;
	int rc = vault_enter(v, e);

	if (rc)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = object_access(v, a, object_id, PERM_WRITE, &o, &f, &perms, e);
		if (rc == 0) {
			rc = s->ops->object_delete(s, object_id, e);
			if (rc == 0)
				rc = vault_audit(v, a, "object.delete", f.contract_id, object_id,
						 o.folder_id, 0, 200, e);
			store_object_clear(&o);
			store_folder_clear(&f);
		}
		if (rc == 0)
			rc = s->ops->commit(s, e);
		else
			s->ops->rollback(s);
	}
	/* After the commit the row is gone, so the blob is unreachable; remove it now.
	 * If this fails (crash), start-up garbage collection removes it. */
	if (rc == 0 && vault_blob_path(v, object_id, false, path, sizeof path) == 0)
		unlink(path);
	vault_leave(v);
	return rc;
}

struct object_list_ctx {
	struct vault *v;
	const struct store_folder *f;
	bool names;
	int (*cb)(void *ctx, const struct vault_object_info *o);
	void *ctx;
	struct kinko_err *e;
};

static int object_list_row(void *ctx, const struct store_object *o)
{
	struct object_list_ctx *l = ctx;
	struct vault_object_info info;
	int rc = object_info(l->v, o, l->f, l->names, &info, l->e);

	return rc ? rc : l->cb(l->ctx, &info);
}

int vault_object_list(struct vault *v, const struct vault_actor *a, const char *folder_id,
		      int64_t after_seq, unsigned limit,
		      int (*cb)(void *ctx, const struct vault_object_info *o), void *ctx,
		      struct kinko_err *e)
{
	struct store *s = v->store;
	struct store_folder f;
	enum store_role member;
	unsigned perms = 0;
	int rc;

	if (!store_id_valid(folder_id))
		return kinko_err_set(e, KINKO_ENOENT, "no such folder");
	rc = vault_enter(v, e);
	if (rc)
		return rc;
	rc = s->ops->begin(s, e);
	if (rc == 0) {
		rc = s->ops->folder_get(s, folder_id, &f, e);
		if (rc == 0) {
			rc = vault_folder_access(v, a, &f, &perms, &member, e);
			if (rc == 0 && member != ROLE_NONE)
				note_ids(a, f.contract_id, f.id, NULL);
			if (rc == 0 && member == ROLE_NONE)
				rc = kinko_err_set(e, KINKO_ENOENT, "no such folder");
			/* Auditors see that files exist (IDs, sizes, digests), never names. */
			if (rc == 0 && !(perms & PERM_READ) && member != ROLE_AUDITOR)
				rc = kinko_err_set(e, KINKO_EPERM,
						   "you may not list this folder's files");
			if (rc == 0) {
				struct object_list_ctx l = {v, &f, (perms & PERM_READ) != 0, cb,
							    ctx, e};
				rc = s->ops->object_list(s, folder_id, after_seq, limit,
							 object_list_row, &l, e);
			}
			store_folder_clear(&f);
		}
		s->ops->rollback(s);
	}
	vault_leave(v);
	return rc;
}
