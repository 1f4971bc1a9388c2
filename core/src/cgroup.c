/*
 * The cgroup layer's kernel half: one directory per hierarchy for a container, its limits, its
 * processes, its usage, and its removal.  Formats and unit conversions live in cgroup_fmt.c.
 */
#include "cbuild/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Controllers this layer drives, in the order hierarchies are created. */
enum { C_MEMORY, C_CPU, C_CPUACCT, C_PIDS, C_FREEZER, C_COUNT };
static const char *const ctl_names[C_COUNT] = { "memory", "cpu", "cpuacct", "pids", "freezer" };

struct cg_dir {
  int version;
  char *mount; /* the hierarchy's mount point */
  char *dir;   /* mount + "/" + name */
  bool created;
};

struct cb_cgroup {
  char *name; /* relative to every hierarchy's root */
  size_t n;
  struct cg_dir *d;
  char **dirs;     /* d[i].dir, for cb_cgroup_dirs */
  char **procs;    /* d[i].dir + "/cgroup.procs" */
  int at[C_COUNT]; /* index into d of each used controller, or -1 */
  bool removed;
};

static void
sleep_ms(long ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* A relative path of plain components: no "", ".", ".." and no leading '/'. */
static int
check_name(const char *name, struct cb_error **err)
{
  const char *p = name;
  if (*p == '\0' || *p == '/')
    return cb_error_set(err, CB_E_INVALID, 0, "invalid cgroup name '%s'", name);
  while (*p != '\0') {
    size_t n = strcspn(p, "/");
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
        memchr(p, '\n', n) != NULL)
      return cb_error_set(err, CB_E_INVALID, 0, "invalid cgroup name '%s'", name);
    p += n;
    if (*p == '/')
      p++;
  }
  return 0;
}

static bool
has_file(const char *dir, const char *file)
{
  cb_autofree char *path = cb__xasprintf("%s/%s", dir, file);
  return access(path, F_OK) == 0;
}

static int
write_file(const char *dir, const char *file, const char *value, struct cb_error **err)
{
  cb_autofree char *path = cb__xasprintf("%s/%s", dir, file);
  cb_autoclose int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  size_t len = strlen(value);
  ssize_t n;

  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
  /* one write(2): cgroupfs takes a value per write call */
  do
    n = write(fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return cb_error_set(err, CB_E_SYS, errno, "write '%s' to '%s'", value, path);
  if ((size_t)n != len)
    return cb_error_set(err, CB_E_SYS, EIO, "write '%s' to '%s'", value, path);
  return 0;
}

static int
write_int(const char *dir, const char *file, int64_t v, bool v2, struct cb_error **err)
{
  char buf[32];
  if (v < 0)
    snprintf(buf, sizeof buf, "%s", v2 ? "max" : "-1");
  else
    snprintf(buf, sizeof buf, "%" PRId64, v);
  return write_file(dir, file, buf, err);
}

static int
read_text(const char *dir, const char *file, char **out, struct cb_error **err)
{
  cb_autofree char *path = cb__xasprintf("%s/%s", dir, file);
  return cb__read_file_at(AT_FDCWD, path, out, NULL, err);
}

static int
read_int(const char *dir, const char *file, int64_t *v, struct cb_error **err)
{
  cb_autofree char *text = NULL;
  if (read_text(dir, file, &text, err) < 0)
    return -1;
  if (cb_cgroup_parse_int(text, v) < 0)
    return cb_error_set(err, CB_E_INVALID, 0, "unexpected content in '%s/%s'", dir, file);
  return 0;
}

static int
read_keyed(const char *dir, const char *file, const char *key, uint64_t *v, bool *found,
           struct cb_error **err)
{
  cb_autofree char *text = NULL;
  if (read_text(dir, file, &text, err) < 0)
    return -1;
  *found = cb_cgroup_keyed_get(text, key, v) == 0;
  return 0;
}

void
cb_cgroup_free(struct cb_cgroup *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n; i++) {
    free(cg->d[i].mount);
    free(cg->d[i].dir);
    free(cg->procs[i]);
  }
  free(cg->d);
  free(cg->dirs);
  free(cg->procs);
  free(cg->name);
  free(cg);
}

static size_t
add_dir(struct cb_cgroup *cg, const struct cb_cgroup_hier *h)
{
  struct cg_dir *d;
  for (size_t i = 0; i < cg->n; i++)
    if (strcmp(cg->d[i].mount, h->mountpoint) == 0)
      return i;
  cg->d = cb__xrealloc(cg->d, (cg->n + 1) * sizeof *cg->d);
  d = &cg->d[cg->n];
  d->version = h->version;
  d->mount = cb__xstrdup(h->mountpoint);
  d->dir = cb__xasprintf("%s/%s", h->mountpoint, cg->name);
  d->created = false;
  return cg->n++;
}

static void
finish_paths(struct cb_cgroup *cg)
{
  cg->dirs = cb__xcalloc(cg->n, sizeof *cg->dirs);
  cg->procs = cb__xcalloc(cg->n, sizeof *cg->procs);
  for (size_t i = 0; i < cg->n; i++) {
    cg->dirs[i] = cg->d[i].dir;
    cg->procs[i] = cb__xasprintf("%s/cgroup.procs", cg->d[i].dir);
  }
}

/* Forget hierarchy I (an optional tree we could not use, or one where an opened cgroup is
 * absent); controllers that lived there become unavailable. */
static void
drop_dir(struct cb_cgroup *cg, size_t i)
{
  free(cg->d[i].mount);
  free(cg->d[i].dir);
  free(cg->procs[i]);
  memmove(&cg->d[i], &cg->d[i + 1], (cg->n - i - 1) * sizeof *cg->d);
  memmove(&cg->procs[i], &cg->procs[i + 1], (cg->n - i - 1) * sizeof *cg->procs);
  cg->n--;
  for (size_t k = 0; k < cg->n; k++)
    cg->dirs[k] = cg->d[k].dir;
  for (int c = 0; c < C_COUNT; c++)
    if (cg->at[c] == (int)i)
      cg->at[c] = -1;
    else if (cg->at[c] > (int)i)
      cg->at[c]--;
}

static bool
holds_controller(const struct cb_cgroup *cg, size_t i)
{
  for (int c = 0; c < C_COUNT; c++)
    if (cg->at[c] == (int)i)
      return true;
  return false;
}

/* The hierarchies a cgroup named NAME lives in: one for each used controller that is
 * available, plus the v2 tree in hybrid mode (for cgroup.kill and process tracking). */
static struct cb_cgroup *
plan(const struct cb_cgroup_layout *l, const char *name, struct cb_error **err)
{
  struct cb_cgroup *cg;

  if (check_name(name, err) < 0)
    return NULL;
  cg = cb__xcalloc(1, sizeof *cg);
  cg->name = strchr(name, '/') != NULL ? cb__xstrdup(name) : cb__xasprintf("cbuild/%s", name);
  for (int c = 0; c < C_COUNT; c++) {
    const struct cb_cgroup_hier *h = cb_cgroup_layout_find(l, ctl_names[c]);
    cg->at[c] = h != NULL && !h->readonly ? (int)add_dir(cg, h) : -1;
  }
  if (l->mode == CB_CGROUP_HYBRID)
    for (size_t i = 0; i < l->n; i++)
      if (l->hier[i].version == 2 && !l->hier[i].readonly)
        add_dir(cg, &l->hier[i]);
  finish_paths(cg);
  return cg;
}

/* v2: turn on in DIR's cgroup.subtree_control the controllers of WANT not yet there, in one
 * write ("+memory +pids"). */
static int
enable_controllers(const char *dir, const char *const *want, size_t nwant, struct cb_error **err)
{
  cb_autofree char *have = NULL;
  char line[128] = "";
  size_t used = 0;

  if (read_text(dir, "cgroup.subtree_control", &have, err) < 0)
    return -1;
  for (size_t i = 0; i < nwant; i++) {
    size_t wl = strlen(want[i]);
    bool on = false;
    for (const char *p = have; *p != '\0';) {
      size_t n = strcspn(p, " \n");
      if (n == wl && memcmp(p, want[i], n) == 0)
        on = true;
      p += n;
      p += strspn(p, " \n");
    }
    if (!on)
      used += (size_t)snprintf(line + used, sizeof line - used, "%s+%s", used ? " " : "", want[i]);
  }
  if (used == 0)
    return 0;
  if (write_file(dir, "cgroup.subtree_control", line, err) < 0) {
    if ((*err)->errnum == EBUSY)
      cb_error_wrap(err, "cgroup '%s' holds processes, so it cannot delegate controllers", dir);
    return -1;
  }
  return 0;
}

/* mkdir every level of D's path below its mount; in v2 enable the controllers that live in
 * this hierarchy at each level above the leaf (the leaf holds the processes: "no internal
 * processes" means only leaves may). */
static int
make_dir(struct cb_cgroup *cg, size_t i, struct cb_error **err)
{
  struct cg_dir *d = &cg->d[i];
  const char *want[C_COUNT];
  size_t nwant = 0;
  cb_autofree char *level = cb__xstrdup(d->mount);
  const char *p = cg->name;

  if (d->version == 2)
    for (int c = 0; c < C_COUNT; c++)
      if (cg->at[c] == (int)i && c != C_CPUACCT)
        want[nwant++] = ctl_names[c];
  while (*p != '\0') {
    size_t n = strcspn(p, "/");
    char *next;
    bool leaf = p[n] == '\0';

    if (nwant > 0 && enable_controllers(level, want, nwant, err) < 0)
      return -1;
    next = cb__xasprintf("%s/%.*s", level, (int)n, p);
    free(level);
    level = next;
    if (mkdir(level, 0755) == 0) {
      if (leaf)
        d->created = true;
    } else if (errno != EEXIST) {
      return cb_error_set(err, CB_E_SYS, errno, "create cgroup '%s'", level);
    }
    p += n;
    if (*p == '/')
      p++;
  }
  return 0;
}

static int
rmdir_retry(const char *dir, struct cb_error **err)
{
  for (int tries = 0;; tries++) {
    if (rmdir(dir) == 0 || errno == ENOENT)
      return 0;
    if (errno != EBUSY || tries >= 100)
      return cb_error_set(err, CB_E_SYS, errno, "remove cgroup '%s'", dir);
    sleep_ms(50);
  }
}

static bool
wants_memory(const struct cb_cgroup_limits *lim)
{
  return lim->memory != 0 || lim->memory_swap != 0;
}

static bool
wants_cpu(const struct cb_cgroup_limits *lim)
{
  return lim->cpu_quota != 0 || lim->cpu_period != 0 || lim->cpu_shares != 0;
}

static int
set_memory(struct cb_cgroup *cg, const struct cb_cgroup_limits *lim, struct cb_error **err)
{
  const struct cg_dir *d = &cg->d[cg->at[C_MEMORY]];
  int64_t swap_max = -1;

  if (lim->memory_swap != 0 && cb_cgroup_swap_v2(lim->memory, lim->memory_swap, &swap_max, err))
    return -1;
  if (d->version == 2) {
    if (lim->memory != 0 && write_int(d->dir, "memory.max", lim->memory, true, err) < 0)
      return -1;
    if (lim->memory_swap != 0 && has_file(d->dir, "memory.swap.max") &&
        write_int(d->dir, "memory.swap.max", swap_max, true, err) < 0)
      return -1;
    return 0;
  }
  /* v1 insists memsw >= memory at every moment: when the memory limit grows (or memsw goes
   * unlimited) write memsw first, else memory first */
  bool memsw = lim->memory_swap != 0 && has_file(d->dir, "memory.memsw.limit_in_bytes");
  bool memsw_first = false;
  if (memsw) {
    int64_t cur;
    if (read_int(d->dir, "memory.limit_in_bytes", &cur, err) < 0)
      return -1;
    memsw_first = lim->memory_swap < 0 || lim->memory < 0 || (cur >= 0 && lim->memory > cur);
  }
  if (memsw_first &&
      write_int(d->dir, "memory.memsw.limit_in_bytes", lim->memory_swap, false, err) < 0)
    return -1;
  if (lim->memory != 0 && write_int(d->dir, "memory.limit_in_bytes", lim->memory, false, err) < 0)
    return -1;
  if (memsw && !memsw_first &&
      write_int(d->dir, "memory.memsw.limit_in_bytes", lim->memory_swap, false, err) < 0)
    return -1;
  return 0;
}

static int
set_cpu(struct cb_cgroup *cg, const struct cb_cgroup_limits *lim, struct cb_error **err)
{
  const struct cg_dir *d = &cg->d[cg->at[C_CPU]];
  int64_t period = lim->cpu_period > 0 ? lim->cpu_period : 100000;

  if (d->version == 2) {
    if (lim->cpu_quota != 0 || lim->cpu_period != 0) {
      char buf[64];
      int64_t quota = lim->cpu_quota > 0 ? lim->cpu_quota : -1;
      cb_cgroup_format_cpu_max(buf, sizeof buf, quota, period);
      if (write_file(d->dir, "cpu.max", buf, err) < 0)
        return -1;
    }
    if (lim->cpu_shares > 0) {
      char buf[32];
      snprintf(buf, sizeof buf, "%" PRIu64, cb_cgroup_shares_to_weight((uint64_t)lim->cpu_shares));
      if (write_file(d->dir, "cpu.weight", buf, err) < 0)
        return -1;
    }
    return 0;
  }
  if (lim->cpu_period != 0 && write_int(d->dir, "cpu.cfs_period_us", period, false, err) < 0)
    return -1;
  if (lim->cpu_quota != 0 && write_int(d->dir, "cpu.cfs_quota_us", lim->cpu_quota, false, err) < 0)
    return -1;
  if (lim->cpu_shares > 0 && write_int(d->dir, "cpu.shares", lim->cpu_shares, false, err) < 0)
    return -1;
  return 0;
}

/* Fail before touching anything when a limit has no controller to go to. */
static int
check_controllers(const struct cb_cgroup *cg, const struct cb_cgroup_limits *lim,
                  struct cb_error **err)
{
  if (lim == NULL)
    return 0;
  if (wants_memory(lim) && cg->at[C_MEMORY] < 0)
    return cb_error_set(err, CB_E_NOTFOUND, 0, "the memory cgroup controller is not available");
  if (wants_cpu(lim) && cg->at[C_CPU] < 0)
    return cb_error_set(err, CB_E_NOTFOUND, 0, "the cpu cgroup controller is not available");
  if (lim->pids != 0 && cg->at[C_PIDS] < 0)
    return cb_error_set(err, CB_E_NOTFOUND, 0, "the pids cgroup controller is not available");
  return 0;
}

int
cb_cgroup_set_limits(struct cb_cgroup *cg, const struct cb_cgroup_limits *lim,
                     struct cb_error **err)
{
  if (lim == NULL)
    return 0;
  if (check_controllers(cg, lim, err) < 0)
    return -1;
  if (wants_memory(lim) && set_memory(cg, lim, err) < 0)
    return cb_error_wrap(err, "set memory limit of cgroup '%s'", cg->name);
  if (wants_cpu(lim) && set_cpu(cg, lim, err) < 0)
    return cb_error_wrap(err, "set cpu limit of cgroup '%s'", cg->name);
  if (lim->pids != 0 && write_int(cg->d[cg->at[C_PIDS]].dir, "pids.max", lim->pids, true, err) < 0)
    return cb_error_wrap(err, "set pids limit of cgroup '%s'", cg->name);
  return 0;
}

struct cb_cgroup *
cb_cgroup_create(const struct cb_cgroup_layout *l, const char *name,
                 const struct cb_cgroup_limits *lim, struct cb_error **err)
{
  struct cb_cgroup *cg = plan(l, name, err);

  if (cg == NULL)
    return NULL;
  if (cg->n == 0) {
    cb_error_set(err, CB_E_NOTFOUND, 0, "no writable cgroup hierarchy holds memory, cpu or pids");
    cb_cgroup_free(cg);
    return NULL;
  }
  if (check_controllers(cg, lim, err) < 0) {
    cb_cgroup_free(cg);
    return NULL;
  }
  for (size_t i = 0; i < cg->n;) {
    if (make_dir(cg, i, err) == 0) {
      i++;
    } else if (!holds_controller(cg, i)) {
      cb_error_free(err); /* hybrid's v2 tree only tracks processes: do without it */
      drop_dir(cg, i);
    } else {
      goto fail;
    }
  }
  if (cb_cgroup_set_limits(cg, lim, err) < 0)
    goto fail;
  return cg;

fail:
  for (size_t i = cg->n; i-- > 0;)
    if (cg->d[i].created)
      rmdir(cg->d[i].dir);
  cb_cgroup_free(cg);
  return NULL;
}

struct cb_cgroup *
cb_cgroup_open(const struct cb_cgroup_layout *l, const char *name, struct cb_error **err)
{
  struct cb_cgroup *cg = plan(l, name, err);
  struct stat st;
  size_t found = 0;

  if (cg == NULL)
    return NULL;
  for (size_t i = 0; i < cg->n;) {
    if (stat(cg->d[i].dir, &st) == 0 && S_ISDIR(st.st_mode)) {
      found++;
      i++;
    } else {
      drop_dir(cg, i);
    }
  }
  if (found == 0) {
    cb_error_set(err, CB_E_NOTFOUND, 0, "cgroup '%s' does not exist", cg->name);
    cb_cgroup_free(cg);
    return NULL;
  }
  return cg;
}

const char *const *
cb_cgroup_procs_paths(const struct cb_cgroup *cg, size_t *n)
{
  *n = cg->n;
  return (const char *const *)cg->procs;
}

const char *const *
cb_cgroup_dirs(const struct cb_cgroup *cg, size_t *n)
{
  *n = cg->n;
  return (const char *const *)cg->dirs;
}

const char *
cb_cgroup_name(const struct cb_cgroup *cg)
{
  return cg->name;
}

int
cb_cgroup_add(struct cb_cgroup *cg, pid_t pid, struct cb_error **err)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%d", (int)pid);
  for (size_t i = 0; i < cg->n; i++)
    if (write_file(cg->d[i].dir, "cgroup.procs", buf, err) < 0)
      return cb_error_wrap(err, "add process %d to cgroup '%s'", (int)pid, cg->name);
  return 0;
}

int
cb_cgroup_stats(struct cb_cgroup *cg, struct cb_cgroup_stats *out, struct cb_error **err)
{
  out->memory = out->cpu_ns = out->pids = -1;
  if (cg->at[C_MEMORY] >= 0) {
    const struct cg_dir *d = &cg->d[cg->at[C_MEMORY]];
    if (read_int(d->dir, d->version == 2 ? "memory.current" : "memory.usage_in_bytes", &out->memory,
                 err) < 0)
      return cb_error_wrap(err, "read memory usage of cgroup '%s'", cg->name);
  }
  if (cg->at[C_CPUACCT] >= 0) {
    const struct cg_dir *d = &cg->d[cg->at[C_CPUACCT]];
    if (d->version == 2) {
      uint64_t usec;
      bool found;
      if (read_keyed(d->dir, "cpu.stat", "usage_usec", &usec, &found, err) < 0)
        return cb_error_wrap(err, "read cpu usage of cgroup '%s'", cg->name);
      if (found)
        out->cpu_ns = (int64_t)(usec * 1000);
    } else if (read_int(d->dir, "cpuacct.usage", &out->cpu_ns, err) < 0) {
      return cb_error_wrap(err, "read cpu usage of cgroup '%s'", cg->name);
    }
  }
  if (cg->at[C_PIDS] >= 0 && read_int(cg->d[cg->at[C_PIDS]].dir, "pids.current", &out->pids, err))
    return cb_error_wrap(err, "read pids of cgroup '%s'", cg->name);
  return 0;
}

int
cb_cgroup_oom(struct cb_cgroup *cg, struct cb_cgroup_oom *out, struct cb_error **err)
{
  const struct cg_dir *d;
  uint64_t v;
  bool found;

  memset(out, 0, sizeof *out);
  if (cg->at[C_MEMORY] < 0)
    return 0;
  d = &cg->d[cg->at[C_MEMORY]];
  if (d->version == 2) {
    if (read_keyed(d->dir, "memory.events", "oom_kill", &out->oom_kill, &found, err) < 0 ||
        read_keyed(d->dir, "memory.events", "oom", &out->oom, &found, err) < 0)
      return cb_error_wrap(err, "read OOM events of cgroup '%s'", cg->name);
    return 0;
  }
  if (read_keyed(d->dir, "memory.oom_control", "under_oom", &v, &found, err) < 0)
    return cb_error_wrap(err, "read OOM state of cgroup '%s'", cg->name);
  out->under_oom = found && v != 0;
  if (read_keyed(d->dir, "memory.oom_control", "oom_kill", &out->oom_kill, &found, err) < 0)
    return cb_error_wrap(err, "read OOM state of cgroup '%s'", cg->name);
  if (!found) /* kernels before 4.13 count no kills: being stuck in OOM is the best sign */
    out->oom_kill = out->under_oom ? 1 : 0;
  if (has_file(d->dir, "memory.failcnt")) {
    int64_t fc;
    if (read_int(d->dir, "memory.failcnt", &fc, err) < 0)
      return cb_error_wrap(err, "read OOM state of cgroup '%s'", cg->name);
    out->oom = (uint64_t)(fc < 0 ? 0 : fc);
  }
  return 0;
}

static int
cmp_pid(const void *a, const void *b)
{
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return x < y ? -1 : x > y;
}

/* Does DIR/FILE hold WANT (up to a newline)?  A read error counts as no. */
static bool
file_says(const char *dir, const char *file, const char *want)
{
  cb_autofree char *text = NULL;
  struct cb_error *e = NULL;

  if (read_text(dir, file, &text, &e) < 0) {
    cb_error_free(&e);
    return false;
  }
  return strncmp(text, want, strlen(want)) == 0;
}

int
cb_cgroup_freeze(struct cb_cgroup *cg, bool frozen, struct cb_error **err)
{
  const char *dir = NULL, *file, *value, *done_file, *done;

  if (cg->at[C_FREEZER] >= 0 && cg->d[cg->at[C_FREEZER]].version == 1) {
    dir = cg->d[cg->at[C_FREEZER]].dir;
    file = "freezer.state", value = frozen ? "FROZEN" : "THAWED";
    done_file = "freezer.state", done = value;
  } else {
    for (size_t i = 0; i < cg->n && dir == NULL; i++)
      if (cg->d[i].version == 2 && has_file(cg->d[i].dir, "cgroup.freeze"))
        dir = cg->d[i].dir;
    file = "cgroup.freeze", value = frozen ? "1" : "0";
    done_file = "cgroup.events", done = NULL;
  }
  if (dir == NULL)
    return cb_error_set(err, CB_E_SYS, ENOTSUP, "cgroup '%s': no freezer on this machine",
                        cg->name);
  if (write_file(dir, file, value, err) < 0)
    return -1;
  /* the kernel gets there asynchronously (v1 may sit in FREEZING): wait for it, 5 s at most */
  for (int i = 0; i < 500; i++) {
    bool there;
    if (done != NULL) {
      there = file_says(dir, done_file, done);
    } else {
      cb_autofree char *text = NULL;
      uint64_t v = 0;
      struct cb_error *e = NULL;
      there = read_text(dir, done_file, &text, &e) == 0 &&
              cb_cgroup_keyed_get(text, "frozen", &v) == 0 && v == (frozen ? 1 : 0);
      cb_error_free(&e);
    }
    if (there)
      return 0;
    if (frozen && done != NULL && i % 10 == 9)
      write_file(dir, file, value, &(struct cb_error *){ NULL }); /* v1: retry a stuck FREEZING */
    sleep_ms(10);
  }
  return cb_error_set(err, CB_E_SYS, ETIMEDOUT, "cgroup '%s': %s did not take effect", cg->name,
                      frozen ? "freezing" : "thawing");
}

int
cb_cgroup_pids(struct cb_cgroup *cg, pid_t **pids, size_t *n, struct cb_error **err)
{
  pid_t *out = NULL;
  size_t used = 0, cap = 0, uniq = 0;

  for (size_t i = 0; i < cg->n; i++) {
    cb_autofree char *text = NULL;
    struct cb_error *e = NULL;
    if (cb__read_file_at(AT_FDCWD, cg->procs[i], &text, NULL, &e) < 0) {
      if (e->errnum == ENOENT) { /* not in this hierarchy (anymore) */
        cb_error_free(&e);
        continue;
      }
      free(out);
      *err = e;
      return cb_error_wrap(err, "list processes of cgroup '%s'", cg->name);
    }
    for (char *p = text; *p != '\0';) {
      char *end;
      long v = strtol(p, &end, 10);
      if (end == p)
        break;
      if (used == cap) {
        cap = cap ? cap * 2 : 16;
        out = cb__xrealloc(out, cap * sizeof *out);
      }
      out[used++] = (pid_t)v;
      p = end + strspn(end, "\n");
    }
  }
  if (used > 0) {
    qsort(out, used, sizeof *out, cmp_pid);
    for (size_t i = 0; i < used; i++)
      if (uniq == 0 || out[uniq - 1] != out[i])
        out[uniq++] = out[i];
  }
  *pids = out;
  *n = uniq;
  return 0;
}

/* Kill every process in CG and wait until none is listed (up to about 10 s). */
static int
kill_all(struct cb_cgroup *cg, struct cb_error **err)
{
  for (size_t i = 0; i < cg->n; i++) {
    struct cb_error *e = NULL;
    if (cg->d[i].version == 2 && has_file(cg->d[i].dir, "cgroup.kill") &&
        write_file(cg->d[i].dir, "cgroup.kill", "1", &e) < 0)
      cb_error_free(&e); /* fall back to signalling each process below */
  }
  for (int round = 0;; round++) {
    pid_t *pids;
    size_t n;
    if (cb_cgroup_pids(cg, &pids, &n, err) < 0)
      return -1;
    for (size_t i = 0; i < n; i++) {
      if (pids[i] == getpid()) {
        free(pids);
        return cb_error_set(err, CB_E_SYS, EBUSY, "cgroup '%s' holds the calling process",
                            cg->name);
      }
      if (pids[i] > 0)
        kill(pids[i], SIGKILL);
    }
    free(pids);
    if (n == 0)
      return 0;
    if (round >= 200)
      return cb_error_set(err, CB_E_SYS, EBUSY, "processes of cgroup '%s' survive SIGKILL",
                          cg->name);
    sleep_ms(round < 10 ? 5 : 50);
  }
}

int
cb_cgroup_remove(struct cb_cgroup *cg, struct cb_error **err)
{
  if (cg->removed)
    return 0;
  if (kill_all(cg, err) < 0)
    return cb_error_wrap(err, "remove cgroup '%s'", cg->name);
  for (size_t i = cg->n; i-- > 0;)
    if (rmdir_retry(cg->d[i].dir, err) < 0)
      return -1;
  cg->removed = true;
  return 0;
}

/* The warm-up thread's file: static, so the thread neither allocates nor frees (a fork while
 * it held the allocator's lock would leave the child a locked heap).  Busy while it runs. */
static char warm_procs[PATH_MAX];
static atomic_flag warm_busy = ATOMIC_FLAG_INIT;

static void *
warm_thread(void *arg)
{
  int fd = open(warm_procs, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  (void)arg;
  if (fd >= 0) {
    n = write(fd, "0", 1); /* "0": the writer's own process; its result tells nothing we need */
    (void)n;
    close(fd);
  }
  atomic_flag_clear(&warm_busy);
  return NULL;
}

void
cb_cgroup_warm(const struct cb_cgroup_layout *l)
{
  const struct cb_cgroup_hier *pick = NULL;
  pthread_attr_t attr;
  pthread_t t;
  size_t rootlen;
  int n;

  for (size_t i = 0; i < l->n && pick == NULL; i++) {
    const struct cb_cgroup_hier *h = &l->hier[i];
    rootlen = strcmp(h->root, "/") == 0 ? 0 : strlen(h->root);
    if (!h->readonly && h->self != NULL && strncmp(h->self, h->root, rootlen) == 0 &&
        (h->self[rootlen] == '/' || h->self[rootlen] == '\0'))
      pick = h;
  }
  if (pick == NULL || atomic_flag_test_and_set(&warm_busy))
    return;
  rootlen = strcmp(pick->root, "/") == 0 ? 0 : strlen(pick->root);
  n = snprintf(warm_procs, sizeof warm_procs, "%s%s/cgroup.procs", pick->mountpoint,
               pick->self + rootlen);
  if (n < 0 || (size_t)n >= sizeof warm_procs || pthread_attr_init(&attr) != 0) {
    atomic_flag_clear(&warm_busy);
    return;
  }
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, (size_t)PTHREAD_STACK_MIN + 16384);
  if (pthread_create(&t, &attr, warm_thread, NULL) != 0)
    atomic_flag_clear(&warm_busy);
  pthread_attr_destroy(&attr);
}
