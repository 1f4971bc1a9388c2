/* lua/lcb_sys.c: binding for core/src/sys.c (require "cbuild.core.sys"). */
#include "lcb.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cbuild/sys.h"

static int
lsys_geteuid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)geteuid());
  return 1;
}

static int
lsys_getuid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)getuid());
  return 1;
}

static int
lsys_getpid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* sys.time() -> seconds since the epoch as a float (CLOCK_REALTIME) */
static int
lsys_time(lua_State *L)
{
  int64_t sec;
  long nsec;
  cb_sys_clock_realtime(&sec, &nsec);
  lua_pushnumber(L, (lua_Number)sec + (lua_Number)nsec / 1e9);
  return 1;
}

/* sys.clock_gettime() -> sec, nsec (integers, CLOCK_REALTIME) */
static int
lsys_clock_gettime(lua_State *L)
{
  int64_t sec;
  long nsec;
  cb_sys_clock_realtime(&sec, &nsec);
  lua_pushinteger(L, (lua_Integer)sec);
  lua_pushinteger(L, (lua_Integer)nsec);
  return 2;
}

/* sys.isatty(fd) -> bool */
static int
lsys_isatty(lua_State *L)
{
  lua_Integer fd = luaL_checkinteger(L, 1);
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 1, "fd out of range");
  lua_pushboolean(L, cb_sys_isatty((int)fd));
  return 1;
}

/* sys.uname() -> {sysname=, release=, machine=} | nil, msg, code */
static int
lsys_uname(lua_State *L)
{
  struct cb_uname u;
  struct cb_error *err = NULL;

  if (cb_sys_uname(&u, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_createtable(L, 0, 3);
  lua_pushstring(L, u.sysname);
  lua_setfield(L, -2, "sysname");
  lua_pushstring(L, u.release);
  lua_setfield(L, -2, "release");
  lua_pushstring(L, u.machine);
  lua_setfield(L, -2, "machine");
  return 1;
}

static int
lsys_hostname(lua_State *L)
{
  struct cb_error *err = NULL;
  char *h = cb_sys_hostname(&err);
  if (h == NULL)
    return lcb_pushfail(L, &err);
  lua_pushstring(L, h);
  free(h);
  return 1;
}

static int
lsys_nproc(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cb_sys_nproc());
  return 1;
}

/* sys.umask() -> current mask; sys.umask(new) -> previous mask */
static int
lsys_umask(lua_State *L)
{
  if (lua_isnoneornil(L, 1)) {
    lua_pushinteger(L, (lua_Integer)cb_sys_umask_get());
  } else {
    lua_Integer m = luaL_checkinteger(L, 1);
    luaL_argcheck(L, m >= 0 && m <= 0777, 1, "mask out of range");
    lua_pushinteger(L, (lua_Integer)cb_sys_umask_set((mode_t)m));
  }
  return 1;
}

/* sys.pipe() -> rfd, wfd (both close-on-exec) | nil, msg, code */
static int
lsys_pipe(lua_State *L)
{
  int fds[2];
  struct cb_error *err = NULL;
  if (cb_sys_pipe(fds, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, fds[0]);
  lua_pushinteger(L, fds[1]);
  return 2;
}

/* sys.read(fd [, max]) -> data ("" at end of file) | nil, msg, code */
static int
lsys_read(lua_State *L)
{
  int fd = (int)luaL_checkinteger(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 65536);
  struct cb_error *err = NULL;
  luaL_Buffer b;
  char *p;
  ssize_t n;

  luaL_argcheck(L, max > 0 && max <= (1 << 24), 2, "size out of range");
  p = luaL_buffinitsize(L, &b, (size_t)max);
  n = cb_sys_read(fd, p, (size_t)max, &err);
  if (n < 0)
    return lcb_pushfail(L, &err);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* sys.write(fd, data) -> true | nil, msg, code */
static int
lsys_write(lua_State *L)
{
  int fd = (int)luaL_checkinteger(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  struct cb_error *err = NULL;
  if (cb_sys_write_all(fd, data, len, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.close(fd) */
static int
lsys_close(lua_State *L)
{
  cb_sys_close((int)luaL_checkinteger(L, 1));
  return 0;
}

/* sys.try_lock(path) -> fd holding an exclusive flock (sys.close releases it) | false when
 * another open file holds it | nil, msg, code */
static int
lsys_try_lock(lua_State *L)
{
  struct cb_error *err = NULL;
  int fd = cb_sys_try_lock(luaL_checkstring(L, 1), &err);

  if (fd == -2) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (fd < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, fd);
  return 1;
}

/* sys.poll({fd, ...}, timeout_ms) -> {ready fd = true, ...} (readable or hung up) */
static int
lsys_poll(lua_State *L)
{
  struct pollfd fds[64];
  size_t n;
  int timeout = (int)luaL_optinteger(L, 2, -1);
  struct cb_error *err = NULL;

  luaL_checktype(L, 1, LUA_TTABLE);
  n = (size_t)luaL_len(L, 1);
  luaL_argcheck(L, n <= 64, 1, "at most 64 fds");
  for (size_t i = 0; i < n; i++) {
    lua_geti(L, 1, (lua_Integer)i + 1);
    fds[i].fd = (int)luaL_checkinteger(L, -1);
    fds[i].events = POLLIN;
    fds[i].revents = 0;
    lua_pop(L, 1);
  }
  if (cb_sys_poll(fds, n, timeout, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_newtable(L);
  for (size_t i = 0; i < n; i++) {
    if (fds[i].revents != 0) {
      lua_pushboolean(L, 1);
      lua_rawseti(L, -2, fds[i].fd);
    }
  }
  return 1;
}

static size_t
checksignals(lua_State *L, int idx, int *sigs, size_t max)
{
  static const struct {
    const char *name;
    int sig;
  } names[] = { { "INT", SIGINT },   { "TERM", SIGTERM },   { "HUP", SIGHUP },
                { "QUIT", SIGQUIT }, { "WINCH", SIGWINCH }, { "CHLD", SIGCHLD } };
  size_t n;
  luaL_checktype(L, idx, LUA_TTABLE);
  n = (size_t)luaL_len(L, idx);
  luaL_argcheck(L, n <= max, idx, "too many signals");
  for (size_t i = 0; i < n; i++) {
    const char *s;
    size_t j;
    lua_geti(L, idx, (lua_Integer)i + 1);
    s = luaL_checkstring(L, -1);
    for (j = 0; j < sizeof names / sizeof names[0]; j++)
      if (strcmp(s, names[j].name) == 0)
        break;
    if (j == sizeof names / sizeof names[0])
      luaL_error(L, "unknown signal '%s'", s);
    sigs[i] = names[j].sig;
    lua_pop(L, 1);
  }
  return n;
}

/* sys.signalfd({"INT", "TERM"}) -> fd | nil, msg, code: blocks them and reports them on fd */
static int
lsys_signalfd(lua_State *L)
{
  int sigs[8];
  size_t n = checksignals(L, 1, sigs, 8);
  struct cb_error *err = NULL;
  int fd = cb_sys_signalfd(sigs, n, &err);
  if (fd < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, fd);
  return 1;
}

/* sys.read_signal(fd) -> signal number, or 0 when none is pending | nil, msg, code */
static int
lsys_read_signal(lua_State *L)
{
  struct cb_error *err = NULL;
  int sig = cb_sys_read_signal((int)luaL_checkinteger(L, 1), &err);
  if (sig < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, sig);
  return 1;
}

/* sys.unblock_signals({"INT", ...}) */
static int
lsys_unblock_signals(lua_State *L)
{
  int sigs[8];
  size_t n = checksignals(L, 1, sigs, 8);
  cb_sys_signals_unblock(sigs, n);
  return 0;
}

static const luaL_Reg sys_funcs[] = { { "geteuid", lsys_geteuid },
                                      { "getuid", lsys_getuid },
                                      { "getpid", lsys_getpid },
                                      { "time", lsys_time },
                                      { "clock_gettime", lsys_clock_gettime },
                                      { "isatty", lsys_isatty },
                                      { "uname", lsys_uname },
                                      { "hostname", lsys_hostname },
                                      { "nproc", lsys_nproc },
                                      { "umask", lsys_umask },
                                      { "pipe", lsys_pipe },
                                      { "read", lsys_read },
                                      { "write", lsys_write },
                                      { "close", lsys_close },
                                      { "try_lock", lsys_try_lock },
                                      { "poll", lsys_poll },
                                      { "signalfd", lsys_signalfd },
                                      { "read_signal", lsys_read_signal },
                                      { "unblock_signals", lsys_unblock_signals },
                                      { NULL, NULL } };

int
luaopen_cbuild_core_sys(lua_State *L)
{
  luaL_newlib(L, sys_funcs);
  return 1;
}
