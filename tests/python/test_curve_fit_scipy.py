"""fitcl.curve_fit agrees with scipy.optimize.curve_fit: popt and pcov to
1e-8 relative on well-conditioned synthetic models.

scipy is given the model's exact Jacobian (fitcl differentiates its
expressions exactly; scipy's default forward differences cost about 1e-8 in
pcov by themselves) and both run with tolerances 1e-14: MINPACK's pcov
comes from the Jacobian of the iterate before its last step, which differs
from the solution's by about 1e-6 relative at the default 1e-8 and still by
3e-8 at 1e-12 (fitcl's pcov is the solution's to 1e-15 at any tolerance)."""
from __future__ import annotations

import numpy as np
import pytest

scipy_optimize = pytest.importorskip("scipy.optimize")

import fitcl  # noqa: E402

TOL = dict(ftol=1e-14, xtol=1e-14, gtol=1e-14)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def rel_cov(a: np.ndarray, b: np.ndarray) -> float:
    """Elementwise difference relative to sqrt(b_ii b_jj): the scale of each
    entry (an off-diagonal covariance near 0 has no relative precision)."""
    d = np.sqrt(np.outer(np.diag(b), np.diag(b)))
    return float(np.max(np.abs(a - b) / d))


def _data(kind: str) -> tuple:
    rng = np.random.default_rng(11)
    if kind == "exp_decay":
        x = np.linspace(0, 8, 400)
        return ("a*exp(-b*x)+c", x, 3 * np.exp(-0.7 * x) + 0.4 + rng.normal(0, 0.02, x.size),
                [1, 1, 0], None)
    if kind == "gaussian":
        x = np.linspace(-5, 5, 500)
        y = 2 * np.exp(-(x - 0.3) ** 2 / (2 * 0.8 ** 2)) + 0.1 + rng.normal(0, 0.01, x.size)
        return "gaussian", x, y, [1, 0, 1, 0], None
    if kind == "double_exp_weighted":
        x = np.linspace(0, 10, 3000)
        s = 0.01 * (1 + 0.5 * np.sin(x))
        y = 2 * np.exp(-1.5 * x) + 0.5 * np.exp(-0.1 * x) + rng.normal(0, 1, x.size) * s
        return "double_exp", x, y, [1, 1, 1, 0.05], s
    if kind == "two_variables":
        t = np.tile(np.linspace(0.01, 5, 300), 3)
        q = np.repeat([0.5, 1.0, 1.5], 300)
        y = 1.0 + 0.3 * np.exp(-2 * q * q * 0.8 * t) + rng.normal(0, 0.002, t.size)
        return "b + c*exp(-2*q^2*D*t)", {"t": t, "q": q}, y, [1.1, 0.2, 1.0], None
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["exp_decay", "gaussian", "double_exp_weighted", "two_variables"])
@pytest.mark.parametrize("absolute_sigma", [False, True])
def test_agrees_with_scipy(kind: str, absolute_sigma: bool) -> None:
    expr, x, y, p0, sigma = _data(kind)
    variables = tuple(x) if isinstance(x, dict) else None
    model = fitcl.Model(expr, variables=variables)
    popt, pcov = fitcl.curve_fit(expr, x, y, p0=p0, sigma=sigma, absolute_sigma=absolute_sigma,
                                 variables=variables, **TOL)

    cols = tuple(x[v] for v in variables) if variables else x

    def f(_, *p):
        return model.eval(cols, np.array(p))

    def jac(_, *p):
        return model.eval(cols, np.array(p), jacobian=True)[1]

    ref_popt, ref_pcov = scipy_optimize.curve_fit(f, np.arange(y.size, dtype=float), y, p0=p0,
                                                  sigma=sigma, absolute_sigma=absolute_sigma,
                                                  jac=jac, **TOL)
    assert rel(popt, ref_popt) <= 1e-8
    assert rel_cov(pcov, ref_pcov) <= 1e-8


def test_bounded_agrees_with_scipy_trf() -> None:
    expr, x, y, p0, _ = _data("exp_decay")
    bounds = ([0, 0, -1], [10, 0.69, 1])  # b's optimum (0.7) is outside: it ends on the bound
    p0 = [1, 0.5, 0]
    popt, _ = fitcl.curve_fit(expr, x, y, p0=p0, bounds=bounds, **TOL)
    ref, _ = scipy_optimize.curve_fit(lambda x, a, b, c: a * np.exp(-b * x) + c, x, y, p0=p0,
                                      bounds=bounds, **TOL)
    assert popt[1] == pytest.approx(0.69, rel=1e-12)
    assert rel(popt, ref) <= 1e-7


def test_callable_with_jacobian_agrees() -> None:
    expr, x, y, p0, _ = _data("exp_decay")

    def f(x, a, b, c):
        return a * np.exp(-b * x) + c

    def jac(x, a, b, c):
        e = np.exp(-b * x)
        return np.stack([e, -a * x * e, np.ones_like(x)], axis=1)

    popt, pcov = fitcl.curve_fit(f, x, y, p0=p0, jac=jac, **TOL)
    ref_popt, ref_pcov = scipy_optimize.curve_fit(f, x, y, p0=p0, jac=jac, **TOL)
    assert rel(popt, ref_popt) <= 1e-8
    assert rel_cov(pcov, ref_pcov) <= 1e-8


@pytest.mark.parametrize("jac", [None, "3-point"])
def test_callable_finite_differences(jac: str | None) -> None:
    expr, x, y, p0, _ = _data("gaussian")

    def f(x, a, mu, s, c):
        return a * np.exp(-(x - mu) ** 2 / (2 * s * s)) + c

    popt, pcov = fitcl.curve_fit(f, x, y, p0=p0, jac=jac)
    exact, exact_cov = fitcl.curve_fit(expr, x, y, p0=p0, **TOL)
    assert rel(popt, exact) <= 1e-6
    assert rel_cov(pcov, exact_cov) <= 1e-5


def test_default_p0_and_loss_like_scipy() -> None:
    rng = np.random.default_rng(5)
    x = np.linspace(0, 4, 200)
    y = 1.5 * np.exp(-0.9 * x) + 0.3 + rng.normal(0, 0.01, x.size)
    y[::25] += 2.0  # outliers

    def f(x, a, b, c):
        return a * np.exp(-b * x) + c

    popt, _ = fitcl.curve_fit("a*exp(-b*x)+c", x, y, loss="soft_l1", f_scale=0.05, **TOL)
    ref, _ = scipy_optimize.curve_fit(f, x, y, method="trf", loss="soft_l1", f_scale=0.05, **TOL)
    assert rel(popt, ref) <= 1e-6
    assert popt[1] == pytest.approx(0.9, rel=0.02)
