#!/usr/bin/env python3
"""Multi-objective closed loop on olympus/lnp3 (768 lipid-nanoparticle
formulations, 3 objectives: drug loading max, encapsulation efficiency max,
particle diameter min): hypervolume of the set found after i experiments,
sozai (qLogNEHVI, qParEGO; one GP per objective) against random search and
Optuna's multi-objective samplers (NSGA-II and MOTPE, Debian
python3-optuna) in the same run, over >= 20 seeds.

Hypervolume is measured on objectives min-max normalised over the pool
(oriented so larger is better), with the pool's worst value of each as the
reference point; it is reported as a fraction of the whole pool's
hypervolume. Optuna picks each of the five formulation parameters among
their levels (the pool is the full factorial, so every suggestion is a
pool row); a repeated suggestion counts as an experiment, as it would in a
lab. NSGA-II runs with a population of 10 (its default of 50 would leave
the whole budget to its random first generation).

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/bo_multi_objective.py \
        [--seeds 20] [--budget 60] [--arms random,nsga2,tpe,qlognehvi,qparego]
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


def hv_curve(order, Yn):
    """Hypervolume fraction after each experiment (Yn: normalised, larger is better, ref 0)."""
    ref = np.zeros(Yn.shape[1])
    out, front = [], np.zeros((0, Yn.shape[1]))
    for r in order:
        front = np.vstack([front, Yn[r]])
        keep = sozai.bo.non_dominated_mask(front)
        front = front[keep]
        out.append(sozai.bo.hypervolume(front, ref))
    return np.array(out)


def optuna_order(X, levels, row_of, budget, sampler):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize"] * 3, sampler=sampler)
    order = []
    for _ in range(budget):
        trial = study.ask()
        key = tuple(trial.suggest_categorical(f"p{j}", lv) for j, lv in enumerate(levels))
        r = row_of[key]
        order.append(r)
        study.tell(trial, ORACLE[r].tolist())
    return order


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--n-init", type=int, default=5)
    ap.add_argument("--mc-samples", type=int, default=64)
    ap.add_argument("--arms", default="random,nsga2,tpe,qlognehvi,qparego")
    ap.add_argument("--out", default=str(RESULTS / "bo_multi_objective"))
    args = ap.parse_args()
    import optuna

    ds = sozai.datasets.load_closed_loop("lnp3")
    X, Y = ds["X"], ds["Y"]
    sign = np.where(ds["maximize"], 1.0, -1.0)
    Yo = Y * sign
    lo, hi = Yo.min(0), Yo.max(0)
    Yn = (Yo - lo) / (hi - lo)
    global ORACLE
    ORACLE = Yo
    pool_hv = sozai.bo.hypervolume(Yn[sozai.bo.non_dominated_mask(Yn)], np.zeros(3))
    # The five formulation parameters as levels of the encoded columns
    # (solid_lipid one-hot -> one categorical).
    groups = [[0], [1, 2, 3], [4], [5], [6]]
    keys = [tuple(tuple(X[i, g].round(12).tolist()) for g in groups) for i in range(len(X))]
    levels = [sorted({k[j] for k in keys}) for j in range(len(groups))]
    level_ids = [[str(v) for v in lv] for lv in levels]
    row_of = {}
    for i, k in enumerate(keys):
        row_of.setdefault(tuple(str(v) for v in k), i)

    arms = args.arms.split(",")
    curves, seconds = {a: [] for a in arms}, {a: 0.0 for a in arms}
    for seed in range(args.seeds):
        for arm in arms:
            t0 = time.time()
            if arm == "random":
                order = sozai.benchmark.random_baseline(len(X), args.budget, seed)
            elif arm == "nsga2":
                order = optuna_order(X, level_ids, row_of, args.budget,
                                     optuna.samplers.NSGAIISampler(population_size=10, seed=seed))
            elif arm == "tpe":
                order = optuna_order(X, level_ids, row_of, args.budget,
                                     optuna.samplers.TPESampler(seed=seed, n_startup_trials=args.n_init))
            else:
                order = sozai.benchmark.pool_campaign(X, Y, None, args.budget, seed=seed, acquisition=arm, q=1,
                                                      n_init=args.n_init, outcomes=["max", "max", "min"],
                                                      mc_samples=args.mc_samples)
            seconds[arm] += time.time() - t0
            curves[arm].append((hv_curve(order, Yn) / pool_hv).tolist())
            print(f"seed {seed + 1}/{args.seeds} {arm}: HV fraction {curves[arm][-1][-1]:.3f} "
                  f"({time.time() - t0:.1f} s)", file=sys.stderr, flush=True)

    mean = {a: np.mean(curves[a], axis=0) for a in arms}
    sd = {a: np.std(curves[a], axis=0) for a in arms}

    def reach(curve, target):
        hit = np.nonzero(curve >= target)[0]
        return int(hit[0]) + 1 if len(hit) else None

    at = [n for n in (10, 20, 30, 40, 60, 100) if n <= args.budget]
    targets = [0.8, 0.9, 0.95]
    summary = {}
    for a in arms:
        summary[a] = {"hv_at": {n: float(mean[a][n - 1]) for n in at},
                      "hv_sd_at": {n: float(sd[a][n - 1]) for n in at},
                      "experiments_to": {t: reach(mean[a], t) for t in targets},
                      "seconds_per_campaign": seconds[a] / args.seeds}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    json.dump({"benchmark": "bo_multi_objective", "dataset": "lnp3", "pool": len(X), "budget": args.budget,
               "seeds": args.seeds, "n_init": args.n_init, "mc_samples": args.mc_samples,
               "pool_hypervolume_normalised": pool_hv, "curves": curves, "summary": summary},
              open(out.with_suffix(".json"), "w"))
    lines = [f"# Multi-objective closed loop: olympus/lnp3 ({len(X)} formulations, 3 objectives)", "",
             f"Mean hypervolume of the found set as a fraction of the whole pool's (objectives min-max normalised "
             f"over the pool, reference = pool's worst), {args.seeds} seeds, budget {args.budget}, sozai and "
             f"Optuna TPE start from {args.n_init} random experiments. Measured in one run by "
             "`benchmarks/bo_multi_objective.py`.", "",
             "| arm | " + " | ".join(f"HV@{n}" for n in at) + " | " +
             " | ".join(f"n to {int(t * 100)}%" for t in targets) + " | s / campaign |",
             "|---|" + "---|" * (len(at) + len(targets) + 1)]
    names = {"random": "random", "nsga2": "Optuna NSGA-II (pop. 10)", "tpe": "Optuna MOTPE",
             "qlognehvi": "sozai GP + qLogNEHVI", "qparego": "sozai GP + qParEGO", "qnehvi": "sozai GP + qNEHVI"}
    for a in arms:
        s = summary[a]
        row = [f"{s['hv_at'][n]:.3f} ± {s['hv_sd_at'][n]:.3f}" for n in at]
        row += [str(s["experiments_to"][t]) if s["experiments_to"][t] else f"> {args.budget}" for t in targets]
        lines.append(f"| {names.get(a, a)} | " + " | ".join(row) + f" | {s['seconds_per_campaign']:.1f} |")
    lines += ["", "Acceleration against random (experiments random needs / experiments the arm needs to reach the "
              "same mean HV fraction):", ""]
    for a in arms:
        if a == "random":
            continue
        parts = []
        for t in targets:
            na, nr = summary[a]["experiments_to"][t], summary["random"]["experiments_to"][t] if "random" in arms else None
            if na and nr:
                parts.append(f"{int(t * 100)}%: {nr / na:.2f}x")
            elif na:
                parts.append(f"{int(t * 100)}%: > {args.budget / na:.2f}x (random never within budget)")
        lines.append(f"- {names.get(a, a)}: " + ", ".join(parts) if parts else f"- {names.get(a, a)}: target not reached")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.arange(1, args.budget + 1)
        for a in arms:
            ax.plot(x, mean[a], label=names.get(a, a))
            ax.fill_between(x, mean[a] - sd[a] / np.sqrt(args.seeds), mean[a] + sd[a] / np.sqrt(args.seeds), alpha=0.2)
        ax.set_xlabel("experiments")
        ax.set_ylabel("hypervolume / pool hypervolume")
        ax.set_title(f"lnp3, 3 objectives, {args.seeds} seeds (band: ±1 s.e.)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out.with_suffix(".png"), dpi=120)
    except ImportError:
        pass
    print("\n".join(lines))


if __name__ == "__main__":
    main()
