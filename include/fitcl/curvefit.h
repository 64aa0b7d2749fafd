/* fitcl public API: curvefit.  Included by fitcl.h; do not include directly. */
#ifndef FITCL_CURVEFIT_H
#define FITCL_CURVEFIT_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
