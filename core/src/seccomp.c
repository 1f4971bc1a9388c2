/*
 * core/src/seccomp.c: docker's seccomp profiles, compiled with libseccomp (see cbuild/seccomp.h).
 *
 * Both sources, the built-in default and a JSON profile, go through the same steps that moby's
 * setupSeccomp and runc take: pick the architectures (the native one and its archMap
 * sub-architectures), drop the rules whose includes/excludes do not match this machine and the
 * container's capabilities, then add each syscall name with its action and argument conditions.
 * The filter is exported as BPF once, so the child of a clone only calls seccomp(2).
 */
#include "cbuild/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cbuild/digest.h"
#include "util.h"

struct cb_seccomp {
  size_t len; /* instructions */
  struct sock_filter insns[];
};

#define CAP(n)   (UINT64_C(1) << (n))
#define COUNT(a) (sizeof(a) / sizeof *(a))

/* ---- docker's default profile (moby profiles/seccomp/default.json) ----------------------------
 */

static const char *const allow_always[] = {
  "accept",
  "accept4",
  "access",
  "adjtimex",
  "alarm",
  "bind",
  "brk",
  "capget",
  "capset",
  "chdir",
  "chmod",
  "chown",
  "chown32",
  "clock_adjtime",
  "clock_adjtime64",
  "clock_getres",
  "clock_getres_time64",
  "clock_gettime",
  "clock_gettime64",
  "clock_nanosleep",
  "clock_nanosleep_time64",
  "close",
  "close_range",
  "connect",
  "copy_file_range",
  "creat",
  "dup",
  "dup2",
  "dup3",
  "epoll_create",
  "epoll_create1",
  "epoll_ctl",
  "epoll_ctl_old",
  "epoll_pwait",
  "epoll_pwait2",
  "epoll_wait",
  "epoll_wait_old",
  "eventfd",
  "eventfd2",
  "execve",
  "execveat",
  "exit",
  "exit_group",
  "faccessat",
  "faccessat2",
  "fadvise64",
  "fadvise64_64",
  "fallocate",
  "fanotify_mark",
  "fchdir",
  "fchmod",
  "fchmodat",
  "fchown",
  "fchown32",
  "fchownat",
  "fcntl",
  "fcntl64",
  "fdatasync",
  "fgetxattr",
  "flistxattr",
  "flock",
  "fork",
  "fremovexattr",
  "fsetxattr",
  "fstat",
  "fstat64",
  "fstatat64",
  "fstatfs",
  "fstatfs64",
  "fsync",
  "ftruncate",
  "ftruncate64",
  "futex",
  "futex_time64",
  "futex_waitv",
  "futimesat",
  "getcpu",
  "getcwd",
  "getdents",
  "getdents64",
  "getegid",
  "getegid32",
  "geteuid",
  "geteuid32",
  "getgid",
  "getgid32",
  "getgroups",
  "getgroups32",
  "getitimer",
  "getpeername",
  "getpgid",
  "getpgrp",
  "getpid",
  "getppid",
  "getpriority",
  "getrandom",
  "getresgid",
  "getresgid32",
  "getresuid",
  "getresuid32",
  "getrlimit",
  "get_robust_list",
  "getrusage",
  "getsid",
  "getsockname",
  "getsockopt",
  "get_thread_area",
  "gettid",
  "gettimeofday",
  "getuid",
  "getuid32",
  "getxattr",
  "inotify_add_watch",
  "inotify_init",
  "inotify_init1",
  "inotify_rm_watch",
  "io_cancel",
  "ioctl",
  "io_destroy",
  "io_getevents",
  "io_pgetevents",
  "io_pgetevents_time64",
  "ioprio_get",
  "ioprio_set",
  "io_setup",
  "io_submit",
  "io_uring_enter",
  "io_uring_register",
  "io_uring_setup",
  "ipc",
  "kill",
  "landlock_add_rule",
  "landlock_create_ruleset",
  "landlock_restrict_self",
  "lchown",
  "lchown32",
  "lgetxattr",
  "link",
  "linkat",
  "listen",
  "listxattr",
  "llistxattr",
  "_llseek",
  "lremovexattr",
  "lseek",
  "lsetxattr",
  "lstat",
  "lstat64",
  "madvise",
  "membarrier",
  "memfd_create",
  "memfd_secret",
  "mincore",
  "mkdir",
  "mkdirat",
  "mknod",
  "mknodat",
  "mlock",
  "mlock2",
  "mlockall",
  "mmap",
  "mmap2",
  "mprotect",
  "mq_getsetattr",
  "mq_notify",
  "mq_open",
  "mq_timedreceive",
  "mq_timedreceive_time64",
  "mq_timedsend",
  "mq_timedsend_time64",
  "mq_unlink",
  "mremap",
  "msgctl",
  "msgget",
  "msgrcv",
  "msgsnd",
  "msync",
  "munlock",
  "munlockall",
  "munmap",
  "name_to_handle_at",
  "nanosleep",
  "newfstatat",
  "_newselect",
  "open",
  "openat",
  "openat2",
  "pause",
  "pidfd_open",
  "pidfd_send_signal",
  "pipe",
  "pipe2",
  "pkey_alloc",
  "pkey_free",
  "pkey_mprotect",
  "poll",
  "ppoll",
  "ppoll_time64",
  "prctl",
  "pread64",
  "preadv",
  "preadv2",
  "prlimit64",
  "process_mrelease",
  "pselect6",
  "pselect6_time64",
  "pwrite64",
  "pwritev",
  "pwritev2",
  "read",
  "readahead",
  "readlink",
  "readlinkat",
  "readv",
  "recv",
  "recvfrom",
  "recvmmsg",
  "recvmmsg_time64",
  "recvmsg",
  "remap_file_pages",
  "removexattr",
  "rename",
  "renameat",
  "renameat2",
  "restart_syscall",
  "rmdir",
  "rseq",
  "rt_sigaction",
  "rt_sigpending",
  "rt_sigprocmask",
  "rt_sigqueueinfo",
  "rt_sigreturn",
  "rt_sigsuspend",
  "rt_sigtimedwait",
  "rt_sigtimedwait_time64",
  "rt_tgsigqueueinfo",
  "sched_getaffinity",
  "sched_getattr",
  "sched_getparam",
  "sched_get_priority_max",
  "sched_get_priority_min",
  "sched_getscheduler",
  "sched_rr_get_interval",
  "sched_rr_get_interval_time64",
  "sched_setaffinity",
  "sched_setattr",
  "sched_setparam",
  "sched_setscheduler",
  "sched_yield",
  "seccomp",
  "select",
  "semctl",
  "semget",
  "semop",
  "semtimedop",
  "semtimedop_time64",
  "send",
  "sendfile",
  "sendfile64",
  "sendmmsg",
  "sendmsg",
  "sendto",
  "setfsgid",
  "setfsgid32",
  "setfsuid",
  "setfsuid32",
  "setgid",
  "setgid32",
  "setgroups",
  "setgroups32",
  "setitimer",
  "setpgid",
  "setpriority",
  "setregid",
  "setregid32",
  "setresgid",
  "setresgid32",
  "setresuid",
  "setresuid32",
  "setreuid",
  "setreuid32",
  "setrlimit",
  "set_robust_list",
  "setsid",
  "setsockopt",
  "set_thread_area",
  "set_tid_address",
  "setuid",
  "setuid32",
  "setxattr",
  "shmat",
  "shmctl",
  "shmdt",
  "shmget",
  "shutdown",
  "sigaltstack",
  "signalfd",
  "signalfd4",
  "sigprocmask",
  "sigreturn",
  "socketcall",
  "socketpair",
  "splice",
  "stat",
  "stat64",
  "statfs",
  "statfs64",
  "statx",
  "symlink",
  "symlinkat",
  "sync",
  "sync_file_range",
  "syncfs",
  "sysinfo",
  "tee",
  "tgkill",
  "time",
  "timer_create",
  "timer_delete",
  "timer_getoverrun",
  "timer_gettime",
  "timer_gettime64",
  "timer_settime",
  "timer_settime64",
  "timerfd_create",
  "timerfd_gettime",
  "timerfd_gettime64",
  "timerfd_settime",
  "timerfd_settime64",
  "times",
  "tkill",
  "truncate",
  "truncate64",
  "ugetrlimit",
  "umask",
  "uname",
  "unlink",
  "unlinkat",
  "utime",
  "utimensat",
  "utimensat_time64",
  "utimes",
  "vfork",
  "vmsplice",
  "wait4",
  "waitid",
  "waitpid",
  "write",
  "writev",
  /* docker allows these from kernel 4.8 on (the seccomp-bypass through ptrace was fixed there);
   * cbuild needs a newer kernel anyway (pidfds) */
  "process_vm_readv",
  "process_vm_writev",
  "ptrace",
#if defined(__x86_64__)
  "arch_prctl",
  "modify_ldt",
#elif defined(__aarch64__) || defined(__arm__)
  "arm_fadvise64_64",
  "arm_sync_file_range",
  "sync_file_range2",
  "breakpoint",
  "cacheflush",
  "set_tls",
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  "sync_file_range2",
  "swapcontext",
#elif defined(__s390x__)
  "s390_pci_mmio_read",
  "s390_pci_mmio_write",
  "s390_runtime_instr",
#elif defined(__riscv)
  "riscv_flush_icache",
#endif
};
static const char *const sys_admin[] = {
  "bpf",       "clone",           "clone3",         "fanotify_init", "fsconfig",      "fsmount",
  "fsopen",    "fspick",          "lookup_dcookie", "mount",         "mount_setattr", "move_mount",
  "open_tree", "perf_event_open", "quotactl",       "quotactl_fd",   "setdomainname", "sethostname",
  "setns",     "syslog",          "umount",         "umount2",       "unshare"
};
static const char *const socket_[] = { "socket" };
static const char *const personality[] = { "personality" };
static const char *const clone_[] = { "clone" };
static const char *const clone3[] = { "clone3" };
static const char *const dac_read_search[] = { "open_by_handle_at" };
static const char *const sys_boot[] = { "reboot" };
static const char *const sys_chroot[] = { "chroot" };
static const char *const sys_module[] = { "delete_module", "init_module", "finit_module" };
static const char *const sys_pacct[] = { "acct" };
static const char *const sys_ptrace[] = {
  "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"
};
static const char *const sys_rawio[] = { "iopl", "ioperm" };
static const char *const sys_time[] = { "settimeofday", "stime", "clock_settime",
                                        "clock_settime64" };
static const char *const sys_tty_config[] = { "vhangup" };
static const char *const sys_nice[] = { "get_mempolicy", "mbind", "set_mempolicy",
                                        "set_mempolicy_home_node" };
static const char *const syslog_[] = { "syslog" };
static const char *const bpf[] = { "bpf" };
static const char *const perfmon[] = { "perf_event_open" };

/* socket(AF_VSOCK, ...) is refused: the host's vsock is no container's business */
static const struct scmp_arg_cmp not_vsock[] = { { 0, SCMP_CMP_NE, 40, 0 } };
/* personality(2) only for PER_LINUX, PER_LINUX32, UNAME26 (and both), and the query 0xffffffff */
static const struct scmp_arg_cmp pers[][1] = { { { 0, SCMP_CMP_EQ, 0x0, 0 } },
                                               { { 0, SCMP_CMP_EQ, 0x8, 0 } },
                                               { { 0, SCMP_CMP_EQ, 0x20000, 0 } },
                                               { { 0, SCMP_CMP_EQ, 0x20008, 0 } },
                                               { { 0, SCMP_CMP_EQ, 0xffffffff, 0 } } };
/* clone(2) without CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (0x7e020000); the
 * flags are the first argument everywhere but on s390, where they are the second */
#if defined(__s390x__) || defined(__s390__)
static const struct scmp_arg_cmp no_ns_flags[] = { { 1, SCMP_CMP_MASKED_EQ, 0x7e020000, 0 } };
#else
static const struct scmp_arg_cmp no_ns_flags[] = { { 0, SCMP_CMP_MASKED_EQ, 0x7e020000, 0 } };
#endif

#define NO_CAP (-1)

struct def_rule {
  const char *const *names;
  size_t nnames;
  uint32_t action;
  const struct scmp_arg_cmp *args;
  unsigned nargs;
  int include_cap; /* the rule only with this capability */
  int exclude_cap; /* the rule only without it */
};

#define R(names, action, args, nargs, inc, exc)                                                    \
  {                                                                                                \
    names, COUNT(names), action, args, nargs, inc, exc                                             \
  }
static const struct def_rule default_rules[] = {
  R(allow_always, SCMP_ACT_ALLOW, NULL, 0, NO_CAP, NO_CAP),
  R(socket_, SCMP_ACT_ALLOW, not_vsock, 1, NO_CAP, NO_CAP),
  R(personality, SCMP_ACT_ALLOW, pers[0], 1, NO_CAP, NO_CAP),
  R(personality, SCMP_ACT_ALLOW, pers[1], 1, NO_CAP, NO_CAP),
  R(personality, SCMP_ACT_ALLOW, pers[2], 1, NO_CAP, NO_CAP),
  R(personality, SCMP_ACT_ALLOW, pers[3], 1, NO_CAP, NO_CAP),
  R(personality, SCMP_ACT_ALLOW, pers[4], 1, NO_CAP, NO_CAP),
  R(dac_read_search, SCMP_ACT_ALLOW, NULL, 0, CAP_DAC_READ_SEARCH, NO_CAP),
  R(sys_admin, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_ADMIN, NO_CAP),
  R(clone_, SCMP_ACT_ALLOW, no_ns_flags, 1, NO_CAP, CAP_SYS_ADMIN),
  /* clone3's flags live in memory seccomp cannot read: ENOSYS makes libc fall back to clone */
  R(clone3, SCMP_ACT_ERRNO(ENOSYS), NULL, 0, NO_CAP, CAP_SYS_ADMIN),
  R(sys_boot, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_BOOT, NO_CAP),
  R(sys_chroot, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_CHROOT, NO_CAP),
  R(sys_module, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_MODULE, NO_CAP),
  R(sys_pacct, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_PACCT, NO_CAP),
  R(sys_ptrace, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_PTRACE, NO_CAP),
  R(sys_rawio, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_RAWIO, NO_CAP),
  R(sys_time, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_TIME, NO_CAP),
  R(sys_tty_config, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_TTY_CONFIG, NO_CAP),
  R(sys_nice, SCMP_ACT_ALLOW, NULL, 0, CAP_SYS_NICE, NO_CAP),
  R(syslog_, SCMP_ACT_ALLOW, NULL, 0, CAP_SYSLOG, NO_CAP),
  R(bpf, SCMP_ACT_ALLOW, NULL, 0, CAP_BPF, NO_CAP),
  R(perfmon, SCMP_ACT_ALLOW, NULL, 0, CAP_PERFMON, NO_CAP),
};
#undef R

/* ---- building a filter -------------------------------------------------------------------- */

static void
release_ctx(scmp_filter_ctx *ctx)
{
  if (*ctx != NULL)
    seccomp_release(*ctx);
}
#define cb_autoctx __attribute__((cleanup(release_ctx)))

/* The filter with DEFACT for everything unmatched, on the native architecture and, on x86_64,
 * also i386 and x32 (docker's archMap).  NULL with *err. */
static scmp_filter_ctx
new_filter(uint32_t defact, struct cb_error **err)
{
  scmp_filter_ctx ctx = seccomp_init(defact);
  int rc;

  if (ctx == NULL) {
    cb_error_set(err, CB_E_INVALID, EINVAL, "seccomp: bad default action 0x%x", defact);
    return NULL;
  }
  /* we load the exported program ourselves, after setting no_new_privs */
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0 ||
      /* a binary search over syscall numbers instead of a list of ~400 compares */
      (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
    seccomp_release(ctx);
    cb_error_set(err, CB_E_SYS, -rc, "seccomp: set filter attributes");
    return NULL;
  }
  return ctx;
}

static int
add_arch(scmp_filter_ctx ctx, uint32_t arch, struct cb_error **err)
{
  int rc = seccomp_arch_add(ctx, arch);
  if (rc < 0 && rc != -EEXIST)
    return cb_error_set(err, CB_E_SYS, -rc, "seccomp: add architecture 0x%x", arch);
  return 0;
}

static int
default_arches(scmp_filter_ctx ctx, struct cb_error **err)
{
  switch (seccomp_arch_native()) {
  case SCMP_ARCH_X86_64:
    return add_arch(ctx, SCMP_ARCH_X86, err) < 0 ? -1 : add_arch(ctx, SCMP_ARCH_X32, err);
  case SCMP_ARCH_AARCH64:
    return add_arch(ctx, SCMP_ARCH_ARM, err);
  case SCMP_ARCH_S390X:
    return add_arch(ctx, SCMP_ARCH_S390, err);
  default:
    return 0;
  }
}

/* Whether two conditions test the same argument: libseccomp takes one test per argument in a
 * rule, so runc adds such conditions as separate rules (any of them matches). */
static bool
same_index(const struct scmp_arg_cmp *args, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    for (unsigned j = i + 1; j < n; j++)
      if (args[i].arg == args[j].arg)
        return true;
  return false;
}

/* Add ACTION for syscall NAME when ARGS (N of them) match.  Names libseccomp does not know on any
 * of the filter's architectures are skipped. */
static int
add_syscall(scmp_filter_ctx ctx, const char *name, uint32_t action, const struct scmp_arg_cmp *args,
            unsigned n, struct cb_error **err)
{
  int nr = seccomp_syscall_resolve_name(name);
  int rc = 0;

  if (nr == __NR_SCMP_ERROR)
    return 0;
  if (n > 1 && same_index(args, n)) {
    for (unsigned i = 0; i < n && rc == 0; i++)
      rc = seccomp_rule_add_array(ctx, action, nr, 1, &args[i]);
  } else {
    rc = seccomp_rule_add_array(ctx, action, nr, n, args);
  }
  if (rc < 0)
    return cb_error_set(err, CB_E_INVALID, -rc, "seccomp: add the rule for '%s'", name);
  return 0;
}

/* Export CTX as a BPF program. */
static struct cb_seccomp *export(scmp_filter_ctx ctx, struct cb_error **err)
{
  cb_autoclose int fd = memfd_create("cbuild-seccomp", MFD_CLOEXEC);
  struct cb_seccomp *f;
  struct stat st;
  ssize_t n;
  int rc;

  if (fd < 0) {
    cb_error_set(err, CB_E_SYS, errno, "seccomp: memfd_create");
    return NULL;
  }
  if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
    cb_error_set(err, CB_E_SYS, -rc, "seccomp: export the filter");
    return NULL;
  }
  if (fstat(fd, &st) < 0) {
    cb_error_set(err, CB_E_SYS, errno, "seccomp: stat the filter");
    return NULL;
  }
  if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
      (size_t)st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    cb_error_set(err, CB_E_INVALID, E2BIG, "seccomp: the filter has %lld bytes: too large",
                 (long long)st.st_size);
    return NULL;
  }
  f = cb__xmalloc(sizeof *f + (size_t)st.st_size);
  f->len = (size_t)st.st_size / sizeof(struct sock_filter);
  n = pread(fd, f->insns, (size_t)st.st_size, 0);
  if (n != (ssize_t)st.st_size) {
    cb_error_set(err, CB_E_SYS, n < 0 ? errno : EIO, "seccomp: read the filter back");
    free(f);
    return NULL;
  }
  return f;
}

static struct cb_seccomp *
copy_filter(const struct cb_seccomp *f)
{
  size_t size = sizeof *f + f->len * sizeof(struct sock_filter);
  struct cb_seccomp *c = cb__xmalloc(size);
  memcpy(c, f, size);
  return c;
}

static struct cb_seccomp *
compile_default(uint64_t caps, struct cb_error **err)
{
  cb_autoctx scmp_filter_ctx ctx = new_filter(SCMP_ACT_ERRNO(EPERM), err);

  if (ctx == NULL || default_arches(ctx, err) < 0)
    return NULL;
  for (size_t i = 0; i < COUNT(default_rules); i++) {
    const struct def_rule *r = &default_rules[i];
    if (r->include_cap != NO_CAP && !(caps & CAP(r->include_cap)))
      continue;
    if (r->exclude_cap != NO_CAP && (caps & CAP(r->exclude_cap)))
      continue;
    for (size_t j = 0; j < r->nnames; j++)
      if (add_syscall(ctx, r->names[j], r->action, r->args, r->nargs, err) < 0)
        return NULL;
  }
  return export(ctx, err);
}

struct cb_seccomp *
cb_seccomp_default(uint64_t caps, struct cb_error **err)
{
  return compile_default(caps, err);
}

/* ---- docker's JSON profile format --------------------------------------------------------- */

/* "SCMP_ARCH_X86_64" -> SCMP_ARCH_X86_64; 0 if unknown. */
static uint32_t
arch_token(const char *name)
{
  char buf[32];
  size_t n = 0;

  if (strncmp(name, "SCMP_ARCH_", 10) == 0)
    name += 10;
  for (; *name != '\0' && n < sizeof buf - 1; name++)
    buf[n++] = (char)(*name >= 'A' && *name <= 'Z' ? *name - 'A' + 'a' : *name);
  buf[n] = '\0';
  return seccomp_arch_resolve_name(buf);
}

/* docker's name of the native architecture (Go's GOARCH, as "includes"/"excludes" use it). */
static const char *
native_arch_name(void)
{
  switch (seccomp_arch_native()) {
  case SCMP_ARCH_X86_64:
    return "amd64";
  case SCMP_ARCH_X86:
    return "x86";
  case SCMP_ARCH_X32:
    return "x32";
  case SCMP_ARCH_AARCH64:
    return "arm64";
  case SCMP_ARCH_ARM:
    return "arm";
  case SCMP_ARCH_PPC64LE:
    return "ppc64le";
  case SCMP_ARCH_S390X:
    return "s390x";
  case SCMP_ARCH_RISCV64:
    return "riscv64";
  default:
    return "";
  }
}

/* A malformed profile: -1 with *err. */
#define json_fail(err, ...) cb_error_set(err, CB_E_INVALID, EINVAL, __VA_ARGS__)

/* "SCMP_ACT_ERRNO" and an errnoRet (may be NULL) -> the libseccomp action. */
static int
parse_action(json_t *name, json_t *errno_ret, uint32_t def_errno, uint32_t *out,
             struct cb_error **err)
{
  const char *s = json_string_value(name);
  uint32_t e = def_errno;

  if (s == NULL)
    return json_fail(err, "seccomp profile: %s must be a string", "action");
  if (errno_ret != NULL) {
    if (!json_is_integer(errno_ret) || json_integer_value(errno_ret) < 0 ||
        json_integer_value(errno_ret) > 4095)
      return json_fail(err, "seccomp profile: bad %s", "errnoRet");
    e = (uint32_t)json_integer_value(errno_ret);
  }
  if (strcmp(s, "SCMP_ACT_ALLOW") == 0)
    *out = SCMP_ACT_ALLOW;
  else if (strcmp(s, "SCMP_ACT_ERRNO") == 0)
    *out = SCMP_ACT_ERRNO(e);
  else if (strcmp(s, "SCMP_ACT_KILL") == 0 || strcmp(s, "SCMP_ACT_KILL_THREAD") == 0)
    *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp(s, "SCMP_ACT_KILL_PROCESS") == 0)
    *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp(s, "SCMP_ACT_TRAP") == 0)
    *out = SCMP_ACT_TRAP;
  else if (strcmp(s, "SCMP_ACT_TRACE") == 0)
    *out = SCMP_ACT_TRACE(e);
  else if (strcmp(s, "SCMP_ACT_LOG") == 0)
    *out = SCMP_ACT_LOG;
  else
    return json_fail(err, "seccomp profile: unsupported action '%s'", s);
  return 0;
}

static int
parse_op(const char *s, enum scmp_compare *op)
{
  static const struct {
    const char *name;
    enum scmp_compare op;
  } ops[] = { { "SCMP_CMP_NE", SCMP_CMP_NE },
              { "SCMP_CMP_LT", SCMP_CMP_LT },
              { "SCMP_CMP_LE", SCMP_CMP_LE },
              { "SCMP_CMP_EQ", SCMP_CMP_EQ },
              { "SCMP_CMP_GE", SCMP_CMP_GE },
              { "SCMP_CMP_GT", SCMP_CMP_GT },
              { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ } };

  for (size_t i = 0; s != NULL && i < COUNT(ops); i++)
    if (strcmp(s, ops[i].name) == 0) {
      *op = ops[i].op;
      return 0;
    }
  return -1;
}

/* JSON numbers above 2^63 arrive as reals from jansson: take them as unsigned 64-bit. */
static bool
json_u64(json_t *v, uint64_t *out)
{
  if (v == NULL) {
    *out = 0;
    return true;
  }
  if (json_is_integer(v)) {
    *out = (uint64_t)json_integer_value(v);
    return true;
  }
  if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 18446744073709551616.0) {
    *out = (uint64_t)json_real_value(v);
    return true;
  }
  return false;
}

#define MAX_ARGS 16

static int
parse_args(json_t *args, struct scmp_arg_cmp *out, unsigned *n, struct cb_error **err)
{
  size_t i;
  json_t *a;

  *n = 0;
  if (args == NULL || json_is_null(args))
    return 0;
  if (!json_is_array(args) || json_array_size(args) > MAX_ARGS)
    return json_fail(err, "seccomp profile: %s must be an array of at most 16", "args");
  json_array_foreach(args, i, a)
  {
    json_t *index = json_object_get(a, "index");
    uint64_t va, vb;
    enum scmp_compare op;

    if (!json_is_integer(index) || json_integer_value(index) < 0 || json_integer_value(index) > 5)
      return json_fail(err, "seccomp profile: %s must be 0 to 5", "args[].index");
    if (!json_u64(json_object_get(a, "value"), &va) ||
        !json_u64(json_object_get(a, "valueTwo"), &vb))
      return json_fail(err, "seccomp profile: bad %s", "args[].value");
    if (parse_op(json_string_value(json_object_get(a, "op")), &op) < 0)
      return json_fail(err, "seccomp profile: unknown %s", "args[].op");
    out[*n].arg = (unsigned)json_integer_value(index);
    out[*n].op = op;
    out[*n].datum_a = va;
    out[*n].datum_b = vb;
    (*n)++;
  }
  return 0;
}

/* Whether the running kernel is at least VERSION ("4.8"). */
static bool
kernel_at_least(const char *version)
{
  struct utsname u;
  unsigned want_major = 0, want_minor = 0, major = 0, minor = 0;

  if (sscanf(version, "%u.%u", &want_major, &want_minor) < 1 || uname(&u) < 0 ||
      sscanf(u.release, "%u.%u", &major, &minor) < 1)
    return false;
  return major > want_major || (major == want_major && minor >= want_minor);
}

static bool
in_strings(json_t *arr, const char *s)
{
  size_t i;
  json_t *v;

  json_array_foreach(arr, i, v)
  {
    const char *e = json_string_value(v);
    if (e != NULL && strcasecmp(e, s) == 0)
      return true;
  }
  return false;
}

/* Whether CAPS holds the capability named by V ("CAP_SYS_ADMIN"); unknown names never match. */
static bool
has_cap(json_t *v, uint64_t caps)
{
  const char *s = json_string_value(v);
  char buf[64];
  cap_value_t cap;
  size_t n = 0;

  if (s == NULL)
    return false;
  if (strncasecmp(s, "CAP_", 4) != 0) {
    memcpy(buf, "cap_", 4);
    n = 4;
  }
  for (; *s != '\0' && n < sizeof buf - 1; s++)
    buf[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
  buf[n] = '\0';
  return cap_from_name(buf, &cap) == 0 && cap >= 0 && cap < 64 && (caps & CAP(cap));
}

/* moby's setupSeccomp: whether a rule with INCLUDES and EXCLUDES applies here, for CAPS. */
static bool
rule_applies(json_t *includes, json_t *excludes, uint64_t caps)
{
  const char *arch = native_arch_name();
  json_t *v;
  size_t i;

  if (json_is_object(excludes)) {
    if (in_strings(json_object_get(excludes, "arches"), arch))
      return false;
    json_array_foreach(json_object_get(excludes, "caps"), i, v)
    {
      if (has_cap(v, caps))
        return false;
    }
    v = json_object_get(excludes, "minKernel");
    if (json_is_string(v) && kernel_at_least(json_string_value(v)))
      return false;
  }
  if (json_is_object(includes)) {
    v = json_object_get(includes, "arches");
    if (json_array_size(v) > 0 && !in_strings(v, arch))
      return false;
    json_array_foreach(json_object_get(includes, "caps"), i, v)
    {
      if (!has_cap(v, caps))
        return false;
    }
    v = json_object_get(includes, "minKernel");
    if (json_is_string(v) && !kernel_at_least(json_string_value(v)))
      return false;
  }
  return true;
}

static int
json_arches(scmp_filter_ctx ctx, json_t *doc, struct cb_error **err)
{
  uint32_t native = seccomp_arch_native();
  json_t *list = json_object_get(doc, "architectures"), *map = json_object_get(doc, "archMap");
  json_t *v;
  size_t i;

  json_array_foreach(list, i, v)
  {
    uint32_t a = json_is_string(v) ? arch_token(json_string_value(v)) : 0;
    if (a == 0)
      return json_fail(err, "seccomp profile: unknown architecture %s",
                       json_is_string(v) ? json_string_value(v) : "(not a string)");
    if (add_arch(ctx, a, err) < 0)
      return -1;
  }
  /* archMap: only the entry for this machine counts, with its sub-architectures */
  json_array_foreach(map, i, v)
  {
    json_t *sub = json_object_get(v, "subArchitectures"), *s;
    size_t j;
    const char *name = json_string_value(json_object_get(v, "architecture"));
    if (name == NULL || arch_token(name) != native)
      continue;
    json_array_foreach(sub, j, s)
    {
      uint32_t a = json_is_string(s) ? arch_token(json_string_value(s)) : 0;
      if (a == 0)
        return json_fail(err, "seccomp profile: unknown architecture %s",
                         json_is_string(s) ? json_string_value(s) : "(not a string)");
      if (add_arch(ctx, a, err) < 0)
        return -1;
    }
  }
  return 0;
}

static void
json_decref_p(json_t **p)
{
  json_decref(*p);
}

struct cb_seccomp *
cb_seccomp_from_json(const char *text, uint64_t caps, struct cb_error **err)
{
  __attribute__((cleanup(json_decref_p))) json_t *doc = NULL;
  cb_autoctx scmp_filter_ctx ctx = NULL;
  json_error_t jerr;
  json_t *call, *calls;
  uint32_t defact;
  size_t i;

  doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) {
    cb_error_set(err, CB_E_INVALID, EINVAL, "seccomp profile: line %d: %s", jerr.line, jerr.text);
    return NULL;
  }
  if (!json_is_object(doc)) {
    json_fail(err, "seccomp profile: %s", "not a JSON object");
    return NULL;
  }
  if (parse_action(json_object_get(doc, "defaultAction"), json_object_get(doc, "defaultErrnoRet"),
                   EPERM, &defact, err) < 0)
    return NULL;
  if ((ctx = new_filter(defact, err)) == NULL || json_arches(ctx, doc, err) < 0)
    return NULL;
  calls = json_object_get(doc, "syscalls");
  if (calls != NULL && !json_is_array(calls) && !json_is_null(calls)) {
    json_fail(err, "seccomp profile: %s must be an array", "syscalls");
    return NULL;
  }
  json_array_foreach(calls, i, call)
  {
    json_t *names = json_object_get(call, "names"), *name = json_object_get(call, "name"), *v;
    struct scmp_arg_cmp args[MAX_ARGS];
    unsigned nargs;
    uint32_t action;
    size_t j;

    if (!json_is_object(call)) {
      json_fail(err, "seccomp profile: %s must be objects", "syscalls");
      return NULL;
    }
    if (name != NULL && json_array_size(names) > 0) {
      json_fail(err, "seccomp profile: %s", "use either 'name' or 'names', not both");
      return NULL;
    }
    if (!rule_applies(json_object_get(call, "includes"), json_object_get(call, "excludes"), caps))
      continue;
    if (parse_action(json_object_get(call, "action"), json_object_get(call, "errnoRet"), EPERM,
                     &action, err) < 0 ||
        parse_args(json_object_get(call, "args"), args, &nargs, err) < 0)
      return NULL;
    if (action == defact) /* libseccomp refuses it, and it changes nothing (runc skips it) */
      continue;
    if (json_is_string(name) &&
        add_syscall(ctx, json_string_value(name), action, args, nargs, err) < 0)
      return NULL;
    json_array_foreach(names, j, v)
    {
      if (!json_is_string(v)) {
        json_fail(err, "seccomp profile: %s must be strings", "names");
        return NULL;
      }
      if (add_syscall(ctx, json_string_value(v), action, args, nargs, err) < 0)
        return NULL;
    }
  }
  return export(ctx, err);
}

/* ---- compiled once ------------------------------------------------------------------------ */

/* What a compiled program depends on: the profile, the capabilities, libseccomp's syscall tables
 * and the kernel (minKernel). */
static void
filter_key(enum cb_seccomp_mode mode, const char *profile, uint64_t caps, struct cb_digest *key)
{
  struct cb_sha256 h;
  struct utsname u;
  char head[64];
  int n = snprintf(head, sizeof head, "cbuild-seccomp 1 %d.%d.%d %d %" PRIx64, SCMP_VER_MAJOR,
                   SCMP_VER_MINOR, SCMP_VER_MICRO, (int)mode, caps);

  cb_sha256_init(&h);
  cb_sha256_update(&h, head, (size_t)n + 1);
  if (uname(&u) == 0) {
    cb_sha256_update(&h, u.release, strlen(u.release) + 1);
    cb_sha256_update(&h, u.machine, strlen(u.machine) + 1);
  }
  if (profile != NULL)
    cb_sha256_update(&h, profile, strlen(profile));
  cb_sha256_final(&h, key);
  cb_sha256_release(&h);
}

/* The program cached under DIR/NAME, or NULL (absent, unreadable or not a program). */
static struct cb_seccomp *
cache_load(const char *dir, const char *name)
{
  cb_autoclose int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cb_autofree char *data = NULL;
  struct cb_error *err = NULL;
  struct cb_seccomp *f;
  size_t len;

  if (dirfd < 0)
    return NULL;
  if (cb__read_file_at(dirfd, name, &data, &len, &err) < 0) {
    cb_error_free(&err);
    return NULL;
  }
  if (len == 0 || len % sizeof(struct sock_filter) != 0 ||
      len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return NULL;
  f = cb__xmalloc(sizeof *f + len);
  f->len = len / sizeof(struct sock_filter);
  memcpy(f->insns, data, len);
  return f;
}

/* Keep F under DIR/NAME for the next process; failing is harmless (it compiles again). */
static void
cache_store(const char *dir, const char *name, const struct cb_seccomp *f)
{
  cb_autoclose int dirfd = -1;
  struct cb_error *err = NULL;

  if (cb__mkdir_p_at(AT_FDCWD, dir, 0700, &err) < 0 ||
      (dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
      cb__atomic_write_at(dirfd, name, f->insns, f->len * sizeof(struct sock_filter), 0600, &err) <
          0)
    cb_error_free(&err);
}

struct cb_seccomp *
cb_seccomp_for(enum cb_seccomp_mode mode, const char *profile, uint64_t caps, const char *cache_dir,
               struct cb_error **err)
{
  /* a build runs many steps with the same profile and capabilities: compile each pair once */
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  static struct {
    struct cb_digest key;
    struct cb_seccomp *f;
  } memo[4];
  static size_t next;
  struct cb_seccomp *f = NULL;
  struct cb_digest key;
  char name[CB_DIGEST_HEX_LEN + 1];

  if (mode == CB_SECCOMP_UNCONFINED)
    return NULL;
  if (mode != CB_SECCOMP_DEFAULT && mode != CB_SECCOMP_PROFILE) {
    cb_error_set(err, CB_E_INVALID, EINVAL, "seccomp: unknown mode %d", (int)mode);
    return NULL;
  }
  if (mode == CB_SECCOMP_PROFILE && profile == NULL) {
    cb_error_set(err, CB_E_INVALID, EINVAL, "seccomp: no profile given");
    return NULL;
  }
  filter_key(mode, mode == CB_SECCOMP_PROFILE ? profile : NULL, caps, &key);
  cb_digest_hex(&key, name, sizeof name);
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < COUNT(memo) && f == NULL; i++)
    if (memo[i].f != NULL && cb_digest_equal(&memo[i].key, &key))
      f = copy_filter(memo[i].f);
  if (f == NULL && cache_dir != NULL)
    f = cache_load(cache_dir, name);
  if (f == NULL) {
    f = mode == CB_SECCOMP_DEFAULT ? compile_default(caps, err)
                                   : cb_seccomp_from_json(profile, caps, err);
    if (f != NULL && cache_dir != NULL)
      cache_store(cache_dir, name, f);
  }
  if (f != NULL) {
    free(memo[next].f);
    memo[next].key = key;
    memo[next].f = copy_filter(f);
    next = (next + 1) % COUNT(memo);
  }
  pthread_mutex_unlock(&lock);
  return f;
}

size_t
cb_seccomp_size(const struct cb_seccomp *f)
{
  return f->len;
}

int
cb_seccomp_load(const struct cb_seccomp *f)
{
  struct sock_fprog prog = { .len = (unsigned short)f->len,
                             .filter = (struct sock_filter *)f->insns };

  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
    return 0;
  if (errno != ENOSYS)
    return -1;
  /* the older interface: kernels before 3.17, and valgrind, which has no seccomp(2) */
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

void
cb_seccomp_free(struct cb_seccomp *f)
{
  free(f);
}
