/*
 * The content store: an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>) plus
 * cbuild's own directories beside it (snapshots/, cache/, containers/, tmp/), see DESIGN.md.
 *
 * Invariants: a file under blobs/sha256/ always holds the bytes of its name.  Blobs are
 * written to tmp/, fsynced, checked against the expected digest and renamed into place.
 * Mutable files (index.json, records) are replaced by write-fsync-rename; callers that
 * read-modify-write them hold the store lock (flock on <root>/lock).
 *
 * Ownership: cb_store_open returns a store the caller frees with cb_store_free.  A blob writer
 * is consumed by commit or abort, whatever the outcome, and must be finished before its store is
 * freed.
 *
 * tmp/ is cleaned at every open, while other processes may be using the store: a file there
 * survives only while its creator holds an flock on it.  Make scratch files with
 * cb_store_tmp_open (or a directory of your own in tmp/, which is never touched).
 */
#ifndef CBUILD_STORE_H
#define CBUILD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbuild/common.h"
#include "cbuild/digest.h"
#include "cbuild/error.h"

struct cb_store;
struct cb_blob_writer;

enum cb_store_flags {
  CB_STORE_CREATE = 1 << 0, /* create the layout when missing (else CB_E_SYS/ENOENT) */
};

/* Open (and with CB_STORE_CREATE, initialise) the store at ROOT.  Removes stale tmp/ files:
 * every temp file in use is flocked by its writer, so only files whose flock can be taken are
 * removed (directories in tmp/ are left alone).  Without CB_STORE_CREATE a ROOT lacking
 * oci-layout is CB_E_SYS/ENOENT.  Creation is safe against crashes and concurrent opens. */
CB_API struct cb_store *cb_store_open(const char *root, unsigned flags, struct cb_error **err);
CB_API void cb_store_free(struct cb_store *s);
/* Absolute path of the store root. */
CB_API const char *cb_store_root(const struct cb_store *s);
/* Directory fd of the root, and of tmp/ (owned by the store). */
CB_API int cb_store_root_fd(const struct cb_store *s);
CB_API int cb_store_tmp_fd(const struct cb_store *s);

/* A fresh temp file in tmp/, flocked for the life of the returned fd so no concurrent open
 * removes it.  Its name (within tmp/, at most 31 chars) goes to NAME (NAMELEN >= 32); the caller
 * renames it away or unlinks it (unlinkat(cb_store_tmp_fd(s), name, 0)) and closes the fd. */
CB_API int cb_store_tmp_open(struct cb_store *s, char *name, size_t namelen, struct cb_error **err);

/* 1 when the blob exists (and *size is set if non-NULL), 0 when not. */
CB_API int cb_store_has_blob(struct cb_store *s, const struct cb_digest *d, uint64_t *size);
/* Absolute path of a blob (whether or not it exists); caller frees. */
CB_API char *cb_store_blob_path(struct cb_store *s, const struct cb_digest *d);
/* Open a blob read-only; returns an fd, or -1 with CB_E_NOTFOUND when absent. */
CB_API int cb_store_open_blob(struct cb_store *s, const struct cb_digest *d, struct cb_error **err);
/* Store a buffer; writes its digest (and is a no-op when the blob already exists). */
CB_API int cb_store_put(struct cb_store *s, const void *data, size_t len, struct cb_digest *out,
                        struct cb_error **err);
/* Copy SRC_FD to EOF into the store.  With EXPECT non-NULL, a mismatch is CB_E_DIGEST and
 * nothing is named. */
CB_API int cb_store_ingest_fd(struct cb_store *s, int src_fd, const struct cb_digest *expect,
                              struct cb_digest *out, uint64_t *size, struct cb_error **err);
/* Open PATH and ingest it as cb_store_ingest_fd does. */
CB_API int cb_store_ingest_file(struct cb_store *s, const char *path,
                                const struct cb_digest *expect, struct cb_digest *out,
                                uint64_t *size, struct cb_error **err);
/* Read a whole blob into memory (NUL-terminated, caller frees); CB_E_NOTFOUND when absent. */
CB_API int cb_store_read_blob(struct cb_store *s, const struct cb_digest *d, char **out,
                              size_t *len, struct cb_error **err);
/* Re-hash a stored blob: CB_E_NOTFOUND when absent, CB_E_DIGEST when its bytes do not match. */
CB_API int cb_store_verify_blob(struct cb_store *s, const struct cb_digest *d,
                                struct cb_error **err);
/* Remove a blob (gc only). Absent is not an error. */
CB_API int cb_store_remove_blob(struct cb_store *s, const struct cb_digest *d,
                                struct cb_error **err);

/* A streaming blob writer: bytes are hashed as they are written to a temp file in tmp/. */
CB_API struct cb_blob_writer *cb_blob_writer_new(struct cb_store *s, struct cb_error **err);
CB_API int cb_blob_writer_write(struct cb_blob_writer *w, const void *data, size_t len,
                                struct cb_error **err);
/* Bytes written so far. */
CB_API uint64_t cb_blob_writer_size(const struct cb_blob_writer *w);
/* Start the empty writer W with the first LEN bytes of blob SRC: copied in the kernel where the
 * filesystem can (copy_file_range, a reflink on some), and hashed only from the last hash state
 * kept with SRC (see keep_marks) before LEN.  The copy itself is done while W waits for its
 * hashing thread, the rest by commit (whose error it then is); writes go on after LEN at once.
 * CB_E_INVALID when W is not empty or SRC is shorter; CB_E_NOTFOUND when SRC is absent. */
CB_API int cb_blob_writer_copy_prefix(struct cb_blob_writer *w, const struct cb_digest *src,
                                      uint64_t len, struct cb_error **err);
/* Keep the hash state at every few MiB with the blob when it is committed (an xattr of its
 * file, where the filesystem has them), for a later cb_blob_writer_copy_prefix of it. */
CB_API void cb_blob_writer_keep_marks(struct cb_blob_writer *w);
/* fsync, check EXPECT (may be NULL), rename into blobs/.  Consumes w, success or not. */
CB_API int cb_blob_writer_commit(struct cb_blob_writer *w, const struct cb_digest *expect,
                                 struct cb_digest *out, uint64_t *size, struct cb_error **err);
/* Drop an uncommitted blob: unlinks the temp file.  Cannot fail; consumes w. */
CB_API void cb_blob_writer_abort(struct cb_blob_writer *w);

/* Exclusive lock on <root>/lock (blocking).  Locks nest: unlock after as many locks.  The lock
 * belongs to this struct cb_store: two stores opened on the same root exclude each other even
 * inside one process. */
CB_API int cb_store_lock(struct cb_store *s, struct cb_error **err);
CB_API void cb_store_unlock(struct cb_store *s);
/* Read a file relative to the root (e.g. "index.json"); *out is NUL-terminated, caller frees.
 * REL (here and in cb_store_write_file) must be relative and free of ".." (else CB_E_UNSAFE). */
CB_API int cb_store_read_file(struct cb_store *s, const char *rel, char **out, size_t *len,
                              struct cb_error **err);
/* Replace a file relative to the root atomically (write temp, fsync, rename, fsync dir);
 * creates missing parent directories. */
CB_API int cb_store_write_file(struct cb_store *s, const char *rel, const void *data, size_t len,
                               struct cb_error **err);

#endif
