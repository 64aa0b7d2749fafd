#!/usr/bin/env python3
"""Python peers of bench_credit: the same cosine-similarity credit
assignment (cosines, loss, gradients of both tables) in JAX (jit, CPU,
jax.grad) and in PyTorch (autograd), on the same inputs.

usage: credit_peer.py jax|torch DIR float32|float64 REPEATS

DIR holds phase.npy, mag.npy (N x D int32), cos_table.npy, mag_table.npy,
targets.npy (C x D), labels.npy (N int32), weights.npy (N).  Prints one
JSON line: {"peer", "min", "median", "loss"} or {"peer", "skip": reason}."""
import json
import os
import statistics
import sys
import time


def main():
    peer, d, dtype, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    try:
        import numpy as np
        if peer == "jax":
            import jax
            if dtype == "float64":
                jax.config.update("jax_enable_x64", True)
            jax.config.update("jax_platforms", "cpu")
            import jax.numpy as jnp
        else:
            import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "skip"
        print(json.dumps({"peer": peer, "skip": f"{type(e).__name__}: {e}"}))
        return
    ld = lambda n: np.load(os.path.join(d, n + ".npy"))
    phase, mag, labels = ld("phase"), ld("mag"), ld("labels")
    cos_t, mag_t = ld("cos_table").astype(dtype), ld("mag_table").astype(dtype)
    targets, weights = ld("targets").astype(dtype), ld("weights").astype(dtype)
    times = []
    if peer == "jax":
        def loss_fn(ct, mt, ph, mg, tg, lb, w):
            s = ct[ph] * mt[mg]
            t = tg[lb]
            ns, nt = jnp.sqrt(jnp.sum(s * s, 1)), jnp.sqrt(jnp.sum(t * t, 1))
            nn = ns * nt
            ok = nn > 0
            c = jnp.where(ok, jnp.sum(s * t, 1) / jnp.where(ok, nn, 1), 0)
            return jnp.sum(w * (1 - c)), c
        step = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True))
        args = [jnp.asarray(a) for a in (cos_t, mag_t, phase, mag, targets, labels, weights)]
        out = step(*args)
        jax.block_until_ready(out)
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = step(*args)
            jax.block_until_ready(out)
            times.append(time.perf_counter() - t0)
        loss = float(out[0][0])
    else:
        torch.set_num_threads(int(os.environ.get("FITCL_PEER_THREADS", "2")))
        tdt = torch.float32 if dtype == "float32" else torch.float64
        ph, mg, lb = (torch.from_numpy(a.astype("int64")) for a in (phase, mag, labels))
        tg, w = torch.from_numpy(targets), torch.from_numpy(weights)
        for i in range(repeats + 1):
            ct = torch.from_numpy(cos_t.copy()).requires_grad_()
            mt = torch.from_numpy(mag_t.copy()).requires_grad_()
            t0 = time.perf_counter()
            s = ct[ph] * mt[mg]
            t = tg[lb]
            nn = s.norm(dim=1) * t.norm(dim=1)
            c = torch.where(nn > 0, (s * t).sum(1) / torch.where(nn > 0, nn, torch.ones_like(nn)),
                            torch.zeros_like(nn))
            L = (w * (1 - c)).sum()
            L.backward()
            if i:
                times.append(time.perf_counter() - t0)
        loss = float(L)
    print(json.dumps({"peer": peer, "min": min(times), "median": statistics.median(times),
                      "loss": loss}))


if __name__ == "__main__":
    main()
