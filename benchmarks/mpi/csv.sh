#!/bin/sh
# 1 vs 2 MPI ranks of a curve fit from a CSV file (docs/mpi.md,
# docs/BENCHMARKS.md): the time and the bytes each rank read (/proc/self/io
# rchar), with the parsed values kept in memory after the first pass and
# parsed again on every pass, and with a checkpoint written by rank 0.
# Each rank on the pthreads backend with FITCL_THREADS threads (default 1).
# usage: benchmarks/mpi/csv.sh BUILD_DIR [POINTS]
set -eu
build=${1:-build}
n=${2:-5000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpirun="mpirun --allow-run-as-root --oversubscribe --bind-to none"
"$build/benchmarks/bench_mpi" write-csv "$n" "$tmp/d.csv"
echo "# $(wc -c <"$tmp/d.csv") bytes, $n points"
export FITCL_DEVICE=cpu FITCL_THREADS=${FITCL_THREADS:-1}
for ranks in 1 2; do
  for mb in 0 -1; do
    $mpirun -n "$ranks" "$build/benchmarks/bench_mpi" source "$tmp/d.csv" "$mb"
  done
  $mpirun -n "$ranks" "$build/benchmarks/bench_mpi" source "$tmp/d.csv" 0 "$tmp/fit.ckpt"
  rm -f "$tmp/fit.ckpt"
done
