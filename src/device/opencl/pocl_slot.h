/* A PoCL kernel-cache directory of this process's own.  Internal.
 *
 * PoCL caches every program it builds under POCL_CACHE_DIR (by default
 * ~/.cache/pocl/kcache), one directory per program hash, shared by every
 * process of the user.  Processes that build, load or link the same program
 * at the same time write the same files there, and some of them die inside
 * PoCL (CL_BUILD_PROGRAM_FAILURE, assertion aborts, segfaults), which no
 * retry inside the process can undo.  So, before PoCL starts, each fitcl
 * process claims a slot: a directory <base>/fitcl-slot-<N> that no other
 * running process holds (an flock on <base>/fitcl-slot-<N>.lock, kept for
 * the life of the process and dropped by the kernel however it ends), and
 * points POCL_CACHE_DIR at it.  Slots are reused by later processes, so
 * PoCL's cache stays warm; there are never more of them than processes
 * that ran at once.  <base> is POCL_CACHE_DIR when set, else PoCL's
 * default ($XDG_CACHE_HOME/pocl, ~/.cache/pocl). */
#ifndef FITCL_DEVICE_OPENCL_POCL_SLOT_H
#define FITCL_DEVICE_OPENCL_POCL_SLOT_H

#include <stddef.h>

/* Claims a slot when the PoCL ICD is installed and FITCL_POCL_SLOTS is not
 * "off".  Call once, before the OpenCL ICD loader starts (it reads the
 * environment then).  Returns 1 when POCL_CACHE_DIR now names a slot; 0
 * otherwise, with the reason in why (nothing changed). */
int fitcl__pocl_slot_claim(char *why, size_t whylen);

/* The slot claimed ("" when none). */
const char *fitcl__pocl_slot_dir(void);

#endif
