#include "cbuild/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void
cb_sys_clock_realtime(int64_t *sec, long *nsec)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *sec = (int64_t)ts.tv_sec;
  *nsec = ts.tv_nsec;
}

bool
cb_sys_isatty(int fd)
{
  return isatty(fd) == 1;
}

int
cb_sys_uname(struct cb_uname *u, struct cb_error **err)
{
  struct utsname un;
  if (uname(&un) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "uname");
  snprintf(u->sysname, sizeof u->sysname, "%s", un.sysname);
  snprintf(u->release, sizeof u->release, "%s", un.release);
  snprintf(u->machine, sizeof u->machine, "%s", un.machine);
  return 0;
}

char *
cb_sys_hostname(struct cb_error **err)
{
  char buf[HOST_NAME_MAX + 1];
  if (gethostname(buf, sizeof buf) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "gethostname");
    return NULL;
  }
  buf[HOST_NAME_MAX] = '\0';
  return cb__xstrdup(buf);
}

long
cb_sys_nproc(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

mode_t
cb_sys_umask_get(void)
{
  /* there is no read-only umask call; set and restore (Linux's /proc/self/status has it too,
   * but the two calls are cheaper and work without /proc) */
  mode_t m = umask(022);
  umask(m);
  return m;
}

mode_t
cb_sys_umask_set(mode_t mask)
{
  return umask(mask & 0777);
}

int
cb_sys_pipe(int fds[2], struct cb_error **err)
{
  if (pipe2(fds, O_CLOEXEC) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "pipe");
  return 0;
}

ssize_t
cb_sys_read(int fd, void *buf, size_t len, struct cb_error **err)
{
  ssize_t n = cb_read_retry(fd, buf, len);
  if (n < 0)
    return cb_error_set(err, CB_E_SYS, errno, "read fd %d", fd);
  return n;
}

int
cb_sys_write_all(int fd, const void *buf, size_t len, struct cb_error **err)
{
  if (cb_write_all(fd, buf, len) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "write fd %d", fd);
  return 0;
}

int
cb_sys_poll(struct pollfd *fds, size_t n, int timeout_ms, struct cb_error **err)
{
  int r = poll(fds, (nfds_t)n, timeout_ms);
  if (r < 0 && errno == EINTR)
    return 0;
  if (r < 0)
    return cb_error_set(err, CB_E_SYS, errno, "poll");
  return r;
}

void
cb_sys_close(int fd)
{
  if (fd >= 0)
    close(fd);
}

int
cb_sys_try_lock(const char *path, struct cb_error **err)
{
  cb_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open %s", path);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK)
      return -2;
    return cb_error_set(err, CB_E_SYS, errno, "lock %s", path);
  }
  return cb_steal_fd(&fd);
}

static void
fill_set(sigset_t *set, const int *sigs, size_t n)
{
  sigemptyset(set);
  for (size_t i = 0; i < n; i++)
    sigaddset(set, sigs[i]);
}

int
cb_sys_signalfd(const int *sigs, size_t n, struct cb_error **err)
{
  sigset_t set;
  int fd;

  fill_set(&set, sigs, n);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "block signals");
  fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) {
    int saved = errno;
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return cb_error_set(err, CB_E_SYS, saved, "signalfd");
  }
  return fd;
}

int
cb_sys_read_signal(int fd, struct cb_error **err)
{
  struct signalfd_siginfo si;
  ssize_t n = cb_read_retry(fd, &si, sizeof si);
  if (n < 0 && errno == EAGAIN)
    return 0;
  if (n != (ssize_t)sizeof si)
    return cb_error_set(err, CB_E_SYS, n < 0 ? errno : EIO, "read signalfd");
  return (int)si.ssi_signo;
}

void
cb_sys_signals_unblock(const int *sigs, size_t n)
{
  sigset_t set;
  fill_set(&set, sigs, n);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
}
