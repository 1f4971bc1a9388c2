/* lua/lcb_json.c: binding for core/src/json.c (require "cbuild.core.json")
 *
 * Lua values <-> jansson values; the bytes themselves come from the core's canonical encoder.
 * A partly built jansson tree is always reachable from a "box" userdata whose __gc drops it,
 * so a raise half-way (a bad key, a memory error) leaks nothing. */
#include "lcb.h"

#include <math.h>
#include <stdlib.h>

#include "cbuild/json.h"

#define ARRAY_MT  "cbuild.core.json.array"
#define OBJECT_MT "cbuild.core.json.object"
#define BOX_MT    "cbuild.core.json.box"

static const char null_sentinel = 0; /* its address is json.null */
#define JSON_NULL_UD ((void *)&null_sentinel)

static int
lbox_gc(lua_State *L)
{
  json_t **box = luaL_checkudata(L, 1, BOX_MT);
  json_decref(*box);
  *box = NULL;
  return 0;
}

static json_t **
newbox(lua_State *L)
{
  json_t **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, BOX_MT);
  return box;
}

/* ---- decode ---- */

static void
push_value(lua_State *L, json_t *v, int depth)
{
  luaL_checkstack(L, 4, "JSON nested too deeply");
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *val;
    lua_createtable(L, 0, (int)json_object_size(v));
    /* json_object_keylen_foreach would do, but the iterator API is older and as clear */
    for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
      key = json_object_iter_key(it);
      val = json_object_iter_value(it);
      lua_pushlstring(L, key, json_object_iter_key_len(it));
      push_value(L, val, depth + 1);
      lua_rawset(L, -3);
    }
    break;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    lua_createtable(L, (int)n, 0);
    luaL_setmetatable(L, ARRAY_MT);
    for (size_t i = 0; i < n; i++) {
      push_value(L, json_array_get(v, i), depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  }
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    lua_pushinteger(L, (lua_Integer)json_integer_value(v));
    break;
  case JSON_REAL:
    lua_pushnumber(L, (lua_Number)json_real_value(v));
    break;
  case JSON_TRUE:
    lua_pushboolean(L, 1);
    break;
  case JSON_FALSE:
    lua_pushboolean(L, 0);
    break;
  case JSON_NULL:
    lua_pushlightuserdata(L, JSON_NULL_UD);
    break;
  }
}

/* json.decode(str) -> value | nil, msg, code */
static int
ljson_decode(lua_State *L)
{
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  struct cb_error *err = NULL;
  json_t **box = newbox(L);

  *box = cb_json_decode(text, len, &err);
  if (*box == NULL)
    return lcb_pushfail(L, &err);
  push_value(L, *box, 0);
  json_decref(*box);
  *box = NULL;
  return 1;
}

/* ---- encode ---- */

enum kind { K_ARRAY, K_OBJECT };

/* Array or object?  Marked tables say so; an unmarked one is an array when its keys are exactly
 * 1..n (n > 0) and an object when they are all strings (or there are none).  *N gets the array
 * length. */
static enum kind
table_kind(lua_State *L, int idx, lua_Integer *n)
{
  lua_Integer count = 0, max = 0;
  int all_positive_ints = 1;

  idx = lua_absindex(L, idx);
  if (lua_getmetatable(L, idx)) {
    int is_array, is_object;
    luaL_getmetatable(L, ARRAY_MT);
    is_array = lua_rawequal(L, -1, -2);
    luaL_getmetatable(L, OBJECT_MT);
    is_object = lua_rawequal(L, -1, -3);
    lua_pop(L, 3);
    if (is_array) {
      *n = (lua_Integer)lua_rawlen(L, idx);
      return K_ARRAY;
    }
    if (is_object)
      return K_OBJECT;
  }
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    count++;
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      if (lua_tointeger(L, -1) > max)
        max = lua_tointeger(L, -1);
    } else {
      all_positive_ints = 0;
    }
  }
  if (count > 0 && all_positive_ints && max == count) {
    *n = count;
    return K_ARRAY;
  }
  return K_OBJECT; /* every key must then be a string: fill checks */
}

static int fill(lua_State *L, int idx, json_t *c, int depth, struct cb_error **err);

/* A new jansson value for the Lua value at IDX: scalars complete, tables as empty containers
 * that the caller attaches before filling.  NULL with *err for bad data (raises on misuse). */
static json_t *
new_value(lua_State *L, int idx, struct cb_error **err)
{
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    return json_null();
  case LUA_TBOOLEAN:
    return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER: {
    lua_Number d;
    if (lua_isinteger(L, idx))
      return json_integer((json_int_t)lua_tointeger(L, idx));
    d = lua_tonumber(L, idx);
    if (!isfinite(d)) {
      cb_error_set(err, CB_E_INVALID, 0, "cannot encode %s in JSON", lua_tostring(L, idx));
      return NULL;
    }
    /* an integral float is written as an integer: never "1.0" */
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
      return json_integer((json_int_t)d);
    return json_real(d);
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *v = json_stringn(s, len);
    if (v == NULL)
      cb_error_set(err, CB_E_INVALID, 0, "cannot encode a string that is not valid UTF-8");
    return v;
  }
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == JSON_NULL_UD)
      return json_null();
    break;
  case LUA_TTABLE: {
    lua_Integer n = 0;
    return table_kind(L, idx, &n) == K_ARRAY ? json_array() : json_object();
  }
  default:
    break;
  }
  luaL_error(L, "cannot encode a %s in JSON", luaL_typename(L, idx));
  return NULL;
}

/* Convert the value at IDX and attach it to C (an array when KEY is NULL) before recursing. */
static int
add(lua_State *L, int idx, json_t *c, const char *key, size_t keylen, int depth,
    struct cb_error **err)
{
  json_t *v = new_value(L, idx, err);

  if (v == NULL)
    return -1;
  if (key == NULL)
    json_array_append_new(c, v);
  else if (json_object_setn_new(c, key, keylen, v) < 0)
    return cb_error_set(err, CB_E_INVALID, 0, "cannot encode a key that is not valid UTF-8");
  if (json_is_array(v) || json_is_object(v))
    return fill(L, idx, v, depth + 1, err);
  return 0;
}

static int
fill(lua_State *L, int idx, json_t *c, int depth, struct cb_error **err)
{
  idx = lua_absindex(L, idx);
  if (depth > CB_JSON_MAX_DEPTH)
    luaL_error(L, "cannot encode a table nested deeper than %d (a cycle?)", CB_JSON_MAX_DEPTH);
  luaL_checkstack(L, 4, "JSON nested too deeply");
  if (json_is_array(c)) {
    lua_Integer n = 0;
    table_kind(L, idx, &n);
    for (lua_Integer i = 1; i <= n; i++) {
      int r;
      lua_rawgeti(L, idx, i);
      r = add(L, -1, c, NULL, 0, depth, err);
      lua_pop(L, 1);
      if (r < 0)
        return -1;
    }
    return 0;
  }
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    size_t len;
    const char *key;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "cannot encode a table with a %s key in JSON (keys must be strings)",
                 luaL_typename(L, -2));
    key = lua_tolstring(L, -2, &len);
    if (add(L, -1, c, key, len, depth, err) < 0) {
      lua_pop(L, 2);
      return -1;
    }
    lua_pop(L, 1);
  }
  return 0;
}

/* json.encode(value [, {indent = N}]) -> string | nil, msg, code */
static int
ljson_encode(lua_State *L)
{
  lua_Integer indent = lcb_optintfield(L, 2, "indent", 0);
  struct cb_error *err = NULL;
  json_t **box;
  char *text;
  size_t len;

  luaL_checkany(L, 1);
  luaL_argcheck(L, indent >= 0 && indent <= 32, 2, "indent must be between 0 and 32");
  lua_settop(L, 1);
  box = newbox(L);
  *box = new_value(L, 1, &err);
  if (*box == NULL)
    return lcb_pushfail(L, &err);
  if ((json_is_array(*box) || json_is_object(*box)) && fill(L, 1, *box, 0, &err) < 0)
    return lcb_pushfail(L, &err);
  text = cb_json_encode(*box, (int)indent, &len, &err);
  json_decref(*box);
  *box = NULL;
  if (text == NULL)
    return lcb_pushfail(L, &err);
  lua_pushlstring(L, text, len);
  free(text);
  return 1;
}

static int
mark(lua_State *L, const char *mt)
{
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
  }
  luaL_setmetatable(L, mt);
  return 1;
}

/* json.array([t]) -> t, marked to encode as an array */
static int
ljson_array(lua_State *L)
{
  return mark(L, ARRAY_MT);
}

/* json.object([t]) -> t, marked to encode as an object */
static int
ljson_object(lua_State *L)
{
  return mark(L, OBJECT_MT);
}

static const luaL_Reg box_meta[] = { { "__gc", lbox_gc }, { NULL, NULL } };
static const luaL_Reg json_funcs[] = { { "decode", ljson_decode },
                                       { "encode", ljson_encode },
                                       { "array", ljson_array },
                                       { "object", ljson_object },
                                       { NULL, NULL } };

int
luaopen_cbuild_core_json(lua_State *L)
{
  lcb_newclass(L, BOX_MT, box_meta, NULL);
  luaL_newlib(L, json_funcs);
  luaL_newmetatable(L, ARRAY_MT);
  lua_setfield(L, -2, "array_mt");
  luaL_newmetatable(L, OBJECT_MT);
  lua_setfield(L, -2, "object_mt");
  lua_pushlightuserdata(L, JSON_NULL_UD);
  lua_setfield(L, -2, "null");
  return 1;
}
