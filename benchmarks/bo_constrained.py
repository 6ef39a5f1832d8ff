#!/usr/bin/env python3
"""Outcome constraints on real data: olympus/lnp3 with two objectives (drug
loading and encapsulation efficiency, both maximised) under a cap on the
particle diameter (the 30th percentile of the pool: most formulations are
too large). Only formulations under the cap count.

Arms, same run, >= 20 seeds: random; sozai qLogNEHVI on the two
objectives ignoring the cap; sozai qLogNEHVI with the cap as an outcome
constraint ("<= cap"). Score: hypervolume of the feasible points found, as
a fraction of the feasible pool's (objectives min-max normalised over the
feasible pool, reference = its worst values), and the share of experiments
that were feasible.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/bo_constrained.py \
        [--seeds 20] [--budget 40]
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

import sozai

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--n-init", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS / "bo_constrained"))
    args = ap.parse_args()
    ds = sozai.datasets.load_closed_loop("lnp3")
    X, Y = ds["X"], ds["Y"]
    cap = float(np.percentile(Y[:, 2], 30))
    feas = Y[:, 2] <= cap
    F = Y[feas][:, :2]
    lo, hi = F.min(0), F.max(0)
    norm = lambda Z: (Z - lo) / (hi - lo)
    pool_hv = sozai.bo.hypervolume(norm(F), np.zeros(2))

    def curve(order):
        out, pts = [], np.zeros((0, 2))
        for r in order:
            if feas[r]:
                pts = np.vstack([pts, norm(Y[r, :2])])
            out.append(sozai.bo.hypervolume(np.maximum(pts, 0.0), np.zeros(2)) / pool_hv if len(pts) else 0.0)
        return out

    arms = ["random", "ignore cap", "constrained"]
    curves, share, secs = {a: [] for a in arms}, {a: [] for a in arms}, {a: 0.0 for a in arms}
    for seed in range(args.seeds):
        for a in arms:
            t0 = time.time()
            if a == "random":
                order = sozai.benchmark.random_baseline(len(X), args.budget, seed)
            elif a == "ignore cap":
                order = sozai.benchmark.pool_campaign(X, Y[:, :2], None, args.budget, seed=seed,
                                                      acquisition="qlognehvi", n_init=args.n_init,
                                                      outcomes=["max", "max"], mc_samples=64)
            else:
                order = sozai.benchmark.pool_campaign(X, Y, None, args.budget, seed=seed, acquisition="qlognehvi",
                                                      n_init=args.n_init, outcomes=["max", "max", f"<= {cap}"],
                                                      mc_samples=64)
            secs[a] += time.time() - t0
            curves[a].append(curve(order))
            share[a].append(float(np.mean(feas[order])))
            print(f"seed {seed + 1}/{args.seeds} {a}: feasible HV {curves[a][-1][-1]:.3f}, "
                  f"{share[a][-1]:.0%} feasible ({time.time() - t0:.1f} s)", file=sys.stderr, flush=True)
    mean = {a: np.mean(curves[a], axis=0) for a in arms}
    at = sorted({n for n in (10, 20, 30, args.budget) if n <= args.budget})
    lines = [f"# Outcome constraints: lnp3, 2 objectives under a particle-diameter cap", "",
             f"Cap: diameter <= {cap:.3f} (30th percentile; {feas.sum()} of {len(X)} formulations meet it). Mean "
             f"hypervolume of the feasible points found / the feasible pool's, {args.seeds} seeds, budget "
             f"{args.budget}, {args.n_init} random starts. `benchmarks/bo_constrained.py`.", "",
             "| arm | " + " | ".join(f"HV@{n}" for n in at) + " | feasible experiments | s / campaign |",
             "|---|" + "---|" * (len(at) + 2)]
    names = {"random": "random", "ignore cap": "sozai qLogNEHVI, cap ignored",
             "constrained": "sozai qLogNEHVI with the cap as a constraint"}
    for a in arms:
        lines.append(f"| {names[a]} | " + " | ".join(f"{mean[a][n - 1]:.3f}" for n in at) +
                     f" | {np.mean(share[a]):.0%} | {secs[a] / args.seeds:.1f} |")
    out = pathlib.Path(args.out)
    json.dump({"benchmark": "bo_constrained", "cap": cap, "feasible": int(feas.sum()), "curves": curves,
               "feasible_share": share}, open(out.with_suffix(".json"), "w"))
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
