/*
 * Container networking primitives over rtnetlink: a named network namespace (a bind mount of
 * an nsfs inode on a file, as `ip netns add` and CNI make them), a Linux bridge with its gateway
 * address, and a veth pair whose one end joins the bridge and whose other end becomes the
 * container's interface with its address, the loopback and a default route.  No policy: which
 * names, subnets and addresses to use is the caller's (stdlib/cbuild/container/network.lua).
 *
 * Contract:
 * - Addresses are IPv4 text, "a.b.c.d/len" for an interface address, "a.b.c.d" for a gateway.
 * - The calling thread enters the target namespace for a moment (setns) and always comes back
 *   before returning; other threads are not affected.
 * - Removal functions succeed when the thing is already gone (idempotent teardown).
 * - Failures return -1 with *err set, naming the netlink request and its subject; a half-made
 *   veth pair is deleted before returning.
 */
#ifndef CBUILD_NET_H
#define CBUILD_NET_H

#include <stdbool.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

/* Create a new network namespace pinned at path (created, must not exist), with its loopback up.
 * The caller's thread stays in its own namespace. */
CB_API int cb_net_netns_create(const char *path, struct cb_error **err);
/* Unpin and unlink path; the namespace (and a veth end inside it) dies with its last user.
 * 0 when path does not exist. */
CB_API int cb_net_netns_remove(const char *path, struct cb_error **err);
/* Whether path is a pinned network namespace (an nsfs mount). */
CB_API bool cb_net_netns_exists(const char *path);

/* Make sure bridge name exists, has address cidr ("10.88.0.1/16") and is up.  Returns 1 when
 * this call created it, 0 when it was there (its address is then left as it is). */
CB_API int cb_net_bridge_ensure(const char *name, const char *cidr, struct cb_error **err);

struct cb_net_veth {
  const char *netns;       /* path of the pinned namespace that gets the inner end (required) */
  const char *bridge;      /* bridge the host end joins (required) */
  const char *host_ifname; /* host end, e.g. "veth1a2b3c4d" (required, < 16 bytes) */
  const char *ifname;      /* inner end; NULL = "eth0" */
  const char *address;     /* inner address "a.b.c.d/len" (required) */
  const char *gateway;     /* default route via this address; NULL = no default route */
  const char *mac;         /* inner MAC "02:42:0a:58:00:02"; NULL = a random one */
  unsigned mtu;            /* 0 = the kernel's default */
};

/* Create the veth pair described by v and configure both ends (host end up on the bridge; inner
 * end renamed, addressed, up, with the default route).  On failure nothing is left. */
CB_API int cb_net_veth_add(const struct cb_net_veth *v, struct cb_error **err);
/* Delete a link by name (for a veth, both ends go).  0 when it does not exist. */
CB_API int cb_net_link_delete(const char *name, struct cb_error **err);
/* Whether a link of that name exists in the caller's namespace. */
CB_API bool cb_net_link_exists(const char *name);

/* Write value to the sysctl key ("net.ipv4.ip_forward", "net/ipv4/conf/cbuild0/route_localnet"),
 * in the caller's network namespace. */
CB_API int cb_net_sysctl(const char *key, const char *value, struct cb_error **err);

#endif
