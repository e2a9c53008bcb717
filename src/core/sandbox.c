/*
 * sandbox — see sandbox.h.
 *
 * The allowlist was built from what the server does while it serves (every route
 * of the integration suite runs under it; a call missing here stops the server
 * with the call's name, so a gap shows up as a failed test, not as a silent
 * weakening). Calls made only before the filter is entered (bind, listen,
 * setrlimit, the blob collection's directory walk at start, ...) are left out on
 * purpose.
 */
#include "core/sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#ifndef CLONE_THREAD
#define CLONE_THREAD 0x00010000
#endif

/* Calls allowed whatever their arguments. */
static const char *const ALLOW[] = {
	/* files and descriptors */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"lseek", "close", "openat", "fstat", "newfstatat", "statx", "lstat", "fstatfs",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
	"getdents64", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename",
	"renameat", "renameat2", "fchmod", "fchown", "fsync", "fdatasync",
	"sync_file_range", "fallocate", "ftruncate", "flock", "fadvise64", "fcntl", "dup",
	"dup3", "pipe2", "eventfd2", "memfd_create",
	/* what glibc before 2.33 calls for stat(), open(), dup2(), pipe() */
	"stat", "open", "dup2", "pipe",
	/* sockets: accepted connections, clamd, journald and syslog (socket() itself
	 * is allowed for AF_UNIX only, below) */
	"accept", "accept4", "connect", "recvfrom", "recvmsg", "sendto", "sendmsg",
	"shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername", "select",
	"pselect6", "poll", "ppoll",
	/* memory (mmap and mprotect below) */
	"munmap", "mremap", "madvise", "brk", "mlock", "munlock",
	/* threads and synchronisation (clone below) */
	"futex", "set_robust_list", "rseq", "set_tid_address", "sched_yield",
	"sched_getaffinity", "exit", "exit_group", "gettid", "getpid",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
	"restart_syscall",
	/* time, randomness, identity, limits */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep", "getrandom", "getuid", "geteuid", "getgid", "getegid", "uname",
	"sysinfo",
};

static char sys_names[512][24]; /* for the SIGSYS handler: no allocation there */

static size_t put(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n < cap)
		buf[n++] = *s++;
	return n;
}

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char msg[320], num[12];
	size_t n = 0, k = 0;
	int nr = si->si_syscall;
	unsigned v = nr < 0 ? 0u : (unsigned)nr;

	(void)sig;
	(void)uctx;
	n = put(msg, n, sizeof msg, "kinko: FATAL: the system-call filter stopped the server: ");
	if (nr >= 0 && (size_t)nr < sizeof sys_names / sizeof sys_names[0] && sys_names[nr][0]) {
		n = put(msg, n, sizeof msg, sys_names[nr]);
	} else {
		do
			num[k++] = (char)('0' + v % 10);
		while ((v /= 10) && k < sizeof num);
		n = put(msg, n, sizeof msg, "system call ");
		while (k && n < sizeof msg)
			msg[n++] = num[--k];
	}
	n = put(msg, n, sizeof msg,
		" is not allowed. Report this (docs/security.md); [server] syscall_filter = "
		"false runs without the filter\n");
	(void)!write(STDERR_FILENO, msg, n);
	_exit(SANDBOX_EXIT);
}

static void remember_names(void)
{
	for (size_t i = 0; i < sizeof sys_names / sizeof sys_names[0]; i++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)i);
		if (s) {
			strncpy(sys_names[i], s, sizeof sys_names[i] - 1);
			free(s);
		}
	}
}

/* One argument comparison (libseccomp's SCMP_An macros leave a field to the
 * compiler, which clang's -Wextra refuses). */
static struct scmp_arg_cmp arg(unsigned i, enum scmp_compare op, uint64_t a, uint64_t b)
{
	struct scmp_arg_cmp c;

	memset(&c, 0, sizeof c);
	c.arg = i;
	c.op = op;
	c.datum_a = a;
	c.datum_b = b;
	return c;
}

/* The rule, or nothing when the call does not exist on this architecture. */
static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned count,
		const struct scmp_arg_cmp *cmp, unsigned *added)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add_array(ctx, action, nr, count, cmp);
	if (rc == 0 && action == SCMP_ACT_ALLOW && added)
		(*added)++;
	return rc;
}

/* Allowed in the forms listed in sandbox.h; `allowed` counts each call once. */
static int add_argument_rules(scmp_filter_ctx ctx, unsigned *allowed)
{
	const uint64_t wx = PROT_WRITE | PROT_EXEC;
	static const uint64_t ioctls[] = {FIONREAD, FIONBIO, FIOCLEX, FIONCLEX, TCGETS};
	static const uint64_t prctls[] = {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE};
	static const char *const prot_calls[] = {"mmap", "mprotect", "pkey_mprotect"};
	uint64_t lo = ioctls[0], hi = ioctls[0];
	struct scmp_arg_cmp c;
	unsigned dummy = 0;
	int rc = 0;

	/* socket: AF_UNIX only */
	c = arg(0, SCMP_CMP_EQ, AF_UNIX, 0);
	rc |= rule(ctx, SCMP_ACT_ALLOW, "socket", 1, &c, allowed);
	c = arg(0, SCMP_CMP_NE, AF_UNIX, 0);
	rc |= rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &c, NULL);

	/* clone: threads only; clone3 cannot be checked */
	c = arg(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	rc |= rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &c, allowed);
	c = arg(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
	rc |= rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &c, NULL);
	rc |= rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, NULL);

	/* never writable and executable at once */
	for (size_t i = 0; i < sizeof prot_calls / sizeof prot_calls[0]; i++) {
		static const uint64_t ok[] = {0, PROT_WRITE, PROT_EXEC};
		for (size_t j = 0; j < sizeof ok / sizeof ok[0]; j++) {
			c = arg(2, SCMP_CMP_MASKED_EQ, wx, ok[j]);
			rc |= rule(ctx, SCMP_ACT_ALLOW, prot_calls[i], 1, &c, j ? &dummy : allowed);
		}
		c = arg(2, SCMP_CMP_MASKED_EQ, wx, wx);
		rc |= rule(ctx, SCMP_ACT_ERRNO(EPERM), prot_calls[i], 1, &c, NULL);
	}

	/* ioctl: the listed requests; others fail (those between two listed ones
	 * are terminal requests, TIOCSTI among them, and stop the process) */
	for (size_t i = 0; i < sizeof ioctls / sizeof ioctls[0]; i++) {
		c = arg(1, SCMP_CMP_EQ, ioctls[i], 0);
		rc |= rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &c, i ? &dummy : allowed);
		lo = ioctls[i] < lo ? ioctls[i] : lo;
		hi = ioctls[i] > hi ? ioctls[i] : hi;
	}
	c = arg(1, SCMP_CMP_LT, lo, 0);
	rc |= rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, &c, NULL);
	c = arg(1, SCMP_CMP_GT, hi, 0);
	rc |= rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, &c, NULL);

	/* prctl: thread names, and reading the dump flag */
	for (size_t i = 0; i < sizeof prctls / sizeof prctls[0]; i++) {
		c = arg(0, SCMP_CMP_EQ, prctls[i], 0);
		rc |= rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &c, i ? &dummy : allowed);
	}

	/* tgkill: signals to this process's own threads only (raise, abort,
	 * glibc's set*id broadcast); any other process stops it */
	c = arg(0, SCMP_CMP_EQ, (uint64_t)getpid(), 0);
	rc |= rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &c, allowed);

	/* prlimit64: reading only (no new limit) */
	c = arg(2, SCMP_CMP_EQ, 0, 0);
	rc |= rule(ctx, SCMP_ACT_ALLOW, "prlimit64", 1, &c, allowed);
	c = arg(2, SCMP_CMP_NE, 0, 0);
	rc |= rule(ctx, SCMP_ACT_ERRNO(EPERM), "prlimit64", 1, &c, NULL);
	return rc;
}

int sandbox_enter(unsigned *allowed, struct kinko_err *e)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	struct sigaction sa;
	unsigned count = 0;
	int rc = 0;

	if (!ctx)
		return kinko_err_set(e, KINKO_EUNAVAIL, "cannot set up the system-call filter");
	rc |= seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	rc |= seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	rc |= seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* a binary tree, if known */
	for (size_t i = 0; i < sizeof ALLOW / sizeof ALLOW[0]; i++)
		rc |= rule(ctx, SCMP_ACT_ALLOW, ALLOW[i], 0, NULL, &count);
	rc |= add_argument_rules(ctx, &count);
	if (rc) {
		seccomp_release(ctx);
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "cannot build the system-call filter (libseccomp refused a rule)");
	}
	remember_names();
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		seccomp_release(ctx);
		return kinko_err_set(e, KINKO_EUNAVAIL, "cannot install the SIGSYS handler: %s",
				     strerror(errno));
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc)
		return kinko_err_set(e, KINKO_EUNAVAIL,
				     "the kernel refused the system-call filter: %s (needs "
				     "seccomp with thread synchronisation, Linux 3.17 or later)",
				     strerror(-rc));
	if (allowed)
		*allowed = count;
	return 0;
}
