"""fitcl.curve_fit_file streams files as `fitcl curve-fit` does: the same
fit as from arrays, the CLI's numbers, checkpoints that resume to the result
of an uninterrupted fit, progress callbacks."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

import fitcl

P0 = {"a1": 1.0, "b1": 1.0, "a2": 1.0, "b2": 0.05}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("cf")
    rng = np.random.default_rng(9)
    x = np.linspace(0, 10, 300_000)
    s = 0.01 * (1 + 0.3 * np.cos(x))
    y = 2 * np.exp(-1.5 * x) + 0.5 * np.exp(-0.1 * x) + rng.normal(0, 1, x.size) * s
    np.save(d / "xys.npy", np.stack([x, y, s], axis=1))
    np.savetxt(d / "data.csv", np.stack([x[:20000], y[:20000], s[:20000]], axis=1),
               delimiter=",", header="t,g2,err", comments="", fmt="%.17g")
    return {"dir": d, "x": x, "y": y, "s": s}


def test_npy_equals_arrays(data: dict) -> None:
    x, y, s = data["x"], data["y"], data["s"]
    ref, ref_cov = fitcl.curve_fit("double_exp", x, y, p0=list(P0.values()), sigma=s)
    popt, pcov = fitcl.curve_fit_file(data["dir"] / "xys.npy", "double_exp", sigma="2",
                                      p0=P0)
    np.testing.assert_allclose(popt, ref, rtol=1e-12)
    np.testing.assert_allclose(pcov, ref_cov, rtol=1e-9)


def test_csv_matches_the_cli(data: dict, cli: str) -> None:
    path = data["dir"] / "data.csv"
    expr = "a*exp(-b*t) + c*exp(-d*t)"
    popt, pcov, res = fitcl.curve_fit_file(path, expr, x="t", y="g2", sigma="err",
                                           p0=[1, 1, 1, 0.05], full_output=True)
    out = subprocess.run([cli, "curve-fit", "--data", str(path), "--x", "t", "--y", "g2",
                          "--sigma", "err", "--model", expr, "--p0", "a=1,b=1,c=1,d=0.05",
                          "--json"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, FITCL_DEVICE="cpu"))
    c = json.loads(out.stdout)
    assert res.names == ("a", "b", "c", "d")
    for name, v in zip(res.names, popt):
        assert v == pytest.approx(c["params"][name], rel=1e-15)
    assert res.rss == pytest.approx(c["rss"], rel=1e-15)
    assert res.iterations == c["iterations"]


def test_checkpoint_resume_reaches_the_uninterrupted_result(data: dict, tmp_path) -> None:
    path = data["dir"] / "xys.npy"
    ref = fitcl.curve_fit_file(path, "double_exp", p0=P0, ftol=1e-14, xtol=1e-14, gtol=1e-14)[0]
    ckpt = tmp_path / "fit.ckpt"
    seen: list[fitcl.CurveFitProgress] = []

    def stop_at_3(p: fitcl.CurveFitProgress) -> None:
        seen.append(p)
        if p.iteration == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fitcl.curve_fit_file(path, "double_exp", p0=P0, ftol=1e-14, xtol=1e-14, gtol=1e-14,
                             checkpoint=ckpt, checkpoint_every=1, progress=stop_at_3)
    assert ckpt.is_file() and seen[-1].iteration == 3
    assert all(isinstance(p.cost, float) for p in seen)
    popt = fitcl.curve_fit_file(path, "double_exp", resume=ckpt, ftol=1e-14, xtol=1e-14,
                                gtol=1e-14)[0]
    np.testing.assert_array_equal(popt, ref)


def test_bounds_and_robust_loss_like_arrays(data: dict) -> None:
    x, y = data["x"], data["y"]
    # The same tolerances for both (curve_fit_file defaults to the command's).
    kw = dict(bounds=([0, 0.5, 0, 0], [5, 1.4, 5, 0.3]), loss="soft_l1", f_scale=0.02,
              ftol=1e-8, xtol=1e-8, gtol=1e-8)
    ref = fitcl.curve_fit("double_exp", x, y, p0=[1, 1, 1, 0.05], **kw)[0]
    popt = fitcl.curve_fit_file(data["dir"] / "xys.npy", "double_exp", p0=P0, **kw)[0]
    np.testing.assert_allclose(popt, ref, rtol=1e-12)
    assert popt[1] == pytest.approx(1.4)
