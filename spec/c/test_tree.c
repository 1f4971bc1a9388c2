/* Unit tests for core/src/tree.c and hashcache.c: walk and filter, tree digest, the saved
 * digest cache, and the entries written into a tar. */
#include "cbuild/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cbuild/fs.h"
#include "cbuild/store.h"
#include "tap.h"

static char *
join(const char *a, const char *b)
{
  size_t n = strlen(a) + strlen(b) + 2;
  char *s = malloc(n);
  snprintf(s, n, "%s/%s", a, b);
  return s;
}

static void
mkfile(const char *dir, const char *rel, const char *data)
{
  char *p = join(dir, rel);
  struct cb_error *err = NULL;
  if (cb_fs_write_file(p, data, strlen(data), 0644, 0, &err) < 0)
    cb_error_free(&err);
  free(p);
}

static void
mkdirs(const char *dir, const char *rel)
{
  char *p = join(dir, rel);
  struct cb_error *err = NULL;
  if (cb_fs_mkdir_p(p, 0755, &err) < 0)
    cb_error_free(&err);
  free(p);
}

/* Leave out "skip" (and what is below), keep "keep" only for what lies below "look". */
static int
filter(void *arg, const char *rel, bool is_dir, enum cb_tree_verdict *out, struct cb_error **err)
{
  int *calls = arg;
  (*calls)++;
  (void)err;
  if (strcmp(rel, "skip") == 0)
    *out = CB_TREE_SKIP;
  else if (strcmp(rel, "look") == 0 || strcmp(rel, "empty") == 0)
    *out = CB_TREE_LOOK;
  else if (strcmp(rel, "all") == 0)
    *out = CB_TREE_KEEP_ALL;
  else if ((strncmp(rel, "look/", 5) == 0 && strcmp(rel, "look/keep") != 0) ||
           strncmp(rel, "empty/", 6) == 0)
    *out = CB_TREE_SKIP;
  else if (strcmp(rel, "stop") == 0)
    return -1;
  else
    *out = CB_TREE_KEEP;
  (void)is_dir;
  return 0;
}

static void
test_walk(const char *dir)
{
  struct cb_error *err = NULL;
  struct cb_tree *t;
  int calls = 0;
  char *bad;

  mkdirs(dir, "skip/x");
  mkfile(dir, "skip/x/f", "s");
  mkdirs(dir, "look/other");
  mkfile(dir, "look/keep", "k");
  mkfile(dir, "look/other/f", "o");
  mkdirs(dir, "empty/sub");
  mkdirs(dir, "all/a/b");
  mkfile(dir, "all/a/b/f", "a");
  mkfile(dir, "top", "t");
  symlink("top", bad = join(dir, "link"));
  free(bad);

  t = cb_tree_walk(dir, filter, &calls, &err);
  ok(t != NULL, "walk with a filter");
  if (t == NULL) {
    cb_error_free(&err);
    return;
  }
  static const char *const want[] = { "",     "all",  "all/a",     "all/a/b", "all/a/b/f",
                                      "link", "look", "look/keep", "top" };
  bool same = cb_tree_count(t) == sizeof want / sizeof want[0];
  for (size_t i = 0; same && i < cb_tree_count(t); i++)
    same = strcmp(cb_tree_get(t, i)->rel, want[i]) == 0;
  ok(same, "kept entries in byte order, the root first; a looked-into dir only with content");
  ok(calls == 9, "the filter is not asked below a keep-all or skipped directory (%d calls)", calls);
  long li = cb_tree_find(t, "link");
  ok(li > 0 && strcmp(cb_tree_get(t, (size_t)li)->target, "top") == 0, "symlink target kept");
  ok(cb_tree_find(t, "skip") < 0 && cb_tree_find(t, "empty") < 0, "find misses left-out names");
  cb_tree_free(t);

  mkfile(dir, "stop", "x");
  t = cb_tree_walk(dir, filter, &calls, &err);
  ok(t == NULL && err != NULL && strstr(err->msg, "walk stopped") != NULL,
     "a failing filter stops the walk");
  cb_error_free(&err);
  unlink(bad = join(dir, "stop"));
  free(bad);
}

static void
test_digest_and_cache(const char *dir)
{
  struct cb_error *err = NULL;
  struct cb_hashcache *c = cb_hashcache_new(), *c2;
  struct cb_tree *t = cb_tree_walk(dir, NULL, NULL, &err);
  struct cb_digest d1, d2, d3;
  char *cache = join(dir, "../cache/hashes");
  struct stat st;

  ok(t != NULL && cb_tree_digest(t, c, 0, 0, &d1, &err) == 0, "digest a tree");
  ok(cb_hashcache_reads(c) == 5, "every file read once (%llu)",
     (unsigned long long)cb_hashcache_reads(c));
  ok(cb_tree_digest(t, c, 0, 0, &d2, &err) == 0 && cb_digest_equal(&d1, &d2) &&
         cb_hashcache_reads(c) == 5,
     "a second digest reads nothing");
  ok(cb_tree_digest(t, c, 1000, 0, &d3, &err) == 0 && !cb_digest_equal(&d1, &d3),
     "the owner to be written is covered");
  ok(cb_hashcache_save(c, cache, &err) == 0 && stat(cache, &st) == 0 &&
         (st.st_mode & 07777) == 0600,
     "save creates the file 0600 (fresh files are racy: not in it)");
  cb_hashcache_free(c);
  cb_tree_free(t);

  sleep(3); /* past the racy window */
  c = cb_hashcache_new();
  t = cb_tree_walk(dir, NULL, NULL, &err);
  ok(t != NULL && cb_hashcache_load(c, cache, &err) == 0 &&
         cb_tree_digest(t, c, 0, 0, &d2, &err) == 0 && cb_digest_equal(&d1, &d2),
     "load + digest");
  ok(cb_hashcache_save(c, cache, &err) == 0, "save again");
  cb_hashcache_free(c);
  c2 = cb_hashcache_new();
  ok(cb_hashcache_load(c2, cache, &err) == 0 && cb_tree_digest(t, c2, 0, 0, &d3, &err) == 0 &&
         cb_digest_equal(&d1, &d3) && cb_hashcache_reads(c2) == 0,
     "a saved cache spares every read");
  cb_hashcache_free(c2);
  cb_tree_free(t);
  free(cache);
}

static void
test_write(const char *dir, const char *out)
{
  struct cb_error *err = NULL;
  struct cb_tree *t = cb_tree_walk(dir, NULL, NULL, &err);
  int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  struct cb_tar_writer *w = cb_tar_writer_new_fd(fd, &err);
  struct cb_tree_write_opts o = { .prefix = "data", .uid = 7, .gid = 8, .chmod = -1, .epoch = 5 };
  struct cb_tar_reader *r;
  struct cb_tar_header h;
  char names[512] = "";
  bool owners = true, clamped = true;

  ok(t != NULL && w != NULL && cb_tree_write(t, w, &o, &err) == 0 &&
         cb_tar_writer_finish(w, NULL, NULL, &err) == 0,
     "write a tree");
  close(fd);
  r = cb_tar_reader_open(out, &err);
  while (r != NULL && cb_tar_reader_next(r, &h, &err) == 1) {
    strcat(names, h.name);
    strcat(names, " ");
    owners = owners && h.uid == 7 && h.gid == 8;
    clamped = clamped && h.mtime == 5;
  }
  cb_tar_reader_close(r);
  ok(strcmp(names, "data/all/ data/all/a/ data/all/a/b/ data/all/a/b/f data/empty/ "
                   "data/empty/sub/ data/link data/look/ data/look/keep data/look/other/ "
                   "data/look/other/f data/skip/ data/skip/x/ data/skip/x/f data/top ") == 0,
     "entries under the prefix, in tar order, without the root: %s", names);
  ok(owners && clamped, "owner and mtime clamp applied");
  cb_tree_free(t);
  cb_error_free(&err);
}

/* Write DIR's tree as a layer indexed at INDEX; *reused gets the entries taken from before. */
static int
indexed_layer(struct cb_store *s, const char *dir, const char *index, struct cb_digest *out,
              uint64_t *reused)
{
  struct cb_error *err = NULL;
  struct cb_hashcache *c = cb_hashcache_new();
  struct cb_tree *t = cb_tree_walk(dir, NULL, NULL, &err);
  struct cb_digest d;
  struct cb_tar_writer *w = NULL;
  struct cb_tree_write_opts o = { .prefix = "data", .chmod = -1, .epoch = -1 };
  int ret = -1;

  if (t != NULL && cb_tree_digest(t, c, 0, 0, &d, &err) == 0 &&
      (w = index ? cb_tar_writer_new_layer_indexed(s, index, &err)
                 : cb_tar_writer_new_layer(s, &err)) != NULL &&
      cb_tree_write(t, w, &o, &err) == 0) {
    *reused = cb_tar_writer_reused(w);
    ret = cb_tar_writer_finish(w, out, NULL, &err); /* consumes w */
    w = NULL;
  }
  cb_tar_writer_abort(w);
  cb_tree_free(t);
  cb_hashcache_free(c);
  cb_error_free(&err);
  return ret;
}

static void
test_indexed(const char *base, const char *dir)
{
  struct cb_error *err = NULL;
  char *root = join(base, "store"), *index = join(base, "index/layer");
  struct cb_store *s = cb_store_open(root, CB_STORE_CREATE, &err);
  struct cb_digest d1, d2, plain;
  uint64_t r1 = 99, r2 = 0, r3 = 0;

  ok(s != NULL && indexed_layer(s, dir, index, &d1, &r1) == 0 && r1 == 0,
     "an indexed layer with no earlier one");
  mkfile(dir, "top", "a changed top file");
  ok(indexed_layer(s, dir, index, &d2, &r2) == 0 && !cb_digest_equal(&d1, &d2),
     "the next one after a change");
  ok(r2 == 14, "every entry but the changed one is taken from the earlier layer (%llu)",
     (unsigned long long)r2);
  ok(indexed_layer(s, dir, NULL, &plain, &r3) == 0 && cb_digest_equal(&plain, &d2),
     "the same bytes as a layer written afresh");
  cb_store_free(s);
  cb_error_free(&err);
  free(root);
  free(index);
}

/* More directories than the walk leaves pending (64), nested: every entry once, in order. */
static void
test_many_dirs(const char *base)
{
  char *dir = join(base, "many"), rel[64];
  struct cb_error *err = NULL;
  struct cb_tree *t;
  bool sorted = true, found = true;

  for (int i = 0; i < 100; i++) {
    for (int j = 0; j < 3; j++) {
      snprintf(rel, sizeof rel, "d%03d/s%d/f", i, j);
      mkdirs(dir, rel);
      snprintf(rel, sizeof rel, "d%03d/s%d/f/x", i, j);
      mkfile(dir, rel, "x");
    }
  }
  t = cb_tree_walk(dir, NULL, NULL, &err);
  ok(t != NULL && cb_tree_count(t) == 1 + 100 * (1 + 3 * 3), "every entry of 100 directories (%zu)",
     t ? cb_tree_count(t) : 0);
  for (size_t i = 1; t != NULL && i < cb_tree_count(t); i++)
    sorted = sorted && strcmp(cb_tree_get(t, i - 1)->rel, cb_tree_get(t, i)->rel) < 0;
  for (int i = 0; t != NULL && i < 100; i++) {
    snprintf(rel, sizeof rel, "d%03d/s2/f/x", i);
    found = found && cb_tree_find(t, rel) >= 0;
  }
  ok(sorted && found, "in byte order, each found");
  cb_tree_free(t);
  cb_error_free(&err);
  free(dir);
}

/* Files read by two threads (over 1 MiB of them not cached): the digests of one at a time. */
static void
test_batch(const char *base)
{
  char *dir = join(base, "batch"), rel[32];
  char *data = malloc(300 * 1024);
  struct cb_error *err = NULL;
  struct cb_hashcache *c = cb_hashcache_new(), *one = cb_hashcache_new();
  struct cb_tree *t;
  struct cb_digest d1, d2;
  const char *paths[2];
  const struct cb_tree_entry *es[2];
  struct cb_digest out[2];
  bool same = true;

  mkdirs(base, "batch");
  for (int i = 0; i < 8; i++) {
    memset(data, 'a' + i, 300 * 1024 - 1);
    data[300 * 1024 - 1] = '\0';
    snprintf(rel, sizeof rel, "f%d", i);
    mkfile(dir, rel, data);
  }
  t = cb_tree_walk(dir, NULL, NULL, &err);
  ok(t != NULL && cb_tree_digest(t, c, 0, 0, &d1, &err) == 0 && cb_hashcache_reads(c) == 8,
     "8 files of 300 KiB read at once");
  for (size_t i = 1; t != NULL && i < cb_tree_count(t); i++) {
    const struct cb_tree_entry *e = cb_tree_get(t, i);
    char *path = join(dir, e->rel);
    same =
        same && cb_hashcache_file(one, path, e, &d2, &err) == 0 && cb_digest_equal(&d2, &e->digest);
    free(path);
  }
  ok(same && cb_hashcache_reads(one) == 8, "each the digest of the file read alone");
  paths[0] = "/nonexistent/a";
  paths[1] = "/nonexistent/b";
  es[0] = es[1] = t ? cb_tree_get(t, 1) : NULL;
  ok(es[0] != NULL && cb_hashcache_files(c, paths, es, 2, out, &err) == -1 && err != NULL &&
         err->errnum == ENOENT,
     "a file that cannot be read fails the batch");
  cb_error_free(&err);
  cb_tree_free(t);
  cb_hashcache_free(c);
  cb_hashcache_free(one);
  free(data);
  free(dir);
}

int
main(void)
{
  char *base = tap_tmpdir("tree");
  char *dir = join(base, "ctx");
  char *out = join(base, "out.tar");

  mkdirs(base, "ctx");
  test_walk(dir);
  test_digest_and_cache(dir);
  test_write(dir, out);
  test_indexed(base, dir);
  test_many_dirs(base);
  test_batch(base);
  free(out);
  free(dir);
  free(base);
  return tap_done();
}
