/* fitcl public API: tree.  Included by fitcl.h; do not include directly. */
#ifndef FITCL_TREE_H
#define FITCL_TREE_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
