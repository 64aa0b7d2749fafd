#!/usr/bin/env python3
"""The retention test on the bundled 50-genome example (the Python form of
`fitcl retention-test`), and the profile likelihood of its effect theta.

usage: python examples/python/retention_test.py [OUT.png]   (default: retention.png)
"""
import pathlib
import sys

import fitcl.plot
from fitcl import gainloss

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent


def main(out: str) -> None:
    res = gainloss.retention_test(EXAMPLES / "pangenome50.nwk", EXAMPLES / "pangenome50.Rtab",
                                  families_file=EXAMPLES / "retained.txt", ci="profile")
    print(f"theta = {res.effect:.4g}  95% CI [{res.ci_low:.4g}, {res.ci_high:.4g}] "
          f"({res.ci_method})  LRT = {res.lrt:.4g}  p = {res.p_value:.3g}")
    fig = fitcl.plot.retention(res)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "retention.png")
