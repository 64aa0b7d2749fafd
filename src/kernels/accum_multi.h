/* The accumulation pass over the devices of a context that joins several
 * (FITCL_DEVICE=a+b, docs/device-selection.md).  Internal.
 *
 * Every device holds a handle of the same model; each piece of a pass is
 * cut into its groups of FITCL_ACCUM_GROUP blocks (cl/common/accum_point.h),
 * handed out in units to one host thread per device, each pulling the next
 * unit when it is done, so a slow device takes fewer.  A group's partial
 * has the same bits on every device computing in double (the same
 * operations in the same order, the project's own exp and log, no
 * contraction into fused multiply-adds), and every device adds its groups'
 * partials exactly (core/xsum.h), so the sum of the devices' sums is the
 * one device's: the split leaves no trace.  A QR pass merges group
 * triangles by rotations, which are not exact: there every device puts its
 * groups' vectors in their places and the first handle merges them all in
 * group order, as one device does. */
#ifndef FITCL_KERNELS_ACCUM_MULTI_H
#define FITCL_KERNELS_ACCUM_MULTI_H

#include "kernels/accum.h"

/* The split (accum.h) a context over several devices uses. */
extern const fitcl__accum_split fitcl__accum_multi_split;

/* 1 when the library was built to share the accumulation (the default;
 * CMake option FITCL_EXACT_ACCUM), 0 when its hot loops may contract into
 * FMAs and the accumulation runs on a context's first device alone. */
int fitcl__accum_multi_exact(void);

/* Test hook: microseconds device i waits before each unit it takes, and
 * then until a device without a delay has taken one, so a test can make
 * one device slow and be sure the others take groups. */
extern unsigned fitcl__accum_multi_slow_us[16];

#endif
