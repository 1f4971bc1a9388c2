/* lua/lcb_net.c: binding for core/src/net.c (require "cbuild.core.net"). */
#include "lcb.h"

#include "cbuild/net.h"

static int
pushok(lua_State *L, int r, struct cb_error **err)
{
  if (r < 0)
    return lcb_pushfail(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* net.netns_create(path) -> true | nil, msg, code */
static int
lnet_netns_create(lua_State *L)
{
  struct cb_error *err = NULL;
  return pushok(L, cb_net_netns_create(luaL_checkstring(L, 1), &err), &err);
}

/* net.netns_remove(path) -> true | nil, msg, code (true also when it is gone) */
static int
lnet_netns_remove(lua_State *L)
{
  struct cb_error *err = NULL;
  return pushok(L, cb_net_netns_remove(luaL_checkstring(L, 1), &err), &err);
}

/* net.netns_exists(path) -> boolean */
static int
lnet_netns_exists(lua_State *L)
{
  lua_pushboolean(L, cb_net_netns_exists(luaL_checkstring(L, 1)));
  return 1;
}

/* net.bridge(name, "a.b.c.d/len") -> created (boolean) | nil, msg, code */
static int
lnet_bridge(lua_State *L)
{
  struct cb_error *err = NULL;
  int r = cb_net_bridge_ensure(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err);

  if (r < 0)
    return lcb_pushfail(L, &err);
  lua_pushboolean(L, r == 1);
  return 1;
}

/* net.veth{netns=, bridge=, host_ifname=, ifname=, address=, gateway=, mac=,
 *          mtu=}
 *   -> true | nil, msg, code */
static int
lnet_veth(lua_State *L)
{
  struct cb_net_veth v;
  struct cb_error *err = NULL;
  lua_Integer mtu;

  luaL_checktype(L, 1, LUA_TTABLE);
  v.netns = lcb_optstrfield(L, 1, "netns", NULL);
  v.bridge = lcb_optstrfield(L, 1, "bridge", NULL);
  v.host_ifname = lcb_optstrfield(L, 1, "host_ifname", NULL);
  v.ifname = lcb_optstrfield(L, 1, "ifname", NULL);
  v.address = lcb_optstrfield(L, 1, "address", NULL);
  v.gateway = lcb_optstrfield(L, 1, "gateway", NULL);
  v.mac = lcb_optstrfield(L, 1, "mac", NULL);
  mtu = lcb_optintfield(L, 1, "mtu", 0);
  if (v.netns == NULL || v.bridge == NULL || v.host_ifname == NULL || v.address == NULL)
    return luaL_error(L, "net.veth: netns, bridge, host_ifname and address are required");
  luaL_argcheck(L, mtu >= 0 && mtu <= 65535, 1, "mtu out of range");
  v.mtu = (unsigned)mtu;
  return pushok(L, cb_net_veth_add(&v, &err), &err);
}

/* net.link_delete(name) -> true | nil, msg, code (true also when it does not exist) */
static int
lnet_link_delete(lua_State *L)
{
  struct cb_error *err = NULL;
  return pushok(L, cb_net_link_delete(luaL_checkstring(L, 1), &err), &err);
}

/* net.link_exists(name) -> boolean */
static int
lnet_link_exists(lua_State *L)
{
  lua_pushboolean(L, cb_net_link_exists(luaL_checkstring(L, 1)));
  return 1;
}

/* net.sysctl(key, value) -> true | nil, msg, code */
static int
lnet_sysctl(lua_State *L)
{
  struct cb_error *err = NULL;
  return pushok(L, cb_net_sysctl(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err), &err);
}

static const luaL_Reg net_funcs[] = { { "netns_create", lnet_netns_create },
                                      { "netns_remove", lnet_netns_remove },
                                      { "netns_exists", lnet_netns_exists },
                                      { "bridge", lnet_bridge },
                                      { "veth", lnet_veth },
                                      { "link_delete", lnet_link_delete },
                                      { "link_exists", lnet_link_exists },
                                      { "sysctl", lnet_sysctl },
                                      { NULL, NULL } };

int
luaopen_cbuild_core_net(lua_State *L)
{
  luaL_newlib(L, net_funcs);
  return 1;
}
