/*
 * Processes around containers, outside the sandbox: a detached monitor (double fork, setsid),
 * signals by pid, and a command started inside a running container (exec): it joins the
 * container's ipc, uts, net, pid and mount namespaces through /proc/<pid>/ns, its cgroup, its
 * root, and drops to the given user and docker's capability set and seccomp profile, as the
 * sandbox does.
 *
 * Contract:
 * - cb_proc_spawn_detached returns the pid of a process that is no child of the caller (its
 *   parent exits at once), in a new session, with fds 0-2 from STDIO (-1: /dev/null) and KEEP_FD
 *   (-1: none) kept open at the same number; every other fd is closed.
 * - cb_proc_enter returns once the command is about to exec or failed setup (NULL and *err,
 *   nothing left behind).  Exec failures come back from cb_proc_enter_wait as exec_error with
 *   126/127, like the sandbox.  The command is a child of the caller.
 * - Strings and arrays of a config are borrowed for the call only.
 */
#ifndef CBUILD_PROC_H
#define CBUILD_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/error.h"
#include "cbuild/seccomp.h"

/* Start ARGV (execv, argv[0] a path) detached; returns its pid or -1 with *err. */
CB_API pid_t cb_proc_spawn_detached(const char *const *argv, const int stdio[3], int keep_fd,
                                    struct cb_error **err);

/* kill(2); 0 also when the process is already gone (ESRCH) and GONE (may be NULL) says so. */
CB_API int cb_proc_kill(pid_t pid, int sig, bool *gone, struct cb_error **err);

/* Set this process's resource limit NAME (docker's --ulimit names: "nofile", "nproc", "core",
 * ...) to SOFT and HARD (-1: unlimited); children inherit it.  CB_E_INVALID for an unknown name. */
CB_API int cb_proc_setrlimit(const char *name, int64_t soft, int64_t hard, struct cb_error **err);

struct cb_proc_enter_config {
  pid_t target;            /* host pid of the container's init */
  const char *const *argv; /* NULL-terminated, looked up in the env's PATH */
  const char *const *env;  /* NULL = empty */
  const char *cwd;         /* inside the container; NULL = "/" */
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
  bool host_network;               /* true: the container shares the host's network; do not join */
  bool privileged;                 /* keep every capability, no no_new_privs, no seccomp */
  uint64_t caps;                   /* capability mask to keep (bounding, permitted, effective) */
  enum cb_seccomp_mode seccomp;    /* 0: docker's default profile for CAPS */
  const char *seccomp_profile;     /* the docker JSON profile for CB_SECCOMP_PROFILE */
  const char *seccomp_cache;       /* directory keeping compiled filters; NULL = none */
  int stdio[3];                    /* -1 = inherit */
  bool ctty;                       /* setsid and make fd 0 (a pty slave) the controlling terminal */
  const char *const *cgroup_procs; /* cgroup.procs files the command joins */
  size_t ncgroup_procs;
};

CB_API void cb_proc_enter_config_init(struct cb_proc_enter_config *cfg);

struct cb_proc;

struct cb_proc_status {
  bool exited;
  int code;         /* exit code; 128 + signal when killed; 126/127 for exec errors */
  int signal;       /* terminating signal or 0 */
  char *exec_error; /* owned by the handle */
};

CB_API struct cb_proc *cb_proc_enter(const struct cb_proc_enter_config *cfg, struct cb_error **err);
CB_API pid_t cb_proc_pid(const struct cb_proc *p);
/* Reap it: with nohang 0 while it runs, else 1 with *st (also on every later call). */
CB_API int cb_proc_enter_wait(struct cb_proc *p, bool nohang, struct cb_proc_status *st,
                              struct cb_error **err);
CB_API int cb_proc_enter_kill(struct cb_proc *p, int sig, struct cb_error **err);
/* SIGKILL and reap it if it still runs, then free.  NULL is fine. */
CB_API void cb_proc_free(struct cb_proc *p);

#endif
