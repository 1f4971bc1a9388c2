/*
 * Layers from directory trees: the change a build step made, as a tar stream.
 *
 * cb_tar_add_dir walks one tree (an overlay upper dir, or any directory) and
 * cb_tar_add_diff compares two (a copy of the parent tree and the tree after the step).  Both
 * write entries in sorted order: parents before children, siblings in byte order of their name
 * (so the same tree always gives the same bytes), with modes, numeric owners, mtimes (whole
 * seconds), the xattrs security.capability and user.* (sorted; trusted.* never), hard links as
 * hard links to the first name written in this layer, devices, fifos and symlinks; sockets and
 * the root directory itself are left out.
 *
 * Memory is bounded by the depth of the tree times the size of one directory's listing, plus
 * one name per hard-linked inode whose other names are still to come.
 *
 * Every function follows error.h: 0 on success, -1 and *err on failure.
 */
#ifndef CBUILD_SNAPSHOT_H
#define CBUILD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbuild/archive.h"
#include "cbuild/common.h"
#include "cbuild/digest.h"
#include "cbuild/error.h"
#include "cbuild/store.h"

struct cb_layer_opts {
  /* The tree is an overlay upper dir: a 0/0 character device is a whiteout (.wh.NAME entry,
   * mode 0600, the device's owner and mtime); a directory with trusted.overlay.opaque="y" is
   * written, then a .wh..wh..opq entry (the directory's permissions, owner and mtime). */
  bool overlay;
  bool clamp;          /* every mtime above clamp_mtime becomes clamp_mtime */
  int64_t clamp_mtime; /* unix seconds */
  /* Paths (relative to the tree, "a/b"; leading "/" and "./" ignored) left out with everything
   * below them, e.g. mountpoints a sandbox made. */
  const char *const *exclude;
  size_t nexclude;
  /* Overlay only: the lower dirs, topmost first.  A directory that was only copied up (not
   * opaque; the same mode, owner, mtime and xattrs as in the topmost lower that has it) is
   * written only when something below it is, as containerd's overlay differ does. */
  const char *const *lowers;
  size_t nlowers;
  /* Diff only: a regular file whose type, mode, owner, size, mtime (to the nanosecond) and
   * xattrs match its lower counterpart is compared by content when its ctime is at or after
   * since (unix seconds): the step touched it.  Without has_since, when its mtime has no
   * fraction of a second (whole-second times say too little). */
  bool has_since;
  int64_t since;
};

/* Append the entries of tree DIR to W. */
CB_API int cb_tar_add_dir(struct cb_tar_writer *w, const char *dir, const struct cb_layer_opts *o,
                          struct cb_error **err);

/* Append to W the change from LOWER to UPPER: entries added or modified in UPPER (with their
 * parent directories, as an overlay upper dir would hold them), a .wh.NAME for each name of
 * LOWER gone from UPPER, and a directory replaced wholesale (two or more names below it in
 * LOWER, none of them left in UPPER) as the directory, .wh..wh..opq and all it now holds.
 * o->overlay is ignored. */
CB_API int cb_tar_add_diff(struct cb_tar_writer *w, const char *lower, const char *upper,
                           const struct cb_layer_opts *o, struct cb_error **err);

/* cb_tar_add_dir into a new layer blob of S: OUT and SIZE (may be NULL) are the diff ID and
 * length of the uncompressed tar. */
CB_API int cb_layer_from_dir(struct cb_store *s, const char *dir, const struct cb_layer_opts *o,
                             struct cb_digest *out, uint64_t *size, struct cb_error **err);
/* cb_tar_add_diff into a new layer blob of S. */
CB_API int cb_layer_from_diff(struct cb_store *s, const char *lower, const char *upper,
                              const struct cb_layer_opts *o, struct cb_digest *out, uint64_t *size,
                              struct cb_error **err);

#endif
