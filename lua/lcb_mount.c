/* lua/lcb_mount.c: binding for core/src/mount.c (require "cbuild.core.mount").
 *
 * Each function raises on misuse and returns nil, msg, code when the kernel says no; functions
 * with nothing to return give true. */
#include "lcb.h"

#include "cbuild/mount.h"

LCB_EXPORT int luaopen_cbuild_core_mount(lua_State *L);

static int
pushok(lua_State *L, int ret, struct cb_error **err)
{
  if (ret < 0)
    return lcb_pushfail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* mount.overlay{lower={top, ..., bottom}, upper=, work=, target=, volatile=false}
 *   -> true | nil, msg, code */
static int
lmount_overlay(lua_State *L)
{
  struct cb_overlay o;
  struct cb_error *err = NULL;
  const char **lower;
  lua_Integer n;
  unsigned flags;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  o.target = lcb_optstrfield(L, 1, "target", NULL);
  o.upper = lcb_optstrfield(L, 1, "upper", NULL);
  o.work = lcb_optstrfield(L, 1, "work", NULL);
  flags = lcb_optboolfield(L, 1, "volatile", 0) ? CB_OVERLAY_VOLATILE : 0;
  if (o.target == NULL)
    return luaL_error(L, "mount.overlay: field 'target' missing");
  if (o.upper != NULL && o.work == NULL)
    return luaL_error(L, "mount.overlay: 'upper' needs 'work'");
  if (lua_getfield(L, 1, "lower") != LUA_TTABLE)
    return luaL_error(L, "mount.overlay: field 'lower' must be a table of directories");
  n = luaL_len(L, 2);
  if (n < 1)
    return luaL_error(L, "mount.overlay: 'lower' is empty");
  lower = lua_newuserdatauv(L, (size_t)n * sizeof *lower, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 2, i);
    lower[i - 1] = lua_tostring(L, -1);
    if (lower[i - 1] == NULL)
      return luaL_error(L, "mount.overlay: lower[%d] must be a string", (int)i);
    lua_pop(L, 1); /* referenced by the lower table */
  }
  o.lower = lower;
  o.nlower = (size_t)n;
  return pushok(L, cb_mount_overlay_flags(&o, flags, &err), &err);
}

/* mount.bind(src, dst [, {readonly=, recursive=true}]) -> true | nil, msg, code */
static int
lmount_bind(lua_State *L)
{
  const char *src = luaL_checkstring(L, 1);
  const char *dst = luaL_checkstring(L, 2);
  struct cb_error *err = NULL;
  unsigned flags = 0;

  if (lcb_optboolfield(L, 3, "readonly", 0))
    flags |= CB_MOUNT_RDONLY;
  if (!lcb_optboolfield(L, 3, "recursive", 1))
    flags |= CB_MOUNT_NONRECURSIVE;
  return pushok(L, cb_mount_bind(src, dst, flags, &err), &err);
}

/* mount.umount(path [, {detach=}]) -> true | nil, msg, code */
static int
lmount_umount(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  unsigned flags = lcb_optboolfield(L, 2, "detach", 0) ? CB_UMOUNT_DETACH : 0;

  return pushok(L, cb_umount(path, flags, &err), &err);
}

/* mount.is_mountpoint(path) -> boolean | nil, msg, code */
static int
lmount_is_mountpoint(lua_State *L)
{
  struct cb_error *err = NULL;
  int r = cb_mount_is_mountpoint(luaL_checkstring(L, 1), &err);

  if (r < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, r);
  return 1;
}

static const luaL_Reg mount_funcs[] = { { "overlay", lmount_overlay },
                                        { "bind", lmount_bind },
                                        { "umount", lmount_umount },
                                        { "is_mountpoint", lmount_is_mountpoint },
                                        { NULL, NULL } };

int
luaopen_cbuild_core_mount(lua_State *L)
{
  luaL_newlib(L, mount_funcs);
  return 1;
}
