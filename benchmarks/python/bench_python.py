#!/usr/bin/env python3
"""The Python binding against its peers and against the C API, in one run.

1. A 1M-point double exponential from NumPy arrays: fitcl.curve_fit (the
   built-in model and the same model as an expression) against NLSQ's
   curve_fit (second call: its JAX compilation excluded) and
   scipy.optimize.curve_fit (its default 'lm' with forward differences, and
   with the analytic Jacobian), same data, same start, same tolerances; the
   parameters of every peer are compared with fitcl's.
2. The binding's per-call overhead: a 100-point fit through fitcl.curve_fit
   against the same fit through the C API (benchmarks/bench_curvefit_call,
   run by this script in the same run).
3. Batched small fits: 10,000 Gaussian peaks of 64 points (4 parameters;
   the problem of benchmarks/bench_batch.c) through fitcl.curve_fit_batch,
   against a loop of scipy.optimize.curve_fit over the rows (its analytic
   Jacobian, 'lm', default tolerances) and a loop of fitcl.curve_fit, same
   data, same starts; the parameters are compared with the batch's.

usage: bench_python.py [--c-bench PATH] [--points N] [--repeats R] [--tol T]
                       [--skip-nlsq] [--skip-scipy] [--batch-fits N]
                       [--batch-points n] [--only overhead|curvefit|batch]

Run it in an environment with fitcl, scipy and nlsq installed (docs/BENCHMARKS.md
gives the commands).  Prints a table and one 'ROW {json}' line per figure.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np

import fitcl

P_TRUE = (2.0, 1.3, 0.7, 0.15)
P0 = [1.0, 2.0, 1.0, 0.1]


def row(**k: object) -> None:
    print("ROW " + json.dumps(k), flush=True)


def timed(fn, repeats: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy "
            f"{np.__version__}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = np.linspace(0.0, 20.0, n)
    a1, b1, a2, b2 = P_TRUE
    return x, a1 * np.exp(-b1 * x) + a2 * np.exp(-b2 * x) + rng.normal(0, 0.01, n)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))


def big_fit(n: int, repeats: int, tol: float, skip_nlsq: bool, skip_scipy: bool) -> None:
    x, y = data(n)
    tols = dict(ftol=tol, xtol=tol, gtol=tol)
    results: dict[str, tuple[float, float, np.ndarray]] = {}

    # fitcl: the first call opens the context (and compiles an OpenCL model);
    # like every peer's, it is left out.
    # One worker thread too: the machine's other jobs slow a two-thread pass
    # more than the single-threaded peers.
    one = fitcl.Context("cpu", threads=1) if os.environ.get("FITCL_DEVICE", "cpu") == "cpu" else None
    for name, model, ctx in (("fitcl double_exp", "double_exp", None),
                             ("fitcl expression", "a1*exp(-b1*x) + a2*exp(-b2*x)", None),
                             ("fitcl double_exp, 1 thread", "double_exp", one)):
        if name.endswith("1 thread") and ctx is None:
            continue
        fitcl.curve_fit(model, x, y, p0=P0, context=ctx, **tols)
        tmin, tmed, out = timed(lambda: fitcl.curve_fit(model, x, y, p0=P0, context=ctx, **tols),
                                repeats)
        results[name] = (tmin, tmed, out[0])
    ref = results["fitcl double_exp"][2]

    def f_np(x, a1, b1, a2, b2):
        return a1 * np.exp(-b1 * x) + a2 * np.exp(-b2 * x)

    def jac_np(x, a1, b1, a2, b2):
        e1, e2 = np.exp(-b1 * x), np.exp(-b2 * x)
        return np.stack([e1, -a1 * x * e1, e2, -a2 * x * e2], axis=1)

    if not skip_scipy:
        from scipy import __version__ as sv
        from scipy.optimize import curve_fit as scipy_fit
        for name, kw in ((f"scipy {sv} curve_fit (lm, finite differences)", {}),
                         (f"scipy {sv} curve_fit (lm, analytic jac)", {"jac": jac_np})):
            tmin, tmed, out = timed(lambda: scipy_fit(f_np, x, y, p0=P0, **kw, **tols),
                                    max(1, repeats // 3))
            results[name] = (tmin, tmed, out[0])

    if not skip_nlsq:
        import logging

        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import nlsq
        logging.disable(logging.WARNING - 1)  # NLSQ logs a line per iteration otherwise

        def f_jax(x, a1, b1, a2, b2):
            return a1 * jnp.exp(-b1 * x) + a2 * jnp.exp(-b2 * x)

        t0 = time.perf_counter()
        nlsq.curve_fit(f_jax, x, y, p0=P0, **tols)
        first = time.perf_counter() - t0
        tmin, tmed, out = timed(lambda: nlsq.curve_fit(f_jax, x, y, p0=P0, **tols),
                                max(1, repeats // 3))
        name = f"NLSQ {nlsq.__version__} curve_fit (second call; first {first:.2f} s)"
        popt, _ = out  # NLSQ's result unpacks as (popt, pcov)
        results[name] = (tmin, tmed, np.asarray(popt))
        row(bench="python_curvefit", variant="nlsq_first_call", points=n, seconds=first)

    base = results["fitcl double_exp"][1]
    print(f"\n1M-point double exponential: {n:,} points, tolerances {tol:g}, "
          f"min / median of the repeats")
    print(f"{'':58s} {'min s':>8s} {'median s':>9s} {'vs fitcl':>9s} {'params vs fitcl':>16s}")
    for name, (tmin, tmed, p) in results.items():
        d = rel(p, ref)
        print(f"{name:58s} {tmin:8.4f} {tmed:9.4f} {tmed / base:8.1f}x {d:16.2g}")
        row(bench="python_curvefit", variant=name, points=n, min=tmin, median=tmed,
            ratio=tmed / base, max_rel_param_diff=d)


def overhead(c_bench: str, n: int, reps: int) -> None:
    x = 5.0 * np.arange(n) / (n - 1)
    y = 2.0 * np.exp(-1.3 * x) + 0.5 + 0.01 * np.sin(37.0 * np.arange(n))
    p0 = [1.0, 1.0, 0.0]
    f = "a*exp(-b*x)+c"
    fitcl.curve_fit(f, x, y, p0=p0)
    rounds = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(reps):
            popt, pcov = fitcl.curve_fit(f, x, y, p0=p0)
        rounds.append((time.perf_counter() - t0) / reps)
    py_min, py_med = min(rounds) * 1e6, statistics.median(rounds) * 1e6
    out = subprocess.run([c_bench, str(n), str(reps)], capture_output=True, text=True,
                         check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("c_api_call_us"))
    c_min, c_med = float(line.split()[2]), float(line.split()[4])
    c_popt = [float(v) for v in next(ln for ln in out.splitlines()
                                     if ln.startswith("#")).split("popt")[1].split()]
    same = rel(popt, np.array(c_popt))
    print(f"\nper-call cost of a {n}-point fit ({reps} calls x 7 rounds; min / median µs)")
    print(f"  C API (fitcl_curve_fit_arrays)  {c_min:8.2f} {c_med:8.2f}")
    print(f"  fitcl.curve_fit                 {py_min:8.2f} {py_med:8.2f}")
    print(f"  Python overhead                 {py_min - c_min:8.2f} {py_med - c_med:8.2f}"
          f"   (popt equal to the C API's: max rel diff {same:.1g})")
    row(bench="python_overhead", points=n, c_us=c_med, python_us=py_med,
        overhead_us=py_med - c_med, overhead_min_us=py_min - c_min)


def peaks(nfits: int, npoints: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, p0) of benchmarks/bench_batch.c's Gaussian peaks: amplitude
    70-130, centre and width in proportion to n, offset 0-10, unit noise;
    starts within 10 % of the truth (the offset's 1 above it)."""
    rng = np.random.default_rng(42)
    x = np.arange(npoints, dtype=np.float64)
    u = rng.random((4, nfits))
    truth = np.stack([100 * (0.7 + 0.6 * u[0]), npoints * (0.4 + 0.2 * u[1]),
                      npoints * (0.06 + 0.04 * u[2]), 10 * u[3]], axis=1)
    a, mu, s, c = (truth[:, k:k + 1] for k in range(4))
    y = a * np.exp(-(x - mu) ** 2 / (2 * s * s)) + c + rng.standard_normal((nfits, npoints))
    p0 = truth * (1 + 0.2 * (rng.random(truth.shape) - 0.5))
    p0[:, 3] += 1
    return x, y, p0


def batch(nfits: int, npoints: int, repeats: int, skip_scipy: bool) -> None:
    x, y, p0 = peaks(nfits, npoints)
    fitcl.curve_fit_batch("gaussian", x, y, p0)  # the first call opens the context
    tmin, tmed, res = timed(lambda: fitcl.curve_fit_batch("gaussian", x, y, p0), repeats)
    ok = res.converged
    results: dict[str, tuple[float, float, np.ndarray, np.ndarray]] = {
        "fitcl.curve_fit_batch": (tmin, tmed, res.params, ok)}

    def loop(fit) -> tuple[np.ndarray, np.ndarray]:
        out, good = np.full_like(p0, np.nan), np.zeros(nfits, dtype=bool)
        for i in range(nfits):
            try:
                out[i] = fit(i)
                good[i] = True
            except RuntimeError:
                pass
        return out, good

    fitcl.curve_fit("gaussian", x, y[0], p0=p0[0])
    t0 = time.perf_counter()
    params, good = loop(lambda i: fitcl.curve_fit("gaussian", x, y[i], p0=p0[i])[0])
    t = time.perf_counter() - t0
    results["fitcl.curve_fit loop"] = (t, t, params, good)

    if not skip_scipy:
        from scipy import __version__ as sv
        from scipy.optimize import curve_fit as scipy_fit

        def f_np(x, a, mu, s, c):
            return a * np.exp(-(x - mu) ** 2 / (2 * s * s)) + c

        def jac_np(x, a, mu, s, c):
            u = x - mu
            e = np.exp(-u * u / (2 * s * s))
            return np.stack([e, a * e * u / (s * s), a * e * u * u / s ** 3, np.ones_like(x)], 1)

        t0 = time.perf_counter()
        params, good = loop(lambda i: scipy_fit(f_np, x, y[i], p0=p0[i], jac=jac_np)[0])
        t = time.perf_counter() - t0
        results[f"scipy {sv} curve_fit loop (lm, analytic jac)"] = (t, t, params, good)

    base = tmed
    print(f"\nbatched fits: {nfits:,} Gaussian peaks x {npoints} points (4 parameters), "
          f"{res.backend}; batch min / median of {repeats}, loops once; "
          f"{res.n_converged:,} converged in the batch")
    print(f"{'':48s} {'min s':>8s} {'median s':>9s} {'fits/s':>10s} {'vs batch':>9s} "
          f"{'params vs batch':>16s}")
    for name, (t_min, t_med, p, good) in results.items():
        both = good & ok
        # |difference| relative to max(|p|, stderr), over fits both converged.
        d = (float(np.max(np.abs(p[both] - res.params[both]) /
                          np.maximum(np.abs(res.params[both]), res.stderr[both])))
             if name != "fitcl.curve_fit_batch" and both.any() else 0.0)
        print(f"{name:48s} {t_min:8.4f} {t_med:9.4f} {nfits / t_med:10.0f} "
              f"{t_med / base:8.1f}x {d:16.2g}")
        row(bench="python_batch", variant=name, fits=nfits, points=npoints, min=t_min,
            median=t_med, ratio=t_med / base, max_rel_param_diff=d, compared=int(both.sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--c-bench", help="path of bench_curvefit_call (for the overhead)")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--call-reps", type=int, default=3000)
    ap.add_argument("--skip-nlsq", action="store_true")
    ap.add_argument("--skip-scipy", action="store_true")
    ap.add_argument("--batch-fits", type=int, default=10_000)
    ap.add_argument("--batch-points", type=int, default=64)
    ap.add_argument("--only", choices=("overhead", "curvefit", "batch"))
    a = ap.parse_args()
    if a.only in (None, "overhead") and not a.c_bench:
        ap.error("--c-bench is needed for the overhead (or give --only curvefit|batch)")
    print(f"# machine: {machine()}")
    print(f"# fitcl {fitcl.__version__}, FITCL_DEVICE={os.environ.get('FITCL_DEVICE', '(auto)')}")
    if a.only in (None, "overhead"):
        overhead(a.c_bench, 100, a.call_reps)
    if a.only in (None, "curvefit"):
        big_fit(a.points, a.repeats, a.tol, a.skip_nlsq, a.skip_scipy)
    if a.only in (None, "batch"):
        batch(a.batch_fits, a.batch_points, a.repeats, a.skip_scipy)
    print(f"# load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
