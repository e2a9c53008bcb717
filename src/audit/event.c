#include "audit/event.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>

/* ---- time: RFC 3339, UTC, milliseconds; civil calendar without gmtime ---- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), after H. Hinnant's
 * public-domain "days_from_civil" algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 9999-12-31T23:59:59.999Z */
#define AUDIT_TIME_MAX_MS INT64_C(253402300799999)

int audit_time_format(int64_t ms, char out[AUDIT_TIME_LEN + 1])
{
	int64_t days, rem, y;
	unsigned m, d;
	static const char digits[] = "0123456789";
	char *p = out;
	unsigned v[6], i;

	if (ms < 0 || ms > AUDIT_TIME_MAX_MS)
		return KINKO_EINVAL;
	days = ms / 86400000;
	rem = ms % 86400000;
	civil_from_days(days, &y, &m, &d);
	v[0] = (unsigned)y;
	v[1] = m;
	v[2] = d;
	v[3] = (unsigned)(rem / 3600000);
	v[4] = (unsigned)(rem / 60000 % 60);
	v[5] = (unsigned)(rem / 1000 % 60);
	*p++ = digits[v[0] / 1000];
	*p++ = digits[v[0] / 100 % 10];
	*p++ = digits[v[0] / 10 % 10];
	*p++ = digits[v[0] % 10];
	for (i = 1; i < 6; i++) {
		*p++ = "--T::"[i - 1];
		*p++ = digits[v[i] / 10];
		*p++ = digits[v[i] % 10];
	}
	*p++ = '.';
	*p++ = digits[rem % 1000 / 100];
	*p++ = digits[rem % 100 / 10];
	*p++ = digits[rem % 10];
	*p++ = 'Z';
	*p = '\0';
	return 0;
}

static int two_digits(const char *s, unsigned *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	return 0;
}

int audit_time_parse(const char *s, size_t n, int64_t *ms)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y1, y2, mo, d, h, mi, sec, f1, f2;
	int64_t y;
	int leap;

	if (n != AUDIT_TIME_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return KINKO_EFORMAT;
	if (two_digits(s, &y1) || two_digits(s + 2, &y2) || two_digits(s + 5, &mo) ||
	    two_digits(s + 8, &d) || two_digits(s + 11, &h) || two_digits(s + 14, &mi) ||
	    two_digits(s + 17, &sec) || two_digits(s + 20, &f1) || s[22] < '0' || s[22] > '9')
		return KINKO_EFORMAT;
	f2 = (unsigned)(s[22] - '0');
	y = (int64_t)y1 * 100 + y2;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
		return KINKO_EFORMAT;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 +
	      (int64_t)(f1 * 10 + f2);
	return 0;
}

int64_t audit_time_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- field grammars ---- */

static int is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!is_lhex(s[i])) {
			return 0;
		}
	}
	return 1;
}

static int parse_decimal(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 16 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > AUDIT_INT_MAX)
		return -1;
	*out = v;
	return 0;
}

int audit_id_check(const char *s)
{
	size_t n = strnlen(s, AUDIT_ID_MAX + 1), i;
	uint64_t v;

	if (n == 0 || n > AUDIT_ID_MAX)
		return KINKO_EINVAL;
	if (is_uuid(s) || parse_decimal(s, n, &v) == 0)
		return 0;
	if (n < 16)
		return KINKO_EINVAL;
	for (i = 0; i < n; i++)
		if (!is_lhex(s[i]))
			return KINKO_EINVAL;
	return 0;
}

static int is_dash(const char *s)
{
	return s[0] == '-' && s[1] == '\0';
}

static const char *const audit_roles[] = {"manager", "handler", "auditor", "operator", "system",
					  "-"};

static int role_ok(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof audit_roles / sizeof audit_roles[0]; i++)
		if (strcmp(s, audit_roles[i]) == 0)
			return 1;
	return 0;
}

static int cert_ok(const char *s)
{
	size_t i;

	if (is_dash(s))
		return 1;
	if (strnlen(s, 65) != 64)
		return 0;
	for (i = 0; i < 64; i++)
		if (!is_lhex(s[i]))
			return 0;
	return 1;
}

/* The address must be what inet_ntop would print for it, so each address has
 * exactly one spelling. */
static int addr_ok(const char *s)
{
	unsigned char bin[16];
	char back[INET6_ADDRSTRLEN];

	if (is_dash(s))
		return 1;
	if (strnlen(s, AUDIT_ADDR_MAX + 1) > AUDIT_ADDR_MAX)
		return 0;
	if (inet_pton(AF_INET, s, bin) == 1)
		return inet_ntop(AF_INET, bin, back, sizeof back) && strcmp(back, s) == 0;
	if (inet_pton(AF_INET6, s, bin) == 1)
		return inet_ntop(AF_INET6, bin, back, sizeof back) && strcmp(back, s) == 0;
	return 0;
}

/* Two to four segments of [a-z][a-z0-9_]*, joined by dots. */
static int action_ok(const char *s)
{
	size_t n = strnlen(s, AUDIT_ACTION_MAX + 1), i, segs = 1;
	int at_start = 1;

	if (n == 0 || n > AUDIT_ACTION_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (at_start)
				return 0;
			at_start = 1;
			segs++;
		} else if (at_start) {
			if (c < 'a' || c > 'z')
				return 0;
			at_start = 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
			return 0;
		}
	}
	return !at_start && segs >= 2 && segs <= 4;
}

const char *audit_result_name(enum audit_result r)
{
	switch (r) {
	case AUDIT_OK:
		return "ok";
	case AUDIT_DENIED:
		return "denied";
	case AUDIT_ERROR:
		return "error";
	}
	return NULL;
}

void audit_event_init(struct audit_event *ev)
{
	memset(ev, 0, sizeof *ev);
	strcpy(ev->actor, "-");
	strcpy(ev->role, "-");
	strcpy(ev->cert, "-");
	strcpy(ev->addr, "-");
	strcpy(ev->contract, "-");
	strcpy(ev->request, "-");
	ev->result = AUDIT_OK;
	ev->status = 200;
}

int audit_event_add_target(struct audit_event *ev, const char *id)
{
	if (ev->ntargets >= AUDIT_TARGETS_MAX)
		return KINKO_ELIMIT;
	if (audit_id_check(id) < 0)
		return KINKO_EINVAL;
	strcpy(ev->targets[ev->ntargets++], id);
	return 0;
}

static int field_bad(struct kinko_err *e, const char *field, const char *rule)
{
	return kinko_err_set(e, KINKO_EINVAL, "audit event field \"%s\" is not valid: it must be %s",
			     field, rule);
}

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

int audit_event_validate(const struct audit_event *ev, struct kinko_err *e)
{
	unsigned i;

	if (ev->seq > AUDIT_INT_MAX)
		return field_bad(e, "seq", "at most 2^53-1");
	if (ev->time_ms < 0 || ev->time_ms > AUDIT_TIME_MAX_MS)
		return field_bad(e, "time", "between 1970 and 9999");
	if (!TERMINATED(ev->actor) || !(is_dash(ev->actor) || is_uuid(ev->actor)))
		return field_bad(e, "actor", "a user UUID or \"-\"");
	if (!TERMINATED(ev->role) || !role_ok(ev->role))
		return field_bad(e, "role", "manager, handler, auditor, operator, system or \"-\"");
	if (!TERMINATED(ev->cert) || !cert_ok(ev->cert))
		return field_bad(e, "cert", "64 lowercase hex digits or \"-\"");
	if (!TERMINATED(ev->addr) || !addr_ok(ev->addr))
		return field_bad(e, "addr", "an IP address as inet_ntop writes it, or \"-\"");
	if (!TERMINATED(ev->contract) || !(is_dash(ev->contract) || audit_id_check(ev->contract) == 0))
		return field_bad(e, "contract", "an ID or \"-\"");
	if (!TERMINATED(ev->action) || !action_ok(ev->action))
		return field_bad(e, "action", "a dotted lowercase name such as object.put");
	if (ev->ntargets > AUDIT_TARGETS_MAX)
		return field_bad(e, "targets", "at most 16 IDs");
	for (i = 0; i < ev->ntargets; i++)
		if (!TERMINATED(ev->targets[i]) || audit_id_check(ev->targets[i]) < 0)
			return field_bad(e, "targets", "a list of IDs (UUID, hex or decimal)");
	switch (ev->result) {
	case AUDIT_OK:
		if (ev->status < 100 || ev->status > 399)
			return field_bad(e, "status", "100 to 399 for result ok");
		break;
	case AUDIT_DENIED:
		if (ev->status < 400 || ev->status > 499)
			return field_bad(e, "status", "400 to 499 for result denied");
		break;
	case AUDIT_ERROR:
		if (ev->status < 400 || ev->status > 599)
			return field_bad(e, "status", "400 to 599 for result error");
		break;
	default:
		return field_bad(e, "result", "ok, denied or error");
	}
	if (ev->bytes > AUDIT_INT_MAX)
		return field_bad(e, "bytes", "at most 2^53-1");
	if (!TERMINATED(ev->request) || !(is_dash(ev->request) || audit_id_check(ev->request) == 0))
		return field_bad(e, "request", "an ID or \"-\"");
	return 0;
}

int audit_event_encode(const struct audit_event *ev, struct kbuf *out, struct kinko_err *e)
{
	char time[AUDIT_TIME_LEN + 1];
	struct kbuf b;
	unsigned i;
	int rc;

	rc = audit_event_validate(ev, e);
	if (rc < 0)
		return rc;
	if (audit_time_format(ev->time_ms, time) < 0)
		return field_bad(e, "time", "between 1970 and 9999");
	/* Build in a local buffer so a failure leaves out untouched. */
	kbuf_init(&b, AUDIT_EVENT_MAX);
	rc = kbuf_appendf(&b,
			  "{\"v\":1,\"seq\":%llu,\"time\":\"%s\",\"actor\":\"%s\",\"role\":\"%s\","
			  "\"cert\":\"%s\",\"addr\":\"%s\",\"contract\":\"%s\",\"action\":\"%s\","
			  "\"targets\":[",
			  (unsigned long long)ev->seq, time, ev->actor, ev->role, ev->cert,
			  ev->addr, ev->contract, ev->action);
	for (i = 0; rc == 0 && i < ev->ntargets; i++)
		rc = kbuf_appendf(&b, "%s\"%s\"", i ? "," : "", ev->targets[i]);
	if (rc == 0)
		rc = kbuf_appendf(&b,
				  "],\"result\":\"%s\",\"status\":%u,\"bytes\":%llu,"
				  "\"request\":\"%s\"}",
				  audit_result_name(ev->result), ev->status,
				  (unsigned long long)ev->bytes, ev->request);
	if (rc == 0)
		rc = kbuf_append(out, b.data, b.len);
	kbuf_free(&b);
	if (rc < 0)
		return kinko_err_set(e, rc, "the audit event does not fit in its buffer");
	return 0;
}

/* ---- strict decoding ---- */

struct cursor {
	const char *p, *end;
};

static int lit(struct cursor *c, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

/* A string body up to the closing quote (consumed): printable ASCII without '"'
 * or '\\', at most max chars, copied NUL-terminated into out. */
static int str(struct cursor *c, char *out, size_t max)
{
	size_t n = 0;

	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p;
		if (ch < 0x21 || ch > 0x7e || ch == '\\' || n >= max)
			return -1;
		out[n++] = (char)ch;
		c->p++;
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	out[n] = '\0';
	return 0;
}

static int num(struct cursor *c, uint64_t *v)
{
	const char *s = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return parse_decimal(s, (size_t)(c->p - s), v);
}

int audit_event_decode(const uint8_t *p, size_t n, struct audit_event *out, struct kinko_err *e)
{
	struct cursor c = {(const char *)p, (const char *)p + n};
	struct audit_event ev;
	char time[AUDIT_TIME_LEN + 2], result[8];
	uint64_t status;
	struct kbuf re;
	int rc;

	if (n > AUDIT_EVENT_MAX)
		goto bad;
	memset(&ev, 0, sizeof ev);
	if (lit(&c, "{\"v\":1,\"seq\":") || num(&c, &ev.seq) || lit(&c, ",\"time\":\"") ||
	    str(&c, time, sizeof time - 1) ||
	    audit_time_parse(time, strlen(time), &ev.time_ms) < 0 ||
	    lit(&c, ",\"actor\":\"") || str(&c, ev.actor, AUDIT_ID_MAX) ||
	    lit(&c, ",\"role\":\"") || str(&c, ev.role, sizeof ev.role - 1) ||
	    lit(&c, ",\"cert\":\"") || str(&c, ev.cert, sizeof ev.cert - 1) ||
	    lit(&c, ",\"addr\":\"") || str(&c, ev.addr, AUDIT_ADDR_MAX) ||
	    lit(&c, ",\"contract\":\"") || str(&c, ev.contract, AUDIT_ID_MAX) ||
	    lit(&c, ",\"action\":\"") || str(&c, ev.action, AUDIT_ACTION_MAX) ||
	    lit(&c, ",\"targets\":["))
		goto bad;
	if (lit(&c, "]") != 0) {
		for (;;) {
			if (ev.ntargets >= AUDIT_TARGETS_MAX || lit(&c, "\"") ||
			    str(&c, ev.targets[ev.ntargets], AUDIT_ID_MAX))
				goto bad;
			ev.ntargets++;
			if (lit(&c, "]") == 0)
				break;
			if (lit(&c, ","))
				goto bad;
		}
	}
	if (lit(&c, ",\"result\":\"") || str(&c, result, sizeof result - 1) ||
	    lit(&c, ",\"status\":") || num(&c, &status) || lit(&c, ",\"bytes\":") ||
	    num(&c, &ev.bytes) || lit(&c, ",\"request\":\"") ||
	    str(&c, ev.request, AUDIT_ID_MAX) || lit(&c, "}") || c.p != c.end)
		goto bad;
	if (strcmp(result, "ok") == 0)
		ev.result = AUDIT_OK;
	else if (strcmp(result, "denied") == 0)
		ev.result = AUDIT_DENIED;
	else if (strcmp(result, "error") == 0)
		ev.result = AUDIT_ERROR;
	else
		goto bad;
	if (status > 999)
		goto bad;
	ev.status = (unsigned)status;
	rc = audit_event_validate(&ev, e);
	if (rc < 0) {
		if (e)
			e->code = KINKO_EFORMAT; /* keep the message naming the field */
		return KINKO_EFORMAT;
	}
	/* Canonical form: accept only the exact bytes the encoder writes. */
	kbuf_init(&re, AUDIT_EVENT_MAX);
	rc = audit_event_encode(&ev, &re, e);
	if (rc == 0 && (re.len != n || memcmp(re.data, p, n) != 0))
		rc = KINKO_EFORMAT;
	kbuf_free(&re);
	if (rc < 0)
		goto bad;
	*out = ev;
	return 0;
bad:
	return kinko_err_set(e, KINKO_EFORMAT,
			     "the audit event is not in kinko's canonical encoding: the log entry "
			     "is damaged or was changed");
}
