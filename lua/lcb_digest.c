/* lua/lcb_digest.c: binding for core/src/digest.c (require "cbuild.core.digest") */
#include "lcb.h"
#include "lcb_store.h"

#include <fcntl.h>

#define HASHER_MT "cbuild.core.digest.hasher"

struct lhasher {
  struct cb_sha256 h; /* h.ctx is NULL once finished or collected */
};

void
lcb_pushdigest(lua_State *L, const struct cb_digest *d)
{
  char buf[CB_DIGEST_STR_LEN];
  cb_digest_string(d, buf, sizeof buf);
  lua_pushstring(L, buf);
}

void
lcb_checkdigest(lua_State *L, int idx, struct cb_digest *out)
{
  const char *s = luaL_checkstring(L, idx);
  struct cb_error *err = NULL;

  if (cb_digest_parse(s, out, &err) < 0) {
    lua_pushstring(L, err->msg);
    cb_error_free(&err);
    luaL_argerror(L, idx, lua_tostring(L, -1));
  }
}

int
lcb_optdigestfield(lua_State *L, int idx, const char *field, struct cb_digest *out)
{
  struct cb_error *err = NULL;
  const char *s = lcb_optstrfield(L, idx, field, NULL);

  if (s == NULL)
    return 0;
  if (cb_digest_parse(s, out, &err) < 0) {
    lua_pushfstring(L, "field '%s': %s", field, err->msg);
    cb_error_free(&err);
    lua_error(L);
  }
  return 1;
}

/* digest.sha256(data) -> "sha256:<hex>" */
static int
ldigest_sha256(lua_State *L)
{
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  struct cb_digest d;

  cb_sha256_buf(data, len, &d);
  lcb_pushdigest(L, &d);
  return 1;
}

/* digest.valid(s) -> bool */
static int
ldigest_valid(lua_State *L)
{
  struct cb_digest d;
  struct cb_error *err = NULL;
  int ok = lua_type(L, 1) == LUA_TSTRING && cb_digest_parse(lua_tostring(L, 1), &d, &err) == 0;

  cb_error_free(&err);
  lua_pushboolean(L, ok);
  return 1;
}

/* digest.file(path) -> "sha256:<hex>", size | nil, msg, code */
static int
ldigest_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  struct cb_digest d;
  uint64_t size;

  if (cb_digest_file_at(AT_FDCWD, path, &d, &size, &err) < 0)
    return lcb_pushfail(L, &err);
  lcb_pushdigest(L, &d);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

static struct lhasher *
checkhasher(lua_State *L)
{
  struct lhasher *lh = luaL_checkudata(L, 1, HASHER_MT);
  if (lh->h.ctx == NULL)
    luaL_error(L, "attempt to use a finished hasher");
  return lh;
}

/* digest.new() -> hasher */
static int
ldigest_new(lua_State *L)
{
  struct lhasher *lh = lua_newuserdatauv(L, sizeof *lh, 0);

  lh->h.ctx = NULL; /* finished until the context exists */
  luaL_setmetatable(L, HASHER_MT);
  cb_sha256_init(&lh->h);
  return 1;
}

/* h:update(data) -> h */
static int
lhasher_update(lua_State *L)
{
  struct lhasher *lh = checkhasher(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);

  cb_sha256_update(&lh->h, data, len);
  lua_settop(L, 1);
  return 1;
}

/* h:final() -> "sha256:<hex>"; the hasher is finished afterwards */
static int
lhasher_final(lua_State *L)
{
  struct lhasher *lh = checkhasher(L);
  struct cb_digest d;

  cb_sha256_final(&lh->h, &d);
  cb_sha256_release(&lh->h);
  lcb_pushdigest(L, &d);
  return 1;
}

/* __gc and __close; safe to call twice */
static int
lhasher_gc(lua_State *L)
{
  struct lhasher *lh = luaL_checkudata(L, 1, HASHER_MT);
  cb_sha256_release(&lh->h);
  return 0;
}

static const luaL_Reg hasher_methods[] = { { "update", lhasher_update },
                                           { "final", lhasher_final },
                                           { NULL, NULL } };
static const luaL_Reg hasher_meta[] = { { "__gc", lhasher_gc },
                                        { "__close", lhasher_gc },
                                        { NULL, NULL } };
static const luaL_Reg digest_funcs[] = { { "sha256", ldigest_sha256 },
                                         { "new", ldigest_new },
                                         { "file", ldigest_file },
                                         { "valid", ldigest_valid },
                                         { NULL, NULL } };

int
luaopen_cbuild_core_digest(lua_State *L)
{
  lcb_newclass(L, HASHER_MT, hasher_meta, hasher_methods);
  luaL_newlib(L, digest_funcs);
  return 1;
}
