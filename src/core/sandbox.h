/*
 * sandbox — kinko serve's own system-call filter (seccomp, through libseccomp).
 *
 * Once the server's port is bound (and before anything is served),
 * sandbox_enter confines every thread of the process, present and future, to the
 * system calls a running server makes: file and socket I/O on what it has open
 * or opens (paths are not checked: that is the account's job), threads,
 * memory, time, signals, the clamd and journald sockets. Anything else (execve,
 * ptrace, mount, bpf, new namespaces, a new listening socket, ...) stops the
 * process: the call is never run, the offending call's name goes to stderr and
 * the process exits with status SANDBOX_EXIT. A few calls are allowed only in the
 * forms kinko uses. Where libraries may probe for a feature, other forms fail with
 * an error instead of stopping the server:
 *   - socket: AF_UNIX only (clamd, journald, syslog), else EAFNOSUPPORT;
 *   - clone: new threads only (CLONE_THREAD), else EPERM: no child processes;
 *     clone3, whose flags a filter cannot read, fails with ENOSYS so that glibc
 *     falls back to clone;
 *   - mmap, mprotect, pkey_mprotect: never writable and executable at once (EPERM;
 *     a mapping written first and made executable later is not prevented);
 *   - ioctl: FIONREAD, FIONBIO, FIOCLEX, FIONCLEX and TCGETS; requests outside
 *     their range (0x5401-0x5451 on x86-64 and arm64) fail with ENOTTY; the other
 *     terminal requests inside it (TIOCSTI among them) stop the process;
 *   - prlimit64: reading a limit only (EPERM).
 * and others stop the process in any other form:
 *   - prctl: PR_SET_NAME, PR_GET_NAME and PR_GET_DUMPABLE only;
 *   - tgkill: to this process's own threads only (raise, abort).
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
