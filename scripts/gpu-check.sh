#!/usr/bin/env bash
# The whole check of fitcl on a GPU, in one prepared run, for a machine that
# reaches no network and may have neither fitcl's build dependencies nor an
# OpenCL ICD loader installed.
#
#   scripts/gpu-check.sh pack [BUNDLE]          on a Debian 12 build machine
#   scripts/gpu-check.sh run OUT [options]      on the GPU machine
#
# `pack` builds fitcl (Release, with tests and benchmarks) from the files of
# this checkout under a fixed path, /tmp/fitcl-gpu, and writes BUNDLE
# (default gpu-pack/fitcl-gpu.tar.gz): the source, the build without object
# files, and the shared libraries the programs need beyond the C and C++
# runtimes (Criterion, nettle, LAPACKE, cJSON, HDF5, BEAGLE, CLBlast and the
# ocl-icd loader).  The build's test files name absolute paths, so `run`
# unpacks the bundle at the same path.
#
# `run` unpacks the bundle found beside this script's checkout
# (gpu-pack/fitcl-gpu.tar.gz, or --bundle FILE), points the ICD loader at
# the machine's OpenCL drivers (/etc/OpenCL/vendors, else an NVIDIA driver's
# libnvidia-opencl.so.1 wherever the driver is mounted), and then, each step
# with its own time limit so the whole stays under 8 minutes:
#   1. `fitcl devices` (table and --json)                   -> OUT/devices.txt
#   2. `fitcl selftest` on the device, cold then warm, then
#      `fitcl tune` (the kernel layouts the later steps use)  -> OUT/selftest.txt
#   3. the test suite with the OpenCL leg on the device      -> OUT/tests.log
#   4. benchmarks: accumulation at 10M, curve-fit at 10M,
#      `bench_lik 1000`, batched fits, the precision modes   -> OUT/bench.log
#   5. the JAX float64 peer on the same work (--peer FILE)   -> OUT/peer.log
#   6. one line per step: what ran, exit status, seconds     -> OUT/summary.txt
# Options: --device SELECTOR (default opencl::gpu), --bundle FILE,
# --peer FILE (a JAX peer script taking `accum N`, `prune T P`),
# --quick (small sizes: a dry run of the script itself on any machine).
# A step that fails or runs out of time is recorded and the next one runs.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
stage=/tmp/fitcl-gpu

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }

pack() {
  local bundle=${1:-gpu-pack/fitcl-gpu.tar.gz}
  set -e
  scripts/setup.sh
  rm -rf "$stage" && mkdir -p "$stage/src" "$stage/lib"
  # Tracked and untracked-but-not-ignored files: what the checkout holds.
  git ls-files -co --exclude-standard -z | tar -c --null -T - | tar -x -C "$stage/src"
  # Without MPI: Open MPI's launcher and plugins do not travel in a bundle
  # of libraries, and the check is of one device.
  cmake -S "$stage/src" -B "$stage/build" -DCMAKE_BUILD_TYPE=Release -DFITCL_WERROR=ON \
    -DFITCL_WITH_MPI=OFF >/dev/null
  cmake --build "$stage/build" -j"$(nproc)"
  local progs
  progs=$(find "$stage/build" -maxdepth 3 -type f -perm -u+x \
    \( -name fitcl -o -name 'test_*' -o -name 'bench_*' -o -name 'robustness_*' -o -name '*.so*' \))
  # Libraries beyond glibc and the GCC runtimes, which every Linux has.
  for p in $progs; do ldd "$p" 2>/dev/null | awk '/=> \//{print $3}'; done | sort -u |
    grep -vE '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$stage/lib/"; done
  # Loaded at run time, so ldd does not list them: the ICD loader, CLBlast
  # and BEAGLE's CPU plugins.
  for name in libOpenCL.so.1 libclblast.so.1 libhmsbeagle-cpu.so libhmsbeagle-cpu-sse.so; do
    local path
    path=$(ldconfig -p | awk -v n="$name" '$1 ~ "^"n {print $NF; exit}')
    [ -n "$path" ] && cp -L "$path" "$stage/lib/"
  done
  mkdir -p "$(dirname "$bundle")"
  tar -C /tmp -czf "$bundle" --exclude='*.o' --exclude='*.a' --exclude='venv' \
    --exclude='CMakeFiles' fitcl-gpu
  echo "bundle: $bundle ($(du -h "$bundle" | cut -f1)); carry it and run:"
  echo "  scripts/gpu-check.sh run OUT"
}

# step NAME LIMIT_S LOG COMMAND...: runs the command with its output
# appended to LOG and one line in the summary.
step() {
  local name=$1 limit=$2 log=$3
  shift 3
  local t0 rc ms
  t0=$(date +%s%N)
  echo "== $name: $*" >>"$log"
  timeout --kill-after=5 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  printf '%-16s exit %-3s %4d.%01d s  %s\n' "$name" "$rc" $((ms / 1000)) $((ms % 1000 / 100)) \
    "$([ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "(out of time: ${limit} s)")" |
    tee -a "$out/summary.txt"
  return 0
}

# The ICD loader reads its drivers from OCL_ICD_VENDORS; where the machine
# has no /etc/OpenCL/vendors, an NVIDIA driver library found anywhere
# usual becomes the one vendor.
find_icds() {
  [ -d /etc/OpenCL/vendors ] && ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 && return
  local nv
  nv=$(ldconfig -p | awk '/libnvidia-opencl\.so\.1/{print $NF; exit}')
  [ -z "$nv" ] && nv=$(find /usr/local/nvidia /usr/lib /usr/lib64 /usr/lib/x86_64-linux-gnu \
    -name 'libnvidia-opencl.so.1' 2>/dev/null | head -1)
  if [ -n "$nv" ]; then
    mkdir -p "$stage/vendors"
    echo "$nv" >"$stage/vendors/nvidia.icd"
    export OCL_ICD_VENDORS="$stage/vendors"
  fi
}

run() {
  out=${1:?usage: scripts/gpu-check.sh run OUT [options]}
  shift
  local device=opencl::gpu bundle=$repo/gpu-pack/fitcl-gpu.tar.gz peer="" quick=0
  while [ $# -gt 0 ]; do
    case $1 in
    --device) device=$2; shift 2 ;;
    --bundle) bundle=$2; shift 2 ;;
    --peer) peer=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "gpu-check: unknown option '$1'" >&2; exit 2 ;;
    esac
  done
  mkdir -p "$out" || exit 2
  out=$(cd "$out" && pwd)
  : >"$out/summary.txt"
  if [ -f "$bundle" ]; then
    rm -rf "$stage" && tar -C /tmp -xzf "$bundle" || { echo "gpu-check: cannot unpack $bundle" >&2; exit 2; }
  elif [ ! -x "$stage/build/fitcl" ]; then
    echo "gpu-check: no bundle at $bundle and no build at $stage (run 'pack' first)" >&2
    exit 2
  fi
  export LD_LIBRARY_PATH="$stage/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export FITCL_OPENCL_LIBRARY="$stage/lib/libOpenCL.so.1"
  [ -f "$FITCL_OPENCL_LIBRARY" ] || unset FITCL_OPENCL_LIBRARY
  find_icds
  local work
  work=$(mktemp -d /tmp/fitcl-gpu-run-XXXXXX)
  export POCL_CACHE_DIR="$work/pocl" FITCL_CACHE_DIR="$work/cache" TMPDIR="$work"
  mkdir -p "$POCL_CACHE_DIR"
  local b=$stage/build
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(uname -srm), $(nproc) cores"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
      --format=csv,noheader
    echo "device selector: $device"
  } >"$out/devices.txt" 2>&1

  step devices 30 "$out/devices.txt" "$b/fitcl" devices
  step devices-json 30 "$out/devices.txt" "$b/fitcl" devices --json
  step selftest-cold 120 "$out/selftest.txt" env FITCL_DEVICE="$device" "$b/fitcl" selftest
  step selftest-warm 60 "$out/selftest.txt" env FITCL_DEVICE="$device" "$b/fitcl" selftest
  # The kernel layouts for this device, used by every step after it.
  step tune 90 "$out/selftest.txt" env FITCL_DEVICE="$device" "$b/fitcl" tune

  local ctest_args=(--test-dir "$b" --output-on-failure -j"$(nproc)" --timeout 150)
  [ "$quick" = 1 ] && ctest_args+=(-R 'test_(accum|lik|pmatrix|batch)$')
  step tests 200 "$out/tests.log" env FITCL_TEST_OPENCL="$device" FITCL_TEST_REQUIRE_OPENCL=1 \
    ctest "${ctest_args[@]}"

  local n=10000000 taxa=1000
  [ "$quick" = 1 ] && n=1000000 && taxa=100
  step bench-accum 90 "$out/bench.log" "$b/benchmarks/bench_accum" --backend opencl \
    --max-points "$n"
  step bench-curvefit 120 "$out/bench.log" env FITCL_DEVICE="$device" \
    "$b/benchmarks/bench_curvefit" --sizes "$n" \
    --stream 0 --process "$n" --no-peers --repeats 3 --only double_exp
  step bench-lik 90 "$out/bench.log" "$b/benchmarks/bench_lik" "$taxa"
  step bench-batch 90 "$out/bench.log" "$b/benchmarks/bench_batch" --quick --only gaussian
  # The precision modes (docs/precision.md) where they matter: a GPU whose
  # fp64 is slow.  Errors and times against double on the same device.
  step bench-precision 90 "$out/bench.log" env FITCL_DEVICE="$device" \
    "$b/benchmarks/bench_precision" --points "$n" --repeats 3 --no-nist
  step bench-lik-precision 60 "$out/bench.log" env FITCL_DEVICE="$device" \
    "$b/benchmarks/bench_lik" --precision 3

  if [ -n "$peer" ] && [ -f "$peer" ]; then
    # The peer's Python loads its own libraries, not the bundle's.
    step peer-accum 60 "$out/peer.log" env -u LD_LIBRARY_PATH PYTHONUNBUFFERED=1 python3 "$peer" \
      accum "$n"
    step peer-prune 60 "$out/peer.log" env -u LD_LIBRARY_PATH PYTHONUNBUFFERED=1 python3 "$peer" \
      prune "$taxa" 100000
  else
    echo "peer: none given (--peer FILE)" | tee -a "$out/summary.txt"
  fi
  rm -rf "$work"
  echo "gpu-check: results in $out"
}

case ${1:-} in
pack) shift; pack "$@" ;;
run) shift; run "$@" ;;
-h | --help) usage ;;
*) usage >&2; exit 2 ;;
esac
