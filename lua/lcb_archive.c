/* lua/lcb_archive.c: binding for core/src/archive*.c (require "cbuild.core.archive") */
#include "lcb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cbuild/archive.h"
#include "cbuild/snapshot.h"
#include "cbuild/tree.h"
#include "lcb_store.h"

#define TARW_MT   "cbuild.core.archive.writer"
#define READER_MT "cbuild.core.archive.reader"

/* A layer writer (into a store blob) or a plain tar writer (into a file or stdout). */
struct ltarw {
  struct cb_tar_writer *w; /* NULL once committed, closed or aborted */
  int fd;                  /* plain: the output, owned; -1 for a layer */
  char *path;              /* plain: the file we created, removed on abort; NULL for "-" */
  bool layer;
};

struct lreader {
  struct cb_tar_reader *r; /* NULL once closed */
};

static const char *const type_names[] = { "file", "dir",   "symlink", "hardlink",
                                          "char", "block", "fifo",    NULL };

static struct ltarw *
checkwriter(lua_State *L, int idx)
{
  struct ltarw *tw = luaL_checkudata(L, idx, TARW_MT);
  if (tw->w == NULL)
    luaL_error(L, "attempt to use a finished %s writer", tw->layer ? "layer" : "tar");
  return tw;
}

static struct cb_tar_reader *
checkreader(lua_State *L, int idx)
{
  struct lreader *lr = luaL_checkudata(L, idx, READER_MT);
  if (lr->r == NULL)
    luaL_error(L, "attempt to use a closed archive reader");
  return lr->r;
}

/* Drop a writer without finishing it: a layer's temp blob goes, a plain file is removed. */
static void
tarw_drop(struct ltarw *tw)
{
  if (tw->w != NULL) {
    cb_tar_writer_abort(tw->w);
    tw->w = NULL;
    if (tw->path != NULL)
      unlink(tw->path);
  }
  if (tw->fd >= 0) {
    close(tw->fd);
    tw->fd = -1;
  }
  free(tw->path);
  tw->path = NULL;
}

static struct ltarw *
newwriter(lua_State *L, bool layer)
{
  struct ltarw *tw = lua_newuserdatauv(L, sizeof *tw, 1);
  tw->w = NULL; /* "finished" until the C writer exists */
  tw->fd = -1;
  tw->path = NULL;
  tw->layer = layer;
  luaL_setmetatable(L, TARW_MT);
  return tw;
}

/* archive.layer_writer(store [, {index = path}]) -> lw | nil, msg, code.  With an index, entries
 * that recur from the last layer written with it are copied from that layer's blob. */
static int
l_layer_writer(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  const char *index = lcb_optstrfield(L, 2, "index", NULL);
  struct cb_error *err = NULL;
  struct ltarw *tw = newwriter(L, true);

  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the writer keeps its store alive */
  tw->w = index != NULL ? cb_tar_writer_new_layer_indexed(s, index, &err)
                        : cb_tar_writer_new_layer(s, &err);
  if (tw->w == NULL)
    return lcb_pushfail(L, &err);
  return 1;
}

/* archive.writer(path | "-", opts) -> w | nil, msg, code */
static int
l_writer(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  struct ltarw *tw;

  if (!lua_isnoneornil(L, 2))
    luaL_checktype(L, 2, LUA_TTABLE);
  tw = newwriter(L, false);
  if (strcmp(path, "-") == 0) {
    tw->fd = fcntl(1, F_DUPFD_CLOEXEC, 0);
  } else {
    tw->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (tw->fd >= 0)
      tw->path = strdup(path);
  }
  if (tw->fd < 0) {
    int e = errno;
    return lcb_pusherrno(L, e, lua_pushfstring(L, "open '%s'", path));
  }
  tw->w = cb_tar_writer_new_fd(tw->fd, &err);
  if (tw->w == NULL) {
    tarw_drop(tw);
    return lcb_pushfail(L, &err);
  }
  return 1;
}

/* An entry as parsed from a Lua table: everything the C call needs, no Lua calls after. */
struct parsed {
  struct cb_tar_entry e;
  struct cb_tar_xattr *xattrs; /* in a userdata on the stack, so a raise frees it */
  struct cb_store *blob_store;
  struct cb_digest blob;
};

static int
cmp_xattr(const void *a, const void *b)
{
  return strcmp(((const struct cb_tar_xattr *)a)->name, ((const struct cb_tar_xattr *)b)->name);
}

static uint32_t
opt_u32(lua_State *L, int idx, const char *field, lua_Integer def)
{
  lua_Integer v = lcb_optintfield(L, idx, field, def);
  if (v < 0 || v > 0xffffffffLL)
    luaL_error(L, "field '%s' is out of range", field);
  return (uint32_t)v;
}

/* Read the entry table at IDX into P; raises on misuse.  Leaves one scratch userdata pushed. */
static void
parse_entry(lua_State *L, int idx, struct parsed *p)
{
  struct cb_tar_entry *e = &p->e;
  const char *type;
  lua_Integer t;
  size_t n = 0;

  memset(p, 0, sizeof *p);
  luaL_checktype(L, idx, LUA_TTABLE);
  e->name = lcb_optstrfield(L, idx, "name", NULL);
  if (e->name == NULL)
    luaL_error(L, "entry needs a 'name'");
  type = lcb_optstrfield(L, idx, "type", "file");
  for (t = 0; type_names[t] != NULL && strcmp(type_names[t], type) != 0; t++)
    ;
  if (type_names[t] == NULL)
    luaL_error(L, "entry '%s': unknown type '%s'", e->name, type);
  e->type = (enum cb_tar_type)(t + CB_TAR_FILE);
  e->mode = opt_u32(L, idx, "mode",
                    e->type == CB_TAR_DIR       ? 0755
                    : e->type == CB_TAR_SYMLINK ? 0777
                                                : 0644);
  if (e->mode > 07777)
    luaL_error(L, "entry '%s': mode has more than permission bits (07777)", e->name);
  e->uid = lcb_optintfield(L, idx, "uid", 0);
  e->gid = lcb_optintfield(L, idx, "gid", 0);
  if (e->uid < 0 || e->gid < 0)
    luaL_error(L, "entry '%s': uid and gid must not be negative", e->name);
  e->mtime = lcb_optintfield(L, idx, "mtime", 0);
  e->devmajor = opt_u32(L, idx, "devmajor", 0);
  e->devminor = opt_u32(L, idx, "devminor", 0);
  e->linkname = lcb_optstrfield(L, idx, "linkname", NULL);
  if ((e->type == CB_TAR_SYMLINK || e->type == CB_TAR_HARDLINK) && e->linkname == NULL)
    luaL_error(L, "entry '%s': a %s needs a 'linkname'", e->name, type);

  /* content: data=, src= or blob={store, digest}, only for files */
  int nsrc = 0;
  if (lua_getfield(L, idx, "data") != LUA_TNIL) {
    size_t len;
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "field 'data' must be a string");
    e->data = lua_tolstring(L, -1, &len); /* kept alive by the entry table */
    e->size = len;
    e->src = CB_TAR_SRC_DATA;
    nsrc++;
  }
  lua_pop(L, 1);
  e->src_path = lcb_optstrfield(L, idx, "src", NULL);
  if (e->src_path != NULL) {
    e->src = CB_TAR_SRC_PATH;
    nsrc++;
  }
  if (lua_getfield(L, idx, "blob") != LUA_TNIL) {
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_rawgeti(L, -1, 1);
    p->blob_store = lcb_checkstore(L, lua_gettop(L));
    lua_pop(L, 1);
    lua_rawgeti(L, -1, 2);
    lcb_checkdigest(L, lua_gettop(L), &p->blob);
    lua_pop(L, 1);
    e->src = CB_TAR_SRC_FD;
    nsrc++;
  }
  lua_pop(L, 1);
  if (nsrc > 1)
    luaL_error(L, "entry '%s': give only one of 'data', 'src' and 'blob'", e->name);
  if (nsrc > 0 && e->type != CB_TAR_FILE)
    luaL_error(L, "entry '%s': only a file has content", e->name);

  /* xattrs = {name = value}: sorted by name, so the bytes do not depend on table order */
  if (lua_getfield(L, idx, "xattrs") != LUA_TNIL) {
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      n++;
      lua_pop(L, 1);
    }
  }
  p->xattrs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *p->xattrs, 0);
  if (n > 0) {
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, -3) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "entry '%s': xattrs must map names to strings", e->name);
      p->xattrs[i].name = lua_tostring(L, -2);
      p->xattrs[i].value = lua_tolstring(L, -1, &p->xattrs[i].len);
      i++;
      lua_pop(L, 1);
    }
    qsort(p->xattrs, n, sizeof *p->xattrs, cmp_xattr);
  }
  lua_remove(L, -2); /* the xattrs table (still referenced by the entry) or nil */
  e->xattrs = p->xattrs;
  e->nxattrs = n;
}

/* w:add{...} -> w | nil, msg, code */
static int
l_writer_add(lua_State *L)
{
  struct ltarw *tw = checkwriter(L, 1);
  struct cb_error *err = NULL;
  struct parsed p;
  int ret;

  parse_entry(L, 2, &p);
  if (p.blob_store != NULL) {
    struct stat st;
    int fd = cb_store_open_blob(p.blob_store, &p.blob, &err);
    if (fd < 0)
      return lcb_pushfail(L, &err);
    if (fstat(fd, &st) < 0) {
      int e = errno;
      close(fd);
      return lcb_pusherrno(L, e, "stat blob");
    }
    p.e.src_fd = fd;
    p.e.size = (uint64_t)st.st_size;
    ret = cb_tar_writer_add(tw->w, &p.e, &err);
    close(fd);
  } else {
    ret = cb_tar_writer_add(tw->w, &p.e, &err);
  }
  if (ret < 0)
    return lcb_pushfail(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* lw:add_tree(tree, {prefix=, uid=, gid=, chmod=, epoch=}) -> lw | nil, msg, code: every
 * entry of a walked tree (fs.walk) but its root, in tar order, under PREFIX/ */
static int
l_writer_add_tree(lua_State *L)
{
  struct ltarw *tw = checkwriter(L, 1);
  struct cb_tree **box = luaL_checkudata(L, 2, "cbuild.core.fs.tree");
  struct cb_tree_write_opts o;
  struct cb_error *err = NULL;

  if (*box == NULL)
    luaL_error(L, "attempt to use a freed tree");
  luaL_checktype(L, 3, LUA_TTABLE);
  o.prefix = lcb_optstrfield(L, 3, "prefix", "");
  o.uid = lcb_optintfield(L, 3, "uid", 0);
  o.gid = lcb_optintfield(L, 3, "gid", 0);
  o.chmod = lcb_optintfield(L, 3, "chmod", -1);
  o.epoch = lcb_optintfield(L, 3, "epoch", -1);
  if (o.uid < 0 || o.gid < 0 || o.chmod > 07777)
    luaL_error(L, "add_tree: uid, gid or chmod out of range");
  if (cb_tree_write(*box, tw->w, &o, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* lw:reused() -> entries copied from the earlier layer so far */
static int
l_writer_reused(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cb_tar_writer_reused(checkwriter(L, 1)->w));
  return 1;
}

/* lw:commit() / w:close() -> digest, size | nil, msg, code */
static int
l_writer_finish(lua_State *L)
{
  struct ltarw *tw = checkwriter(L, 1);
  struct cb_error *err = NULL;
  struct cb_digest d;
  uint64_t size;
  int ret = cb_tar_writer_finish(tw->w, &d, &size, &err); /* consumes w */

  tw->w = NULL;
  if (ret == 0 && tw->fd >= 0) {
    int fd = tw->fd;
    tw->fd = -1;
    if ((tw->path != NULL && fsync(fd) < 0) || close(fd) < 0) {
      ret = cb_error_set(&err, CB_E_SYS, errno, "write '%s'", tw->path ? tw->path : "-");
      if (tw->path != NULL)
        unlink(tw->path);
    }
  } else if (ret < 0 && tw->path != NULL) {
    unlink(tw->path);
  }
  tarw_drop(tw);
  if (ret < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* lw:abort(): drop what was written; safe to call twice (also __gc and __close) */
static int
l_writer_gc(lua_State *L)
{
  tarw_drop(luaL_checkudata(L, 1, TARW_MT));
  return 0;
}

/* archive.open(path) -> reader | nil, msg, code */
static int
l_open(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  struct lreader *lr = lua_newuserdatauv(L, sizeof *lr, 0);

  lr->r = NULL;
  luaL_setmetatable(L, READER_MT);
  lr->r = cb_tar_reader_open(path, &err);
  if (lr->r == NULL)
    return lcb_pushfail(L, &err);
  return 1;
}

static void
setint(lua_State *L, const char *k, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void
push_header(lua_State *L, const struct cb_tar_header *h)
{
  lua_createtable(L, 0, 12);
  lua_pushstring(L, h->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, h->type ? type_names[h->type - CB_TAR_FILE] : "other");
  lua_setfield(L, -2, "type");
  setint(L, "size", (lua_Integer)h->size);
  setint(L, "mode", h->mode);
  setint(L, "uid", h->uid);
  setint(L, "gid", h->gid);
  setint(L, "mtime", h->mtime);
  if (h->linkname != NULL) {
    lua_pushstring(L, h->linkname);
    lua_setfield(L, -2, "linkname");
  }
  if (h->type == CB_TAR_CHAR || h->type == CB_TAR_BLOCK) {
    setint(L, "devmajor", h->devmajor);
    setint(L, "devminor", h->devminor);
  }
  lua_createtable(L, 0, (int)h->nxattrs);
  for (size_t i = 0; i < h->nxattrs; i++) {
    lua_pushlstring(L, h->xattrs[i].value, h->xattrs[i].len);
    lua_setfield(L, -2, h->xattrs[i].name);
  }
  lua_setfield(L, -2, "xattrs");
}

/* the iterator of r:entries(): the next entry table, nil at the end; raises on a bad archive */
static int
l_entries_next(lua_State *L)
{
  struct cb_tar_reader *r = checkreader(L, lua_upvalueindex(1));
  struct cb_error *err = NULL;
  struct cb_tar_header h;
  int ret = cb_tar_reader_next(r, &h, &err);

  if (ret < 0) {
    lua_pushstring(L, err->msg);
    cb_error_free(&err);
    return lua_error(L); /* as io.lines does: a for loop cannot see nil, msg */
  }
  if (ret == 0)
    return 0;
  push_header(L, &h);
  return 1;
}

/* r:entries() -> iterator */
static int
l_reader_entries(lua_State *L)
{
  checkreader(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, l_entries_next, 1);
  return 1;
}

/* r:read() -> the rest of the current entry's data | nil, msg, code */
static int
l_reader_read(lua_State *L)
{
  struct cb_tar_reader *r = checkreader(L, 1);
  struct cb_error *err = NULL;
  luaL_Buffer b;

  luaL_buffinit(L, &b);
  for (;;) {
    char *p = luaL_prepbuffer(&b);
    ssize_t n = cb_tar_reader_read(r, p, LUAL_BUFFERSIZE, &err);
    if (n < 0)
      return lcb_pushfail(L, &err);
    if (n == 0)
      break;
    luaL_addsize(&b, (size_t)n);
  }
  luaL_pushresult(&b);
  return 1;
}

/* r:ingest(store, {expect=}) -> digest, size | nil, msg, code */
static int
l_reader_ingest(lua_State *L)
{
  struct cb_tar_reader *r = checkreader(L, 1);
  struct cb_store *s = lcb_checkstore(L, 2);
  struct cb_error *err = NULL;
  struct cb_digest expect, out;
  uint64_t size;
  int has = lcb_optdigestfield(L, 3, "expect", &expect);

  if (cb_tar_reader_ingest(r, s, has ? &expect : NULL, &out, &size, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &out);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* r:filter() -> "none" | "gzip" | "zstd" | "xz" | "bzip2" | ... */
static int
l_reader_filter(lua_State *L)
{
  lua_pushstring(L, cb_tar_reader_filter(checkreader(L, 1)));
  return 1;
}

/* r:close(); also __gc and __close */
static int
l_reader_gc(lua_State *L)
{
  struct lreader *lr = luaL_checkudata(L, 1, READER_MT);
  if (lr->r != NULL) {
    cb_tar_reader_close(lr->r);
    lr->r = NULL;
  }
  return 0;
}

/* archive.detect(path) -> "tar" | "gzip+tar" | ... | nil  (nil, msg, code when unreadable) */
static int
l_detect(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  const char *kind;

  if (cb_tar_detect(path, &kind, &err) < 0)
    return lcb_pushfail(L, &err);
  if (kind == NULL)
    luaL_pushfail(L);
  else
    lua_pushstring(L, kind);
  return 1;
}

/* archive.copy_into(path, lw, {prefix=}) -> count | nil, msg, code */
static int
l_copy_into(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct ltarw *tw = checkwriter(L, 2);
  const char *prefix = lcb_optstrfield(L, 3, "prefix", "");
  struct cb_error *err = NULL;
  struct cb_tar_reader *r;
  uint64_t count;
  int ret;

  r = cb_tar_reader_open(path, &err);
  if (r == NULL)
    return lcb_pushfail(L, &err);
  ret = cb_tar_copy(r, tw->w, prefix, &count, &err);
  cb_tar_reader_close(r);
  if (ret < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, (lua_Integer)count);
  return 1;
}

/* archive.apply(path, dest, {whiteouts = true, overlay = false}) -> true | nil, msg, code */
static int
l_apply(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  const char *dest = luaL_checkstring(L, 2);
  unsigned flags = lcb_optboolfield(L, 3, "whiteouts", 1) ? CB_APPLY_WHITEOUTS : 0;

  if (lcb_optboolfield(L, 3, "overlay", 0))
    flags |= CB_APPLY_OVERLAY;
  struct cb_error *err = NULL;
  struct cb_tar_reader *r = cb_tar_reader_open(path, &err);
  int ret;

  if (r == NULL)
    return lcb_pushfail(L, &err);
  ret = cb_tar_apply(r, dest, flags, &err);
  cb_tar_reader_close(r);
  if (ret < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* archive.compress(store, digest, "gzip" | "zstd", level) -> digest, size | nil, msg, code */
static int
l_compress(lua_State *L)
{
  static const char *const hows[] = { "gzip", "zstd", NULL };
  struct cb_store *s = lcb_checkstore(L, 1);
  struct cb_digest in, out;
  uint64_t size;
  struct cb_error *err = NULL;
  int how, level;

  lcb_checkdigest(L, 2, &in);
  how = luaL_checkoption(L, 3, "gzip", hows);
  level = (int)luaL_optinteger(L, 4, -1);
  if (cb_blob_compress(s, &in, how == 0 ? CB_COMPRESS_GZIP : CB_COMPRESS_ZSTD, level, &out, &size,
                       &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &out);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* archive.decompress(store, digest) -> digest, size | nil, msg, code */
static int
l_decompress(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  struct cb_digest in, out;
  uint64_t size;
  struct cb_error *err = NULL;

  lcb_checkdigest(L, 2, &in);
  if (cb_blob_decompress(s, &in, &out, &size, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &out);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* Layer options from the table at IDX (or none): {overlay=, clamp_mtime=, since=, exclude={}}.
 * Raises on misuse; the exclude strings stay referenced by the table, their array is a userdata
 * left on the stack. */
/* The strings of list FIELD of the table at IDX as a C array; the list and the array stay
 * on the stack (two slots), which keeps the strings alive. */
static const char *const *
strlist_field(lua_State *L, int idx, const char *field, size_t *count)
{
  const char **v;
  lua_Integer n = 0;

  if (lua_istable(L, idx) && lua_getfield(L, idx, field) != LUA_TNIL) {
    luaL_checktype(L, -1, LUA_TTABLE);
    n = luaL_len(L, -1);
  } else if (!lua_istable(L, idx)) {
    lua_pushnil(L);
  }
  v = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *v, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_geti(L, -2, i) != LUA_TSTRING)
      luaL_error(L, "%s[%d] must be a string", field, (int)i);
    v[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the list */
  }
  *count = (size_t)n;
  return v;
}

static void
check_layer_opts(lua_State *L, int idx, struct cb_layer_opts *o)
{

  memset(o, 0, sizeof *o);
  if (!lua_isnoneornil(L, idx))
    luaL_checktype(L, idx, LUA_TTABLE);
  o->overlay = lcb_optboolfield(L, idx, "overlay", 0);
  if (lua_istable(L, idx)) {
    o->clamp = lua_getfield(L, idx, "clamp_mtime") != LUA_TNIL;
    o->has_since = lua_getfield(L, idx, "since") != LUA_TNIL;
    lua_pop(L, 2);
  }
  o->clamp_mtime = lcb_optintfield(L, idx, "clamp_mtime", 0);
  o->since = lcb_optintfield(L, idx, "since", 0);
  o->exclude = strlist_field(L, idx, "exclude", &o->nexclude);
  o->lowers = strlist_field(L, idx, "lowers", &o->nlowers);
}

/* archive.layer_from_dir(store, dir, opts) -> digest, size | nil, msg, code */
static int
l_layer_from_dir(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  const char *dir = luaL_checkstring(L, 2);
  struct cb_layer_opts o;
  struct cb_error *err = NULL;
  struct cb_digest d;
  uint64_t size;

  lua_settop(L, 3);
  check_layer_opts(L, 3, &o);
  if (cb_layer_from_dir(s, dir, &o, &d, &size, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* archive.layer_from_diff(store, lower, upper, opts) -> digest, size | nil, msg, code */
static int
l_layer_from_diff(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  const char *lower = luaL_checkstring(L, 2);
  const char *upper = luaL_checkstring(L, 3);
  struct cb_layer_opts o;
  struct cb_error *err = NULL;
  struct cb_digest d;
  uint64_t size;

  lua_settop(L, 4);
  check_layer_opts(L, 4, &o);
  if (cb_layer_from_diff(s, lower, upper, &o, &d, &size, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* archive.index_blob(path) -> digest | false (absent, or not an index) | nil, msg, code */
static int
l_index_blob(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  struct cb_digest d;
  int r = cb_tar_index_blob(path, &d, &err);

  if (r < 0)
    return lcb_pushfail(L, &err);
  if (r == 0)
    lua_pushboolean(L, 0);
  else
    lcb_pushdigest(L, &d);
  return 1;
}

static const luaL_Reg writer_methods[] = { { "add", l_writer_add },
                                           { "add_tree", l_writer_add_tree },
                                           { "reused", l_writer_reused },
                                           { "commit", l_writer_finish },
                                           { "close", l_writer_finish },
                                           { "abort", l_writer_gc },
                                           { NULL, NULL } };
static const luaL_Reg writer_meta[] = { { "__gc", l_writer_gc },
                                        { "__close", l_writer_gc },
                                        { NULL, NULL } };
static const luaL_Reg reader_methods[] = {
  { "entries", l_reader_entries }, { "read", l_reader_read }, { "ingest", l_reader_ingest },
  { "filter", l_reader_filter },   { "close", l_reader_gc },  { NULL, NULL }
};
static const luaL_Reg reader_meta[] = { { "__gc", l_reader_gc },
                                        { "__close", l_reader_gc },
                                        { NULL, NULL } };

static const luaL_Reg funcs[] = { { "layer_writer", l_layer_writer },
                                  { "writer", l_writer },
                                  { "open", l_open },
                                  { "detect", l_detect },
                                  { "copy_into", l_copy_into },
                                  { "apply", l_apply },
                                  { "layer_from_dir", l_layer_from_dir },
                                  { "layer_from_diff", l_layer_from_diff },
                                  { "compress", l_compress },
                                  { "decompress", l_decompress },
                                  { "index_blob", l_index_blob },
                                  { NULL, NULL } };

int
luaopen_cbuild_core_archive(lua_State *L)
{
  lcb_newclass(L, TARW_MT, writer_meta, writer_methods);
  lcb_newclass(L, READER_MT, reader_meta, reader_methods);
  luaL_newlib(L, funcs);
  return 1;
}
