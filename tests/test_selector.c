/* FITCL_DEVICE grammar: valid and malformed selectors against fake device
 * lists (so GPU cases are covered on machines without a GPU). */
#include <criterion/criterion.h>
#include <string.h>

#include "device/selector.h"
#include "fitcl.h"

static fitcl_device_desc dev(const char *sel, const char *backend, const char *name,
                             const char *platform, const char *vendor, const char *type, int fp64,
                             int pi, int di) {
  fitcl_device_desc d;
  memset(&d, 0, sizeof d);
  strcpy(d.selector, sel);
  strcpy(d.backend, backend);
  strcpy(d.name, name);
  strcpy(d.platform, platform);
  strcpy(d.vendor, vendor);
  strcpy(d.type, type);
  d.fp64 = fp64;
  d.platform_index = pi;
  d.device_index = di;
  return d;
}

/* cpu; NVIDIA platform 0 with two GPUs (the first without fp64); PoCL
 * platform 1 with one CPU device; an Intel platform 2 with a GPU. */
static size_t farm(fitcl_device_desc *l) {
  size_t n = 0;
  l[n++] = dev("cpu", "cpu", "pthreads", "pthreads", "fitcl", "cpu", 1, -1, -1);
  l[n++] = dev("opencl:0:gpu:0", "opencl", "GeForce GT 710", "NVIDIA CUDA", "NVIDIA Corporation", "gpu", 0, 0, 0);
  l[n++] = dev("opencl:0:gpu:1", "opencl", "NVIDIA H100", "NVIDIA CUDA", "NVIDIA Corporation", "gpu", 1, 0, 1);
  l[n++] = dev("opencl:1:cpu:0", "opencl", "pthread-skylake", "Portable Computing Language", "The pocl project", "cpu", 1, 1, 0);
  l[n++] = dev("opencl:2:gpu:0", "opencl", "Intel(R) Arc(TM) A770", "Intel(R) OpenCL Graphics", "Intel(R) Corporation", "gpu", 1, 2, 0);
  return n;
}

static size_t pick(const char *sel, fitcl_status *st) {
  fitcl_device_desc l[8];
  size_t n = farm(l), idx = 999;
  char err[1024];
  *st = fitcl_devices_resolve(sel, l, n, &idx, err, sizeof err);
  return idx;
}

#define EXPECT_PICK(sel, want)                                                   \
  do {                                                                            \
    fitcl_status st_;                                                             \
    size_t got_ = pick(sel, &st_);                                                \
    cr_assert_eq(st_, FITCL_OK, "'%s' -> %s", sel, fitcl_status_name(st_));      \
    cr_assert_eq(got_, (size_t)(want), "'%s' picked %zu, want %d", sel, got_, want); \
  } while (0)

#define EXPECT_FAIL(sel, code)                                                   \
  do {                                                                            \
    fitcl_status st_;                                                             \
    pick(sel, &st_);                                                              \
    cr_assert_eq(st_, code, "'%s' -> %s, want %s", sel, fitcl_status_name(st_),   \
                 fitcl_status_name(code));                                        \
  } while (0)

Test(selector, auto_prefers_fp64_gpu) {
  EXPECT_PICK(NULL, 2);
  EXPECT_PICK("", 2);
  EXPECT_PICK("auto", 2);
  EXPECT_PICK("AUTO", 2);
}

Test(selector, auto_without_gpu_is_cpu_and_never_picks_opencl_cpu) {
  fitcl_device_desc l[8];
  farm(l);
  /* cpu and PoCL only */
  fitcl_device_desc k[2] = {l[0], l[3]};
  size_t idx;
  cr_assert_eq(fitcl_devices_resolve("auto", k, 2, &idx, NULL, 0), FITCL_OK);
  cr_assert_eq(idx, 0);
}

Test(selector, auto_takes_a_gpu_without_fp64_after_those_with_it) {
  fitcl_device_desc l[8];
  farm(l);
  /* cpu, the fp64-less GPU and PoCL: the GPU runs in mixed precision */
  fitcl_device_desc k[3] = {l[0], l[1], l[3]};
  size_t idx, cand[64], nc;
  int fb;
  char err[512];
  cr_assert_eq(fitcl_devices_resolve("auto", k, 3, &idx, NULL, 0), FITCL_OK);
  cr_assert_eq(idx, 1);
  cr_assert_eq(fitcl__selector_candidates("auto", "FITCL_DEVICE", l, 5, cand, &nc, &fb, err,
                                          sizeof err), FITCL_OK);
  cr_assert_eq(nc, 4); /* H100, Arc, GT 710, cpu */
  cr_assert_eq(cand[0], 2);
  cr_assert_eq(cand[1], 4);
  cr_assert_eq(cand[2], 1);
  cr_assert_eq(cand[3], 0);
}

Test(selector, cpu) { EXPECT_PICK("cpu", 0); }

Test(selector, opencl_fields) {
  EXPECT_PICK("opencl", 2);                  /* first fp64 OpenCL device */
  EXPECT_PICK("opencl::gpu", 2);
  EXPECT_PICK("opencl:nvidia:gpu:1", 2);
  EXPECT_PICK("opencl:NVIDIA:gpu:h100", 2);
  EXPECT_PICK("opencl:portable:cpu", 3);
  EXPECT_PICK("opencl:pocl", 3);             /* vendor substring */
  EXPECT_PICK("opencl:1", 3);
  EXPECT_PICK("opencl:2:gpu:0", 4);
  EXPECT_PICK("opencl:intel", 4);
  EXPECT_PICK("opencl::cpu", 3);
  EXPECT_PICK("opencl:::arc", 4);
  EXPECT_PICK("opencl:0:all:1", 2);
  EXPECT_PICK(" opencl : intel : gpu ", 4);  /* spaces around fields */
}

Test(selector, named_device_without_fp64_is_accepted) {
  /* It runs in mixed precision; forcing double on it fails at open. */
  EXPECT_PICK("opencl:nvidia:gpu:0", 1);
  EXPECT_PICK("opencl:::GT 710", 1);
}

Test(selector, no_match) {
  EXPECT_FAIL("opencl:amd", FITCL_ERR_NO_DEVICE);
  EXPECT_FAIL("opencl:0:cpu", FITCL_ERR_NO_DEVICE);
  EXPECT_FAIL("opencl:0:gpu:7", FITCL_ERR_NO_DEVICE);
  EXPECT_FAIL("opencl:9", FITCL_ERR_NO_DEVICE);
}

Test(selector, malformed) {
  EXPECT_FAIL("gpu", FITCL_ERR_SELECTOR);
  EXPECT_FAIL("opencl:0:fpga", FITCL_ERR_SELECTOR);
  EXPECT_FAIL("opencl:0:gpu:0:extra", FITCL_ERR_SELECTOR);
  EXPECT_FAIL("cpu;;opencl", FITCL_ERR_SELECTOR);
  EXPECT_FAIL("cuda", FITCL_ERR_SELECTOR);
  EXPECT_FAIL(";", FITCL_ERR_SELECTOR);
}

Test(selector, lists_try_in_order_and_fall_back) {
  EXPECT_PICK("opencl:amd;opencl:intel;cpu", 4);
  EXPECT_PICK("opencl:amd;cpu", 0);
  EXPECT_PICK("cpu;opencl:intel", 0);
  EXPECT_FAIL("opencl:amd;opencl:0:cpu", FITCL_ERR_NO_DEVICE);
  /* A malformed entry is an error even in a list. */
  EXPECT_FAIL("opencl:amd;bogus;cpu", FITCL_ERR_SELECTOR);
}

Test(selector, fallback_only_for_auto_and_lists) {
  fitcl_device_desc l[8];
  size_t n = farm(l), cand[64], nc;
  int fb;
  char err[512];
  cr_assert_eq(fitcl__selector_candidates("opencl:intel", "X", l, n, cand, &nc, &fb, err, sizeof err), FITCL_OK);
  cr_assert_eq(fb, 0);
  cr_assert_eq(nc, 1);
  cr_assert_eq(fitcl__selector_candidates("auto", "X", l, n, cand, &nc, &fb, err, sizeof err), FITCL_OK);
  cr_assert_eq(fb, 1);
  cr_assert_eq(cand[nc - 1], 0, "auto ends with the cpu backend");
  cr_assert_eq(fitcl__selector_candidates("opencl:intel;cpu", "X", l, n, cand, &nc, &fb, err, sizeof err), FITCL_OK);
  cr_assert_eq(fb, 1);
  cr_assert_eq(nc, 2);
}

Test(selector, error_names_variable_value_and_devices) {
  fitcl_device_desc l[8];
  size_t n = farm(l), idx;
  char err[2048];
  cr_assert_eq(fitcl_devices_resolve("opencl:amd", l, n, &idx, err, sizeof err), FITCL_ERR_NO_DEVICE);
  cr_assert(strstr(err, "FITCL_DEVICE='opencl:amd'"), "%s", err);
  cr_assert(strstr(err, "opencl:2:gpu:0"), "lists devices: %s", err);
  cr_assert(strstr(err, "cpu"), "%s", err);
  cr_assert_null(strchr(err, '\n'), "one line: %s", err);
}

Test(selector, null_arguments) {
  size_t idx;
  fitcl_device_desc l[8];
  size_t n = farm(l);
  cr_assert_eq(fitcl_devices_resolve("cpu", NULL, 0, &idx, NULL, 0), FITCL_ERR_NULL);
  cr_assert_eq(fitcl_devices_resolve("cpu", l, n, NULL, NULL, 0), FITCL_ERR_NULL);
}
