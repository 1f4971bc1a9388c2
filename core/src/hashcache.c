/* Memoized file digests of a build context, saved between builds: see cbuild/tree.h. */
#include "cbuild/tree.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* The text format of earlier versions (still read) and the binary one written now. */
static const char MAGIC[] = "cbuild-context-hashes 1\n";
static const char MAGIC_BIN[] = "cbuild-context-hashes 2\n";

/* One record of the binary format, followed by its path and 1 to 8 NUL bytes (the next record
 * starts 8-aligned).  Host byte order: the file never leaves this machine.  check covers the
 * record (check as 0) and the path, so a torn or damaged record ends the load there. */
struct disk_rec {
  uint8_t d[CB_DIGEST_LEN];
  int64_t size, mtime, mtime_ns, ctime, ctime_ns;
  uint64_t ino;
  uint32_t plen;
  uint32_t zero;
  uint64_t check;
};

enum {
  REC_MINE = 1 << 0,    /* read by the current load (a later line may override it) */
  REC_TOUCHED = 1 << 1, /* used by this build */
  REC_RACY = 1 << 2,    /* used now, never saved */
};

struct rec {
  char *path;
  uint64_t hash; /* hash_str(path) */
  struct cb_digest d;
  int64_t size, mtime, mtime_ns, ctime, ctime_ns;
  uint64_t ino;
  unsigned flags;
};

/* A slot of the table: small, so that probing stays within a few cache lines. */
struct slot {
  uint32_t rec;  /* index in recs + 1; 0: empty */
  uint32_t hash; /* the record's hash, high bits */
};

struct cb_hashcache {
  struct rec *recs; /* every record, in the order they came */
  size_t n, rcap;
  struct slot *slots; /* open addressing into recs, linear probing; cap is a power of two */
  size_t cap;
  const char **changed; /* paths (owned by their records) computed by this build, in order */
  size_t nchanged, changed_cap;
  bool dirty;
  double now; /* when the first digest was computed, in seconds (0: not yet) */
  uint64_t reads;
  char *loaded;  /* the path load read, NULL when none */
  size_t lines;  /* records in that file */
  size_t unique; /* distinct paths in it */
  bool bin;      /* it is in the binary format: records can be appended */
  size_t bytes;  /* its length up to its last whole record */
  char **kept;   /* blocks that paths point into, freed with the cache */
  size_t nkept, kept_cap;
  char *block; /* the block new paths are copied into */
  size_t block_left;
};

#define PATH_BLOCK (64 * 1024)

static uint64_t
hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The slot of PATH (whose hash_str is H), or the empty slot where it would go. */
static size_t
slot_of(const struct cb_hashcache *c, const char *path, uint64_t h)
{
  size_t i = (size_t)h & (c->cap - 1);
  uint32_t hi = (uint32_t)(h >> 32);

  for (;; i = (i + 1) & (c->cap - 1)) {
    const struct slot *sl = &c->slots[i];
    if (sl->rec == 0 || (sl->hash == hi && strcmp(c->recs[sl->rec - 1].path, path) == 0))
      return i;
  }
}

static void
grow(struct cb_hashcache *c)
{
  c->cap = c->cap ? c->cap * 2 : 1024;
  free(c->slots);
  c->slots = cb__xcalloc(c->cap, sizeof *c->slots);
  for (size_t k = 0; k < c->n; k++) {
    size_t i = (size_t)c->recs[k].hash & (c->cap - 1);
    while (c->slots[i].rec != 0)
      i = (i + 1) & (c->cap - 1);
    c->slots[i].rec = (uint32_t)(k + 1);
    c->slots[i].hash = (uint32_t)(c->recs[k].hash >> 32);
  }
}

/* Room for N more records without growing.  At most half full: linear probing stays short
 * (a miss looks at 2.5 slots on average, 8.5 when three quarters full). */
static void
reserve(struct cb_hashcache *c, size_t n)
{
  if (c->n + n > c->rcap) {
    c->rcap = c->n + n > c->rcap * 2 ? c->n + n : c->rcap * 2;
    c->recs = cb__xrealloc(c->recs, c->rcap * sizeof *c->recs);
  }
  while ((c->n + n + 1) * 2 > c->cap)
    grow(c);
}

/* Keep BUF (malloc'd) until the cache is freed; returns it. */
static char *
keep_block(struct cb_hashcache *c, char *buf)
{
  if (c->nkept == c->kept_cap) {
    c->kept_cap = c->kept_cap ? c->kept_cap * 2 : 16;
    c->kept = cb__xrealloc(c->kept, c->kept_cap * sizeof *c->kept);
  }
  c->kept[c->nkept++] = buf;
  return buf;
}

/* A copy of S that lives as long as the cache: records are never removed, so their paths are
 * carved out of big blocks (freed at once) rather than allocated one by one. */
static char *
path_copy(struct cb_hashcache *c, const char *s)
{
  size_t n = strlen(s) + 1;
  char *p;

  if (n > PATH_BLOCK / 4)
    return memcpy(keep_block(c, cb__xmalloc(n)), s, n);
  if (c->block_left < n) {
    c->block = keep_block(c, cb__xmalloc(PATH_BLOCK));
    c->block_left = PATH_BLOCK;
  }
  p = c->block + PATH_BLOCK - c->block_left;
  c->block_left -= n;
  return memcpy(p, s, n);
}

/* The record of PATH, created (zeroed, path set) when absent.  STABLE: PATH lives as long as
 * the cache, and a new record may point to it rather than copy it. */
static struct rec *
lookup_path(struct cb_hashcache *c, const char *path, bool stable, bool *fresh)
{
  uint64_t h = hash_str(path);
  size_t i;

  reserve(c, 1);
  i = slot_of(c, path, h);
  *fresh = c->slots[i].rec == 0;
  if (*fresh) {
    struct rec *r = &c->recs[c->n];
    memset(r, 0, sizeof *r);
    r->path = stable ? (char *)path : path_copy(c, path);
    r->hash = h;
    c->slots[i].rec = (uint32_t)++c->n;
    c->slots[i].hash = (uint32_t)(h >> 32);
  }
  return &c->recs[c->slots[i].rec - 1];
}

static struct rec *
lookup(struct cb_hashcache *c, const char *path, bool *fresh)
{
  return lookup_path(c, path, false, fresh);
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
  for (size_t i = 0; i < c->nkept; i++)
    free(c->kept[i]);
  free(c->kept);
  free(c->slots);
  free(c->recs);
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

/* The record of PATH for the regular file E (touched by this build); *hit when its digest is
 * known.  A new record is left racy (never saved) until file_set gives it a digest. */
static struct rec *
file_rec(struct cb_hashcache *c, const char *path, const struct cb_tree_entry *e, bool *hit)
{
  bool fresh;
  struct rec *r = lookup(c, path, &fresh);

  r->flags |= REC_TOUCHED;
  *hit = !fresh && same_ident(r, e);
  if (fresh) {
    r->size = -1; /* no half record: it would be saved with a zero digest */
    r->flags |= REC_RACY;
  }
  return r;
}

/* Record D, just read from the file E, in R. */
static void
file_set(struct cb_hashcache *c, struct rec *r, const struct cb_tree_entry *e,
         const struct cb_digest *d)
{
  c->reads++;
  if (c->now == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  }
  r->d = *d;
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
}

int
cb_hashcache_file(struct cb_hashcache *c, const char *path, const struct cb_tree_entry *e,
                  struct cb_digest *out, struct cb_error **err)
{
  bool hit;
  struct rec *r = file_rec(c, path, e, &hit);
  struct cb_digest d;

  if (hit) {
    *out = r->d;
    return 0;
  }
  if (cb_digest_file_at(AT_FDCWD, path, &d, NULL, err) < 0)
    return -1;
  file_set(c, r, e, &d);
  *out = d;
  return 0;
}

/* The files a batch must read, shared by the threads that read them. */
struct reads {
  const char *const *paths;
  const size_t *which; /* indexes into paths */
  struct cb_digest *d; /* one per which */
  size_t n;
  atomic_size_t next;
  atomic_bool failed;
};

struct reader {
  struct reads *job;
  struct cb_error *err;
};

static void *
reader_run(void *arg)
{
  struct reader *k = arg;
  struct reads *job = k->job;

  while (!atomic_load(&job->failed)) {
    size_t i = atomic_fetch_add(&job->next, 1);
    if (i >= job->n)
      break;
    if (cb_digest_file_at(AT_FDCWD, job->paths[job->which[i]], &job->d[i], NULL, &k->err) < 0)
      atomic_store(&job->failed, true);
  }
  return NULL;
}

/* Files to read before a batch takes a second thread for them. */
#define BATCH_THREAD_AT (1024 * 1024)

int
cb_hashcache_files(struct cb_hashcache *c, const char *const *paths,
                   const struct cb_tree_entry *const *es, size_t n, struct cb_digest *out,
                   struct cb_error **err)
{
  cb_autofree size_t *which = cb__xmalloc((n ? n : 1) * sizeof *which);
  cb_autofree size_t *recs = cb__xmalloc((n ? n : 1) * sizeof *recs);
  cb_autofree struct cb_digest *d = NULL;
  struct reads job = { .paths = paths, .which = which };
  struct reader k[2];
  uint64_t bytes = 0;
  pthread_t tid;
  bool two;

  for (size_t i = 0; i < n; i++) {
    bool hit;
    struct rec *r = file_rec(c, paths[i], es[i], &hit);
    if (hit) {
      out[i] = r->d;
    } else {
      recs[job.n] = (size_t)(r - c->recs); /* an index: more records may move them */
      which[job.n++] = i;
      bytes += es[i]->size > 0 ? (uint64_t)es[i]->size : 0;
    }
  }
  if (job.n == 0)
    return 0;
  d = cb__xmalloc(job.n * sizeof *d);
  job.d = d;
  atomic_init(&job.next, 0);
  atomic_init(&job.failed, false);
  memset(k, 0, sizeof k);
  k[0].job = k[1].job = &job;
  two = job.n > 1 && bytes >= BATCH_THREAD_AT && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
        pthread_create(&tid, NULL, reader_run, &k[1]) == 0;
  reader_run(&k[0]);
  if (two)
    pthread_join(tid, NULL);
  if (k[0].err != NULL || k[1].err != NULL) {
    *err = cb_steal_ptr(k[0].err != NULL ? &k[0].err : &k[1].err);
    cb_error_free(&k[0].err);
    cb_error_free(&k[1].err);
    return -1;
  }
  for (size_t i = 0; i < job.n; i++) {
    file_set(c, &c->recs[recs[i]], es[which[i]], &d[i]);
    out[which[i]] = d[i];
  }
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

/* Take record R for PATH from the file being loaded: later records override earlier ones of
 * the same load, records known before it win. */
static void
merge(struct cb_hashcache *c, struct rec *r, const char *path, bool stable, size_t *unique)
{
  bool fresh;
  struct rec *slot = lookup_path(c, path, stable, &fresh);

  if (fresh) {
    (*unique)++;
    r->flags = REC_MINE;
  } else if (!(slot->flags & REC_MINE)) {
    return; /* known before this load: ours wins */
  } else {
    r->flags = slot->flags;
  }
  r->path = slot->path;
  r->hash = slot->hash;
  *slot = *r;
}

/* A checksum of N bytes at P onto H, 8 at a time (not cryptographic: it catches torn writes). */
static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;

  for (; n >= 8; n -= 8, s += 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; n > 0; n--, s++)
    h = (h ^ *s) * 0x100000001b3ull;
  return h;
}

static uint64_t
disk_check(const struct disk_rec *dr, const char *path)
{
  struct disk_rec head = *dr;

  head.check = 0;
  return mix(mix(1469598103934665603ull, &head, sizeof head), path, head.plen);
}

/* Bytes of a record with a path of PLEN bytes: its NULs make it a multiple of 8. */
static size_t
disk_len(size_t plen)
{
  return sizeof(struct disk_rec) + (plen / 8 + 1) * 8;
}

/* The binary records in DATA[0..LEN) (after the magic), whose paths are left where they are
 * (the caller keeps DATA); returns the length of the whole records. */
static size_t
load_bin(struct cb_hashcache *c, const char *data, size_t len, size_t *lines, size_t *unique)
{
  size_t off = sizeof MAGIC_BIN - 1;

  reserve(c, len / 128);
  while (len - off >= sizeof(struct disk_rec)) {
    struct disk_rec dr;
    struct rec r = { 0 };
    const char *path = data + off + sizeof dr;
    size_t total;

    memcpy(&dr, data + off, sizeof dr);
    if (dr.plen == 0 || dr.plen > len - off - sizeof dr)
      break;
    total = disk_len(dr.plen);
    if (total > len - off || path[dr.plen] != '\0' || memchr(path, '\0', dr.plen) != NULL ||
        disk_check(&dr, path) != dr.check)
      break; /* torn or damaged: nothing after it is trusted */
    memcpy(r.d.bytes, dr.d, CB_DIGEST_LEN);
    r.size = dr.size;
    r.mtime = dr.mtime;
    r.mtime_ns = dr.mtime_ns;
    r.ctime = dr.ctime;
    r.ctime_ns = dr.ctime_ns;
    r.ino = dr.ino;
    merge(c, &r, path, true, unique);
    (*lines)++;
    off += total;
  }
  return off;
}

/* The text lines of the earlier format in DATA[0..LEN) (after the magic). */
static void
load_text(struct cb_hashcache *c, char *data, size_t len, size_t *lines, size_t *unique)
{
  char *p, *nl;

  for (p = data + sizeof MAGIC - 1; p < data + len; p = nl + 1) {
    struct rec r = { 0 };
    char *name, *host;

    nl = memchr(p, '\n', (size_t)(data + len - p));
    if (nl == NULL)
      break; /* a torn last line */
    *nl = '\0';
    if (!parse_line(p, &r, &name))
      continue;
    (*lines)++;
    host = strchr(name, '%') ? unescape(name) : name;
    merge(c, &r, host, false, unique);
    if (host != name)
      free(host);
  }
}

int
cb_hashcache_load(struct cb_hashcache *c, const char *path, struct cb_error **err)
{
  cb_autofree char *data = NULL;
  size_t len, lines = 0, unique = 0, bytes = 0;
  bool bin;

  if (cb__read_file_at(AT_FDCWD, path, &data, &len, err) < 0) {
    if ((*err)->errnum == ENOENT) {
      cb_error_free(err);
      return 0;
    }
    return -1;
  }
  bin = len >= sizeof MAGIC_BIN - 1 && memcmp(data, MAGIC_BIN, sizeof MAGIC_BIN - 1) == 0;
  if (bin) {
    bytes = load_bin(c, data, len, &lines, &unique);
    keep_block(c, cb_steal_ptr(&data)); /* the new records' paths point into it */
  } else if (len >= sizeof MAGIC - 1 && memcmp(data, MAGIC, sizeof MAGIC - 1) == 0)
    load_text(c, data, len, &lines, &unique);
  else
    return 0; /* another format: start afresh */
  for (size_t i = 0; i < c->n; i++)
    c->recs[i].flags &= ~(unsigned)REC_MINE;
  free(c->loaded);
  c->loaded = cb__xstrdup(path);
  c->lines = lines;
  c->unique = unique;
  c->bin = bin;
  c->bytes = bytes;
  return 0;
}

/* R as a binary record onto B (length *LEN, capacity *CAP). */
static void
put_rec(char **b, size_t *len, size_t *cap, const struct rec *r)
{
  size_t plen = strlen(r->path), total = disk_len(plen);
  struct disk_rec dr;

  if (*len + total > *cap) {
    *cap = (*len + total) * 2;
    *b = cb__xrealloc(*b, *cap);
  }
  memset(&dr, 0, sizeof dr);
  memcpy(dr.d, r->d.bytes, CB_DIGEST_LEN);
  dr.size = r->size;
  dr.mtime = r->mtime;
  dr.mtime_ns = r->mtime_ns;
  dr.ctime = r->ctime;
  dr.ctime_ns = r->ctime_ns;
  dr.ino = r->ino;
  dr.plen = (uint32_t)plen;
  dr.check = disk_check(&dr, r->path);
  memcpy(*b + *len, &dr, sizeof dr);
  memcpy(*b + *len + sizeof dr, r->path, plen);
  memset(*b + *len + sizeof dr + plen, 0, total - sizeof dr - plen);
  *len += total;
}

static bool
savable(const struct rec *r)
{
  return r->path != NULL && !(r->flags & REC_RACY);
}

/* Append this build's digests to the binary file load read, when that keeps it small: a
 * rebuild after one file changed writes one record, not 20,000.  Only onto the very length
 * load found whole, so a torn append (a crash) is rewritten by the next save, never appended
 * to; a load stops at a torn record anyway.  1 when done, 0 when a rewrite is needed. */
static int
append(struct cb_hashcache *c, const char *path)
{
  cb_autofree char *buf = NULL;
  size_t len = 0, cap = 0, out = 0;
  cb_autoclose int fd = -1;
  struct stat st;

  if (c->loaded == NULL || !c->bin || strcmp(c->loaded, path) != 0 || c->unique > CB_HASHCACHE_MAX)
    return 0;
  for (size_t k = 0; k < c->nchanged; k++) {
    const struct rec *r =
        &c->recs[c->slots[slot_of(c, c->changed[k], hash_str(c->changed[k]))].rec - 1];
    if (savable(r)) {
      put_rec(&buf, &len, &cap, r);
      out++;
    }
  }
  if (c->lines + out - c->unique > c->unique / 4)
    return 0; /* mostly superseded records: rewrite it compact */
  if (out > 0) {
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size != c->bytes ||
        cb_write_all(fd, buf, len) < 0)
      return 0;
  }
  c->lines += out;
  c->bytes += len;
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
  for (size_t i = 0; i < c->n; i++)
    if (savable(&c->recs[i]) && (all || (c->recs[i].flags & REC_TOUCHED)))
      keep[n++] = &c->recs[i];
  qsort(keep, n, sizeof *keep, cmp_path);
  cap = sizeof MAGIC_BIN + n * 160;
  buf = cb__xmalloc(cap);
  memcpy(buf, MAGIC_BIN, sizeof MAGIC_BIN - 1);
  len = sizeof MAGIC_BIN - 1;
  for (size_t i = 0; i < n; i++)
    put_rec(&buf, &len, &cap, keep[i]);
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
  c->bin = true;
  c->bytes = len;
  return 0;
}
