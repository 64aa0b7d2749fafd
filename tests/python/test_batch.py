"""fitcl.curve_fit_batch: every row equals fitcl.curve_fit of that row and
scipy's curve_fit, on both backends; x shared, per fit and one value per
fit; fixed parameters; Poisson maximum likelihood; mixed statuses; input
errors; no copy of the inputs; the GIL released."""
from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import fitcl

# The Gaussian peaks of tests/test_batch.c: 64 points, truth drawn per fit.
N, n = 40, 64


def peaks(noise: float, nfits: int = N, npoints: int = n, seed: int = 7,
          x_per_fit: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, sigma, p0): x (n,) shared or (N, n) shifted per fit."""
    rng = np.random.default_rng(seed)
    a = 5 + 10 * rng.random(nfits)
    mu = 20 + 24 * rng.random(nfits)
    s = 3 + 4 * rng.random(nfits)
    c = 1 + rng.random(nfits)
    shift = 0.3 * (np.arange(nfits) % 3)[:, None] if x_per_fit else 0.0
    x = np.arange(npoints, dtype=np.float64) + shift
    xx = np.broadcast_to(x, (nfits, npoints))
    sigma = noise * (0.05 + 0.1 * rng.random((nfits, npoints)))
    y = (a[:, None] * np.exp(-(xx - mu[:, None]) ** 2 / (2 * s[:, None] ** 2)) + c[:, None]
         + sigma * rng.standard_normal((nfits, npoints)))
    p0 = np.stack([a * (1 + 0.2 * (rng.random(nfits) - 0.5)), mu + 2 * (rng.random(nfits) - 0.5),
                   s * (1 + 0.2 * (rng.random(nfits) - 0.5)), c + 0.2], axis=1)
    return x, y, sigma, p0


def gaussian_jac(x: np.ndarray, a: float, mu: float, s: float, c: float) -> np.ndarray:
    e = np.exp(-(x - mu) ** 2 / (2 * s * s))
    return np.stack([e, a * e * (x - mu) / s ** 2, a * e * (x - mu) ** 2 / s ** 3,
                     np.ones_like(x)], axis=1)


def gaussian(x: np.ndarray, a: float, mu: float, s: float, c: float) -> np.ndarray:
    return a * np.exp(-(x - mu) ** 2 / (2 * s * s)) + c


# Both to the Gauss-Newton step below 1e-12 of |p| + stderr, the cost
# test off (as tests/test_batch.c: the single fit's cost is flat to rounding
# near the optimum, so only the step test reaches it).
BATCH_TOL = dict(xtol=1e-12, ftol=-1)
SINGLE_TOL = dict(xtol=1e-12, ftol=-1, gtol=-1)


@pytest.mark.parametrize("variant", ["shared_x", "x_per_fit_sigma", "weights"])
def test_rows_equal_curve_fit(device: str, variant: str) -> None:
    x, y, sigma, p0 = peaks(1e-5, x_per_fit=variant != "shared_x")
    kw: dict = {}
    if variant == "x_per_fit_sigma":
        kw = dict(sigma=sigma)
    if variant == "weights":
        kw = dict(weights=1 / sigma ** 2)
    r = fitcl.curve_fit_batch("gaussian", x, y, p0, covariance=True, device=device,
                              **kw, **BATCH_TOL)
    assert r.n_converged == N and r.converged.all(), r.summary()
    assert r.backend == ("cpu" if device == "cpu" else "opencl")
    assert r.params.shape == (N, 4) and r.covariance is not None
    assert r.covariance.shape == (N, 4, 4)
    for i in range(N):
        xi = x if x.ndim == 1 else x[i]
        si = None if variant == "shared_x" else sigma[i]
        popt, pcov, res = fitcl.curve_fit("gaussian", xi, y[i], p0=p0[i], sigma=si,
                                          full_output=True, device=device, **SINGLE_TOL)
        scale = np.abs(popt) + res.perr
        assert np.all(np.abs(r.params[i] - popt) <= 1e-10 * scale), (i, r.params[i], popt)
        np.testing.assert_allclose(r.stderr[i], res.perr, rtol=1e-6)
        d = np.sqrt(np.outer(res.perr, res.perr))
        assert np.all(np.abs(r.covariance[i] - pcov) <= 1e-6 * d), i
        assert r.chi2[i] == pytest.approx(res.rss, rel=1e-9)
    assert np.all(r.dof == n - 4)
    np.testing.assert_allclose(r.reduced_chi2, r.chi2 / (n - 4))


def test_rows_equal_scipy(device: str) -> None:
    """Against scipy's MINPACK with the exact Jacobian and tolerances 1e-14
    (see test_curve_fit_scipy.py): parameters and the scaled covariance to
    1e-8 relative."""
    so = pytest.importorskip("scipy.optimize")
    x, y, sigma, p0 = peaks(1.0, nfits=12)
    r = fitcl.curve_fit_batch("gaussian", x, y, p0, sigma=sigma, covariance=True, device=device,
                              **BATCH_TOL)
    assert r.converged.all(), r.summary()
    assert r.covariance is not None
    for i in range(len(r)):
        popt, pcov = so.curve_fit(gaussian, x, y[i], p0=p0[i], sigma=sigma[i], jac=gaussian_jac,
                                  ftol=1e-14, xtol=1e-14, gtol=1e-14)
        np.testing.assert_allclose(r.params[i], popt, rtol=1e-8)
        d = np.sqrt(np.outer(np.diag(pcov), np.diag(pcov)))
        assert np.max(np.abs(r.covariance[i] - pcov) / d) < 1e-8, i


def test_x_layouts_give_the_same_bits(device: str) -> None:
    """x as one shared row, expanded per fit, in Fortran order; y in Fortran
    order and as a slice: one result."""
    x, y, _, p0 = peaks(1e-3)
    ref = fitcl.curve_fit_batch("gaussian", x, y, p0, device=device)
    for xv, yv in ((np.tile(x, (N, 1)), y),
                   (np.asfortranarray(np.tile(x, (N, 1))), np.asfortranarray(y)),
                   (x, np.hstack([y, y])[:, :n]),
                   (list(x), y.tolist())):
        r = fitcl.curve_fit_batch("gaussian", xv, yv, p0, device=device)
        np.testing.assert_array_equal(r.params, ref.params)
        np.testing.assert_array_equal(r.status, ref.status)


def test_one_value_per_fit(device: str) -> None:
    """A second variable with one value per fit ((N, 1): an XPCS q per
    curve) equals the single fits given the value at every point."""
    rng = np.random.default_rng(5)
    t = np.linspace(0.01, 5, 80)
    q = rng.uniform(0.5, 1.5, (10, 1))
    y = 1.0 + 0.3 * np.exp(-2 * q * q * 0.8 * t) + rng.normal(0, 1e-5, (10, t.size))
    model = fitcl.Model("b + c*exp(-2*q^2*D*t)", variables=["t", "q"])
    r = fitcl.curve_fit_batch(model, {"t": t, "q": q}, y, [1.1, 0.2, 1.0], device=device,
                              **BATCH_TOL)
    assert r.names == ("b", "c", "D") and r.converged.all()
    for i in range(10):
        popt, _, res = fitcl.curve_fit(model, {"t": t, "q": np.full(t.size, q[i, 0])}, y[i],
                                       p0=[1.1, 0.2, 1.0], full_output=True, device=device,
                                       **SINGLE_TOL)
        assert np.all(np.abs(r.params[i] - popt) <= 1e-10 * (np.abs(popt) + res.perr))
    # The same variables as a sequence in the model's order.
    r2 = fitcl.curve_fit_batch(model, (t, q), y, [1.1, 0.2, 1.0], device=device, **BATCH_TOL)
    np.testing.assert_array_equal(r2.params, r.params)


def test_fixed_parameters_equal_the_reduced_model(device: str) -> None:
    rng = np.random.default_rng(9)
    x = np.linspace(0, 8, 50)
    b = rng.uniform(0.5, 1.0, (8, 1))
    y = 3 * np.exp(-b * x) + 0.4 + rng.normal(0, 1e-5, (8, x.size))
    p0 = np.array([2.0, 0.8, 0.4])
    by_name = fitcl.curve_fit_batch("a*exp(-b*x)+c", x, y, p0, fixed=["c"], device=device,
                                    **BATCH_TOL)
    flags = np.zeros((8, 3), dtype=bool)
    flags[:, 2] = True
    per_fit = fitcl.curve_fit_batch("a*exp(-b*x)+c", x, y, p0, fixed=flags, device=device,
                                    **BATCH_TOL)
    np.testing.assert_array_equal(per_fit.params, by_name.params)
    assert np.all(by_name.params[:, 2] == 0.4) and np.all(by_name.stderr[:, 2] == 0)
    assert np.all(by_name.dof == x.size - 2)
    for i in range(8):
        popt, _, res = fitcl.curve_fit("a*exp(-b*x)+0.4", x, y[i], p0=p0[:2], full_output=True,
                                       device=device, **SINGLE_TOL)
        assert np.all(np.abs(by_name.params[i, :2] - popt) <= 1e-10 * (np.abs(popt) + res.perr))
        np.testing.assert_allclose(by_name.stderr[i, :2], res.perr, rtol=1e-6)


def test_poisson_maximum_likelihood(device: str) -> None:
    """At the Poisson estimate the score sum J (y - f) / f vanishes, the
    covariance is the inverse Fisher information sum J J^T / f and chi2 is
    the deviance."""
    rng = np.random.default_rng(2)
    x = np.linspace(0, 6, 40)
    truth = np.array([50.0, 0.6, 5.0])
    counts = rng.poisson(truth[0] * np.exp(-truth[1] * x) + truth[2], (20, x.size))
    r = fitcl.curve_fit_batch("a*exp(-b*x)+c", x, counts, truth, estimator="poisson",
                              covariance=True, device=device, **BATCH_TOL)
    assert r.converged.all(), r.summary()
    assert r.covariance is not None
    for i in range(len(r)):
        a, b, c = r.params[i]
        e = np.exp(-b * x)
        f = a * e + c
        J = np.stack([e, -a * x * e, np.ones_like(x)], axis=1)
        fisher = J.T @ (J / f[:, None])
        score = J.T @ ((counts[i] - f) / f)
        assert np.all(np.abs(score) <= 1e-7 * np.sqrt(np.diag(fisher))), (i, score)
        cov = np.linalg.inv(fisher)
        d = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
        assert np.max(np.abs(r.covariance[i] - cov) / d) < 1e-6
        y = counts[i]
        dev = 2 * np.sum(f - y + np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / f), 0))
        assert r.chi2[i] == pytest.approx(dev, rel=1e-9)


def test_mixed_statuses(device: str) -> None:
    """The batch of tests/test_batch.c: converged, singular, max_iter,
    nonfinite and converged again, in one call."""
    rng = np.random.default_rng(3)
    x = 0.3 * np.arange(30)
    curve = 3 * np.exp(-0.7 * x) + 0.5
    y = np.stack([curve, np.full(30, 2.0), curve + 0.01 * rng.standard_normal(30),
                  np.full(30, 1.0), curve + 0.01 * rng.standard_normal(30)])
    p0 = [[3, 0.7, 0.5], [0, 1, 2], [300, 40, -50], [1, -100, 0], [3, 0.7, 0.5]]
    r = fitcl.curve_fit_batch("a*exp(-b*x)+c", x, y, p0, max_nfev=3, device=device)
    names = list(r.status_names)
    assert names[1:4] == ["singular", "max_iter", "nonfinite"], names
    assert r.converged.tolist() == [True, False, False, False, True]
    assert (r.n_converged, r.n_singular, r.n_max_iter, r.n_nonfinite, r.n_interrupted) == \
        (2, 1, 1, 1, 0)
    assert r.iterations[2] == 3 and r.total_iterations == int(r.iterations.sum())
    assert np.isinf(r.stderr[1, 1]) and np.isnan(r.stderr[3, 0]) and r.params[3, 1] == -100
    assert fitcl.STATUS_NAMES[r.status[3]] == "nonfinite"
    assert "2 converged" in r.summary()


@pytest.mark.parametrize("call, cls, words", [
    (dict(ydata=np.ones(64)), fitcl.ArgumentError, "2-D"),
    (dict(xdata=np.arange(63.0)), fitcl.ArgumentError, "does not broadcast"),
    (dict(p0=[1, 2, 3]), fitcl.ArgumentError, "p0: expected shape (4,) or (5, 4)"),
    (dict(p0=np.ones((4, 4))), fitcl.ArgumentError, "p0"),
    (dict(sigma=np.ones(5)), fitcl.ArgumentError, "sigma"),
    (dict(sigma=1.0, weights=1.0), fitcl.ArgumentError, "not both"),
    (dict(fixed=["nope"]), fitcl.ArgumentError, "no parameter nope"),
    (dict(bounds=([0, 0, 0, 0], np.ones((5, 4)))), None, "outside its bounds"),
    (dict(estimator="gauss"), fitcl.ArgumentError, "estimator"),
    (dict(estimator="poisson", sigma=1.0), fitcl.ArgumentError, "Poisson"),
    (dict(p0={"a": 1, "mu": 2, "sigma": 3}), fitcl.ArgumentError, "no starting value for c"),
    (dict(f=gaussian), fitcl.UnsupportedError, "Python callable cannot be batched"),
])
def test_bad_input_raises(call: dict, cls: type | None, words: str) -> None:
    args = dict(f="gaussian", xdata=np.arange(64.0), ydata=np.ones((5, 64)),
                p0=[1.0, 30.0, 5.0, 0.5])
    args.update(call)
    with pytest.raises(ValueError) as e:
        fitcl.curve_fit_batch(**args)
    assert isinstance(e.value, fitcl.Error)
    if cls is not None:
        assert isinstance(e.value, cls), type(e.value)
    assert words in str(e.value)


def test_library_checks_name_fit_and_point() -> None:
    x, y, sigma, p0 = peaks(1e-3)
    y = y.copy()
    y[12, 3] = np.nan
    with pytest.raises(fitcl.DataError, match="y of fit 12, point 3 is nan"):
        fitcl.curve_fit_batch("gaussian", x, y, p0)
    sigma[1, 1] = -1
    with pytest.raises(fitcl.DataError, match="sigma of fit 1, point 1 is -1"):
        fitcl.curve_fit_batch("gaussian", x, np.nan_to_num(y), p0, sigma=sigma)


def test_progress_and_its_exceptions() -> None:
    x, y, _, p0 = peaks(1e-3, nfits=2000)
    seen: list[fitcl.BatchFitProgress] = []
    r = fitcl.curve_fit_batch("gaussian", x, y, p0, progress=seen.append)
    assert seen and seen[-1].done == seen[-1].total == 2000 and r.n_converged == 2000

    def stop(p: fitcl.BatchFitProgress) -> None:
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        fitcl.curve_fit_batch("gaussian", x, y, p0, progress=stop)


@pytest.mark.parametrize("order", ["C", "F"])
def test_inputs_are_not_copied(order: str) -> None:
    """A C- or Fortran-order (N, n) y, a shared x row and a scalar sigma:
    nothing of the size of the data is allocated (a copy of y, or x or sigma
    expanded to (N, n), would be 82 MB; the outputs are 1.6 MB).  A float32 y
    is converted once (the check that the measure sees a copy)."""
    x, y, _, p0 = peaks(1e-3, nfits=20_000, npoints=512)
    y = np.asarray(y, order=order)
    fitcl.curve_fit_batch("gaussian", x, y[:10], p0[:10])  # warm the context and model
    peaks_seen = []
    for yv in (y, y.astype(np.float32)):
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            r = fitcl.curve_fit_batch("gaussian", x, yv, p0, sigma=0.01)
            peaks_seen.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert r.n_converged == 20_000, r.summary()
    assert peaks_seen[0] < 4_000_000, f"peak traced allocation {peaks_seen[0]} bytes: copied"
    assert peaks_seen[1] > y.nbytes


def test_gil_is_released_during_a_batch() -> None:
    x, y, _, p0 = peaks(1e-3, nfits=20_000, npoints=256)
    fitcl.curve_fit_batch("gaussian", x, y[:10], p0[:10])
    done = threading.Event()
    out = {}

    def work() -> None:
        out["r"] = fitcl.curve_fit_batch("gaussian", x, y, p0)
        done.set()

    t = threading.Thread(target=work)
    spins = 0
    t.start()
    while not done.is_set():
        spins += 1  # pure Python: runs only while the batch holds no GIL
    t.join()
    assert out["r"].n_converged == 20_000
    assert spins > 1000
