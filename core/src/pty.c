/* core/src/pty.c: pty pairs, raw mode and window sizes. */
#include "cbuild/pty.h"

#include <asm-generic/ioctls.h>
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

int
cb_pty_open(int *master, int *slave, struct cb_error **err)
{
  int m, s;

  if (openpty(&m, &s, NULL, NULL, NULL) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "openpty");
  if (fcntl(m, F_SETFD, FD_CLOEXEC) < 0 || fcntl(s, F_SETFD, FD_CLOEXEC) < 0) {
    int e = errno;
    close(m);
    close(s);
    return cb_error_set(err, CB_E_SYS, e, "openpty: set close-on-exec");
  }
  *master = m;
  *slave = s;
  return 0;
}

int
cb_pty_open_at(const char *ptmx, int *master, int *slave, struct cb_error **err)
{
  cb_autoclose int m = -1;
  int unlock = 0, s;

  m = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", ptmx);
  if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "unlock the pty of '%s'", ptmx);
  s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open the peer of a pty of '%s'", ptmx);
  *master = cb_steal_fd(&m);
  *slave = s;
  return 0;
}

int
cb_pty_make_raw(int fd, struct termios *saved, struct cb_error **err)
{
  struct termios t;

  if (tcgetattr(fd, saved) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "tcgetattr fd %d", fd);
  t = *saved;
  cfmakeraw(&t);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSANOW, &t) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "tcsetattr fd %d", fd);
  return 0;
}

int
cb_pty_restore(int fd, const struct termios *saved, struct cb_error **err)
{
  if (tcsetattr(fd, TCSANOW, saved) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "tcsetattr fd %d", fd);
  return 0;
}

int
cb_pty_get_winsize(int fd, unsigned short *rows, unsigned short *cols, struct cb_error **err)
{
  struct winsize ws;

  if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "get the window size of fd %d", fd);
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return 0;
}

int
cb_pty_set_winsize(int fd, unsigned short rows, unsigned short cols, struct cb_error **err)
{
  struct winsize ws = { .ws_row = rows, .ws_col = cols, .ws_xpixel = 0, .ws_ypixel = 0 };

  if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "set the window size of fd %d", fd);
  return 0;
}
