/* lua/lcb_store.c: binding for core/src/store.c (require "cbuild.core.store") */
#include "lcb_store.h"

#include <stdlib.h>

#define WRITER_MT "cbuild.core.store.writer"

struct lstore {
  struct cb_store *s; /* NULL once freed */
  bool closed;        /* closed by the user; freed when the last writer is done */
  int writers;        /* live writers: each holds the store's tmp/ and blobs/ fds */
  int locks;          /* lock() calls not yet matched by unlock() */
};

struct lwriter {
  struct cb_blob_writer *w; /* NULL once committed, aborted or collected */
};

static struct lstore *
checklstore(lua_State *L, int idx)
{
  struct lstore *ls = luaL_checkudata(L, idx, LCB_STORE_MT);
  if (ls->s == NULL || ls->closed)
    luaL_error(L, "attempt to use a finished store");
  return ls;
}

struct cb_store *
lcb_checkstore(lua_State *L, int idx)
{
  return checklstore(L, idx)->s;
}

static void
release_store(struct lstore *ls)
{
  if (ls->s != NULL && ls->writers == 0) {
    cb_store_free(ls->s); /* closes the lock fd too, releasing any lock */
    ls->s = NULL;
  }
}

/* store.open(root [, {create = bool}]) -> store | nil, msg, code */
static int
lstore_open(lua_State *L)
{
  const char *root = luaL_checkstring(L, 1);
  unsigned flags = lcb_optboolfield(L, 2, "create", 0) ? CB_STORE_CREATE : 0;
  struct cb_error *err = NULL;
  struct lstore *ls = lua_newuserdatauv(L, sizeof *ls, 0);

  *ls = (struct lstore){ .s = NULL, .closed = false, .writers = 0, .locks = 0 };
  luaL_setmetatable(L, LCB_STORE_MT);
  ls->s = cb_store_open(root, flags, &err);
  if (ls->s == NULL)
    return lcb_pushfail(L, &err);
  return 1;
}

/* s:root() -> absolute path */
static int
lstore_root(lua_State *L)
{
  lua_pushstring(L, cb_store_root(lcb_checkstore(L, 1)));
  return 1;
}

/* s:has(digest) -> true, size | false */
static int
lstore_has(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  struct cb_digest d;
  uint64_t size = 0;

  lcb_checkdigest(L, 2, &d);
  if (!cb_store_has_blob(s, &d, &size)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushboolean(L, 1);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* s:path(digest) -> path of the blob (present or not) */
static int
lstore_path(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  struct cb_digest d;
  char *path;

  lcb_checkdigest(L, 2, &d);
  path = cb_store_blob_path(s, &d);
  lua_pushstring(L, path);
  free(path);
  return 1;
}

/* s:put(bytes) -> digest, size | nil, msg, code */
static int
lstore_put(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  struct cb_error *err = NULL;
  struct cb_digest d;

  if (cb_store_put(s, data, len, &d, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  lua_pushinteger(L, (lua_Integer)len);
  return 2;
}

/* s:get(digest) -> bytes | nil, msg, code ("ENOTFOUND" when absent) */
static int
lstore_get(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  struct cb_error *err = NULL;
  struct cb_digest d;
  char *data;
  size_t len;

  lcb_checkdigest(L, 2, &d);
  if (cb_store_read_blob(s, &d, &data, &len, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushlstring(L, data, len);
  free(data);
  return 1;
}

/* s:ingest_file(path [, {expect = digest}]) -> digest, size | nil, msg, code */
static int
lstore_ingest_file(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  const char *path = luaL_checkstring(L, 2);
  struct cb_digest expect, d;
  int has_expect = lcb_optdigestfield(L, 3, "expect", &expect);
  struct cb_error *err = NULL;
  uint64_t size;

  if (cb_store_ingest_file(s, path, has_expect ? &expect : NULL, &d, &size, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* s:remove(digest) -> true | nil, msg, code */
static int
lstore_remove(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  struct cb_error *err = NULL;
  struct cb_digest d;

  lcb_checkdigest(L, 2, &d);
  if (cb_store_remove_blob(s, &d, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:verify(digest) -> true | nil, msg, code ("EDIGEST" when the bytes are wrong) */
static int
lstore_verify(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  struct cb_error *err = NULL;
  struct cb_digest d;

  lcb_checkdigest(L, 2, &d);
  if (cb_store_verify_blob(s, &d, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:lock() -> true | nil, msg, code */
static int
lstore_lock(lua_State *L)
{
  struct lstore *ls = checklstore(L, 1);
  struct cb_error *err = NULL;

  if (cb_store_lock(ls->s, &err) < 0)
    return lcb_pushfail(L, &err);
  ls->locks++;
  lua_pushboolean(L, 1);
  return 1;
}

/* s:unlock() */
static int
lstore_unlock(lua_State *L)
{
  struct lstore *ls = checklstore(L, 1);

  if (ls->locks == 0)
    return luaL_error(L, "attempt to unlock a store that is not locked");
  ls->locks--;
  cb_store_unlock(ls->s);
  return 0;
}

/* s:locked(fn, ...) -> fn's results | nil, msg, code (when the lock cannot be taken).
 * fn runs under the lock; the lock is released however fn ends, and fn's error re-raised. */
static int
lstore_locked(lua_State *L)
{
  struct lstore *ls = checklstore(L, 1);
  struct cb_error *err = NULL;
  int status;

  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (cb_store_lock(ls->s, &err) < 0)
    return lcb_pushfail(L, &err);
  ls->locks++;
  status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  if (ls->locks > 0 && ls->s != NULL && !ls->closed) { /* fn may have closed the store */
    ls->locks--;
    cb_store_unlock(ls->s);
  }
  if (status != LUA_OK)
    return lua_error(L);
  return lua_gettop(L) - 1;
}

/* s:read(rel) -> string | nil, msg, code */
static int
lstore_read(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  const char *rel = luaL_checkstring(L, 2);
  struct cb_error *err = NULL;
  char *data;
  size_t len;

  if (cb_store_read_file(s, rel, &data, &len, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushlstring(L, data, len);
  free(data);
  return 1;
}

/* s:write(rel, data) -> true | nil, msg, code (atomic replace, parents created) */
static int
lstore_write(lua_State *L)
{
  struct cb_store *s = lcb_checkstore(L, 1);
  const char *rel = luaL_checkstring(L, 2);
  size_t len;
  const char *data = luaL_checklstring(L, 3, &len);
  struct cb_error *err = NULL;

  if (cb_store_write_file(s, rel, data, len, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:close(), __gc and __close: safe to call twice; live writers keep the C store until done */
static int
lstore_gc(lua_State *L)
{
  struct lstore *ls = luaL_checkudata(L, 1, LCB_STORE_MT);

  ls->closed = true;
  for (; ls->locks > 0; ls->locks--) /* a writer may keep the C store: do not keep the lock */
    cb_store_unlock(ls->s);
  release_store(ls);
  return 0;
}

/* ---- writers ---- */

static struct lwriter *
checklwriter(lua_State *L)
{
  struct lwriter *lw = luaL_checkudata(L, 1, WRITER_MT);
  if (lw->w == NULL)
    luaL_error(L, "attempt to use a finished blob writer");
  return lw;
}

/* The writer is done with the C store: let a closed store go. */
static void
writer_done(lua_State *L, int idx)
{
  struct lstore *ls;

  lua_getiuservalue(L, idx, 1);
  ls = luaL_testudata(L, -1, LCB_STORE_MT);
  if (ls != NULL) {
    ls->writers--;
    if (ls->closed)
      release_store(ls);
  }
  lua_pop(L, 1);
}

/* s:writer() -> writer | nil, msg, code */
static int
lstore_writer(lua_State *L)
{
  struct lstore *ls = checklstore(L, 1);
  struct cb_error *err = NULL;
  struct lwriter *lw = lua_newuserdatauv(L, sizeof *lw, 1);

  lw->w = NULL; /* valid and "finished" before anything can fail */
  luaL_setmetatable(L, WRITER_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the writer keeps its store alive */
  lw->w = cb_blob_writer_new(ls->s, &err);
  if (lw->w == NULL)
    return lcb_pushfail(L, &err);
  ls->writers++;
  return 1;
}

/* w:write(data) -> w | nil, msg, code */
static int
lwriter_write(lua_State *L)
{
  struct lwriter *lw = checklwriter(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  struct cb_error *err = NULL;

  if (cb_blob_writer_write(lw->w, data, len, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_settop(L, 1);
  return 1;
}

/* w:size() -> bytes written so far */
static int
lwriter_size(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)cb_blob_writer_size(checklwriter(L)->w));
  return 1;
}

/* w:commit([{expect = digest}]) -> digest, size | nil, msg, code; the writer is finished */
static int
lwriter_commit(lua_State *L)
{
  struct lwriter *lw = checklwriter(L);
  struct cb_digest expect, d;
  int has_expect = lcb_optdigestfield(L, 2, "expect", &expect);
  struct cb_error *err = NULL;
  uint64_t size;
  int ret;

  ret = cb_blob_writer_commit(lw->w, has_expect ? &expect : NULL, &d, &size, &err); /* consumes */
  lw->w = NULL;
  writer_done(L, 1);
  if (ret < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* w:abort(), __gc and __close: drop an uncommitted blob; safe to call twice */
static int
lwriter_gc(lua_State *L)
{
  struct lwriter *lw = luaL_checkudata(L, 1, WRITER_MT);

  if (lw->w != NULL) {
    cb_blob_writer_abort(lw->w); /* unlinks the temp file; cannot fail */
    lw->w = NULL;
    writer_done(L, 1);
  }
  return 0;
}

static const luaL_Reg writer_methods[] = { { "write", lwriter_write },
                                           { "size", lwriter_size },
                                           { "commit", lwriter_commit },
                                           { "abort", lwriter_gc },
                                           { NULL, NULL } };
static const luaL_Reg writer_meta[] = { { "__gc", lwriter_gc },
                                        { "__close", lwriter_gc },
                                        { NULL, NULL } };

static const luaL_Reg store_methods[] = {
  { "root", lstore_root },     { "has", lstore_has },
  { "path", lstore_path },     { "put", lstore_put },
  { "get", lstore_get },       { "ingest_file", lstore_ingest_file },
  { "writer", lstore_writer }, { "remove", lstore_remove },
  { "verify", lstore_verify }, { "lock", lstore_lock },
  { "unlock", lstore_unlock }, { "locked", lstore_locked },
  { "read", lstore_read },     { "write", lstore_write },
  { "close", lstore_gc },      { NULL, NULL }
};
static const luaL_Reg store_meta[] = { { "__gc", lstore_gc },
                                       { "__close", lstore_gc },
                                       { NULL, NULL } };

static const luaL_Reg store_funcs[] = { { "open", lstore_open }, { NULL, NULL } };

int
luaopen_cbuild_core_store(lua_State *L)
{
  lcb_newclass(L, WRITER_MT, writer_meta, writer_methods);
  lcb_newclass(L, LCB_STORE_MT, store_meta, store_methods);
  luaL_newlib(L, store_funcs);
  return 1;
}
