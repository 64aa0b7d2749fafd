#!/usr/bin/env python3
"""scipy.optimize.curve_fit in a Python loop: the Python peer of bench_batch.

usage: batch_scipy.py gaussian|xpcs Y.npy X.npy Q.npy|- P0.npy OUT.npy [MAXFITS]

Y is (N, n), X the shared (n,) abscissa (tau for xpcs), Q the (N, 1) q of
each fit for xpcs, P0 (N, p).  Each fit is curve_fit with its analytic
Jacobian (method 'lm', MINPACK, tolerances 1e-8 as in the C peer).  With
MAXFITS only the first MAXFITS fits run.  Writes the parameters to OUT
((fits, p)) and prints one JSON line {"peer", "seconds", "fits"} or
{"peer", "skip": reason} when scipy is missing."""
import json
import sys
import time


def main():
    model, yp, xp, qp, p0p, outp = sys.argv[1:7]
    maxfits = int(sys.argv[7]) if len(sys.argv) > 7 else None
    try:
        import numpy as np
        from scipy.optimize import curve_fit
    except Exception as e:  # noqa: BLE001 - any import failure means "skip"
        print(json.dumps({"peer": "scipy", "skip": f"{type(e).__name__}: {e}"}))
        return
    y = np.load(yp)
    x = np.load(xp)
    p0 = np.load(p0p)
    q = np.load(qp).reshape(-1) if qp != "-" else None
    n_fits = y.shape[0] if maxfits is None else min(maxfits, y.shape[0])
    out = np.empty((n_fits, p0.shape[1]))
    if model == "gaussian":
        def f(xx, a, mu, s, c):
            return a * np.exp(-(xx - mu) ** 2 / (2 * s * s)) + c

        def jac(xx, a, mu, s, c):
            u = xx - mu
            e = np.exp(-u * u / (2 * s * s))
            return np.stack([e, a * e * u / (s * s), a * e * u * u / s ** 3, np.ones_like(xx)], 1)
    t0 = time.perf_counter()
    for i in range(n_fits):
        if model == "xpcs":
            q2 = q[i] * q[i]

            def f(t, off, con, D0, al, Do, q2=q2):
                a1 = al + 1
                return off + con * np.exp(-2 * q2 * (D0 * t ** a1 / a1 + Do * t))

            def jac(t, off, con, D0, al, Do, q2=q2):
                a1 = al + 1
                T = t ** a1
                E = np.exp(-2 * q2 * (D0 * T / a1 + Do * t))
                k = con * E * (-2 * q2)
                return np.stack([np.ones_like(t), E, k * T / a1,
                                 k * D0 * (T * np.log(t) / a1 - T / a1 ** 2), k * t], 1)
        try:
            out[i], _ = curve_fit(f, x, y[i], p0=p0[i], jac=jac, method="lm",
                                  ftol=1e-8, xtol=1e-8, gtol=1e-8)
        except RuntimeError:
            out[i] = np.nan
    seconds = time.perf_counter() - t0
    np.save(outp, out)
    print(json.dumps({"peer": "scipy", "seconds": seconds, "fits": n_fits}))


if __name__ == "__main__":
    main()
