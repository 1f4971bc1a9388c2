/*
 * The process sandbox: one command in new mount, pid, uts and ipc namespaces (and a new network
 * namespace unless host networking), pivot_root'ed into a prepared rootfs, with docker's view of
 * the system: a fresh /proc with docker's masked and read-only paths, /sys read-only, a minimal
 * /dev on tmpfs, bind-mounted /etc/{resolv.conf,hosts,hostname}, the caller's extra mounts,
 * docker's default capability set (the rest dropped from the bounding set), no_new_privs, the
 * given uid/gid/groups and, last before exec, docker's default seccomp profile (cbuild/seccomp.h).
 * No cgroups here: the parent writes the child's pid into the given cgroup.procs files before the
 * child is let go.
 *
 * Contract:
 * - cb_sandbox_spawn returns once the child has finished its setup and is about to exec (or
 *   failed setup: then NULL and *err says which step, and the child is reaped).  A failure of
 *   the exec itself (command not found, not executable) is reported by cb_sandbox_wait as
 *   exec_error with code 127 (ENOENT/ENOTDIR) or 126 (anything else), like docker.
 * - The command is PID 1 of its pid namespace: when it dies the kernel kills every other
 *   process inside.  The child gets PR_SET_PDEATHSIG(SIGKILL), so the container also dies with
 *   the thread that spawned it.
 * - Mountpoints that did not exist in the rootfs are created there (empty files or dirs, mode
 *   0755/0644, owned by root) and listed by cb_sandbox_stubs; cb_sandbox_remove_stubs takes
 *   them out again after the run so they never reach a layer.  The cwd is created too when
 *   missing, but it is not a stub: it stays, as docker's WORKDIR does.
 * - All paths inside the rootfs are resolved with openat2(RESOLVE_IN_ROOT): a symlink in the
 *   image can never make a mount land outside the rootfs.
 * - The strings and arrays of a config are borrowed for the duration of cb_sandbox_spawn only.
 * - Hard rlimits are never raised; the child inherits what the caller has.
 */
#ifndef CBUILD_SANDBOX_H
#define CBUILD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/error.h"
#include "cbuild/seccomp.h"

enum cb_sandbox_mount_type {
  CB_SANDBOX_BIND = 1, /* recursive bind of source (a host path) onto target */
  CB_SANDBOX_TMPFS,    /* a fresh tmpfs at target */
};

struct cb_sandbox_mount {
  enum cb_sandbox_mount_type type;
  const char *source; /* bind: host path; tmpfs: ignored */
  const char *target; /* absolute path inside the container */
  bool readonly;
  uint64_t size; /* tmpfs bytes; 0 = the kernel's default (half of RAM) */
  mode_t mode;   /* tmpfs root mode; 0 = 01777 */
};

struct cb_sandbox_config {
  const char *rootfs;      /* host path of the prepared root filesystem (required) */
  const char *const *argv; /* NULL-terminated, argv[0] required */
  const char *const *env;  /* NULL-terminated "K=V"; NULL = empty environment */
  const char *cwd;         /* absolute path inside; NULL = "/" */
  uid_t uid;               /* ids inside (resolved by the caller) */
  gid_t gid;
  const gid_t *groups; /* supplementary groups; ngroups may be 0 */
  size_t ngroups;
  const char *hostname; /* NULL = leave the new uts namespace's copy of the host's */
  bool host_network;    /* true: stay in the caller's network namespace */
  bool host_pid;        /* stay in the caller's pid namespace (run --pid host) */
  bool host_ipc;        /* and ipc namespace, with the host's /dev/shm (--ipc host) */
  bool host_uts;        /* and uts namespace; hostname must then be NULL (--uts host) */
  uint64_t shm_size;    /* bytes of the container's /dev/shm tmpfs; 0 = 64 MiB */
  const char *netns;    /* else join this one (a pinned nsfs path); NULL = a new one */
  const struct cb_sandbox_mount *mounts; /* applied in order, after the standard ones */
  size_t nmounts;
  const char *resolv_conf; /* host files bound onto /etc/...; NULL = leave the rootfs' own */
  const char *hosts;
  const char *etc_hostname;
  const char *const *caps; /* NULL = docker's default set; else names ("CHOWN", "cap_chown") */
  size_t ncaps;
  bool privileged; /* every capability, nothing masked, /sys writable, no seccomp filter */
  enum cb_seccomp_mode seccomp; /* 0: docker's default profile, for the capabilities kept */
  const char *seccomp_profile;  /* the docker JSON profile for CB_SECCOMP_PROFILE */
  const char *seccomp_cache;    /* directory keeping compiled filters; NULL = none */
  bool readonly_rootfs;
  int stdio[3]; /* fds for 0, 1, 2; -1 = inherit the caller's */
  bool setsid;  /* new session */
  bool ctty;    /* make fd 0 (a pty slave) the controlling terminal; implies setsid */
  const char *const *cgroup_procs; /* cgroup.procs files the parent writes the pid into */
  size_t ncgroup_procs;
};

/* Initialise a config to defaults: everything 0/NULL, stdio inherited. */
CB_API void cb_sandbox_config_init(struct cb_sandbox_config *cfg);

struct cb_sandbox;

struct cb_sandbox_status {
  bool exited;      /* exited normally (true also for exec errors) */
  int code;         /* exit code; 128 + signal when killed; 126/127 for exec errors */
  int signal;       /* terminating signal or 0 */
  char *exec_error; /* NULL, or why the exec failed (docker's wording); owned by the handle */
};

/* Start the sandbox.  Returns the handle or NULL with *err set (nothing left behind). */
CB_API struct cb_sandbox *cb_sandbox_spawn(const struct cb_sandbox_config *cfg,
                                           struct cb_error **err);
/* Host pid of the container's init, and a pidfd for it (owned by the handle, closed by free). */
CB_API pid_t cb_sandbox_pid(const struct cb_sandbox *sb);
CB_API int cb_sandbox_pidfd(const struct cb_sandbox *sb);
/* Reap the init.  With nohang, returns 0 while it still runs; else 1 with *st filled (also on
 * every later call).  -1 with *err on failure. */
CB_API int cb_sandbox_wait(struct cb_sandbox *sb, bool nohang, struct cb_sandbox_status *st,
                           struct cb_error **err);
/* Send a signal to the init (SIGKILL ends the whole container).  A no-op once reaped. */
CB_API int cb_sandbox_kill(struct cb_sandbox *sb, int sig, struct cb_error **err);
/* Paths (inside the rootfs, absolute, in creation order) of the mountpoints created for this
 * run; NULL-terminated, owned by the handle. */
CB_API const char *const *cb_sandbox_stubs(const struct cb_sandbox *sb);
/* Remove the stubs again (newest first), each only if it is still an empty regular file or an
 * empty directory; call after the container ended.  -1 with *err on an unexpected failure. */
CB_API int cb_sandbox_remove_stubs(struct cb_sandbox *sb, struct cb_error **err);
/* SIGKILL and reap the init if it still runs, then free.  NULL is fine. */
CB_API void cb_sandbox_free(struct cb_sandbox *sb);

/* Docker's default capability bounding mask (0xa80425fb). */
#define CB_SANDBOX_DEFAULT_CAPS_MASK UINT64_C(0x00000000a80425fb)

#endif
