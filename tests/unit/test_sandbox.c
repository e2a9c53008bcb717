/*
 * core/sandbox: after sandbox_enter the process still does what a server does
 * (files, threads, memory, AF_UNIX sockets), the forms refused by argument fail
 * with their error, and any other call stops the process with SANDBOX_EXIT and
 * names the call -- in a thread started after the filter and in one started
 * before it alike. Each case runs in a child process: the filter cannot be undone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "core/sandbox.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* Runs fn in a child; returns its wait status and what it wrote to stderr. */
static int in_child(int (*fn)(void), char *err, size_t cap)
{
	int p[2], st = 0;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		_exit(fn()); /* _exit: no exit handlers (or sanitizer reports) under the filter */
	}
	close(p[1]);
	while (n + 1 < cap && (r = read(p[0], err + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	err[n] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int enter(void)
{
	struct kinko_err e;
	unsigned allowed = 0;

	if (sandbox_enter(&allowed, &e) != 0) {
		fprintf(stderr, "enter failed: %s\n", e.msg);
		return -1;
	}
	return allowed > 50 ? 0 : -1; /* the allowlist is not trivially small */
}

static int status_has(const char *line)
{
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, line) != NULL;
}

static void *write_byte(void *arg)
{
	int fd = *(int *)arg;
	return write(fd, "x", 1) == 1 ? arg : NULL;
}

/* ---- what a server does goes on ---- */

static int server_work(void)
{
	char dir[] = "/tmp/kinko-sandbox.XXXXXX", a[64], b[64], c;
	uint8_t rnd[32];
	int fd, p[2];
	pthread_t t;
	void *ret = NULL;
	uint8_t *m;

	if (!mkdtemp(dir) || enter())
		return 10;
	if (!status_has("Seccomp:\t2") || !status_has("NoNewPrivs:\t1"))
		return 11;
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "data", 4) != 4 || fdatasync(fd) || fallocate(fd, 0, 0, 8192) ||
	    ftruncate(fd, 4) || close(fd) || rename(a, b) || unlink(b) || rmdir(dir))
		return 12;
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return 13;
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m, 4096, PROT_NONE) || munmap(m, 1 << 20))
		return 14;
	/* a new thread, and an AF_UNIX socket (clamd, journald) */
	if (pipe(p) || pthread_create(&t, NULL, write_byte, &p[1]) || pthread_join(t, &ret) ||
	    !ret || read(p[0], &c, 1) != 1)
		return 15;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 16;
	close(fd);
	return 0;
}

static int call_raise_own(void)
{
	if (enter())
		return 10;
	signal(SIGUSR1, SIG_IGN);
	return raise(SIGUSR1) == 0 ? 0 : 11; /* tgkill on itself is allowed */
}

/* fn, in a child, returns 0: every check in it passed. */
static void expect_success(int (*fn)(void))
{
	char err[1024];
	int st = in_child(fn, err, sizeof err);

	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("child exited %d: %s", WEXITSTATUS(st), err);
}

static void server_work_goes_on(void **state)
{
	(void)state;
	expect_success(server_work);
	expect_success(call_raise_own);
}

/* ---- refused forms fail with their error ---- */

static int refused_forms(void)
{
	struct rlimit rl = {0, 0};
	uint8_t *m;
	unsigned long flags = 0;
	pid_t pid;
	int fd;

	if (enter())
		return 10;
	errno = 0;
	if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EAFNOSUPPORT)
		return 11; /* no new network sockets */
	errno = 0;
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid != -1 || errno != EPERM)
		return 12; /* no child processes */
	errno = 0;
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED || errno != EPERM)
		return 13;
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = 0;
	if (m == MAP_FAILED || mprotect(m, 4096, PROT_WRITE | PROT_EXEC) != -1 || errno != EPERM)
		return 14; /* never writable and executable */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 0;
	if (fd < 0 || ioctl(fd, 0x80086601 /* FS_IOC_GETFLAGS */, &flags) != -1 || errno != ENOTTY)
		return 15;
	errno = 0;
	if (setrlimit(RLIMIT_NOFILE, &rl) != -1 || errno != EPERM)
		return 16;
	return 0;
}

static void refused_forms_fail_with_their_error(void **state)
{
	(void)state;
	expect_success(refused_forms);
}

/* ---- anything else stops the process, naming the call ---- */

static int call_execve(void)
{
	char *argv[] = {"/bin/true", NULL};
	if (enter())
		return 10;
	execve("/bin/true", argv, NULL);
	return 20; /* not reached: refused by stopping */
}

static int call_ptrace(void)
{
	if (enter())
		return 10;
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 20;
}

static int call_unshare(void)
{
	if (enter())
		return 10;
	unshare(CLONE_NEWUSER);
	return 20;
}

static int call_tiocsti(void)
{
	char ch = 'x';
	if (enter())
		return 10;
	ioctl(STDIN_FILENO, TIOCSTI, &ch);
	return 20;
}

static int call_dumpable(void)
{
	if (enter())
		return 10;
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 20;
}

static int call_bind(void)
{
	int fd;
	if (enter())
		return 10;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	listen(fd, 1); /* no new listening sockets */
	return 20;
}

static int call_tgkill_other(void)
{
	pid_t parent = getppid();
	if (enter())
		return 10;
	syscall(SYS_tgkill, parent, parent, 0); /* signal 0: only asks */
	return 20;
}

/* A thread started before the filter is under it too. */
static int go[2];
static void *ptrace_later(void *arg)
{
	char c;
	(void)arg;
	if (read(go[0], &c, 1) == 1)
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return NULL;
}

static int call_in_older_thread(void)
{
	pthread_t t;
	if (pipe(go) || pthread_create(&t, NULL, ptrace_later, NULL))
		return 9;
	if (enter())
		return 10;
	if (write(go[1], "g", 1) != 1)
		return 11;
	pthread_join(t, NULL);
	return 20;
}

static void *execve_in_thread(void *arg)
{
	char *argv[] = {"/bin/true", NULL};
	(void)arg;
	execve("/bin/true", argv, NULL);
	return NULL;
}

static int call_in_newer_thread(void)
{
	pthread_t t;
	if (enter() || pthread_create(&t, NULL, execve_in_thread, NULL))
		return 10;
	pthread_join(t, NULL);
	return 20;
}

static void anything_else_stops_the_process(void **state)
{
	static const struct {
		int (*fn)(void);
		const char *name;
	} cases[] = {
		{call_execve, "execve"},   {call_ptrace, "ptrace"},
		{call_unshare, "unshare"}, {call_tiocsti, "ioctl"},
		{call_dumpable, "prctl"},  {call_bind, "listen"},
		{call_in_older_thread, "ptrace"}, {call_in_newer_thread, "execve"},
		{call_tgkill_other, "tgkill"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[1024], want[128];
		int st = in_child(cases[i].fn, err, sizeof err);

		if (!WIFEXITED(st) || WEXITSTATUS(st) != SANDBOX_EXIT)
			fail_msg("case %s: status %#x, stderr: %s", cases[i].name, st, err);
		snprintf(want, sizeof want, "stopped the server: %s is not allowed", cases[i].name);
		if (!strstr(err, want))
			fail_msg("case %s: stderr does not name the call: %s", cases[i].name, err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(server_work_goes_on),
		cmocka_unit_test(refused_forms_fail_with_their_error),
		cmocka_unit_test(anything_else_stops_the_process),
	};
#ifdef UNDER_TSAN
	/* ThreadSanitizer's runtime makes calls of its own that a server's filter
	 * does not allow; the plain and ASan builds run these tests. */
	printf("test_sandbox: skipped under ThreadSanitizer\n");
	(void)tests;
	return 77; /* ctest: skipped */
#else
	return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
