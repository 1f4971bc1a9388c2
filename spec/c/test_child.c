/* Unit tests for core/src/child.c on the real kernel: a forked child drops its credentials and
 * reports what /proc/self/status then says; exec lookup, docker's messages, exit statuses. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "tap.h"
#include "util.h"

#define CAP_BIT(n) (UINT64_C(1) << (n))
#define MASK       (CAP_BIT(0) | CAP_BIT(5) | CAP_BIT(7)) /* CHOWN, KILL, SETUID */

struct status {
  unsigned uid[4], gid[4];
  char groups[256];
  uint64_t inh, prm, eff, bnd, amb;
  int nnp;
  char what[128]; /* the failed step, or "" */
  int errnum;
};

/* The fields of /proc/self/status this test looks at. */
static void
read_status(struct status *s)
{
  char line[512];
  FILE *f = fopen("/proc/self/status", "r");

  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long long v;
    if (sscanf(line, "Uid: %u %u %u %u", &s->uid[0], &s->uid[1], &s->uid[2], &s->uid[3]) == 4 ||
        sscanf(line, "Gid: %u %u %u %u", &s->gid[0], &s->gid[1], &s->gid[2], &s->gid[3]) == 4)
      continue;
    if (strncmp(line, "Groups:", 7) == 0) {
      snprintf(s->groups, sizeof s->groups, "%s", line + 7 + strspn(line + 7, "\t "));
      for (size_t n = strlen(s->groups); n > 0 && strchr(" \n", s->groups[n - 1]) != NULL; n--)
        s->groups[n - 1] = '\0'; /* the kernel ends the list with a space */
    } else if (sscanf(line, "CapInh: %llx", &v) == 1) {
      s->inh = v;
    } else if (sscanf(line, "CapPrm: %llx", &v) == 1) {
      s->prm = v;
    } else if (sscanf(line, "CapEff: %llx", &v) == 1) {
      s->eff = v;
    } else if (sscanf(line, "CapBnd: %llx", &v) == 1) {
      s->bnd = v;
    } else if (sscanf(line, "CapAmb: %llx", &v) == 1) {
      s->amb = v;
    } else if (sscanf(line, "NoNewPrivs: %d", &s->nnp) == 1) {
      continue;
    }
  }
  fclose(f);
}

/* Fork; the child drops to CR (after FIRST, when not NULL) and sends back its status. */
static struct status
drop_in_child(const struct cb__creds *first, const struct cb__creds *cr)
{
  struct status s;
  int fds[2];
  pid_t pid;

  memset(&s, 0, sizeof s);
  if (pipe(fds) < 0)
    return s;
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if ((first == NULL || cb__drop_privileges(first, s.what, sizeof s.what) == 0) &&
        cb__drop_privileges(cr, s.what, sizeof s.what) == 0)
      read_status(&s);
    else
      s.errnum = errno;
    _exit(cb_write_all(fds[1], &s, sizeof s) < 0);
  }
  close(fds[1]);
  if (pid > 0) {
    if (cb_read_retry(fds[0], &s, sizeof s) != (ssize_t)sizeof s)
      s.errnum = -1;
    cb__reap(pid);
  }
  close(fds[0]);
  return s;
}

static void
test_drop_privileges(void)
{
  const gid_t groups[] = { 100, 65534 };
  struct cb__creds nobody = {
    .uid = 65534, .gid = 65534, .groups = groups, .ngroups = 2, .caps = MASK
  };
  struct cb__creds root = { .uid = 0, .gid = 0, .caps = MASK };
  struct cb__creds privileged = { .uid = 0, .gid = 0, .privileged = true };
  struct status me, s;

  memset(&me, 0, sizeof me);
  read_status(&me);

  s = drop_in_child(NULL, &nobody);
  ok(s.what[0] == '\0', "drop to nobody (%s)", s.what);
  ok(s.uid[0] == 65534 && s.uid[1] == 65534 && s.uid[2] == 65534 && s.uid[3] == 65534,
     "real, effective, saved and fs uid are 65534");
  ok(s.gid[0] == 65534 && s.gid[1] == 65534 && s.gid[2] == 65534 && s.gid[3] == 65534,
     "and so are the gids");
  ok(strcmp(s.groups, "100 65534") == 0, "supplementary groups are 100 and 65534 ('%s')", s.groups);
  ok(s.bnd == (MASK & me.bnd), "the bounding set is the kept caps (%llx)",
     (unsigned long long)s.bnd);
  ok(s.prm == 0 && s.eff == 0 && s.inh == 0 && s.amb == 0,
     "a non-root uid has no permitted, effective, inheritable or ambient caps");
  ok(s.nnp == 1, "no_new_privs is set");

  s = drop_in_child(NULL, &root);
  ok(s.what[0] == '\0', "drop to root with three caps (%s)", s.what);
  ok(s.uid[1] == 0 && s.gid[1] == 0 && s.groups[0] == '\0', "uid and gid 0, no groups");
  ok(s.bnd == (MASK & me.bnd) && s.prm == (MASK & me.prm) && s.eff == (MASK & me.prm),
     "bounding, permitted and effective are the kept caps (%llx %llx %llx)",
     (unsigned long long)s.bnd, (unsigned long long)s.prm, (unsigned long long)s.eff);
  ok(s.inh == 0 && s.amb == 0 && s.nnp == 1, "no inheritable or ambient caps; no_new_privs");

  s = drop_in_child(NULL, &privileged);
  ok(s.what[0] == '\0', "privileged (%s)", s.what);
  ok(s.bnd == me.bnd && s.prm == me.prm && s.eff == me.prm,
     "privileged keeps every capability we have");
  ok(s.nnp == me.nnp, "and leaves no_new_privs as it was");

  privileged.uid = 65534;
  s = drop_in_child(NULL, &privileged);
  ok(s.uid[0] == 65534 && s.bnd == me.bnd && s.prm == 0 && s.eff == 0,
     "privileged as another uid keeps the bounding set but no permitted caps");

  /* once nobody, there is no way back: the step that fails is named, errno kept */
  privileged.uid = 0;
  s = drop_in_child(&nobody, &privileged);
  ok(strcmp(s.what, "setgroups") == 0 && s.errnum == EPERM,
     "becoming root again fails at setgroups with EPERM ('%s', %d)", s.what, s.errnum);
  s = drop_in_child(&nobody, &root);
  ok(strncmp(s.what, "drop capability ", 16) == 0 && s.errnum == EPERM,
     "and a bounding set drop without CAP_SETPCAP names the capability ('%s')", s.what);
}

static void *
idle_thread(void *arg)
{
  char b;
  return read(*(int *)arg, &b, 1) < 0 ? NULL : arg; /* until the test closes the pipe */
}

/* The sandbox's child comes from a raw clone, and glibc still counts the parent's threads there:
 * its setuid wrappers would wait forever for them to follow. */
static void
test_threaded_clone(void)
{
  const struct cb__creds nobody = { .uid = 65534, .gid = 65534, .caps = MASK };
  int fds[2], status = -1;
  pthread_t t;
  pid_t pid;

  if (pipe(fds) < 0 || pthread_create(&t, NULL, idle_thread, &fds[0]) != 0)
    return;
  pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
  if (pid == 0) {
    char what[128];
    alarm(10); /* a hang ends in SIGALRM */
    if (cb__drop_privileges(&nobody, what, sizeof what) == 0)
      execl("/bin/true", "true",
            (char *)NULL); /* not _exit: valgrind would count the thread lost */
    _exit(1);
  }
  if (pid > 0)
    waitpid(pid, &status, 0);
  ok(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
     "a raw clone of a threaded process drops its privileges (status %#x)", (unsigned)status);
  close(fds[1]);
  pthread_join(t, NULL);
  close(fds[0]);
}

/* Run cb__execvpe in a child; its errno comes back as the exit status. */
static int
execvpe_status(const char *file, const char *path)
{
  char *const argv[] = { (char *)file, NULL };
  char *const env[] = { NULL };
  int status = -1;
  pid_t pid = fork();

  if (pid == 0)
    _exit(cb__execvpe(file, argv, env, path));
  if (pid > 0)
    waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_exec(const char *dir)
{
  char a[] = "A=1", p[] = "PATH=/x:/y";
  char *const env[] = { a, p, NULL };
  char *const none[] = { a, NULL };
  char path[4200], noexec[4200];
  char *msg;
  int fd;

  /* no heap block is live while children run: each would report it lost at _exit */
  snprintf(path, sizeof path, "/nonexistent:%s:/bin", dir);
  snprintf(noexec, sizeof noexec, "%s/noexec", dir);
  fd = open(noexec, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

  if (fd >= 0)
    close(fd);
  ok(strcmp(cb__exec_path(env), "/x:/y") == 0, "the PATH of an environment");
  ok(strcmp(cb__exec_path(none), CB__DEFAULT_PATH) == 0 &&
         strcmp(cb__exec_path(NULL), CB__DEFAULT_PATH) == 0,
     "docker's default PATH without one");

  ok(execvpe_status("true", path) == 0, "a command found along PATH runs");
  ok(execvpe_status("nosuch-command", path) == ENOENT, "a missing command gives ENOENT");
  ok(execvpe_status("noexec", path) == EACCES, "a non-executable file on PATH gives EACCES");
  ok(execvpe_status(noexec, "/bin") == EACCES, "so does the same file by path");
  ok(cb__exec_code(ENOENT) == 127 && cb__exec_code(ENOTDIR) == 127 && cb__exec_code(EACCES) == 126,
     "exit codes 127 and 126");

  msg = cb__exec_error("nosuch", ENOENT);
  ok(strcmp(msg, "exec: \"nosuch\": executable file not found in $PATH") == 0, "%s", msg);
  free(msg);
  msg = cb__exec_error("/no/such", ENOENT);
  ok(strcmp(msg, "exec: \"/no/such\": stat /no/such: no such file or directory") == 0, "%s", msg);
  free(msg);
  msg = cb__exec_error("/etc", EACCES);
  ok(strcmp(msg, "exec: \"/etc\": permission denied") == 0, "%s", msg);
  free(msg);
}

static void
test_wait(void)
{
  bool exited = false;
  int code = -1, sig = -1, fds[2];
  pid_t pid;

  pid = fork();
  if (pid == 0)
    _exit(3);
  ok(cb__wait_exit(pid, false, &exited, &code, &sig) == 1 && exited && code == 3 && sig == 0,
     "an exit status");

  if (pipe(fds) < 0)
    return;
  pid = fork();
  if (pid == 0) {
    char b;
    close(fds[1]);
    (void)read(fds[0], &b, 1);
    _exit(0);
  }
  close(fds[0]);
  ok(cb__wait_exit(pid, true, &exited, &code, &sig) == 0, "0 while it runs (nohang)");
  kill(pid, SIGTERM);
  ok(cb__wait_exit(pid, false, &exited, &code, &sig) == 1 && !exited && code == 128 + SIGTERM &&
         sig == SIGTERM,
     "killed by a signal: 128 + signal");
  close(fds[1]);
  errno = 0;
  ok(cb__wait_exit(pid, false, &exited, &code, &sig) < 0 && errno == ECHILD,
     "-1 with ECHILD once reaped");
}

int
main(void)
{
  char *tmp = tap_tmpdir("test_child");
  char dir[4096];

  snprintf(dir, sizeof dir, "%s", tmp);
  free(tmp);

  if (geteuid() == 0) {
    test_drop_privileges();
  } else
    ok(true, "# SKIP dropping privileges needs root");
  test_exec(dir);
  test_wait();
  if (geteuid() == 0)
    test_threaded_clone(); /* last: children forked after it would report its stack as lost */
  return tap_done();
}
