"""Devices, contexts, the program cache, models, and both backends."""
from __future__ import annotations

import numpy as np
import pytest

import fitcl


def test_devices() -> None:
    ds = fitcl.devices()
    assert ds[0].selector == "cpu" and ds[0].backend == "cpu"
    assert sum(d.selected for d in ds) == 1  # FITCL_DEVICE=cpu (conftest)
    assert ds[0].selected


def test_context_info_and_selftest() -> None:
    with fitcl.Context("cpu", threads=2) as ctx:
        info = ctx.info
        assert info.backend == "cpu" and info.threads == 2
        assert all(c.passed for c in ctx.selftest())
        assert "cpu" in repr(ctx)
    assert ctx.closed
    with pytest.raises(ValueError):
        ctx.info


def test_precision() -> None:
    assert fitcl.devices()[0].precision == "double"
    assert all(d.precision in ("double", "mixed") for d in fitcl.devices())
    # The pthreads backend computes in double whatever is asked.
    with fitcl.Context("cpu", precision="single") as ctx:
        assert ctx.info.precision == "double"
    with pytest.raises(ValueError, match="precision"):
        fitcl.Context("cpu", precision="quad")


def test_cache_info() -> None:
    info = fitcl.cache_info()
    assert info.dir
    assert isinstance(fitcl.cache_clear(), int)


def test_version() -> None:
    assert fitcl.__version__.count(".") == 2


def test_model_eval_and_call() -> None:
    m = fitcl.Model("a*exp(-b*x)+c")
    assert m.params == ("a", "b", "c") and m.variables == ("x",)
    x = np.linspace(0, 1, 7)
    f, jac = m.eval(x, [2.0, 3.0, 0.5], jacobian=True)
    np.testing.assert_allclose(f, 2 * np.exp(-3 * x) + 0.5, rtol=1e-15)
    np.testing.assert_allclose(jac[:, 1], -2 * x * np.exp(-3 * x), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(m(x, 2.0, 3.0, 0.5), f)
    b = fitcl.Model("xpcs_g2")
    assert b.builtin == "xpcs_g2" and b.variables == ("tau", "q")
    assert "double_exp" in fitcl.builtin_models()
    assert fitcl.Model("p*x^e + pi", params=["p", "e"]).params == ("p", "e")
    assert fitcl.Model("k*exp(t)", variables=["t"]).params == ("k",)


def test_full_output() -> None:
    x = np.linspace(0, 4, 300)
    y = 1.7 * np.exp(-0.6 * x) + np.random.default_rng(2).normal(0, 0.01, x.size)
    popt, pcov, r = fitcl.curve_fit("a*exp(-b*x)", x, y, p0={"a": 1, "b": 1}, full_output=True)
    assert r.converged and r.status.startswith("converged")
    assert r.params == dict(zip(("a", "b"), popt.tolist()))
    np.testing.assert_allclose(r.perr, np.sqrt(np.diag(pcov)), rtol=1e-12)
    assert r.correlation[0, 0] == pytest.approx(1.0)
    assert r.points == 300 and r.dof == 298
    assert r.reduced_chi2 == pytest.approx(r.rss / 298)
    assert r.nfev == r.iterations + r.jacobian_passes
    assert "a" in r.summary()


def test_both_backends_agree(device: str) -> None:
    rng = np.random.default_rng(4)
    tau = np.logspace(-3, 1, 20000)
    q = np.full(tau.size, 0.8)
    g2 = 1.0 + 0.25 * np.exp(-2 * q * q * (0.5 * tau ** 1.1 / 1.1 + 0.01 * tau))
    g2 += rng.normal(0, 1e-3, tau.size)
    p0 = [1, 0.2, 0.4, 0.0, 0.0]
    ref, ref_cov = fitcl.curve_fit("xpcs_g2", np.stack([tau, q]), g2, p0=p0, device="cpu")
    popt, pcov = fitcl.curve_fit("xpcs_g2", np.stack([tau, q]), g2, p0=p0, device=device)
    np.testing.assert_allclose(popt, ref, rtol=1e-9)
    np.testing.assert_allclose(pcov, ref_cov, rtol=1e-6)
