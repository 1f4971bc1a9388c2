/*
 * Tar archives through libarchive: deterministic layer writing, reading any compression,
 * applying a layer into a directory without ever leaving it, and gzip/zstd compression of blobs.
 *
 * Writing (cb_tar_writer): one pass, bounded memory.  Entries go out in the order given, as
 * ustar headers with PAX extended records only where ustar cannot say it (long names, xattrs,
 * big ids), numeric uid/gid only (no uname/gname), no atime/ctime, mtime in whole seconds as
 * given.  The same entries therefore always give the same bytes.  A layer writer streams into
 * a store blob writer (digest = diff ID); a plain writer streams into a file descriptor.
 *
 * An indexed layer writer also records, per entry, an identity (a digest of its header fields
 * and of its content) with where its bytes lie, in an index file beside the store; the next
 * layer written with the same index file copies every entry whose identity it finds there from
 * the earlier blob instead of reading its source again.  A tar entry's bytes do not depend on
 * where it lies in the archive, so the result is byte for byte what a fresh write gives.
 *
 * Reading (cb_tar_reader): plain tar, gzip, zstd, xz or bzip2, detected from the bytes.
 *
 * Applying (cb_tar_apply): every path is resolved with openat2(RESOLVE_IN_ROOT) below the
 * destination, so neither a name, nor a symlink in the archive or in the destination, can make
 * a write land outside it; names with a ".." component are refused (CB_E_UNSAFE).
 *
 * Ownership: writers and readers are freed by their finish/abort/close function, whatever the
 * outcome.  Every function follows error.h: 0 (or a pointer) on success, -1 (or NULL) and *err.
 */
#ifndef CBUILD_ARCHIVE_H
#define CBUILD_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/digest.h"
#include "cbuild/error.h"
#include "cbuild/store.h"

struct cb_tar_writer;
struct cb_tar_reader;

enum cb_tar_type {
  CB_TAR_FILE = 1,
  CB_TAR_DIR,
  CB_TAR_SYMLINK,
  CB_TAR_HARDLINK,
  CB_TAR_CHAR,
  CB_TAR_BLOCK,
  CB_TAR_FIFO,
};

/* Where a regular file's content comes from. */
enum cb_tar_src {
  CB_TAR_SRC_NONE = 0, /* empty file (and every other type) */
  CB_TAR_SRC_DATA,     /* data/size */
  CB_TAR_SRC_PATH,     /* src_path on the host: opened, streamed in chunks */
  CB_TAR_SRC_FD,       /* src_fd from its current offset, exactly size bytes */
  CB_TAR_SRC_READER,   /* the current entry of reader (size from its header) */
};

struct cb_tar_xattr {
  const char *name; /* e.g. "security.capability" */
  const void *value;
  size_t len;
};

/* What a file's content digest was computed from (its lstat at the time). */
struct cb_tar_ident {
  int64_t size, mtime, mtime_ns, ctime, ctime_ns;
  uint64_t ino;
};

struct cb_tar_entry {
  const char *name; /* "etc/passwd": leading "/" and "./", trailing "/" are dropped */
  enum cb_tar_type type;
  uint32_t mode; /* permission bits incl. setuid/setgid/sticky (07777) */
  int64_t uid, gid;
  int64_t mtime;        /* unix seconds */
  const char *linkname; /* symlink target, or hardlink target (a name in the archive) */
  uint32_t devmajor, devminor;
  const struct cb_tar_xattr *xattrs;
  size_t nxattrs;
  enum cb_tar_src src;
  const void *data;
  uint64_t size; /* CB_TAR_SRC_DATA and CB_TAR_SRC_FD */
  const char *src_path;
  int src_fd;
  struct cb_tar_reader *reader;
  /* Optional, for an indexed writer: the sha256 of a CB_TAR_SRC_PATH file's bytes and the stat
   * it was computed from (checked against the file when it is opened: a mismatch leaves the
   * entry out of the index).  Files without it are never reused. */
  const struct cb_digest *content;
  const struct cb_tar_ident *content_ident;
};

/* A layer writer: the tar stream goes straight into a new blob of S. */
CB_API struct cb_tar_writer *cb_tar_writer_new_layer(struct cb_store *s, struct cb_error **err);
/* A layer writer indexed at INDEX (a file path): entries recorded there by the last layer
 * written with it are copied from that layer's blob when they recur; on finish the index is
 * replaced by this layer's (best effort: a failure to save it is not an error). */
CB_API struct cb_tar_writer *cb_tar_writer_new_layer_indexed(struct cb_store *s, const char *index,
                                                             struct cb_error **err);
/* The blob an index file (of cb_tar_writer_new_layer_indexed) lists entries of, into *OUT: 1,
 * or 0 when INDEX is absent or not an index (gc drops it), -1 for another failure. */
CB_API int cb_tar_index_blob(const char *index, struct cb_digest *out, struct cb_error **err);
/* Entries an indexed writer copied from the earlier layer so far. */
CB_API uint64_t cb_tar_writer_reused(const struct cb_tar_writer *w);
/* A plain tar writer onto FD (not owned, not closed). */
CB_API struct cb_tar_writer *cb_tar_writer_new_fd(int fd, struct cb_error **err);
/* Append one entry.  After a failure the writer can only be aborted. */
CB_API int cb_tar_writer_add(struct cb_tar_writer *w, const struct cb_tar_entry *e,
                             struct cb_error **err);
/* Write the end-of-archive blocks; for a layer, commit the blob.  OUT/SIZE (may be NULL) get
 * the sha256 and length of the tar bytes.  Consumes w. */
CB_API int cb_tar_writer_finish(struct cb_tar_writer *w, struct cb_digest *out, uint64_t *size,
                                struct cb_error **err);
/* Drop everything (a layer's temp blob is unlinked).  Consumes w; NULL is fine. */
CB_API void cb_tar_writer_abort(struct cb_tar_writer *w);

/* An entry as read back; strings and xattrs stay valid until the next cb_tar_reader_next. */
struct cb_tar_header {
  const char *name;
  enum cb_tar_type type;
  uint64_t size;
  uint32_t mode;
  int64_t uid, gid;
  int64_t mtime;
  const char *linkname; /* NULL unless symlink or hardlink */
  uint32_t devmajor, devminor;
  struct cb_tar_xattr *xattrs;
  size_t nxattrs;
};

/* Open a tar archive (plain or compressed) by path, or from FD (owned: closed by close). */
CB_API struct cb_tar_reader *cb_tar_reader_open(const char *path, struct cb_error **err);
CB_API struct cb_tar_reader *cb_tar_reader_open_fd(int fd, struct cb_error **err);
/* 1 and *h filled for the next entry, 0 at the end, -1 on error. */
CB_API int cb_tar_reader_next(struct cb_tar_reader *r, struct cb_tar_header *h,
                              struct cb_error **err);
/* Read up to LEN bytes of the current entry's data: bytes read, 0 at its end, -1 on error. */
CB_API ssize_t cb_tar_reader_read(struct cb_tar_reader *r, void *buf, size_t len,
                                  struct cb_error **err);
/* Stream the rest of the current entry into a new blob of S (EXPECT may be NULL). */
CB_API int cb_tar_reader_ingest(struct cb_tar_reader *r, struct cb_store *s,
                                const struct cb_digest *expect, struct cb_digest *out,
                                uint64_t *size, struct cb_error **err);
/* "none", "gzip", "zstd", "xz", "bzip2", or another libarchive filter name (after a next). */
CB_API const char *cb_tar_reader_filter(struct cb_tar_reader *r);
CB_API void cb_tar_reader_close(struct cb_tar_reader *r);

/* What PATH is: "tar", "gzip+tar", "zstd+tar", "xz+tar", "bzip2+tar" into *kind (a static
 * string), or NULL when it is not a tar archive (also for an unreadable or unknown file). */
CB_API int cb_tar_detect(const char *path, const char **kind, struct cb_error **err);

/* Copy every entry of R into W, names normalised and put under PREFIX ("" or NULL for none):
 * "./" and leading "/" are stripped, a ".." component is CB_E_UNSAFE naming the entry, and
 * hardlink targets get the same prefix.  *count gets the number of entries written. */
CB_API int cb_tar_copy(struct cb_tar_reader *r, struct cb_tar_writer *w, const char *prefix,
                       uint64_t *count, struct cb_error **err);

enum cb_apply_flags {
  CB_APPLY_WHITEOUTS = 1 << 0, /* interpret .wh.NAME and .wh..wh..opq (OCI layer semantics) */
  /* Unpack one layer into an empty snapshot directory in overlayfs form: .wh.NAME becomes a
   * 0/0 character device NAME, .wh..wh..opq sets trusted.overlay.opaque="y" on its directory
   * (root only), so snapshots stack as overlay lower dirs.  Takes precedence over WHITEOUTS. */
  CB_APPLY_OVERLAY = 1 << 1,
};

/* Extract every entry of R below DEST (an existing directory).  Ownership is restored when
 * running as root (and ignored when not permitted otherwise), as are modes, mtimes, xattrs,
 * device nodes, hard links and symlinks.  trusted.overlay.* xattrs in the archive are never
 * set: they would steer the overlay that mounts the result. */
CB_API int cb_tar_apply(struct cb_tar_reader *r, const char *dest, unsigned flags,
                        struct cb_error **err);

enum cb_compression {
  CB_COMPRESS_NONE = 0,
  CB_COMPRESS_GZIP,
  CB_COMPRESS_ZSTD,
};

/* Compress blob IN of S into a new blob (OUT, SIZE).  Deterministic for the same input and
 * level: gzip is a series of independent 1 MiB members made by libdeflate on every core; zstd
 * runs with one worker per core (output does not depend on the number of workers).  LEVEL < 0
 * takes the default (gzip 6, zstd 3). */
CB_API int cb_blob_compress(struct cb_store *s, const struct cb_digest *in, enum cb_compression how,
                            int level, struct cb_digest *out, uint64_t *size,
                            struct cb_error **err);
/* Decompress blob IN (gzip, zstd, xz, bzip2 detected; plain gives back IN itself). */
CB_API int cb_blob_decompress(struct cb_store *s, const struct cb_digest *in, struct cb_digest *out,
                              uint64_t *size, struct cb_error **err);

#endif
