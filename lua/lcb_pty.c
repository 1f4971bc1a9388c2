/* lua/lcb_pty.c: binding for core/src/pty.c (require "cbuild.core.pty").
 *
 *   pty.open() -> master_fd, slave_fd | nil, msg, code     (both close-on-exec)
 *   pty.open_at(ptmx) -> master_fd, slave_fd | nil, msg, code (from a devpts instance's ptmx)
 *   pty.make_raw(fd) -> saved | nil, msg, code             (saved: the previous settings)
 *   pty.restore(fd, saved) -> true | nil, msg, code
 *   pty.winsize(fd) -> rows, cols | nil, msg, code
 *   pty.set_winsize(fd, rows, cols) -> true | nil, msg, code
 */
#include "lcb.h"

#include <termios.h>

#include "cbuild/pty.h"

#define TERMIOS_MT "cbuild.core.pty.termios"

LCB_EXPORT int luaopen_cbuild_core_pty(lua_State *L);

static int
checkfd(lua_State *L, int idx)
{
  lua_Integer fd = luaL_checkinteger(L, idx);
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, idx, "fd out of range");
  return (int)fd;
}

static int
pushok(lua_State *L, int ret, struct cb_error **err)
{
  if (ret < 0)
    return lcb_pushfail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int
lpty_open(lua_State *L)
{
  struct cb_error *err = NULL;
  int m, s;

  if (cb_pty_open(&m, &s, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, m);
  lua_pushinteger(L, s);
  return 2;
}

static int
lpty_open_at(lua_State *L)
{
  const char *ptmx = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  int m, s;

  if (cb_pty_open_at(ptmx, &m, &s, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, m);
  lua_pushinteger(L, s);
  return 2;
}

static int
lpty_make_raw(lua_State *L)
{
  int fd = checkfd(L, 1);
  struct cb_error *err = NULL;
  struct termios *saved = lua_newuserdatauv(L, sizeof *saved, 0);

  luaL_setmetatable(L, TERMIOS_MT);
  if (cb_pty_make_raw(fd, saved, &err) < 0)
    return lcb_pushfail(L, &err);
  return 1;
}

static int
lpty_restore(lua_State *L)
{
  int fd = checkfd(L, 1);
  const struct termios *saved = luaL_checkudata(L, 2, TERMIOS_MT);
  struct cb_error *err = NULL;

  return pushok(L, cb_pty_restore(fd, saved, &err), &err);
}

static int
lpty_winsize(lua_State *L)
{
  int fd = checkfd(L, 1);
  struct cb_error *err = NULL;
  unsigned short rows, cols;

  if (cb_pty_get_winsize(fd, &rows, &cols, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, rows);
  lua_pushinteger(L, cols);
  return 2;
}

static int
lpty_set_winsize(lua_State *L)
{
  int fd = checkfd(L, 1);
  lua_Integer rows = luaL_checkinteger(L, 2), cols = luaL_checkinteger(L, 3);
  struct cb_error *err = NULL;

  luaL_argcheck(L, rows >= 0 && rows <= 0xffff, 2, "rows out of range");
  luaL_argcheck(L, cols >= 0 && cols <= 0xffff, 3, "cols out of range");
  return pushok(L, cb_pty_set_winsize(fd, (unsigned short)rows, (unsigned short)cols, &err), &err);
}

static const luaL_Reg pty_funcs[] = { { "open", lpty_open },
                                      { "open_at", lpty_open_at },
                                      { "make_raw", lpty_make_raw },
                                      { "restore", lpty_restore },
                                      { "winsize", lpty_winsize },
                                      { "set_winsize", lpty_set_winsize },
                                      { NULL, NULL } };

int
luaopen_cbuild_core_pty(lua_State *L)
{
  luaL_newmetatable(L, TERMIOS_MT);
  lua_pop(L, 1);
  luaL_newlib(L, pty_funcs);
  return 1;
}
