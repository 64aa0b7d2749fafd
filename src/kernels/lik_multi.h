/* The likelihood over the devices of a context that joins several
 * (FITCL_DEVICE=a+b, docs/device-selection.md).  Internal.
 *
 * Every device holds a handle of the same data; an evaluation hands the
 * handle's fixed blocks out in units to one host thread per device, each
 * pulling the next unit when it is done, so a slow device takes fewer.  A
 * block's row has the same bits on every device computing in double (the
 * same operations in the same order from cl/common/, the project's own
 * exp, expm1 and log, no contraction into fused multiply-adds), and lik.c
 * adds the rows in block order, so the split leaves no trace. */
#ifndef FITCL_KERNELS_LIK_MULTI_H
#define FITCL_KERNELS_LIK_MULTI_H

#include "kernels/lik.h"

/* The split (lik.h) a context over several devices uses.  Its open makes
 * a handle of the same tree and patterns on each other device of L's
 * context (none where a device cannot evaluate block ranges in double: the
 * likelihood then runs on the first device). */
extern const fitcl__lik_split fitcl__lik_multi_split;

/* Whether device context c can take part in a split: block ranges in
 * double precision (the float kernels give other bits).  Work that hands
 * whole units to the devices (the bootstrap's replicates) follows the same
 * rule, so a set gives one device's bits or runs on its first device. */
int fitcl__lik_multi_can_split(const fitcl_context *c);

/* Each device's speed (blocks per second) in L's last evaluation split
 * over the devices, with the gradient where there was one; 0 for a device
 * not measured (all 0 where L was not split). */
void fitcl__lik_multi_rates(const fitcl_lik *L, double rate[16]);

/* Test hook: microseconds device i waits before each unit it takes, and
 * then until a device without a delay has taken one, so a test can make
 * one device slow and be sure the others take blocks. */
extern unsigned fitcl__lik_multi_slow_us[16];

#endif
