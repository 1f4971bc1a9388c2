/*
 * Terminals for `run -it` and `exec -it`: a pty pair whose slave becomes the container's stdio
 * and controlling terminal, raw mode on our own terminal (restored afterwards), and the window
 * size, read from our terminal and written to the pty when SIGWINCH says it changed.
 *
 * Functions return 0 on success and -1 with *err set on failure.
 */
#ifndef CBUILD_PTY_H
#define CBUILD_PTY_H

#include <termios.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

/* Open a pty pair (both close-on-exec; the slave is no controlling terminal of ours). */
CB_API int cb_pty_open(int *master, int *slave, struct cb_error **err);
/* Open a pty pair from the multiplexer PTMX (a devpts instance's "ptmx", such as a container's
 * /proc/<pid>/root/dev/pts/ptmx), so the slave lives in that instance and resolves by name
 * there (/dev/pts/N inside the container).  Both close-on-exec, neither our controlling
 * terminal; the slave is opened through the master (TIOCGPTPEER), never by path. */
CB_API int cb_pty_open_at(const char *ptmx, int *master, int *slave, struct cb_error **err);
/* Put terminal FD in raw mode; *SAVED receives the previous settings for cb_pty_restore. */
CB_API int cb_pty_make_raw(int fd, struct termios *saved, struct cb_error **err);
CB_API int cb_pty_restore(int fd, const struct termios *saved, struct cb_error **err);
CB_API int cb_pty_get_winsize(int fd, unsigned short *rows, unsigned short *cols,
                              struct cb_error **err);
CB_API int cb_pty_set_winsize(int fd, unsigned short rows, unsigned short cols,
                              struct cb_error **err);

#endif
