#!/usr/bin/env bash
# The Python package: `pip install .[test]` into a virtual environment under
# build/ (never the system's site-packages), then its test suite (pytest,
# tests/python).  scripts/test.sh runs this after the C suites.
# Environment: PYTHON (default python3) makes the virtual environment;
# FITCL_VENV (default build/venv) is where it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FITCL_VENV:-build/venv}
if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q ".[test]"
# The sources sit under python/, so `import fitcl` here is the installed
# package.
"$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir="$PWD" "$PWD/tests/python" "$@"
