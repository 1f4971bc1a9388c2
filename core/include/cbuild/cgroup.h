/*
 * Control groups: find where each controller lives (pure v2, pure v1, or a hybrid of v1
 * hierarchies plus a v2 mount that may still own controllers), make one cgroup per container or
 * RUN step, write its limits, move processes in, read usage and OOM kills, and tear it down.
 *
 * Contract:
 * - A layout is a snapshot of /proc/self/mountinfo and /proc/self/cgroup.  It owns its strings;
 *   release it with cb_cgroup_layout_release.  Nothing keeps it open.
 * - A cgroup is named by a path relative to the root of every hierarchy ("cbuild/<id>"; a name
 *   without '/' is put under "cbuild/").  The same name in another process finds the same
 *   cgroup (cb_cgroup_open), so exec, stats and stop need only the name.
 * - Policy (which limits, their values, docker's defaults such as memory-swap = 2 x memory) is
 *   the caller's: this layer writes what it is given and converts units between v1 and v2.
 * - cb_cgroup_remove kills what is left, removes the directories and is idempotent;
 *   cb_cgroup_free never touches the kernel.
 * - Functions return 0 (or a pointer) on success, -1 (or NULL) with *err set on failure.
 */
#ifndef CBUILD_CGROUP_H
#define CBUILD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

enum cb_cgroup_mode {
  CB_CGROUP_V1 = 1,
  CB_CGROUP_V2,
  CB_CGROUP_HYBRID,
};

/* One mounted hierarchy. */
struct cb_cgroup_hier {
  int version;       /* 1 or 2 */
  char *mountpoint;  /* "/sys/fs/cgroup/memory" (with the layout's prefix in front) */
  char *root;        /* the mount's root inside the hierarchy, from mountinfo: usually "/" */
  char *controllers; /* space-separated: v1 from the mount options, v2 from cgroup.controllers */
  char *name;        /* v1 named hierarchy ("systemd" for name=systemd), or NULL */
  char *self;        /* this process's cgroup in it, from /proc/self/cgroup, or NULL */
  bool readonly;
};

struct cb_cgroup_layout {
  enum cb_cgroup_mode mode;
  size_t n;
  struct cb_cgroup_hier *hier;
};

/* Read /proc/self/mountinfo, /proc/self/cgroup and the v2 root's cgroup.controllers. */
CB_API int cb_cgroup_layout_load(struct cb_cgroup_layout *out, struct cb_error **err);
/* The same from given texts; PREFIX (NULL for none) is put in front of every mount point, so a
 * fake tree under a temp directory stands in for /sys/fs/cgroup. */
CB_API int cb_cgroup_layout_parse(struct cb_cgroup_layout *out, const char *mountinfo,
                                  const char *proc_cgroup, const char *prefix,
                                  struct cb_error **err);
CB_API void cb_cgroup_layout_release(struct cb_cgroup_layout *l);
/* The hierarchy where CONTROLLER ("memory", "cpu", "cpuacct", "pids", ...) is available, or
 * NULL.  A controller bound to a v1 hierarchy lives there; otherwise in v2 when the v2 root
 * lists it.  In v2, "cpuacct" is answered by the v2 hierarchy (cpu.stat needs no controller). */
CB_API const struct cb_cgroup_hier *cb_cgroup_layout_find(const struct cb_cgroup_layout *l,
                                                          const char *controller);
CB_API const char *cb_cgroup_mode_name(enum cb_cgroup_mode mode); /* "v1", "v2", "hybrid" */

/* Start a thread that moves the calling process into the cgroup it is already in (a no-op
 * move), and return at once.  Why: moving a process takes the kernel's global
 * cgroup_threadgroup_rwsem for writing, and the first writer after a quiet spell waits for an
 * RCU grace period (some 5-15 ms) where later writers within a grace period of it do not.
 * Called a few milliseconds before a new container joins its cgroup, the thread takes that
 * wait while the caller sets the container up.  Best effort, and at most one thread at a time:
 * nothing is reported, and with no writable hierarchy nothing happens. */
CB_API void cb_cgroup_warm(const struct cb_cgroup_layout *l);

/* Limits.  0 in a field means "leave as is"; -1 means unlimited. */
struct cb_cgroup_limits {
  int64_t memory;      /* bytes */
  int64_t memory_swap; /* docker's meaning: memory + swap, in bytes; needs memory */
  int64_t cpu_quota;   /* microseconds per period */
  int64_t cpu_period;  /* microseconds; 0 with a quota means 100000 */
  int64_t cpu_shares;  /* v1 cpu.shares (2..262144); v2 cpu.weight by runc's conversion */
  int64_t pids;        /* pids.max */
};

struct cb_cgroup_stats {
  int64_t memory; /* bytes in use, -1 when the memory controller is absent */
  int64_t cpu_ns; /* cpu time used, -1 when unknown */
  int64_t pids;   /* pids.current, -1 when the pids controller is absent */
};

struct cb_cgroup_oom {
  uint64_t oom_kill; /* processes killed by the OOM killer in this cgroup */
  uint64_t oom;      /* times the limit was hit: v2 "oom" event, v1 memory.failcnt */
  bool under_oom;    /* v1 only: the cgroup is frozen in OOM right now */
};

struct cb_cgroup;

/* Make NAME in every hierarchy that holds memory, cpu, cpuacct or pids (and, in hybrid mode,
 * the v2 tree too, for cgroup.kill), enabling the v2 controllers it needs on the way down, then
 * write LIM (NULL for none).  An existing cgroup of that name is reused.  On failure nothing
 * created here is left behind.  A limit whose controller is nowhere available fails with
 * CB_E_NOTFOUND; memory_swap is skipped on v1 kernels without swap accounting. */
CB_API struct cb_cgroup *cb_cgroup_create(const struct cb_cgroup_layout *l, const char *name,
                                          const struct cb_cgroup_limits *lim,
                                          struct cb_error **err);
/* An existing cgroup; CB_E_NOTFOUND when NAME exists in no hierarchy. */
CB_API struct cb_cgroup *cb_cgroup_open(const struct cb_cgroup_layout *l, const char *name,
                                        struct cb_error **err);
/* The cgroup.procs file of every hierarchy it lives in (N of them); owned by CG.  Writing a
 * pid into each moves that process in: a sandbox parent does this before its child execs. */
CB_API const char *const *cb_cgroup_procs_paths(const struct cb_cgroup *cg, size_t *n);
/* Its directory in every hierarchy (same order and count as cb_cgroup_procs_paths). */
CB_API const char *const *cb_cgroup_dirs(const struct cb_cgroup *cg, size_t *n);
CB_API const char *cb_cgroup_name(const struct cb_cgroup *cg);
CB_API int cb_cgroup_add(struct cb_cgroup *cg, pid_t pid, struct cb_error **err);
CB_API int cb_cgroup_set_limits(struct cb_cgroup *cg, const struct cb_cgroup_limits *lim,
                                struct cb_error **err);
CB_API int cb_cgroup_stats(struct cb_cgroup *cg, struct cb_cgroup_stats *out,
                           struct cb_error **err);
CB_API int cb_cgroup_oom(struct cb_cgroup *cg, struct cb_cgroup_oom *out, struct cb_error **err);
/* The processes in it, from every hierarchy, sorted, without duplicates; caller frees *pids. */
CB_API int cb_cgroup_pids(struct cb_cgroup *cg, pid_t **pids, size_t *n, struct cb_error **err);
/* Freeze (or thaw) every process in the cgroup, as docker pause: the v1 freezer hierarchy, or
 * v2's cgroup.freeze; returns once the kernel reports it done (5 s at most: ETIMEDOUT). */
CB_API int cb_cgroup_freeze(struct cb_cgroup *cg, bool frozen, struct cb_error **err);
/* SIGKILL everything inside (v2 cgroup.kill where present, else each pid until none is left),
 * then rmdir in every hierarchy, retrying on EBUSY for a few seconds.  Idempotent. */
CB_API int cb_cgroup_remove(struct cb_cgroup *cg, struct cb_error **err);
CB_API void cb_cgroup_free(struct cb_cgroup *cg);

/*
 * Pure parsers and formatters of the cgroup file formats (no I/O), public so that tests and
 * tools use the exact code the layer does.  Parsers return 0, or -1 for malformed input.
 */

/* One /proc/self/mountinfo line, split in place (LINE is modified; fields point into it;
 * octal escapes such as \040 are decoded). */
struct cb_mountinfo {
  char *root, *mountpoint, *mount_opts, *fstype, *source, *super_opts;
};
CB_API int cb_cgroup_parse_mountinfo_line(char *line, struct cb_mountinfo *out);
/* One /proc/self/cgroup line "ID:CONTROLLERS:PATH", split in place. */
CB_API int cb_cgroup_parse_proc_line(char *line, unsigned *id, char **controllers, char **path);
/* The value of KEY in a flat-keyed file ("key value" per line: memory.events, cpu.stat,
 * memory.oom_control); -1 when absent or not a number. */
CB_API int cb_cgroup_keyed_get(const char *text, const char *key, uint64_t *val);
/* A single number or "max" (-1), with optional trailing newline: memory.max, pids.max, ... */
CB_API int cb_cgroup_parse_int(const char *text, int64_t *val);
/* v2 cpu.max "QUOTA PERIOD" or "max PERIOD"; QUOTA -1 for max. */
CB_API int cb_cgroup_parse_cpu_max(const char *text, int64_t *quota, int64_t *period);
/* Write "QUOTA PERIOD" ("max PERIOD" for a negative quota) into BUF. */
CB_API void cb_cgroup_format_cpu_max(char *buf, size_t len, int64_t quota, int64_t period);
/* v1 cpu.shares to v2 cpu.weight, as runc and crun convert: 1 + (shares - 2) * 9999 / 262142,
 * with shares clamped to 2..262144 (so 2 -> 1, 1024 -> 39, 262144 -> 10000). */
CB_API uint64_t cb_cgroup_shares_to_weight(uint64_t shares);
/* v2 memory.swap.max from docker's memory-swap (memory + swap) and memory: -1 stays -1
 * (max); else MEMORY_SWAP - MEMORY, which must not be negative and needs a memory limit. */
CB_API int cb_cgroup_swap_v2(int64_t memory, int64_t memory_swap, int64_t *swap_max,
                             struct cb_error **err);

#endif
