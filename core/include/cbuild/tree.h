/*
 * A build context directory as COPY sees it, done in C because it is per file: the walk of a
 * directory (one lstat per entry, ignore decisions asked of the caller only where they can
 * differ), the content digest of the whole tree, and its entries written into a layer.
 *
 * A tree (cb_tree_walk) holds every kept entry below its root, the root itself first, sorted
 * by the bytes of their relative paths.  The caller's filter decides per entry (rel relative
 * to the root); a directory answered CB_TREE_KEEP_ALL or CB_TREE_SKIP is not asked about its
 * contents.  Symlinks are entries, never followed.
 *
 * A hash cache (cb_hashcache) memoizes file digests by (path, size, mtime, ctime, inode), as
 * git's index does, and is saved between builds after a "cbuild-context-hashes 2" line as
 * binary records (digest, the stat fields, the path, a checksum: see hashcache.c); the text
 * lines of version 1 ("<digest> <size> <mtime> <mtime_ns> <ctime> <ctime_ns> <ino> <path, %
 * and newline escaped>") are still read.  A file changed within two seconds of the first
 * digest computed ("racily clean", git's term) is used but never saved.
 *
 * Ownership: trees and caches are freed by their _free function (NULL is fine).  Every
 * function follows error.h: 0 (or a pointer) on success, -1 (or NULL) and *err.
 */
#ifndef CBUILD_TREE_H
#define CBUILD_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbuild/archive.h"
#include "cbuild/common.h"
#include "cbuild/digest.h"
#include "cbuild/error.h"

struct cb_tree;
struct cb_hashcache;

struct cb_tree_entry {
  const char *rel;    /* below the root ("a/b"); "" for the root itself */
  const char *target; /* a symlink's target, else NULL */
  uint32_t mode;      /* st_mode: type and permission bits */
  uint32_t uid, gid;
  uint32_t devmajor, devminor;
  int64_t size, mtime, mtime_ns, ctime, ctime_ns;
  uint64_t ino;
  struct cb_digest digest; /* a file's content digest, once cb_tree_digest has computed it */
  bool hashed;
};

enum cb_tree_verdict {
  CB_TREE_KEEP = 0, /* keep; a directory's entries are asked about in turn */
  CB_TREE_KEEP_ALL, /* keep, and everything below a directory without asking */
  CB_TREE_SKIP,     /* leave out, and everything below */
  CB_TREE_LOOK,     /* a directory left out unless something below it is kept */
};

/* Decide about REL (relative to the root).  Returning -1 (with *err set or not) stops the
 * walk, which then fails with that error (or CB_E_INVALID "walk stopped" when none). */
typedef int (*cb_tree_filter)(void *arg, const char *rel, bool is_dir, enum cb_tree_verdict *out,
                              struct cb_error **err);

/* Walk ROOT (a directory, or any other file: a tree of one entry).  FILTER may be NULL (keep
 * everything).  Entries that vanish during the walk are left out. */
CB_API struct cb_tree *cb_tree_walk(const char *root, cb_tree_filter filter, void *arg,
                                    struct cb_error **err);
CB_API void cb_tree_free(struct cb_tree *t);
CB_API const char *cb_tree_root(const struct cb_tree *t);
CB_API size_t cb_tree_count(const struct cb_tree *t);
/* The I-th entry in byte order of rel (0 is the root); valid while T lives. */
CB_API const struct cb_tree_entry *cb_tree_get(const struct cb_tree *t, size_t i);
/* "file", "dir", "symlink", "char", "block", "fifo", "socket" or "unknown" for an st_mode. */
CB_API const char *cb_tree_type_name(uint32_t mode);
/* Index of the entry named REL, or -1. */
CB_API long cb_tree_find(const struct cb_tree *t, const char *rel);

/* The digest of the tree: sha256 over, per entry in byte order, the big-endian records
 * s4 name (root "."), s4 type name, u32 permission bits, u32 UID, u32 GID, s4 extra (a file's
 * "sha256:<hex>" from C, a symlink's target, "major,minor" of a device, else "").  Never
 * covers mtimes, owners on disk or inode numbers. */
CB_API int cb_tree_digest(struct cb_tree *t, struct cb_hashcache *c, uint32_t uid, uint32_t gid,
                          struct cb_digest *out, struct cb_error **err);

struct cb_tree_write_opts {
  const char *prefix; /* names in the layer: PREFIX/rel ("" or NULL: rel) */
  int64_t uid, gid;   /* owner of every entry */
  int64_t chmod;      /* < 0: the file's own bits; else every entry but symlinks gets these */
  int64_t epoch;      /* < 0: mtimes as they are; else none later than this */
};

/* Append every entry but the root, in tar order (parents before children: "/" sorts below
 * every byte), to W.  A file's bytes are read when written (an indexed writer may take them from
 * an earlier layer instead, by the digest cb_tree_digest found); a socket is CB_E_INVALID. */
CB_API int cb_tree_write(const struct cb_tree *t, struct cb_tar_writer *w,
                         const struct cb_tree_write_opts *o, struct cb_error **err);

CB_API struct cb_hashcache *cb_hashcache_new(void);
CB_API void cb_hashcache_free(struct cb_hashcache *c);
/* Merge the lines saved at PATH (absent, or another format, is fine): later lines override
 * earlier ones, digests the cache knew before the call win. */
CB_API int cb_hashcache_load(struct cb_hashcache *c, const char *path, struct cb_error **err);
/* Save to PATH (mode 0600, its directory created 0700): nothing when no digest changed since
 * load and PATH exists; the new records appended to the (binary) file load read when that
 * keeps it small and it is as load found it;
 * else the whole cache rewritten atomically (only the entries used by this build once it holds
 * more than CB_HASHCACHE_MAX). */
#define CB_HASHCACHE_MAX 200000
CB_API int cb_hashcache_save(struct cb_hashcache *c, const char *path, struct cb_error **err);
/* The digest of the regular file PATH whose lstat E describes (rel unused), from the cache or
 * read now. */
CB_API int cb_hashcache_file(struct cb_hashcache *c, const char *path,
                             const struct cb_tree_entry *e, struct cb_digest *out,
                             struct cb_error **err);
/* The digests of the N regular files PATHS[i] whose lstats ES[i] describe, into OUT[i]: as
 * cb_hashcache_file for each, those not cached read by two threads at once. */
CB_API int cb_hashcache_files(struct cb_hashcache *c, const char *const *paths,
                              const struct cb_tree_entry *const *es, size_t n,
                              struct cb_digest *out, struct cb_error **err);
/* Files whose bytes this cache has read (for tests). */
CB_API uint64_t cb_hashcache_reads(const struct cb_hashcache *c);

#endif
