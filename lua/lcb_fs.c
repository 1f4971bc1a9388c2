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
#include "cbuild/tree.h"
#include "lcb_store.h"

#define TREE_MT   "cbuild.core.fs.tree"
#define HCACHE_MT "cbuild.core.fs.hashcache"

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
  lua_pushstring(L, cb_tree_type_name(st->st_mode));
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

/* ---- trees: a directory walked in C (cbuild/tree.h) ------------------------------------ */

static struct cb_tree *
checktree(lua_State *L, int idx)
{
  struct cb_tree **box = luaL_checkudata(L, idx, TREE_MT);
  if (*box == NULL)
    luaL_error(L, "attempt to use a freed tree");
  return *box;
}

static struct cb_hashcache *
checkcache(lua_State *L, int idx)
{
  return *(struct cb_hashcache **)luaL_checkudata(L, idx, HCACHE_MT);
}

struct lfilter {
  lua_State *L;
  int fn;      /* stack index of the Lua filter */
  bool raised; /* the filter raised: its error value is on the stack top */
};

/* Ask the Lua filter about one entry: "keep", "all", "skip" or "look". */
static int
call_filter(void *arg, const char *rel, bool is_dir, enum cb_tree_verdict *out,
            struct cb_error **err)
{
  static const char *const names[] = { "keep", "all", "skip", "look", NULL };
  struct lfilter *f = arg;
  lua_State *L = f->L;
  const char *v;
  int i;

  (void)err;
  lua_pushvalue(L, f->fn);
  lua_pushstring(L, rel);
  lua_pushboolean(L, is_dir);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    f->raised = true;
    return -1;
  }
  v = lua_tostring(L, -1);
  for (i = 0; v != NULL && names[i] != NULL && strcmp(names[i], v) != 0; i++)
    ;
  if (v == NULL || names[i] == NULL) {
    lua_pop(L, 1);
    lua_pushfstring(L, "walk filter: '%s': expected keep, all, skip or look", rel);
    f->raised = true;
    return -1;
  }
  lua_pop(L, 1);
  *out = (enum cb_tree_verdict)i;
  return 0;
}

/* fs.walk(root [, filter]) -> tree | nil, msg, code.  filter(rel, is_dir) -> "keep" | "all" |
 * "skip" | "look" (see cbuild/tree.h); an error it raises goes through. */
static int
lfs_walk(lua_State *L)
{
  const char *root = luaL_checkstring(L, 1);
  struct lfilter f = { .L = L, .fn = 2, .raised = false };
  struct cb_error *err = NULL;
  struct cb_tree **box;
  struct cb_tree *t;

  if (!lua_isnoneornil(L, 2))
    luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, TREE_MT);
  t = cb_tree_walk(root, lua_isnil(L, 2) ? NULL : call_filter, &f, &err);
  if (t == NULL && f.raised) {
    cb_error_free(&err);
    return lua_error(L);
  }
  if (t == NULL)
    return lcb_pushfail(L, &err);
  *box = t;
  return 1;
}

/* tree:count() -> number of entries, the root included */
static int
ltree_count(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cb_tree_count(checktree(L, 1)));
  return 1;
}

/* tree:has(rel) -> bool */
static int
ltree_has(lua_State *L)
{
  struct cb_tree *t = checktree(L, 1);
  lua_pushboolean(L, cb_tree_find(t, luaL_checkstring(L, 2)) >= 0);
  return 1;
}

/* A walk entry {rel=, type=, mode=, ..., st = itself} as the Lua context keeps them. */
static void
push_tree_entry(lua_State *L, const struct cb_tree_entry *e, const char *base)
{
  bool dev = S_ISCHR(e->mode) || S_ISBLK(e->mode);

  lua_createtable(L, 0, 16);
  if (e->rel[0] == '\0')
    lua_pushstring(L, base);
  else if (strcmp(base, ".") == 0)
    lua_pushstring(L, e->rel);
  else
    lua_pushfstring(L, "%s/%s", base, e->rel);
  lua_setfield(L, -2, "rel");
  lua_pushstring(L, cb_tree_type_name(e->mode));
  lua_setfield(L, -2, "type");
  setint(L, "mode", (lua_Integer)(e->mode & 07777));
  setint(L, "uid", (lua_Integer)e->uid);
  setint(L, "gid", (lua_Integer)e->gid);
  setint(L, "size", (lua_Integer)e->size);
  setint(L, "mtime", (lua_Integer)e->mtime);
  setint(L, "mtime_ns", (lua_Integer)e->mtime_ns);
  setint(L, "ctime", (lua_Integer)e->ctime);
  setint(L, "ctime_ns", (lua_Integer)e->ctime_ns);
  setint(L, "ino", (lua_Integer)e->ino);
  if (dev) {
    setint(L, "rdevmajor", (lua_Integer)e->devmajor);
    setint(L, "rdevminor", (lua_Integer)e->devminor);
  }
  if (e->target != NULL) {
    lua_pushstring(L, e->target);
    lua_setfield(L, -2, "target");
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "st");
}

/* tree:items(base) -> {entry...}: every entry as a table, rel joined below BASE (the tree's
 * path in the context, "." for its root), in byte order of rel, the root first */
static int
ltree_items(lua_State *L)
{
  struct cb_tree *t = checktree(L, 1);
  const char *base = luaL_checkstring(L, 2);
  size_t n = cb_tree_count(t);

  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_tree_entry(L, cb_tree_get(t, i), base);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* tree:digest(cache, uid, gid) -> "sha256:<hex>" | nil, msg, code */
static int
ltree_digest(lua_State *L)
{
  struct cb_tree *t = checktree(L, 1);
  struct cb_hashcache *c = checkcache(L, 2);
  lua_Integer uid = luaL_optinteger(L, 3, 0), gid = luaL_optinteger(L, 4, 0);
  struct cb_error *err = NULL;
  struct cb_digest d;

  luaL_argcheck(L, uid >= 0 && uid <= 0xffffffffLL, 3, "uid out of range");
  luaL_argcheck(L, gid >= 0 && gid <= 0xffffffffLL, 4, "gid out of range");
  if (cb_tree_digest(t, c, (uint32_t)uid, (uint32_t)gid, &d, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  return 1;
}

/* tree:free(); also __gc and __close */
static int
ltree_gc(lua_State *L)
{
  struct cb_tree **box = luaL_checkudata(L, 1, TREE_MT);
  cb_tree_free(*box);
  *box = NULL;
  return 0;
}

/* fs.hashcache() -> cache */
static int
lfs_hashcache(lua_State *L)
{
  struct cb_hashcache **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, HCACHE_MT);
  *box = cb_hashcache_new();
  return 1;
}

/* cache:load(path) -> true | nil, msg, code */
static int
lcache_load(lua_State *L)
{
  struct cb_error *err = NULL;
  return pushok(L, cb_hashcache_load(checkcache(L, 1), luaL_checkstring(L, 2), &err), &err);
}

/* cache:save(path) -> true | nil, msg, code */
static int
lcache_save(lua_State *L)
{
  struct cb_error *err = NULL;
  return pushok(L, cb_hashcache_save(checkcache(L, 1), luaL_checkstring(L, 2), &err), &err);
}

/* cache:file(path, st) -> "sha256:<hex>" | nil, msg, code (st: an lstat table of path) */
static int
lcache_file(lua_State *L)
{
  struct cb_hashcache *c = checkcache(L, 1);
  const char *path = luaL_checkstring(L, 2);
  struct cb_tree_entry e = { .rel = "" };
  struct cb_error *err = NULL;
  struct cb_digest d;

  luaL_checktype(L, 3, LUA_TTABLE);
  e.size = lcb_optintfield(L, 3, "size", 0);
  e.mtime = lcb_optintfield(L, 3, "mtime", 0);
  e.mtime_ns = lcb_optintfield(L, 3, "mtime_ns", 0);
  e.ctime = lcb_optintfield(L, 3, "ctime", 0);
  e.ctime_ns = lcb_optintfield(L, 3, "ctime_ns", 0);
  e.ino = (uint64_t)lcb_optintfield(L, 3, "ino", 0);
  if (cb_hashcache_file(c, path, &e, &d, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  return 1;
}

/* cache:reads() -> how many files this cache has read */
static int
lcache_reads(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cb_hashcache_reads(checkcache(L, 1)));
  return 1;
}

static int
lcache_gc(lua_State *L)
{
  struct cb_hashcache **box = luaL_checkudata(L, 1, HCACHE_MT);
  cb_hashcache_free(*box);
  *box = NULL;
  return 0;
}

static const luaL_Reg tree_methods[] = { { "count", ltree_count }, { "has", ltree_has },
                                         { "items", ltree_items }, { "digest", ltree_digest },
                                         { "free", ltree_gc },     { NULL, NULL } };
static const luaL_Reg tree_meta[] = { { "__gc", ltree_gc },
                                      { "__close", ltree_gc },
                                      { NULL, NULL } };
static const luaL_Reg cache_methods[] = { { "load", lcache_load },
                                          { "save", lcache_save },
                                          { "file", lcache_file },
                                          { "reads", lcache_reads },
                                          { NULL, NULL } };
static const luaL_Reg cache_meta[] = { { "__gc", lcache_gc }, { NULL, NULL } };

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
                                     { "walk", lfs_walk },
                                     { "hashcache", lfs_hashcache },
                                     { NULL, NULL } };

int
luaopen_cbuild_core_fs(lua_State *L)
{
  lcb_newclass(L, TREE_MT, tree_meta, tree_methods);
  lcb_newclass(L, HCACHE_MT, cache_meta, cache_methods);
  luaL_newlib(L, fs_funcs);
  return 1;
}
