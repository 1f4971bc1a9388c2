/* core/src/proc.c: detached monitors, signals by pid, and exec into a running container. */
#include "cbuild/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "util.h"

pid_t
cb_proc_spawn_detached(const char *const *argv, const int stdio[3], int keep_fd,
                       struct cb_error **err)
{
  cb_autoclose int rd = -1, wr = -1;
  int fds[2], status, e = 0;
  pid_t mid, pid = -1;
  ssize_t n;

  if (argv == NULL || argv[0] == NULL)
    return cb_error_set(err, CB_E_INVALID, EINVAL, "spawn detached: empty argv");
  if (pipe2(fds, O_CLOEXEC) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "spawn detached: pipe");
  rd = fds[0];
  wr = fds[1];
  mid = fork();
  if (mid < 0)
    return cb_error_set(err, CB_E_SYS, errno, "spawn detached: fork");
  if (mid == 0) {
    pid_t me;
    close(rd);
    if (setsid() < 0)
      _exit(1);
    me = fork();
    if (me != 0)
      _exit(me < 0 ? 1 : 0);
    me = getpid();
    cb__reset_signals();
    if (cb_write_all(wr, &me, sizeof me) < 0)
      _exit(1);
    if (keep_fd >= 0 && keep_fd != wr) {
      int flags = fcntl(keep_fd, F_GETFD);
      if (flags < 0 || fcntl(keep_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
        goto fail;
    }
    if (cb__setup_stdio(stdio, true) < 0)
      goto fail;
    for (int fd = 3; fd < 1024; fd++) /* keep only 0-2, KEEP_FD and our reporting pipe */
      if (fd != keep_fd && fd != wr)
        close(fd);
    execv(argv[0], (char *const *)argv);
  fail:
    e = errno;
    cb_write_all(wr, &e, sizeof e);
    _exit(127);
  }
  close(cb_steal_fd(&wr));
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
    ;
  n = cb_read_retry(rd, &pid, sizeof pid);
  if (n != (ssize_t)sizeof pid)
    return cb_error_set(err, CB_E_SYS, n < 0 ? errno : ECHILD, "spawn detached '%s'", argv[0]);
  n = cb_read_retry(rd, &e, sizeof e);
  if (n == (ssize_t)sizeof e)
    return cb_error_set(err, CB_E_SYS, e, "spawn detached: exec '%s'", argv[0]);
  return pid;
}

int
cb_proc_kill(pid_t pid, int sig, bool *gone, struct cb_error **err)
{
  if (gone != NULL)
    *gone = false;
  if (pid <= 0)
    return cb_error_set(err, CB_E_INVALID, EINVAL, "kill: bad pid %d", (int)pid);
  if (kill(pid, sig) < 0) {
    if (errno == ESRCH) {
      if (gone != NULL)
        *gone = true;
      return 0;
    }
    return cb_error_set(err, CB_E_SYS, errno, "kill pid %d with signal %d", (int)pid, sig);
  }
  return 0;
}

int
cb_proc_setrlimit(const char *name, int64_t soft, int64_t hard, struct cb_error **err)
{
  static const struct {
    const char *name;
    int res;
  } names[] = { { "as", RLIMIT_AS },
                { "core", RLIMIT_CORE },
                { "cpu", RLIMIT_CPU },
                { "data", RLIMIT_DATA },
                { "fsize", RLIMIT_FSIZE },
                { "locks", RLIMIT_LOCKS },
                { "memlock", RLIMIT_MEMLOCK },
                { "msgqueue", RLIMIT_MSGQUEUE },
                { "nice", RLIMIT_NICE },
                { "nofile", RLIMIT_NOFILE },
                { "nproc", RLIMIT_NPROC },
                { "rss", RLIMIT_RSS },
                { "rtprio", RLIMIT_RTPRIO },
                { "rttime", RLIMIT_RTTIME },
                { "sigpending", RLIMIT_SIGPENDING },
                { "stack", RLIMIT_STACK } };
  struct rlimit rl;

  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    if (strcmp(name, names[i].name) != 0)
      continue;
    rl.rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft;
    rl.rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard;
    if (setrlimit(names[i].res, &rl) < 0)
      return cb_error_set(err, CB_E_SYS, errno, "setrlimit '%s'", name);
    return 0;
  }
  return cb_error_set(err, CB_E_INVALID, EINVAL, "unknown ulimit '%s'", name);
}

/* ---- exec into a container ----------------------------------------------------------------- */

enum { MSG_SETUP = 'S', MSG_EXEC = 'X' };

struct cb_proc {
  pid_t pid;
  bool reaped;
  struct cb_proc_status st;
};

void
cb_proc_enter_config_init(struct cb_proc_enter_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->stdio[0] = cfg->stdio[1] = cfg->stdio[2] = -1;
}

struct enter_child {
  const struct cb_proc_enter_config *cfg;
  const struct cb_seccomp *seccomp; /* loaded just before exec; NULL = none */
  int msg_fd;
  int rootfd;
  int nsfd[4]; /* ipc, uts, net, mnt; -1 = skip */
};

__attribute__((noreturn))
CB_PRINTF(2, 3) static void child_fail(struct enter_child *c, const char *fmt, ...)
{
  char buf[512];
  int e = errno;
  va_list ap;
  int len;

  buf[0] = MSG_SETUP;
  memcpy(buf + 1, &e, sizeof e);
  va_start(ap, fmt);
  len = vsnprintf(buf + 1 + sizeof e, sizeof buf - 1 - sizeof e, fmt, ap);
  va_end(ap);
  if (len < 0)
    len = 0;
  if ((size_t)len > sizeof buf - 1 - sizeof e - 1)
    len = (int)(sizeof buf - 1 - sizeof e - 1);
  cb_write_all(c->msg_fd, buf, 1 + sizeof e + (size_t)len);
  _exit(125);
}

static void
write_file(struct enter_child *c, const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || cb_write_all(fd, text, strlen(text)) < 0)
    child_fail(c, "join cgroup '%s'", path);
  close(fd);
}

static void
drop_privileges(struct enter_child *c)
{
  const struct cb_proc_enter_config *cfg = c->cfg;
  struct cb__creds cr = { .uid = cfg->uid,
                          .gid = cfg->gid,
                          .groups = cfg->groups,
                          .ngroups = cfg->ngroups,
                          .caps = cfg->caps,
                          .privileged = cfg->privileged };
  char what[128];

  if (cb__drop_privileges(&cr, what, sizeof what) < 0)
    child_fail(c, "%s", what);
}

__attribute__((noreturn)) static void
do_exec(struct enter_child *c)
{
  static char *const empty[] = { NULL };
  char *const *argv = (char *const *)c->cfg->argv;
  char *const *env = c->cfg->env != NULL ? (char *const *)c->cfg->env : empty;
  const char *file = argv[0];
  char buf[4096 + 1 + sizeof(int)];
  size_t flen = strlen(file);
  int saved = cb__execvpe(file, argv, env, cb__exec_path(env));

  buf[0] = MSG_EXEC;
  memcpy(buf + 1, &saved, sizeof saved);
  if (flen > 4096)
    flen = 4096;
  memcpy(buf + 1 + sizeof saved, file, flen);
  cb_write_all(c->msg_fd, buf, 1 + sizeof saved + flen);
  _exit(cb__exec_code(saved));
}

__attribute__((noreturn)) static void
enter_child_main(struct enter_child *c)
{
  const struct cb_proc_enter_config *cfg = c->cfg;
  static const int nstypes[4] = { CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWNS };

  cb__reset_signals();
  for (size_t i = 0; i < cfg->ncgroup_procs; i++)
    write_file(c, cfg->cgroup_procs[i], "0");
  for (int i = 0; i < 4; i++)
    if (c->nsfd[i] >= 0 && setns(c->nsfd[i], nstypes[i]) < 0)
      child_fail(c, "join the container's namespaces (setns)");
  if (fchdir(c->rootfd) < 0 || chroot(".") < 0)
    child_fail(c, "enter the container's root");
  if (cb__setup_stdio(cfg->stdio, false) < 0)
    child_fail(c, "set up stdio");
  if (cfg->ctty && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0))
    child_fail(c, "make fd 0 the controlling terminal");
  drop_privileges(c);
  if (chdir(cfg->cwd != NULL ? cfg->cwd : "/") < 0)
    child_fail(c, "chdir to '%s'", cfg->cwd != NULL ? cfg->cwd : "/");
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    child_fail(c, "close_range");
  if (c->seccomp != NULL && cb_seccomp_load(c->seccomp) < 0)
    child_fail(c, "load the seccomp filter");
  do_exec(c);
}

static int
open_ns(pid_t pid, const char *name, struct cb_error **err)
{
  char path[64];
  int fd;

  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    cb_error_set(err, CB_E_SYS, errno, "exec: open '%s'", path);
  return fd;
}

static void
close_all(int *fds, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0) {
      close(fds[i]);
      fds[i] = -1;
    }
}

struct cb_proc *
cb_proc_enter(const struct cb_proc_enter_config *cfg, struct cb_error **err)
{
  static const char *const names[4] = { "ns/ipc", "ns/uts", "ns/net", "ns/mnt" };
  struct enter_child c;
  cb_autoseccomp struct cb_seccomp *filter = NULL;
  struct cb_proc *p;
  int fds[6] = { -1, -1, -1, -1, -1, -1 }; /* the 4 ns, root, the target's pid ns */
  int pipefd[2], own_pidns = -1;
  char buf[600];
  ssize_t n;
  pid_t pid;

  if (cfg->argv == NULL || cfg->argv[0] == NULL) {
    cb_error_set(err, CB_E_INVALID, EINVAL, "exec: empty command");
    return NULL;
  }
  /* compiled before the fork: the child of a threaded process must not allocate */
  if (cb__child_seccomp(cfg->privileged, cfg->seccomp, cfg->seccomp_profile, cfg->caps,
                        cfg->seccomp_cache, &filter, err) < 0) {
    cb_error_wrap(err, "exec");
    return NULL;
  }
  for (int i = 0; i < 4; i++) {
    if (i == 2 && cfg->host_network)
      continue;
    if ((fds[i] = open_ns(cfg->target, names[i], err)) < 0)
      goto fail;
  }
  if ((fds[4] = open_ns(cfg->target, "root", err)) < 0 ||
      (fds[5] = open_ns(cfg->target, "ns/pid", err)) < 0)
    goto fail;
  own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (own_pidns < 0) {
    cb_error_set(err, CB_E_SYS, errno, "exec: open '/proc/self/ns/pid'");
    goto fail;
  }
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "exec: pipe");
    goto fail;
  }
  /* our children (not we) go into the container's pid namespace; we switch back at once */
  if (setns(fds[5], CLONE_NEWPID) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "exec: join the container's pid namespace");
    close(pipefd[0]);
    close(pipefd[1]);
    goto fail;
  }
  pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.msg_fd = pipefd[1];
    c.rootfd = fds[4];
    c.seccomp = filter;
    memcpy(c.nsfd, fds, sizeof c.nsfd);
    enter_child_main(&c);
  }
  if (setns(own_pidns, CLONE_NEWPID) < 0) /* cannot fail for our own active namespace */
    abort();
  close(pipefd[1]);
  close_all(fds, 6);
  close(own_pidns);
  own_pidns = -1;
  if (pid < 0) {
    close(pipefd[0]);
    cb_error_set(err, CB_E_SYS, errno, "exec: fork");
    return NULL;
  }
  p = cb__xcalloc(1, sizeof *p);
  p->pid = pid;
  n = cb_read_retry(pipefd[0], buf, sizeof buf - 1);
  if (n > 0 && buf[0] == MSG_SETUP) {
    int e = 0;
    if ((size_t)n >= 1 + sizeof e)
      memcpy(&e, buf + 1, sizeof e);
    buf[n] = '\0';
    cb_error_set(err, CB_E_SYS, e, "exec: %s",
                 (size_t)n > 1 + sizeof e ? buf + 1 + sizeof e : "setup failed");
    close(pipefd[0]);
    cb__reap(pid);
    free(p);
    return NULL;
  }
  if (n > 0 && buf[0] == MSG_EXEC) {
    int e = ENOENT;
    const char *file = "";
    if ((size_t)n >= 1 + sizeof e)
      memcpy(&e, buf + 1, sizeof e);
    buf[n] = '\0';
    if ((size_t)n > 1 + sizeof e)
      file = buf + 1 + sizeof e;
    p->st.exec_error = cb__exec_error(file, e);
  }
  close(pipefd[0]);
  return p;

fail:
  close_all(fds, 6);
  if (own_pidns >= 0)
    close(own_pidns);
  return NULL;
}

pid_t
cb_proc_pid(const struct cb_proc *p)
{
  return p->pid;
}

int
cb_proc_enter_wait(struct cb_proc *p, bool nohang, struct cb_proc_status *st, struct cb_error **err)
{
  if (!p->reaped) {
    int r = cb__wait_exit(p->pid, nohang, &p->st.exited, &p->st.code, &p->st.signal);
    if (r < 0)
      return cb_error_set(err, CB_E_SYS, errno, "exec: wait for pid %d", (int)p->pid);
    if (r == 0)
      return 0;
    p->reaped = true;
  }
  if (st != NULL)
    *st = p->st;
  return 1;
}

int
cb_proc_enter_kill(struct cb_proc *p, int sig, struct cb_error **err)
{
  if (p->reaped)
    return 0;
  if (kill(p->pid, sig) < 0 && errno != ESRCH)
    return cb_error_set(err, CB_E_SYS, errno, "exec: send signal %d to pid %d", sig, (int)p->pid);
  return 0;
}

void
cb_proc_free(struct cb_proc *p)
{
  if (p == NULL)
    return;
  if (!p->reaped) {
    kill(p->pid, SIGKILL);
    cb__reap(p->pid);
  }
  free(p->st.exec_error);
  free(p);
}
