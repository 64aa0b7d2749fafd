#!/usr/bin/env python3
"""Ancestral gene content on the bundled 50-genome example (the Python form
of `fitcl ancestral`): rates fitted, then posterior presence at every node
and expected gains and losses per branch, drawn on the tree.  The matrix is
read with pandas to show the DataFrame input.

usage: python examples/python/ancestral.py [OUT.png]   (default: ancestral.png)
"""
import pathlib
import sys

import pandas as pd

import fitcl.plot
from fitcl import gainloss

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent


def main(out: str) -> None:
    matrix = pd.read_csv(EXAMPLES / "pangenome50.Rtab", sep="\t", index_col=0)  # families x taxa
    res = gainloss.ancestral(EXAMPLES / "pangenome50.nwk", matrix)
    print(f"fitted gain {res.gain:.4g}, loss {res.loss:.4g}")
    print(res.branches_frame.sort_values("expected_gains", ascending=False).head())
    fig = fitcl.plot.tree(res)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ancestral.png")
