/* Memoized file digests of a build context, saved between builds: see cbuild/tree.h. */
#include "cbuild/tree.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const char MAGIC[] = "cbuild-context-hashes 1\n";

enum {
  REC_MINE = 1 << 0,    /* read by the current load (a later line may override it) */
  REC_TOUCHED = 1 << 1, /* used by this build */
  REC_RACY = 1 << 2,    /* used now, never saved */
};

struct rec {
  char *path; /* NULL: an empty slot */
  struct cb_digest d;
  int64_t size, mtime, mtime_ns, ctime, ctime_ns;
  uint64_t ino;
  unsigned flags;
};

struct cb_hashcache {
  struct rec *slots; /* open addressing, linear probing; cap is a power of two */
  size_t cap, n;
  const char **changed; /* paths (owned by their records) computed by this build, in order */
  size_t nchanged, changed_cap;
  bool dirty;
  double now; /* when the first digest was computed, in seconds (0: not yet) */
  uint64_t reads;
  char *loaded;  /* the path load read, NULL when none */
  size_t lines;  /* lines in that file */
  size_t unique; /* distinct paths in it */
};

static uint64_t
hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The slot of PATH, or the empty slot where it would go. */
static size_t
slot_of(const struct cb_hashcache *c, const char *path)
{
  size_t i = (size_t)hash_str(path) & (c->cap - 1);
  while (c->slots[i].path != NULL && strcmp(c->slots[i].path, path) != 0)
    i = (i + 1) & (c->cap - 1);
  return i;
}

static void
grow(struct cb_hashcache *c)
{
  struct rec *old = c->slots;
  size_t ocap = c->cap;

  c->cap = ocap ? ocap * 2 : 1024;
  c->slots = cb__xcalloc(c->cap, sizeof *c->slots);
  for (size_t i = 0; i < ocap; i++)
    if (old[i].path != NULL)
      c->slots[slot_of(c, old[i].path)] = old[i];
  free(old);
}

/* The record of PATH, created (zeroed, path set) when absent. */
static struct rec *
lookup(struct cb_hashcache *c, const char *path, bool *fresh)
{
  size_t i;

  if ((c->n + 1) * 4 > c->cap * 3)
    grow(c);
  i = slot_of(c, path);
  *fresh = c->slots[i].path == NULL;
  if (*fresh) {
    c->slots[i].path = cb__xstrdup(path);
    c->n++;
  }
  return &c->slots[i];
}

struct cb_hashcache *
cb_hashcache_new(void)
{
  struct cb_hashcache *c = cb__xcalloc(1, sizeof *c);
  grow(c);
  return c;
}

void
cb_hashcache_free(struct cb_hashcache *c)
{
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->cap; i++)
    free(c->slots[i].path);
  free(c->slots);
  free(c->changed);
  free(c->loaded);
  free(c);
}

uint64_t
cb_hashcache_reads(const struct cb_hashcache *c)
{
  return c->reads;
}

static bool
same_ident(const struct rec *r, const struct cb_tree_entry *e)
{
  return r->size == e->size && r->mtime == e->mtime && r->mtime_ns == e->mtime_ns &&
         r->ctime == e->ctime && r->ctime_ns == e->ctime_ns && r->ino == e->ino;
}

int
cb_hashcache_file(struct cb_hashcache *c, const char *path, const struct cb_tree_entry *e,
                  struct cb_digest *out, struct cb_error **err)
{
  bool fresh;
  struct rec *r = lookup(c, path, &fresh);
  struct cb_digest d;

  r->flags |= REC_TOUCHED;
  if (!fresh && same_ident(r, e)) {
    *out = r->d;
    return 0;
  }
  if (cb_digest_file_at(AT_FDCWD, path, &d, NULL, err) < 0) {
    if (fresh) {
      /* leave no half record: it would be saved with a zero digest */
      r->size = -1;
      r->flags |= REC_RACY;
    }
    return -1;
  }
  c->reads++;
  if (c->now == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  }
  r->d = d;
  r->size = e->size;
  r->mtime = e->mtime;
  r->mtime_ns = e->mtime_ns;
  r->ctime = e->ctime;
  r->ctime_ns = e->ctime_ns;
  r->ino = e->ino;
  r->flags &= ~(unsigned)REC_RACY;
  /* changed within the timestamp granularity of now: could change again with the same stat */
  if ((double)e->mtime + 2 >= c->now || (double)e->ctime + 2 >= c->now)
    r->flags |= REC_RACY;
  if (c->nchanged == c->changed_cap) {
    c->changed_cap = c->changed_cap ? c->changed_cap * 2 : 64;
    c->changed = cb__xrealloc(c->changed, c->changed_cap * sizeof *c->changed);
  }
  c->changed[c->nchanged++] = r->path;
  c->dirty = true;
  *out = d;
  return 0;
}

static char *
unescape(const char *s)
{
  size_t n = strlen(s), k = 0;
  char *out = cb__xmalloc(n + 1);

  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
        isxdigit((unsigned char)s[i + 2])) {
      char hex[3] = { s[i + 1], s[i + 2], '\0' };
      out[k++] = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      out[k++] = s[i];
    }
  }
  out[k] = '\0';
  return out;
}

/* One saved line (without its newline) into R's fields and *path; false when malformed. */
static bool
parse_line(char *line, struct rec *r, char **path)
{
  char *p = line, *end;
  int64_t *nums[] = { &r->size, &r->mtime, &r->mtime_ns, &r->ctime, &r->ctime_ns };
  char hex[CB_DIGEST_STR_LEN];

  if (strncmp(p, "sha256:", 7) != 0 || strlen(p) < CB_DIGEST_STR_LEN)
    return false;
  memcpy(hex, p, CB_DIGEST_STR_LEN - 1);
  hex[CB_DIGEST_STR_LEN - 1] = '\0';
  if (cb_digest_parse(hex, &r->d, NULL) < 0)
    return false;
  p += CB_DIGEST_STR_LEN - 1;
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    if (*p != ' ')
      return false;
    errno = 0;
    *nums[i] = strtoll(p + 1, &end, 10);
    if (end == p + 1 || errno != 0)
      return false;
    p = end;
  }
  if (*p != ' ' || p[1] == '-')
    return false;
  errno = 0;
  r->ino = strtoull(p + 1, &end, 10);
  if (end == p + 1 || errno != 0 || *end != ' ' || end[1] == '\0')
    return false;
  *path = end + 1;
  return true;
}

int
cb_hashcache_load(struct cb_hashcache *c, const char *path, struct cb_error **err)
{
  cb_autofree char *data = NULL;
  size_t len, lines = 0, unique = 0;
  char *p, *nl;

  if (cb__read_file_at(AT_FDCWD, path, &data, &len, err) < 0) {
    if ((*err)->errnum == ENOENT) {
      cb_error_free(err);
      return 0;
    }
    return -1;
  }
  if (len < sizeof MAGIC - 1 || memcmp(data, MAGIC, sizeof MAGIC - 1) != 0)
    return 0; /* another format: start afresh */
  for (p = data + sizeof MAGIC - 1; p < data + len; p = nl + 1) {
    struct rec r = { 0 }, *slot;
    char *name, *host;
    bool fresh;

    nl = memchr(p, '\n', (size_t)(data + len - p));
    if (nl == NULL)
      break; /* a torn last line */
    *nl = '\0';
    if (!parse_line(p, &r, &name))
      continue;
    lines++;
    host = strchr(name, '%') ? unescape(name) : name;
    slot = lookup(c, host, &fresh);
    if (host != name)
      free(host);
    if (fresh) {
      unique++;
      r.flags = REC_MINE;
    } else if (!(slot->flags & REC_MINE)) {
      continue; /* known before this load: ours wins */
    } else {
      r.flags = slot->flags;
    }
    r.path = slot->path;
    *slot = r;
  }
  for (size_t i = 0; i < c->cap; i++)
    c->slots[i].flags &= ~(unsigned)REC_MINE;
  free(c->loaded);
  c->loaded = cb__xstrdup(path);
  c->lines = lines;
  c->unique = unique;
  return 0;
}

/* PATH's escaped form onto B (length *LEN, capacity *CAP). */
static void
put_line(char **b, size_t *len, size_t *cap, const struct rec *r)
{
  char hex[CB_DIGEST_STR_LEN];
  size_t need = strlen(r->path) * 3 + 200;

  if (*len + need > *cap) {
    *cap = (*len + need) * 2;
    *b = cb__xrealloc(*b, *cap);
  }
  cb_digest_string(&r->d, hex, sizeof hex);
  *len += (size_t)snprintf(*b + *len, *cap - *len,
                           "%s %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRIu64
                           " ",
                           hex, r->size, r->mtime, r->mtime_ns, r->ctime, r->ctime_ns, r->ino);
  for (const char *s = r->path; *s; s++) {
    if (*s == '%' || *s == '\n') {
      *len += (size_t)snprintf(*b + *len, *cap - *len, "%%%02X", (unsigned char)*s);
    } else {
      (*b)[(*len)++] = *s;
    }
  }
  (*b)[(*len)++] = '\n';
}

static bool
savable(const struct rec *r)
{
  return r->path != NULL && !(r->flags & REC_RACY);
}

/* Append this build's digests to the file load read, when that keeps it small: a rebuild
 * after one file changed writes one line, not 20,000.  A torn append (a crash) loses only its
 * own lines: each append starts on a fresh line.  1 when done, 0 when a rewrite is needed. */
static int
append(struct cb_hashcache *c, const char *path)
{
  cb_autofree char *buf = NULL;
  size_t len = 0, cap = 0, out = 0;
  cb_autoclose int fd = -1;

  if (c->loaded == NULL || strcmp(c->loaded, path) != 0 || c->unique > CB_HASHCACHE_MAX)
    return 0;
  for (size_t k = 0; k < c->nchanged; k++) {
    const struct rec *r = &c->slots[slot_of(c, c->changed[k])];
    if (savable(r)) {
      if (len == 0) {
        buf = cb__xmalloc(2);
        cap = 2;
        buf[len++] = '\n';
      }
      put_line(&buf, &len, &cap, r);
      out++;
    }
  }
  if (c->lines + out - c->unique > c->unique / 4)
    return 0; /* mostly superseded lines: rewrite it compact */
  if (out > 0) {
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || cb_write_all(fd, buf, len) < 0)
      return 0;
  }
  c->lines += out;
  c->nchanged = 0;
  return 1;
}

static int
cmp_path(const void *a, const void *b)
{
  return strcmp((*(const struct rec *const *)a)->path, (*(const struct rec *const *)b)->path);
}

int
cb_hashcache_save(struct cb_hashcache *c, const char *path, struct cb_error **err)
{
  cb_autofree const struct rec **keep = NULL;
  cb_autofree char *buf = NULL, *dir = NULL;
  size_t n = 0, len, cap;
  bool all = c->n <= CB_HASHCACHE_MAX;
  char *slash;

  if (!c->dirty && access(path, F_OK) == 0)
    return 0;
  if (append(c, path)) {
    c->dirty = false;
    return 0;
  }
  keep = cb__xmalloc((c->n ? c->n : 1) * sizeof *keep);
  for (size_t i = 0; i < c->cap; i++)
    if (savable(&c->slots[i]) && (all || (c->slots[i].flags & REC_TOUCHED)))
      keep[n++] = &c->slots[i];
  qsort(keep, n, sizeof *keep, cmp_path);
  cap = sizeof MAGIC + n * 160;
  buf = cb__xmalloc(cap);
  memcpy(buf, MAGIC, sizeof MAGIC - 1);
  len = sizeof MAGIC - 1;
  for (size_t i = 0; i < n; i++)
    put_line(&buf, &len, &cap, keep[i]);
  dir = cb__xstrdup(path);
  slash = strrchr(dir, '/');
  if (slash != NULL && slash != dir) {
    *slash = '\0';
    if (cb__mkdir_p_at(AT_FDCWD, dir, 0700, err) < 0)
      return -1;
  }
  if (cb__atomic_write_at(AT_FDCWD, path, buf, len, 0600, err) < 0)
    return -1;
  c->dirty = false;
  c->nchanged = 0;
  free(c->loaded);
  c->loaded = cb__xstrdup(path);
  c->lines = c->unique = n;
  return 0;
}
