/*
 * rtnetlink by hand: every request here is one message answered by one ack, so a small
 * attribute builder over a NETLINK_ROUTE socket does what libmnl would, without a dependency.
 */
#include "cbuild/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util.h"

/* if_nametoindex without <net/if.h>, whose declarations clash with <linux/if.h> */
extern unsigned int if_nametoindex(const char *ifname);

struct nlreq {
  union {
    struct nlmsghdr hdr;
    char buf[1024];
  } u;
};

static void *
nl_tail(struct nlreq *r)
{
  return r->u.buf + NLMSG_ALIGN(r->u.hdr.nlmsg_len);
}

static void *
nl_begin(struct nlreq *r, uint16_t type, uint16_t flags, size_t hdrlen)
{
  memset(r, 0, sizeof *r);
  r->u.hdr.nlmsg_type = type;
  r->u.hdr.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
  r->u.hdr.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdrlen);
  return NLMSG_DATA(&r->u.hdr);
}

/* The requests are small and fixed in shape: running out of room is a bug, not an error. */
static struct rtattr *
nl_put(struct nlreq *r, unsigned short type, const void *data, size_t len)
{
  struct rtattr *a = nl_tail(r);
  size_t need = NLMSG_ALIGN(r->u.hdr.nlmsg_len) + RTA_SPACE(len);

  if (need > sizeof r->u.buf)
    abort();
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len > 0)
    memcpy(RTA_DATA(a), data, len);
  r->u.hdr.nlmsg_len = (uint32_t)need;
  return a;
}

static void
nl_putstr(struct nlreq *r, unsigned short type, const char *s)
{
  nl_put(r, type, s, strlen(s) + 1);
}

static void
nl_putu32(struct nlreq *r, unsigned short type, uint32_t v)
{
  nl_put(r, type, &v, sizeof v);
}

static struct rtattr *
nl_nest(struct nlreq *r, unsigned short type)
{
  return nl_put(r, type, NULL, 0);
}

static void
nl_nest_end(struct nlreq *r, struct rtattr *nest)
{
  nest->rta_len = (unsigned short)((char *)nl_tail(r) - (char *)nest);
}

static int
nl_open(struct cb_error **err)
{
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open a netlink socket");
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "bind a netlink socket");
    close(fd);
    return -1;
  }
  return fd;
}

/* Send r and read its ack; the kernel's errno, or 0. */
static int
nl_talk(int fd, struct nlreq *r)
{
  static uint32_t seq;
  union {
    struct nlmsghdr hdr;
    char buf[4096];
  } ans;
  ssize_t got;
  int n;

  r->u.hdr.nlmsg_seq = ++seq;
  if (send(fd, r->u.buf, r->u.hdr.nlmsg_len, 0) < 0)
    return errno;
  for (;;) {
    got = recv(fd, ans.buf, sizeof ans.buf, 0);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return errno;
    n = (int)got;
    for (struct nlmsghdr *h = &ans.hdr; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->u.hdr.nlmsg_seq)
        continue;
      if (h->nlmsg_type == NLMSG_ERROR)
        return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static int
parse_addr(const char *text, struct in_addr *a, unsigned char *prefix, struct cb_error **err)
{
  char buf[INET_ADDRSTRLEN + 4];
  const char *slash = strchr(text, '/');
  char *end;
  long len = 32;
  size_t n = slash != NULL ? (size_t)(slash - text) : strlen(text);

  if (n >= INET_ADDRSTRLEN)
    goto bad;
  memcpy(buf, text, n);
  buf[n] = '\0';
  if (inet_pton(AF_INET, buf, a) != 1)
    goto bad;
  if (slash != NULL) {
    errno = 0;
    len = strtol(slash + 1, &end, 10);
    if (prefix == NULL || *end != '\0' || end == slash + 1 || len < 0 || len > 32)
      goto bad;
  }
  if (prefix != NULL)
    *prefix = (unsigned char)len;
  return 0;
bad:
  return cb_error_set(err, CB_E_INVALID, 0, "invalid IPv4 address '%s'", text);
}

/* RTM_NEWLINK on an existing link: set flags (and a master when master > 0). */
static int
link_set(int fd, int index, unsigned flags, unsigned change)
{
  struct nlreq r;
  struct ifinfomsg *ifi = nl_begin(&r, RTM_NEWLINK, 0, sizeof *ifi);

  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = flags;
  ifi->ifi_change = change;
  return nl_talk(fd, &r);
}

static int
addr_add(int fd, int index, struct in_addr a, unsigned char prefix)
{
  struct nlreq r;
  struct ifaddrmsg *ifa = nl_begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof *ifa);
  struct in_addr brd = a;

  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix;
  ifa->ifa_index = (unsigned)index;
  nl_put(&r, IFA_LOCAL, &a, sizeof a);
  nl_put(&r, IFA_ADDRESS, &a, sizeof a);
  if (prefix < 31) {
    brd.s_addr = htonl(ntohl(a.s_addr) | (0xffffffffu >> prefix));
    nl_put(&r, IFA_BROADCAST, &brd, sizeof brd);
  }
  return nl_talk(fd, &r);
}

static int
route_default(int fd, int index, struct in_addr gw)
{
  struct nlreq r;
  struct rtmsg *rt = nl_begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rt);

  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  nl_put(&r, RTA_GATEWAY, &gw, sizeof gw);
  nl_putu32(&r, RTA_OIF, (uint32_t)index);
  return nl_talk(fd, &r);
}

/* ---- namespaces -------------------------------------------------------------------------- */

/* Run fn(arg) with the calling thread inside the namespace nsfd; always comes back. */
static int
in_netns(int nsfd, int (*fn)(void *arg, struct cb_error **err), void *arg, struct cb_error **err)
{
  cb_autoclose int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int r;

  if (self < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '/proc/thread-self/ns/net'");
  if (setns(nsfd, CLONE_NEWNET) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "enter the container's network namespace");
  r = fn(arg, err);
  if (setns(self, CLONE_NEWNET) < 0)
    abort(); /* a thread stuck in a container's namespace would do the wrong thing next */
  return r;
}

static int
loopback_up(void *arg, struct cb_error **err)
{
  cb_autoclose int fd = nl_open(err);
  int e;

  (void)arg;
  if (fd < 0)
    return -1;
  if ((e = link_set(fd, 1, IFF_UP, IFF_UP)) != 0)
    return cb_error_set(err, CB_E_SYS, e, "set 'lo' up");
  return 0;
}

int
cb_net_netns_create(const char *path, struct cb_error **err)
{
  cb_autoclose int self = -1, fd = -1;
  int r = 0;

  fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "create '%s'", path);
  self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    cb_error_set(err, CB_E_SYS, errno, "open '/proc/thread-self/ns/net'");
    goto fail;
  }
  if (unshare(CLONE_NEWNET) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "unshare a network namespace");
    goto fail;
  }
  if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "bind the network namespace on '%s'", path);
    r = -1;
  }
  if (r == 0)
    r = loopback_up(NULL, err);
  if (setns(self, CLONE_NEWNET) < 0)
    abort();
  if (r == 0)
    return 0;
  umount2(path, MNT_DETACH);
fail:
  unlink(path);
  return -1;
}

int
cb_net_netns_remove(const char *path, struct cb_error **err)
{
  if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return cb_error_set(err, CB_E_SYS, errno, "unmount network namespace '%s'", path);
  if (unlink(path) < 0 && errno != ENOENT)
    return cb_error_set(err, CB_E_SYS, errno, "remove '%s'", path);
  return 0;
}

bool
cb_net_netns_exists(const char *path)
{
  struct statfs st;

  return statfs(path, &st) == 0 && st.f_type == NSFS_MAGIC;
}

/* ---- links ------------------------------------------------------------------------------- */

int
cb_net_bridge_ensure(const char *name, const char *cidr, struct cb_error **err)
{
  cb_autoclose int fd = -1;
  struct nlreq r;
  struct ifinfomsg *ifi;
  struct rtattr *info;
  struct in_addr a;
  unsigned char prefix;
  int e, index;

  if (parse_addr(cidr, &a, &prefix, err) < 0)
    return -1;
  if (if_nametoindex(name) != 0)
    return 0;
  if ((fd = nl_open(err)) < 0)
    return -1;
  ifi = nl_begin(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  nl_putstr(&r, IFLA_IFNAME, name);
  info = nl_nest(&r, IFLA_LINKINFO);
  nl_putstr(&r, IFLA_INFO_KIND, "bridge");
  nl_nest_end(&r, info);
  e = nl_talk(fd, &r);
  if (e == EEXIST)
    return 0; /* another cbuild made it first */
  if (e != 0)
    return cb_error_set(err, CB_E_SYS, e, "create bridge '%s'", name);
  index = (int)if_nametoindex(name);
  if (index == 0)
    return cb_error_set(err, CB_E_SYS, errno, "find bridge '%s'", name);
  if ((e = addr_add(fd, index, a, prefix)) != 0)
    return cb_error_set(err, CB_E_SYS, e, "add address '%s' to '%s'", cidr, name);
  if ((e = link_set(fd, index, IFF_UP, IFF_UP)) != 0)
    return cb_error_set(err, CB_E_SYS, e, "set '%s' up", name);
  return 1;
}

struct inner {
  const struct cb_net_veth *v;
  const char *ifname;
  struct in_addr addr, gw;
  unsigned char prefix;
};

/* Inside the container's namespace: address, up, default route on the inner end. */
static int
configure_inner(void *arg, struct cb_error **err)
{
  struct inner *in = arg;
  cb_autoclose int fd = nl_open(err);
  int index, e;

  if (fd < 0)
    return -1;
  index = (int)if_nametoindex(in->ifname);
  if (index == 0)
    return cb_error_set(err, CB_E_SYS, errno, "find '%s' in the container", in->ifname);
  if ((e = addr_add(fd, index, in->addr, in->prefix)) != 0)
    return cb_error_set(err, CB_E_SYS, e, "add address '%s' to '%s'", in->v->address, in->ifname);
  if ((e = link_set(fd, index, IFF_UP, IFF_UP)) != 0)
    return cb_error_set(err, CB_E_SYS, e, "set '%s' up", in->ifname);
  if (in->v->gateway != NULL && (e = route_default(fd, index, in->gw)) != 0)
    return cb_error_set(err, CB_E_SYS, e, "add the default route via '%s'", in->v->gateway);
  return 0;
}

int
cb_net_veth_add(const struct cb_net_veth *v, struct cb_error **err)
{
  cb_autoclose int fd = -1, nsfd = -1;
  struct inner in = { .v = v, .ifname = v->ifname != NULL ? v->ifname : "eth0" };
  struct nlreq r;
  struct ifinfomsg *ifi, *peer;
  struct rtattr *info, *data, *peerattr;
  unsigned master, m[6];
  unsigned char mac[6];
  int e;

  if (strlen(v->host_ifname) >= IFNAMSIZ || strlen(in.ifname) >= IFNAMSIZ)
    return cb_error_set(err, CB_E_INVALID, 0, "interface name '%s' is too long", v->host_ifname);
  if (parse_addr(v->address, &in.addr, &in.prefix, err) < 0)
    return -1;
  if (v->gateway != NULL && parse_addr(v->gateway, &in.gw, NULL, err) < 0)
    return -1;
  if (v->mac != NULL) {
    if (sscanf(v->mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
      return cb_error_set(err, CB_E_INVALID, 0, "invalid MAC address '%s'", v->mac);
    for (int i = 0; i < 6; i++)
      mac[i] = (unsigned char)m[i];
  }
  master = if_nametoindex(v->bridge);
  if (master == 0)
    return cb_error_set(err, CB_E_NOTFOUND, errno, "find bridge '%s'", v->bridge);
  nsfd = open(v->netns, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open network namespace '%s'", v->netns);
  if ((fd = nl_open(err)) < 0)
    return -1;

  ifi = nl_begin(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP; /* applied once the pair exists, as `ip link set up` would */
  ifi->ifi_change = IFF_UP;
  nl_putstr(&r, IFLA_IFNAME, v->host_ifname);
  nl_putu32(&r, IFLA_MASTER, master);
  if (v->mtu > 0)
    nl_putu32(&r, IFLA_MTU, v->mtu);
  info = nl_nest(&r, IFLA_LINKINFO);
  nl_putstr(&r, IFLA_INFO_KIND, "veth");
  data = nl_nest(&r, IFLA_INFO_DATA);
  peerattr = nl_nest(&r, VETH_INFO_PEER);
  peer = nl_tail(&r);
  memset(peer, 0, sizeof *peer);
  r.u.hdr.nlmsg_len += (uint32_t)NLMSG_ALIGN(sizeof *peer);
  peer->ifi_family = AF_UNSPEC;
  nl_putstr(&r, IFLA_IFNAME, in.ifname);
  nl_putu32(&r, IFLA_NET_NS_FD, (uint32_t)nsfd);
  if (v->mac != NULL)
    nl_put(&r, IFLA_ADDRESS, mac, sizeof mac);
  if (v->mtu > 0)
    nl_putu32(&r, IFLA_MTU, v->mtu);
  nl_nest_end(&r, peerattr);
  nl_nest_end(&r, data);
  nl_nest_end(&r, info);
  if ((e = nl_talk(fd, &r)) != 0)
    return cb_error_set(err, CB_E_SYS, e, "create veth pair '%s'", v->host_ifname);

  if (in_netns(nsfd, configure_inner, &in, err) < 0) {
    struct cb_error *ignored = NULL;
    cb_net_link_delete(v->host_ifname, &ignored);
    cb_error_free(&ignored);
    return -1;
  }
  return 0;
}

int
cb_net_link_delete(const char *name, struct cb_error **err)
{
  cb_autoclose int fd = -1;
  struct nlreq r;
  struct ifinfomsg *ifi;
  int e;

  if (if_nametoindex(name) == 0)
    return 0;
  if ((fd = nl_open(err)) < 0)
    return -1;
  ifi = nl_begin(&r, RTM_DELLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  nl_putstr(&r, IFLA_IFNAME, name);
  e = nl_talk(fd, &r);
  if (e != 0 && e != ENODEV)
    return cb_error_set(err, CB_E_SYS, e, "delete link '%s'", name);
  return 0;
}

bool
cb_net_link_exists(const char *name)
{
  return if_nametoindex(name) != 0;
}

int
cb_net_sysctl(const char *key, const char *value, struct cb_error **err)
{
  char path[256];
  cb_autoclose int fd = -1;
  size_t n = (size_t)snprintf(path, sizeof path, "/proc/sys/%s", key);

  if (n >= sizeof path || strstr(key, "..") != NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "invalid sysctl '%s'", key);
  /* dots separate levels, except in an interface name, which the slash form spells out */
  if (strchr(key, '/') == NULL)
    for (char *p = path + 10; *p != '\0'; p++)
      if (*p == '.')
        *p = '/';
  fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
  if (cb_write_all(fd, value, strlen(value)) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "write '%s'", path);
  return 0;
}
