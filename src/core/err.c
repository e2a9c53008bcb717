#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kinko_err_set(struct kinko_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

int kinko_err_wrap(struct kinko_err *e, const char *fmt, ...)
{
	char prefix[200], old[sizeof e->msg];
	va_list ap;

	if (!e)
		return KINKO_EINVAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s: %.300s", prefix, old);
	return e->code;
}

void kinko_err_clear(struct kinko_err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

const char *kinko_strerror(int code)
{
	switch (code) {
	case KINKO_OK: return "success";
	case KINKO_EINVAL: return "invalid input";
	case KINKO_ENOMEM: return "out of memory";
	case KINKO_EIO: return "input/output error";
	case KINKO_ECRYPTO: return "cryptographic verification failed";
	case KINKO_EAUTH: return "authentication required or failed";
	case KINKO_EPERM: return "permission denied";
	case KINKO_ENOENT: return "not found";
	case KINKO_EEXIST: return "already exists";
	case KINKO_ESEALED: return "the vault is sealed";
	case KINKO_ELIMIT: return "limit exceeded";
	case KINKO_ECONFLICT: return "conflict with current state";
	case KINKO_EUNAVAIL: return "a required safeguard is unavailable";
	case KINKO_EINTEGRITY: return "integrity check failed";
	case KINKO_EFORMAT: return "malformed data";
	case KINKO_ELOCKED: return "account locked";
	case KINKO_EINFECTED: return "malware detected";
	case KINKO_ENOTDURABLE: return "stored, but not made durable";
	}
	return "unknown error";
}
