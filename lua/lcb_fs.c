/* lua/lcb_fs.c: binding for core/src/fs.c (require "cbuild.core.fs").
 *
 * Every function raises on misuse (wrong argument types) and returns nil, msg, code when the
 * filesystem says no.  Functions with nothing to return give true on success. */
#include "lcb.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cbuild/fs.h"

static int
pushok(lua_State *L, int ret, struct cb_error **err)
{
  if (ret < 0)
    return lcb_pushfail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* Push a string the core allocated (NULL means failure) and free it. */
static int
pushowned(lua_State *L, char *s, struct cb_error **err)
{
  if (s == NULL)
    return lcb_pushfail(L, err);
  lua_pushstring(L, s);
  free(s);
  return 1;
}

static mode_t
checkmode(lua_State *L, int arg, lua_Integer def)
{
  lua_Integer m = luaL_optinteger(L, arg, def);
  luaL_argcheck(L, m >= 0 && m <= 07777, arg, "mode out of range");
  return (mode_t)m;
}

static const char *
type_name(mode_t m)
{
  switch (m & S_IFMT) {
  case S_IFREG:
    return "file";
  case S_IFDIR:
    return "dir";
  case S_IFLNK:
    return "symlink";
  case S_IFCHR:
    return "char";
  case S_IFBLK:
    return "block";
  case S_IFIFO:
    return "fifo";
  case S_IFSOCK:
    return "socket";
  default:
    return "unknown";
  }
}

static void
setint(lua_State *L, const char *k, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void
pushstat(lua_State *L, const struct stat *st)
{
  lua_createtable(L, 0, 20);
  lua_pushstring(L, type_name(st->st_mode));
  lua_setfield(L, -2, "type");
  setint(L, "mode", (lua_Integer)(st->st_mode & 07777));
  setint(L, "uid", (lua_Integer)st->st_uid);
  setint(L, "gid", (lua_Integer)st->st_gid);
  setint(L, "size", (lua_Integer)st->st_size);
  setint(L, "mtime", (lua_Integer)st->st_mtim.tv_sec);
  setint(L, "mtime_ns", (lua_Integer)st->st_mtim.tv_nsec);
  setint(L, "ctime", (lua_Integer)st->st_ctim.tv_sec);
  setint(L, "ctime_ns", (lua_Integer)st->st_ctim.tv_nsec);
  setint(L, "atime", (lua_Integer)st->st_atim.tv_sec);
  setint(L, "atime_ns", (lua_Integer)st->st_atim.tv_nsec);
  setint(L, "ino", (lua_Integer)st->st_ino);
  setint(L, "dev", (lua_Integer)st->st_dev);
  setint(L, "nlink", (lua_Integer)st->st_nlink);
  setint(L, "rdevmajor", (lua_Integer)major(st->st_rdev));
  setint(L, "rdevminor", (lua_Integer)minor(st->st_rdev));
}

/* fs.lstat(path) -> {type=, mode=, ..., target=} | nil, msg, code */
static int
lfs_lstat(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  struct stat st;
  char *target = NULL;

  if (cb_fs_lstat(path, &st, &err) < 0)
    return lcb_pushfail(L, &err);
  if (S_ISLNK(st.st_mode) && (target = cb_fs_readlink(path, &err)) == NULL)
    return lcb_pushfail(L, &err);
  pushstat(L, &st); /* may raise on OOM: target would leak, which is acceptable */
  if (target != NULL) {
    lua_pushstring(L, target);
    free(target);
    lua_setfield(L, -2, "target");
  }
  return 1;
}

/* fs.stat(path) -> {type=, mode=, ...} | nil, msg, code */
static int
lfs_stat(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  struct stat st;

  if (cb_fs_stat(path, &st, &err) < 0)
    return lcb_pushfail(L, &err);
  pushstat(L, &st);
  return 1;
}

/* fs.exists(path) -> bool (a dangling symlink exists) */
static int
lfs_exists(lua_State *L)
{
  lua_pushboolean(L, cb_fs_exists(luaL_checkstring(L, 1)));
  return 1;
}

/* fs.readdir(path) -> {name...} sorted by bytes | nil, msg, code */
static int
lfs_readdir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  char **names;
  size_t n;

  if (cb_fs_readdir(path, &names, &n, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  cb_fs_strv_free(names);
  return 1;
}

/* fs.mkdir_p(path [, mode = 0755]) -> true | nil, msg, code */
static int
lfs_mkdir_p(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = checkmode(L, 2, 0755);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_mkdir_p(path, mode, &err), &err);
}

/* fs.rm_rf(path) -> true | nil, msg, code */
static int
lfs_rm_rf(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_rm_rf(path, &err), &err);
}

/* fs.mkdtemp(prefix) -> path | nil, msg, code */
static int
lfs_mkdtemp(lua_State *L)
{
  const char *prefix = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  return pushowned(L, cb_fs_mkdtemp(prefix, &err), &err);
}

static int
lfs_readlink(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  return pushowned(L, cb_fs_readlink(path, &err), &err);
}

static int
lfs_realpath(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  return pushowned(L, cb_fs_realpath(path, &err), &err);
}

/* fs.read_file(path) -> string | nil, msg, code */
static int
lfs_read_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  char *data;
  size_t len;

  if (cb_fs_read_file(path, &data, &len, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushlstring(L, data, len);
  free(data);
  return 1;
}

/* fs.write_file(path, data [, {mode = 0644, atomic = true}]) -> true | nil, msg, code */
static int
lfs_write_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer mode = lcb_optintfield(L, 3, "mode", 0644);
  int atomic = lcb_optboolfield(L, 3, "atomic", 1);
  struct cb_error *err = NULL;

  luaL_argcheck(L, mode >= 0 && mode <= 07777, 3, "mode out of range");
  return pushok(
      L, cb_fs_write_file(path, data, len, (mode_t)mode, atomic ? CB_FS_WRITE_ATOMIC : 0, &err),
      &err);
}

/* fs.copy_file(src, dst [, {mode = <src's>}]) -> true | nil, msg, code */
static int
lfs_copy_file(lua_State *L)
{
  const char *src = luaL_checkstring(L, 1);
  const char *dst = luaL_checkstring(L, 2);
  lua_Integer mode = lcb_optintfield(L, 3, "mode", -1);
  struct cb_error *err = NULL;

  luaL_argcheck(L, mode >= -1 && mode <= 07777, 3, "mode out of range");
  return pushok(L, cb_fs_copy_file(src, dst, (int)mode, &err), &err);
}

/* fs.resolve_in_root(root, path [, {missing_ok = false}]) -> hostpath | nil, msg, code */
static int
lfs_resolve_in_root(lua_State *L)
{
  const char *root = luaL_checkstring(L, 1);
  const char *path = luaL_checkstring(L, 2);
  int missing_ok = lcb_optboolfield(L, 3, "missing_ok", 0);
  struct cb_error *err = NULL;
  return pushowned(
      L, cb_fs_resolve_in_root(root, path, missing_ok ? CB_FS_RESOLVE_MISSING_OK : 0, &err), &err);
}

/* fs.chmod(path, mode) -> true | nil, msg, code */
static int
lfs_chmod(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode;
  struct cb_error *err = NULL;

  luaL_checkinteger(L, 2);
  mode = checkmode(L, 2, 0);
  return pushok(L, cb_fs_chmod(path, mode, &err), &err);
}

static unsigned
nofollow_opt(lua_State *L, int idx)
{
  return lcb_optboolfield(L, idx, "nofollow", 0) ? CB_FS_NOFOLLOW : 0;
}

static lua_Integer
checkid(lua_State *L, int arg)
{
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= -1 && v <= 0xffffffffLL, arg, "id out of range");
  return v;
}

/* fs.chown(path, uid, gid [, {nofollow = false}]) -> true | nil, msg, code (-1 keeps one) */
static int
lfs_chown(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lua_Integer uid = checkid(L, 2);
  lua_Integer gid = checkid(L, 3);
  unsigned flags = nofollow_opt(L, 4);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_chown(path, (uid_t)uid, (gid_t)gid, flags, &err), &err);
}

/* fs.utimes(path, atime, atime_ns, mtime, mtime_ns [, {nofollow = false}]) */
static int
lfs_utimes(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct timespec ts[2];
  unsigned flags;
  struct cb_error *err = NULL;

  ts[0].tv_sec = (time_t)luaL_checkinteger(L, 2);
  ts[0].tv_nsec = (long)luaL_checkinteger(L, 3);
  ts[1].tv_sec = (time_t)luaL_checkinteger(L, 4);
  ts[1].tv_nsec = (long)luaL_checkinteger(L, 5);
  luaL_argcheck(L, ts[0].tv_nsec >= 0 && ts[0].tv_nsec < 1000000000L, 3, "ns out of range");
  luaL_argcheck(L, ts[1].tv_nsec >= 0 && ts[1].tv_nsec < 1000000000L, 5, "ns out of range");
  flags = nofollow_opt(L, 6);
  return pushok(L, cb_fs_utimes(path, ts, flags, &err), &err);
}

/* fs.symlink(target, linkpath) -> true | nil, msg, code */
static int
lfs_symlink(lua_State *L)
{
  const char *target = luaL_checkstring(L, 1);
  const char *linkpath = luaL_checkstring(L, 2);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_symlink(target, linkpath, &err), &err);
}

/* fs.link(oldpath, newpath) -> true | nil, msg, code */
static int
lfs_link(lua_State *L)
{
  const char *oldpath = luaL_checkstring(L, 1);
  const char *newpath = luaL_checkstring(L, 2);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_link(oldpath, newpath, &err), &err);
}

static int
lfs_rename(lua_State *L)
{
  const char *oldpath = luaL_checkstring(L, 1);
  const char *newpath = luaL_checkstring(L, 2);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_rename(oldpath, newpath, &err), &err);
}

static int
lfs_unlink(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_unlink(path, 0, &err), &err);
}

static int
lfs_rmdir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_unlink(path, CB_FS_UNLINK_DIR, &err), &err);
}

/* fs.mkfifo(path [, mode = 0644]) -> true | nil, msg, code */
static int
lfs_mkfifo(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = checkmode(L, 2, 0644);
  struct cb_error *err = NULL;
  return pushok(L, cb_fs_mknod(path, S_IFIFO | mode, 0, &err), &err);
}

/* fs.mknod(path, "char"|"block"|"fifo", mode, major, minor) -> true | nil, msg, code */
static int
lfs_mknod(lua_State *L)
{
  static const char *const types[] = { "char", "block", "fifo", NULL };
  static const mode_t fmt[] = { S_IFCHR, S_IFBLK, S_IFIFO };
  const char *path = luaL_checkstring(L, 1);
  int t = luaL_checkoption(L, 2, NULL, types);
  mode_t mode = checkmode(L, 3, 0644);
  lua_Integer maj = luaL_optinteger(L, 4, 0);
  lua_Integer min = luaL_optinteger(L, 5, 0);
  struct cb_error *err = NULL;

  luaL_argcheck(L, maj >= 0 && maj <= 0xfffff, 4, "major out of range");
  luaL_argcheck(L, min >= 0 && min <= 0xfffff, 5, "minor out of range");
  return pushok(L, cb_fs_mknod(path, fmt[t] | mode, makedev((unsigned)maj, (unsigned)min), &err),
                &err);
}

static const luaL_Reg fs_funcs[] = { { "lstat", lfs_lstat },
                                     { "stat", lfs_stat },
                                     { "exists", lfs_exists },
                                     { "readdir", lfs_readdir },
                                     { "mkdir_p", lfs_mkdir_p },
                                     { "rm_rf", lfs_rm_rf },
                                     { "mkdtemp", lfs_mkdtemp },
                                     { "readlink", lfs_readlink },
                                     { "realpath", lfs_realpath },
                                     { "read_file", lfs_read_file },
                                     { "write_file", lfs_write_file },
                                     { "copy_file", lfs_copy_file },
                                     { "resolve_in_root", lfs_resolve_in_root },
                                     { "chmod", lfs_chmod },
                                     { "chown", lfs_chown },
                                     { "utimes", lfs_utimes },
                                     { "symlink", lfs_symlink },
                                     { "link", lfs_link },
                                     { "rename", lfs_rename },
                                     { "unlink", lfs_unlink },
                                     { "rmdir", lfs_rmdir },
                                     { "mkfifo", lfs_mkfifo },
                                     { "mknod", lfs_mknod },
                                     { NULL, NULL } };

int
luaopen_cbuild_core_fs(lua_State *L)
{
  luaL_newlib(L, fs_funcs);
  return 1;
}
