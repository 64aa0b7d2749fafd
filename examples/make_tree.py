#!/usr/bin/env python3
"""Writes a random rooted binary tree in Newick form (a Yule process: at
every step a uniformly chosen lineage splits), with exponential branch
lengths.  Standard library only; the output depends only on the arguments.

usage: make_tree.py NTIPS SEED [MEAN_BRANCH_LENGTH] > tree.nwk
"""
import random
import sys


def main():
    ntips = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    mean = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
    # Grow the tree top-down: each open lineage is a list [children].
    root = []
    lineages = [root]
    while len(lineages) < ntips:
        node = lineages.pop(rng.randrange(len(lineages)))
        a, b = [], []
        node.extend([a, b])
        lineages.extend([a, b])
    counter = [0]

    def newick(node):
        length = rng.expovariate(1.0 / mean)
        if not node:
            counter[0] += 1
            return "genome%02d:%.4f" % (counter[0], length)
        return "(%s,%s):%.4f" % (newick(node[0]), newick(node[1]), length)

    text = newick(root)
    # The root has no branch above it.
    text = text[: text.rfind(":")]
    print(text + ";")


if __name__ == "__main__":
    main()
