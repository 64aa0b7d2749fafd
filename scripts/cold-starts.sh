#!/usr/bin/env bash
# Many cold OpenCL starts at once, sharing one fitcl cache and one PoCL
# cache, as on a farm node where a job array starts together.
#   scripts/cold-starts.sh [PROCESSES=64] [ROUNDS=10] [FITCL=build/fitcl]
# Each round starts from empty caches; prints per round how many of the
# processes exited 0, and exits 1 if any did not.
set -u
n=${1:-64}; rounds=${2:-10}; fitcl=${3:-build/fitcl}
[ -x "$fitcl" ] || { echo "cold-starts: $fitcl is not an executable (build first)" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
bad_rounds=0
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/cache" "$work/pocl" "$work/log"; mkdir -p "$work/cache" "$work/pocl" "$work/log"
  start=$(date +%s%N)
  for i in $(seq 1 "$n"); do
    FITCL_CACHE_DIR="$work/cache" POCL_CACHE_DIR="$work/pocl" FITCL_DEVICE=opencl FITCL_THREADS=1 \
      "$fitcl" selftest >"$work/log/$i.out" 2>"$work/log/$i.err" &
  done
  ok=0; fail=0
  for job in $(jobs -p); do
    if wait "$job"; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
  done
  ms=$((($(date +%s%N) - start) / 1000000))
  printf 'round %d: %d of %d succeeded (%d.%03d s)\n' "$r" "$ok" "$n" $((ms / 1000)) $((ms % 1000))
  if [ "$fail" -gt 0 ]; then
    bad_rounds=$((bad_rounds + 1))
    grep -l . "$work"/log/*.err | head -3 | while read -r f; do echo "  $f:"; head -3 "$f"; done
  fi
done
echo "$((rounds - bad_rounds)) of $rounds rounds with every start succeeding"
[ "$bad_rounds" -eq 0 ]
