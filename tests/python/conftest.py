"""Shared fixtures of the Python suite (run by scripts/test.sh after the C
suites; see docs/python.md).

The suite runs against the installed package (pip install .).  The program
caches go to a fresh directory unless FITCL_CACHE_DIR / POCL_CACHE_DIR are
set.  With FITCL_TEST_REQUIRE_OPENCL=1 (as CI sets it), the OpenCL tests
fail instead of skipping when no OpenCL device is there."""
from __future__ import annotations

import os
import pathlib
import shutil
import sysconfig
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
# The NIST StRD data live beside the source tree (as for tests/test_nist.c).
NIST_DIR = pathlib.Path(os.environ.get("FITCL_NIST_DIR", REPO.parent / "shared" / "data" / "nist"))

_scratch = tempfile.mkdtemp(prefix="fitcl-pytest-")
os.environ.setdefault("FITCL_CACHE_DIR", os.path.join(_scratch, "fitcl-cache"))
os.environ.setdefault("POCL_CACHE_DIR", os.path.join(_scratch, "pocl-cache"))
os.makedirs(os.environ["POCL_CACHE_DIR"], exist_ok=True)
# Tests that do not choose a device run on the pthreads backend (the
# OpenCL ones say so), so results compare bit for bit with the CLI's.
os.environ["FITCL_DEVICE"] = "cpu"

import fitcl  # noqa: E402  (after the environment above)


def pytest_sessionfinish(session: object, exitstatus: object) -> None:
    shutil.rmtree(_scratch, ignore_errors=True)


def cli_path() -> str:
    """The fitcl command installed with the package (or FITCL_CLI)."""
    env = os.environ.get("FITCL_CLI")
    if env:
        return env
    found = shutil.which("fitcl", path=sysconfig.get_path("scripts")) or shutil.which("fitcl")
    if not found:
        pytest.fail("the fitcl command is not installed next to the package (set FITCL_CLI)")
    return found


@pytest.fixture(scope="session")
def cli() -> str:
    return cli_path()


def opencl_selector() -> str | None:
    for d in fitcl.devices():
        if d.backend == "opencl" and d.fp64:
            return d.selector
    return None


@pytest.fixture(params=["cpu", "opencl"])
def device(request: pytest.FixtureRequest) -> str:
    """Both backends: the pthreads path and the first OpenCL device."""
    if request.param == "cpu":
        return "cpu"
    sel = opencl_selector()
    if sel is None:
        if os.environ.get("FITCL_TEST_REQUIRE_OPENCL") == "1":
            pytest.fail("FITCL_TEST_REQUIRE_OPENCL=1 but no OpenCL device with fp64 was found")
        pytest.skip("no OpenCL device with fp64")
    return sel
