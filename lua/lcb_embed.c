/*
 * The embedding API (core/include/cbuild.h) and luaopen_cbuild: cbuild as a library.
 *
 * luaopen_cbuild is what `require "cbuild"` finds in cbuild.so (or libcbuild.so) when the
 * stdlib is not on package.path already: it loads the C core, puts the stdlib directory on
 * package.path and returns stdlib/cbuild/init.lua's module.  cb_embed_* wrap a lua_State with
 * that module loaded; every call into Lua runs under lua_pcall, so a recipe's error (or an
 * out-of-memory) comes back as a struct cb_error and never unwinds through the embedder.
 */
#include "cbuild.h"

#include <dlfcn.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcb.h"

#ifndef CBUILD_INSTALL_STDLIB
#define CBUILD_INSTALL_STDLIB ""
#endif
#ifndef CBUILD_SOURCE_STDLIB
#define CBUILD_SOURCE_STDLIB ""
#endif
#ifndef CBUILD_LIB_TO_STDLIB
#define CBUILD_LIB_TO_STDLIB "../share/cbuild/lua"
#endif

/* Registry keys: the embedder's options table ({build_args = {}, host = {}, ...}). */
#define EMBED_OPTS "cbuild.embed.opts"

struct cb_embed {
  lua_State *L;
};

const char *
cb_version(void)
{
  return CBUILD_VERSION;
}

static int
has_init(const char *dir)
{
  char path[PATH_MAX];
  if (dir == NULL || dir[0] == '\0')
    return 0;
  if (snprintf(path, sizeof path, "%s/cbuild/init.lua", dir) >= (int)sizeof path)
    return 0;
  return access(path, R_OK) == 0;
}

/*
 * The stdlib directory: $CBUILD_STDLIB, next to the library that holds this code, the install
 * path compiled in, the source tree.  NULL when none has cbuild/init.lua.
 */
static const char *
find_stdlib(char *buf, size_t len)
{
  const char *env = getenv("CBUILD_STDLIB");
  Dl_info info;

  if (env != NULL && env[0] != '\0')
    return env;
  if (dladdr((void *)find_stdlib, &info) != 0 && info.dli_fname != NULL) {
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash != NULL &&
        snprintf(buf, len, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname,
                 CBUILD_LIB_TO_STDLIB) < (int)len &&
        has_init(buf))
      return buf;
  }
  if (has_init(CBUILD_INSTALL_STDLIB))
    return CBUILD_INSTALL_STDLIB;
  if (has_init(CBUILD_SOURCE_STDLIB))
    return CBUILD_SOURCE_STDLIB;
  return NULL;
}

/* package.searchpath(name, package.path), or nil: leaves one value on the stack. */
static void
searchpath(lua_State *L, const char *name)
{
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchpath");
  lua_pushstring(L, name);
  lua_getfield(L, -3, "path");
  lua_call(L, 2, 1);
  lua_remove(L, -2);
}

int
luaopen_cbuild(lua_State *L)
{
  char buf[PATH_MAX];
  const char *stdlib;

  /* the C core first: its modules land in package.loaded, so "cbuild.core.x" never needs
   * the C searcher (which could not find them inside libcbuild.so) */
  luaL_requiref(L, "cbuild.core", luaopen_cbuild_core, 0);
  lua_pop(L, 1);

  searchpath(L, "cbuild");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    stdlib = find_stdlib(buf, sizeof buf);
    if (stdlib == NULL)
      return luaL_error(L,
                        "cbuild: cannot find the Lua stdlib (cbuild/init.lua); set CBUILD_STDLIB");
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", stdlib, stdlib, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
    lua_pushfstring(L, "%s/cbuild/init.lua", stdlib);
  }
  if (luaL_loadfile(L, lua_tostring(L, -1)) != LUA_OK)
    return lua_error(L);
  lua_pushliteral(L, "cbuild");
  lua_pushvalue(L, -3);
  lua_call(L, 2, 1);
  return 1;
}

/* The message of the error value on top of the stack, through cbuild.recipe.embed.message
 * (the CLI's "file:line: msg" form); pops it and records it in *err. */
static int
set_lua_error(lua_State *L, struct cb_error **err)
{
  const char *msg;

  lua_getglobal(L, "require");
  lua_pushliteral(L, "cbuild.recipe.embed");
  if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
    lua_getfield(L, -1, "message");
    lua_pushvalue(L, -3);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
      cb_error_set(err, CB_E_INVALID, 0, "%s", lua_tostring(L, -1));
      lua_pop(L, 3);
      return -1;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  msg = lua_tostring(L, -1);
  cb_error_set(err, CB_E_INVALID, 0, "%s", msg != NULL ? msg : "(error object is not a string)");
  lua_pop(L, 1);
  return -1;
}

/* In protected mode: the standard libraries, cbuild, the options table. */
static int
embed_init(lua_State *L)
{
  const struct cb_embed_options *opts = lua_touserdata(L, 1);

  luaL_openlibs(L);
  if (opts->stdlib != NULL) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", opts->stdlib, opts->stdlib,
                    lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
  }
  luaL_requiref(L, "cbuild", luaopen_cbuild, 0);
  lua_pop(L, 1);

  lua_newtable(L);
  if (opts->root != NULL) {
    lua_pushstring(L, opts->root);
    lua_setfield(L, -2, "root");
  }
  if (opts->context != NULL) {
    lua_pushstring(L, opts->context);
    lua_setfield(L, -2, "context");
  }
  lua_pushboolean(L, opts->allow_host_exec);
  lua_setfield(L, -2, "allow_host_exec");
  lua_pushboolean(L, opts->quiet);
  lua_setfield(L, -2, "quiet");
  lua_newtable(L);
  lua_setfield(L, -2, "build_args");
  lua_newtable(L);
  lua_setfield(L, -2, "host");
  lua_setfield(L, LUA_REGISTRYINDEX, EMBED_OPTS);
  return 0;
}

struct cb_embed *
cb_embed_new(const struct cb_embed_options *opts, struct cb_error **err)
{
  static const struct cb_embed_options defaults = { 0 };
  struct cb_embed *e;
  lua_State *L = luaL_newstate();

  if (L == NULL) {
    cb_error_set(err, CB_E_SYS, ENOMEM, "create Lua state");
    return NULL;
  }
  lua_pushcfunction(L, embed_init);
  lua_pushlightuserdata(L, (void *)(opts != NULL ? opts : &defaults));
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    cb_error_set(err, CB_E_INVALID, 0, "load cbuild: %s", msg != NULL ? msg : "unknown error");
    lua_close(L);
    return NULL;
  }
  e = malloc(sizeof *e);
  if (e == NULL) {
    lua_close(L);
    cb_error_set(err, CB_E_SYS, ENOMEM, "allocate cb_embed");
    return NULL;
  }
  e->L = L;
  return e;
}

void
cb_embed_free(struct cb_embed *e)
{
  if (e == NULL)
    return;
  lua_close(e->L);
  free(e);
}

lua_State *
cb_embed_lua(struct cb_embed *e)
{
  return e->L;
}

/* In protected mode: opts[field][key] = value (value at index 3). */
static int
embed_setfield(lua_State *L)
{
  lua_getfield(L, LUA_REGISTRYINDEX, EMBED_OPTS);
  lua_getfield(L, -1, lua_tostring(L, 1));
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_settable(L, -3);
  return 0;
}

static int
setfield(struct cb_embed *e, const char *field, const char *key, int push_fn, lua_CFunction fn,
         const char *value, struct cb_error **err)
{
  lua_State *L = e->L;

  if (key == NULL || key[0] == '\0')
    return cb_error_set(err, CB_E_INVALID, 0, "%s: empty name", field);
  lua_pushcfunction(L, embed_setfield);
  lua_pushstring(L, field);
  lua_pushstring(L, key);
  if (push_fn)
    lua_pushcfunction(L, fn);
  else
    lua_pushstring(L, value);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK)
    return set_lua_error(L, err);
  return 0;
}

int
cb_embed_register(struct cb_embed *e, const char *name, lua_CFunction fn, struct cb_error **err)
{
  if (fn == NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "register '%s': no function", name ? name : "");
  return setfield(e, "host", name, 1, fn, NULL, err);
}

int
cb_embed_set_arg(struct cb_embed *e, const char *name, const char *value, struct cb_error **err)
{
  return setfield(e, "build_args", name, 0, NULL, value != NULL ? value : "", err);
}

/* In protected mode: require("cbuild.recipe.embed").run(opts + text, name, tag) -> id. */
static int
embed_run(lua_State *L)
{
  /* 1: text, 2: name, 3: tag (or nil) */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cbuild.recipe.embed");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "run");
  lua_newtable(L);
  lua_getfield(L, LUA_REGISTRYINDEX, EMBED_OPTS);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -5);
  }
  lua_pop(L, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "text");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "name");
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "tag");
  lua_call(L, 1, 1);
  return 1;
}

int
cb_embed_run_string(struct cb_embed *e, const char *text, const char *name, const char *tag,
                    char **image_id, struct cb_error **err)
{
  lua_State *L = e->L;
  int top = lua_gettop(L);
  const char *id;

  if (text == NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "run recipe: no text");
  lua_pushcfunction(L, embed_run);
  lua_pushstring(L, text);
  lua_pushstring(L, name != NULL ? name : "recipe.lua");
  if (tag != NULL)
    lua_pushstring(L, tag);
  else
    lua_pushnil(L);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    set_lua_error(L, err);
    lua_settop(L, top);
    return -1;
  }
  id = lua_tostring(L, -1);
  if (image_id != NULL) {
    *image_id = strdup(id != NULL ? id : "");
    if (*image_id == NULL) {
      lua_settop(L, top);
      return cb_error_set(err, CB_E_SYS, ENOMEM, "copy image ID");
    }
  }
  lua_settop(L, top);
  return 0;
}

int
cb_embed_run_file(struct cb_embed *e, const char *path, const char *tag, char **image_id,
                  struct cb_error **err)
{
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  size_t len = 0, cap = 0;
  const char *base;
  int ret;

  if (f == NULL)
    return cb_error_set(err, CB_E_SYS, errno, "open recipe '%s'", path);
  for (;;) {
    size_t n;
    if (len + 4096 + 1 > cap) {
      char *bigger;
      cap = cap ? cap * 2 : 8192;
      bigger = realloc(text, cap);
      if (bigger == NULL) {
        free(text);
        fclose(f);
        return cb_error_set(err, CB_E_SYS, ENOMEM, "read recipe '%s'", path);
      }
      text = bigger;
    }
    n = fread(text + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0)
      break;
  }
  if (ferror(f)) {
    free(text);
    fclose(f);
    return cb_error_set(err, CB_E_SYS, EIO, "read recipe '%s'", path);
  }
  fclose(f);
  text[len] = '\0';
  base = strrchr(path, '/');
  ret = cb_embed_run_string(e, text, base != NULL ? base + 1 : path, tag, image_id, err);
  free(text);
  return ret;
}
