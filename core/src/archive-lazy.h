/*
 * libarchive, opened with dlopen the first time a tar is read or written.  Linked normally,
 * libarchive brings libxml2, ICU and libstdc++ along, about 2.5 ms of dynamic linking at every
 * start, while `run`, `ps` or a cached build never touch a tar.  The archive*.c files include
 * this instead of <archive.h>: each libarchive function name below is a macro that calls
 * through the table, so their code reads as plain libarchive.
 */
#ifndef CBUILD_ARCHIVE_LAZY_H
#define CBUILD_ARCHIVE_LAZY_H

#include <archive.h>
#include <archive_entry.h>

/* Every libarchive function cbuild calls (add one here when a file starts using it). */
#define CB_LIBARCHIVE_FUNCTIONS(X)                                                                 \
  X(archive_entry_clear)                                                                           \
  X(archive_entry_filetype)                                                                        \
  X(archive_entry_free)                                                                            \
  X(archive_entry_gid)                                                                             \
  X(archive_entry_hardlink)                                                                        \
  X(archive_entry_mtime)                                                                           \
  X(archive_entry_new)                                                                             \
  X(archive_entry_pathname)                                                                        \
  X(archive_entry_perm)                                                                            \
  X(archive_entry_rdevmajor)                                                                       \
  X(archive_entry_rdevminor)                                                                       \
  X(archive_entry_set_filetype)                                                                    \
  X(archive_entry_set_gid)                                                                         \
  X(archive_entry_set_hardlink)                                                                    \
  X(archive_entry_set_mtime)                                                                       \
  X(archive_entry_set_pathname)                                                                    \
  X(archive_entry_set_perm)                                                                        \
  X(archive_entry_set_rdevmajor)                                                                   \
  X(archive_entry_set_rdevminor)                                                                   \
  X(archive_entry_set_size)                                                                        \
  X(archive_entry_set_symlink)                                                                     \
  X(archive_entry_set_uid)                                                                         \
  X(archive_entry_size)                                                                            \
  X(archive_entry_size_is_set)                                                                     \
  X(archive_entry_symlink)                                                                         \
  X(archive_entry_uid)                                                                             \
  X(archive_entry_xattr_add_entry)                                                                 \
  X(archive_entry_xattr_next)                                                                      \
  X(archive_entry_xattr_reset)                                                                     \
  X(archive_errno)                                                                                 \
  X(archive_error_string)                                                                          \
  X(archive_filter_code)                                                                           \
  X(archive_filter_name)                                                                           \
  X(archive_format)                                                                                \
  X(archive_read_data)                                                                             \
  X(archive_read_data_block)                                                                       \
  X(archive_read_free)                                                                             \
  X(archive_read_new)                                                                              \
  X(archive_read_next_header)                                                                      \
  X(archive_read_open)                                                                             \
  X(archive_read_open_fd)                                                                          \
  X(archive_read_support_filter_all)                                                               \
  X(archive_read_support_filter_bzip2)                                                             \
  X(archive_read_support_filter_gzip)                                                              \
  X(archive_read_support_filter_xz)                                                                \
  X(archive_read_support_filter_zstd)                                                              \
  X(archive_read_support_format_empty)                                                             \
  X(archive_read_support_format_raw)                                                               \
  X(archive_read_support_format_tar)                                                               \
  X(archive_set_error)                                                                             \
  X(archive_write_add_filter_none)                                                                 \
  X(archive_write_close)                                                                           \
  X(archive_write_data)                                                                            \
  X(archive_write_finish_entry)                                                                    \
  X(archive_write_free)                                                                            \
  X(archive_write_header)                                                                          \
  X(archive_write_new)                                                                             \
  X(archive_write_open)                                                                            \
  X(archive_write_set_bytes_in_last_block)                                                         \
  X(archive_write_set_bytes_per_block)                                                             \
  X(archive_write_set_format_option)                                                               \
  X(archive_write_set_format_pax_restricted)

struct cb__libarchive {
#define X(fn) __typeof__(fn) *fn;
  CB_LIBARCHIVE_FUNCTIONS(X)
#undef X
};

/* The table, libarchive loaded on the first call; a missing libarchive ends the process with a
 * one-line message (it is a hard dependency, like libc). */
const struct cb__libarchive *cb__libarchive(void);

#ifndef CB_LIBARCHIVE_NO_MACROS
#define archive_entry_clear               (cb__libarchive()->archive_entry_clear)
#define archive_entry_filetype            (cb__libarchive()->archive_entry_filetype)
#define archive_entry_free                (cb__libarchive()->archive_entry_free)
#define archive_entry_gid                 (cb__libarchive()->archive_entry_gid)
#define archive_entry_hardlink            (cb__libarchive()->archive_entry_hardlink)
#define archive_entry_mtime               (cb__libarchive()->archive_entry_mtime)
#define archive_entry_new                 (cb__libarchive()->archive_entry_new)
#define archive_entry_pathname            (cb__libarchive()->archive_entry_pathname)
#define archive_entry_perm                (cb__libarchive()->archive_entry_perm)
#define archive_entry_rdevmajor           (cb__libarchive()->archive_entry_rdevmajor)
#define archive_entry_rdevminor           (cb__libarchive()->archive_entry_rdevminor)
#define archive_entry_set_filetype        (cb__libarchive()->archive_entry_set_filetype)
#define archive_entry_set_gid             (cb__libarchive()->archive_entry_set_gid)
#define archive_entry_set_hardlink        (cb__libarchive()->archive_entry_set_hardlink)
#define archive_entry_set_mtime           (cb__libarchive()->archive_entry_set_mtime)
#define archive_entry_set_pathname        (cb__libarchive()->archive_entry_set_pathname)
#define archive_entry_set_perm            (cb__libarchive()->archive_entry_set_perm)
#define archive_entry_set_rdevmajor       (cb__libarchive()->archive_entry_set_rdevmajor)
#define archive_entry_set_rdevminor       (cb__libarchive()->archive_entry_set_rdevminor)
#define archive_entry_set_size            (cb__libarchive()->archive_entry_set_size)
#define archive_entry_set_symlink         (cb__libarchive()->archive_entry_set_symlink)
#define archive_entry_set_uid             (cb__libarchive()->archive_entry_set_uid)
#define archive_entry_size                (cb__libarchive()->archive_entry_size)
#define archive_entry_size_is_set         (cb__libarchive()->archive_entry_size_is_set)
#define archive_entry_symlink             (cb__libarchive()->archive_entry_symlink)
#define archive_entry_uid                 (cb__libarchive()->archive_entry_uid)
#define archive_entry_xattr_add_entry     (cb__libarchive()->archive_entry_xattr_add_entry)
#define archive_entry_xattr_next          (cb__libarchive()->archive_entry_xattr_next)
#define archive_entry_xattr_reset         (cb__libarchive()->archive_entry_xattr_reset)
#define archive_errno                     (cb__libarchive()->archive_errno)
#define archive_error_string              (cb__libarchive()->archive_error_string)
#define archive_filter_code               (cb__libarchive()->archive_filter_code)
#define archive_filter_name               (cb__libarchive()->archive_filter_name)
#define archive_format                    (cb__libarchive()->archive_format)
#define archive_read_data                 (cb__libarchive()->archive_read_data)
#define archive_read_data_block           (cb__libarchive()->archive_read_data_block)
#define archive_read_free                 (cb__libarchive()->archive_read_free)
#define archive_read_new                  (cb__libarchive()->archive_read_new)
#define archive_read_next_header          (cb__libarchive()->archive_read_next_header)
#define archive_read_open                 (cb__libarchive()->archive_read_open)
#define archive_read_open_fd              (cb__libarchive()->archive_read_open_fd)
#define archive_read_support_filter_all   (cb__libarchive()->archive_read_support_filter_all)
#define archive_read_support_filter_bzip2 (cb__libarchive()->archive_read_support_filter_bzip2)
#define archive_read_support_filter_gzip  (cb__libarchive()->archive_read_support_filter_gzip)
#define archive_read_support_filter_xz    (cb__libarchive()->archive_read_support_filter_xz)
#define archive_read_support_filter_zstd  (cb__libarchive()->archive_read_support_filter_zstd)
#define archive_read_support_format_empty (cb__libarchive()->archive_read_support_format_empty)
#define archive_read_support_format_raw   (cb__libarchive()->archive_read_support_format_raw)
#define archive_read_support_format_tar   (cb__libarchive()->archive_read_support_format_tar)
#define archive_set_error                 (cb__libarchive()->archive_set_error)
#define archive_write_add_filter_none     (cb__libarchive()->archive_write_add_filter_none)
#define archive_write_close               (cb__libarchive()->archive_write_close)
#define archive_write_data                (cb__libarchive()->archive_write_data)
#define archive_write_finish_entry        (cb__libarchive()->archive_write_finish_entry)
#define archive_write_free                (cb__libarchive()->archive_write_free)
#define archive_write_header              (cb__libarchive()->archive_write_header)
#define archive_write_new                 (cb__libarchive()->archive_write_new)
#define archive_write_open                (cb__libarchive()->archive_write_open)
#define archive_write_set_bytes_in_last_block                                                      \
  (cb__libarchive()->archive_write_set_bytes_in_last_block)
#define archive_write_set_bytes_per_block (cb__libarchive()->archive_write_set_bytes_per_block)
#define archive_write_set_format_option   (cb__libarchive()->archive_write_set_format_option)
#define archive_write_set_format_pax_restricted                                                    \
  (cb__libarchive()->archive_write_set_format_pax_restricted)
#endif

#endif
