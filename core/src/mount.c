/* Overlay and bind mounts in the caller's mount namespace (see cbuild/mount.h). */
#include "cbuild/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Options docker's overlay2 uses so the upper dir is a plain change set. */
static const char *const naive_diff_opts[][2] = { { "index", "off" },
                                                  { "redirect_dir", "off" },
                                                  { "metacopy", "off" } };

/* Append S to the buffer, escaping the characters overlayfs splits on. */
static void
append_escaped(char **buf, size_t *len, size_t *cap, const char *s)
{
  for (; *s != '\0'; s++) {
    if (*len + 3 > *cap) {
      *cap = *cap * 2 + 64;
      *buf = cb__xrealloc(*buf, *cap);
    }
    if (*s == ',' || *s == ':' || *s == '\\')
      (*buf)[(*len)++] = '\\';
    (*buf)[(*len)++] = *s;
  }
  (*buf)[*len] = '\0';
}

static void
append(char **buf, size_t *len, size_t *cap, const char *s)
{
  size_t n = strlen(s);
  if (*len + n + 1 > *cap) {
    *cap = *cap * 2 + n + 64;
    *buf = cb__xrealloc(*buf, *cap);
  }
  memcpy(*buf + *len, s, n + 1);
  *len += n;
}

static char *
overlay_options(const struct cb_overlay *o, bool naive, bool vol)
{
  size_t len = 0, cap = 256;
  char *buf = cb__xmalloc(cap);

  buf[0] = '\0';
  append(&buf, &len, &cap, "lowerdir=");
  for (size_t i = 0; i < o->nlower; i++) {
    if (i > 0)
      append(&buf, &len, &cap, ":");
    append_escaped(&buf, &len, &cap, o->lower[i]);
  }
  if (o->upper != NULL) {
    append(&buf, &len, &cap, ",upperdir=");
    append_escaped(&buf, &len, &cap, o->upper);
    append(&buf, &len, &cap, ",workdir=");
    append_escaped(&buf, &len, &cap, o->work);
  }
  for (size_t i = 0; naive && i < sizeof naive_diff_opts / sizeof *naive_diff_opts; i++) {
    append(&buf, &len, &cap, ",");
    append(&buf, &len, &cap, naive_diff_opts[i][0]);
    append(&buf, &len, &cap, "=");
    append(&buf, &len, &cap, naive_diff_opts[i][1]);
  }
  if (vol && o->upper != NULL)
    append(&buf, &len, &cap, ",volatile");
  return buf;
}

/* The new mount API: no page limit on the lower list (one "lowerdir+" per layer). */
static int
overlay_fsconfig(const struct cb_overlay *o, bool vol, struct cb_error **err)
{
  cb_autoclose int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
  cb_autoclose int mfd = -1;

  if (fsfd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "mount overlay on '%s': fsopen", o->target);
  for (size_t i = 0; i < o->nlower; i++)
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", o->lower[i], 0) < 0)
      return cb_error_set(err, CB_E_SYS, errno,
                          "mount overlay on '%s': %zu lower dirs are too many for the mount "
                          "options and the kernel refuses lowerdir+ (Linux 6.8 or later needed)",
                          o->target, o->nlower);
  if (o->upper != NULL && (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", o->upper, 0) < 0 ||
                           fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", o->work, 0) < 0))
    return cb_error_set(err, CB_E_SYS, errno, "mount overlay on '%s': upper '%s'", o->target,
                        o->upper);
  for (size_t i = 0; i < sizeof naive_diff_opts / sizeof *naive_diff_opts; i++)
    (void)fsconfig(fsfd, FSCONFIG_SET_STRING, naive_diff_opts[i][0], naive_diff_opts[i][1], 0);
  if (vol && o->upper != NULL) /* a kernel before 5.10 does without: it syncs, nothing worse */
    (void)fsconfig(fsfd, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "mount overlay on '%s'", o->target);
  mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
  if (mfd < 0)
    return cb_error_set(err, CB_E_SYS, errno, "mount overlay on '%s': fsmount", o->target);
  if (move_mount(mfd, "", AT_FDCWD, o->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "mount overlay on '%s': move_mount", o->target);
  return 0;
}

int
cb_mount_overlay(const struct cb_overlay *o, struct cb_error **err)
{
  return cb_mount_overlay_flags(o, 0, err);
}

int
cb_mount_overlay_flags(const struct cb_overlay *o, unsigned flags, struct cb_error **err)
{
  cb_autofree char *opts = NULL;
  long page = sysconf(_SC_PAGESIZE);
  bool vol = (flags & CB_OVERLAY_VOLATILE) != 0;

  if (o->target == NULL || o->nlower == 0 || o->lower == NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "mount overlay: target and lower dirs required");
  if (o->upper != NULL && o->work == NULL)
    return cb_error_set(err, CB_E_INVALID, 0, "mount overlay on '%s': upper without work dir",
                        o->target);
  opts = overlay_options(o, true, vol);
  if (strlen(opts) >= (size_t)(page > 0 ? page : 4096))
    return overlay_fsconfig(o, vol, err);
  if (mount("overlay", o->target, "overlay", 0, opts) == 0)
    return 0;
  /* EINVAL: an old kernel that does not know "volatile" (before 5.10) or one of the
   * naive-diff options; each is an optimisation, so drop them one at a time */
  for (int step = vol ? 0 : 1; errno == EINVAL && step < 2; step++) {
    free(opts);
    opts = overlay_options(o, step == 0, false);
    if (mount("overlay", o->target, "overlay", 0, opts) == 0)
      return 0;
  }
  return cb_error_set(err, CB_E_SYS, errno, "mount overlay on '%s' (%s)", o->target, opts);
}

int
cb_mount_bind(const char *src, const char *dst, unsigned flags, struct cb_error **err)
{
  unsigned long mflags = MS_BIND | ((flags & CB_MOUNT_NONRECURSIVE) ? 0 : MS_REC);

  if (mount(src, dst, "none", mflags, NULL) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "bind '%s' on '%s'", src, dst);
  if (flags & CB_MOUNT_RDONLY) {
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
    unsigned at = (flags & CB_MOUNT_NONRECURSIVE) ? 0 : AT_RECURSIVE;
    if (mount_setattr(AT_FDCWD, dst, at, &attr, sizeof attr) < 0 &&
        mount("none", dst, "none", MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
      int e = errno;
      umount2(dst, MNT_DETACH);
      return cb_error_set(err, CB_E_SYS, e, "make '%s' read-only", dst);
    }
  }
  return 0;
}

int
cb_umount(const char *target, unsigned flags, struct cb_error **err)
{
  if (umount2(target, (flags & CB_UMOUNT_DETACH) ? MNT_DETACH : 0) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "unmount '%s'", target);
  return 0;
}

int
cb_mount_is_mountpoint(const char *path, struct cb_error **err)
{
  struct statx stx;
  struct stat st, parent;
  cb_autofree char *up = NULL;

  if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "stat '%s'", path);
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  /* kernels before 5.8: a mount root differs from its parent in device or is its own parent */
  up = cb__xasprintf("%s/..", path);
  if (stat(path, &st) < 0 || stat(up, &parent) < 0)
    return cb_error_set(err, CB_E_SYS, errno, "stat '%s'", path);
  return st.st_dev != parent.st_dev || st.st_ino == parent.st_ino;
}
