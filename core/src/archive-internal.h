/*
 * Shared by the archive*.c files: the reader's state and small helpers around libarchive.
 */
#ifndef CBUILD_ARCHIVE_INTERNAL_H
#define CBUILD_ARCHIVE_INTERNAL_H

#include "archive-lazy.h"

#include "cbuild/archive.h"

struct cb_tar_reader {
  struct archive *a;
  struct archive_entry *cur; /* owned by a; NULL before the first and after the last entry */
  struct cb_tar_xattr *xattrs;
  size_t nxattrs, xcap;
};

/* Record libarchive's last error on A as *err: "WHAT: <libarchive message>". */
int cb__archive_error(struct cb_error **err, struct archive *a, const char *what);

/* Normalise an archive name: drop "", "." components (so leading "/" and "./" and trailing
 * "/"), refuse ".." (CB_E_UNSAFE naming the entry).  *out ("" for the root) is the caller's. */
int cb__tar_clean_name(const char *name, char **out, struct cb_error **err);

/* Tests set this to make cb_tar_apply resolve paths by hand, as without openat2. */
extern bool cb__apply_no_openat2;

/* Map a libarchive entry to a cb_tar_type; 0 for types we do not handle (sockets). */
enum cb_tar_type cb__tar_type_of(struct archive_entry *e);

#endif
