/* Unit tests for core/src/archive*.c: deterministic layers, reading back, copy, detect. */
#include "cbuild/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tap.h"

static char *tmp;

static bool
check(int r, struct cb_error **err, const char *what)
{
  if (r < 0)
    printf("# %s: %s\n", what, *err ? (*err)->msg : "?");
  cb_error_free(err);
  return r == 0;
}

static void
write_file(const char *path, const char *data)
{
  FILE *f = fopen(path, "w");
  fputs(data, f);
  fclose(f);
}

/* A layer with every kind of entry; returns its digest and size. */
static int
sample_layer(struct cb_store *s, struct cb_digest *d, uint64_t *size, struct cb_error **err)
{
  static const char cap[] = "\x01\x00\x00\x02\x00\x20\x00\x00";
  struct cb_tar_xattr x = { .name = "security.capability", .value = cap, .len = sizeof cap - 1 };
  char *src = NULL;
  char longname[300];
  struct cb_tar_writer *w = cb_tar_writer_new_layer(s, err);
  int r = 0;

  if (w == NULL)
    return -1;
  if (asprintf(&src, "%s/src.txt", tmp) < 0)
    abort();
  write_file(src, "from the host\n");
  memset(longname, 'l', sizeof longname);
  memcpy(longname, "usr/", 4);
  longname[sizeof longname - 1] = '\0';
  struct cb_tar_entry es[] = {
    { .name = "etc", .type = CB_TAR_DIR, .mode = 0755, .mtime = 1000 },
    { .name = "etc/hello",
      .type = CB_TAR_FILE,
      .mode = 0644,
      .uid = 1000,
      .gid = 100,
      .mtime = 1234567890,
      .src = CB_TAR_SRC_DATA,
      .data = "hello\n",
      .size = 6 },
    { .name = "/etc/host.txt",
      .type = CB_TAR_FILE,
      .mode = 0600,
      .src = CB_TAR_SRC_PATH,
      .src_path = src },
    { .name = "bin/ping", .type = CB_TAR_FILE, .mode = 04755, .xattrs = &x, .nxattrs = 1 },
    { .name = "./tmp/", .type = CB_TAR_DIR, .mode = 01777 },
    { .name = "etc/link", .type = CB_TAR_SYMLINK, .mode = 0777, .linkname = "hello" },
    { .name = "etc/hard", .type = CB_TAR_HARDLINK, .mode = 0644, .linkname = "etc/hello" },
    { .name = "dev/null", .type = CB_TAR_CHAR, .mode = 0666, .devmajor = 1, .devminor = 3 },
    { .name = "dev/loop0", .type = CB_TAR_BLOCK, .mode = 0660, .devmajor = 7, .devminor = 0 },
    { .name = "run/fifo", .type = CB_TAR_FIFO, .mode = 0600 },
    { .name = longname, .type = CB_TAR_FILE, .mode = 0644, .uid = 3000000, .gid = 3000000 },
  };
  for (size_t i = 0; i < sizeof es / sizeof es[0] && r == 0; i++)
    r = cb_tar_writer_add(w, &es[i], err);
  free(src);
  if (r < 0) {
    cb_tar_writer_abort(w);
    return -1;
  }
  return cb_tar_writer_finish(w, d, size, err);
}

static void
test_layer(struct cb_store *s)
{
  struct cb_error *err = NULL;
  struct cb_digest d1, d2, copyd;
  uint64_t n1, n2;
  char hex1[CB_DIGEST_STR_LEN], hex2[CB_DIGEST_STR_LEN];

  ok(check(sample_layer(s, &d1, &n1, &err), &err, "layer 1"), "layer with every entry type");
  sleep(1); /* nothing of the wall clock may reach the bytes */
  ok(check(sample_layer(s, &d2, &n2, &err), &err, "layer 2"), "same layer again");
  cb_digest_string(&d1, hex1, sizeof hex1);
  cb_digest_string(&d2, hex2, sizeof hex2);
  ok(strcmp(hex1, hex2) == 0 && n1 == n2, "same entries give the same digest (%s)", hex1);
  ok(n1 % 512 == 0, "size is whole tar blocks, no padding to 10240 (%llu)", (unsigned long long)n1);

  /* the stored bytes hash to the returned digest and are read back by libarchive as written */
  int fd = cb_store_open_blob(s, &d1, &err);
  ok(fd >= 0, "blob is in the store");
  struct cb_tar_reader *r = cb_tar_reader_open_fd(fd, &err);
  struct cb_tar_header h;
  int seen = 0, good = 0;
  while (r != NULL && cb_tar_reader_next(r, &h, &err) > 0) {
    seen++;
    if (strcmp(h.name, "etc/hello") == 0) {
      char buf[16] = { 0 };
      ssize_t got = cb_tar_reader_read(r, buf, sizeof buf, &err);
      good += h.type == CB_TAR_FILE && h.mode == 0644 && h.uid == 1000 && h.gid == 100 &&
              h.mtime == 1234567890 && got == 6 && strcmp(buf, "hello\n") == 0;
    } else if (strcmp(h.name, "etc/host.txt") == 0) {
      good += h.size == 14 && h.mode == 0600;
    } else if (strcmp(h.name, "bin/ping") == 0) {
      good += h.mode == 04755 && h.nxattrs == 1 &&
              strcmp(h.xattrs[0].name, "security.capability") == 0 && h.xattrs[0].len == 8;
    } else if (strcmp(h.name, "tmp/") == 0) {
      good += h.type == CB_TAR_DIR && h.mode == 01777;
    } else if (strcmp(h.name, "etc/link") == 0) {
      good += h.type == CB_TAR_SYMLINK && strcmp(h.linkname, "hello") == 0;
    } else if (strcmp(h.name, "etc/hard") == 0) {
      good += h.type == CB_TAR_HARDLINK && strcmp(h.linkname, "etc/hello") == 0;
    } else if (strcmp(h.name, "dev/null") == 0) {
      good += h.type == CB_TAR_CHAR && h.devmajor == 1 && h.devminor == 3;
    } else if (strcmp(h.name, "dev/loop0") == 0) {
      good += h.type == CB_TAR_BLOCK && h.devmajor == 7;
    } else if (strcmp(h.name, "run/fifo") == 0) {
      good += h.type == CB_TAR_FIFO;
    } else if (strncmp(h.name, "usr/lll", 7) == 0) {
      good += strlen(h.name) == 299 && h.uid == 3000000;
    } else if (strcmp(h.name, "etc/") == 0) {
      good += h.type == CB_TAR_DIR && h.mtime == 1000;
    }
  }
  ok(seen == 11 && good == 11, "read back %d entries, %d as written", seen, good);
  cb_tar_reader_close(r);
  cb_error_free(&err);

  /* no uname/gname, no LIBARCHIVE.xattr duplicates, no atime/ctime */
  char *path = cb_store_blob_path(s, &d1);
  char *cmd = NULL;
  if (asprintf(&cmd, "grep -c -a -e LIBARCHIVE -e atime -e ctime -e root %s >/dev/null", path) < 0)
    abort();
  ok(system(cmd) != 0, "no LIBARCHIVE.*, atime, ctime or user names in the bytes");
  free(cmd);
  if (asprintf(&cmd, "tar -tvf %s | grep -q '^-rwsr-xr-x 0/0 .* bin/ping$'", path) < 0)
    abort();
  ok(system(cmd) == 0, "GNU tar lists bin/ping as -rwsr-xr-x 0/0");
  free(cmd);

  /* copy the layer into another under a prefix */
  struct cb_tar_writer *w = cb_tar_writer_new_layer(s, &err);
  uint64_t count = 0;
  r = cb_tar_reader_open(path, &err);
  ok(r != NULL && w != NULL && check(cb_tar_copy(r, w, "/opt/x/", &count, &err), &err, "copy") &&
         check(cb_tar_writer_finish(w, &copyd, NULL, &err), &err, "finish"),
     "copy a layer under a prefix");
  cb_tar_reader_close(r);
  ok(count == 11, "copied 11 entries (%llu)", (unsigned long long)count);
  free(path);
  path = cb_store_blob_path(s, &copyd);
  if (asprintf(&cmd, "tar -tvf %s | grep -q ' opt/x/etc/hard link to opt/x/etc/hello$'", path) < 0)
    abort();
  ok(system(cmd) == 0, "hard link target gets the prefix too");
  free(cmd);
  free(path);
}

static void
test_utf8_names(struct cb_store *s)
{
  struct cb_error *err = NULL;
  struct cb_tar_writer *w = cb_tar_writer_new_layer(s, &err);
  struct cb_tar_entry e = { .name = "caf\xc3\xa9/na\xc3\xafve.txt", .type = CB_TAR_FILE };
  struct cb_digest d;
  char *path, *cmd = NULL;

  ok(w != NULL && check(cb_tar_writer_add(w, &e, &err), &err, "add") &&
         check(cb_tar_writer_finish(w, &d, NULL, &err), &err, "finish"),
     "layer with a UTF-8 name");
  path = cb_store_blob_path(s, &d);
  if (asprintf(&cmd,
               "! grep -a -q hdrcharset %s && tar -tf %s | grep -qx 'caf\xc3\xa9/na\xc3\xafve.txt'",
               path, path) < 0)
    abort();
  ok(system(cmd) == 0, "UTF-8 name as a PAX path, without hdrcharset=BINARY");
  free(cmd);
  free(path);
}

static void
test_writer_misuse(struct cb_store *s)
{
  struct cb_error *err = NULL;
  struct cb_tar_writer *w = cb_tar_writer_new_layer(s, &err);
  struct cb_tar_entry bad = { .name = "a/../../b", .type = CB_TAR_FILE };
  struct cb_tar_entry missing = {
    .name = "x", .type = CB_TAR_FILE, .src = CB_TAR_SRC_PATH, .src_path = "/nonexistent/x"
  };

  int r = cb_tar_writer_add(w, &bad, &err);
  ok(r < 0 && err->kind == CB_E_UNSAFE, "'..' is refused: %s", err ? err->msg : "");
  cb_error_free(&err);
  cb_tar_writer_abort(w);
  w = cb_tar_writer_new_layer(s, &err);
  r = cb_tar_writer_add(w, &missing, &err);
  ok(r < 0 && strcmp(cb_error_code(err), "ENOENT") == 0, "missing source is ENOENT: %s",
     err ? err->msg : "");
  cb_error_free(&err);
  cb_tar_writer_abort(w);
}

static void
test_detect(void)
{
  struct cb_error *err = NULL;
  const char *kind;
  char *cmd = NULL;
  static const char *cases[][2] = { { "t.tar", "tar" },           { "t.tar.gz", "gzip+tar" },
                                    { "t.tar.zst", "zstd+tar" },  { "t.tar.xz", "xz+tar" },
                                    { "t.tar.bz2", "bzip2+tar" }, { "notes.txt", NULL },
                                    { "notes.txt.gz", NULL },     { "empty", NULL } };

  if (asprintf(&cmd,
               "cd %s && mkdir -p d && echo hi > d/f && tar cf t.tar d && gzip -kn t.tar && "
               "zstd -q t.tar && xz -k t.tar && bzip2 -k t.tar && echo text > notes.txt && "
               "gzip -k notes.txt && : > empty",
               tmp) < 0)
    abort();
  ok(system(cmd) == 0, "made sample archives");
  free(cmd);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *p = NULL;
    if (asprintf(&p, "%s/%s", tmp, cases[i][0]) < 0)
      abort();
    int r = cb_tar_detect(p, &kind, &err);
    ok(r == 0 && (cases[i][1] ? kind && strcmp(kind, cases[i][1]) == 0 : kind == NULL),
       "detect %s -> %s (%s)", cases[i][0], cases[i][1] ? cases[i][1] : "nil", kind ? kind : "nil");
    cb_error_free(&err);
    free(p);
  }
  ok(cb_tar_detect("/nonexistent/x.tar", &kind, &err) < 0, "detect of a missing file fails");
  cb_error_free(&err);
}

int
main(void)
{
  struct cb_error *err = NULL;
  struct cb_store *s;
  char *root = NULL;

  tmp = tap_tmpdir("archive");
  if (asprintf(&root, "%s/store", tmp) < 0)
    abort();
  s = cb_store_open(root, CB_STORE_CREATE, &err);
  if (!ok(s != NULL, "open store")) {
    printf("# %s\n", err->msg);
    return tap_done();
  }
  test_layer(s);
  test_utf8_names(s);
  test_writer_misuse(s);
  test_detect();
  cb_store_free(s);
  free(root);
  free(tmp);
  return tap_done();
}
