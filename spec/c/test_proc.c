/* Unit tests for core/src/proc.c and core/src/pty.c on the real kernel. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cbuild/proc.h"
#include "cbuild/pty.h"
#include "tap.h"

static void
test_pty(void)
{
  struct cb_error *err = NULL;
  struct termios saved;
  unsigned short rows = 0, cols = 0;
  int m, s, r;
  char c = 0;

  ok(cb_pty_open(&m, &s, &err) == 0, "openpty");
  ok(isatty(s) == 1, "the slave is a terminal");
  ok(cb_pty_set_winsize(m, 40, 132, &err) == 0, "set the window size");
  ok(cb_pty_get_winsize(s, &rows, &cols, &err) == 0 && rows == 40 && cols == 132,
     "read it back from the slave");
  ok(cb_pty_make_raw(s, &saved, &err) == 0, "raw mode");
  r = (int)write(m, "x", 1);
  ok(r == 1 && read(s, &c, 1) == 1 && c == 'x', "a byte passes without a newline in raw mode");
  ok(cb_pty_restore(s, &saved, &err) == 0, "restore");
  close(m);
  close(s);
  ok(cb_pty_get_winsize(0 == isatty(0) ? 0 : -1, &rows, &cols, &err) < 0 && err != NULL,
     "a non-terminal fails with an error");
  cb_error_free(&err);
}

static void
test_pty_open_at(void)
{
  struct cb_error *err = NULL;
  char name[64] = "";
  int m = -1, s = -1, r;
  char c = 0;

  ok(cb_pty_open_at("/dev/ptmx", &m, &s, &err) == 0, "a pty from a named ptmx");
  ok(isatty(s) == 1 && ttyname_r(s, name, sizeof name) == 0 && strncmp(name, "/dev/pts/", 9) == 0,
     "its slave resolves by name in that devpts (%s)", name);
  r = (int)write(m, "y\n", 2);
  ok(r == 2 && read(s, &c, 1) == 1 && c == 'y', "bytes pass from master to slave");
  close(m);
  close(s);
  ok(cb_pty_open_at("/nonexistent/ptmx", &m, &s, &err) < 0 && err != NULL &&
         strstr(err->msg, "/nonexistent/ptmx") != NULL,
     "a missing ptmx fails naming it");
  cb_error_free(&err);
}

static void
test_detached(const char *dir)
{
  struct cb_error *err = NULL;
  char script[2048], path[400], buf[64];
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  const char *bad[] = { "/nonexistent/binary", NULL };
  int stdio[3] = { -1, -1, -1 };
  pid_t pid;
  bool gone = false;
  FILE *f = NULL;

  snprintf(path, sizeof path, "%s/pid", dir);
  snprintf(script, sizeof script, "echo $$ > %s.tmp && mv %s.tmp %s; exec sleep 30", path, path,
           path);
  pid = cb_proc_spawn_detached(argv, stdio, -1, &err);
  ok(pid > 0, "spawn detached");
  for (int i = 0; i < 200 && (f = fopen(path, "r")) == NULL; i++)
    usleep(10000);
  ok(f != NULL && fgets(buf, sizeof buf, f) != NULL && atoi(buf) == pid,
     "the pid returned is the detached process's");
  if (f != NULL)
    fclose(f);
  ok(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD, "it is not our child");
  ok(cb_proc_kill(pid, SIGKILL, &gone, &err) == 0 && !gone, "kill it");
  for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
    usleep(10000);
  ok(cb_proc_kill(pid, SIGTERM, &gone, &err) == 0 && gone, "a gone process is reported as such");
  ok(cb_proc_spawn_detached(bad, stdio, -1, &err) < 0 && err != NULL && err->errnum == ENOENT,
     "an exec failure comes back as ENOENT");
  cb_error_free(&err);
}

static void
test_enter(void)
{
  struct cb_proc_enter_config cfg;
  struct cb_proc_status st;
  struct cb_error *err = NULL;
  struct cb_proc *p;
  const char *argv[] = { "/bin/sh", "-c", "test \"$(pwd)\" = /tmp && exit 3", NULL };
  const char *missing[] = { "nosuch-command", NULL };
  const char *env[] = { "PATH=/usr/bin:/bin", NULL };

  cb_proc_enter_config_init(&cfg);
  cfg.target = 0x3fffffff;
  cfg.argv = argv;
  ok(cb_proc_enter(&cfg, &err) == NULL && err != NULL && err->errnum == ENOENT,
     "a missing target fails with ENOENT");
  cb_error_free(&err);
  if (geteuid() != 0) {
    ok(true, "# SKIP enter needs root");
    return;
  }
  /* our own namespaces and root: the whole path without a container */
  cfg.target = getpid();
  cfg.host_network = true;
  cfg.privileged = true;
  cfg.cwd = "/tmp";
  cfg.env = env;
  p = cb_proc_enter(&cfg, &err);
  ok(p != NULL, "enter our own namespaces");
  if (p == NULL)
    printf("# %s\n", err->msg);
  if (p != NULL) {
    ok(cb_proc_enter_wait(p, false, &st, &err) == 1 && st.exited && st.code == 3 &&
           st.exec_error == NULL,
       "the command ran in the given cwd and its status came back");
    cb_proc_free(p);
  }
  cfg.argv = missing;
  p = cb_proc_enter(&cfg, &err);
  ok(p != NULL, "a missing command still starts");
  if (p != NULL) {
    ok(cb_proc_enter_wait(p, false, &st, &err) == 1 && st.code == 127 && st.exec_error != NULL &&
           strstr(st.exec_error, "executable file not found") != NULL,
       "and is reported as exit 127 with docker's message");
    cb_proc_free(p);
  }
  cb_error_free(&err);
}

int
main(void)
{
  char *dir = tap_tmpdir("test_proc");

  test_pty();
  test_pty_open_at();
  test_detached(dir);
  test_enter();
  free(dir);
  return tap_done();
}
