#!/usr/bin/env python3
"""Peer for benchmarks/bench_analysis.c: the same gain/loss analyses in
NumPy + SciPy, written the way a careful Python user would (pruning
vectorised over unique patterns, L-BFGS-B on log-parameters with
finite-difference gradients, conditioning on observation).

usage: gainloss_scipy.py fit TREE RTAB
       gainloss_scipy.py retention TREE RTAB FAMILIES
       gainloss_scipy.py simulate TREE NFAMILIES SEED OUT
"""
import sys

import numpy as np
from scipy.optimize import minimize
from scipy.stats import chi2


def parse_newick(text):
    """Returns (names of tips, parent array, branch lengths), postorder."""
    text = text.strip().rstrip(";")
    pos = 0
    nodes = []  # (name, length, children)

    def node():
        nonlocal pos
        children = []
        if text[pos] == "(":
            pos += 1
            children.append(node())
            while text[pos] == ",":
                pos += 1
                children.append(node())
            pos += 1  # ')'
        start = pos
        while pos < len(text) and text[pos] not in ",():":
            pos += 1
        name = text[start:pos]
        length = 0.0
        if pos < len(text) and text[pos] == ":":
            pos += 1
            start = pos
            while pos < len(text) and text[pos] not in ",()":
                pos += 1
            length = float(text[start:pos])
        nodes.append((name, length, children))
        return len(nodes) - 1

    node()
    return nodes


def read_rtab(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")[1:]
        names, rows = [], []
        for line in f:
            cells = line.rstrip("\n").split("\t")
            names.append(cells[0])
            rows.append([int(c) for c in cells[1:]])
    return header, names, np.array(rows, dtype=np.int8)


class Model:
    def __init__(self, tree_path, rtab_path, groups=None):
        self.nodes = parse_newick(open(tree_path).read())
        taxa, self.families, m = read_rtab(rtab_path)
        col = {t: i for i, t in enumerate(taxa)}
        g = np.zeros(len(self.families), dtype=np.int8) if groups is None else groups
        key = np.concatenate([m, g[:, None]], axis=1)
        uniq, counts = np.unique(key, axis=0, return_counts=True)
        self.pat, self.grp, self.w = uniq[:, :-1], uniq[:, -1], counts.astype(float)
        self.col = col

    def loglik(self, g, l, theta=1.0):
        lg = np.where(self.grp == 1, l * theta, l)
        s = g + lg

        def up(i, pat):
            name, _, children = self.nodes[i]
            if not children:
                x = pat[:, self.col[name]]
                return np.stack([(x == 0).astype(float), (x == 1).astype(float)], axis=1)
            out = np.ones((pat.shape[0], 2))
            for c in children:
                lc = up(c, pat)
                e = np.exp(-s * self.nodes[c][1])
                p01 = g / s * (1 - e)
                p10 = lg / s * (1 - e)
                out[:, 0] *= (1 - p01) * lc[:, 0] + p01 * lc[:, 1]
                out[:, 1] *= p10 * lc[:, 0] + (1 - p10) * lc[:, 1]
            return out

        pi1 = g / s
        root = len(self.nodes) - 1
        lr = up(root, self.pat)
        lik = (1 - pi1) * lr[:, 0] + pi1 * lr[:, 1]
        la = up(root, np.zeros_like(self.pat))
        absent = (1 - pi1) * la[:, 0] + pi1 * la[:, 1]
        return float(np.sum(self.w * (np.log(lik) - np.log1p(-absent))))

    def fit(self, x0, free_theta):
        scale = 1.0 / self.w.sum()

        def f(x):
            with np.errstate(all="ignore"):
                v = -self.loglik(np.exp(x[0]), np.exp(x[1]), np.exp(x[2]) if free_theta else 1.0)
            # Scaled per family, and finite everywhere, so L-BFGS-B's line
            # search can back off from parameters where the pruning underflows.
            return v * scale if np.isfinite(v) else 1e10

        b = [(np.log(1e-8), np.log(1e4))] * 2 + ([(np.log(1e-6), np.log(1e6))] if free_theta else [])
        r = minimize(f, x0, method="L-BFGS-B", bounds=b)
        r.fun /= scale
        return r


def main():
    mode = sys.argv[1]
    if mode == "fit":
        m = Model(sys.argv[2], sys.argv[3])
        r = m.fit(np.log([0.5, 1.0]), False)
        print("loglik %.6f gain %.6g loss %.6g" % (-r.fun, *np.exp(r.x)))
    elif mode == "retention":
        fams = set(l.strip() for l in open(sys.argv[4]) if l.strip() and not l.startswith("#"))
        m0 = Model(sys.argv[2], sys.argv[3])
        groups = np.array([1 if n in fams else 0 for n in m0.families], dtype=np.int8)
        m = Model(sys.argv[2], sys.argv[3], groups)
        r0 = m.fit(np.log([0.5, 1.0]), False)
        r1 = m.fit(np.concatenate([r0.x, [0.0]]), True)
        lrt = max(0.0, 2 * (r0.fun - r1.fun))
        print("lrt %.6g p %.4g theta %.6g" % (lrt, chi2.sf(lrt, 1), np.exp(r1.x[2])))
    elif mode == "simulate":
        nodes = parse_newick(open(sys.argv[2]).read())
        n, rng = int(sys.argv[3]), np.random.default_rng(int(sys.argv[4]))
        g, l = 0.5, 1.0
        state = [None] * len(nodes)
        root = len(nodes) - 1
        state[root] = rng.random(n) < g / (g + l)
        parent = {c: i for i, (_, _, ch) in enumerate(nodes) for c in ch}
        for i in range(root - 1, -1, -1):
            e = np.exp(-(g + l) * nodes[i][1])
            p1 = np.where(state[parent[i]], 1 - l / (g + l) * (1 - e), g / (g + l) * (1 - e))
            state[i] = rng.random(n) < p1
        tips = [i for i, nd in enumerate(nodes) if not nd[2]]
        with open(sys.argv[5], "w") as f:
            f.write("Gene\t" + "\t".join(nodes[i][0] for i in tips) + "\n")
            for k in range(n):
                f.write("fam%d\t" % (k + 1) + "\t".join("1" if state[i][k] else "0" for i in tips) + "\n")


if __name__ == "__main__":
    main()
