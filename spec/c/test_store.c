/* Unit tests for core/src/store.c: layout creation, blobs, writers, tmp/ cleanup, lock, files. */
#include "cbuild/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

static char *root;

/* Number of entries in ROOT/SUB (not counting . and ..), -1 when it cannot be read. */
static int
count_entries(const char *sub)
{
  char path[4096];
  DIR *d;
  struct dirent *de;
  int n = 0;

  snprintf(path, sizeof path, "%s/%s", root, sub);
  d = opendir(path);
  if (d == NULL)
    return -1;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static char *
slurp(const char *sub)
{
  char path[4096], *out = NULL;
  struct cb_error *err = NULL;

  snprintf(path, sizeof path, "%s/%s", root, sub);
  if (cb__read_file_at(AT_FDCWD, path, &out, NULL, &err) < 0)
    cb_error_free(&err);
  return out;
}

static bool
is_dir(const char *sub)
{
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", root, sub);
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
test_create(void)
{
  struct cb_error *err = NULL;
  struct cb_store *s;
  char *txt, missing[4096];
  static const char *const dirs[] = { "blobs/sha256", "snapshots", "cache", "containers", "tmp" };

  s = cb_store_open(root, 0, &err);
  ok(s == NULL && err != NULL && strcmp(cb_error_code(err), "ENOENT") == 0,
     "an empty dir is not a store without CREATE: %s", err ? err->msg : "");
  cb_error_free(&err);
  snprintf(missing, sizeof missing, "%s/nope/deeper", root);
  s = cb_store_open(missing, 0, &err);
  ok(s == NULL && err != NULL && strcmp(cb_error_code(err), "ENOENT") == 0 &&
         strstr(err->msg, "nope") != NULL,
     "a missing dir is ENOENT: %s", err ? err->msg : "");
  cb_error_free(&err);

  s = cb_store_open(root, CB_STORE_CREATE, &err);
  ok(s != NULL, "create a store");
  txt = slurp("oci-layout");
  ok(txt && strcmp(txt, "{\"imageLayoutVersion\":\"1.0.0\"}") == 0, "oci-layout: %s", txt);
  free(txt);
  txt = slurp("index.json");
  ok(txt && strcmp(txt, "{\"schemaVersion\":2,\"manifests\":[]}") == 0, "index.json: %s", txt);
  free(txt);
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    ok(is_dir(dirs[i]), "%s/ exists", dirs[i]);
  ok(count_entries("tmp") == 0, "creation leaves nothing in tmp/");
  ok(cb_store_root(s)[0] == '/' && strcmp(cb_store_root(s), root) == 0, "root is absolute");
  ok(cb_store_root_fd(s) >= 0 && cb_store_tmp_fd(s) >= 0, "root and tmp fds");

  /* creation never clobbers: a changed index.json survives another CREATE open */
  ok(cb_store_write_file(s, "index.json", "{\"x\":1}", 7, &err) == 0, "rewrite index.json");
  cb_store_free(s);
  s = cb_store_open(root, CB_STORE_CREATE, &err);
  txt = slurp("index.json");
  ok(s != NULL && txt && strcmp(txt, "{\"x\":1}") == 0, "CREATE keeps an existing index.json");
  free(txt);
  cb_store_write_file(s, "index.json", "{\"schemaVersion\":2,\"manifests\":[]}", 35, &err);
  cb_store_free(s);
  s = cb_store_open(root, 0, &err);
  ok(s != NULL, "reopen without CREATE");
  cb_store_free(s);
  cb_store_free(NULL);
}

static void
test_blobs(struct cb_store *s)
{
  struct cb_error *err = NULL;
  struct cb_digest d, d2;
  uint64_t size = 0;
  char *data = NULL, *path;
  size_t len = 0;
  int fd;

  ok(cb_store_put(s, "hello", 5, &d, &err) == 0, "put");
  ok(cb_store_has_blob(s, &d, &size) == 1 && size == 5, "has after put, size 5");
  path = cb_store_blob_path(s, &d);
  ok(strstr(path,
            "/blobs/sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824") !=
             NULL &&
         path[0] == '/',
     "blob path: %s", path);
  free(path);
  ok(cb_store_read_blob(s, &d, &data, &len, &err) == 0 && len == 5 && memcmp(data, "hello", 5) == 0,
     "read the blob back");
  free(data);
  ok(cb_store_put(s, "hello", 5, &d2, &err) == 0 && cb_digest_equal(&d, &d2), "put again");
  ok(cb_store_put(s, "", 0, &d2, &err) == 0 && cb_store_has_blob(s, &d2, &size) && size == 0,
     "an empty blob");
  fd = cb_store_open_blob(s, &d, &err);
  ok(fd >= 0, "open_blob");
  close(fd);

  cb_sha256_buf("absent", 6, &d2);
  ok(cb_store_has_blob(s, &d2, NULL) == 0, "has is 0 for an absent blob");
  ok(cb_store_open_blob(s, &d2, &err) == -1 && err && err->kind == CB_E_NOTFOUND,
     "open_blob of an absent blob: %s", err ? err->msg : "");
  cb_error_free(&err);
  ok(cb_store_read_blob(s, &d2, &data, &len, &err) == -1 && err &&
         strcmp(cb_error_code(err), "ENOTFOUND") == 0,
     "read_blob of an absent blob is ENOTFOUND");
  cb_error_free(&err);

  /* verify re-hashes the file: corrupt it behind the store's back */
  ok(cb_store_verify_blob(s, &d, &err) == 0, "verify a good blob");
  path = cb_store_blob_path(s, &d);
  fd = open(path, O_WRONLY | O_TRUNC);
  ok(fd >= 0 && write(fd, "jello", 5) == 5, "corrupt the blob");
  close(fd);
  free(path);
  ok(cb_store_verify_blob(s, &d, &err) == -1 && err && err->kind == CB_E_DIGEST,
     "verify finds the corruption: %s", err ? err->msg : "");
  cb_error_free(&err);
  ok(cb_store_verify_blob(s, &d2, &err) == -1 && err && err->kind == CB_E_NOTFOUND,
     "verify of an absent blob is NOTFOUND");
  cb_error_free(&err);
  ok(cb_store_remove_blob(s, &d, &err) == 0 && cb_store_has_blob(s, &d, NULL) == 0, "remove");
  ok(cb_store_remove_blob(s, &d, &err) == 0, "removing an absent blob is fine");
}

static void
test_ingest(struct cb_store *s)
{
  struct cb_error *err = NULL;
  struct cb_digest good, bad, out;
  uint64_t size = 0;
  char src[4096];
  int fd, before = count_entries("blobs/sha256");

  snprintf(src, sizeof src, "%s-src", root);
  fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ok(fd >= 0, "create a source file");
  for (int i = 0; i < 1000; i++)
    if (write(fd, "0123456789abcdef", 16) != 16)
      break;
  close(fd);
  cb_sha256_buf("wrong", 5, &bad);

  ok(cb_store_ingest_file(s, src, &bad, &out, &size, &err) == -1 && err &&
         err->kind == CB_E_DIGEST && strcmp(cb_error_code(err), "EDIGEST") == 0,
     "ingest with a wrong expect: %s", err ? err->msg : "");
  cb_error_free(&err);
  ok(count_entries("blobs/sha256") == before, "nothing named after a mismatch");
  ok(count_entries("tmp") == 0, "nothing left in tmp/ after a mismatch");

  ok(cb_store_ingest_file(s, src, NULL, &good, &size, &err) == 0 && size == 16000,
     "ingest without expect");
  ok(cb_store_remove_blob(s, &good, &err) == 0, "and remove it");
  fd = open(src, O_RDONLY);
  ok(cb_store_ingest_fd(s, fd, &good, &out, &size, &err) == 0 && cb_digest_equal(&good, &out) &&
         cb_store_has_blob(s, &good, NULL) == 1,
     "ingest_fd with the right expect");
  close(fd);
  ok(count_entries("tmp") == 0, "nothing left in tmp/ after success");
  ok(cb_store_ingest_file(s, "/nonexistent/file", NULL, &out, &size, &err) == -1 && err &&
         strcmp(cb_error_code(err), "ENOENT") == 0,
     "ingest of a missing file is ENOENT");
  cb_error_free(&err);
  unlink(src);
}

static void
test_writer(struct cb_store *s)
{
  struct cb_error *err = NULL;
  struct cb_blob_writer *w;
  struct cb_digest d, want;
  uint64_t size = 0;
  int blobs = count_entries("blobs/sha256");

  w = cb_blob_writer_new(s, &err);
  ok(w != NULL && count_entries("tmp") == 1, "a writer has one temp file in tmp/");
  cb_blob_writer_write(w, "part", 4, &err);
  ok(cb_blob_writer_size(w) == 4, "size so far");
  cb_blob_writer_abort(w);
  ok(count_entries("tmp") == 0 && count_entries("blobs/sha256") == blobs,
     "abort leaves nothing behind");

  w = cb_blob_writer_new(s, &err);
  cb_blob_writer_write(w, "ab", 2, &err);
  cb_blob_writer_write(w, "c", 1, &err);
  cb_sha256_buf("abc", 3, &want);
  ok(cb_blob_writer_commit(w, &want, &d, &size, &err) == 0 && size == 3 &&
         cb_digest_equal(&d, &want),
     "streamed commit with expect");
  ok(count_entries("tmp") == 0, "commit leaves nothing in tmp/");

  /* a live writer's temp file survives another open; a dead one's does not */
  w = cb_blob_writer_new(s, &err);
  cb_blob_writer_write(w, "in progress", 11, &err);
  struct cb_store *other = cb_store_open(root, 0, &err);
  ok(other != NULL && count_entries("tmp") == 1, "a concurrent open keeps a live temp file");
  ok(cb_blob_writer_commit(w, NULL, &d, &size, &err) == 0 && size == 11,
     "and the writer commits afterwards");

  char path[4096];
  snprintf(path, sizeof path, "%s/tmp/blob-stale", root);
  int fd = open(path, O_WRONLY | O_CREAT, 0644);
  ok(fd >= 0 && write(fd, "junk", 4) == 4, "plant a stale temp file");
  close(fd);
  snprintf(path, sizeof path, "%s/tmp/scratch-dir", root);
  ok(mkdir(path, 0755) == 0, "and a directory");
  char name[32];
  int tfd = cb_store_tmp_open(other, name, sizeof name, &err);
  ok(tfd >= 0 && count_entries("tmp") == 3, "cb_store_tmp_open: %s", name);
  cb_store_free(other);
  other = cb_store_open(root, 0, &err);
  ok(other != NULL && count_entries("tmp") == 2 && is_dir("tmp/scratch-dir"),
     "reopen removes the stale file, keeps the directory and the flocked temp file");
  close(tfd); /* its creator dies without cleaning up */
  cb_store_free(other);
  other = cb_store_open(root, 0, &err);
  ok(other != NULL && count_entries("tmp") == 1, "once unlocked, it is stale too");
  cb_store_free(other);
  rmdir(path);
}

static void
test_lock(struct cb_store *s)
{
  struct cb_error *err = NULL;
  char path[4096];
  int probe;

  snprintf(path, sizeof path, "%s/lock", root);
  ok(cb_store_lock(s, &err) == 0, "lock");
  probe = open(path, O_RDWR);
  ok(probe >= 0 && flock(probe, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK,
     "another open file description cannot take the lock");
  ok(cb_store_lock(s, &err) == 0, "nested lock");
  cb_store_unlock(s);
  ok(flock(probe, LOCK_EX | LOCK_NB) == -1, "still held after one unlock");
  cb_store_unlock(s);
  ok(flock(probe, LOCK_EX | LOCK_NB) == 0, "released after the second unlock");
  cb_store_unlock(s); /* unbalanced: harmless */

  struct cb_store *other = cb_store_open(root, 0, &err);
  pid_t pid = fork();
  if (pid == 0) { /* the child's store must wait for the probe's lock */
    struct cb_error *e = NULL;
    int r = cb_store_lock(other, &e);
    cb_error_free(&e);
    cb_store_free(other);
    cb_store_free(s);
    free(root);
    _exit(r == 0 ? 0 : 1);
  }
  usleep(100000);
  int status = 0;
  ok(waitpid(pid, &status, WNOHANG) == 0, "a second store blocks on the lock");
  flock(probe, LOCK_UN);
  ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
     "and gets it once released");
  close(probe);
  cb_store_free(other);
}

static void
test_files(struct cb_store *s)
{
  struct cb_error *err = NULL;
  char *out = NULL;
  size_t len = 0;

  ok(cb_store_write_file(s, "containers/abc/state.json", "{\"a\":1}", 7, &err) == 0,
     "write a file in new directories");
  ok(cb_store_read_file(s, "containers/abc/state.json", &out, &len, &err) == 0 && len == 7 &&
         strcmp(out, "{\"a\":1}") == 0,
     "read it back");
  free(out);
  ok(cb_store_write_file(s, "containers/abc/state.json", "{}", 2, &err) == 0, "replace it");
  ok(cb_store_read_file(s, "containers/abc/state.json", &out, &len, &err) == 0 && len == 2,
     "the new content replaced the old");
  free(out);
  ok(count_entries("tmp") == 0 && count_entries("containers/abc") == 1,
     "no temp files beside or in tmp/");
  ok(cb_store_read_file(s, "containers/none", &out, &len, &err) == -1 && err &&
         strcmp(cb_error_code(err), "ENOENT") == 0,
     "reading a missing file is ENOENT");
  cb_error_free(&err);
  static const char *const unsafe[] = { "../escape", "/etc/passwd", "a/../../b", "", "x/.." };
  for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
    ok(cb_store_write_file(s, unsafe[i], "x", 1, &err) == -1 && err && err->kind == CB_E_UNSAFE,
       "refuse to write '%s'", unsafe[i]);
    cb_error_free(&err);
    ok(cb_store_read_file(s, unsafe[i], &out, &len, &err) == -1 && err && err->kind == CB_E_UNSAFE,
       "refuse to read '%s'", unsafe[i]);
    cb_error_free(&err);
  }
}

/* Many processes creating the same fresh store at once all succeed and agree on its files. */
static void
test_concurrent_create(void)
{
  char fresh[4096], *txt;
  pid_t pids[8];
  int good = 0;

  snprintf(fresh, sizeof fresh, "%s/fresh/store", root);
  for (int i = 0; i < 8; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      struct cb_error *e = NULL;
      struct cb_store *c = cb_store_open(fresh, CB_STORE_CREATE, &e);
      int r = c != NULL;
      cb_error_free(&e);
      cb_store_free(c);
      free(root);
      _exit(r ? 0 : 1);
    }
  }
  for (int i = 0; i < 8; i++) {
    int status = 0;
    if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      good++;
  }
  ok(good == 8, "8 concurrent CREATE opens all succeed (%d)", good);
  txt = slurp("fresh/store/index.json");
  ok(txt && strcmp(txt, "{\"schemaVersion\":2,\"manifests\":[]}") == 0, "index.json is whole");
  free(txt);
  txt = slurp("fresh/store/oci-layout");
  ok(txt && strcmp(txt, "{\"imageLayoutVersion\":\"1.0.0\"}") == 0, "oci-layout is whole");
  free(txt);
  ok(count_entries("fresh/store/tmp") == 0, "and tmp/ is empty");
}

/* A writer of the first LEN bytes of BUF (keeping marks when MARKS); the digest into *D. */
static bool
put_marked(struct cb_store *s, const char *buf, size_t len, bool marks, struct cb_digest *d)
{
  struct cb_error *err = NULL;
  struct cb_blob_writer *w = cb_blob_writer_new(s, &err);

  if (w == NULL)
    return false;
  if (marks)
    cb_blob_writer_keep_marks(w);
  for (size_t off = 0; off < len; off += 100000) /* odd pieces: marks fall inside them */
    if (cb_blob_writer_write(w, buf + off, len - off < 100000 ? len - off : 100000, &err) < 0) {
      cb_blob_writer_abort(w);
      cb_error_free(&err);
      return false;
    }
  if (cb_blob_writer_commit(w, NULL, d, NULL, &err) < 0) {
    cb_error_free(&err);
    return false;
  }
  return true;
}

/* A blob made of the first PREFIX bytes of blob SRC and then TAIL: its digest and the one the
 * same bytes get in one go agree. */
static bool
prefix_matches(struct cb_store *s, const struct cb_digest *src, const char *bytes, size_t prefix,
               const char *tail, size_t tlen)
{
  struct cb_error *err = NULL;
  struct cb_blob_writer *w = cb_blob_writer_new(s, &err);
  struct cb_digest got, want;
  char *all = malloc(prefix + tlen + 1);
  bool good;

  memcpy(all, bytes, prefix);
  memcpy(all + prefix, tail, tlen);
  cb_sha256_buf(all, prefix + tlen, &want);
  free(all);
  good = w != NULL && cb_blob_writer_copy_prefix(w, src, prefix, &err) == 0 &&
         cb_blob_writer_size(w) == prefix && cb_blob_writer_write(w, tail, tlen, &err) == 0;
  if (w != NULL && !good)
    cb_blob_writer_abort(w);
  else if (w != NULL && cb_blob_writer_commit(w, NULL, &got, NULL, &err) < 0)
    good = false;
  cb_error_free(&err);
  return good && cb_digest_equal(&got, &want) && cb_store_verify_blob(s, &got, NULL) == 0;
}

static void
test_copy_prefix(struct cb_store *s)
{
  size_t len = 9 * 1024 * 1024 + 777;
  char *buf = malloc(len), *tail = malloc(6 * 1024 * 1024);
  struct cb_digest marked, plain, other;
  struct cb_error *err = NULL;
  struct cb_blob_writer *w;
  char path[4096], hex[CB_DIGEST_HEX_LEN + 1];

  for (size_t i = 0; i < len; i++)
    buf[i] = (char)(i * 2654435761u >> 13);
  for (size_t i = 0; i < 6 * 1024 * 1024; i++)
    tail[i] = (char)(i * 40503u >> 7);
  ok(put_marked(s, buf, len, true, &marked), "a blob with marks");
  ok(put_marked(s, buf, len - 1, false, &plain), "a blob without");
  ok(prefix_matches(s, &marked, buf, 0, tail, 10), "prefix 0");
  ok(prefix_matches(s, &marked, buf, 1024 * 1024, tail, 10), "prefix on a mark");
  ok(prefix_matches(s, &marked, buf, 5 * 1024 * 1024 + 512, tail, 6 * 1024 * 1024),
     "prefix past a mark, a big tail hashed on the thread");
  ok(prefix_matches(s, &marked, buf, len, tail, 0), "the whole blob");
  ok(prefix_matches(s, &plain, buf, 3 * 1024 * 1024 + 5, tail, 100), "a blob without marks");
  /* marks that are not ours are ignored, never trusted */
  cb_digest_hex(&marked, hex, sizeof hex);
  snprintf(path, sizeof path, "%s/blobs/sha256/%s", root, hex);
  ok(setxattr(path, "user.cbuild.sha256-marks", "CBM1garbage", 11, 0) == 0 || errno == ENOTSUP,
     "garble the marks");
  ok(prefix_matches(s, &marked, buf, 4 * 1024 * 1024, tail, 100), "garbled marks are ignored");
  /* misuse and failures */
  w = cb_blob_writer_new(s, &err);
  ok(w != NULL && cb_blob_writer_copy_prefix(w, &marked, len + 1, &err) == -1 && err &&
         err->kind == CB_E_INVALID,
     "a prefix longer than the blob is CB_E_INVALID");
  cb_error_free(&err);
  cb_sha256_buf("absent", 6, &other);
  ok(cb_blob_writer_copy_prefix(w, &other, 1, &err) == -1 && err && err->kind == CB_E_NOTFOUND,
     "an absent blob is CB_E_NOTFOUND");
  cb_error_free(&err);
  ok(cb_blob_writer_write(w, "x", 1, &err) == 0 &&
         cb_blob_writer_copy_prefix(w, &marked, 1, &err) == -1 && err && err->kind == CB_E_INVALID,
     "a writer that is not empty is CB_E_INVALID");
  cb_error_free(&err);
  cb_blob_writer_abort(w);
  w = cb_blob_writer_new(s, &err);
  ok(w != NULL && cb_blob_writer_copy_prefix(w, &marked, len, &err) == 0 &&
         cb_blob_writer_write(w, tail, 6 * 1024 * 1024, &err) == 0,
     "a prefix still being copied in");
  cb_blob_writer_abort(w);
  ok(count_entries("tmp") == 0, "nothing left in tmp/");
  free(buf);
  free(tail);
}

int
main(void)
{
  struct cb_error *err = NULL;
  struct cb_store *s;

  root = tap_tmpdir("store");
  if (root == NULL)
    return 99;
  test_create();
  s = cb_store_open(root, 0, &err);
  if (!ok(s != NULL, "open the store"))
    return tap_done();
  test_blobs(s);
  test_ingest(s);
  test_writer(s);
  test_copy_prefix(s);
  test_lock(s);
  test_files(s);
  test_concurrent_create();
  cb_store_free(s);
  free(root);
  return tap_done();
}
