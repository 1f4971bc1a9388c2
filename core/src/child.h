/*
 * Internal helpers shared by sandbox.c and proc.c for a child process that becomes a container's
 * command: the steps it takes between fork (or clone) and exec, and how the parent learns the
 * way it ended.  Not part of the public API (cb__).
 *
 * The child-side functions only make syscalls and format into the caller's buffers, never
 * malloc: they are safe in the child of a raw clone in a threaded process.
 */
#ifndef CBUILD_CHILD_H
#define CBUILD_CHILD_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/seccomp.h"

/* docker's PATH when the environment has none */
#define CB__DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- in the child --------------------------------------------------------------------------- */

/* Every signal back to its default disposition, none blocked. */
void cb__reset_signals(void);

/* Put fds 0-2 in place from STDIO; a -1 gives /dev/null when DEVNULL is set, else leaves that fd
 * alone.  0, or -1 with errno. */
int cb__setup_stdio(const int stdio[3], bool devnull);

struct cb__creds {
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
  uint64_t caps;   /* bit N = capability N to keep */
  bool privileged; /* keep every capability and the bounding set; no no_new_privs */
};

/*
 * Become CR for good: drop every capability not in CR->caps from the bounding set (unless
 * privileged), clear the ambient set, setgroups, setresgid, setresuid; then install permitted =
 * effective = the kept capabilities (all of them when privileged) for uid 0, none for any other
 * uid, never more than the process has, and an empty inheritable set; last no_new_privs (unless
 * privileged).  0, or -1 with errno kept and WHAT (LEN bytes) naming the step that failed.
 */
int cb__drop_privileges(const struct cb__creds *cr, char *what, size_t len);

/* The search path of ENV (a NULL-terminated "K=V" array): its PATH, else CB__DEFAULT_PATH. */
const char *cb__exec_path(char *const *env);

/* execvp(3) of FILE with ENV, searching PATH when FILE has no slash.  Returns only on failure,
 * with the errno to report (EACCES if any candidate was not executable and none ran). */
int cb__execvpe(const char *file, char *const *argv, char *const *env, const char *path);

/* The exit code docker gives an exec failure with ERRNUM: 127 not found, 126 anything else. */
static inline int
cb__exec_code(int errnum)
{
  return errnum == ENOENT || errnum == ENOTDIR ? 127 : 126;
}

/* ---- in the parent -------------------------------------------------------------------------- */

/* The filter a container's command gets, in *OUT: none (NULL) when privileged (docker's rule),
 * else what MODE and PROFILE ask for, compiled for CAPS (cb_seccomp_for).  0, or -1 with *err. */
int cb__child_seccomp(bool privileged, enum cb_seccomp_mode mode, const char *profile,
                      uint64_t caps, const char *cache_dir, struct cb_seccomp **out,
                      struct cb_error **err);
void cb__seccomp_freep(struct cb_seccomp **f);
#define cb_autoseccomp __attribute__((cleanup(cb__seccomp_freep)))

/* docker's message for an exec of FILE that failed with ERRNUM (malloc'ed). */
char *cb__exec_error(const char *file, int errnum);

/* waitid(2) for our child PID, retried on EINTR.  1 once it ended, with *EXITED, *CODE (128 +
 * signal when killed) and *SIGNAL (0 unless killed); 0 while it runs (NOHANG only); -1 with
 * errno. */
int cb__wait_exit(pid_t pid, bool nohang, bool *exited, int *code, int *signal);

/* Reap PID (blocking, retried on EINTR), ignoring how it ended. */
void cb__reap(pid_t pid);

#endif
