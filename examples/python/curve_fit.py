#!/usr/bin/env python3
"""Curve fitting from NumPy: a double exponential on a million points, as
scipy.optimize.curve_fit would fit it, plotted with its residuals.

usage: python examples/python/curve_fit_xpcs.py [OUT.png]   (default: curve_fit.png)
"""
import sys

import numpy as np

import fitcl
import fitcl.plot


def main(out: str) -> None:
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(0, 10, 1_000_000))
    y = 2.0 * np.exp(-1.5 * x) + 0.5 * np.exp(-0.1 * x) + rng.normal(0, 0.01, x.size)

    model = "a1*exp(-b1*x) + a2*exp(-b2*x)"   # or the built-in name "double_exp"
    popt, pcov, res = fitcl.curve_fit(model, x, y, p0=[1, 1, 1, 0.05], full_output=True)
    print(res.summary())
    fig = fitcl.plot.fit(model, x, y, res, xscale="linear",
                         title=f"double exponential, {x.size:,} points, {res.seconds * 1e3:.0f} ms")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "curve_fit.png")
