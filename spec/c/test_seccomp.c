/* Unit tests for core/src/seccomp.c on the real kernel: a forked child sets no_new_privs, loads a
 * filter and reports what a few syscalls then return. */
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cbuild/seccomp.h"
#include "tap.h"

#define CAP_BIT(n)    (UINT64_C(1) << (n))
#define DOCKER_CAPS   UINT64_C(0x00000000a80425fb)
#define CAP_SYS_ADMIN 21

enum probe {
  P_GETPID,
  P_UNSHARE_USER,
  P_CLONE3,
  P_CLONE_NEWNS,
  P_VSOCK,
  P_PERSONALITY_BAD,
  P_PERSONALITY_OK,
  P_MKDIR,
  P_SECCOMP_MODE,
  P_COUNT
};

/* What each probe returns in a child under F: 0 on success, else the errno. */
struct result {
  int loaded; /* 0, or the errno of loading */
  int err[P_COUNT];
};

static int
errno_of(long r)
{
  return r < 0 ? errno : 0;
}

static int
seccomp_mode(void)
{
  char line[256];
  int mode = -1;
  FILE *f = fopen("/proc/self/status", "r");

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "Seccomp: %d", &mode) == 1)
      break;
  fclose(f);
  return mode;
}

static void
probe(struct result *r, const char *dir)
{
  struct clone_args ca;
  char path[512];
  long pid;

  r->err[P_GETPID] = errno_of(syscall(SYS_getpid));
  r->err[P_UNSHARE_USER] = errno_of(syscall(SYS_unshare, CLONE_NEWUSER));
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0)
    _exit(0);
  if (pid > 0)
    waitpid((pid_t)pid, NULL, 0);
  r->err[P_CLONE3] = errno_of(pid);
  pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0)
    _exit(0);
  if (pid > 0)
    waitpid((pid_t)pid, NULL, 0);
  r->err[P_CLONE_NEWNS] = errno_of(pid);
  {
    int fd = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
    r->err[P_VSOCK] = fd < 0 ? errno : 0;
    if (fd >= 0)
      close(fd);
  }
  r->err[P_PERSONALITY_BAD] = errno_of(syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */));
  r->err[P_PERSONALITY_OK] = errno_of(syscall(SYS_personality, 0xffffffff));
  snprintf(path, sizeof path, "%s/made", dir);
  r->err[P_MKDIR] = errno_of(mkdir(path, 0755));
  r->err[P_SECCOMP_MODE] = seccomp_mode();
}

/* Fork; the child loads F (unless NULL) and probes.  Returns what it saw. */
static struct result
run_under(const struct cb_seccomp *f, const char *dir)
{
  struct result r;
  int fds[2];
  pid_t pid;

  memset(&r, 0, sizeof r);
  r.loaded = -1;
  if (pipe(fds) < 0)
    return r;
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    r.loaded = 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || (f != NULL && cb_seccomp_load(f) < 0))
      r.loaded = errno;
    else
      probe(&r, dir);
    if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
      _exit(1);
    _exit(0);
  }
  close(fds[1]);
  if (pid > 0) {
    if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r)
      r.loaded = -1;
    waitpid(pid, NULL, 0);
  }
  close(fds[0]);
  return r;
}

static void
test_default(const char *dir)
{
  struct cb_error *err = NULL;
  struct cb_seccomp *f = cb_seccomp_default(DOCKER_CAPS, &err);
  struct result r;

  ok(f != NULL, "docker's default profile compiles: %s", err ? err->msg : "");
  if (f == NULL) {
    cb_error_free(&err);
    return;
  }
  ok(cb_seccomp_size(f) > 100 && cb_seccomp_size(f) < 4096, "a BPF program of %zu instructions",
     cb_seccomp_size(f));
  r = run_under(f, dir);
  ok(r.loaded == 0, "the filter loads after no_new_privs (%d)", r.loaded);
  ok(r.err[P_SECCOMP_MODE] == 2, "/proc/self/status says Seccomp: 2 (%d)", r.err[P_SECCOMP_MODE]);
  ok(r.err[P_GETPID] == 0, "getpid is allowed");
  ok(r.err[P_MKDIR] == 0, "mkdir is allowed (%s)", strerror(r.err[P_MKDIR]));
  ok(r.err[P_UNSHARE_USER] == EPERM, "unshare(CLONE_NEWUSER) fails with EPERM (%s)",
     strerror(r.err[P_UNSHARE_USER]));
  ok(r.err[P_CLONE3] == ENOSYS, "clone3 fails with ENOSYS, so libc falls back to clone (%s)",
     strerror(r.err[P_CLONE3]));
  ok(r.err[P_CLONE_NEWNS] == EPERM, "clone(CLONE_NEWNS) fails with EPERM (%s)",
     strerror(r.err[P_CLONE_NEWNS]));
  ok(r.err[P_VSOCK] == EPERM, "socket(AF_VSOCK) fails with EPERM (%s)", strerror(r.err[P_VSOCK]));
  ok(r.err[P_PERSONALITY_BAD] == EPERM, "personality(ADDR_NO_RANDOMIZE) fails with EPERM (%s)",
     strerror(r.err[P_PERSONALITY_BAD]));
  ok(r.err[P_PERSONALITY_OK] == 0, "personality(0xffffffff), the query, is allowed (%s)",
     strerror(r.err[P_PERSONALITY_OK]));
  cb_seccomp_free(f);

  /* with CAP_SYS_ADMIN, docker allows the namespace syscalls (the kernel then decides) */
  f = cb_seccomp_default(DOCKER_CAPS | CAP_BIT(CAP_SYS_ADMIN), &err);
  ok(f != NULL, "the profile for CAP_SYS_ADMIN compiles");
  if (f != NULL) {
    struct result none = run_under(NULL, dir); /* clone3 itself is missing under valgrind */
    r = run_under(f, dir);
    ok(r.err[P_CLONE3] == none.err[P_CLONE3], "with CAP_SYS_ADMIN clone3 is allowed (%s)",
       strerror(r.err[P_CLONE3]));
    ok(r.err[P_UNSHARE_USER] != EPERM || geteuid() != 0,
       "with CAP_SYS_ADMIN unshare is allowed (%s)", strerror(r.err[P_UNSHARE_USER]));
    cb_seccomp_free(f);
  }
  cb_error_free(&err);
}

static void
test_json(const char *dir)
{
  static const char profile[] =
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\","
      " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\","
      "               \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]}],"
      " \"syscalls\": ["
      "  {\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
      "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\","
      "   \"args\": [{\"index\": 0, \"value\": 262144, \"op\": \"SCMP_CMP_EQ\"}]},"
      "  {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ERRNO\","
      "   \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},"
      "  {\"names\": [\"no_such_syscall\"], \"action\": \"SCMP_ACT_ERRNO\"}"
      " ]}";
  struct cb_error *err = NULL;
  struct cb_seccomp *f = cb_seccomp_from_json(profile, DOCKER_CAPS, &err);
  struct result r;

  ok(f != NULL, "a JSON profile compiles: %s", err ? err->msg : "");
  if (f != NULL) {
    r = run_under(f, dir);
    ok(r.loaded == 0, "and loads");
    ok(r.err[P_MKDIR] == EACCES, "its rule makes mkdir fail with errnoRet 13 (%s)",
       strerror(r.err[P_MKDIR]));
    ok(r.err[P_PERSONALITY_BAD] == EPERM, "an args rule matches (%s)",
       strerror(r.err[P_PERSONALITY_BAD]));
    ok(r.err[P_PERSONALITY_OK] == 0, "and only the value it names");
    ok(r.err[P_GETPID] == 0, "a rule that includes a capability the container lacks is left out");
    ok(r.err[P_UNSHARE_USER] != EPERM || geteuid() != 0, "the default action allows the rest");
    cb_seccomp_free(f);
  }
  cb_error_free(&err);

  f = cb_seccomp_from_json("{\"defaultAction\": \"SCMP_ACT_BOGUS\"}", DOCKER_CAPS, &err);
  ok(f == NULL && err != NULL && strstr(err->msg, "SCMP_ACT_BOGUS") != NULL,
     "an unknown action is refused: %s", err ? err->msg : "");
  cb_error_free(&err);
  f = cb_seccomp_from_json("{\"defaultAction\": ", DOCKER_CAPS, &err);
  ok(f == NULL && err != NULL && err->kind == CB_E_INVALID, "broken JSON is refused: %s",
     err ? err->msg : "");
  cb_error_free(&err);
  f = cb_seccomp_for(CB_SECCOMP_UNCONFINED, NULL, 0, NULL, &err);
  ok(f == NULL && err == NULL, "unconfined gives no filter and no error");
}

static double
ms_since(const struct timespec *t0)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void
test_cache(const char *dir)
{
  struct cb_error *err = NULL;
  struct timespec t0;
  struct cb_seccomp *a, *b;
  char cache[512], cmd[600];
  double first, second;
  int files;
  FILE *p;

  snprintf(cache, sizeof cache, "%s/cache/seccomp", dir);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  a = cb_seccomp_for(CB_SECCOMP_DEFAULT, NULL, DOCKER_CAPS | CAP_BIT(19), cache, &err);
  first = ms_since(&t0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  b = cb_seccomp_for(CB_SECCOMP_DEFAULT, NULL, DOCKER_CAPS | CAP_BIT(19), cache, &err);
  second = ms_since(&t0);
  ok(a != NULL && b != NULL && cb_seccomp_size(a) == cb_seccomp_size(b),
     "the same capabilities give the same program (compiled in %.2f ms, then %.3f ms)", first,
     second);
  snprintf(cmd, sizeof cmd, "ls '%s' | wc -l", cache);
  p = popen(cmd, "r");
  files = -1;
  if (p != NULL) {
    if (fscanf(p, "%d", &files) != 1)
      files = -1;
    pclose(p);
  }
  ok(files == 1, "one program is kept in the cache directory (%d)", files);
  cb_seccomp_free(a);
  cb_seccomp_free(b);
}

int
main(void)
{
  char *dir = tap_tmpdir("seccomp");

  test_default(dir);
  test_json(dir);
  test_cache(dir);
  free(dir);
  return tap_done();
}
