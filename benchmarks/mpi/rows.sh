#!/bin/sh
# Reading a presence/absence matrix over 1 and 2 MPI ranks (docs/mpi.md,
# docs/BENCHMARKS.md): each rank reading only its rows and merging the
# pattern tables ("rows") against every rank reading the whole matrix
# ("whole", as before), for a 400 MB Rtab and a 200 MB .npy of 2,000 taxa x
# 100,000 families (every family its own pattern), the same Rtab with 10,000
# patterns repeated ten times, and a 255 MB Rtab / 100 MB .npy of 20 taxa x
# 5,000,000 families (63,000 patterns).  bench_rows prints per rank the
# bytes read and the peak RSS.
# usage: benchmarks/mpi/rows.sh BUILD_DIR
set -eu
build=${1:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpirun="mpirun --allow-run-as-root --oversubscribe --bind-to none"
fitcl=$build/fitcl
python3 "$src/benchmarks/random_tree.py" 2000 5 >"$tmp/t2000.nwk"
python3 "$src/benchmarks/random_tree.py" 20 7 >"$tmp/t20.nwk"
sim() { "$fitcl" simulate --gain 0.3 --loss 0.5 --seed 3 --condition "$@"; }
sim --tree "$tmp/t2000.nwk" --families 100000 -o "$tmp/big.Rtab"
sim --tree "$tmp/t2000.nwk" --families 100000 -o "$tmp/big.npy" --taxa-out "$tmp/big.taxa"
# The first 10,000 rows' cells, each taken by ten families.
awk 'BEGIN { FS = OFS = "\t" } NR == 1 { print; next }
  NR <= 10001 { r[NR - 2] = substr($0, index($0, "\t")) }
  END { for (i = 0; i < 100000; i++) print "f" i r[(i * 7) % 10000] }' "$tmp/big.Rtab" >"$tmp/rep.Rtab"
sim --tree "$tmp/t20.nwk" --families 5000000 -o "$tmp/few.Rtab"
sim --tree "$tmp/t20.nwk" --families 5000000 -o "$tmp/few.npy" --taxa-out "$tmp/few.taxa"
export FITCL_DEVICE=cpu
for rep in 1 2 3; do
  for n in 1 2; do
    for mode in whole rows; do
      $mpirun -n "$n" "$build/benchmarks/bench_rows" "$mode" "$tmp/t2000.nwk" "$tmp/big.Rtab"
      $mpirun -n "$n" "$build/benchmarks/bench_rows" "$mode" "$tmp/t2000.nwk" "$tmp/big.npy" \
        "$tmp/big.taxa"
      $mpirun -n "$n" "$build/benchmarks/bench_rows" "$mode" "$tmp/t2000.nwk" "$tmp/rep.Rtab"
      $mpirun -n "$n" "$build/benchmarks/bench_rows" "$mode" "$tmp/t20.nwk" "$tmp/few.Rtab"
      $mpirun -n "$n" "$build/benchmarks/bench_rows" "$mode" "$tmp/t20.nwk" "$tmp/few.npy" \
        "$tmp/few.taxa"
    done
  done
done
