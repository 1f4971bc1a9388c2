/* lua/lcb_http.c: binding for core/src/http.c (require "cbuild.core.http")
 *
 * A request is a table:
 *   { url = "http://...", method = "GET", headers = { "Name: value", ... } or { Name = "value" },
 *     body = "bytes" | { store = s, digest = "sha256:...", offset = 0, length = n },
 *     sink = s, expect = "sha256:...",      -- a 2xx body streams into a blob of store s
 *     max_body = n, connect_timeout = sec, timeout = sec, retries = n,
 *     insecure = false, redirect = true,
 *     progress = function(done, total) end }  -- body bytes moved; total 0 while unknown
 * The progress function runs inside the transfer, in protected mode: an error it raises stops
 * the transfer and is raised again by request/perform_all once everything is released.
 * An answer is a table:
 *   { status = 200, headers = { ["content-type"] = "..." }, body = "...", url = "...",
 *     digest = "sha256:...", size = n (when the sink named a blob), attempts = n, resumed = n }
 */
#include "lcb.h"
#include "lcb_store.h"

#include <string.h>
#include <unistd.h>

#include "cbuild/http.h"

struct lreq {
  struct cb_http_request req;
  lua_State *L;
  int progress_ref; /* the progress function in the anchor table, or LUA_NOREF */
  int anchor;       /* stack index of the anchor table */
  bool *failed;     /* shared: a progress function raised (its message is in the anchor) */
  struct cb_store *body_store; /* body from a blob: opened into req.body_fd just before the call */
  struct cb_digest body_digest;
  bool has_body_blob;
};

/* Fill R from the table at IDX; strings stay owned by Lua, anchored in the table at ANCHOR. */
static void
checkreq(lua_State *L, int idx, int anchor, struct lreq *r)
{
  struct cb_http_request *req = &r->req;
  const char **hdrs;
  size_t nh = 0;
  lua_Integer n;

  luaL_checktype(L, idx, LUA_TTABLE);
  *r = (struct lreq){ .req = CB_HTTP_REQUEST_INIT };
  req->url = lcb_optstrfield(L, idx, "url", NULL);
  if (req->url == NULL)
    luaL_error(L, "http request: 'url' is required");
  req->method = lcb_optstrfield(L, idx, "method", NULL);

  if (lua_getfield(L, idx, "headers") == LUA_TTABLE) {
    lua_Unsigned len = lua_rawlen(L, -1);
    size_t cap = (size_t)len + 1;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      if (!lua_isinteger(L, -2))
        cap++;
      lua_pop(L, 1);
    }
    hdrs = lua_newuserdatauv(L, cap * sizeof *hdrs, 0);
    luaL_ref(L, anchor); /* kept alive by the anchor table */
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      if (lua_type(L, -2) == LUA_TNUMBER) {
        hdrs[nh++] = luaL_checkstring(L, -1);
      } else {
        const char *k = luaL_checkstring(L, -2), *v = luaL_checkstring(L, -1);
        hdrs[nh++] = lua_pushfstring(L, "%s: %s", k, v);
        luaL_ref(L, anchor);
      }
      lua_pop(L, 1);
    }
    hdrs[nh] = NULL;
    req->headers = hdrs;
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "http request: 'headers' must be a table");
  }
  lua_pop(L, 1);

  switch (lua_getfield(L, idx, "body")) {
  case LUA_TNIL:
    break;
  case LUA_TSTRING:
    req->body = lua_tolstring(L, -1, &req->body_len);
    break;
  case LUA_TTABLE:
    lua_getfield(L, -1, "store");
    r->body_store = lcb_checkstore(L, -1);
    lua_pop(L, 1);
    if (!lcb_optdigestfield(L, -1, "digest", &r->body_digest))
      luaL_error(L, "http request: body blob needs a 'digest'");
    r->has_body_blob = true;
    req->body_offset = (uint64_t)lcb_optintfield(L, -1, "offset", 0);
    n = lcb_optintfield(L, -1, "length", -1);
    req->body_fd_len = n < 0 ? UINT64_MAX : (uint64_t)n;
    break;
  default:
    luaL_error(L, "http request: 'body' must be a string or a blob table");
  }
  lua_pop(L, 1);

  if (lua_getfield(L, idx, "sink") != LUA_TNIL)
    req->sink = lcb_checkstore(L, -1);
  lua_pop(L, 1);
  req->sink_has_expect = lcb_optdigestfield(L, idx, "expect", &req->sink_expect);
  req->max_body = (size_t)lcb_optintfield(L, idx, "max_body", 0);
  lua_getfield(L, idx, "connect_timeout");
  req->connect_timeout_ms = (long)(luaL_optnumber(L, -1, 0) * 1000);
  lua_getfield(L, idx, "timeout");
  req->timeout_ms = (long)(luaL_optnumber(L, -1, 0) * 1000);
  lua_pop(L, 2);
  req->retries = (unsigned)lcb_optintfield(L, idx, "retries", 0);
  if (lcb_optboolfield(L, idx, "insecure", 0))
    req->flags |= CB_HTTP_INSECURE;
  if (!lcb_optboolfield(L, idx, "redirect", 1))
    req->flags |= CB_HTTP_NO_REDIRECT;
  r->L = L;
  r->anchor = anchor;
  r->progress_ref = LUA_NOREF;
  switch (lua_getfield(L, idx, "progress")) {
  case LUA_TNIL:
    lua_pop(L, 1);
    break;
  case LUA_TFUNCTION:
    r->progress_ref = luaL_ref(L, anchor);
    break;
  default:
    luaL_error(L, "http request: 'progress' must be a function");
  }
}

/* The C side of a request's progress function: a protected call, so an error cannot unwind
 * through libcurl.  The first error is kept at anchor[0] and aborts every transfer. */
static int
on_progress(void *ud, uint64_t done, uint64_t total)
{
  struct lreq *r = ud;
  lua_State *L = r->L;

  if (*r->failed)
    return 1;
  lua_rawgeti(L, r->anchor, r->progress_ref);
  lua_pushinteger(L, (lua_Integer)done);
  lua_pushinteger(L, (lua_Integer)total);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lua_rawseti(L, r->anchor, 0);
    *r->failed = true;
    return 1;
  }
  return 0;
}

static void
wire_progress(struct lreq *rs, size_t n, bool *failed)
{
  *failed = false;
  for (size_t i = 0; i < n; i++) {
    rs[i].failed = failed;
    if (rs[i].progress_ref != LUA_NOREF) {
      rs[i].req.progress = on_progress;
      rs[i].req.progress_ud = &rs[i];
    }
  }
}

/* Raise the error a progress function raised, if any (everything is released by then). */
static void
reraise(lua_State *L, int anchor, bool failed)
{
  if (failed) {
    lua_rawgeti(L, anchor, 0);
    lua_error(L);
  }
}

/* Open the body blobs; on failure *err is set and the fds opened so far are closed. */
static int
open_bodies(struct lreq *rs, size_t n, struct cb_error **err)
{
  for (size_t i = 0; i < n; i++) {
    uint64_t size = 0;
    if (!rs[i].has_body_blob)
      continue;
    rs[i].req.body_fd = cb_store_open_blob(rs[i].body_store, &rs[i].body_digest, err);
    if (rs[i].req.body_fd < 0) {
      for (size_t j = 0; j < i; j++)
        if (rs[j].req.body_fd >= 0)
          close(rs[j].req.body_fd);
      return -1;
    }
    cb_store_has_blob(rs[i].body_store, &rs[i].body_digest, &size);
    if (rs[i].req.body_offset > size)
      rs[i].req.body_offset = size;
    if (rs[i].req.body_fd_len > size - rs[i].req.body_offset)
      rs[i].req.body_fd_len = size - rs[i].req.body_offset;
  }
  return 0;
}

static void
close_bodies(struct lreq *rs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (rs[i].req.body_fd >= 0) {
      close(rs[i].req.body_fd);
      rs[i].req.body_fd = -1;
    }
}

/* Push the answer table (or, with an error, the table with error and code set). */
static void
pushresp(lua_State *L, struct cb_http_response *resp)
{
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, resp->status);
  lua_setfield(L, -2, "status");
  lua_newtable(L);
  for (size_t i = 0; i < resp->nheaders; i++) {
    const char *h = resp->headers[i], *colon = strchr(h, ':');
    lua_pushlstring(L, h, (size_t)(colon - h));
    if (lua_getfield(L, -2, lua_tostring(L, -1)) == LUA_TSTRING) /* repeated: join */
      lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), colon + 2);
    else
      lua_pushstring(L, colon + 2);
    lua_remove(L, -2);
    lua_settable(L, -3);
  }
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, resp->body != NULL ? resp->body : "", resp->body_len);
  lua_setfield(L, -2, "body");
  if (resp->url != NULL) {
    lua_pushstring(L, resp->url);
    lua_setfield(L, -2, "url");
  }
  if (resp->stored) {
    lcb_pushdigest(L, &resp->digest);
    lua_setfield(L, -2, "digest");
    lua_pushinteger(L, (lua_Integer)resp->size);
    lua_setfield(L, -2, "size");
  }
  lua_pushinteger(L, resp->attempts);
  lua_setfield(L, -2, "attempts");
  lua_pushinteger(L, (lua_Integer)resp->resumed);
  lua_setfield(L, -2, "resumed");
  if (resp->error != NULL) {
    lua_pushstring(L, resp->error->msg);
    lua_setfield(L, -2, "error");
    lua_pushstring(L, cb_error_code(resp->error));
    lua_setfield(L, -2, "code");
  }
}

/* http.request(t) -> answer | nil, msg, code */
static int
lhttp_request(lua_State *L)
{
  struct cb_http_response resp;
  struct cb_error *err = NULL;
  struct lreq *r;
  bool failed;
  int ret;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L); /* 2: anchor */
  r = lua_newuserdatauv(L, sizeof *r, 0);
  checkreq(L, 1, 2, r);
  wire_progress(r, 1, &failed);
  if (open_bodies(r, 1, &err) < 0)
    return lcb_pushfail(L, &err);
  ret = cb_http_perform(&r->req, &resp, &err);
  close_bodies(r, 1);
  if (ret < 0 || failed) {
    cb_http_response_release(&resp);
    if (failed)
      cb_error_free(&err);
    reraise(L, 2, failed);
    return lcb_pushfail(L, &err);
  }
  pushresp(L, &resp);
  cb_http_response_release(&resp);
  return 1;
}

/* http.perform_all({t, ...} [, {parallel = n}]) -> {answer, ...} (answer.error on failure) */
static int
lhttp_perform_all(lua_State *L)
{
  struct cb_error *err = NULL;
  struct lreq *rs;
  struct cb_http_request *reqs;
  struct cb_http_response *resps;
  size_t n;
  unsigned parallel;
  bool failed;
  int ret;

  luaL_checktype(L, 1, LUA_TTABLE);
  parallel = lua_istable(L, 2) ? (unsigned)lcb_optintfield(L, 2, "parallel", 0) : 0;
  lua_settop(L, 1);
  n = (size_t)lua_rawlen(L, 1);
  lua_newtable(L); /* 2: anchor */
  rs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *rs, 0);
  reqs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *reqs, 0);
  resps = lua_newuserdatauv(L, (n ? n : 1) * sizeof *resps, 0);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    checkreq(L, lua_gettop(L), 2, &rs[i]);
    lua_pop(L, 1);
  }
  wire_progress(rs, n, &failed);
  if (open_bodies(rs, n, &err) < 0)
    return lcb_pushfail(L, &err);
  for (size_t i = 0; i < n; i++)
    reqs[i] = rs[i].req;
  ret = cb_http_perform_all(reqs, resps, n, parallel, &err);
  close_bodies(rs, n);
  if (ret < 0 || failed) {
    for (size_t i = 0; i < n; i++)
      cb_http_response_release(&resps[i]);
    if (failed)
      cb_error_free(&err);
    reraise(L, 2, failed);
    return lcb_pushfail(L, &err);
  }
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    pushresp(L, &resps[i]);
    cb_http_response_release(&resps[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static const luaL_Reg http_funcs[] = { { "request", lhttp_request },
                                       { "perform_all", lhttp_perform_all },
                                       { NULL, NULL } };

int
luaopen_cbuild_core_http(lua_State *L)
{
  luaL_newlib(L, http_funcs);
  return 1;
}
