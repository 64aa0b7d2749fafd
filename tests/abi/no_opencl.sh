#!/bin/sh
# The fitcl command on a host where OpenCL cannot be loaded, simulated with
# FITCL_OPENCL_LIBRARY naming a file that does not exist: `fitcl devices`
# lists only cpu and says why, `auto` runs on cpu with that reason, and an
# explicit opencl selector exits with status 2 naming it.
# usage: no_opencl.sh FITCL_CLI
set -u
export LC_ALL=C
cli=$1
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
missing=/nonexistent/libOpenCL.so.1
why="$missing cannot be loaded"
export FITCL_OPENCL_LIBRARY=$missing FITCL_CACHE=off
unset FITCL_DEVICE

out=$("$cli" devices 2>&1) || fail "fitcl devices exited $?: $out"
echo "$out" | grep -q "OpenCL is unavailable: $why" || fail "fitcl devices gives no reason: $out"
echo "$out" | grep -q '^\* cpu ' || fail "auto does not select cpu: $out"
echo "$out" | grep -q ' opencl ' && fail "fitcl devices lists an OpenCL device: $out"

out=$("$cli" devices --json 2>&1) || fail "fitcl devices --json exited $?: $out"
echo "$out" | grep -q "\"opencl_unavailable\":\"$why" || fail "no opencl_unavailable: $out"
echo "$out" | grep -q '"backend":"opencl"' && fail "--json lists an OpenCL device: $out"

out=$(FITCL_DEVICE=auto "$cli" selftest 2>&1) || fail "auto selftest exited $?: $out"
echo "$out" | grep -q '^backend *cpu' || fail "auto did not run on cpu: $out"
echo "$out" | grep -q "^fallback *OpenCL is unavailable: $why" || fail "no fallback reason: $out"

for sel in opencl opencl:0:gpu; do
  out=$(FITCL_DEVICE=$sel "$cli" selftest 2>&1)
  rc=$?
  [ $rc -eq 2 ] || fail "FITCL_DEVICE=$sel selftest exited $rc, expected 2: $out"
  echo "$out" | grep -q "OpenCL is unavailable ($why" || fail "FITCL_DEVICE=$sel: no reason: $out"
  out=$(FITCL_DEVICE=$sel "$cli" devices 2>&1)
  rc=$?
  [ $rc -eq 2 ] || fail "FITCL_DEVICE=$sel devices exited $rc, expected 2: $out"
done
echo "without OpenCL: only cpu listed with the reason, auto on cpu, explicit opencl exits 2"
