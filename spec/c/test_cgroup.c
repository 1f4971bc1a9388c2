/*
 * core/cgroup: the file formats on fixed strings, v1/v2/hybrid layouts and the v2 write path on
 * fake trees (so v2 is covered on a v1 machine), then the real kernel when we may create
 * cgroups: limits read back, a child moved in, pids.max refusing forks, an OOM kill counted,
 * and removal leaving nothing behind.
 */
#include "cbuild/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

static char *
slurp(const char *dir, const char *file)
{
  char *path = cb__xasprintf("%s/%s", dir, file), *text = NULL;
  struct cb_error *err = NULL;
  if (cb__read_file_at(AT_FDCWD, path, &text, NULL, &err) < 0) {
    cb_error_free(&err);
    text = NULL;
  }
  free(path);
  return text;
}

static bool
file_is(const char *dir, const char *file, const char *want)
{
  char *got = slurp(dir, file);
  bool same = got != NULL && (strcmp(got, want) == 0 || (strncmp(got, want, strlen(want)) == 0 &&
                                                         strcmp(got + strlen(want), "\n") == 0));
  if (!same)
    printf("#   %s/%s: got '%s', want '%s'\n", dir, file, got ? got : "(unreadable)", want);
  free(got);
  return same;
}

static void
put(const char *dir, const char *file, const char *text)
{
  char *path = cb__xasprintf("%s/%s", dir, file);
  FILE *f = fopen(path, "w");
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
  free(path);
}

static void
test_parsers(void)
{
  char mi[] = "36 25 0:32 / /sys/fs/cgroup/my\\040mem rw,nosuid shared:15 master:2 - cgroup cgroup "
              "rw,memory\n";
  char bad[] = "36 25 0:32 / /x rw shared:1";
  struct cb_mountinfo m;
  unsigned id;
  char *ctl, *path;
  char l1[] = "4:memory:/process_api/b3c6\n", l2[] = "0::/", l3[] = "1:name=systemd:/a:b",
       l4[] = "x:cpu:/";
  uint64_t v;
  int64_t i, q, p;
  char buf[64];
  struct cb_error *err = NULL;

  ok(cb_cgroup_parse_mountinfo_line(mi, &m) == 0, "mountinfo: a line with optional fields parses");
  ok(strcmp(m.root, "/") == 0 && strcmp(m.mountpoint, "/sys/fs/cgroup/my mem") == 0,
     "mountinfo: root and mount point, \\040 decoded");
  ok(strcmp(m.fstype, "cgroup") == 0 && strcmp(m.super_opts, "rw,memory") == 0,
     "mountinfo: fstype and super options after the separator");
  ok(cb_cgroup_parse_mountinfo_line(bad, &m) < 0, "mountinfo: a line without '-' is rejected");

  ok(cb_cgroup_parse_proc_line(l1, &id, &ctl, &path) == 0 && id == 4 &&
         strcmp(ctl, "memory") == 0 && strcmp(path, "/process_api/b3c6") == 0,
     "/proc/self/cgroup: v1 line");
  ok(cb_cgroup_parse_proc_line(l2, &id, &ctl, &path) == 0 && id == 0 && ctl[0] == '\0' &&
         strcmp(path, "/") == 0,
     "/proc/self/cgroup: v2 line '0::/'");
  ok(cb_cgroup_parse_proc_line(l3, &id, &ctl, &path) == 0 && strcmp(path, "/a:b") == 0,
     "/proc/self/cgroup: a path holding ':'");
  ok(cb_cgroup_parse_proc_line(l4, &id, &ctl, &path) < 0, "/proc/self/cgroup: bad id rejected");

  const char *events = "low 0\nhigh 0\nmax 17\noom 3\noom_kill 2\noom_group_kill 0\n";
  ok(cb_cgroup_keyed_get(events, "oom_kill", &v) == 0 && v == 2, "memory.events: oom_kill");
  ok(cb_cgroup_keyed_get(events, "oom", &v) == 0 && v == 3, "memory.events: oom, not oom_kill");
  ok(cb_cgroup_keyed_get(events, "oom_group", &v) < 0, "memory.events: absent key");
  ok(cb_cgroup_keyed_get("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n", "usage_usec",
                         &v) == 0 &&
         v == 123456,
     "cpu.stat: usage_usec");
  ok(cb_cgroup_keyed_get("oom_kill_disable 0\nunder_oom 1\noom_kill 5", "oom_kill", &v) == 0 &&
         v == 5,
     "memory.oom_control: oom_kill on the last line without newline");
  ok(cb_cgroup_keyed_get("oom_kill x\n", "oom_kill", &v) < 0, "keyed: a non-number is rejected");

  ok(cb_cgroup_parse_int("max\n", &i) == 0 && i == -1, "int: max is -1");
  ok(cb_cgroup_parse_int("9223372036854771712\n", &i) == 0 && i == 9223372036854771712,
     "int: v1's unlimited memory");
  ok(cb_cgroup_parse_int("-1\n", &i) == 0 && i == -1, "int: v1's -1 quota");
  ok(cb_cgroup_parse_int("12k", &i) < 0 && cb_cgroup_parse_int("", &i) < 0,
     "int: junk is rejected");

  ok(cb_cgroup_parse_cpu_max("max 100000\n", &q, &p) == 0 && q == -1 && p == 100000,
     "cpu.max: max PERIOD");
  ok(cb_cgroup_parse_cpu_max("150000 100000", &q, &p) == 0 && q == 150000 && p == 100000,
     "cpu.max: QUOTA PERIOD");
  ok(cb_cgroup_parse_cpu_max("150000", &q, &p) < 0 && cb_cgroup_parse_cpu_max("1 0", &q, &p) < 0,
     "cpu.max: missing or zero period rejected");
  cb_cgroup_format_cpu_max(buf, sizeof buf, 50000, 100000);
  ok(strcmp(buf, "50000 100000") == 0, "cpu.max: format quota");
  cb_cgroup_format_cpu_max(buf, sizeof buf, -1, 100000);
  ok(strcmp(buf, "max 100000") == 0, "cpu.max: format max");

  ok(cb_cgroup_shares_to_weight(2) == 1 && cb_cgroup_shares_to_weight(1024) == 39 &&
         cb_cgroup_shares_to_weight(262144) == 10000 && cb_cgroup_shares_to_weight(0) == 1 &&
         cb_cgroup_shares_to_weight(1000000) == 10000,
     "cpu.shares -> cpu.weight as runc/crun convert, clamped");

  ok(cb_cgroup_swap_v2(100, 300, &i, &err) == 0 && i == 200, "swap: v2 swap.max = total - memory");
  ok(cb_cgroup_swap_v2(100, -1, &i, &err) == 0 && i == -1, "swap: -1 stays max");
  ok(cb_cgroup_swap_v2(100, 50, &i, &err) < 0 && err->kind == CB_E_INVALID,
     "swap: total below memory is invalid");
  cb_error_free(&err);
  ok(cb_cgroup_swap_v2(0, 50, &i, &err) < 0, "swap: needs a memory limit");
  cb_error_free(&err);
}

/* This machine's layout: v1 controllers each in its own hierarchy, a v2 mount owning hugetlb. */
static const char hybrid_mi[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char hybrid_pc[] = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/b3c6\n"
                                "2:cpuacct:/\n1:cpu:/\n0::/\n";

static void
test_layouts(const char *tmp)
{
  struct cb_cgroup_layout l;
  const struct cb_cgroup_hier *h;
  struct cb_error *err = NULL;
  char *fake = cb__xasprintf("%s/hybrid", tmp), *unified;

  unified = cb__xasprintf("%s/sys/fs/cgroup/unified", fake);
  cb__mkdir_p_at(AT_FDCWD, unified, 0755, &err);
  put(unified, "cgroup.controllers", "hugetlb\n");
  ok(cb_cgroup_layout_parse(&l, hybrid_mi, hybrid_pc, fake, &err) == 0, "hybrid: parses");
  ok(l.mode == CB_CGROUP_HYBRID && l.n == 6, "hybrid: mode hybrid, 6 hierarchies (got %zu)", l.n);
  h = cb_cgroup_layout_find(&l, "memory");
  ok(h != NULL && h->version == 1 && strcmp(h->self, "/process_api/b3c6") == 0,
     "hybrid: memory in v1, with our own cgroup");
  h = cb_cgroup_layout_find(&l, "hugetlb");
  ok(h != NULL && h->version == 2 && strcmp(h->mountpoint, unified) == 0,
     "hybrid: hugetlb owned by the v2 mount");
  h = cb_cgroup_layout_find(&l, "cpuacct");
  ok(h != NULL && h->version == 1, "hybrid: cpuacct in v1");
  ok(cb_cgroup_layout_find(&l, "io") == NULL, "hybrid: io nowhere");
  cb_cgroup_layout_release(&l);
  free(unified);
  free(fake);

  ok(cb_cgroup_layout_parse(&l,
                            "20 1 0:18 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup "
                            "rw,cpu,cpuacct\n"
                            "21 1 0:18 /docker /mnt/cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
                            "22 1 0:19 / /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
                            "3:cpu,cpuacct:/user.slice\n2:memory:/\n", NULL, &err) == 0,
     "v1: parses");
  ok(l.mode == CB_CGROUP_V1 && l.n == 2, "v1: mode v1; a bind mount of a hierarchy counts once");
  h = cb_cgroup_layout_find(&l, "cpuacct");
  ok(h != NULL && h == cb_cgroup_layout_find(&l, "cpu") &&
         strcmp(h->mountpoint, "/sys/fs/cgroup/cpu,cpuacct") == 0 &&
         strcmp(h->self, "/user.slice") == 0,
     "v1: co-mounted cpu,cpuacct is one hierarchy");
  h = cb_cgroup_layout_find(&l, "memory");
  ok(h != NULL && h->readonly, "v1: a read-only mount is marked");
  ok(cb_cgroup_layout_find(&l, "pids") == NULL, "v1: pids nowhere");
  cb_cgroup_layout_release(&l);

  ok(cb_cgroup_layout_parse(&l, "1 0 0:1 / / rw - ext4 /dev/sda rw\n", "", NULL, &err) < 0 &&
         err->kind == CB_E_NOTFOUND,
     "no cgroup mount: ENOTFOUND");
  cb_error_free(&err);
}

/* A fake pure-v2 tree: create writes the v2 files, stats and OOM read the v2 formats. */
static void
test_fake_v2(const char *tmp)
{
  char *fake = cb__xasprintf("%s/v2", tmp);
  char *root = cb__xasprintf("%s/sys/fs/cgroup", fake);
  char *parent = cb__xasprintf("%s/cbuild", root);
  char *leaf = cb__xasprintf("%s/t1", parent);
  const char *leaf_files[] = { "memory.max",   "memory.swap.max", "cpu.max",           "cpu.weight",
                               "pids.max",     "cgroup.procs",    "memory.current",    "cpu.stat",
                               "pids.current", "memory.events",   "cgroup.controllers" };
  struct cb_cgroup_layout l;
  struct cb_cgroup_limits lim = {
    .memory = 64 << 20, .memory_swap = 96 << 20, .cpu_quota = 50000, .cpu_shares = 1024, .pids = 20
  };
  struct cb_cgroup *cg;
  struct cb_cgroup_stats st;
  struct cb_cgroup_oom oom;
  struct cb_error *err = NULL;
  const char *const *paths;
  pid_t *pids;
  size_t n;

  cb__mkdir_p_at(AT_FDCWD, leaf, 0755, &err);
  put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  put(root, "cgroup.subtree_control", "memory\n"); /* already on: only cpu and pids get written */
  put(parent, "cgroup.subtree_control", "");
  for (size_t i = 0; i < sizeof leaf_files / sizeof *leaf_files; i++)
    put(leaf, leaf_files[i], "");

  ok(cb_cgroup_layout_parse(&l, "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
                            "0::/init.scope\n", fake, &err) == 0,
     "v2: parses");
  ok(l.mode == CB_CGROUP_V2 && l.n == 1 && strcmp(l.hier[0].self, "/init.scope") == 0,
     "v2: mode v2, our cgroup known");
  ok(cb_cgroup_layout_find(&l, "memory") == &l.hier[0] &&
         cb_cgroup_layout_find(&l, "cpuacct") == &l.hier[0],
     "v2: memory and cpu usage in the v2 tree");

  cg = cb_cgroup_create(&l, "t1", &lim, &err);
  ok(cg != NULL, "v2: create on the fake tree (%s)", err ? err->msg : "ok");
  if (cg == NULL) {
    cb_error_free(&err);
    goto out;
  }
  ok(strcmp(cb_cgroup_name(cg), "cbuild/t1") == 0, "a bare name goes under cbuild/");
  paths = cb_cgroup_procs_paths(cg, &n);
  ok(n == 1 && strncmp(paths[0], leaf, strlen(leaf)) == 0, "v2: one cgroup.procs path");
  ok(file_is(root, "cgroup.subtree_control", "+cpu +pids"), "v2: root enables cpu and pids");
  ok(file_is(parent, "cgroup.subtree_control", "+memory +cpu +pids"),
     "v2: the cbuild parent enables memory, cpu and pids");
  ok(file_is(leaf, "memory.max", "67108864"), "v2: memory.max");
  ok(file_is(leaf, "memory.swap.max", "33554432"), "v2: memory.swap.max = swap - memory");
  ok(file_is(leaf, "cpu.max", "50000 100000"), "v2: cpu.max with the default period");
  ok(file_is(leaf, "cpu.weight", "39"), "v2: cpu.weight from 1024 shares");
  ok(file_is(leaf, "pids.max", "20"), "v2: pids.max");

  struct cb_cgroup_limits unl = { .memory = -1, .memory_swap = -1, .cpu_quota = -1, .pids = -1 };
  ok(cb_cgroup_set_limits(cg, &unl, &err) == 0 && file_is(leaf, "memory.max", "max") &&
         file_is(leaf, "memory.swap.max", "max") && file_is(leaf, "cpu.max", "max 100000") &&
         file_is(leaf, "pids.max", "max"),
     "v2: -1 writes max");

  put(leaf, "memory.current", "12345\n");
  put(leaf, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  put(leaf, "pids.current", "3\n");
  put(leaf, "memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n");
  put(leaf, "cgroup.procs", "12\n7\n12\n");
  ok(cb_cgroup_stats(cg, &st, &err) == 0 && st.memory == 12345 && st.cpu_ns == 1500000 &&
         st.pids == 3,
     "v2: stats from memory.current, cpu.stat, pids.current");
  ok(cb_cgroup_oom(cg, &oom, &err) == 0 && oom.oom_kill == 1 && oom.oom == 2,
     "v2: oom_kill and oom from memory.events");
  ok(cb_cgroup_pids(cg, &pids, &n, &err) == 0 && n == 2 && pids[0] == 7 && pids[1] == 12,
     "pids: sorted, without duplicates");
  free(pids);
  cb_cgroup_free(cg);

  cg = cb_cgroup_open(&l, "cbuild/t1", &err);
  ok(cg != NULL, "open: an existing cgroup by full name");
  cb_cgroup_free(cg);
  ok(cb_cgroup_open(&l, "nope", &err) == NULL && err->kind == CB_E_NOTFOUND,
     "open: a missing cgroup is ENOTFOUND");
  cb_error_free(&err);
  ok(cb_cgroup_create(&l, "../x", NULL, &err) == NULL && err->kind == CB_E_INVALID,
     "create: '..' in a name is invalid");
  cb_error_free(&err);
  ok(cb_cgroup_create(&l, "/abs", NULL, &err) == NULL && err->kind == CB_E_INVALID,
     "create: an absolute name is invalid");
  cb_error_free(&err);

out:
  cb_cgroup_layout_release(&l);
  free(leaf);
  free(parent);
  free(root);
  free(fake);
}

/* A fake hybrid tree: v1 formats read back, absent hierarchies dropped by open, and a v2
 * tracking tree that cannot be made is done without. */
static void
test_fake_hybrid(const char *tmp)
{
  char *fake = cb__xasprintf("%s/hybrid2", tmp);
  char *mem = cb__xasprintf("%s/sys/fs/cgroup/memory/cbuild/h1", fake);
  struct cb_cgroup_layout l;
  struct cb_cgroup *cg;
  struct cb_cgroup_stats st;
  struct cb_cgroup_oom oom;
  struct cb_error *err = NULL;
  const char *const *paths;
  size_t n;
  bool v2 = false;

  cb__mkdir_p_at(AT_FDCWD, mem, 0755, &err);
  for (const char *const *c = (const char *const[]){ "cpu", "cpuacct", "pids", NULL }; *c; c++) {
    char *d = cb__xasprintf("%s/sys/fs/cgroup/%s", fake, *c);
    cb__mkdir_p_at(AT_FDCWD, d, 0755, &err);
    free(d);
  }
  put(mem, "memory.usage_in_bytes", "4096\n");
  put(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
  put(mem, "memory.failcnt", "7\n");
  put(mem, "cgroup.procs", "");
  /* no sys/fs/cgroup/unified here: its cgroup.controllers is unreadable, mkdir there fails */
  ok(cb_cgroup_layout_parse(&l, hybrid_mi, hybrid_pc, fake, &err) == 0 &&
         l.mode == CB_CGROUP_HYBRID,
     "fake hybrid: parses");
  cg = cb_cgroup_open(&l, "cbuild/h1", &err);
  paths = cg != NULL ? cb_cgroup_procs_paths(cg, &n) : NULL;
  ok(cg != NULL && n == 1 && strstr(paths[0], "/memory/cbuild/h1/") != NULL,
     "open: only the hierarchies where the cgroup exists");
  ok(cg != NULL && cb_cgroup_stats(cg, &st, &err) == 0 && st.memory == 4096 && st.pids == -1 &&
         st.cpu_ns == -1,
     "v1: memory.usage_in_bytes; absent pids and cpuacct read as unknown");
  ok(cg != NULL && cb_cgroup_oom(cg, &oom, &err) == 0 && oom.oom_kill == 3 && oom.oom == 7 &&
         oom.under_oom,
     "v1: memory.oom_control oom_kill and under_oom, memory.failcnt");
  cb_cgroup_free(cg);

  cg = cb_cgroup_create(&l, "h2", NULL, &err);
  ok(cg != NULL, "create: hybrid without a usable v2 tree still works (%s)", err ? err->msg : "ok");
  cb_error_free(&err);
  if (cg != NULL) {
    const char *const *dirs = cb_cgroup_dirs(cg, &n);
    for (size_t i = 0; i < n; i++)
      v2 = v2 || strstr(dirs[i], "/unified/") != NULL;
    ok(n == 4 && !v2, "create: memory, cpu, cpuacct and pids trees, no v2 (%zu)", n);
    ok(cb_cgroup_remove(cg, &err) == 0, "remove: the fake v1 dirs go");
    cb_error_free(&err);
    cb_cgroup_free(cg);
  }
  cb_cgroup_layout_release(&l);
  free(mem);
  free(fake);
}

/* Fork a child that waits for a byte on a pipe, then runs FN. */
static pid_t
spawn(int (*fn)(void), int *go)
{
  int p[2];
  pid_t pid;
  if (pipe(p) < 0)
    return -1;
  pid = fork();
  if (pid == 0) {
    char c;
    close(p[1]);
    if (read(p[0], &c, 1) != 1)
      _exit(100);
    _exit(fn());
  }
  close(p[0]);
  *go = p[1];
  return pid;
}

static void
release(int go)
{
  ssize_t r = write(go, "x", 1);
  (void)r;
  close(go);
}

static int
child_forks(void)
{
  int made = 0;
  for (int i = 0; i < 30; i++) {
    pid_t k = fork();
    if (k == 0) {
      pause();
      _exit(0);
    }
    if (k > 0)
      made++;
  }
  return made; /* the forked sleepers stay: remove must kill them */
}

static int
child_hog(void)
{
  size_t len = 256u << 20;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return 2;
  for (size_t i = 0; i < len; i += 4096)
    p[i] = 1;
  return 0;
}

static int
child_idle(void)
{
  pause();
  return 0;
}

/* Global so that forked children, which leave with _exit, still reach it (valgrind's leak check
 * runs in them too). */
static struct cb_cgroup *rcg;

static void
test_real(void)
{
  struct cb_cgroup_layout l;
  struct cb_cgroup_limits lim = { .memory = 64 << 20,
                                  .memory_swap = 64 << 20,
                                  .cpu_quota = 50000,
                                  .cpu_period = 100000,
                                  .cpu_shares = 512,
                                  .pids = 20 };
  struct cb_cgroup_stats st;
  struct cb_cgroup_oom oom;
  struct cb_error *err = NULL;
  char name[64];
  const char *const *dirs;
  size_t ndirs, n;
  pid_t pid, *pids;
  int go, status;
  bool all_gone = true;

  if (geteuid() != 0) {
    printf("# not root: skipping the kernel tests\n");
    return;
  }
  if (cb_cgroup_layout_load(&l, &err) < 0) {
    printf("# %s: skipping the kernel tests\n", err->msg);
    cb_error_free(&err);
    return;
  }
  printf("# layout here: %s\n", cb_cgroup_mode_name(l.mode));
  for (size_t i = 0; i < l.n; i++)
    printf("#   v%d %s [%s]%s self=%s\n", l.hier[i].version, l.hier[i].mountpoint,
           l.hier[i].controllers, l.hier[i].readonly ? " ro" : "",
           l.hier[i].self ? l.hier[i].self : "?");
  snprintf(name, sizeof name, "cbuild/test-%d", (int)getpid());
  rcg = cb_cgroup_create(&l, name, &lim, &err);
  if (rcg == NULL && (err->errnum == EACCES || err->errnum == EPERM || err->errnum == EROFS)) {
    printf("# %s: skipping the kernel tests\n", err->msg);
    cb_error_free(&err);
    cb_cgroup_layout_release(&l);
    return;
  }
  if (rcg == NULL) {
    ok(false, "real: create '%s': %s", name, err->msg);
    cb_error_free(&err);
    cb_cgroup_layout_release(&l);
    return;
  }
  dirs = cb_cgroup_dirs(rcg, &ndirs);
  for (size_t i = 0; i < ndirs; i++)
    printf("#   created %s\n", dirs[i]);
  const struct cb_cgroup_hier *mem = cb_cgroup_layout_find(&l, "memory");
  const struct cb_cgroup_hier *cpu = cb_cgroup_layout_find(&l, "cpu");
  const struct cb_cgroup_hier *pidsh = cb_cgroup_layout_find(&l, "pids");
  char *mdir = cb__xasprintf("%s/%s", mem->mountpoint, name);
  char *cdir = cb__xasprintf("%s/%s", cpu->mountpoint, name);
  char *pdir = cb__xasprintf("%s/%s", pidsh->mountpoint, name);
  if (mem->version == 1) {
    ok(file_is(mdir, "memory.limit_in_bytes", "67108864"), "real v1: memory.limit_in_bytes");
    char *memsw = cb__xasprintf("%s/memory.memsw.limit_in_bytes", mdir);
    if (access(memsw, F_OK) == 0)
      ok(file_is(mdir, "memory.memsw.limit_in_bytes", "67108864"),
         "real v1: memory.memsw.limit_in_bytes");
    free(memsw);
  } else {
    ok(file_is(mdir, "memory.max", "67108864"), "real v2: memory.max");
  }
  if (cpu->version == 1)
    ok(file_is(cdir, "cpu.cfs_quota_us", "50000") && file_is(cdir, "cpu.cfs_period_us", "100000") &&
           file_is(cdir, "cpu.shares", "512"),
       "real v1: cfs quota, period and shares");
  else
    ok(file_is(cdir, "cpu.max", "50000 100000") && file_is(cdir, "cpu.weight", "20"),
       "real v2: cpu.max and cpu.weight");
  ok(file_is(pdir, "pids.max", "20"), "real: pids.max");

  /* a child moved in before it runs on */
  pid = spawn(child_idle, &go);
  ok(cb_cgroup_add(rcg, pid, &err) == 0, "real: add a forked child");
  cb_error_free(&err);
  ok(cb_cgroup_pids(rcg, &pids, &n, &err) == 0 && n == 1 && pids[0] == pid,
     "real: the child is the only process inside");
  free(pids);
  int r = cb_cgroup_stats(rcg, &st, &err);
  /* v1 does not move a process's charges with it: memory may well read 0 here */
  ok(r == 0 && st.pids == 1 && st.memory >= 0 && st.cpu_ns >= 0,
     "real: stats (memory %lld, cpu %lld ns, pids %lld)", (long long)st.memory,
     (long long)st.cpu_ns, (long long)st.pids);
  kill(pid, SIGKILL);
  close(go);
  waitpid(pid, &status, 0);

  /* pids.max = 20 stops the 21st process */
  pid = spawn(child_forks, &go);
  cb_cgroup_add(rcg, pid, &err);
  release(go);
  waitpid(pid, &status, 0);
  ok(WIFEXITED(status) && WEXITSTATUS(status) == 19,
     "real: pids.max 20 lets the child make 19 more (made %d)", WEXITSTATUS(status));
  r = cb_cgroup_pids(rcg, &pids, &n, &err);
  ok(r == 0 && n == 19, "real: 19 orphans left inside (%zu)", n);
  free(pids);
  r = cb_cgroup_stats(rcg, &st, &err);
  ok(r == 0 && st.pids == 19 && st.cpu_ns > 0, "real: pids.current 19, cpu used %lld ns",
     (long long)st.cpu_ns);

  /* the memory hog is OOM-killed and counted */
  ok(cb_cgroup_oom(rcg, &oom, &err) == 0 && oom.oom_kill == 0, "real: no OOM kill yet");
  pid = spawn(child_hog, &go);
  cb_cgroup_add(rcg, pid, &err);
  release(go);
  waitpid(pid, &status, 0);
  ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "real: a 256M hog in 64M gets SIGKILL");
  r = cb_cgroup_oom(rcg, &oom, &err);
  ok(r == 0 && oom.oom_kill >= 1, "real: oom_kill counted (%llu, limit hit %llu times)",
     (unsigned long long)oom.oom_kill, (unsigned long long)oom.oom);

  /* the same cgroup from another handle, as `cbuild stats` would */
  struct cb_cgroup *other = cb_cgroup_open(&l, name, &err);
  ok(other != NULL && cb_cgroup_oom(other, &oom, &err) == 0 && oom.oom_kill >= 1,
     "real: open by name sees the same counters");
  cb_cgroup_free(other);

  /* remove kills the 19 sleepers and leaves no directory */
  ok(cb_cgroup_remove(rcg, &err) == 0, "real: remove with processes inside (%s)",
     err ? err->msg : "ok");
  cb_error_free(&err);
  for (size_t i = 0; i < ndirs; i++)
    if (access(dirs[i], F_OK) == 0 || errno != ENOENT)
      all_gone = false;
  ok(all_gone, "real: no cgroup directory left behind");
  ok(cb_cgroup_remove(rcg, &err) == 0, "real: remove twice is fine");
  ok(cb_cgroup_open(&l, name, &err) == NULL && err->kind == CB_E_NOTFOUND,
     "real: open after remove is ENOTFOUND");
  cb_error_free(&err);

  free(mdir);
  free(cdir);
  free(pdir);
  cb_cgroup_free(rcg);
  cb_cgroup_layout_release(&l);
}

int
main(void)
{
  char *tmp = tap_tmpdir("cgroup");
  test_parsers();
  test_layouts(tmp);
  test_fake_v2(tmp);
  test_fake_hybrid(tmp);
  test_real();
  free(tmp);
  return tap_done();
}
