/* fitcl public API: phylo.  Included by fitcl.h; do not include directly. */
#ifndef FITCL_PHYLO_H
#define FITCL_PHYLO_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
