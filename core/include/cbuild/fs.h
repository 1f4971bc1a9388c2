/*
 * Filesystem primitives: thin checked wrappers over the syscalls the Lua side needs, plus the
 * few operations that must be done carefully in C (rm -rf that neither follows symlinks nor
 * crosses mounts, path resolution confined to a root, atomic writes, in-kernel copies).
 *
 * Contract: every function returns 0 (or a non-NULL pointer) on success and -1 (or NULL) with
 * *err set on failure (error.h).  Messages name the operation and the path: "lstat 'x': No such
 * file or directory".  Returned strings and vectors are owned by the caller (free, or
 * cb_fs_strv_free).  Paths are plain host paths, relative to the current directory unless
 * absolute.
 */
#ifndef CBUILD_FS_H
#define CBUILD_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cbuild/common.h"
#include "cbuild/error.h"

/* stat(2) and lstat(2). */
CB_API int cb_fs_stat(const char *path, struct stat *st, struct cb_error **err);
CB_API int cb_fs_lstat(const char *path, struct stat *st, struct cb_error **err);
/* 1 when PATH exists (without following a final symlink), 0 when not. */
CB_API int cb_fs_exists(const char *path);

/* The entries of directory PATH, without "." and "..", sorted by byte order (strcmp).
 * *names is a NULL-terminated vector; *count (may be NULL) is its length. */
CB_API int cb_fs_readdir(const char *path, char ***names, size_t *count, struct cb_error **err);
/* Free a NULL-terminated vector of strings (NULL is fine). */
CB_API void cb_fs_strv_free(char **v);

/* mkdir -p: create PATH and its missing parents with MODE (before umask); existing is fine. */
CB_API int cb_fs_mkdir_p(const char *path, mode_t mode, struct cb_error **err);
/* rm -rf PATH.  Never follows a symlink (a symlink is removed, not its target), refuses to
 * descend into another mount (CB_E_UNSAFE, nothing below the mount point is touched) and
 * refuses "/" and "" (CB_E_UNSAFE).  A missing PATH is success.  Unreadable directories are
 * made readable (chmod u+rwx) before they are emptied. */
CB_API int cb_fs_rm_rf(const char *path, struct cb_error **err);
/* mkdtemp(PREFIX "XXXXXX"): a new empty directory with mode 0700; returns its path. */
CB_API char *cb_fs_mkdtemp(const char *prefix, struct cb_error **err);
CB_API char *cb_fs_readlink(const char *path, struct cb_error **err);
CB_API char *cb_fs_realpath(const char *path, struct cb_error **err);

/* Read a whole file; *data is NUL-terminated (the NUL is not counted in *len). */
CB_API int cb_fs_read_file(const char *path, char **data, size_t *len, struct cb_error **err);

enum cb_fs_write_flags {
  CB_FS_WRITE_ATOMIC = 1 << 0, /* temp file beside PATH, fsync, rename, fsync the directory */
};
/* Create or replace PATH with DATA; the file gets exactly MODE (umask does not apply). */
CB_API int cb_fs_write_file(const char *path, const void *data, size_t len, mode_t mode,
                            unsigned flags, struct cb_error **err);

/* Copy the regular file SRC to DST (created or truncated) with copy_file_range, falling back
 * to sendfile and then read/write.  DST gets MODE, or SRC's permission bits when MODE is -1. */
CB_API int cb_fs_copy_file(const char *src, const char *dst, int mode, struct cb_error **err);

enum cb_fs_resolve_flags {
  CB_FS_RESOLVE_MISSING_OK = 1 << 0, /* resolve the existing prefix, append the rest */
};
/* The host path that PATH names when ROOT is treated as "/": symlinks (absolute or relative)
 * and ".." are resolved inside ROOT and can never leave it (openat2 RESOLVE_IN_ROOT, then
 * /proc/self/fd/N).  Without MISSING_OK a missing component is an ENOENT failure; with it,
 * the existing prefix is resolved, a dangling symlink is followed inside the root, and the
 * remaining names are appended (".." among them clamped at ROOT).  ROOT must exist. */
CB_API char *cb_fs_resolve_in_root(const char *root, const char *path, unsigned flags,
                                   struct cb_error **err);

enum cb_fs_link_flags {
  CB_FS_NOFOLLOW = 1 << 0, /* act on a final symlink itself (lchown, utimensat NOFOLLOW) */
};
CB_API int cb_fs_chmod(const char *path, mode_t mode, struct cb_error **err);
CB_API int cb_fs_chown(const char *path, uid_t uid, gid_t gid, unsigned flags,
                       struct cb_error **err);
/* Set access and modification times with nanosecond precision. */
CB_API int cb_fs_utimes(const char *path, const struct timespec times[2], unsigned flags,
                        struct cb_error **err);
CB_API int cb_fs_symlink(const char *target, const char *linkpath, struct cb_error **err);
CB_API int cb_fs_link(const char *oldpath, const char *newpath, struct cb_error **err);
CB_API int cb_fs_rename(const char *oldpath, const char *newpath, struct cb_error **err);
/* Remove a file, symlink or (with CB_FS_UNLINK_DIR) an empty directory. */
enum cb_fs_unlink_flags { CB_FS_UNLINK_DIR = 1 << 0 };
CB_API int cb_fs_unlink(const char *path, unsigned flags, struct cb_error **err);
CB_API int cb_fs_mknod(const char *path, mode_t mode, dev_t dev, struct cb_error **err);

#endif
