#!/usr/bin/env python3
"""Closed-loop benchmark of sozai on every single-objective dataset.

Runs `sozai benchmark` per dataset (two at a time, one thread each),
plots each, and writes benchmarks/results/closed_loop.md with EF/AF of
GP+LogEI and GP+UCB against random search measured in the same run.

    PYTHONPATH=build/python /usr/bin/python3 benchmarks/run_all.py --build build [--seeds 20] [--only p3ht,agnp]
"""

import argparse
import concurrent.futures as cf
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# Budget per dataset: the whole pool where affordable (campaigns stop once
# the whole top 5% is found); capped on the large pools, where the cap is
# reported next to the numbers.
BUDGETS = {
    "p3ht": 178, "agnp": 164, "crossed_barrel": 600, "autoam": 100,
    "vapdiff_crystal": 400, "photo_pce10": 300, "oer_plate_3496": 300,
}


def run_one(build, name, seeds, out):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [str(build / "bin" / "sozai"), "benchmark", "--dataset", name, "--budget", str(BUDGETS[name]),
           "--seeds", str(seeds), "--out", str(out)]
    t0 = time.time()
    log = out / f"{name}.log"
    with open(log, "w") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, check=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "plot_benchmark.py"), str(out / f"{name}.json"),
                    "--png", str(out / f"{name}.png")], check=True)
    return name, time.time() - t0


def fmt(v):
    return "n/a" if v is None else f"{v:.2f}"


def reached(n):
    return "not within budget" if n is None or n < 0 else str(n)


def combined(out, names):
    rows = ["| dataset | pool | top 5% | budget | arm | EF@10 | EF@25 | EF@50 | n to 50% | AF@50% | n to 80% | AF@80% "
            "| n to 100% (mean curve) |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        p = out / f"{name}.json"
        if not p.exists():
            continue
        r = json.loads(p.read_text())
        for a in r["arms"]:
            n100 = next((i + 1 for i, v in enumerate(a["mean_top_fraction"]) if v >= 1 - 1e-12), None)
            rows.append(f"| {name} | {r['pool_size']} | {r['top_required']} | {r['budget']} | {a['name']} | "
                        f"{fmt(a['ef'].get('10'))} | {fmt(a['ef'].get('25'))} | {fmt(a['ef'].get('50'))} | "
                        f"{reached(a['n_to_reach'].get('0.50'))} | {fmt(a['af'].get('0.50'))} | {reached(a['n_to_reach'].get('0.80'))} | "
                        f"{fmt(a['af'].get('0.80'))} | {n100 if n100 else 'not within budget'} |")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", type=pathlib.Path, default=ROOT / "build")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--only", default="")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--table-only", action="store_true", help="only rebuild the combined table from results")
    args = p.parse_args()
    names = [n for n in BUDGETS if not args.only or n in args.only.split(",")]
    out = RESULTS / "closed_loop"
    out.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        names = []
    with cf.ThreadPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(run_one, args.build, n, args.seeds, out) for n in names]
        for f in cf.as_completed(futs):
            name, secs = f.result()
            print(f"[run_all] {name} done in {secs:.0f} s", file=sys.stderr, flush=True)
    table = combined(out, list(BUDGETS))
    (RESULTS / "closed_loop_table.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
