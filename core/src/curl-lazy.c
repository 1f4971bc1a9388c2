/* core/src/curl-lazy.c: libcurl opened on first use (see curl-lazy.h) */
#include "curl-lazy.h"

#include <dlfcn.h>
#include <stdbool.h>

/* The soname of the libcurl whose headers we build against (Debian's libcurl4). */
#define CURL_SONAME "libcurl.so.4"

struct cb__curl cb__curl;

int
cb__curl_load(struct cb_error **err)
{
  static bool loaded;
  void *lib;

  if (loaded)
    return 0;
  lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL)
    return cb_error_set(err, CB_E_HTTP, 0, "load libcurl (%s, apt-get install libcurl4): %s",
                        CURL_SONAME, dlerror());
    /* dlsym's void * to each function pointer: POSIX guarantees the conversion works. */
#define LOAD(fn)                                                                                   \
  if ((cb__curl.fn = (__typeof__(cb__curl.fn))dlsym(lib, "curl_" #fn)) == NULL)                    \
    return cb_error_set(err, CB_E_HTTP, 0, "libcurl has no curl_%s: it is too old", #fn);
  LOAD(global_init)
  LOAD(global_cleanup)
  LOAD(easy_init)
  LOAD(easy_setopt)
  LOAD(easy_getinfo)
  LOAD(easy_cleanup)
  LOAD(easy_strerror)
  LOAD(slist_append)
  LOAD(slist_free_all)
  LOAD(share_init)
  LOAD(share_setopt)
  LOAD(multi_init)
  LOAD(multi_setopt)
  LOAD(multi_add_handle)
  LOAD(multi_remove_handle)
  LOAD(multi_perform)
  LOAD(multi_poll)
  LOAD(multi_info_read)
  LOAD(multi_strerror)
  LOAD(multi_cleanup)
#undef LOAD
  loaded = true; /* the library stays open for the life of the process */
  return 0;
}
