#!/usr/bin/env python3
"""Python peers of bench_curvefit: scipy.optimize.least_squares and NLSQ
curve_fit on the same .npy data that fitcl fits in the same run.

usage: python_peer.py scipy|nlsq DATA.npy double_exp|xpcs P0,P0,... REPEATS

DATA.npy is 2-D: columns (x, y) for double_exp, (tau, q, y) for xpcs.
Prints one JSON line: {"peer", "min", "median", "params", "nfev"} or
{"peer", "skip": reason} when the package is missing."""
import json
import statistics
import sys
import time


def main():
    peer, path, model, p0s, repeats = sys.argv[1:6]
    p0 = [float(v) for v in p0s.split(",")]
    repeats = int(repeats)
    try:
        import numpy as np
        if peer == "scipy":
            from scipy.optimize import least_squares
        else:
            import jax
            jax.config.update("jax_enable_x64", True)
            import jax.numpy as jnp
            from nlsq import curve_fit
    except Exception as e:  # noqa: BLE001 - any import failure means "skip"
        print(json.dumps({"peer": peer, "skip": f"{type(e).__name__}: {e}"}))
        return
    d = np.load(path, mmap_mode="r")
    d = np.ascontiguousarray(d)
    if model == "double_exp":
        x, y = d[:, 0].copy(), d[:, 1].copy()
    else:
        x, q, y = d[:, 0].copy(), d[:, 1].copy(), d[:, 2].copy()

    if peer == "scipy":
        if model == "double_exp":
            def fun(p):
                return p[0] * np.exp(-p[1] * x) + p[2] * np.exp(-p[3] * x) - y

            def jac(p):
                e1, e2 = np.exp(-p[1] * x), np.exp(-p[3] * x)
                return np.stack([e1, -p[0] * x * e1, e2, -p[2] * x * e2], axis=1)
        else:
            q2 = q * q

            def parts(p):
                a1 = p[3] + 1
                T = x ** a1
                E = np.exp(-2 * q2 * (p[2] * T / a1 + p[4] * x))
                return a1, T, E

            def fun(p):
                a1, T, E = parts(p)
                return p[0] + p[1] * E - y

            def jac(p):
                a1, T, E = parts(p)
                k = p[1] * E * (-2 * q2)
                return np.stack([np.ones_like(x), E, k * T / a1,
                                 k * p[2] * (T * np.log(x) / a1 - T / a1 ** 2), k * x], axis=1)

        def fit():
            r = least_squares(fun, p0, jac=jac)
            return r.x, r.nfev
    else:
        if model == "double_exp":
            def f(xx, a, b, c, dd):
                return a * jnp.exp(-b * xx) + c * jnp.exp(-dd * xx)
            xdata = x
        else:
            def f(xx, off, con, D0, al, Do):
                t, qq = xx[0], xx[1]
                a1 = al + 1
                return off + con * jnp.exp(-2 * qq * qq * (D0 * t ** a1 / a1 + Do * t))
            xdata = np.stack([x, q])

        def fit():
            popt, _ = curve_fit(f, xdata, y, p0=p0)
            return np.asarray(popt), -1

    fit()  # warm-up (NLSQ compiles here)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        params, nfev = fit()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"peer": peer, "min": min(times), "median": statistics.median(times),
                      "params": [float(v) for v in params], "nfev": int(nfev)}))


if __name__ == "__main__":
    main()
