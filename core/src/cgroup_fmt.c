/*
 * The cgroup layer's pure half: parsers of mountinfo, /proc/self/cgroup and the controller
 * files, the unit conversions, and the layout built from those texts.  No kernel access here
 * except reading the v2 root's cgroup.controllers while building a layout.
 */
#include "cbuild/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Controllers a v1 mount can carry; every other mount option (rw, relatime, xattr, ...) is not
 * one.  Options are matched against this list, not guessed. */
static const char *const v1_controllers[] = { "cpu",     "cpuacct",    "cpuset",  "memory",
                                              "devices", "freezer",    "net_cls", "net_prio",
                                              "blkio",   "perf_event", "hugetlb", "pids",
                                              "rdma",    "misc",       NULL };

/* Decode mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
static void
unescape(char *s)
{
  char *w = s;
  for (char *r = s; *r != '\0'; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

static char *
next_field(char **p)
{
  char *s = *p, *start;
  while (*s == ' ')
    s++;
  if (*s == '\0' || *s == '\n')
    return NULL;
  start = s;
  while (*s != ' ' && *s != '\0' && *s != '\n')
    s++;
  if (*s != '\0') {
    *s = '\0';
    s++;
  }
  *p = s;
  return start;
}

/* "36 25 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory" */
int
cb_cgroup_parse_mountinfo_line(char *line, struct cb_mountinfo *out)
{
  char *p = line, *f;

  for (int i = 0; i < 3; i++) /* mount id, parent id, major:minor */
    if (next_field(&p) == NULL)
      return -1;
  if ((out->root = next_field(&p)) == NULL || (out->mountpoint = next_field(&p)) == NULL ||
      (out->mount_opts = next_field(&p)) == NULL)
    return -1;
  for (;;) { /* optional fields up to the lone "-" */
    if ((f = next_field(&p)) == NULL)
      return -1;
    if (strcmp(f, "-") == 0)
      break;
  }
  if ((out->fstype = next_field(&p)) == NULL || (out->source = next_field(&p)) == NULL ||
      (out->super_opts = next_field(&p)) == NULL)
    return -1;
  unescape(out->root);
  unescape(out->mountpoint);
  unescape(out->source);
  return 0;
}

/* "4:memory:/process_api/b3c6" or "0::/" (the path may itself hold ':') */
int
cb_cgroup_parse_proc_line(char *line, unsigned *id, char **controllers, char **path)
{
  char *c1 = strchr(line, ':'), *c2, *end;
  unsigned long v;

  if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL || c1 == line)
    return -1;
  errno = 0;
  v = strtoul(line, &end, 10);
  if (end != c1 || errno != 0 || v > UINT32_MAX)
    return -1;
  *c1 = *c2 = '\0';
  end = c2 + 1 + strcspn(c2 + 1, "\n");
  *end = '\0';
  if (c2[1] != '/')
    return -1;
  *id = (unsigned)v;
  *controllers = c1 + 1;
  *path = c2 + 1;
  return 0;
}

static int
parse_u64(const char *s, const char **end, uint64_t *val)
{
  char *e;
  unsigned long long v;
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull(s, &e, 10);
  if (errno != 0)
    return -1;
  *val = v;
  *end = e;
  return 0;
}

int
cb_cgroup_keyed_get(const char *text, const char *key, uint64_t *val)
{
  size_t klen = strlen(key);
  for (const char *line = text; line != NULL && *line != '\0';) {
    const char *nl = strchr(line, '\n');
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
      const char *end;
      if (parse_u64(line + klen + 1, &end, val) < 0 || (*end != '\n' && *end != '\0'))
        return -1;
      return 0;
    }
    line = nl != NULL ? nl + 1 : NULL;
  }
  return -1;
}

static bool
only_newline(const char *s)
{
  return s[0] == '\0' || (s[0] == '\n' && s[1] == '\0');
}

int
cb_cgroup_parse_int(const char *text, int64_t *val)
{
  const char *end;
  uint64_t v;
  if (strncmp(text, "max", 3) == 0 && only_newline(text + 3)) {
    *val = -1;
    return 0;
  }
  if (text[0] == '-' && text[1] == '1' && only_newline(text + 2)) { /* v1's "unlimited" quota */
    *val = -1;
    return 0;
  }
  if (parse_u64(text, &end, &v) < 0 || !only_newline(end) || v > INT64_MAX)
    return -1;
  *val = (int64_t)v;
  return 0;
}

int
cb_cgroup_parse_cpu_max(const char *text, int64_t *quota, int64_t *period)
{
  const char *p, *end;
  uint64_t q, per;

  if (strncmp(text, "max ", 4) == 0) {
    *quota = -1;
    p = text + 4;
  } else {
    if (parse_u64(text, &end, &q) < 0 || *end != ' ' || q > INT64_MAX)
      return -1;
    *quota = (int64_t)q;
    p = end + 1;
  }
  if (parse_u64(p, &end, &per) < 0 || !only_newline(end) || per == 0 || per > INT64_MAX)
    return -1;
  *period = (int64_t)per;
  return 0;
}

void
cb_cgroup_format_cpu_max(char *buf, size_t len, int64_t quota, int64_t period)
{
  if (quota < 0)
    snprintf(buf, len, "max %" PRId64, period);
  else
    snprintf(buf, len, "%" PRId64 " %" PRId64, quota, period);
}

uint64_t
cb_cgroup_shares_to_weight(uint64_t shares)
{
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

int
cb_cgroup_swap_v2(int64_t memory, int64_t memory_swap, int64_t *swap_max, struct cb_error **err)
{
  if (memory_swap == -1) {
    *swap_max = -1;
    return 0;
  }
  if (memory <= 0)
    return cb_error_set(err, CB_E_INVALID, 0, "a memory-swap limit needs a memory limit");
  if (memory_swap < memory)
    return cb_error_set(err, CB_E_INVALID, 0,
                        "memory-swap limit %" PRId64 " is below the memory limit %" PRId64,
                        memory_swap, memory);
  *swap_max = memory_swap - memory;
  return 0;
}

const char *
cb_cgroup_mode_name(enum cb_cgroup_mode mode)
{
  switch (mode) {
  case CB_CGROUP_V1:
    return "v1";
  case CB_CGROUP_V2:
    return "v2";
  case CB_CGROUP_HYBRID:
    return "hybrid";
  }
  return "unknown";
}

static bool
is_v1_controller(const char *s, size_t len)
{
  for (const char *const *c = v1_controllers; *c != NULL; c++)
    if (strlen(*c) == len && memcmp(*c, s, len) == 0)
      return true;
  return false;
}

/* Does the space-separated LIST hold WORD? */
static bool
list_has(const char *list, const char *word)
{
  size_t wl = strlen(word);
  for (const char *p = list; p != NULL && *p != '\0';) {
    size_t n = strcspn(p, " ,\n");
    if (n == wl && memcmp(p, word, n) == 0)
      return true;
    p += n;
    p += strspn(p, " ,\n");
  }
  return false;
}

/* Split a v1 mount's super options into its controllers (space-separated) and its name=. */
static void
v1_options(const char *opts, char **controllers, char **name)
{
  size_t len = strlen(opts);
  char *out = cb__xcalloc(1, len + 1);
  size_t used = 0;

  *name = NULL;
  for (const char *p = opts; *p != '\0';) {
    size_t n = strcspn(p, ",");
    if (is_v1_controller(p, n)) {
      if (used > 0)
        out[used++] = ' ';
      memcpy(out + used, p, n);
      used += n;
    } else if (n > 5 && strncmp(p, "name=", 5) == 0 && *name == NULL) {
      *name = cb__xcalloc(1, n - 4);
      memcpy(*name, p + 5, n - 5);
    }
    p += n;
    if (*p == ',')
      p++;
  }
  out[used] = '\0';
  *controllers = out;
}

static bool
opts_readonly(const char *opts)
{
  return strncmp(opts, "ro", 2) == 0 && (opts[2] == ',' || opts[2] == '\0');
}

/* The hierarchy already in L that the same v1 controllers (or the v2 tree) belong to. */
static struct cb_cgroup_hier *
same_hier(struct cb_cgroup_layout *l, int version, const char *controllers, const char *name)
{
  for (size_t i = 0; i < l->n; i++) {
    struct cb_cgroup_hier *h = &l->hier[i];
    if (h->version != version)
      continue;
    if (version == 2)
      return h;
    if (strcmp(h->controllers, controllers) == 0 &&
        ((h->name == NULL && name == NULL) ||
         (h->name != NULL && name != NULL && strcmp(h->name, name) == 0)))
      return h;
  }
  return NULL;
}

static void
hier_clear(struct cb_cgroup_hier *h)
{
  free(h->mountpoint);
  free(h->root);
  free(h->controllers);
  free(h->name);
  free(h->self);
  memset(h, 0, sizeof *h);
}

/* Add one cgroup or cgroup2 mount; a second mount of the same hierarchy (a bind mount) is kept
 * only if it shows the hierarchy's real root and the first did not. */
static void
add_mount(struct cb_cgroup_layout *l, const struct cb_mountinfo *mi, const char *prefix)
{
  int version = strcmp(mi->fstype, "cgroup2") == 0 ? 2 : 1;
  char *controllers = NULL, *name = NULL;
  struct cb_cgroup_hier *h;

  if (version == 1) {
    v1_options(mi->super_opts, &controllers, &name);
    if (controllers[0] == '\0' && name == NULL) {
      free(controllers);
      return;
    }
  } else {
    controllers = cb__xstrdup("");
  }
  h = same_hier(l, version, controllers, name);
  if (h != NULL) {
    if (strcmp(h->root, "/") == 0 || strcmp(mi->root, "/") != 0) {
      free(controllers);
      free(name);
      return;
    }
    hier_clear(h);
  } else {
    l->hier = cb__xrealloc(l->hier, (l->n + 1) * sizeof *l->hier);
    h = &l->hier[l->n++];
  }
  h->version = version;
  h->mountpoint = cb__xasprintf("%s%s", prefix != NULL ? prefix : "", mi->mountpoint);
  h->root = cb__xstrdup(mi->root);
  h->controllers = controllers;
  h->name = name;
  h->self = NULL;
  h->readonly = opts_readonly(mi->mount_opts) || opts_readonly(mi->super_opts);
}

/* Fill each hierarchy's "self" from /proc/self/cgroup lines. */
static void
add_self(struct cb_cgroup_layout *l, char *line)
{
  unsigned id;
  char *controllers, *path;

  if (cb_cgroup_parse_proc_line(line, &id, &controllers, &path) < 0)
    return;
  for (size_t i = 0; i < l->n; i++) {
    struct cb_cgroup_hier *h = &l->hier[i];
    bool match;
    if (h->self != NULL)
      continue;
    if (id == 0 && controllers[0] == '\0') {
      match = h->version == 2;
    } else if (h->version == 1 && strncmp(controllers, "name=", 5) == 0) {
      match = h->name != NULL && strcmp(h->name, controllers + 5) == 0;
    } else if (h->version == 1 && h->controllers[0] != '\0') {
      /* "cpu,cpuacct" here against "cpu cpuacct" in the layout: same set, same order */
      char *mine = cb__xstrdup(controllers);
      for (char *c = mine; *c != '\0'; c++)
        if (*c == ',')
          *c = ' ';
      match = strcmp(mine, h->controllers) == 0;
      free(mine);
    } else {
      match = false;
    }
    if (match)
      h->self = cb__xstrdup(path);
  }
}

/* Normalize v2's cgroup.controllers ("cpu io memory\n") into a space-separated list. */
static char *
normalize_list(const char *text)
{
  char *out = cb__xcalloc(1, strlen(text) + 1);
  size_t used = 0;
  for (const char *p = text; *p != '\0';) {
    size_t n;
    p += strspn(p, " \t\n");
    n = strcspn(p, " \t\n");
    if (n == 0)
      break;
    if (used > 0)
      out[used++] = ' ';
    memcpy(out + used, p, n);
    used += n;
    p += n;
  }
  out[used] = '\0';
  return out;
}

int
cb_cgroup_layout_parse(struct cb_cgroup_layout *out, const char *mountinfo, const char *proc_cgroup,
                       const char *prefix, struct cb_error **err)
{
  cb_autofree char *mi = cb__xstrdup(mountinfo);
  cb_autofree char *pc = cb__xstrdup(proc_cgroup != NULL ? proc_cgroup : "");
  struct cb_cgroup_layout l = { 0 };
  bool v1 = false, v2 = false;
  char *save = NULL;

  for (char *line = strtok_r(mi, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    struct cb_mountinfo m;
    if (cb_cgroup_parse_mountinfo_line(line, &m) < 0)
      continue;
    if (strcmp(m.fstype, "cgroup") == 0 || strcmp(m.fstype, "cgroup2") == 0)
      add_mount(&l, &m, prefix);
  }
  for (char *line = strtok_r(pc, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
    add_self(&l, line);

  for (size_t i = 0; i < l.n; i++) {
    struct cb_cgroup_hier *h = &l.hier[i];
    if (h->version == 2) {
      cb_autofree char *path = cb__xasprintf("%s/cgroup.controllers", h->mountpoint);
      cb_autofree char *text = NULL;
      struct cb_error *e = NULL;
      if (cb__read_file_at(AT_FDCWD, path, &text, NULL, &e) == 0) {
        free(h->controllers);
        h->controllers = normalize_list(text);
      }
      cb_error_free(&e); /* unreadable: a v2 mount that offers no controller */
      v2 = true;
    } else if (h->controllers[0] != '\0') {
      v1 = true;
    }
  }
  if (!v1 && !v2) {
    cb_cgroup_layout_release(&l);
    return cb_error_set(err, CB_E_NOTFOUND, 0, "no cgroup filesystem is mounted");
  }
  l.mode = v1 && v2 ? CB_CGROUP_HYBRID : v2 ? CB_CGROUP_V2 : CB_CGROUP_V1;
  *out = l;
  return 0;
}

int
cb_cgroup_layout_load(struct cb_cgroup_layout *out, struct cb_error **err)
{
  cb_autofree char *mi = NULL;
  cb_autofree char *pc = NULL;
  struct cb_error *e = NULL;

  if (cb__read_file_at(AT_FDCWD, "/proc/self/mountinfo", &mi, NULL, err) < 0)
    return cb_error_wrap(err, "find cgroup mounts");
  if (cb__read_file_at(AT_FDCWD, "/proc/self/cgroup", &pc, NULL, &e) < 0)
    cb_error_free(&e); /* only "self" goes missing */
  return cb_cgroup_layout_parse(out, mi, pc, NULL, err);
}

void
cb_cgroup_layout_release(struct cb_cgroup_layout *l)
{
  for (size_t i = 0; i < l->n; i++)
    hier_clear(&l->hier[i]);
  free(l->hier);
  memset(l, 0, sizeof *l);
}

const struct cb_cgroup_hier *
cb_cgroup_layout_find(const struct cb_cgroup_layout *l, const char *controller)
{
  const struct cb_cgroup_hier *v2 = NULL;
  for (size_t i = 0; i < l->n; i++) {
    const struct cb_cgroup_hier *h = &l->hier[i];
    if (h->version == 1 && list_has(h->controllers, controller))
      return h;
    if (h->version == 2)
      v2 = h;
  }
  if (v2 == NULL)
    return NULL;
  if (list_has(v2->controllers, controller))
    return v2;
  /* cpu.stat's usage_usec is in every v2 cgroup, with or without the cpu controller */
  if (strcmp(controller, "cpuacct") == 0)
    return v2;
  return NULL;
}
