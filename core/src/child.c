/* core/src/child.c: a container command's steps between fork and exec, and its end. */
#include "child.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

void
cb__reset_signals(void)
{
  sigset_t all;

  sigfillset(&all);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
}

int
cb__setup_stdio(const int stdio[3], bool devnull)
{
  int tmp[3];

  /* dup everything above 2 first, so that moving one into place cannot clobber another */
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

/* Name the failed step in WHAT; errno is kept.  Returns -1. */
CB_PRINTF(3, 4) static int step_failed(char *what, size_t len, const char *fmt, ...)
{
  int e = errno;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(what, len, fmt, ap);
  va_end(ap);
  errno = e;
  return -1;
}

int
cb__drop_privileges(const struct cb__creds *cr, char *what, size_t len)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  uint64_t keep = cr->privileged ? ~UINT64_C(0) : cr->caps;

  if (!cr->privileged)
    for (int cap = 0; cap <= 63; cap++)
      if (!(keep & (UINT64_C(1) << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
          errno != EINVAL)
        return step_failed(what, len, "drop capability %d from the bounding set", cap);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return step_failed(what, len, "clear ambient capabilities");
  /* raw syscalls: glibc's wrappers signal every thread the parent had and wait for them, which
   * hangs forever in the child of a raw clone (glibc still counts the parent's threads) */
  if (syscall(SYS_setgroups, cr->ngroups, cr->groups) < 0)
    return step_failed(what, len, "setgroups");
  if (syscall(SYS_setresgid, cr->gid, cr->gid, cr->gid) < 0)
    return step_failed(what, len, "setgid %u", (unsigned)cr->gid);
  if (syscall(SYS_setresuid, cr->uid, cr->uid, cr->uid) < 0)
    return step_failed(what, len, "setuid %u", (unsigned)cr->uid);
  /* a non-root uid lost permitted/effective in setresuid; root keeps no more than it has
   * (capset cannot raise the permitted set).  Raw capget/capset: libcap's cap_t mallocs. */
  memset(data, 0, sizeof data);
  if (cr->uid != 0) {
    keep = 0;
  } else {
    if (syscall(SYS_capget, &hdr, data) < 0)
      return step_failed(what, len, "get capabilities");
    keep &= (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    memset(data, 0, sizeof data);
  }
  data[0].effective = data[0].permitted = (uint32_t)keep;
  data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0)
    return step_failed(what, len, "set capabilities");
  if (!cr->privileged && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return step_failed(what, len, "set no_new_privs");
  return 0;
}

const char *
cb__exec_path(char *const *env)
{
  const char *path = CB__DEFAULT_PATH;

  for (char *const *e = env; e != NULL && *e != NULL; e++)
    if (strncmp(*e, "PATH=", 5) == 0)
      path = *e + 5;
  return path;
}

int
cb__execvpe(const char *file, char *const *argv, char *const *env, const char *path)
{
  char buf[PATH_MAX];
  size_t flen = strlen(file);
  int saved = ENOENT;

  if (strchr(file, '/') != NULL) {
    execve(file, argv, env);
    return errno;
  }
  for (const char *p = path;;) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    if (dlen + flen + 2 <= sizeof buf) {
      if (dlen == 0) { /* an empty entry is the cwd */
        memcpy(buf, file, flen + 1);
      } else {
        memcpy(buf, p, dlen);
        buf[dlen] = '/';
        memcpy(buf + dlen + 1, file, flen + 1);
      }
      execve(buf, argv, env);
      /* as execvp(3): go on past what cannot be this file, stop at a real error */
      if (errno == EACCES)
        saved = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
               errno != ETIMEDOUT)
        return errno;
    }
    if (*end == '\0')
      return saved;
    p = end + 1;
  }
}

int
cb__child_seccomp(bool privileged, enum cb_seccomp_mode mode, const char *profile, uint64_t caps,
                  const char *cache_dir, struct cb_seccomp **out, struct cb_error **err)
{
  struct cb_error *e = NULL;

  *out = NULL;
  if (privileged || mode == CB_SECCOMP_UNCONFINED)
    return 0;
  *out = cb_seccomp_for(mode, profile, caps, cache_dir, &e);
  if (*out != NULL)
    return 0;
  if (e == NULL) /* cannot happen: only unconfined gives no filter */
    return cb_error_set(err, CB_E_INVALID, EINVAL, "seccomp: no filter");
  if (err != NULL)
    *err = e;
  else
    cb_error_free(&e);
  return -1;
}

void
cb__seccomp_freep(struct cb_seccomp **f)
{
  cb_seccomp_free(*f);
  *f = NULL;
}

char *
cb__exec_error(const char *file, int errnum)
{
  if (errnum == ENOENT || errnum == ENOTDIR)
    return strchr(file, '/') == NULL
               ? cb__xasprintf("exec: \"%s\": executable file not found in $PATH", file)
               : cb__xasprintf("exec: \"%s\": stat %s: no such file or directory", file, file);
  return cb__xasprintf("exec: \"%s\": %s", file,
                       errnum == EACCES ? "permission denied" : strerror(errnum));
}

int
cb__wait_exit(pid_t pid, bool nohang, bool *exited, int *code, int *signal)
{
  siginfo_t si;

  memset(&si, 0, sizeof si);
  while (waitid(P_PID, (id_t)pid, &si, WEXITED | (nohang ? WNOHANG : 0)) < 0)
    if (errno != EINTR)
      return -1;
  if (si.si_pid == 0)
    return 0;
  *exited = si.si_code == CLD_EXITED;
  *code = *exited ? si.si_status : 128 + si.si_status;
  *signal = *exited ? 0 : si.si_status;
  return 1;
}

void
cb__reap(pid_t pid)
{
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
}
