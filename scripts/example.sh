#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run the main job — the
# retention likelihood-ratio test on the bundled 50-taxon x 500-family example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
echo
echo "== fitcl selftest"
./build/fitcl selftest
if [ -f examples/pangenome50.nwk ]; then
  echo
  echo "== fitcl retention-test on examples/ (50 taxa x 500 families)"
  ./build/fitcl retention-test --tree examples/pangenome50.nwk \
    --matrix examples/pangenome50.Rtab --families examples/retained.txt
fi
