#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int planned, failed;

bool
tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  planned++;
  printf("%s %d - ", cond ? "ok" : "not ok", planned);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (!cond) {
    failed++;
    printf("#   failed at %s:%d\n", file, line);
  }
  fflush(stdout);
  return cond;
}

int
tap_done(void)
{
  printf("1..%d\n", planned);
  return failed == 0 ? 0 : 1;
}

char *
tap_tmpdir(const char *name)
{
  const char *base = getenv("CBUILD_TEST_TMP");
  char tmpl[4096];
  char *dir;
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  mkdir(base, 0755);
  snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", base, name);
  dir = mkdtemp(tmpl);
  return dir ? strdup(dir) : NULL;
}
