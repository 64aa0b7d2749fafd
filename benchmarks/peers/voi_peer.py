#!/usr/bin/env python3
"""Python peers of bench_voi: NumPy and voiage on the same .npy data that
fitcl reads in the same run.

usage: voi_peer.py numpy|voiage evpi|wtp|evppi DIR REPEATS

  evpi   DIR/nb.npy (n x k): EVPI (NumPy: the two-line formula; voiage:
         voiage.methods.basic.evpi).
  wtp    DIR/c.npy, DIR/e.npy (n x k), DIR/wtp.npy: EVPI and the
         acceptability curve at every willingness to pay (NumPy: a loop over
         the values; voiage: its evpi in that loop, as it has no sweep that
         does not first store the whole samples x strategies x values array).
  evppi  DIR/nb.npy, DIR/theta.npy (n x p): EVPPI of column 0 of theta with
         voiage's default regression (voiage only).
Prints one JSON line: {"peer", "task", "min", "median", "value"} or
{"peer", "task", "skip": reason}."""
import json
import os
import statistics
import sys
import time
import warnings


def main():
    peer, task, d, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    try:
        import numpy as np
        if peer == "voiage":
            warnings.filterwarnings("ignore")
            from voiage.methods.basic import evpi as v_evpi, evppi as v_evppi
    except Exception as e:  # noqa: BLE001 - any import failure means "skip"
        print(json.dumps({"peer": peer, "task": task, "skip": f"{type(e).__name__}: {e}"}))
        return
    ld = lambda n: np.load(os.path.join(d, n + ".npy"))

    if task == "evpi":
        nb = ld("nb")
        if peer == "numpy":
            def run():
                return float(np.mean(np.max(nb, axis=1)) - np.max(np.mean(nb, axis=0)))
        else:
            def run():
                return float(v_evpi(nb))
    elif task == "wtp":
        c, e, wtp = ld("c"), ld("e"), ld("wtp")
        k = c.shape[1]

        def run():
            out = []
            for lam in wtp:
                nb = lam * e - c
                if peer == "numpy":
                    ev = np.mean(np.max(nb, axis=1)) - np.max(np.mean(nb, axis=0))
                    np.bincount(np.argmax(nb, axis=1), minlength=k) / nb.shape[0]
                else:
                    ev = v_evpi(nb)
                out.append(float(ev))
            return out[-1]
    elif task == "evppi" and peer == "voiage":
        nb, th = ld("nb"), ld("theta")
        params = {f"p{j}": th[:, j].copy() for j in range(th.shape[1])}

        def run():
            return float(v_evppi(nb, params, ["p0"]))
    else:
        print(json.dumps({"peer": peer, "task": task, "skip": "not measured"}))
        return
    value = run()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"peer": peer, "task": task, "min": min(times),
                      "median": statistics.median(times), "value": value}))


if __name__ == "__main__":
    main()
