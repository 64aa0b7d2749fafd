/* fitcl public API: analysis.  Included by fitcl.h; do not include directly. */
#ifndef FITCL_ANALYSIS_H
#define FITCL_ANALYSIS_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
