/* Shared libraries loaded at run time (OpenCL, CLBlast).  Internal. */
#ifndef FITCL_CORE_DYNLIB_H
#define FITCL_CORE_DYNLIB_H

#include <stddef.h>

/* Opens the first of `names` that loads (dlopen, RTLD_NOW | RTLD_LOCAL, so
 * its symbols cannot satisfy another library's references by accident).
 * When environment variable `override` is set and not empty, its value (a
 * file name or path) is tried alone instead.  Returns the handle, with the
 * name that loaded in *opened; or NULL with one line in `why`:
 * "<first name> cannot be loaded: <dlerror of that name>". */
void *fitcl__dynlib_open(const char *override, const char *const *names, size_t nnames,
                         const char **opened, char *why, size_t len);

/* Resolves `name` in `lib` into the function pointer at `fn` (of `size`
 * bytes).  Returns 0 when the library lacks it. */
int fitcl__dynlib_sym(void *lib, const char *name, void *fn, size_t size);

#endif
