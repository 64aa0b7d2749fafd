#!/bin/sh
# Builds the libFuzzer harnesses of the input readers with clang and runs
# each one for a few seconds on its seed corpus.  CI runs this; run it with
# a longer time when changing a reader:
#   scripts/fuzz-smoke.sh [SECONDS] [BUILD_DIR]
# Exits non-zero when a harness finds a crash, a leak or a failed check;
# the reproducer is left in the build directory (crash-*, leak-*).
set -eu

seconds=${1:-10}
build=${2:-build-fuzz}
src=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-clang}
case "$cc" in
  *clang*) ;;
  *) cc=clang ;;
esac
command -v "$cc" >/dev/null 2>&1 || { echo "fuzz-smoke: clang not found" >&2; exit 2; }

CC=$cc cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFITCL_FUZZ=ON \
  -DFITCL_BUILD_TESTS=OFF -DFITCL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz_newick fuzz_pamatrix fuzz_data fuzz_delim fuzz_expr \
  >/dev/null

status=0
for h in newick pamatrix data delim expr; do
  # New inputs go to a scratch corpus so the seed corpus in the tree stays
  # small and reviewed.
  work="$build/corpus-$h"
  mkdir -p "$work"
  echo "fuzz-smoke: fuzz_$h for ${seconds}s"
  rc=0
  (cd "$build" && "./tests/fuzz/fuzz_$h" -max_total_time="$seconds" -max_len=4096 \
     -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
     "corpus-$h" "$src/tests/fuzz/corpus/$h") >"$build/fuzz_$h.log" 2>&1 || rc=$?
  tail -n 8 "$build/fuzz_$h.log"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz-smoke: fuzz_$h failed (exit $rc); see $build/fuzz_$h.log" >&2
    status=1
  fi
  if ls "$build"/crash-* "$build"/leak-* "$build"/timeout-* >/dev/null 2>&1; then
    echo "fuzz-smoke: fuzz_$h left a reproducer in $build" >&2
    status=1
  fi
done
exit $status
