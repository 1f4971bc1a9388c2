/*
 * require "cbuild.core.cgroup": binding for core/src/cgroup*.c.
 *
 *   cgroup.layout([src])               -> {mode=, controllers={memory={version=, path=}, ...},
 *                                          hierarchies={{version=, path=, controllers={...},
 *                                          self=, readonly=}, ...}} | nil, msg, code
 *   cgroup.create(name, [limits], [src]) -> cg | nil, msg, code
 *   cgroup.open(name, [src])           -> cg | nil, msg, code
 *   cgroup.warm([src])                 -> true (cb_cgroup_warm: a thread that readies the
 *                                          kernel for a cgroup move soon after)
 *   cg:name() cg:dirs() cg:procs_paths() cg:add(pid) cg:set(limits) cg:stats() cg:oom()
 *   cg:oom_killed() cg:pids() cg:keep() cg:remove() cg:close()
 *
 * limits = {memory=, memory_swap=, cpu_quota=, cpu_period=, cpu_shares=, pids=}: integers, -1
 * for unlimited where that has a meaning, absent to leave alone.  src = {mountinfo=,
 * proc_cgroup=, prefix=} replaces the /proc/self files and puts PREFIX before every mount point: a
 * fake tree for tests.  A handle from create removes its cgroup when closed or collected, unless
 * cg:keep() was called (a detached container outlives the command that made it); a handle
 * from open never does.
 */
#include "lcb.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cbuild/cgroup.h"

#define CGROUP_MT "cbuild.core.cgroup"

/* Declared in lcb.h too; repeated so this file builds on its own. */
LCB_EXPORT int luaopen_cbuild_core_cgroup(lua_State *L);

struct lcg {
  struct cb_cgroup *cg; /* NULL once collected or closed */
  bool owned;           /* remove on __gc/__close */
};

static struct lcg *
checklcg(lua_State *L)
{
  struct lcg *c = luaL_checkudata(L, 1, CGROUP_MT);
  if (c->cg == NULL)
    luaL_error(L, "attempt to use a finished cgroup");
  return c;
}

static const char *const limit_keys[] = { "memory",     "memory_swap", "cpu_quota", "cpu_period",
                                          "cpu_shares", "pids",        NULL };

static int64_t
limit_field(lua_State *L, int idx, const char *key, lua_Integer min)
{
  lua_Integer v = lcb_optintfield(L, idx, key, 0);
  if (v < min)
    luaL_error(L, "cgroup limit '%s' must be %s", key, min < 0 ? ">= -1" : ">= 0");
  return (int64_t)v;
}

/* Read the limits table at IDX (raises on misuse: unknown keys, wrong types, bad ranges). */
static void
checklimits(lua_State *L, int idx, struct cb_cgroup_limits *lim)
{
  memset(lim, 0, sizeof *lim);
  if (lua_isnoneornil(L, idx))
    return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    bool known = false;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (const char *const *k = limit_keys; *k != NULL; k++)
        known = known || strcmp(lua_tostring(L, -2), *k) == 0;
    if (!known)
      luaL_error(L, "unknown cgroup limit '%s'", luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
  lim->memory = limit_field(L, idx, "memory", -1);
  lim->memory_swap = limit_field(L, idx, "memory_swap", -1);
  lim->cpu_quota = limit_field(L, idx, "cpu_quota", -1);
  lim->cpu_period = limit_field(L, idx, "cpu_period", 0);
  lim->cpu_shares = limit_field(L, idx, "cpu_shares", 0);
  lim->pids = limit_field(L, idx, "pids", -1);
}

/* Layout from src (table at IDX, or none for this process); fills *l or *err. */
static int
load_layout(lua_State *L, int idx, struct cb_cgroup_layout *l, struct cb_error **err)
{
  const char *mi, *pc, *prefix;
  if (lua_isnoneornil(L, idx))
    return cb_cgroup_layout_load(l, err);
  luaL_checktype(L, idx, LUA_TTABLE);
  mi = lcb_optstrfield(L, idx, "mountinfo", NULL);
  pc = lcb_optstrfield(L, idx, "proc_cgroup", "");
  prefix = lcb_optstrfield(L, idx, "prefix", NULL);
  if (mi == NULL)
    luaL_error(L, "a cgroup source needs 'mountinfo'");
  return cb_cgroup_layout_parse(l, mi, pc, prefix, err);
}

static void
push_words(lua_State *L, const char *list)
{
  lua_Integer i = 0;
  lua_newtable(L);
  for (const char *p = list; *p != '\0';) {
    size_t n = strcspn(p, " ");
    if (n > 0) {
      lua_pushlstring(L, p, n);
      lua_rawseti(L, -2, ++i);
    }
    p += n;
    p += strspn(p, " ");
  }
}

static void
push_hier(lua_State *L, const struct cb_cgroup_hier *h, bool full)
{
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, h->version);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, h->mountpoint);
  lua_setfield(L, -2, "path");
  if (h->self != NULL) {
    lua_pushstring(L, h->self);
    lua_setfield(L, -2, "self");
  }
  if (!full)
    return;
  push_words(L, h->controllers);
  lua_setfield(L, -2, "controllers");
  if (h->name != NULL) {
    lua_pushstring(L, h->name);
    lua_setfield(L, -2, "name");
  }
  lua_pushboolean(L, h->readonly);
  lua_setfield(L, -2, "readonly");
}

/* Push the layout table (may raise: the caller keeps L in a userdata, see struct llayout). */
static void
push_layout(lua_State *L, const struct cb_cgroup_layout *l)
{
  lua_createtable(L, 0, 3);
  lua_pushstring(L, cb_cgroup_mode_name(l->mode));
  lua_setfield(L, -2, "mode");
  lua_newtable(L);
  for (size_t i = 0; i < l->n; i++) {
    const struct cb_cgroup_hier *h = &l->hier[i];
    for (const char *p = h->controllers; *p != '\0';) {
      size_t n = strcspn(p, " ");
      if (n > 0) {
        lua_pushlstring(L, p, n);
        push_hier(L, h, false);
        lua_rawset(L, -3);
      }
      p += n;
      p += strspn(p, " ");
    }
  }
  /* v2 answers cpu usage without a cpuacct controller */
  if (cb_cgroup_layout_find(l, "cpuacct") != NULL && lua_getfield(L, -1, "cpuacct") == LUA_TNIL) {
    lua_pop(L, 1);
    push_hier(L, cb_cgroup_layout_find(l, "cpuacct"), false);
    lua_setfield(L, -2, "cpuacct");
  } else {
    lua_pop(L, 1);
  }
  lua_setfield(L, -2, "controllers");
  lua_createtable(L, (int)l->n, 0);
  for (size_t i = 0; i < l->n; i++) {
    push_hier(L, &l->hier[i], true);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "hierarchies");
}

/* The layout lives in a userdata while Lua builds tables, so a raise cannot leak it. */
struct llayout {
  struct cb_cgroup_layout l;
  bool loaded;
};

static int
llayout_gc(lua_State *L)
{
  struct llayout *ll = lua_touserdata(L, 1);
  if (ll != NULL && ll->loaded) {
    cb_cgroup_layout_release(&ll->l);
    ll->loaded = false;
  }
  return 0;
}

static struct llayout *
new_llayout(lua_State *L)
{
  struct llayout *ll = lua_newuserdatauv(L, sizeof *ll, 0);
  ll->loaded = false;
  memset(&ll->l, 0, sizeof ll->l);
  if (luaL_newmetatable(L, CGROUP_MT ".layout")) {
    lua_pushcfunction(L, llayout_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return ll;
}

/* cgroup.layout([src]) -> table | nil, msg, code */
static int
lcgroup_layout(lua_State *L)
{
  struct cb_error *err = NULL;
  struct llayout *ll;

  lua_settop(L, 1); /* src stays at 1 below what gets pushed */
  if (!lua_isnil(L, 1))
    luaL_checktype(L, 1, LUA_TTABLE);
  ll = new_llayout(L);
  if (load_layout(L, 1, &ll->l, &err) < 0)
    return lcb_pushfail(L, &err);
  ll->loaded = true;
  push_layout(L, &ll->l);
  return 1;
}

/* cgroup.warm([src]) -> true (see cb_cgroup_warm; a layout that cannot be read is no error) */
static int
lcgroup_warm(lua_State *L)
{
  struct cb_error *err = NULL;
  struct llayout *ll;

  lua_settop(L, 1);
  if (!lua_isnil(L, 1))
    luaL_checktype(L, 1, LUA_TTABLE);
  ll = new_llayout(L);
  if (load_layout(L, 1, &ll->l, &err) == 0) {
    ll->loaded = true;
    cb_cgroup_warm(&ll->l);
  }
  cb_error_free(&err);
  lua_pushboolean(L, 1);
  return 1;
}

static struct lcg *
new_lcg(lua_State *L)
{
  struct lcg *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->cg = NULL;
  c->owned = false;
  luaL_setmetatable(L, CGROUP_MT);
  return c;
}

/* cgroup.create(name, [limits], [src]) -> cg | nil, msg, code */
static int
lcgroup_create(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  struct cb_cgroup_limits lim;
  struct cb_error *err = NULL;
  struct llayout *ll;
  struct lcg *c;

  checklimits(L, 2, &lim);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3))
    luaL_checktype(L, 3, LUA_TTABLE);
  ll = new_llayout(L);
  c = new_lcg(L);
  if (load_layout(L, 3, &ll->l, &err) < 0)
    return lcb_pushfail(L, &err);
  ll->loaded = true;
  c->cg = cb_cgroup_create(&ll->l, name, &lim, &err);
  if (c->cg == NULL)
    return lcb_pushfail(L, &err);
  c->owned = true;
  return 1;
}

/* cgroup.open(name, [src]) -> cg | nil, msg, code */
static int
lcgroup_open(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  struct cb_error *err = NULL;
  struct llayout *ll;
  struct lcg *c;

  lua_settop(L, 2);
  if (!lua_isnil(L, 2))
    luaL_checktype(L, 2, LUA_TTABLE);
  ll = new_llayout(L);
  c = new_lcg(L);
  if (load_layout(L, 2, &ll->l, &err) < 0)
    return lcb_pushfail(L, &err);
  ll->loaded = true;
  c->cg = cb_cgroup_open(&ll->l, name, &err);
  if (c->cg == NULL)
    return lcb_pushfail(L, &err);
  return 1;
}

static void
push_list(lua_State *L, const char *const *items, size_t n)
{
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, items[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* cg:name() -> "cbuild/<id>" */
static int
lcg_name(lua_State *L)
{
  lua_pushstring(L, cb_cgroup_name(checklcg(L)->cg));
  return 1;
}

/* cg:procs_paths() -> {"/sys/fs/cgroup/memory/cbuild/<id>/cgroup.procs", ...} */
static int
lcg_procs_paths(lua_State *L)
{
  size_t n;
  const char *const *p = cb_cgroup_procs_paths(checklcg(L)->cg, &n);
  push_list(L, p, n);
  return 1;
}

/* cg:dirs() -> {"/sys/fs/cgroup/memory/cbuild/<id>", ...} */
static int
lcg_dirs(lua_State *L)
{
  size_t n;
  const char *const *p = cb_cgroup_dirs(checklcg(L)->cg, &n);
  push_list(L, p, n);
  return 1;
}

/* cg:add(pid) -> true | nil, msg, code */
static int
lcg_add(lua_State *L)
{
  struct lcg *c = checklcg(L);
  lua_Integer pid = luaL_checkinteger(L, 2);
  struct cb_error *err = NULL;

  luaL_argcheck(L, pid > 0 && pid <= 0x7fffffff, 2, "not a process id");
  if (cb_cgroup_add(c->cg, (pid_t)pid, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* cg:set(limits) -> true | nil, msg, code */
static int
lcg_set(lua_State *L)
{
  struct lcg *c = checklcg(L);
  struct cb_cgroup_limits lim;
  struct cb_error *err = NULL;

  luaL_checktype(L, 2, LUA_TTABLE);
  checklimits(L, 2, &lim);
  if (cb_cgroup_set_limits(c->cg, &lim, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static void
setint_if(lua_State *L, const char *key, int64_t v)
{
  if (v >= 0) {
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, key);
  }
}

/* cg:stats() -> {memory=bytes, cpu_ns=ns, pids=n} (a field is absent when unknown) */
static int
lcg_stats(lua_State *L)
{
  struct lcg *c = checklcg(L);
  struct cb_cgroup_stats st;
  struct cb_error *err = NULL;

  if (cb_cgroup_stats(c->cg, &st, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_createtable(L, 0, 3);
  setint_if(L, "memory", st.memory);
  setint_if(L, "cpu_ns", st.cpu_ns);
  setint_if(L, "pids", st.pids);
  return 1;
}

/* cg:oom() -> {oom_kill=n, oom=n, under_oom=bool} */
static int
lcg_oom(lua_State *L)
{
  struct lcg *c = checklcg(L);
  struct cb_cgroup_oom o;
  struct cb_error *err = NULL;

  if (cb_cgroup_oom(c->cg, &o, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)o.oom_kill);
  lua_setfield(L, -2, "oom_kill");
  lua_pushinteger(L, (lua_Integer)o.oom);
  lua_setfield(L, -2, "oom");
  lua_pushboolean(L, o.under_oom);
  lua_setfield(L, -2, "under_oom");
  return 1;
}

/* cg:oom_killed() -> count | nil, msg, code */
static int
lcg_oom_killed(lua_State *L)
{
  struct lcg *c = checklcg(L);
  struct cb_cgroup_oom o;
  struct cb_error *err = NULL;

  if (cb_cgroup_oom(c->cg, &o, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushinteger(L, (lua_Integer)o.oom_kill);
  return 1;
}

/* cg:pids() -> {pid, ...} sorted | nil, msg, code */
static int
lcg_pids(lua_State *L)
{
  struct lcg *c = checklcg(L);
  struct cb_error *err = NULL;
  pid_t *pids;
  size_t n;

  if (cb_cgroup_pids(c->cg, &pids, &n, &err) < 0)
    return lcb_pushfail(L, &err);
  lua_createtable(L, (int)n, 0); /* sized up front: the pushes below do not allocate */
  for (size_t i = 0; i < n; i++) {
    lua_pushinteger(L, pids[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free(pids);
  return 1;
}

/* cg:freeze(bool) -> true | nil, msg, code: freeze (true) or thaw its processes */
static int
lcg_freeze(lua_State *L)
{
  struct lcg *c = checklcg(L);
  struct cb_error *err = NULL;

  luaL_checktype(L, 2, LUA_TBOOLEAN);
  if (cb_cgroup_freeze(c->cg, lua_toboolean(L, 2), &err) < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* cg:keep() -> cg: closing or collecting this handle will leave the cgroup in place */
static int
lcg_keep(lua_State *L)
{
  checklcg(L)->owned = false;
  lua_settop(L, 1);
  return 1;
}

/* cg:remove() -> true | nil, msg, code; kills what is left inside; twice is fine */
static int
lcg_remove(lua_State *L)
{
  struct lcg *c = checklcg(L);
  struct cb_error *err = NULL;

  if (cb_cgroup_remove(c->cg, &err) < 0)
    return lcb_pushfail(L, &err);
  c->owned = false;
  lua_pushboolean(L, 1);
  return 1;
}

/* __gc and __close: remove an owned cgroup (errors are dropped), free the handle; idempotent */
static int
lcg_gc(lua_State *L)
{
  struct lcg *c = luaL_checkudata(L, 1, CGROUP_MT);
  if (c->cg != NULL) {
    if (c->owned) {
      struct cb_error *err = NULL;
      cb_cgroup_remove(c->cg, &err);
      cb_error_free(&err);
    }
    cb_cgroup_free(c->cg);
    c->cg = NULL;
  }
  return 0;
}

static int
lcg_tostring(lua_State *L)
{
  struct lcg *c = luaL_checkudata(L, 1, CGROUP_MT);
  if (c->cg == NULL)
    lua_pushliteral(L, "cgroup (finished)");
  else
    lua_pushfstring(L, "cgroup (%s)", cb_cgroup_name(c->cg));
  return 1;
}

static const luaL_Reg cg_methods[] = { { "name", lcg_name },
                                       { "dirs", lcg_dirs },
                                       { "procs_paths", lcg_procs_paths },
                                       { "add", lcg_add },
                                       { "set", lcg_set },
                                       { "stats", lcg_stats },
                                       { "oom", lcg_oom },
                                       { "oom_killed", lcg_oom_killed },
                                       { "pids", lcg_pids },
                                       { "freeze", lcg_freeze },
                                       { "keep", lcg_keep },
                                       { "remove", lcg_remove },
                                       { "close", lcg_gc },
                                       { NULL, NULL } };
static const luaL_Reg cg_meta[] = { { "__index", NULL },
                                    { "__gc", lcg_gc },
                                    { "__close", lcg_gc },
                                    { "__tostring", lcg_tostring },
                                    { NULL, NULL } };
static const luaL_Reg cgroup_funcs[] = { { "layout", lcgroup_layout },
                                         { "create", lcgroup_create },
                                         { "open", lcgroup_open },
                                         { "warm", lcgroup_warm },
                                         { NULL, NULL } };

int
luaopen_cbuild_core_cgroup(lua_State *L)
{
  lcb_newclass(L, CGROUP_MT, cg_meta, cg_methods);
  luaL_newlib(L, cgroup_funcs);
  return 1;
}
