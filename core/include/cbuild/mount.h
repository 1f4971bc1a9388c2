/*
 * Mounts the build engine makes in the caller's own mount namespace: the overlay that turns a
 * chain of snapshots into a rootfs, bind mounts, unmounting, and a mountpoint check.
 *
 * Contract: every function returns 0 (or the answer) on success and -1 with *err set on
 * failure; nothing is left mounted by a failed call.  Strings are borrowed for the call only.
 * Overlays are mounted with index=off, redirect_dir=off and metacopy=off when the kernel knows
 * them (as docker's overlay2 does), so the upper dir alone is the complete change set.
 */
#ifndef CBUILD_MOUNT_H
#define CBUILD_MOUNT_H

#include <stddef.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

struct cb_overlay {
  const char *const *lower; /* lower dirs, top-most first (at least one) */
  size_t nlower;
  const char *upper; /* NULL: a read-only overlay of the lowers (needs two or more) */
  const char *work;  /* required with upper; same filesystem as upper */
  const char *target;
};

enum cb_mount_flags {
  CB_MOUNT_RDONLY = 1 << 0,       /* bind: make the new mount (and those below) read-only */
  CB_MOUNT_NONRECURSIVE = 1 << 1, /* bind: only the top mount, not its submounts */
};

enum cb_overlay_flags {
  /* "volatile": the overlay never syncs its upper dir, not on fsync, syncfs nor unmount (which
   * otherwise syncs the whole filesystem under it).  For an upper that is thrown away (a --rm
   * container, a build step): after a crash its contents are undefined, and the kernel refuses
   * to mount it again once work/work/incompat/volatile exists.  Ignored before Linux 5.10. */
  CB_OVERLAY_VOLATILE = 1 << 0,
};

enum cb_umount_flags {
  CB_UMOUNT_DETACH = 1 << 0, /* lazy unmount (MNT_DETACH) */
};

/* Mount an overlay.  Lower lists longer than a page go through fsopen/fsconfig("lowerdir+"),
 * which needs Linux 6.8; older kernels get a clear error. */
CB_API int cb_mount_overlay(const struct cb_overlay *o, struct cb_error **err);
/* The same with cb_overlay_flags. */
CB_API int cb_mount_overlay_flags(const struct cb_overlay *o, unsigned flags,
                                  struct cb_error **err);
/* Bind SRC onto DST (recursive unless CB_MOUNT_NONRECURSIVE). */
CB_API int cb_mount_bind(const char *src, const char *dst, unsigned flags, struct cb_error **err);
CB_API int cb_umount(const char *target, unsigned flags, struct cb_error **err);
/* 1 when PATH is the root of a mount, 0 when not, -1 with *err (e.g. it does not exist). */
CB_API int cb_mount_is_mountpoint(const char *path, struct cb_error **err);

#endif
