"""Bad arguments raise the documented errors: scipy's for the misuse scipy
reports, fitcl.Error subclasses (ValueError for bad input) with the library's
status and message for the rest."""
from __future__ import annotations


import numpy as np
import pytest

import fitcl
from conftest import EXAMPLES

X = np.linspace(0, 5, 100)
Y = 2 * np.exp(-0.5 * X) + 0.1


def test_hierarchy() -> None:
    assert issubclass(fitcl.InputError, ValueError)
    for cls in (fitcl.ParseError, fitcl.DataError, fitcl.UnknownNameError, fitcl.ArgumentError,
                fitcl.FileError, fitcl.DeviceSelectionError, fitcl.UnsupportedError):
        assert issubclass(cls, fitcl.InputError)
    assert issubclass(fitcl.NotConvergedError, RuntimeError)
    assert issubclass(fitcl.DeviceError, RuntimeError)
    assert issubclass(fitcl.IOFailure, OSError)


def test_expression_errors_carry_status_and_column() -> None:
    with pytest.raises(fitcl.ParseError) as e:
        fitcl.curve_fit("a*exp(-b*x", X, Y)
    assert e.value.status == 200 and e.value.status_name == "FITCL_ERR_PARSE"
    assert "column" in str(e.value)
    with pytest.raises(fitcl.UnknownNameError):
        fitcl.curve_fit("a*exp(-b*x)+c", X, Y, params=["a", "b"])
    with pytest.raises(fitcl.ArgumentError):
        fitcl.curve_fit("exp(2, x)", X, Y, params=["q"])


def test_data_errors_name_the_row() -> None:
    y = Y.copy()
    y[7] = np.nan
    with pytest.raises(fitcl.DataError, match="row"):
        fitcl.curve_fit("a*exp(-b*x)+c", X, y)
    with pytest.raises(fitcl.DataError):
        fitcl.curve_fit("a*exp(-b*x)+c", X, Y, sigma=np.zeros_like(Y))


def test_scipy_misuse() -> None:
    f = "a*exp(-b*x)+c"
    with pytest.raises(ValueError, match="Method 'lm' only works for unconstrained problems"):
        fitcl.curve_fit(f, X, Y, bounds=(0, 10), method="lm")
    with pytest.raises(ValueError, match="`x0` is infeasible"):
        fitcl.curve_fit(f, X, Y, p0=[20, 1, 1], bounds=(0, 10))
    with pytest.raises(ValueError, match="strictly less"):
        fitcl.curve_fit(f, X, Y, bounds=(1, 1))
    with pytest.raises(ValueError, match="must not be empty"):
        fitcl.curve_fit(f, np.array([]), np.array([]))
    with pytest.raises(TypeError, match="must not exceed the number of data points"):
        fitcl.curve_fit(f, X[:2], Y[:2])
    with pytest.raises(ValueError, match="Unable to determine number of fit parameters"):
        fitcl.curve_fit(lambda *a: a[0], X, Y)
    with pytest.raises(ValueError, match="supports only 'linear' loss"):
        fitcl.curve_fit(f, X, Y, method="lm", loss="huber")
    with pytest.raises(ValueError, match="incorrect shape"):
        fitcl.curve_fit(f, X, Y, sigma=np.ones(3))
    with pytest.raises(ValueError):
        fitcl.curve_fit(f, X, Y, p0=[1, 2])
    with pytest.raises(ValueError):
        fitcl.curve_fit(f, X[:50], Y)
    with pytest.raises(TypeError):
        fitcl.curve_fit(f, X, Y, not_an_option=1)


def test_not_converged_raises_runtime_error_with_result() -> None:
    with pytest.raises(RuntimeError, match="Optimal parameters not found") as e:
        fitcl.curve_fit("a*exp(-b*x)+c", X, Y + 0.01 * np.sin(40 * X), p0=[1, 3, 0], max_nfev=2)
    assert isinstance(e.value, fitcl.NotConvergedError)
    assert e.value.result.status == "max_iter"


def test_covariance_warning() -> None:
    # c and d enter only as their sum: J^T J is singular.
    with pytest.warns(fitcl.OptimizeWarning, match="Covariance of the parameters"):
        _, pcov = fitcl.curve_fit("a*exp(-b*x)+c+d", X, Y, p0=[1, 1, 0, 0])
    assert np.all(np.isinf(pcov))


def test_callable_exceptions_propagate() -> None:
    class Boom(Exception):
        pass

    calls = []

    def f(x, a, b):
        calls.append(1)
        if len(calls) > 3:
            raise Boom("from the model")
        return a * np.exp(-b * x)

    with pytest.raises(Boom):
        fitcl.curve_fit(f, X, Y)
    with pytest.raises(ValueError):
        fitcl.curve_fit(lambda x, a, b: np.ones(3), X, Y)


def test_progress_exception_stops_the_fit() -> None:
    def stop(p: fitcl.CurveFitProgress) -> None:
        if p.iteration == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fitcl.curve_fit("a*exp(-b*x)+c", X, Y, p0=[1, 3, 0], progress=stop)


def test_device_selection_errors() -> None:
    with pytest.raises(fitcl.DeviceSelectionError) as e:
        fitcl.Context("nonsense:::")
    assert e.value.status == 104
    with pytest.raises(fitcl.DeviceSelectionError):
        fitcl.curve_fit("a*exp(-b*x)+c", X, Y, device="opencl:no-such-platform")


def test_gainloss_input_errors(tmp_path) -> None:
    with pytest.raises(fitcl.ParseError, match="<string>:1:"):
        fitcl.gainloss.Tree("((a:1,b:1):1,c:1")
    with pytest.raises(fitcl.FileError):
        fitcl.gainloss.fit(tmp_path / "missing.nwk", EXAMPLES / "pangenome50.Rtab")
    with pytest.raises(fitcl.DataError, match="mismatch|only in|not in|names"):
        fitcl.gainloss.fit("((a:1,b:1):1,c:1);", EXAMPLES / "pangenome50.Rtab")
    with pytest.raises(fitcl.ArgumentError, match="taxa="):
        fitcl.gainloss.fit(EXAMPLES / "pangenome50.nwk", np.zeros((3, 50)))
    with pytest.raises(fitcl.ArgumentError, match="not a family"):
        fitcl.gainloss.retention_test(EXAMPLES / "pangenome50.nwk", EXAMPLES / "pangenome50.Rtab",
                                      ["no_such_family"])
    with pytest.raises(fitcl.ArgumentError, match="exactly one"):
        fitcl.gainloss.retention_test(EXAMPLES / "pangenome50.nwk", EXAMPLES / "pangenome50.Rtab")
    with pytest.raises(fitcl.InputError):
        fitcl.gainloss.loglik(EXAMPLES / "pangenome50.nwk", EXAMPLES / "pangenome50.Rtab",
                              gain=-1.0, loss=1.0)
    with pytest.raises(fitcl.ArgumentError):
        fitcl.gainloss.simulate(EXAMPLES / "pangenome50.nwk", 0.5, 0.5, 10, seed=1, gamma_cats=4)


def test_curve_fit_file_errors(tmp_path) -> None:
    with pytest.raises(fitcl.FileError):
        fitcl.curve_fit_file(tmp_path / "none.csv", "a*exp(-b*x)", p0={"a": 1, "b": 1})
    p = tmp_path / "d.csv"
    p.write_text("x,y\n0,1\n1,0.5\n2,0.2\n3,0.1\n")
    with pytest.raises(fitcl.UnknownNameError):
        fitcl.curve_fit_file(p, "a*exp(-b*t)", x="t", p0={"a": 1, "b": 1})
    with pytest.raises(fitcl.ArgumentError, match="p0"):
        fitcl.curve_fit_file(p, "a*exp(-b*x)", p0={"a": 1})
    p.write_text("x,y\n0,1\n1,oops\n2,0.2\n3,0.1\n")
    with pytest.raises(fitcl.ParseError, match=r"d\.csv:3:3: column 'y': not a number"):
        fitcl.curve_fit_file(p, "a*exp(-b*x)", p0={"a": 1, "b": 1})


def test_ctrl_c_stops_a_long_fit() -> None:
    """SIGINT during a fit on the main thread raises KeyboardInterrupt as soon
    as the solver finishes its iteration (the GIL is released meanwhile)."""
    import os
    import signal
    import threading
    import time

    # exp(b) fitted to zeros: every step lowers the cost by e^2 and the
    # convergence tests are off, so it runs ~1000 iterations (seconds).
    x = np.linspace(0, 1, 1_000_000)
    y = np.zeros_like(x)
    # The first SIGINT at 0.2 s, then one every 0.5 s while the fit runs: on
    # a loaded machine the sending thread may get no time before the fit
    # ends, and one late signal would make the test fail for that alone.
    stop = threading.Event()

    def ctrl_c() -> None:
        wait = 0.2
        while not stop.wait(wait):
            os.kill(os.getpid(), signal.SIGINT)
            wait = 0.5

    sender = threading.Thread(target=ctrl_c)
    t0 = time.perf_counter()
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            fitcl.curve_fit("exp(b)", x, y, p0=[0.0], ftol=-1, xtol=-1, gtol=-1,
                            max_nfev=100_000)
    finally:
        # A signal sent while the sender stops must not land in the test.
        previous = signal.signal(signal.SIGINT, lambda *_: None)
        stop.set()
        sender.join()
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - t0 < 5
