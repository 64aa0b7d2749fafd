#!/usr/bin/env python3
"""Writes a random rooted binary Newick tree (for `fitcl simulate --tree`).

Usage: random_tree.py NTIPS SEED > tree.nwk

Tips t1..tNTIPS; repeatedly joins two random subtrees; every branch length
uniform in [0.01, 0.2].  The same NTIPS and SEED give the same tree."""
import random
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    if n < 2:
        sys.exit("random_tree.py: NTIPS must be at least 2")
    r = random.Random(seed)
    nodes = ["t%d:%.6f" % (i + 1, r.uniform(0.01, 0.2)) for i in range(n)]
    while len(nodes) > 1:
        i = r.randrange(len(nodes))
        a = nodes[i]
        nodes[i] = nodes[-1]
        nodes.pop()
        j = r.randrange(len(nodes))
        b = nodes[j]
        nodes[j] = nodes[-1]
        nodes.pop()
        length = (":%.6f" % r.uniform(0.01, 0.2)) if nodes else ""
        nodes.append("(%s,%s)%s" % (a, b, length))
    print(nodes[0] + ";")


if __name__ == "__main__":
    main()
