/* Unit tests for layers from trees: an overlay upper dir, a tree diff, and the overlay-form
 * apply that turns such a layer back into an upper dir. */
#include "cbuild/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "archive-internal.h"
#include "tap.h"

static char *tmp;

static char *
path(const char *dir, const char *rel)
{
  static char buf[4][4096];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", dir, rel);
  return buf[i];
}

static void
put(const char *dir, const char *rel, const char *data)
{
  FILE *f = fopen(path(dir, rel), "w");
  if (f == NULL)
    abort();
  fputs(data, f);
  fclose(f);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  if (system(cmd) != 0)
    abort();
}

/* Write the layer into a tar file; returns its path (static) or NULL with *err. */
static const char *
write_tar(const char *name, const char *lower, const char *dir, const struct cb_layer_opts *o,
          struct cb_digest *d, struct cb_error **err)
{
  const char *out = path(tmp, name);
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  struct cb_tar_writer *w = cb_tar_writer_new_fd(fd, err);
  int r = lower ? cb_tar_add_diff(w, lower, dir, o, err) : cb_tar_add_dir(w, dir, o, err);
  if (r < 0) {
    cb_tar_writer_abort(w);
    close(fd);
    return NULL;
  }
  r = cb_tar_writer_finish(w, d, NULL, err);
  close(fd);
  return r < 0 ? NULL : out;
}

/* "name:type ..." of every entry, in order. */
static char *
listing(const char *tar)
{
  static const char *types = "?fdlhcbp";
  struct cb_error *err = NULL;
  struct cb_tar_reader *r = cb_tar_reader_open(tar, &err);
  struct cb_tar_header h;
  static char out[8192];
  size_t len = 0;

  out[0] = '\0';
  while (r != NULL && cb_tar_reader_next(r, &h, &err) > 0)
    len += (size_t)snprintf(out + len, sizeof out - len, "%s%s:%c%s%s", len ? " " : "", h.name,
                            types[h.type], h.linkname ? ">" : "", h.linkname ? h.linkname : "");
  cb_error_free(&err);
  cb_tar_reader_close(r);
  return out;
}

static void
test_upper(void)
{
  const char *const exclude[] = { "/proc", "./dev/console" };
  struct cb_layer_opts o = {
    .overlay = true, .clamp = true, .clamp_mtime = 1000000, .exclude = exclude, .nexclude = 2
  };
  char *up = path(tmp, "upper");
  char *back = NULL;
  struct cb_error *err = NULL;
  struct cb_digest d1, d2;
  const char *tar;
  struct stat st;
  char v[8];

  up = strdup(up);
  sh("mkdir -p %s/etc %s/usr/doc/x", up, up);
  sh("mkdir -p %s/proc/1 %s/dev && touch %s/dev/ok", up, up, up);
  sh("touch %s/dev/console %s/usr/doc/x/keep", up, up);
  put(up, "etc/passwd", "root\n");
  put(up, "b", "bee\n");
  link(path(up, "b"), path(up, "a-link"));
  symlink("passwd", path(up, "etc/pw"));
  mkfifo(path(up, "etc/fifo"), 0600);
  ok(mknod(path(up, "etc/gone"), S_IFCHR, makedev(0, 0)) == 0, "make a whiteout device");
  link(path(up, "etc/gone"), path(up, "etc/gone2")); /* overlay shares one whiteout inode */
  mknod(path(up, "etc/null"), S_IFCHR | 0666, makedev(1, 3));
  ok(setxattr(path(up, "usr/doc"), "trusted.overlay.opaque", "y", 1, 0) == 0, "mark opaque");
  setxattr(path(up, "etc"), "trusted.overlay.origin", "zz", 2, 0);
  ok(setxattr(path(up, "b"), "user.color", "blue", 4, 0) == 0, "set a user xattr");
  setxattr(path(up, "b"), "trusted.other", "no", 2, 0);

  tar = write_tar("upper.tar", NULL, up, &o, &d1, &err);
  ok(tar != NULL, "layer from an upper dir%s%s", err ? ": " : "", err ? err->msg : "");
  cb_error_free(&err);
  const char *want = "a-link:f b:h>a-link dev/:d dev/ok:f etc/:d etc/fifo:p etc/.wh.gone:f "
                     "etc/.wh.gone2:f etc/null:c etc/passwd:f etc/pw:l>passwd usr/:d usr/doc/:d "
                     "usr/doc/.wh..wh..opq:f usr/doc/x/:d usr/doc/x/keep:f";
  if (!ok(strcmp(listing(tar), want) == 0,
          "sorted, whiteouts, opaque marker, hard links, excluded"))
    printf("#  got: %s\n# want: %s\n", listing(tar), want);

  /* the first name (a-link) carries the content and the xattrs; trusted.* never goes in */
  {
    struct cb_tar_reader *r = cb_tar_reader_open(tar, &err);
    struct cb_tar_header h;
    bool seen = false;
    while (cb_tar_reader_next(r, &h, &err) > 0) {
      if (strcmp(h.name, "a-link") == 0)
        seen = h.size == 4 && h.nxattrs == 1 && strcmp(h.xattrs[0].name, "user.color") == 0 &&
               h.mtime <= 1000000;
      if (strcmp(h.name, "etc/") == 0)
        ok(h.nxattrs == 0, "no trusted.overlay.* xattr in the layer");
    }
    ok(seen, "content, user xattr and clamped mtime on the first name");
    cb_tar_reader_close(r);
  }

  /* overlay-form apply gives the upper dir back, and that gives the same bytes */
  if (asprintf(&back, "%s/back", tmp) < 0)
    abort();
  mkdir(back, 0755);
  {
    struct cb_tar_reader *r = cb_tar_reader_open(tar, &err);
    int ret = cb_tar_apply(r, back, CB_APPLY_OVERLAY, &err);
    ok(ret == 0, "overlay-form apply%s%s", err ? ": " : "", err ? err->msg : "");
    cb_error_free(&err);
    cb_tar_reader_close(r);
  }
  ok(lstat(path(back, "etc/gone"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0,
     "whiteout is a 0/0 char device");
  ok(getxattr(path(back, "usr/doc"), "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y',
     "opaque dir has trusted.overlay.opaque=y");
  ok(lstat(path(back, "etc/.wh.gone"), &st) < 0 && errno == ENOENT, "no .wh. file left");
  o.nexclude = 0;
  ok(write_tar("back.tar", NULL, back, &o, &d2, &err) != NULL, "layer from the applied dir");
  cb_error_free(&err);
  ok(memcmp(&d1, &d2, sizeof d1) == 0, "round trip gives identical bytes");

  /* same tree, same bytes */
  o.nexclude = 2;
  write_tar("again.tar", NULL, up, &o, &d2, &err);
  ok(memcmp(&d1, &d2, sizeof d1) == 0, "deterministic");

  free(up);
  free(back);
}

static void
test_diff(void)
{
  struct cb_layer_opts o = { 0 };
  char *lo = strdup(path(tmp, "lower")), *up = strdup(path(tmp, "up2"));
  struct cb_error *err = NULL;
  struct cb_digest d;
  const char *tar;

  sh("mkdir -p %s/etc %s/doc/sub %s/same/deep", lo, lo, lo);
  put(lo, "etc/passwd", "root\n");
  put(lo, "etc/group", "root\n");
  put(lo, "etc/hosts", "local\n");
  put(lo, "doc/a", "a");
  put(lo, "doc/sub/b", "b");
  put(lo, "same/deep/f", "f");
  put(lo, "file-to-dir", "x");
  sh("touch -d @1000 %s/etc/passwd %s/etc/group", lo, lo);
  sh("cp -a %s %s", lo, up); /* a copy: same metadata, nanoseconds too */
  /* the step */
  unlink(path(up, "etc/group"));
  put(up, "etc/passwd", "ROOT\n"); /* same size: content decides */
  sh("touch -d @1000 %s/etc/passwd", up);
  sh("rm -rf %s/doc && mkdir %s/doc", up, up);
  put(up, "doc/new", "n");
  put(up, "same/deep/g", "g");
  unlink(path(up, "file-to-dir"));
  mkdir(path(up, "file-to-dir"), 0755);
  put(up, "file-to-dir/in", "i");

  tar = write_tar("diff.tar", lo, up, &o, &d, &err);
  ok(tar != NULL, "layer from a diff%s%s", err ? ": " : "", err ? err->msg : "");
  cb_error_free(&err);
  const char *want = "doc/:d doc/.wh..wh..opq:f doc/new:f etc/:d etc/.wh.group:f etc/passwd:f "
                     "file-to-dir/:d file-to-dir/in:f same/:d same/deep/:d same/deep/g:f";
  if (!ok(tar && strcmp(listing(tar), want) == 0, "whiteouts, opaque dir, parents, changes only"))
    printf("#  got: %s\n# want: %s\n", tar ? listing(tar) : "", want);

  /* with since in the future, equal metadata is trusted: the same-size edit goes unseen */
  o.has_since = true;
  o.since = 4000000000;
  tar = write_tar("diff2.tar", lo, up, &o, &d, &err);
  ok(tar && strstr(listing(tar), "etc/passwd") == NULL, "since: untouched files not read");
  cb_error_free(&err);

  ok(write_tar("x.tar", "/nonexistent-lower", up, &o, &d, &err) == NULL && err &&
         err->kind == CB_E_SYS && err->errnum == ENOENT,
     "missing lower dir is ENOENT");
  cb_error_free(&err);
  free(lo);
  free(up);
}

/* An overlay upper whose directory was only copied up (same metadata as its lower) adds no
 * entry, unless something below it changed or it differs from the lower. */
static void
test_copied_up(void)
{
  char lower[4096], upper[4096];
  const char *lowers[1] = { lower };
  struct cb_layer_opts o = { .overlay = true, .lowers = lowers, .nlowers = 1 };
  struct cb_error *err = NULL;
  struct cb_digest d;
  const char *tar;

  snprintf(lower, sizeof lower, "%s/cu-lower", tmp);
  snprintf(upper, sizeof upper, "%s/cu-upper", tmp);
  sh("mkdir -p %s/etc %s/usr/lib && touch -d 2001-01-01 %s/etc %s/usr/lib %s/usr", lower, lower,
     lower, lower, lower);
  sh("mkdir -p %s && cp -a %s/etc %s/usr %s/", upper, lower, lower, upper);
  tar = write_tar("cu1.tar", NULL, upper, &o, &d, &err);
  ok(tar != NULL && strcmp(listing(tar), "") == 0, "unchanged copied-up dirs add nothing: '%s'",
     tar ? listing(tar) : err->msg);
  cb_error_free(&err);

  sh("touch %s/usr/lib/new && touch -d 2001-01-01 %s/usr/lib && chmod 700 %s/etc", upper, upper,
     upper);
  tar = write_tar("cu2.tar", NULL, upper, &o, &d, &err);
  ok(tar != NULL && strcmp(listing(tar), "etc/:d usr/:d usr/lib/:d usr/lib/new:f") == 0,
     "a changed dir and the parents of a new file are written: '%s'", tar ? listing(tar) : "");
  cb_error_free(&err);

  sh("rm -rf %s/etc && ln -s usr %s/etc && chmod 755 %s/etc && touch -d 2001-01-01 %s/etc", lower,
     lower, upper, upper);
  tar = write_tar("cu3.tar", NULL, upper, &o, &d, &err);
  ok(tar != NULL && strncmp(listing(tar), "etc/:d", 6) == 0,
     "a lower symlink is not followed: the dir counts as new: '%s'", tar ? listing(tar) : "");
  cb_error_free(&err);
}

int
main(void)
{
  if (geteuid() != 0) {
    printf("1..0 # SKIP needs root (whiteout devices, trusted xattrs)\n");
    return 77;
  }
  tmp = tap_tmpdir("snapshot");
  cb__apply_no_openat2 = true; /* valgrind does not know openat2 */
  test_upper();
  test_diff();
  test_copied_up();
  free(tmp);
  return tap_done();
}
