"""C-contiguous float64 arrays are used in place (tracemalloc sees no copy
of them); the GIL is released during fits, and two threads fit at the same
time on their own contexts."""
from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import fitcl

N = 2_000_000  # 16 MB per column


def _data(n: int = N, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 10, n)
    y = 2 * np.exp(-1.5 * x) + 0.5 * np.exp(-0.1 * x) + rng.normal(0, 0.01, n)
    return x, y


def test_arrays_are_not_copied() -> None:
    x, y = _data()
    sigma = np.full(N, 0.01)
    fitcl.curve_fit("double_exp", x[::1000], y[::1000], p0=[1, 1, 1, 0.05])  # warm the context
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        popt, _ = fitcl.curve_fit("double_exp", x, y, p0=[1, 1, 1, 0.05], sigma=sigma)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert popt[1] == pytest.approx(1.5, rel=1e-3)
    # One copy of any column would be 16 MB.
    assert peak < 1_000_000, f"peak traced allocation {peak} bytes: an input array was copied"


def test_other_layouts_are_converted_once() -> None:
    x, y = _data(200_000)
    ref, _ = fitcl.curve_fit("double_exp", x, y, p0=[1, 1, 1, 0.05])
    xs = np.repeat(x, 2)[::2]                     # strided view
    y32 = y.astype(np.float32)                    # another dtype
    popt, _ = fitcl.curve_fit("double_exp", xs, y, p0=[1, 1, 1, 0.05])
    np.testing.assert_array_equal(popt, ref)
    popt32, _ = fitcl.curve_fit("double_exp", xs, y32, p0=[1, 1, 1, 0.05])
    assert popt32[1] == pytest.approx(ref[1], rel=1e-5)
    popt_list, _ = fitcl.curve_fit("double_exp", list(x[:5000]), list(y[:5000]),
                                   p0=[1, 1, 1, 0.05])
    assert np.all(np.isfinite(popt_list))


def test_gil_is_released_during_a_fit() -> None:
    x, y = _data()
    done = threading.Event()
    out = {}

    def work() -> None:
        out["r"] = fitcl.curve_fit("double_exp", x, y, p0=[1, 1, 1, 0.05], full_output=True)
        done.set()

    fitcl.curve_fit("double_exp", x[::1000], y[::1000], p0=[1, 1, 1, 0.05])
    t = threading.Thread(target=work)
    spins = 0
    t.start()
    while not done.is_set():
        spins += 1  # pure Python: runs only while the fit holds no GIL
    t.join()
    assert out["r"][2].seconds > 0
    assert spins > 1000


def test_two_threads_fit_concurrently() -> None:
    """Each fit's first progress callback waits at a barrier for the other
    fit to reach its own: were fits serialised (a held GIL, a shared
    context), the second could not start and the barrier would time out."""
    data = [_data(500_000, seed=s) for s in (1, 2)]
    expected = [fitcl.curve_fit("double_exp", x, y, p0=[1, 1, 1, 0.05])[0] for x, y in data]
    barrier = threading.Barrier(2, timeout=60)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        met = []

        def progress(p: fitcl.CurveFitProgress) -> None:
            if not met:
                met.append(barrier.wait())

        try:
            x, y = data[i]
            results[i] = fitcl.curve_fit("double_exp", x, y, p0=[1, 1, 1, 0.05],
                                         progress=progress)[0]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(2):
        np.testing.assert_array_equal(results[i], expected[i])  # deterministic


def test_shared_context_takes_turns() -> None:
    x, y = _data(100_000)
    with fitcl.Context("cpu") as ctx:
        out = []

        def work() -> None:
            out.append(fitcl.curve_fit("double_exp", x, y, p0=[1, 1, 1, 0.05], context=ctx)[0])

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert len(out) == 4
    for p in out[1:]:
        np.testing.assert_array_equal(p, out[0])
