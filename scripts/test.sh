#!/usr/bin/env bash
# Quick start 2 (and CI): install what is missing, build, and run the whole
# test suite on both backends (pthreads, and OpenCL through PoCL), then once
# more under AddressSanitizer + UndefinedBehaviorSanitizer, then the Python
# package's suite (pip install . into build/venv, pytest), then the fuzzers
# briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# PoCL's own kernel cache breaks with several processes sharing it: give
# every run its own.  Our program cache goes to a fresh directory too.
work=$(mktemp -d /tmp/fitcl-ci-XXXXXX)
trap 'rm -rf "$work"' EXIT
export POCL_CACHE_DIR="$work/pocl"
export FITCL_CACHE_DIR="$work/fitcl-cache"
export FITCL_TEST_REQUIRE_OPENCL=1
mkdir -p "$POCL_CACHE_DIR"
jobs=$(nproc)

echo "== build (Release, -Werror)"
scripts/build.sh build
echo "== devices"
./build/fitcl devices
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build (CPU only, -DFITCL_WITH_OPENCL=OFF)"
scripts/build.sh build-cpu-only -DFITCL_WITH_OPENCL=OFF -DFITCL_BUILD_BENCHMARKS=OFF
echo "== tests of the CPU-only build"
FITCL_TEST_REQUIRE_OPENCL=0 ctest --test-dir build-cpu-only --output-on-failure -j"$jobs"

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
# Without MPI: Open MPI's start-up keeps allocations LeakSanitizer reports
# as leaks, and mpirun's ranks run outside the test's sanitizer settings;
# the MPI layer is tested by the Release build above (mpi_cli).
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFITCL_SANITIZE=ON \
  -DFITCL_BUILD_BENCHMARKS=OFF -DFITCL_WITH_MPI=OFF
# intercept_tls_get_addr=0: up to GCC 13 the sanitizer runtime's
# __tls_get_addr interceptor takes a dynamic TLS block that happens to start
# 16 bytes into a page for a glibc < 2.25 header and reads two words before
# it; LeakSanitizer's tracer then dies at exit ("Tracer caught signal 11")
# after every assertion passed.  Dynamic TLS belongs to the dlopen'ed OpenCL
# runtime only, so not scanning it hides nothing of ours.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0"
# The OpenCL runtime (PoCL, LLVM) keeps allocations for the life of the
# process; only its leaks are suppressed, never ours.
export LSAN_OPTIONS="suppressions=$PWD/.ci/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "== tests under sanitizers"
ctest --test-dir build-asan --output-on-failure -j"$jobs"
unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

echo "== Python package (pip install .[test] into build/venv) and its tests"
scripts/test-python.sh

if [ -x scripts/fuzz-smoke.sh ]; then
  echo "== fuzz smoke"
  scripts/fuzz-smoke.sh 20
fi
echo "== all tests passed"
