/* fitcl public API: nlsq.  Included by fitcl.h; do not include directly. */
#ifndef FITCL_NLSQ_H
#define FITCL_NLSQ_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
