#!/usr/bin/env bash
# Installs the Debian 12 packages fitcl needs to build, test and benchmark
# (the Python package too: its own dependencies come from PyPI into a
# virtual environment, scripts/test-python.sh),
# skipping apt entirely when everything is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
  libclblast-dev libcriterion-dev nettle-dev liblapacke-dev libcjson-dev
  libhdf5-dev libhmsbeagle-dev libcminpack-dev
  libopenmpi-dev openmpi-bin
  clang libclang-rt-14-dev
  python3-dev python3-venv python3-pip
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
