#!/usr/bin/env bash
# Configures and builds fitcl into build/ (Release, warnings are errors).
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DFITCL_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
