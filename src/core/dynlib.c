#include "core/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void *fitcl__dynlib_open(const char *override, const char *const *names, size_t nnames,
                         const char **opened, char *why, size_t len) {
  const char *wanted = override ? getenv(override) : NULL;
  if (wanted && *wanted) {
    names = &wanted;
    nnames = 1;
  }
  char first_err[400] = "";
  for (size_t i = 0; i < nnames; ++i) {
    void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      *opened = names[i];
      return lib;
    }
    /* The first failure names the usual library, the useful one to report. */
    if (!first_err[0]) {
      const char *e = dlerror();
      if (!e) e = "unknown error";
      /* glibc starts the message with the name, which the reason has already. */
      size_t n = strlen(names[i]);
      if (!strncmp(e, names[i], n) && !strncmp(e + n, ": ", 2)) e += n + 2;
      fitcl__strlcpy(first_err, e, sizeof first_err);
    }
  }
  snprintf(why, len, "%s cannot be loaded: %s", nnames ? names[0] : "(nothing)", first_err);
  return NULL;
}

int fitcl__dynlib_sym(void *lib, const char *name, void *fn, size_t size) {
  void *p = dlsym(lib, name);
  /* A symbol address cannot be assigned to a function pointer in ISO C; the
   * memcpy is the portable spelling of the conversion POSIX guarantees. */
  if (p && size == sizeof p) memcpy(fn, &p, size);
  return p != NULL && size == sizeof p;
}
