/*
 * sandbox — kinko serve's own system-call filter (seccomp, through libseccomp).
 *
 * Once the server is listening, sandbox_enter confines every thread of the
 * process, present and future, to the system calls a running server makes: file
 * and socket I/O on what it has open or opens in its data directory, threads,
 * memory, time, signals, the clamd and journald sockets. Anything else (execve,
 * ptrace, mount, bpf, new namespaces, a new listening socket, ...) stops the
 * process: the call is never run, the offending call's name goes to stderr and
 * the process exits with status SANDBOX_EXIT. A few calls are allowed only in the
 * forms kinko uses, and fail with an error otherwise (they are also made by
 * libraries probing for features, which must not crash the server):
 *   - socket: AF_UNIX only (clamd, journald, syslog), else EAFNOSUPPORT;
 *   - clone: new threads only (CLONE_THREAD), else EPERM: no child processes;
 *     clone3, whose flags a filter cannot read, fails with ENOSYS so that glibc
 *     falls back to clone;
 *   - mmap, mprotect, pkey_mprotect: never writable and executable at once (EPERM);
 *   - ioctl: FIONREAD, FIONBIO, FIOCLEX, FIONCLEX and TCGETS only (ENOTTY);
 *   - prctl: PR_SET_NAME, PR_GET_NAME and PR_GET_DUMPABLE only (EPERM);
 *   - prlimit64: reading a limit only (EPERM).
 * The process also gets no_new_privs: nothing it could execute would gain
 * privileges (and execve is refused anyway).
 *
 * The filter is for x86-64 and the other architectures libseccomp knows; calls
 * that do not exist on the running architecture are skipped.
 */
#ifndef KINKO_CORE_SANDBOX_H
#define KINKO_CORE_SANDBOX_H

#include "core/err.h"

/* Exit status of a process stopped by the filter (128 + SIGSYS, as a shell
 * reports a process killed by SIGSYS). */
#define SANDBOX_EXIT 159

/* Installs the filter in every thread of the calling process (and the SIGSYS
 * handler that reports a refused call). Irreversible. `*allowed` (may be NULL)
 * gets the number of system calls on the allowlist. Fails (changing nothing)
 * when the kernel or libseccomp cannot install it: the caller refuses to serve
 * rather than run unconfined. */
int sandbox_enter(unsigned *allowed, struct kinko_err *e) KINKO_WUR;

#endif
