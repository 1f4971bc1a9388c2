/* Sandbox and mount tests on the real kernel: a busybox rootfs in a temp dir, run as root. */
#include "cbuild/mount.h"
#include "cbuild/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

static char *rootfs;

struct result {
  bool ok;
  struct cb_sandbox_status st;
  char out[8192];
};

/* Run CFG with stdout and stderr into a pipe; fills R (exec_error is copied into out). */
static void
run(struct cb_sandbox_config *cfg, struct result *r)
{
  struct cb_error *err = NULL;
  struct cb_sandbox *sb;
  int p[2];
  size_t len = 0;
  ssize_t n;

  memset(r, 0, sizeof *r);
  if (pipe2(p, O_CLOEXEC) < 0)
    abort();
  cfg->rootfs = rootfs;
  cfg->stdio[1] = p[1];
  cfg->stdio[2] = p[1];
  sb = cb_sandbox_spawn(cfg, &err);
  close(p[1]);
  if (sb == NULL) {
    snprintf(r->out, sizeof r->out, "spawn: %s", err->msg);
    cb_error_free(&err);
    close(p[0]);
    return;
  }
  while ((n = cb_read_retry(p[0], r->out + len, sizeof r->out - 1 - len)) > 0)
    len += (size_t)n;
  r->out[len] = '\0';
  close(p[0]);
  r->ok = cb_sandbox_wait(sb, false, &r->st, &err) == 1;
  if (r->st.exec_error != NULL)
    snprintf(r->out, sizeof r->out, "%s", r->st.exec_error);
  r->st.exec_error = NULL; /* owned by sb */
  if (cb_sandbox_remove_stubs(sb, &err) < 0)
    r->ok = false;
  cb_error_free(&err);
  cb_sandbox_free(sb);
}

static void
sh(const char *script, struct result *r)
{
  struct cb_sandbox_config cfg;
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  cb_sandbox_config_init(&cfg);
  cfg.argv = argv;
  run(&cfg, r);
}

static bool
mounted_below(const char *dir)
{
  cb_autofree char *info = NULL;
  size_t len;
  if (cb__read_file_at(AT_FDCWD, "/proc/self/mountinfo", &info, &len, NULL) < 0)
    return true;
  return strstr(info, dir) != NULL;
}

static void
test_basics(void)
{
  struct result r;

  sh("echo hi", &r);
  ok(r.ok && r.st.exited && r.st.code == 0 && strcmp(r.out, "hi\n") == 0, "echo hi via a pipe (%s)",
     r.out);
  sh("exit 3", &r);
  ok(r.st.exited && r.st.code == 3 && r.st.signal == 0, "exit code 3");
  sh("echo $$; cat /proc/1/cmdline | tr '\\0' ' '", &r);
  ok(strcmp(r.out, "1\n/bin/sh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' ' ") == 0,
     "the command is PID 1 (%s)", r.out);
  sh("ps -o pid,comm > /tmp/ps; tr -s ' \n' '  ' < /tmp/ps", &r);
  ok(strncmp(r.out, "PID COMMAND 1 sh ", 17) == 0 && strstr(r.out, " ps ") != NULL &&
         strlen(r.out) < 30,
     "ps sees only the container: sh as PID 1, and ps (%s)", r.out);
  sh("echo x > /proc/sys/kernel/hostname", &r);
  ok(r.st.code != 0, "writing /proc/sys/kernel/hostname fails");
  sh("cat /proc/keys | wc -c; ls /proc/acpi | wc -l; touch /proc/acpi/x || echo ro", &r);
  ok(strncmp(r.out, "0\n0\n", 4) == 0 && strstr(r.out, "\nro\n") != NULL,
     "/proc/keys and /proc/acpi masked (%s)", r.out);
  sh("touch /sys/x 2>/dev/null || echo ro", &r);
  ok(strcmp(r.out, "ro\n") == 0, "/sys is read-only");
  sh("ls /dev | tr '\\n' ' '", &r);
  ok(strcmp(r.out, "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ") == 0,
     "/dev has only the minimal nodes (%s)", r.out);
  sh("echo abc > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/pts/ && test -L /dev/ptmx"
     " && echo ok",
     &r);
  ok(strcmp(r.out, "4\nptmx\nok\n") == 0, "/dev nodes work, devpts is a new instance (%s)", r.out);
  sh("cut -d' ' -f5 /proc/self/mountinfo | sort | tr '\\n' ' '", &r);
  ok(strcmp(r.out, "/ /dev /dev/full /dev/null /dev/pts /dev/random /dev/shm /dev/tty "
                   "/dev/urandom /dev/zero /proc /proc/acpi /proc/bus /proc/fs /proc/irq "
                   "/proc/kcore /proc/keys /proc/sys /proc/sysrq-trigger /proc/timer_list /sys "
                   "/sys/devices/virtual/powercap /sys/firmware ") == 0 ||
         (strstr(r.out, "/sys/fs/cgroup") == NULL && strstr(r.out, "/mnt") == NULL &&
          strncmp(r.out, "/ /dev ", 7) == 0),
     "only our mounts are visible (%s)", r.out);
  sh("grep -E '^Cap(Bnd|Eff|Inh|Amb)' /proc/self/status | tr -s '\\t\\n' '  '; "
     "grep NoNewPrivs /proc/self/status | tr -d '\\t'",
     &r);
  ok(strcmp(r.out, "CapInh: 0000000000000000 CapEff: 00000000a80425fb CapBnd: 00000000a80425fb "
                   "CapAmb: 0000000000000000 NoNewPrivs:1\n") == 0,
     "docker's default capabilities for root (%s)", r.out);
}

static void
test_kill(void)
{
  struct cb_sandbox_config cfg;
  struct cb_sandbox_status st;
  struct cb_error *err = NULL;
  const char *argv[] = { "sleep", "100", NULL };
  struct cb_sandbox *sb;

  cb_sandbox_config_init(&cfg);
  cfg.rootfs = rootfs;
  cfg.argv = argv;
  sb = cb_sandbox_spawn(&cfg, &err);
  ok(sb != NULL && cb_sandbox_pidfd(sb) >= 0 && cb_sandbox_pid(sb) > 0, "spawn sleep");
  if (sb == NULL)
    return;
  ok(cb_sandbox_wait(sb, true, &st, &err) == 0, "poll: still running");
  ok(cb_sandbox_kill(sb, SIGKILL, &err) == 0, "kill");
  ok(cb_sandbox_wait(sb, false, &st, &err) == 1 && !st.exited && st.signal == 9 && st.code == 137,
     "killed by signal 9");
  cb_sandbox_free(sb);
}

static void
test_identity(void)
{
  struct cb_sandbox_config cfg;
  struct result r;
  gid_t groups[] = { 65534 };
  const char *argv[] = {
    "sh", "-c", "id; hostname; pwd; grep CapEff /proc/self/status | tr -d '\\t'; echo $HOME", NULL
  };
  const char *env[] = { "PATH=/usr/bin:/bin", "HOME=/home", NULL };
  char path[4096];
  struct stat st;

  cb_sandbox_config_init(&cfg);
  cfg.argv = argv;
  cfg.env = env;
  cfg.uid = 65534;
  cfg.gid = 65534;
  cfg.groups = groups;
  cfg.ngroups = 1;
  cfg.hostname = "box";
  cfg.cwd = "/work/dir";
  run(&cfg, &r);
  ok(strcmp(r.out, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\nbox\n/work/dir\n"
                   "CapEff:0000000000000000\n/home\n") == 0,
     "uid/gid/groups, hostname, cwd, env (%s)", r.out);
  snprintf(path, sizeof path, "%s/work/dir", rootfs);
  ok(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "cwd created in the rootfs");
}

static void
test_exec_errors(void)
{
  struct cb_sandbox_config cfg;
  struct result r;
  const char *argv1[] = { "nosuchcmd", NULL };
  const char *argv2[] = { "/etc/passwd", NULL };
  const char *argv3[] = { "/nope", NULL };

  cb_sandbox_config_init(&cfg);
  cfg.argv = argv1;
  run(&cfg, &r);
  ok(r.ok && r.st.code == 127 &&
         strcmp(r.out, "exec: \"nosuchcmd\": executable file not found in $PATH") == 0,
     "missing command: 127 (%s)", r.out);
  cfg.argv = argv2;
  run(&cfg, &r);
  ok(r.st.code == 126 && strcmp(r.out, "exec: \"/etc/passwd\": permission denied") == 0,
     "not executable: 126 (%s)", r.out);
  cfg.argv = argv3;
  run(&cfg, &r);
  ok(r.st.code == 127 && strstr(r.out, "no such file") != NULL, "missing path: 127 (%s)", r.out);
}

static void
test_network(void)
{
  struct cb_sandbox_config cfg;
  struct result r;
  const char *argv[] = { "sh", "-c",
                         "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; "
                         "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags",
                         NULL };

  cb_sandbox_config_init(&cfg);
  cfg.argv = argv;
  run(&cfg, &r);
  ok(strcmp(r.out, "lo\nunknown\n0x9\n") == 0, "network none: only lo, and it is up (%s)", r.out);
  cfg.host_network = true;
  run(&cfg, &r);
  ok(strncmp(r.out, "lo\n", 3) != 0 || strchr(r.out + 3, '\n') != strrchr(r.out, '\n'),
     "host network sees the host's interfaces");
}

static void
test_mounts_and_stubs(const char *tmp)
{
  struct cb_sandbox_config cfg;
  struct cb_sandbox_mount mounts[2];
  struct result r;
  struct cb_error *err = NULL;
  struct cb_sandbox *sb;
  cb_autofree char *resolv = cb__xasprintf("%s/resolv.conf", tmp);
  cb_autofree char *hosts = cb__xasprintf("%s/hosts", tmp);
  cb_autofree char *data = cb__xasprintf("%s/data", tmp);
  cb_autofree char *stub = cb__xasprintf("%s/etc/resolv.conf", rootfs);
  cb_autofree char *mnt = cb__xasprintf("%s/mnt", rootfs);
  const char *argv[] = {
    "sh", "-c",
    "cat /etc/resolv.conf /etc/hosts /data/f; touch /data/g 2>/dev/null || echo ro; "
    "touch /scratch/x && stat -c %a /scratch",
    NULL
  };
  const char *const *stubs;
  int fd;

  fd = open(resolv, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ok(fd >= 0 && write(fd, "nameserver 127.0.0.53\n", 22) == 22, "write resolv.conf");
  close(fd);
  fd = open(hosts, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ok(fd >= 0 && write(fd, "127.0.0.1 localhost\n", 20) == 20, "write hosts");
  close(fd);
  mkdir(data, 0755);
  {
    cb_autofree char *f = cb__xasprintf("%s/f", data);
    fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ok(fd >= 0 && write(fd, "data\n", 5) == 5, "write data/f");
    close(fd);
  }

  cb_sandbox_config_init(&cfg);
  cfg.argv = argv;
  cfg.resolv_conf = resolv;
  cfg.hosts = hosts;
  memset(mounts, 0, sizeof mounts);
  mounts[0].type = CB_SANDBOX_BIND;
  mounts[0].source = data;
  mounts[0].target = "/data";
  mounts[0].readonly = true;
  mounts[1].type = CB_SANDBOX_TMPFS;
  mounts[1].target = "/mnt/scratch/../../scratch";
  mounts[1].size = 1 << 20;
  mounts[1].mode = 0700;
  cfg.mounts = mounts;
  cfg.nmounts = 2;
  run(&cfg, &r);
  ok(strcmp(r.out, "nameserver 127.0.0.53\n127.0.0.1 localhost\ndata\nro\n700\n") == 0,
     "etc files, ro bind and tmpfs (%s)", r.out);

  /* the stubs of a run stay until remove_stubs */
  cfg.rootfs = rootfs;
  cfg.stdio[1] = cfg.stdio[2] = -1;
  argv[2] = "true";
  sb = cb_sandbox_spawn(&cfg, &err);
  ok(sb != NULL, "spawn for stubs");
  if (sb == NULL)
    return;
  stubs = cb_sandbox_stubs(sb);
  {
    char list[512] = "";
    for (const char *const *s = stubs; *s != NULL; s++)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s ", *s);
    ok(strcmp(list, "/etc/resolv.conf /etc/hosts /data /scratch ") == 0, "stubs listed: %s", list);
  }
  ok(cb_sandbox_wait(sb, false, NULL, &err) == 1, "wait");
  ok(access(stub, F_OK) == 0, "stub exists after the run");
  ok(cb_sandbox_remove_stubs(sb, &err) == 0, "remove stubs");
  ok(access(stub, F_OK) < 0 && errno == ENOENT && access(mnt, F_OK) < 0,
     "stubs gone, and the path never created /mnt");
  cb_sandbox_free(sb);
}

static void
test_setup_error(void)
{
  struct cb_sandbox_config cfg;
  struct cb_sandbox_mount m = { .type = CB_SANDBOX_BIND, .source = "/nonexistent", .target = "/x" };
  struct cb_error *err = NULL;
  const char *argv[] = { "true", NULL };
  struct cb_sandbox *sb;
  const char *caps[] = { "CHOWN", "bogus" };

  cb_sandbox_config_init(&cfg);
  cfg.rootfs = rootfs;
  cfg.argv = argv;
  cfg.mounts = &m;
  cfg.nmounts = 1;
  sb = cb_sandbox_spawn(&cfg, &err);
  ok(sb == NULL && err != NULL && strstr(err->msg, "'/nonexistent'") != NULL &&
         strcmp(cb_error_code(err), "ENOENT") == 0,
     "setup failure is reported by spawn (%s)", err != NULL ? err->msg : "");
  cb_error_free(&err);

  /* a symlink in the image cannot point a mountpoint outside the rootfs */
  {
    cb_autofree char *link = cb__xasprintf("%s/etc/hostname", rootfs);
    cb_autofree char *outside = cb__xasprintf("%s/../escaped", rootfs);
    ok(symlink("../../../../../../escaped", link) == 0, "plant a dangling symlink");
    cfg.nmounts = 0;
    cfg.etc_hostname = "/etc/hostname";
    sb = cb_sandbox_spawn(&cfg, &err);
    ok(sb == NULL && err != NULL && strstr(err->msg, "mountpoint '/etc/hostname'") != NULL &&
           access(outside, F_OK) < 0,
       "a dangling symlink mountpoint is refused, nothing created outside (%s)",
       err != NULL ? err->msg : "");
    cb_error_free(&err);
    unlink(link);
    ok(symlink("../../../../../etc/passwd", link) == 0, "plant a symlink to the host's passwd");
    cfg.etc_hostname = "/etc/hosts";
    {
      struct result r;
      const char *cat[] = { "cat", "/etc/passwd", NULL };
      cfg.argv = cat;
      run(&cfg, &r);
      ok(strstr(r.out, "localhost") != NULL && strstr(r.out, "nobody") == NULL,
         "the symlink was followed inside the rootfs: hosts bound on its /etc/passwd (%s)", r.out);
      cfg.argv = argv;
    }
    unlink(link);
    cfg.etc_hostname = NULL;
  }
  cfg.caps = caps;
  cfg.ncaps = 2;
  sb = cb_sandbox_spawn(&cfg, &err);
  ok(sb == NULL && err != NULL && strstr(err->msg, "unknown capability 'bogus'") != NULL,
     "unknown capability");
  cb_error_free(&err);
}

static void
test_caps_list(void)
{
  struct cb_sandbox_config cfg;
  struct result r;
  const char *caps[] = { "CAP_CHOWN", "kill", "NET_BIND_SERVICE" };
  const char *argv[] = { "sh", "-c", "grep CapBnd /proc/self/status | tr -d '\\t'", NULL };

  cb_sandbox_config_init(&cfg);
  cfg.argv = argv;
  cfg.caps = caps;
  cfg.ncaps = 3;
  run(&cfg, &r);
  ok(strcmp(r.out, "CapBnd:0000000000000421\n") == 0, "a given capability list (%s)", r.out);
}

static void
test_overlay(const char *tmp)
{
  const char *names[] = { "l1", "l2", "upper", "work", "merged" };
  char *d[5];
  struct cb_error *err = NULL;
  struct cb_overlay o;
  struct stat st;
  char path[4096];
  int fd;

  for (int i = 0; i < 5; i++) {
    d[i] = cb__xasprintf("%s/ov/%s", tmp, names[i]);
    cb__mkdir_p_at(AT_FDCWD, d[i], 0755, NULL);
  }
  snprintf(path, sizeof path, "%s/a", d[0]);
  close(open(path, O_CREAT | O_WRONLY, 0644));
  snprintf(path, sizeof path, "%s/b", d[1]);
  close(open(path, O_CREAT | O_WRONLY, 0644));
  o.lower = (const char *const *)d;
  o.nlower = 2;
  o.upper = d[2];
  o.work = d[3];
  o.target = d[4];
  ok(cb_mount_is_mountpoint(d[4], &err) == 0, "not a mountpoint yet");
  ok(cb_mount_overlay(&o, &err) == 0, "mount overlay (%s)", err != NULL ? err->msg : "");
  cb_error_free(&err);
  ok(cb_mount_is_mountpoint(d[4], &err) == 1, "now a mountpoint");
  snprintf(path, sizeof path, "%s/a", d[4]);
  ok(access(path, F_OK) == 0, "lower 1 visible");
  snprintf(path, sizeof path, "%s/new", d[4]);
  fd = open(path, O_CREAT | O_WRONLY, 0644);
  ok(fd >= 0, "write in merged");
  close(fd);
  snprintf(path, sizeof path, "%s/b", d[4]);
  ok(unlink(path) == 0, "delete a lower file");
  snprintf(path, sizeof path, "%s/new", d[2]);
  ok(access(path, F_OK) == 0, "the write landed in upper");
  snprintf(path, sizeof path, "%s/b", d[2]);
  ok(lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
     "the delete left a whiteout char device 0/0");
  ok(cb_umount(d[4], 0, &err) == 0 && cb_mount_is_mountpoint(d[4], &err) == 0, "umount");
  ok(cb_mount_bind(d[0], d[4], CB_MOUNT_RDONLY, &err) == 0, "bind ro");
  snprintf(path, sizeof path, "%s/x", d[4]);
  ok(open(path, O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS, "ro bind refuses writes");
  ok(cb_umount(d[4], CB_UMOUNT_DETACH, &err) == 0, "umount detach");
  ok(cb_umount(d[4], 0, &err) < 0 && strstr(err->msg, "unmount") != NULL, "umount error");
  cb_error_free(&err);

  /* more lowers than one page of options: the fsconfig path */
  {
    enum { N = 120 };
    char *many[N];
    for (int i = 0; i < N; i++) {
      many[i] = cb__xasprintf("%s/ov/layers/a-rather-long-layer-directory-name-%03d", tmp, i);
      cb__mkdir_p_at(AT_FDCWD, many[i], 0755, NULL);
    }
    snprintf(path, sizeof path, "%s/deep", many[N - 1]);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    o.lower = (const char *const *)many;
    o.nlower = N;
    if (cb_mount_overlay(&o, &err) < 0 && err->errnum == ENOSYS) {
      ok(true, "# SKIP fsopen unavailable (valgrind?): %s", err->msg);
    } else {
      ok(err == NULL, "overlay with %d lowers (%s)", N, err != NULL ? err->msg : "");
      snprintf(path, sizeof path, "%s/deep", d[4]);
      ok(access(path, F_OK) == 0, "the bottom layer is visible");
    }
    cb_error_free(&err);
    cb_umount(d[4], 0, NULL);
    for (int i = 0; i < N; i++)
      free(many[i]);
  }
  for (int i = 0; i < 5; i++)
    free(d[i]);
}

static void
test_modes(void)
{
  struct cb_sandbox_config cfg;
  struct result r;
  const char *argv[] = { "sh", "-c", "touch /x 2>/dev/null || echo ro; touch /tmp/x && echo tmp",
                         NULL };
  const char *argv2[] = { "sh", "-c",
                          "grep CapBnd /proc/self/status | tr -d '\\t'; "
                          "grep NoNewPrivs /proc/self/status | tr -d '\\t'; "
                          "touch /sys/x 2>/dev/null || echo sys-ro",
                          NULL };
  struct cb_sandbox_mount tmpfs = { .type = CB_SANDBOX_TMPFS, .target = "/tmp" };

  cb_sandbox_config_init(&cfg);
  cfg.argv = argv;
  cfg.readonly_rootfs = true;
  cfg.mounts = &tmpfs;
  cfg.nmounts = 1;
  run(&cfg, &r);
  ok(strcmp(r.out, "ro\ntmp\n") == 0, "read-only rootfs with a writable tmpfs (%s)", r.out);
  cb_sandbox_config_init(&cfg);
  cfg.argv = argv2;
  cfg.privileged = true;
  run(&cfg, &r);
  ok(strncmp(r.out, "CapBnd:000001fffeffffff\nNoNewPrivs:0\nsys-ro\n", 40) == 0 ||
         (strstr(r.out, "a80425fb") == NULL && strstr(r.out, "NoNewPrivs:0") != NULL),
     "privileged keeps every capability and no_new_privs off (%s)", r.out);
}

static void
test_pty(void)
{
  struct cb_sandbox_config cfg;
  struct cb_sandbox_status st;
  struct cb_error *err = NULL;
  struct cb_sandbox *sb;
  const char *argv[] = { "sh", "-c", "test -t 0 && echo tty; cut -d' ' -f6,7 /proc/self/stat",
                         NULL };
  char buf[256];
  size_t len = 0;
  ssize_t n;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;

  ok(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "open a pty");
  slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  cb_sandbox_config_init(&cfg);
  cfg.rootfs = rootfs;
  cfg.argv = argv;
  cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = slave;
  cfg.ctty = true;
  sb = cb_sandbox_spawn(&cfg, &err);
  close(slave);
  ok(sb != NULL, "spawn on a pty (%s)", err != NULL ? err->msg : "");
  cb_error_free(&err);
  if (sb == NULL)
    return;
  ok(cb_sandbox_wait(sb, false, &st, &err) == 1 && st.code == 0, "wait");
  while (len < sizeof buf - 1 && (n = read(master, buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  /* "tty", then the session id (1: the init leads its session) and a non-zero tty_nr */
  ok(strncmp(buf, "tty\r\n1 ", 7) == 0 && strncmp(buf + 7, "0\r", 2) != 0,
     "the pty slave is the controlling terminal of a new session (%s)", buf);
  cb_sandbox_free(sb);
  close(master);
}

static void
test_speed(void)
{
  struct cb_sandbox_config cfg;
  struct cb_error *err = NULL;
  const char *argv[] = { "/bin/true", NULL };
  struct timespec a, b;
  enum { N = 50 };
  double ms;
  int good = 0;

  cb_sandbox_config_init(&cfg);
  cfg.rootfs = rootfs;
  cfg.argv = argv;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < N; i++) {
    struct cb_sandbox_status st;
    struct cb_sandbox *sb = cb_sandbox_spawn(&cfg, &err);
    if (sb != NULL && cb_sandbox_wait(sb, false, &st, &err) == 1 && st.code == 0)
      good++;
    cb_sandbox_free(sb);
    cb_error_free(&err);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  ms = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / N;
  printf("# %.2f ms per spawn+wait of true (network none)\n", ms);
  ok(good == N && ms < 100, "%d spawns of true, %.2f ms each", N, ms);
}

int
main(void)
{
  cb_autofree char *tmp = NULL;
  cb_autofree char *cmd = NULL;
  cb_autofree char *script = NULL;
  char *slash;

  if (geteuid() != 0) {
    printf("1..0 # SKIP needs root\n");
    return 77;
  }
  tmp = tap_tmpdir("sandbox");
  rootfs = cb__xasprintf("%s/rootfs", tmp);
  script = cb__xstrdup(__FILE__);
  slash = strrchr(script, '/');
  *slash = '\0';
  cmd = cb__xasprintf("sh %s/../fixtures/make-busybox-rootfs.sh '%s'", script, rootfs);
  if (system(cmd) != 0) {
    printf("1..0 # SKIP cannot make a busybox rootfs\n");
    return 77;
  }

  test_basics();
  test_kill();
  test_identity();
  test_exec_errors();
  test_network();
  test_mounts_and_stubs(tmp);
  test_setup_error();
  test_caps_list();
  test_overlay(tmp);
  test_modes();
  test_pty();
  test_speed();
  ok(!mounted_below(tmp), "no mount left below %s", tmp);
  free(rootfs);
  return tap_done();
}
