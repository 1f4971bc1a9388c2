/* Reading tar archives of any compression, detecting them, and copying one into a writer. */
#include "cbuild/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive-internal.h"
#include "util.h"

#define BLOCK (64 * 1024)

enum cb_tar_type
cb__tar_type_of(struct archive_entry *e)
{
  if (archive_entry_hardlink(e) != NULL)
    return CB_TAR_HARDLINK;
  switch (archive_entry_filetype(e)) {
  case AE_IFREG:
    return CB_TAR_FILE;
  case AE_IFDIR:
    return CB_TAR_DIR;
  case AE_IFLNK:
    return CB_TAR_SYMLINK;
  case AE_IFCHR:
    return CB_TAR_CHAR;
  case AE_IFBLK:
    return CB_TAR_BLOCK;
  case AE_IFIFO:
    return CB_TAR_FIFO;
  default:
    return 0;
  }
}

static struct archive *
new_tar_reader(void)
{
  struct archive *a = archive_read_new();
  if (a == NULL)
    cb__die_oom();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  return a;
}

struct cb_tar_reader *
cb_tar_reader_open(const char *path, struct cb_error **err)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    cb_error_set(err, CB_E_SYS, errno, "open '%s'", path);
    return NULL;
  }
  struct cb_tar_reader *r = cb_tar_reader_open_fd(fd, err);
  if (r == NULL)
    cb_error_wrap(err, "open '%s'", path);
  return r;
}

/* libarchive reads the fd through these, so the reader owns and closes it. */
struct fd_source {
  int fd;
  char buf[BLOCK];
};

static la_ssize_t
fd_read(struct archive *a, void *client, const void **buf)
{
  struct fd_source *src = client;
  ssize_t n = cb_read_retry(src->fd, src->buf, sizeof src->buf);
  if (n < 0) {
    archive_set_error(a, errno, "read: %s", strerror(errno));
    return -1;
  }
  *buf = src->buf;
  return n;
}

static int
fd_close(struct archive *a, void *client)
{
  struct fd_source *src = client;
  (void)a;
  close(src->fd);
  free(src);
  return ARCHIVE_OK;
}

struct cb_tar_reader *
cb_tar_reader_open_fd(int fd, struct cb_error **err)
{
  struct cb_tar_reader *r = cb__xcalloc(1, sizeof *r);
  struct fd_source *src = cb__xmalloc(sizeof *src);

  src->fd = fd;
  r->a = new_tar_reader();
  /* archive_read_open calls fd_close on failure too, so src is never leaked nor closed twice */
  if (archive_read_open(r->a, src, NULL, fd_read, fd_close) != ARCHIVE_OK) {
    cb__archive_error(err, r->a, "read archive");
    cb_tar_reader_close(r);
    return NULL;
  }
  return r;
}

int
cb_tar_reader_next(struct cb_tar_reader *r, struct cb_tar_header *h, struct cb_error **err)
{
  struct archive_entry *e;
  int ret;

  r->cur = NULL;
  r->nxattrs = 0;
  ret = archive_read_next_header(r->a, &e);
  if (ret == ARCHIVE_EOF)
    return 0;
  if (ret < ARCHIVE_WARN)
    return cb__archive_error(err, r->a, "read archive entry");
  r->cur = e;
  memset(h, 0, sizeof *h);
  h->name = archive_entry_pathname(e);
  if (h->name == NULL)
    h->name = "";
  h->type = cb__tar_type_of(e);
  h->size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;
  h->mode = (uint32_t)(archive_entry_perm(e) & 07777);
  h->uid = archive_entry_uid(e);
  h->gid = archive_entry_gid(e);
  h->mtime = (int64_t)archive_entry_mtime(e);
  if (h->type == CB_TAR_HARDLINK)
    h->linkname = archive_entry_hardlink(e);
  else if (h->type == CB_TAR_SYMLINK)
    h->linkname = archive_entry_symlink(e);
  if (h->type == CB_TAR_HARDLINK)
    h->size = 0; /* a hard link carries no data of its own */
  h->devmajor = (uint32_t)archive_entry_rdevmajor(e);
  h->devminor = (uint32_t)archive_entry_rdevminor(e);
  if (archive_entry_xattr_reset(e) > 0) {
    const char *name;
    const void *value;
    size_t len;
    while (archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK) {
      if (r->nxattrs == r->xcap) {
        r->xcap = r->xcap ? r->xcap * 2 : 4;
        r->xattrs = cb__xrealloc(r->xattrs, r->xcap * sizeof *r->xattrs);
      }
      r->xattrs[r->nxattrs++] = (struct cb_tar_xattr){ .name = name, .value = value, .len = len };
    }
  }
  h->xattrs = r->xattrs;
  h->nxattrs = r->nxattrs;
  return 1;
}

ssize_t
cb_tar_reader_read(struct cb_tar_reader *r, void *buf, size_t len, struct cb_error **err)
{
  la_ssize_t n;

  if (r->cur == NULL)
    return 0;
  n = archive_read_data(r->a, buf, len);
  if (n < 0) {
    cb__archive_error(err, r->a, "read archive data");
    return -1;
  }
  return (ssize_t)n;
}

int
cb_tar_reader_ingest(struct cb_tar_reader *r, struct cb_store *s, const struct cb_digest *expect,
                     struct cb_digest *out, uint64_t *size, struct cb_error **err)
{
  struct cb_blob_writer *w = cb_blob_writer_new(s, err);
  cb_autofree char *buf = NULL;

  if (w == NULL)
    return -1;
  buf = cb__xmalloc(BLOCK);
  for (;;) {
    ssize_t n = cb_tar_reader_read(r, buf, BLOCK, err);
    if (n < 0) {
      cb_blob_writer_abort(w);
      return -1;
    }
    if (n == 0)
      break;
    if (cb_blob_writer_write(w, buf, (size_t)n, err) < 0) {
      cb_blob_writer_abort(w);
      return -1;
    }
  }
  return cb_blob_writer_commit(w, expect, out, size, err);
}

const char *
cb_tar_reader_filter(struct cb_tar_reader *r)
{
  switch (archive_filter_code(r->a, 0)) {
  case ARCHIVE_FILTER_NONE:
    return "none";
  case ARCHIVE_FILTER_GZIP:
    return "gzip";
  case ARCHIVE_FILTER_ZSTD:
    return "zstd";
  case ARCHIVE_FILTER_XZ:
    return "xz";
  case ARCHIVE_FILTER_BZIP2:
    return "bzip2";
  default: {
    const char *name = archive_filter_name(r->a, 0);
    return name ? name : "unknown";
  }
  }
}

void
cb_tar_reader_close(struct cb_tar_reader *r)
{
  if (r == NULL)
    return;
  if (r->a != NULL)
    archive_read_free(r->a);
  free(r->xattrs);
  free(r);
}

int
cb_tar_detect(const char *path, const char **kind, struct cb_error **err)
{
  struct cb_tar_reader *r;
  struct archive_entry *e;
  int ret;
  const char *filter;

  *kind = NULL;
  r = cb_tar_reader_open(path, err);
  if (r == NULL) {
    /* unreadable as an archive is an answer ("not a tar"), a missing file is an error */
    if ((*err)->kind == CB_E_SYS)
      return -1;
    cb_error_free(err);
    return 0;
  }
  ret = archive_read_next_header(r->a, &e);
  /* format_empty accepts a zero-length file: that is no archive for ADD's purpose */
  if ((ret == ARCHIVE_OK || ret == ARCHIVE_WARN || ret == ARCHIVE_EOF) &&
      (archive_format(r->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR) {
    filter = cb_tar_reader_filter(r);
    if (strcmp(filter, "none") == 0)
      *kind = "tar";
    else if (strcmp(filter, "gzip") == 0)
      *kind = "gzip+tar";
    else if (strcmp(filter, "zstd") == 0)
      *kind = "zstd+tar";
    else if (strcmp(filter, "xz") == 0)
      *kind = "xz+tar";
    else if (strcmp(filter, "bzip2") == 0)
      *kind = "bzip2+tar";
  }
  cb_tar_reader_close(r);
  return 0;
}

static int
copy_one(struct cb_tar_reader *r, struct cb_tar_writer *w, const struct cb_tar_header *h,
         const char *prefix, bool *skipped, struct cb_error **err)
{
  cb_autofree char *name = NULL;
  cb_autofree char *full = NULL;
  cb_autofree char *link = NULL;
  cb_autofree char *fulllink = NULL;
  struct cb_tar_entry e = { 0 };

  *skipped = false;
  if (h->type == 0) {
    *skipped = true; /* sockets and the like have no place in a layer */
    return 0;
  }
  if (cb__tar_clean_name(h->name, &name, err) < 0)
    return -1;
  if (name[0] == '\0' && prefix[0] == '\0') {
    *skipped = true; /* "./" itself: the layer's root is not an entry */
    return 0;
  }
  full = cb__xasprintf("%s%s%s", prefix, prefix[0] && name[0] ? "/" : "", name);
  e.name = full;
  e.type = h->type;
  e.mode = h->mode;
  e.uid = h->uid;
  e.gid = h->gid;
  e.mtime = h->mtime;
  e.devmajor = h->devmajor;
  e.devminor = h->devminor;
  e.xattrs = h->xattrs;
  e.nxattrs = h->nxattrs;
  if (h->type == CB_TAR_SYMLINK) {
    e.linkname = h->linkname ? h->linkname : "";
  } else if (h->type == CB_TAR_HARDLINK) {
    if (cb__tar_clean_name(h->linkname ? h->linkname : "", &link, err) < 0)
      return cb_error_wrap(err, "hard link '%s'", h->name);
    if (link[0] == '\0')
      return cb_error_set(err, CB_E_INVALID, 0, "hard link '%s' has no target", h->name);
    fulllink = cb__xasprintf("%s%s%s", prefix, prefix[0] ? "/" : "", link);
    e.linkname = fulllink;
  } else if (h->type == CB_TAR_FILE && h->size > 0) {
    e.src = CB_TAR_SRC_READER;
    e.reader = r;
  }
  return cb_tar_writer_add(w, &e, err);
}

int
cb_tar_copy(struct cb_tar_reader *r, struct cb_tar_writer *w, const char *prefix, uint64_t *count,
            struct cb_error **err)
{
  cb_autofree char *pre = NULL;
  struct cb_tar_header h;
  uint64_t n = 0;
  int ret;

  if (cb__tar_clean_name(prefix ? prefix : "", &pre, err) < 0)
    return -1;
  while ((ret = cb_tar_reader_next(r, &h, err)) > 0) {
    bool skipped;
    if (copy_one(r, w, &h, pre, &skipped, err) < 0)
      return -1;
    if (!skipped)
      n++;
  }
  if (ret < 0)
    return -1;
  if (count != NULL)
    *count = n;
  return 0;
}
