/* Unit tests for core/src/net.c on the real kernel (root only): a pinned namespace, a bridge,
 * a veth pair with an address and a default route inside, and a ping across the bridge. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cbuild/net.h"
#include "tap.h"

/* Run a shell command inside the namespace at path (fork, setns, sh -c); its exit status. */
static int
in_ns(const char *path, const char *cmd)
{
  int status = -1;
  pid_t pid = fork();

  if (pid == 0) {
    int fd = open(path, O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
      _exit(99);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(98);
  }
  if (pid < 0 || waitpid(pid, &status, 0) < 0)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
main(void)
{
  struct cb_error *err = NULL;
  char *dir, ns1[512], ns2[512], bridge[16], veth1[16], veth2[16];
  struct cb_net_veth v;
  int r;

  if (geteuid() != 0) {
    printf("1..0 # SKIP needs root\n");
    return 77;
  }
  dir = tap_tmpdir("net");
  snprintf(ns1, sizeof ns1, "%s/ns1", dir);
  snprintf(ns2, sizeof ns2, "%s/ns2", dir);
  snprintf(bridge, sizeof bridge, "cbt%d", (int)getpid() % 100000);
  snprintf(veth1, sizeof veth1, "cbt%da", (int)getpid() % 100000);
  snprintf(veth2, sizeof veth2, "cbt%db", (int)getpid() % 100000);

  ok(cb_net_netns_create(ns1, &err) == 0, "create a pinned namespace");
  ok(cb_net_netns_exists(ns1), "it reads as a network namespace");
  ok(!cb_net_netns_exists(dir), "a plain directory does not");
  ok(cb_net_netns_create(ns1, &err) < 0 && err != NULL, "creating it twice fails");
  cb_error_free(&err);
  ok(in_ns(ns1, "ip -o link show lo | grep -q 'state UNKNOWN\\|LOWER_UP'") == 0,
     "its loopback is up");
  ok(cb_net_netns_create(ns2, &err) == 0, "a second namespace");

  r = cb_net_bridge_ensure(bridge, "10.199.7.1/24", &err);
  ok(r == 1, "create a bridge (%d)", r);
  ok(cb_net_bridge_ensure(bridge, "10.199.7.1/24", &err) == 0, "ensure again: already there");
  ok(cb_net_link_exists(bridge), "the bridge exists");
  ok(cb_net_bridge_ensure(bridge, "10.199.7.1/33", &err) < 0 && err != NULL,
     "a bad prefix is refused");
  cb_error_free(&err);

  memset(&v, 0, sizeof v);
  v.netns = ns1;
  v.bridge = bridge;
  v.host_ifname = veth1;
  v.address = "10.199.7.2/24";
  v.gateway = "10.199.7.1";
  v.mac = "02:42:0a:c7:07:02";
  ok(cb_net_veth_add(&v, &err) == 0, "veth pair into the first namespace");
  if (err != NULL)
    printf("# %s\n", err->msg);
  cb_error_free(&err);
  ok(cb_net_link_exists(veth1), "its host end exists");
  ok(in_ns(ns1, "ip -o -4 addr show eth0 | grep -q 'inet 10.199.7.2/24'") == 0,
     "eth0 inside has the address");
  ok(in_ns(ns1, "ip -o link show eth0 | grep -q 'link/ether 02:42:0a:c7:07:02'") == 0,
     "and the MAC asked for");
  ok(in_ns(ns1, "ip route show default | grep -q 'via 10.199.7.1 dev eth0'") == 0,
     "the default route goes via the gateway");
  ok(in_ns(ns1, "ping -c1 -W2 10.199.7.1 >/dev/null 2>&1 || busybox ping -c1 -W2 10.199.7.1 "
                ">/dev/null") == 0,
     "the gateway answers a ping");

  v.netns = ns2;
  v.host_ifname = veth2;
  v.address = "10.199.7.3/24";
  v.mac = NULL;
  ok(cb_net_veth_add(&v, &err) == 0, "a second container on the bridge");
  ok(in_ns(ns2, "busybox ping -c1 -W2 10.199.7.2 >/dev/null") == 0, "which reaches the first");

  v.host_ifname = veth1; /* taken */
  v.address = "10.199.7.4/24";
  ok(cb_net_veth_add(&v, &err) < 0 && err != NULL, "a taken host name fails");
  cb_error_free(&err);
  v.host_ifname = "cbt-bad";
  v.address = "10.199.7.300/24";
  ok(cb_net_veth_add(&v, &err) < 0 && err != NULL && !cb_net_link_exists("cbt-bad"),
     "a bad address fails and leaves nothing");
  cb_error_free(&err);

  ok(cb_net_netns_remove(ns1, &err) == 0, "unpin the first namespace");
  ok(!cb_net_netns_exists(ns1) && access(ns1, F_OK) < 0, "its file is gone");
  ok(cb_net_netns_remove(ns1, &err) == 0, "removing it again is fine");
  /* the namespace dies asynchronously (its cleanup runs in a kernel worker) */
  for (int i = 0; i < 200 && cb_net_link_exists(veth1); i++)
    usleep(10000);
  ok(!cb_net_link_exists(veth1), "its veth pair went with it");
  ok(cb_net_link_delete(veth2, &err) == 0 && !cb_net_link_exists(veth2),
     "delete the second veth by its host end");
  ok(cb_net_link_delete(veth2, &err) == 0, "deleting a missing link is fine");
  ok(cb_net_netns_remove(ns2, &err) == 0, "unpin the second");
  ok(cb_net_link_delete(bridge, &err) == 0 && !cb_net_link_exists(bridge), "delete the bridge");
  cb_error_free(&err);
  rmdir(dir);
  free(dir);
  return tap_done();
}
