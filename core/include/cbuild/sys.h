/*
 * Process and machine facts: ids, clocks, terminal, uname, hostname, CPU count, umask.
 *
 * These cannot fail in practice except where noted; the ones that can follow error.h.
 */
#ifndef CBUILD_SYS_H
#define CBUILD_SYS_H

#include <stdbool.h>
#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

/* CLOCK_REALTIME as seconds and nanoseconds. */
CB_API void cb_sys_clock_realtime(int64_t *sec, long *nsec);
/* 1 when FD is a terminal. */
CB_API bool cb_sys_isatty(int fd);

struct cb_uname {
  char sysname[65];
  char release[65];
  char machine[65];
};
CB_API int cb_sys_uname(struct cb_uname *u, struct cb_error **err);
/* The host name; caller frees. */
CB_API char *cb_sys_hostname(struct cb_error **err);
/* Number of online CPUs (at least 1). */
CB_API long cb_sys_nproc(void);
/* The current umask, without changing it. */
CB_API mode_t cb_sys_umask_get(void);
/* Set the umask; returns the previous one. */
CB_API mode_t cb_sys_umask_set(mode_t mask);

/* File descriptors for the event loop that drives sandboxed steps: a CLOEXEC pipe, reads that
 * retry on EINTR (0 at end of file), and poll(2) on a set of fds (EINTR counts as a timeout). */
CB_API int cb_sys_pipe(int fds[2], struct cb_error **err);
CB_API ssize_t cb_sys_read(int fd, void *buf, size_t len, struct cb_error **err);
CB_API int cb_sys_write_all(int fd, const void *buf, size_t len, struct cb_error **err);
CB_API int cb_sys_poll(struct pollfd *fds, size_t n, int timeout_ms, struct cb_error **err);
CB_API void cb_sys_close(int fd);

/* Take an exclusive flock(2) on path (a file or directory) without waiting: the locked fd
 * (close it to release), -2 when another open file holds the lock, -1 on error. */
CB_API int cb_sys_try_lock(const char *path, struct cb_error **err);

/* Block SIGS (n of them) in this process and return a signalfd that reports them, so an event
 * loop can clean up (kill the step, unmount) on Ctrl-C instead of dying mid-way.  Children
 * must unblock them (the sandbox resets its signal mask).  cb_sys_signals_unblock undoes it. */
CB_API int cb_sys_signalfd(const int *sigs, size_t n, struct cb_error **err);
/* The next signal number from a signalfd, or 0 when none is pending. */
CB_API int cb_sys_read_signal(int fd, struct cb_error **err);
CB_API void cb_sys_signals_unblock(const int *sigs, size_t n);

#endif
