/* Why OpenCL cannot be used in this process.  Internal. */
#ifndef FITCL_DEVICE_OPENCL_ABSENT_H
#define FITCL_DEVICE_OPENCL_ABSENT_H

/* A one-line reason in static storage ("libOpenCL.so.1 cannot be loaded:
 * ...", or that the build has no OpenCL), or NULL when the OpenCL library
 * loaded.  Tries the load when discovery has not yet: call it only where
 * OpenCL is wanted. */
const char *fitcl__opencl_absent_reason(void);

#endif
