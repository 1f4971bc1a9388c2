/* core/src/archive-lazy.c: libarchive opened on first use (see archive-lazy.h) */
#define CB_LIBARCHIVE_NO_MACROS
#include "archive-lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* The soname of the libarchive whose headers we build against (Debian's libarchive13). */
#define LIBARCHIVE_SONAME "libarchive.so.13"

static struct cb__libarchive table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
load(void)
{
  void *lib = dlopen(LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

  if (lib == NULL) {
    fprintf(stderr, "cbuild: cannot load %s (apt-get install libarchive13): %s\n",
            LIBARCHIVE_SONAME, dlerror());
    exit(70);
  }
  /* dlsym's void * to each function pointer: POSIX guarantees the conversion works. */
#define X(fn)                                                                                      \
  if ((table.fn = (__typeof__(table.fn))dlsym(lib, #fn)) == NULL) {                                \
    fprintf(stderr, "cbuild: %s has no %s: it is too old\n", LIBARCHIVE_SONAME, #fn);              \
    exit(70);                                                                                      \
  }
  CB_LIBARCHIVE_FUNCTIONS(X)
#undef X
}

const struct cb__libarchive *
cb__libarchive(void)
{
  pthread_once(&once, load);
  return &table;
}
