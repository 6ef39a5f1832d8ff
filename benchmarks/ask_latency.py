#!/usr/bin/env python3
"""Seconds per ask() at n observations with a pool of N candidates, sozai
against scikit-learn measured in the same run.

The baseline is what a researcher would write with scikit-learn: fit a
GaussianProcessRegressor (Matern-5/2 ARD + white noise, normalised targets,
the same number of optimiser starts) and score the pool with EI. sozai's
ask() fits its GP and selects from the pool (q=1). Two sozai numbers:
"cold" (all restarts, as at the first ask or every 10th) and "warm" (the
usual ask: one start from the previous hyperparameters after one new
result).

Pool: N points of a 6-D unit cube with the Hartmann-6 function as oracle
(no real dataset has 20 000 measured candidates).

    PYTHONPATH=build/python /usr/bin/python3 benchmarks/ask_latency.py [--sizes 100,500,2000] [--pool 20000]
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

import sozai

ROOT = pathlib.Path(__file__).resolve().parents[1]

A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
              [17, 8, 0.05, 10, 0.1, 14]])
P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(X):
    return (ALPHA * np.exp(-((A[None] * (X[:, None, :] - P[None]) ** 2).sum(-1)))).sum(-1)


def sklearn_ask(X_obs, y_obs, pool, restarts, seed):
    d = pool.shape[1]
    kernel = ConstantKernel(1.0) * Matern(np.full(d, 0.5), nu=2.5) + WhiteKernel(1e-2)
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=restarts - 1, random_state=seed)
    gp.fit(X_obs, y_obs)
    best = y_obs.max()
    scores = np.empty(len(pool))
    for s in range(0, len(pool), 4096):
        m, sd = gp.predict(pool[s:s + 4096], return_std=True)
        sd = np.maximum(sd, 1e-12)
        z = (m - best) / sd
        scores[s:s + 4096] = sd * (norm.pdf(z) + z * norm.cdf(z))
    return int(np.argmax(scores))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100,500,2000")
    p.add_argument("--pool", type=int, default=20000)
    p.add_argument("--restarts", type=int, default=4)
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "benchmarks" / "results" / "ask_latency.json")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    pool = rng.uniform(size=(args.pool, 6))
    y = hartmann6(pool)
    rows = []
    for n in map(int, args.sizes.split(",")):
        obs = rng.choice(args.pool, size=n + 1, replace=False)
        c = sozai.campaign.PoolCampaign(pool, maximize=True, acquisition="ei", restarts=args.restarts)
        c.tell([int(i) for i in obs[:n]], [float(y[i]) for i in obs[:n]])
        t = time.perf_counter()
        c.ask(1)
        cold = time.perf_counter() - t
        c.tell(int(obs[n]), float(y[obs[n]]))  # one new result, as in a running campaign
        t = time.perf_counter()
        c.ask(1)
        warm = time.perf_counter() - t
        t = time.perf_counter()
        sklearn_ask(pool[obs[:n]], y[obs[:n]], pool, args.restarts, 0)
        sk = time.perf_counter() - t
        row = dict(n=n, pool=args.pool, sozai_cold_s=cold, sozai_warm_s=warm, sklearn_s=sk,
                   speedup_cold=sk / cold, speedup_warm=sk / warm)
        rows.append(row)
        print(f"n={n:5d} pool={args.pool}: sozai cold {cold:7.3f} s, warm {warm:7.3f} s; sklearn {sk:7.3f} s "
              f"-> {sk / cold:5.1f}x (cold), {sk / warm:6.1f}x (warm)", file=sys.stderr, flush=True)
    info = sozai.build_info()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(build=info, restarts=args.restarts, rows=rows), indent=1) + "\n")
    md = ["| n observations | pool | sozai ask, cold (s) | sozai ask, warm (s) | scikit-learn fit + EI (s) "
          "| speed-up cold | speed-up warm |", "|---|---|---|---|---|---|---|"]
    md += [f"| {r['n']} | {r['pool']} | {r['sozai_cold_s']:.3f} | {r['sozai_warm_s']:.3f} | {r['sklearn_s']:.3f} | "
           f"{r['speedup_cold']:.1f}x | {r['speedup_warm']:.1f}x |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
