#!/bin/sh
# 1 vs 2 MPI ranks of one job (docs/mpi.md, docs/BENCHMARKS.md): a curve fit
# of 10M points from arrays, the same points from a .npy (kept in memory
# after the first pass, and read on every pass: the bytes each rank read),
# 50 likelihood evaluations with the gradient and an ancestral
# reconstruction on 20,000 simulated families of
# benchmarks/data/tree100.nwk; each rank on the pthreads backend with
# FITCL_THREADS threads.  Also 1 process with 2 threads: the peer a second
# rank competes with on one machine.
# usage: benchmarks/mpi/run.sh BUILD_DIR
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --bind-to none: Open MPI binds each rank to one core by default, which
# would keep a rank's second thread on its first one's core.
mpirun="mpirun --allow-run-as-root --oversubscribe --bind-to none"
tree=$src/benchmarks/data/tree100.nwk
"$build/fitcl" simulate --tree "$tree" --gain 0.3 --loss 0.5 --families 20000 --gamma-cats 4 \
  --alpha 0.7 --seed 11 --condition -o "$tmp/m.Rtab"
"$build/benchmarks/bench_mpi" write-npy 10000000 "$tmp/d.npy"
export FITCL_DEVICE=cpu
for rep in 1 2 3; do
  for cfg in "1 1" "2 1" "1 2"; do
    set -- $cfg
    FITCL_THREADS=$2 $mpirun -n "$1" "$build/benchmarks/bench_mpi" curvefit 10000000 |
      sed "s/^{/{\"threads\":$2,/"
    FITCL_THREADS=$2 $mpirun -n "$1" "$build/benchmarks/bench_mpi" loglik "$tree" "$tmp/m.Rtab" 50 |
      sed "s/^{/{\"threads\":$2,/"
    for mb in 0 -1; do
      FITCL_THREADS=$2 $mpirun -n "$1" "$build/benchmarks/bench_mpi" source "$tmp/d.npy" "$mb" |
        sed "s/^{/{\"threads\":$2,/"
    done
    FITCL_THREADS=$2 $mpirun -n "$1" "$build/benchmarks/bench_mpi" ancestral "$tree" "$tmp/m.Rtab" |
      sed "s/^{/{\"threads\":$2,/"
  done
done
