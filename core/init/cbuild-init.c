/*
 * cbuild-init: the tiny init of `cbuild run --init`, bind-mounted into the container as
 * /dev/init and run as its PID 1 (`/dev/init -- COMMAND [ARG...]`).  It starts the command as its
 * only child, forwards every signal it can catch to it (so SIGTERM from `cbuild stop` reaches a
 * command that never installed a handler), reaps every zombie that is reparented to it, and
 * exits with the command's status (128 + signal when it was killed).
 *
 * Built static (no libc of the image is needed); no libcbuild, no allocation.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int
exec_status(int e)
{
  return e == ENOENT || e == ENOTDIR ? 127 : 126;
}

int
main(int argc, char **argv)
{
  sigset_t all, old;
  int first = 1, status = 0;
  pid_t child;

  if (argc > 1 && strcmp(argv[1], "--") == 0)
    first = 2;
  if (first >= argc) {
    fprintf(stderr, "cbuild-init: usage: %s -- COMMAND [ARG...]\n", argv[0]);
    return 125;
  }
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  child = fork();
  if (child < 0) {
    perror("cbuild-init: fork");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (setpgid(0, 0) == 0 && isatty(0))
      tcsetpgrp(0, getpgrp()); /* the command owns the terminal, as under a shell */
    execvp(argv[first], argv + first);
    fprintf(stderr, "cbuild-init: exec %s failed: %s\n", argv[first], strerror(errno));
    _exit(exec_status(errno));
  }
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0)
      continue;
    if (sig != SIGCHLD) {
      if (kill(child, sig) < 0 && errno == ESRCH)
        kill(-child, sig);
      continue;
    }
    for (;;) {
      int st;
      pid_t pid = waitpid(-1, &st, WNOHANG);
      if (pid <= 0)
        break;
      if (pid == child) {
        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status;
      }
    }
  }
}
