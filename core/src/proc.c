/* core/src/proc.c: detached monitors, signals by pid, and exec into a running container. */
#include "cbuild/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Put fds 0-2 in place from STDIO (-1: /dev/null when devnull, else left alone). */
static int
setup_stdio(const int stdio[3], bool devnull)
{
  int tmp[3];

  for (int i = 0; i < 3; i++) {
    tmp[i] = -1;
    if (stdio[i] >= 0)
      tmp[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
    else if (devnull)
      tmp[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
    else
      continue;
    if (tmp[i] < 0)
      return -1;
  }
  for (int i = 0; i < 3; i++)
    if (tmp[i] >= 0 && (dup2(tmp[i], i) < 0 || close(tmp[i]) < 0))
      return -1;
  return 0;
}

static void
reset_signals(void)
{
  sigset_t all;

  sigfillset(&all);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
}

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
    reset_signals();
    if (cb_write_all(wr, &me, sizeof me) < 0)
      _exit(1);
    if (keep_fd >= 0 && keep_fd != wr) {
      int flags = fcntl(keep_fd, F_GETFD);
      if (flags < 0 || fcntl(keep_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
        goto fail;
    }
    if (setup_stdio(stdio, true) < 0)
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
  uint64_t keep = cfg->privileged ? ~UINT64_C(0) : cfg->caps;
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];

  if (!cfg->privileged)
    for (int cap = 0; cap <= 63; cap++)
      if (!(keep & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
          errno != EINVAL)
        child_fail(c, "drop capability %d from the bounding set", cap);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    child_fail(c, "clear ambient capabilities");
  if (setgroups(cfg->ngroups, cfg->groups) < 0)
    child_fail(c, "setgroups");
  if (setresgid(cfg->gid, cfg->gid, cfg->gid) < 0)
    child_fail(c, "setgid %u", (unsigned)cfg->gid);
  if (setresuid(cfg->uid, cfg->uid, cfg->uid) < 0)
    child_fail(c, "setuid %u", (unsigned)cfg->uid);
  if (cfg->uid == 0 && !cfg->privileged) {
    /* never more than we have ourselves: capset cannot raise the permitted set */
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) < 0)
      child_fail(c, "get capabilities");
    keep &= (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = (uint32_t)keep;
    data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0)
      child_fail(c, "set capabilities");
  }
  if (!cfg->privileged && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail(c, "set no_new_privs");
}

__attribute__((noreturn)) static void
do_exec(struct enter_child *c)
{
  static char *const empty[] = { NULL };
  char *const *argv = (char *const *)c->cfg->argv;
  char *const *env = c->cfg->env != NULL ? (char *const *)c->cfg->env : empty;
  const char *file = argv[0], *path = DEFAULT_PATH;
  char buf[4096 + 1 + sizeof(int)];
  size_t flen = strlen(file);
  int saved = ENOENT;

  for (char *const *e = env; *e != NULL; e++)
    if (strncmp(*e, "PATH=", 5) == 0)
      path = *e + 5;
  if (strchr(file, '/') != NULL) {
    execve(file, argv, env);
    saved = errno;
  } else {
    for (const char *p = path;;) {
      const char *end = strchrnul(p, ':');
      size_t dlen = (size_t)(end - p);
      char full[4096];
      if (dlen + flen + 2 <= sizeof full) {
        if (dlen == 0) {
          memcpy(full, file, flen + 1);
        } else {
          memcpy(full, p, dlen);
          full[dlen] = '/';
          memcpy(full + dlen + 1, file, flen + 1);
        }
        execve(full, argv, env);
        if (errno == EACCES)
          saved = EACCES;
        else if (errno != ENOENT && errno != ENOTDIR) {
          saved = errno;
          break;
        }
      }
      if (*end == '\0')
        break;
      p = end + 1;
    }
  }
  buf[0] = MSG_EXEC;
  memcpy(buf + 1, &saved, sizeof saved);
  if (flen > 4096)
    flen = 4096;
  memcpy(buf + 1 + sizeof saved, file, flen);
  cb_write_all(c->msg_fd, buf, 1 + sizeof saved + flen);
  _exit(saved == ENOENT || saved == ENOTDIR ? 127 : 126);
}

__attribute__((noreturn)) static void
enter_child_main(struct enter_child *c)
{
  const struct cb_proc_enter_config *cfg = c->cfg;
  static const int nstypes[4] = { CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWNS };

  reset_signals();
  for (size_t i = 0; i < cfg->ncgroup_procs; i++)
    write_file(c, cfg->cgroup_procs[i], "0");
  for (int i = 0; i < 4; i++)
    if (c->nsfd[i] >= 0 && setns(c->nsfd[i], nstypes[i]) < 0)
      child_fail(c, "join the container's namespaces (setns)");
  if (fchdir(c->rootfd) < 0 || chroot(".") < 0)
    child_fail(c, "enter the container's root");
  if (setup_stdio(cfg->stdio, false) < 0)
    child_fail(c, "set up stdio");
  if (cfg->ctty && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0))
    child_fail(c, "make fd 0 the controlling terminal");
  drop_privileges(c);
  if (chdir(cfg->cwd != NULL ? cfg->cwd : "/") < 0)
    child_fail(c, "chdir to '%s'", cfg->cwd != NULL ? cfg->cwd : "/");
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    child_fail(c, "close_range");
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

static void
reap(pid_t pid)
{
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

struct cb_proc *
cb_proc_enter(const struct cb_proc_enter_config *cfg, struct cb_error **err)
{
  static const char *const names[4] = { "ns/ipc", "ns/uts", "ns/net", "ns/mnt" };
  struct enter_child c;
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
    reap(pid);
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
    if (e == ENOENT || e == ENOTDIR)
      p->st.exec_error =
          strchr(file, '/') == NULL
              ? cb__xasprintf("exec: \"%s\": executable file not found in $PATH", file)
              : cb__xasprintf("exec: \"%s\": stat %s: no such file or directory", file, file);
    else
      p->st.exec_error =
          cb__xasprintf("exec: \"%s\": %s", file, e == EACCES ? "permission denied" : strerror(e));
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
  siginfo_t si;

  if (!p->reaped) {
    memset(&si, 0, sizeof si);
    while (waitid(P_PID, (id_t)p->pid, &si, WEXITED | (nohang ? WNOHANG : 0)) < 0)
      if (errno != EINTR)
        return cb_error_set(err, CB_E_SYS, errno, "exec: wait for pid %d", (int)p->pid);
    if (si.si_pid == 0)
      return 0;
    p->reaped = true;
    if (si.si_code == CLD_EXITED) {
      p->st.exited = true;
      p->st.code = si.si_status;
    } else {
      p->st.signal = si.si_status;
      p->st.code = 128 + si.si_status;
    }
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
    reap(p->pid);
  }
  free(p->st.exec_error);
  free(p);
}
