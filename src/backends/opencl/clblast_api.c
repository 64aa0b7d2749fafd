/* Loads CLBlast with dlopen and fills the table of clblast_api.h. */
#include "backends/opencl/clblast_api.h"

#include <pthread.h>
#include <stdio.h>

#include "core/dynlib.h"

fitcl__clblast_api fitcl__clblast;

static pthread_once_t clblast_once = PTHREAD_ONCE_INIT;
static int clblast_loaded;
static char clblast_why[512];

static void clblast_load_once(void) {
  static const char *const names[] = {"libclblast.so.1", "libclblast.so"};
  const char *so = NULL;
  void *lib = fitcl__dynlib_open("FITCL_CLBLAST_LIBRARY", names, 2, &so, clblast_why,
                                 sizeof clblast_why);
  if (!lib) return;
  /* Never closed: CLBlast keeps compiled kernels and C++ state until exit. */
#define RESOLVE(name)                                                                       \
  if (!fitcl__dynlib_sym(lib, "CLBlast" #name, &fitcl__clblast.name,                        \
                         sizeof fitcl__clblast.name)) {                                     \
    snprintf(clblast_why, sizeof clblast_why, "%s lacks CLBlast" #name, so);                \
    return;                                                                                 \
  }
  FITCL__CLBLAST_FUNCTIONS(RESOLVE)
#undef RESOLVE
  clblast_loaded = 1;
}

int fitcl__clblast_load(char *why, size_t len) {
  pthread_once(&clblast_once, clblast_load_once);
  if (!clblast_loaded && why && len) snprintf(why, len, "%s", clblast_why);
  return clblast_loaded;
}
