#!/bin/sh
# A build without OpenCL (-DFITCL_WITH_OPENCL=OFF): the OpenCL half of the
# suite is not built, which this test reports as skipped (exit 77) after
# checking that the CLI says so too: `fitcl devices` lists cpu alone with
# the reason, `auto` runs on cpu, and an explicit opencl selector exits 2
# naming the reason.
# usage: opencl_not_built.sh FITCL_CLI
set -u
export LC_ALL=C FITCL_CACHE=off
unset FITCL_DEVICE
cli=$1
why="built without OpenCL"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
out=$("$cli" devices 2>&1) || fail "fitcl devices exited $?: $out"
echo "$out" | grep -q "$why" || fail "fitcl devices gives no reason: $out"
echo "$out" | grep -q '^\* cpu ' || fail "auto does not select cpu: $out"
out=$("$cli" selftest 2>&1) || fail "auto selftest exited $?: $out"
echo "$out" | grep -q '^backend *cpu' || fail "auto did not run on cpu: $out"
out=$(FITCL_DEVICE=opencl "$cli" selftest 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "FITCL_DEVICE=opencl selftest exited $rc, expected 2: $out"
echo "$out" | grep -q "$why" || fail "FITCL_DEVICE=opencl: no reason: $out"
echo "OpenCL tests not built (this build has -DFITCL_WITH_OPENCL=OFF); every other suite ran on the cpu backend"
exit 77
