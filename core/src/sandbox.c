/*
 * The process sandbox (see cbuild/sandbox.h for the contract).
 *
 * Shape, after crun and runc: the parent prepares everything that allocates (capability sets,
 * PATH, the exec environment), then clone3()s a child into new namespaces with fork semantics.
 * The child blocks on a sync pipe until the parent has put it into its cgroups, then builds its
 * mounts below the rootfs, pivots into it, drops privileges and reports READY (with the
 * mountpoints it had to create) on a CLOEXEC message pipe just before it execs.  The seccomp filter
 * is compiled by the parent too; the child only loads it, last, so its own setup is not filtered.
 * A failed exec writes its errno on the same pipe, which the parent reads after reaping.
 *
 * The child of a raw clone in a possibly threaded process must not take locks another thread
 * might hold: it only makes syscalls and formats into stack buffers, never mallocs.
 */
#include "cbuild/sandbox.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "child.h"
#include "util.h"

#define STUBS_MAX 4096

enum { MSG_READY = 1, MSG_SETUP_FAIL, MSG_EXEC_FAIL };

struct msg_hdr {
  uint32_t type;
  int32_t errnum;
  uint32_t len; /* payload bytes that follow */
};

/* Everything the child needs, prepared by the parent before clone (the child gets a copy). */
struct child {
  const struct cb_sandbox_config *cfg;
  int sync_fd;  /* read end: one byte when the parent is done with cgroups */
  int msg_fd;   /* write end of the message pipe, CLOEXEC */
  int rootfd;   /* O_PATH of the rootfs bind, set in the child */
  int netns_fd; /* the network namespace to join, or -1 */
  const char *path;
  char *const *env;   /* as execve wants it */
  uint64_t keep_caps; /* capabilities to keep (parsed by the parent: libcap mallocs) */
  const struct cb_seccomp *seccomp; /* loaded just before exec; NULL = none */
  char stubs[STUBS_MAX];
  size_t stubs_len;
};

struct cb_sandbox {
  pid_t pid;
  int pidfd;
  int msg_fd;
  char *rootfs;
  char **stubs; /* NULL-terminated */
  bool reaped;
  struct cb_sandbox_status st;
};

void
cb_sandbox_config_init(struct cb_sandbox_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->stdio[0] = cfg->stdio[1] = cfg->stdio[2] = -1;
}

/* ---- the child ---------------------------------------------------------------------------- */

static void
send_msg(int fd, uint32_t type, int errnum, const char *data, size_t len)
{
  struct msg_hdr h = { .type = type, .errnum = errnum, .len = (uint32_t)len };
  char buf[sizeof h + STUBS_MAX + 512];

  if (len > sizeof buf - sizeof h)
    len = h.len = (uint32_t)(sizeof buf - sizeof h);
  memcpy(buf, &h, sizeof h);
  if (len > 0)
    memcpy(buf + sizeof h, data, len);
  (void)cb_write_all(fd, buf, sizeof h + len);
}

/* Report a setup failure (errno is taken as the cause) and end the child. */
__attribute__((noreturn))
CB_PRINTF(2, 3) static void child_fail(struct child *c, const char *fmt, ...)
{
  int errnum = errno;
  char text[512];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  if ((size_t)n >= sizeof text)
    n = (int)sizeof text - 1;
  send_msg(c->msg_fd, MSG_SETUP_FAIL, errnum, text, (size_t)n);
  _exit(125);
}

/*
 * openat2(RESOLVE_IN_ROOT) for kernels before 5.6 (and valgrind): walk PATH one component at a
 * time from ROOTFD, expanding symlinks by hand and clamping ".." at the root.  Not atomic against
 * a concurrent rename, which is fine for a rootfs no container runs in yet.
 */
static int
resolve_by_hand(int rootfd, const char *path, int flags)
{
  char resolved[PATH_MAX], rest[PATH_MAX], link[PATH_MAX];
  size_t rlen = 0;
  int links = 0;

  resolved[0] = '\0';
  if (strlen(path) >= sizeof rest) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(rest, path);
  while (rest[0] != '\0') {
    char *p = rest + strspn(rest, "/");
    size_t clen = strcspn(p, "/");
    char comp[NAME_MAX + 1];
    struct stat st;
    int fd;
    ssize_t n;

    if (clen == 0)
      break;
    if (clen > NAME_MAX) {
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(comp, p, clen);
    comp[clen] = '\0';
    memmove(rest, p + clen, strlen(p + clen) + 1);
    if (strcmp(comp, ".") == 0)
      continue;
    if (strcmp(comp, "..") == 0) {
      while (rlen > 0 && resolved[rlen - 1] != '/')
        rlen--;
      if (rlen > 0)
        rlen--;
      resolved[rlen] = '\0';
      continue;
    }
    if (rlen + clen + 2 > sizeof resolved) {
      errno = ENAMETOOLONG;
      return -1;
    }
    if (rlen > 0)
      resolved[rlen] = '/';
    memcpy(resolved + rlen + (rlen > 0), comp, clen + 1);
    fd = openat(rootfd, resolved, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return -1;
    if (fstat(fd, &st) < 0 || !S_ISLNK(st.st_mode)) {
      close(fd);
      rlen += clen + (rlen > 0);
      continue;
    }
    n = readlinkat(fd, "", link, sizeof link - 1);
    close(fd);
    if (n < 0)
      return -1;
    link[n] = '\0';
    if (++links > 40 || (size_t)n + strlen(rest) + 2 > sizeof rest) {
      errno = ELOOP;
      return -1;
    }
    memmove(rest + n + 1, rest, strlen(rest) + 1);
    memcpy(rest, link, (size_t)n);
    rest[n] = '/';
    resolved[rlen] = '\0'; /* drop the link itself */
    if (link[0] == '/')
      rlen = 0, resolved[0] = '\0';
  }
  return openat(rootfd, rlen > 0 ? resolved : ".", flags | O_NOFOLLOW | O_CLOEXEC);
}

static int
resolve_in_root(int rootfd, const char *path, uint64_t flags)
{
  static bool no_openat2;
  struct open_how how = { .flags = flags | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  int fd;

  if (!no_openat2) {
    fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS)
      return fd;
    no_openat2 = true;
  }
  return resolve_by_hand(rootfd, path, (int)flags);
}

static void
fdpath(char *buf, size_t len, int fd)
{
  snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static void
record_stub(struct child *c, const char *path)
{
  size_t n = strlen(path) + 1;
  if (c->stubs_len + n > sizeof c->stubs) {
    errno = ENAMETOOLONG;
    child_fail(c, "too many mountpoints to create in the rootfs");
  }
  memcpy(c->stubs + c->stubs_len, path, n);
  c->stubs_len += n;
}

/* Lexically clean an absolute path ("//a/./b/../c" -> "/a/c", ".." stops at "/"). */
static int
clean_path(const char *in, char *out, size_t len)
{
  size_t n = 0;

  if (len < 2) {
    errno = ENAMETOOLONG;
    return -1;
  }
  out[n++] = '/';
  while (*in != '\0') {
    size_t clen;
    while (*in == '/')
      in++;
    clen = strcspn(in, "/");
    if (clen == 0)
      break;
    if (clen == 1 && in[0] == '.') {
      /* nothing */
    } else if (clen == 2 && in[0] == '.' && in[1] == '.') {
      while (n > 1 && out[n - 1] != '/')
        n--;
      if (n > 1)
        n--; /* the slash before the dropped component */
    } else {
      if (n + clen + 2 > len) {
        errno = ENAMETOOLONG;
        return -1;
      }
      if (n > 1)
        out[n++] = '/';
      memcpy(out + n, in, clen);
      n += clen;
    }
    in += clen;
  }
  out[n] = '\0';
  return 0;
}

/*
 * Open PATH (absolute, inside the rootfs; cleaned lexically first) as O_PATH, creating what is
 * missing: directories (0755) on the way, and the last component as an empty file (0644) when FILE
 * is set.  Each created entry is recorded as a stub.  Returns the fd or -1 with errno.
 */
static int
ensure_path(struct child *c, const char *path, bool file)
{
  char buf[PATH_MAX];
  int fd, cur;

  if (clean_path(path, buf, sizeof buf) < 0)
    return -1;
  fd = resolve_in_root(c->rootfd, buf, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  cur = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0)
    return -1;
  for (char *p = buf; *p != '\0';) {
    char *comp, *end, save;
    bool last;

    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    comp = p;
    end = strchr(p, '/');
    if (end == NULL)
      end = p + strlen(p);
    save = *end;
    *end = '\0';
    last = save == '\0' || end[strspn(end + 1, "/") + 1] == '\0';
    fd = resolve_in_root(c->rootfd, buf, O_PATH);
    if (fd < 0 && errno == ENOENT) {
      int r;
      if (last && file) {
        r = openat(cur, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0)
          close(r);
      } else {
        r = mkdirat(cur, comp, 0755);
      }
      if (r < 0) {
        int e = errno;
        close(cur);
        errno = e == EEXIST ? ELOOP : e; /* EEXIST here means a dangling symlink */
        return -1;
      }
      record_stub(c, buf);
      fd = resolve_in_root(c->rootfd, buf, O_PATH);
    }
    if (fd < 0) {
      int e = errno;
      close(cur);
      errno = e;
      return -1;
    }
    close(cur);
    cur = fd;
    *end = save;
    p = end;
  }
  return cur;
}

/* Make the mount whose root FD is (and every mount below it) read-only. */
static int
make_readonly(int fd)
{
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
  struct statvfs sv;
  char p[64];

  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0)
    return 0;
  if (errno != ENOSYS)
    return -1;
  fdpath(p, sizeof p, fd);
  if (statvfs(p, &sv) < 0)
    return -1;
  return mount("none", p, "none",
               MS_REMOUNT | MS_BIND | MS_RDONLY | (sv.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)),
               NULL);
}

/* Make the mount just put on TARGET (inside the rootfs) read-only.  TARGET is looked up again:
 * an fd opened before the mount names the dentry below it, not the new mount. */
static void
remount_readonly(struct child *c, const char *target)
{
  int fd = resolve_in_root(c->rootfd, target, O_PATH);
  if (fd < 0 || make_readonly(fd) < 0)
    child_fail(c, "make '%s' read-only", target);
  close(fd);
}

/* Mount onto PATH inside the rootfs, resolved safely; DIR says what kind of mountpoint. */
static void
mount_in_root(struct child *c, const char *source, const char *target, const char *fstype,
              unsigned long flags, const char *data, bool file)
{
  char p[64];
  int fd = ensure_path(c, target, file);

  if (fd < 0)
    child_fail(c, "create mountpoint '%s'", target);
  fdpath(p, sizeof p, fd);
  if (mount(source, p, fstype != NULL ? fstype : "none", flags, data) < 0)
    child_fail(c, "mount %s on '%s'", fstype != NULL ? fstype : source, target);
  close(fd);
  if ((flags & MS_BIND) && (flags & MS_RDONLY))
    remount_readonly(c, target);
}

static void
setup_dev(struct child *c)
{
  static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
  static const char *const links[][2] = { { "ptmx", "pts/ptmx" },
                                          { "fd", "/proc/self/fd" },
                                          { "stdin", "/proc/self/fd/0" },
                                          { "stdout", "/proc/self/fd/1" },
                                          { "stderr", "/proc/self/fd/2" } };
  char p[64], host[32];
  cb_autoclose int devfd = -1;

  mount_in_root(c, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
                false);
  devfd = resolve_in_root(c->rootfd, "/dev", O_PATH | O_DIRECTORY);
  if (devfd < 0)
    child_fail(c, "open '/dev'");
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    int fd = openat(devfd, nodes[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (fd >= 0) {
      close(fd);
      fd = openat(devfd, nodes[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
      child_fail(c, "create '/dev/%s'", nodes[i]);
    fdpath(p, sizeof p, fd);
    snprintf(host, sizeof host, "/dev/%s", nodes[i]);
    if (mount(host, p, "none", MS_BIND, NULL) < 0)
      child_fail(c, "bind '%s'", host);
    close(fd);
  }
  if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0)
    child_fail(c, "mkdir in '/dev'");
  mount_in_root(c, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620,gid=5", false);
  if (c->cfg->host_ipc) { /* the host's shared memory, as its ipc namespace */
    mount_in_root(c, "/dev/shm", "/dev/shm", NULL, MS_BIND | MS_REC, NULL, false);
  } else {
    char opts[64];
    snprintf(opts, sizeof opts, "mode=1777,size=%" PRIu64 "k",
             c->cfg->shm_size > 0 ? (c->cfg->shm_size + 1023) / 1024 : 65536);
    mount_in_root(c, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts, false);
  }
  for (size_t i = 0; i < sizeof links / sizeof *links; i++)
    if (symlinkat(links[i][1], devfd, links[i][0]) < 0)
      child_fail(c, "symlink '/dev/%s'", links[i][0]);
}

static void
setup_mounts(struct child *c)
{
  const struct cb_sandbox_config *cfg = c->cfg;
  unsigned long ro = cfg->privileged ? 0 : MS_RDONLY;
  const char *etc[][2] = { { cfg->resolv_conf, "/etc/resolv.conf" },
                           { cfg->hosts, "/etc/hosts" },
                           { cfg->etc_hostname, "/etc/hostname" } };

  if (mount("none", "/", "none", MS_REC | MS_SLAVE, NULL) < 0)
    child_fail(c, "make '/' rslave");
  if (mount(cfg->rootfs, cfg->rootfs, "none", MS_BIND | MS_REC, NULL) < 0)
    child_fail(c, "bind rootfs '%s'", cfg->rootfs);
  c->rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (c->rootfd < 0)
    child_fail(c, "open rootfs '%s'", cfg->rootfs);

  mount_in_root(c, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false);
  {
    char p[64];
    int fd = ensure_path(c, "/sys", false);
    if (fd < 0)
      child_fail(c, "create mountpoint '/sys'");
    fdpath(p, sizeof p, fd);
    if (mount("sysfs", p, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL) < 0) {
      /* sysfs refuses a fresh mount in some netns/userns setups: bind the host's instead */
      if (mount("/sys", p, "none", MS_BIND | MS_REC, NULL) < 0)
        child_fail(c, "mount sysfs on '/sys'");
      if (ro)
        remount_readonly(c, "/sys");
    }
    close(fd);
  }
  setup_dev(c);
  for (size_t i = 0; i < 3; i++)
    if (etc[i][0] != NULL)
      mount_in_root(c, etc[i][0], etc[i][1], NULL, MS_BIND, NULL, true);
  for (size_t i = 0; i < cfg->nmounts; i++) {
    const struct cb_sandbox_mount *m = &cfg->mounts[i];
    if (m->type == CB_SANDBOX_BIND) {
      struct stat st;
      if (stat(m->source, &st) < 0)
        child_fail(c, "bind source '%s'", m->source);
      mount_in_root(c, m->source, m->target, NULL, MS_BIND | MS_REC | (m->readonly ? MS_RDONLY : 0),
                    NULL, !S_ISDIR(st.st_mode));
    } else {
      char data[96];
      if (m->size > 0)
        snprintf(data, sizeof data, "mode=%o,size=%llu", m->mode ? (unsigned)m->mode : 01777u,
                 (unsigned long long)m->size);
      else
        snprintf(data, sizeof data, "mode=%o", m->mode ? (unsigned)m->mode : 01777u);
      mount_in_root(c, "tmpfs", m->target, "tmpfs",
                    MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0), data, false);
    }
  }
}

static void
pivot(struct child *c)
{
  if (fchdir(c->rootfd) < 0)
    child_fail(c, "chdir to rootfs");
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    child_fail(c, "pivot_root");
  if (umount2(".", MNT_DETACH) < 0)
    child_fail(c, "detach the old root");
  if (chdir("/") < 0)
    child_fail(c, "chdir to '/'");
  close(c->rootfd);
  c->rootfd = -1;
}

/* docker's masked and read-only paths (moby oci/defaults.go); after pivot_root. */
static void
harden_proc(struct child *c)
{
  static const char *const masked[] = { "/proc/asound",
                                        "/proc/acpi",
                                        "/proc/kcore",
                                        "/proc/keys",
                                        "/proc/latency_stats",
                                        "/proc/timer_list",
                                        "/proc/timer_stats",
                                        "/proc/sched_debug",
                                        "/proc/scsi",
                                        "/sys/firmware",
                                        "/sys/devices/virtual/powercap" };
  static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                          "/proc/sysrq-trigger" };
  struct stat st;

  for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
    int r;
    if (lstat(masked[i], &st) < 0) {
      if (errno == ENOENT)
        continue;
      child_fail(c, "stat '%s'", masked[i]);
    }
    if (S_ISDIR(st.st_mode))
      r = mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, "size=0");
    else
      r = mount("/dev/null", masked[i], "none", MS_BIND, NULL);
    if (r < 0)
      child_fail(c, "mask '%s'", masked[i]);
  }
  for (size_t i = 0; i < sizeof readonly / sizeof *readonly; i++) {
    if (lstat(readonly[i], &st) < 0) {
      if (errno == ENOENT)
        continue;
      child_fail(c, "stat '%s'", readonly[i]);
    }
    int fd;
    if (mount(readonly[i], readonly[i], "none", MS_BIND | MS_REC, NULL) < 0 ||
        (fd = open(readonly[i], O_PATH | O_CLOEXEC)) < 0)
      child_fail(c, "make '%s' read-only", readonly[i]);
    if (make_readonly(fd) < 0)
      child_fail(c, "make '%s' read-only", readonly[i]);
    close(fd);
  }
}

/* mkdir -p of an absolute path in the container's own view (after pivot_root). */
static int
mkdir_p(const char *path)
{
  char buf[PATH_MAX];
  size_t len = strlen(path);

  if (len >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char save = *p;
      *p = '\0';
      if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -1;
      *p = save;
      if (save == '\0')
        return 0;
    }
  }
}

static int
make_readonly_root(void)
{
  struct statvfs sv;

  if (statvfs("/", &sv) < 0)
    return -1;
  return mount("none", "/", "none",
               MS_REMOUNT | MS_BIND | MS_RDONLY | (sv.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)),
               NULL);
}

static void
loopback_up(struct child *c)
{
  struct ifreq ifr;
  cb_autoclose int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    child_fail(c, "socket for loopback");
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    child_fail(c, "get flags of 'lo'");
  ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
    child_fail(c, "bring 'lo' up");
}

static void
drop_privileges(struct child *c)
{
  const struct cb_sandbox_config *cfg = c->cfg;
  struct cb__creds cr = { .uid = cfg->uid,
                          .gid = cfg->gid,
                          .groups = cfg->groups,
                          .ngroups = cfg->ngroups,
                          .caps = c->keep_caps,
                          .privileged = cfg->privileged };
  char what[128];

  if (cb__drop_privileges(&cr, what, sizeof what) < 0)
    child_fail(c, "%s", what);
}

/* execvp with the container's PATH; reports the failure and exits 127/126. */
__attribute__((noreturn)) static void
do_exec(struct child *c)
{
  const char *file = c->cfg->argv[0];
  int saved = cb__execvpe(file, (char *const *)c->cfg->argv, c->env, c->path);

  send_msg(c->msg_fd, MSG_EXEC_FAIL, saved, file, strlen(file));
  _exit(cb__exec_code(saved));
}

__attribute__((noreturn)) static void
child_main(struct child *c)
{
  const struct cb_sandbox_config *cfg = c->cfg;
  char b;

  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    child_fail(c, "set the parent-death signal");
  if (cb_read_retry(c->sync_fd, &b, 1) != 1)
    _exit(125); /* the parent gave up on us */
  close(c->sync_fd);

  /* before the mounts: a sysfs mounted later shows this namespace's interfaces */
  if (c->netns_fd >= 0 && setns(c->netns_fd, CLONE_NEWNET) < 0)
    child_fail(c, "join the network namespace '%s'", cfg->netns);
  cb__reset_signals();
  umask(022);
  if (cb__setup_stdio(cfg->stdio, false) < 0)
    child_fail(c, "set up stdio");
  if ((cfg->setsid || cfg->ctty) && setsid() < 0)
    child_fail(c, "setsid");
  if (cfg->ctty && ioctl(0, TIOCSCTTY, 0) < 0)
    child_fail(c, "make fd 0 the controlling terminal");

  setup_mounts(c);
  pivot(c);
  if (!cfg->privileged)
    harden_proc(c);
  if (cfg->cwd != NULL && mkdir_p(cfg->cwd) < 0)
    child_fail(c, "create working directory '%s'", cfg->cwd);
  if (cfg->readonly_rootfs && make_readonly_root() < 0)
    child_fail(c, "make the rootfs read-only");
  if (cfg->hostname != NULL && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
    child_fail(c, "sethostname '%s'", cfg->hostname);
  if (!cfg->host_network && cfg->netns == NULL)
    loopback_up(c);
  drop_privileges(c);
  if (chdir(cfg->cwd != NULL ? cfg->cwd : "/") < 0)
    child_fail(c, "chdir to '%s'", cfg->cwd);
  /* nothing of the caller's leaks into the container beyond fds 0-2 */
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    child_fail(c, "close_range");
  if (c->seccomp != NULL && cb_seccomp_load(c->seccomp) < 0)
    child_fail(c, "load the seccomp filter");
  send_msg(c->msg_fd, MSG_READY, 0, c->stubs, c->stubs_len);
  do_exec(c);
}

/* ---- the parent --------------------------------------------------------------------------- */

struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* "chown", "CHOWN", "cap_chown", "CAP_CHOWN" -> CAP_CHOWN */
static int
parse_cap(const char *name, cap_value_t *out)
{
  char buf[64];
  size_t n = 0;

  if (strncasecmp(name, "cap_", 4) != 0) {
    memcpy(buf, "cap_", 4);
    n = 4;
  }
  for (; *name != '\0' && n < sizeof buf - 1; name++)
    buf[n++] = (char)(*name >= 'A' && *name <= 'Z' ? *name - 'A' + 'a' : *name);
  buf[n] = '\0';
  return cap_from_name(buf, out);
}

static int
prepare_caps(const struct cb_sandbox_config *cfg, struct child *c, struct cb_error **err)
{
  int ncaps = cap_max_bits();
  uint64_t all = ncaps >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << ncaps) - 1;
  uint64_t keep = CB_SANDBOX_DEFAULT_CAPS_MASK;

  if (cfg->privileged) {
    keep = all;
  } else if (cfg->caps != NULL) {
    keep = 0;
    for (size_t i = 0; i < cfg->ncaps; i++) {
      cap_value_t v;
      if (strcasecmp(cfg->caps[i], "ALL") == 0) {
        keep = all;
        continue;
      }
      if (parse_cap(cfg->caps[i], &v) < 0 || v < 0 || v >= 64)
        return cb_error_set(err, CB_E_INVALID, 0, "unknown capability '%s'", cfg->caps[i]);
      keep |= UINT64_C(1) << v;
    }
  }
  c->keep_caps = keep & all;
  return 0;
}

static int
validate(const struct cb_sandbox_config *cfg, struct cb_error **err)
{
  if (cfg->rootfs == NULL || cfg->rootfs[0] == '\0')
    return cb_error_set(err, CB_E_INVALID, 0, "sandbox: no rootfs given");
  if (cfg->argv == NULL || cfg->argv[0] == NULL || cfg->argv[0][0] == '\0')
    return cb_error_set(err, CB_E_INVALID, 0, "sandbox: no command given");
  if (cfg->cwd != NULL && cfg->cwd[0] != '/')
    return cb_error_set(err, CB_E_INVALID, 0, "sandbox: working directory '%s' is not absolute",
                        cfg->cwd);
  if (cfg->ngroups > 0 && cfg->groups == NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "sandbox: groups missing");
  if (cfg->host_uts && cfg->hostname != NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "sandbox: a hostname with the host's uts namespace");
  for (size_t i = 0; i < cfg->nmounts; i++) {
    const struct cb_sandbox_mount *m = &cfg->mounts[i];
    if (m->target == NULL || m->target[0] != '/')
      return cb_error_set(err, CB_E_INVALID, 0, "sandbox: mount target '%s' is not absolute",
                          m->target != NULL ? m->target : "");
    if (m->type == CB_SANDBOX_BIND && (m->source == NULL || m->source[0] == '\0'))
      return cb_error_set(err, CB_E_INVALID, 0, "sandbox: bind mount on '%s' has no source",
                          m->target);
    if (m->type != CB_SANDBOX_BIND && m->type != CB_SANDBOX_TMPFS)
      return cb_error_set(err, CB_E_INVALID, 0, "sandbox: unknown mount type for '%s'", m->target);
  }
  return 0;
}

/* Move a fresh pipe end above 0-2, so the child's dup2 of its stdio cannot clobber it. */
static int
above_stdio(int fd)
{
  int nfd;
  if (fd > 2)
    return fd;
  nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return nfd;
}

/* Read one message: 1 with *h and payload (NUL-terminated, malloc'ed in *data), 0 at EOF. */
static int
read_msg(int fd, struct msg_hdr *h, char **data)
{
  ssize_t n = cb_read_retry(fd, h, sizeof *h);
  size_t got = 0;

  *data = NULL;
  if (n == 0)
    return 0;
  if (n != (ssize_t)sizeof *h || h->len > STUBS_MAX + 512) {
    errno = EPROTO;
    return -1;
  }
  *data = cb__xmalloc(h->len + 1);
  while (got < h->len) {
    n = cb_read_retry(fd, *data + got, h->len - got);
    if (n <= 0) {
      free(*data);
      *data = NULL;
      errno = EPROTO;
      return -1;
    }
    got += (size_t)n;
  }
  (*data)[got] = '\0';
  return 1;
}

static int
join_cgroups(const struct cb_sandbox_config *cfg, pid_t pid, struct cb_error **err)
{
  char num[32];
  int len = snprintf(num, sizeof num, "%d\n", (int)pid);

  for (size_t i = 0; i < cfg->ncgroup_procs; i++) {
    cb_autoclose int fd = open(cfg->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || cb_write_all(fd, num, (size_t)len) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "sandbox: join cgroup '%s'", cfg->cgroup_procs[i]);
  }
  return 0;
}

static char **
split_stubs(const char *data, size_t len)
{
  size_t n = 0, k = 0;
  char **v;

  for (size_t i = 0; i < len; i++)
    n += data[i] == '\0';
  v = cb__xcalloc(n + 1, sizeof *v);
  for (size_t i = 0; i < len && k < n; i += strlen(data + i) + 1)
    v[k++] = cb__xstrdup(data + i);
  return v;
}

struct cb_sandbox *
cb_sandbox_spawn(const struct cb_sandbox_config *cfg, struct cb_error **err)
{
  static char *const empty_env[] = { NULL };
  struct child c;
  struct clone3_args args;
  struct cb_sandbox *sb;
  struct msg_hdr h;
  cb_autoclose int sync_rd = -1, sync_wr = -1, msg_rd = -1, msg_wr = -1, pidfd = -1, netns = -1;
  cb_autofree char *data = NULL;
  cb_autoseccomp struct cb_seccomp *filter = NULL;
  int fds[2], r;
  uint64_t flags = CLONE_NEWNS | CLONE_PIDFD;
  pid_t pid;

  if (validate(cfg, err) < 0)
    return NULL;
  flags |= cfg->host_pid ? 0 : CLONE_NEWPID;
  flags |= cfg->host_ipc ? 0 : CLONE_NEWIPC;
  flags |= cfg->host_uts ? 0 : CLONE_NEWUTS;
  memset(&c, 0, sizeof c);
  c.cfg = cfg;
  c.rootfd = -1;
  c.netns_fd = -1;
  c.env = cfg->env != NULL ? (char *const *)cfg->env : empty_env;
  c.path = cb__exec_path(c.env);
  if (!cfg->host_network && cfg->netns != NULL) {
    netns = open(cfg->netns, O_RDONLY | O_CLOEXEC);
    if (netns < 0) {
      cb_error_set(err, CB_E_SYS, errno, "sandbox: open network namespace '%s'", cfg->netns);
      return NULL;
    }
    c.netns_fd = netns;
  } else if (!cfg->host_network) {
    flags |= CLONE_NEWNET;
  }
  if (prepare_caps(cfg, &c, err) < 0)
    return NULL;
  if (cb__child_seccomp(cfg->privileged, cfg->seccomp, cfg->seccomp_profile, c.keep_caps,
                        cfg->seccomp_cache, &filter, err) < 0) {
    cb_error_wrap(err, "sandbox");
    return NULL;
  }
  c.seccomp = filter;

  if (pipe2(fds, O_CLOEXEC) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "sandbox: pipe");
    return NULL;
  }
  sync_rd = above_stdio(fds[0]);
  sync_wr = above_stdio(fds[1]);
  if (pipe2(fds, O_CLOEXEC) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "sandbox: pipe");
    return NULL;
  }
  msg_rd = above_stdio(fds[0]);
  msg_wr = above_stdio(fds[1]);
  if (sync_rd < 0 || sync_wr < 0 || msg_rd < 0 || msg_wr < 0) {
    cb_error_set(err, CB_E_SYS, errno, "sandbox: pipe");
    return NULL;
  }

  memset(&args, 0, sizeof args);
  args.flags = flags;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && errno == ENOSYS)
    pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, &pidfd, NULL, 0);
  if (pid == 0) {
    close(sync_wr);
    close(msg_rd);
    c.sync_fd = sync_rd;
    c.msg_fd = msg_wr;
    child_main(&c);
  }
  if (pid < 0) {
    cb_error_set(err, CB_E_SYS, errno, "sandbox: clone");
    return NULL;
  }
  close(cb_steal_fd(&sync_rd));
  close(cb_steal_fd(&msg_wr));

  if (join_cgroups(cfg, pid, err) < 0) {
    kill(pid, SIGKILL);
    cb__reap(pid);
    return NULL;
  }
  if (cb_write_all(sync_wr, "x", 1) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "sandbox: start the child");
    kill(pid, SIGKILL);
    cb__reap(pid);
    return NULL;
  }
  close(cb_steal_fd(&sync_wr));

  r = read_msg(msg_rd, &h, &data);
  if (r <= 0 || h.type != MSG_READY) {
    if (r < 0)
      cb_error_set(err, CB_E_SYS, errno, "sandbox: read from the child");
    else if (r == 0)
      cb_error_set(err, CB_E_SYS, 0, "sandbox: the child died during setup");
    else if (h.type == MSG_SETUP_FAIL)
      cb_error_set(err, CB_E_SYS, h.errnum, "sandbox: %s", data);
    else
      cb_error_set(err, CB_E_SYS, EPROTO, "sandbox: unexpected message %u", h.type);
    kill(pid, SIGKILL);
    cb__reap(pid);
    return NULL;
  }

  sb = cb__xcalloc(1, sizeof *sb);
  sb->pid = pid;
  sb->pidfd = cb_steal_fd(&pidfd);
  sb->msg_fd = cb_steal_fd(&msg_rd);
  sb->rootfs = cb__xstrdup(cfg->rootfs);
  sb->stubs = split_stubs(data, h.len);
  return sb;
}

pid_t
cb_sandbox_pid(const struct cb_sandbox *sb)
{
  return sb->pid;
}

int
cb_sandbox_pidfd(const struct cb_sandbox *sb)
{
  return sb->pidfd;
}

const char *const *
cb_sandbox_stubs(const struct cb_sandbox *sb)
{
  return (const char *const *)sb->stubs;
}

static void
exec_error(struct cb_sandbox *sb)
{
  struct msg_hdr h;
  cb_autofree char *file = NULL;

  if (read_msg(sb->msg_fd, &h, &file) <= 0 || h.type != MSG_EXEC_FAIL)
    return;
  sb->st.code = cb__exec_code(h.errnum);
  sb->st.exec_error = cb__exec_error(file, h.errnum);
  sb->st.exited = true;
  sb->st.signal = 0;
}

int
cb_sandbox_wait(struct cb_sandbox *sb, bool nohang, struct cb_sandbox_status *st,
                struct cb_error **err)
{
  if (!sb->reaped) {
    int r = cb__wait_exit(sb->pid, nohang, &sb->st.exited, &sb->st.code, &sb->st.signal);
    if (r < 0)
      return cb_error_set(err, CB_E_SYS, errno, "sandbox: wait for pid %d", (int)sb->pid);
    if (r == 0)
      return 0;
    sb->reaped = true;
    exec_error(sb);
    close(cb_steal_fd(&sb->msg_fd));
  }
  if (st != NULL)
    *st = sb->st;
  return 1;
}

int
cb_sandbox_kill(struct cb_sandbox *sb, int sig, struct cb_error **err)
{
  if (sb->reaped)
    return 0;
  /* not reaped yet, so the pid cannot have been reused: kill(2) is the fallback */
  if (syscall(SYS_pidfd_send_signal, sb->pidfd, sig, NULL, 0) < 0 &&
      (errno != ENOSYS || kill(sb->pid, sig) < 0) && errno != ESRCH)
    return cb_error_set(err, CB_E_SYS, errno, "sandbox: send signal %d to pid %d", sig,
                        (int)sb->pid);
  return 0;
}

int
cb_sandbox_remove_stubs(struct cb_sandbox *sb, struct cb_error **err)
{
  cb_autoclose int rootfd = open(sb->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  size_t n = 0;

  if (rootfd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "sandbox: open rootfs '%s'", sb->rootfs);
  while (sb->stubs[n] != NULL)
    n++;
  while (n-- > 0) {
    char *path = sb->stubs[n], *slash = strrchr(path, '/');
    cb_autoclose int dirfd = -1;
    struct stat st;
    int r = 0;

    if (slash == NULL)
      continue;
    *slash = '\0';
    dirfd = resolve_in_root(rootfd, path[0] != '\0' ? path : "/", O_PATH | O_DIRECTORY);
    *slash = '/';
    if (dirfd < 0) {
      if (errno == ENOENT || errno == ENOTDIR)
        continue;
      return cb_error_set(err, CB_E_SYS, errno, "sandbox: remove stub '%s'", path);
    }
    if (fstatat(dirfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT)
        continue;
      return cb_error_set(err, CB_E_SYS, errno, "sandbox: remove stub '%s'", path);
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0)
      r = unlinkat(dirfd, slash + 1, 0);
    else if (S_ISDIR(st.st_mode))
      r = unlinkat(dirfd, slash + 1, AT_REMOVEDIR);
    if (r < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST && errno != EBUSY)
      return cb_error_set(err, CB_E_SYS, errno, "sandbox: remove stub '%s'", path);
  }
  return 0;
}

void
cb_sandbox_free(struct cb_sandbox *sb)
{
  if (sb == NULL)
    return;
  if (!sb->reaped) {
    cb_sandbox_kill(sb, SIGKILL, NULL);
    cb_sandbox_wait(sb, false, NULL, NULL);
  }
  if (sb->pidfd >= 0)
    close(sb->pidfd);
  if (sb->msg_fd >= 0)
    close(sb->msg_fd);
  for (char **s = sb->stubs; s != NULL && *s != NULL; s++)
    free(*s);
  free(sb->stubs);
  free(sb->rootfs);
  free(sb->st.exec_error);
  free(sb);
}
