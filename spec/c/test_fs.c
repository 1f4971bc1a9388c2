/* Unit tests for core/src/fs.c: resolve_in_root confinement, rm_rf safety, file helpers. */
#include "cbuild/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static char *
path_join(const char *a, const char *b)
{
  size_t n = strlen(a) + strlen(b) + 2;
  char *s = malloc(n);
  snprintf(s, n, "%s/%s", a, b);
  return s;
}

static void
mkfile(const char *dir, const char *rel, const char *data)
{
  char *p = path_join(dir, rel);
  struct cb_error *err = NULL;
  if (cb_fs_write_file(p, data, strlen(data), 0644, 0, &err) < 0) {
    fprintf(stderr, "%s\n", err->msg);
    cb_error_free(&err);
  }
  free(p);
}

static void
mkdirs(const char *dir, const char *rel)
{
  char *p = path_join(dir, rel);
  struct cb_error *err = NULL;
  if (cb_fs_mkdir_p(p, 0755, &err) < 0)
    cb_error_free(&err);
  free(p);
}

static void
mklink(const char *dir, const char *rel, const char *target)
{
  char *p = path_join(dir, rel);
  if (symlink(target, p) < 0)
    perror("symlink");
  free(p);
}

/* resolve REL in ROOT and compare with ROOT/WANT (WANT NULL: expect failure with ERRNUM). */
static void
check_resolve(const char *root, const char *rel, unsigned flags, const char *want, int errnum)
{
  struct cb_error *err = NULL;
  char *got = cb_fs_resolve_in_root(root, rel, flags, &err);
  if (want == NULL) {
    ok(got == NULL && err != NULL && err->errnum == errnum, "resolve '%s' fails (%s)", rel,
       err ? err->msg : "no error");
  } else {
    char *exp = want[0] ? path_join(root, want) : strdup(root);
    ok(got != NULL && strcmp(got, exp) == 0, "resolve '%s'%s -> '%s' (got '%s'%s%s)", rel,
       flags ? " missing_ok" : "", want, got ? got : "NULL", err ? ": " : "", err ? err->msg : "");
    free(exp);
  }
  free(got);
  cb_error_free(&err);
}

static void
test_resolve(const char *base)
{
  char *root = path_join(base, "root");
  char *real;

  mkdirs(base, "root/etc");
  mkdirs(base, "root/usr/lib");
  mkdirs(base, "root/a/b/c");
  mkfile(base, "root/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  mkfile(base, "etc-outside", "outside\n");
  mklink(base, "root/abs", "/etc");                     /* absolute: must mean root/etc */
  mklink(base, "root/rel", "../../../../../../../etc"); /* climbs out: clamped at root */
  mklink(base, "root/usr/lib/up", "../../etc");         /* a relative link that stays inside */
  mklink(base, "root/loop", "loop");
  mklink(base, "root/var", "usr");
  mklink(base, "root/dangling", "/run/missing"); /* absolute, target missing */
  mklink(base, "root/a/b/c/esc", "../../../../../etc-outside");

  /* root itself is canonicalised by the kernel; compare against its real path */
  real = realpath(root, NULL);
  free(root);
  root = real;

  check_resolve(root, "/etc/passwd", 0, "etc/passwd", 0);
  check_resolve(root, "etc/passwd", 0, "etc/passwd", 0);
  check_resolve(root, "/", 0, "", 0);
  check_resolve(root, "", 0, "", 0);
  check_resolve(root, "/abs/passwd", 0, "etc/passwd", 0);
  check_resolve(root, "rel/passwd", 0, "etc/passwd", 0);
  check_resolve(root, "../../../../etc/passwd", 0, "etc/passwd", 0);
  check_resolve(root, "a/b/c/../../../../../../etc/passwd", 0, "etc/passwd", 0);
  check_resolve(root, "/usr/lib/up/passwd", 0, "etc/passwd", 0);
  check_resolve(root, "var/lib/up", 0, "etc", 0);
  check_resolve(root, "a/b/c/esc", 0, NULL, ENOENT); /* root/etc-outside does not exist */
  check_resolve(root, "loop", 0, NULL, ELOOP);
  check_resolve(root, "nothere/x", 0, NULL, ENOENT);
  check_resolve(root, "etc/passwd/x", 0, NULL, ENOTDIR);

  check_resolve(root, "nothere/x", CB_FS_RESOLVE_MISSING_OK, "nothere/x", 0);
  check_resolve(root, "/abs/new/file", CB_FS_RESOLVE_MISSING_OK, "etc/new/file", 0);
  check_resolve(root, "dangling/x", CB_FS_RESOLVE_MISSING_OK, "run/missing/x", 0);
  check_resolve(root, "dangling", CB_FS_RESOLVE_MISSING_OK, "run/missing", 0);
  check_resolve(root, "missing/../etc/passwd", CB_FS_RESOLVE_MISSING_OK, "etc/passwd", 0);
  check_resolve(root, "missing/../../../../x", CB_FS_RESOLVE_MISSING_OK, "x", 0);
  check_resolve(root, "m1/m2/../../abs/y", CB_FS_RESOLVE_MISSING_OK, "etc/y", 0);
  check_resolve(root, "a/b/c/esc", CB_FS_RESOLVE_MISSING_OK, "etc-outside", 0);
  check_resolve(root, "loop/x", CB_FS_RESOLVE_MISSING_OK, NULL, ELOOP);
  check_resolve(root, "etc/passwd/x", CB_FS_RESOLVE_MISSING_OK, NULL, ENOTDIR);

  {
    struct cb_error *err = NULL;
    char *missing = path_join(base, "no-root");
    char *r = cb_fs_resolve_in_root(missing, "x", 0, &err);
    ok(r == NULL && err != NULL && err->errnum == ENOENT, "a missing root is ENOENT");
    cb_error_free(&err);
    free(missing);
  }
  free(root);
}

static void
test_rm_rf(const char *base)
{
  struct cb_error *err = NULL;
  char *victim = path_join(base, "victim");
  char *keep = path_join(base, "keep/precious");
  char *link = path_join(base, "toplink");
  char *keepdir = path_join(base, "keep");
  char *locked = path_join(base, "victim/locked");

  mkdirs(base, "keep");
  mkfile(base, "keep/precious", "do not delete\n");
  mkdirs(base, "victim/sub/deeper");
  mkfile(base, "victim/sub/deeper/f", "x");
  mkfile(base, "victim/g", "y");
  mklink(base, "victim/sub/tokeep", keepdir);
  mklink(base, "victim/sub/tofile", keep);
  mkdirs(base, "victim/locked/inner");
  mkfile(base, "victim/locked/inner/z", "z");
  chmod(locked, 0);
  mklink(base, "toplink", keepdir);

  ok(cb_fs_rm_rf(victim, &err) == 0, "rm_rf a tree with symlinks out of it (%s)",
     err ? err->msg : "");
  cb_error_free(&err);
  ok(!cb_fs_exists(victim), "the tree is gone");
  ok(cb_fs_exists(keep), "the symlinks' targets are untouched");

  ok(cb_fs_rm_rf(link, &err) == 0, "rm_rf a symlink to a directory");
  cb_error_free(&err);
  ok(!cb_fs_exists(link) && cb_fs_exists(keep), "removes the link, not the target's contents");

  ok(cb_fs_rm_rf(victim, &err) == 0, "rm_rf a missing path is success");
  cb_error_free(&err);

  ok(cb_fs_rm_rf("/", &err) < 0 && err != NULL && err->kind == CB_E_UNSAFE, "refuses '/'");
  cb_error_free(&err);
  ok(cb_fs_rm_rf("/../", &err) < 0 && err != NULL && err->kind == CB_E_UNSAFE, "refuses '/../'");
  cb_error_free(&err);
  ok(cb_fs_rm_rf("", &err) < 0 && err != NULL && err->kind == CB_E_UNSAFE, "refuses ''");
  cb_error_free(&err);

  free(victim);
  free(keep);
  free(link);
  free(keepdir);
  free(locked);
}

/* In a private mount namespace, a tmpfs mounted inside the tree must stop rm_rf. */
static void
test_rm_rf_mount(const char *base)
{
  struct cb_error *err = NULL;
  char *tree = path_join(base, "mtree");
  char *mnt = path_join(base, "mtree/sub/mnt");
  char *inside = path_join(base, "mtree/sub/mnt/file");

  mkdirs(base, "mtree/sub/mnt");
  if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
    printf("# skip: cannot mount a tmpfs (%s)\n", strerror(errno));
    goto out;
  }
  mkfile(base, "mtree/sub/mnt/file", "on another mount");
  ok(cb_fs_rm_rf(tree, &err) < 0 && err != NULL && err->kind == CB_E_UNSAFE,
     "rm_rf refuses to cross into a mount (%s)", err ? err->msg : "");
  cb_error_free(&err);
  ok(cb_fs_exists(inside), "the mounted filesystem's file survives");
  umount2(mnt, MNT_DETACH);
  ok(cb_fs_rm_rf(tree, &err) == 0, "rm_rf works once unmounted");
  cb_error_free(&err);
out:
  free(tree);
  free(mnt);
  free(inside);
}

static void
test_files(const char *base)
{
  struct cb_error *err = NULL;
  char *f = path_join(base, "files/a.txt");
  char *g = path_join(base, "files/b.txt");
  char *dir = path_join(base, "files");
  char *data = NULL, **names = NULL, *tmp;
  size_t len = 0, n = 0;
  struct stat st;

  ok(cb_fs_mkdir_p(dir, 0755, &err) == 0, "mkdir_p");
  ok(cb_fs_mkdir_p(dir, 0755, &err) == 0, "mkdir_p an existing directory");
  ok(cb_fs_write_file(f, "abc", 3, 0640, CB_FS_WRITE_ATOMIC, &err) == 0, "atomic write_file");
  ok(stat(f, &st) == 0 && (st.st_mode & 07777) == 0640, "write_file sets the exact mode");
  ok(cb_fs_mkdir_p(f, 0755, &err) < 0 && err->errnum == ENOTDIR, "mkdir_p over a file fails");
  cb_error_free(&err);
  tmp = path_join(base, "deep/er/est/");
  ok(cb_fs_mkdir_p(tmp, 0755, &err) == 0 && stat(tmp, &st) == 0 && S_ISDIR(st.st_mode),
     "mkdir_p makes every missing parent (trailing slash too)");
  free(tmp);
  tmp = path_join(base, "files/a.txt/below");
  ok(cb_fs_mkdir_p(tmp, 0755, &err) < 0 && err->errnum == ENOTDIR, "mkdir_p below a file fails");
  cb_error_free(&err);
  free(tmp);
  ok(cb_fs_read_file(f, &data, &len, &err) == 0 && len == 3 && memcmp(data, "abc", 3) == 0,
     "read_file");
  free(data);
  ok(cb_fs_copy_file(f, g, -1, &err) == 0, "copy_file");
  ok(stat(g, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_size == 3,
     "copy_file keeps the source mode");
  ok(cb_fs_copy_file(f, g, 0600, &err) == 0 && stat(g, &st) == 0 && (st.st_mode & 07777) == 0600,
     "copy_file with an explicit mode");
  mkfile(base, "files/Z", "");
  mkfile(base, "files/_", "");
  ok(cb_fs_readdir(dir, &names, &n, &err) == 0 && n == 4 && strcmp(names[0], "Z") == 0 &&
         strcmp(names[1], "_") == 0 && strcmp(names[2], "a.txt") == 0 &&
         strcmp(names[3], "b.txt") == 0 && names[4] == NULL,
     "readdir is sorted by bytes");
  cb_fs_strv_free(names);
  ok(cb_fs_readdir(f, &names, &n, &err) < 0 && err->errnum == ENOTDIR, "readdir of a file");
  cb_error_free(&err);
  tmp = path_join(base, "t-");
  data = cb_fs_mkdtemp(tmp, &err);
  ok(data != NULL && stat(data, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
     "mkdtemp");
  free(data);
  free(tmp);
  ok(cb_fs_lstat("/nonexistent-cbuild", &st, &err) < 0 &&
         strcmp(err->msg, "lstat '/nonexistent-cbuild': No such file or directory") == 0,
     "failure messages name the call and the path");
  cb_error_free(&err);
  free(f);
  free(g);
  free(dir);
}

int
main(void)
{
  struct cb_error *err = NULL;
  char *base = tap_tmpdir("test_fs");
  if (base == NULL) {
    perror("tmpdir");
    return 1;
  }
  test_resolve(base);
  test_rm_rf(base);
  test_files(base);
  test_rm_rf_mount(base);
  cb_fs_rm_rf(base, &err);
  cb_error_free(&err);
  free(base);
  return tap_done();
}
