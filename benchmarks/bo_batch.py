#!/usr/bin/env python3
"""What a batch costs: closed-loop campaigns on the single-objective pools at
q = 1, 4 and 8 experiments per ask, Kriging-believer LogEI against
Monte-Carlo qLogNEI, with random search in the same run; acceleration and
enhancement factors counted per experiment (not per batch), so AF(q)/AF(1)
is the sample efficiency a batch gives up for q-fold parallelism. Metrics
as Liang et al. (2021): top-5% set, AF at 50% and 80% of it found.

Also seconds per ask(q) on a 600-row pool (crossed_barrel) with 50 results,
for every acquisition (best of 3, one thread).

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/bo_batch.py \
        [--seeds 20] [--datasets p3ht,agnp,autoam,crossed_barrel] [--skip-latency | --latency-only | --report-only]

Results accumulate in benchmarks/results/bo_batch.json (a rerun with other
--datasets adds to it).
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
BUDGETS = {"p3ht": 178, "agnp": 164, "autoam": 100, "crossed_barrel": 250}


def latency(repeats=3):
    ds = sozai.datasets.load_closed_loop("crossed_barrel")
    X, y = ds["X"], ds["Y"][:, 0]
    rows = sozai.benchmark.random_baseline(len(y), 50, 7)
    out = {}
    for acq in ("logei", "ucb", "qlognei", "qucb", "thompson"):
        for q in (1, 4, 8):
            best = float("inf")
            for r in range(repeats):
                c = sozai.campaign.PoolCampaign(X, maximize=True, acquisition=acq, seed=r, n_init=2)
                c.tell(rows, [float(y[i]) for i in rows])
                t0 = time.perf_counter()
                c.ask(q)
                best = min(best, time.perf_counter() - t0)
            out[f"{acq} q={q}"] = best
            print(f"ask latency {acq} q={q}: {best * 1e3:.0f} ms", file=sys.stderr, flush=True)
    return out


def thompson_scale(sizes=(10_000, 100_000, 1_000_000), q=16, n=100, d=6):
    """Seconds of a Thompson batch of q over pools of growing size (GP on n
    points of a d-D unit cube, sample paths with 1024 features)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(n, d))
    y = np.sin(3 * X).sum(1)
    gp = sozai.models.ExactGP(restarts=2)
    gp.set_input_bounds(np.zeros(d), np.ones(d))
    gp.fit(X, y)
    out = {}
    for N in sizes:
        pool = rng.uniform(size=(N, d))
        t0 = time.perf_counter()
        rows = sozai.bo.select_batch_thompson(gp, pool, np.ones(N, dtype=bool), q, seed=1)
        out[str(N)] = time.perf_counter() - t0
        assert len(set(rows.tolist())) == q
        print(f"thompson q={q} over {N} candidates: {out[str(N)]:.2f} s", file=sys.stderr, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--datasets", default="p3ht,agnp,autoam,crossed_barrel")
    ap.add_argument("--qs", default="1,4,8")
    ap.add_argument("--acquisitions", default="logei,qlognei")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--latency-only", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="rewrite the .md from the .json and stop")
    ap.add_argument("--out", default=str(RESULTS / "bo_batch"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    prev = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {}
    result = {"benchmark": "bo_batch", "seeds": args.seeds, "runs": prev.get("runs", {}),
              "latency": prev.get("latency", {}), "thompson_scale": prev.get("thompson_scale", {})}
    if not args.latency_only and not args.report_only:
        for name in args.datasets.split(","):
            ds = sozai.datasets.load_closed_loop(name)
            X, y, maximize = ds["X"], ds["Y"][:, 0], bool(ds["maximize"][0])
            for q in [int(v) for v in args.qs.split(",")]:
                t0 = time.time()
                r = sozai.benchmark.run_pool_benchmark(X, y, maximize, acquisitions=args.acquisitions.split(","),
                                                       budget=min(BUDGETS[name], len(y)), seeds=args.seeds, q=q,
                                                       progress=False)
                arms = {a["name"]: {"af": {str(k): v for k, v in a["af"].items()},
                                    "ef": {str(k): v for k, v in a["ef"].items()},
                                    "n_to_reach": {str(k): v for k, v in a["n_to_reach"].items()},
                                    "seconds": a["seconds"]} for a in r["arms"]}
                result["runs"][f"{name} q={q}"] = {"dataset": name, "q": q, "pool": r["pool_size"],
                                                   "budget": r["budget"], "arms": arms}
                print(f"{name} q={q}: " + ", ".join(f"{k} AF50 {v['af'].get('0.5', float('nan')):.2f}"
                                                     for k, v in arms.items()) + f" ({time.time() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
                json.dump(result, open(out.with_suffix(".json"), "w"), indent=1)
    if not args.skip_latency and not args.report_only:
        result["latency"] = latency()
        result["thompson_scale"] = thompson_scale()
    if not args.report_only:
        json.dump(result, open(out.with_suffix(".json"), "w"), indent=1)

    lines = ["# Batches: sample efficiency at q = 1, 4, 8 and seconds per ask", "",
             f"{args.seeds} seeds per arm; AF and EF counted per experiment against random search in the same run "
             "(`benchmarks/bo_batch.py`). AF@t: experiments random needs / experiments the arm needs for the mean "
             "curve to reach fraction t of the top 5%. 'cost of the batch' = AF@50%(q) / AF@50%(q=1) of the same "
             "acquisition.", "",
             "| dataset | q | arm | EF@25 | AF@50% | AF@80% | cost of the batch (AF@50%) | s / campaign |",
             "|---|---|---|---|---|---|---|---|"]
    runs = result["runs"]
    for key, run in runs.items():
        for arm, a in run["arms"].items():
            if arm == "random":
                continue
            base = runs.get(f"{run['dataset']} q=1", {}).get("arms", {}).get(arm, {}).get("af", {}).get("0.5")
            af50 = a["af"].get("0.5")
            cost = f"{af50 / base:.2f}" if base and af50 else "n/a"
            fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
            lines.append(f"| {run['dataset']} | {run['q']} | {arm} | {fmt(a['ef'].get('25'))} | {fmt(af50)} | "
                         f"{fmt(a['af'].get('0.8'))} | {cost} | {a['seconds'] / args.seeds:.1f} |")
    if result["latency"]:
        lines += ["", "Seconds per ask(q), crossed_barrel pool (600 rows, 4 inputs), 50 results, best of 3:", "",
                  "| acquisition | q = 1 | q = 4 | q = 8 |", "|---|---|---|---|"]
        for acq in ("logei", "ucb", "qlognei", "qucb", "thompson"):
            vals = [result["latency"].get(f"{acq} q={q}") for q in (1, 4, 8)]
            lines.append(f"| {acq} | " + " | ".join("n/a" if v is None else f"{v:.3f}" for v in vals) + " |")
    if result.get("thompson_scale"):
        lines += ["", "Thompson sampling, a batch of 16 from pools of growing size (GP on 100 points in 6-D, "
                  "1024 random Fourier features per path, one thread):", "",
                  "| pool | seconds | candidates / s |", "|---|---|---|"]
        for N, sec in result["thompson_scale"].items():
            lines.append(f"| {int(N):,} | {sec:.2f} | {int(N) / sec:,.0f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
