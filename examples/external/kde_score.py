#!/usr/bin/env python3
"""A score estimator in plain Python (no third-party packages), plugged into scorematch.

The score of a Gaussian kernel density estimate of the first `points` training points with
bandwidth `bandwidth` (the built-in `kde` model computes the same, so their Fisher
divergences agree to the precision of the exchange format). It also draws `samples` points
from the estimate, for the sample-quality metrics.

Protocol version 1 (README, "External methods"): read run.json, train.csv and eval.csv in
the working directory; write scores.csv (one score per evaluation point), optionally
samples.csv and result.json.
"""

import json
import math
import random
import time


def read_csv(name):
    with open(name) as f:
        return [[float(v) for v in line.split(",")] for line in f if line.strip()]


def write_csv(name, rows):
    with open(name, "w") as f:
        for row in rows:
            f.write(",".join(repr(v) for v in row) + "\n")


def main():
    start = time.perf_counter()
    with open("run.json") as f:
        run = json.load(f)
    args = run["args"]
    h = float(args.get("bandwidth", 0.3))
    points = read_csv("train.csv")[: int(args.get("points", 1000))]
    inv_h2 = 1.0 / (h * h)

    def score(x):
        logits = [-0.5 * inv_h2 * sum((a - b) ** 2 for a, b in zip(x, p)) for p in points]
        top = max(logits)
        weights = [math.exp(l - top) for l in logits]
        total = sum(weights)
        mean = [sum(w * p[i] for w, p in zip(weights, points)) / total for i in range(len(x))]
        return [(m - xi) * inv_h2 for m, xi in zip(mean, x)]

    write_csv("scores.csv", [score(x) for x in read_csv("eval.csv")])
    rng = random.Random(run["seed"])
    samples = [[v + h * rng.gauss(0.0, 1.0) for v in rng.choice(points)] for _ in range(run["samples"])]
    write_csv("samples.csv", samples)
    with open("result.json", "w") as f:
        json.dump({"train_seconds": time.perf_counter() - start}, f)


if __name__ == "__main__":
    main()
