#!/usr/bin/env python3
"""Campaigns that learn from earlier work: how much sooner do priors find the best?

Pairs (target pool <- prior), real data only:
- oer_4098<-3496: olympus/oer_plate_4098 (Sn, Sb, Co, Ca, Ni, Mn; overpotential, minimise) with the other
  plate of the same study, oer_plate_3496 (Ni, Fe, Co, Mn, Ce, La), as prior; they share Co, Ni, Mn;
- oer_3496<-4098: the reverse;
- expt_gap<-mp_gap: matbench_expt_gap as a pool (4 604 measured band gaps; find the widest) with the
  106 113 computed (DFT) gaps of matbench_mp_gap as prior.
Inputs are element shares named by their symbols (the Olympus columns "ni_load" ... are read as Ni ...).

Arms, each over the same seeds (LogEI, n_init 2, the replay protocol of every closed-loop result):
- plain: the campaign without priors on its own columns;
- none: the same campaign in the transfer space (element shares over both tables' elements + composition
  components), its first n_init experiments the prior's best rows (the default initial design with priors),
  then the target GP alone: what the space and the warm start give without a transfer model;
- auto: transfer="auto" (RGPE or residual GP, chosen by leave-one-out ranking at every ask);
- shuffled: auto with the prior's outcomes permuted (the safeguard);
- rgpe, residual, mtgp: each method alone (--methods, fewer seeds by default).
Variants tried towards the AF50 goal (named with --arms, --method-seeds seeds; OER pairs only):
- auto_c0: auto in a transfer space of element shares alone (components 0: no composition components);
- stacked: the plain campaign on its own columns plus the prior's prediction as one more input
  (NARGP-style stacking, Perdikaris et al. 2017): a 100-tree RandomForest fitted on the whole prior over
  both tables' columns, its mean at each pool row standardised; the GP learns its lengthscale like any input's;
- pibo: auto with a prior-weighted acquisition (piBO, Hvarfner et al. 2022; transfer.prior_belief = budget / 10,
  the paper's beta = N / 10): LogEI times exp(prior score)^(beta / n), scaled by the prior's ranking agreement
  with the results so far;
- pibo_residual: the same on the residual GP alone.
Random search over 200 seeds is the reference of EF and AF (Liang et al. 2021).

Budgets: 200 on the OER plates (the plain campaign finds half of 3496's top 5 % after ~157, closed_loop_table.md);
100 on expt_gap, where no campaign finds half of the 230 widest gaps so soon (random search needs ~2300): there the
experiments to find 10 % (n10) and the share found are compared, and an arm that gets there when plain does not
gets a lower bound on its ratio.

Every campaign is one cell of results/bo_transfer.json, written when it ends, so the run resumes where
it stopped; --report-only rewrites results/bo_transfer.md and the plot from the cells.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/bo_transfer.py \
        [--pairs oer_4098<-3496 ...] [--arms plain none auto shuffled] [--seeds 20] [--method-seeds 5]
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
OUT = RESULTS / "bo_transfer.json"
MAIN_ARMS = ["plain", "none", "auto", "shuffled"]
METHOD_ARMS = ["rgpe", "residual", "mtgp"]
VARIANT_ARMS = ["auto_c0", "stacked", "pibo", "pibo_residual"]
PAIRS = {
    "oer_4098<-3496": dict(budget=200),
    "oer_3496<-4098": dict(budget=200),
    "expt_gap<-mp_gap": dict(budget=100),
}


def olympus(name):
    d = sozai.datasets.load_closed_loop(name)
    return d["X"], d["Y"][:, 0], list(d["input_names"]), bool(d["maximize"][0])


def share_table(formulas):
    comps = [sozai.featurize.composition(f) for f in formulas]
    elements = sorted({e for c in comps for e in c})
    index = {e: i for i, e in enumerate(elements)}
    X = np.zeros((len(comps), len(elements)))
    for r, c in enumerate(comps):
        for e, f in c.items():
            X[r, index[e]] = f
    return X, elements


def load_pair(pair):
    if pair.startswith("oer"):
        t, p = pair.split("<-")
        target = olympus("oer_plate_" + t.split("_")[1])
        prior = olympus("oer_plate_" + p)
    else:
        target = matbench_file("matbench_expt_gap.csv")
        prior = matbench_file("matbench_mp_gap.csv")
    return target, prior


def matbench_file(filename):
    import pandas as pd
    df = pd.read_csv(data_dir() / "ceramics" / filename)
    X, cols = share_table(df["formula"].tolist())
    return X, df["target"].to_numpy(dtype=float), cols, True


def data_dir():
    import os
    return pathlib.Path(os.environ.get("SOZAI_DATA_DIR", ROOT.parent / "shared" / "data"))


def run_arm(arm, target, prior, seed, budget):
    X, y, cols, maximize = target
    PX, Py, pcols, pmax = prior
    kw = dict(budget=budget, seed=seed, acquisition="logei", n_init=2)
    if arm == "plain":
        return sozai.benchmark.pool_campaign(X, y, maximize, **kw)
    if arm == "stacked":
        return sozai.benchmark.pool_campaign(np.hstack([X, stacked_input(target, prior)]), y, maximize, **kw)
    py = np.random.default_rng(1000 + seed).permutation(Py) if arm == "shuffled" else Py
    p = sozai.campaign.Prior(PX, py, pcols, pmax, "prior")
    method = {"none": "none", "shuffled": "auto", "auto_c0": {"method": "auto", "components": 0},
              "pibo": {"method": "auto", "prior_belief": budget / 10},
              "pibo_residual": {"method": "residual", "prior_belief": budget / 10}}.get(arm, arm)
    return sozai.benchmark.pool_campaign(X, y, maximize, columns=cols, priors=[p], transfer=method, **kw)


def stacked_input(target, prior):
    """The prior's prediction at each pool row [n, 1], standardised: a forest on the whole prior over the union
    of both tables' columns (a column one table lacks is 0 there, as an element share it lacks)."""
    X, _, cols, _ = target
    PX, Py, pcols, _ = prior
    union = sorted(set(cols) | set(pcols))

    def aligned(A, names):
        Z = np.zeros((len(A), len(union)))
        Z[:, [union.index(c) for c in names]] = A
        return Z

    forest = sozai.models.RandomForest(trees=100, seed=0)
    forest.fit(aligned(PX, pcols), Py)
    m, _ = forest.posterior(aligned(X, cols))
    return ((m - m.mean()) / m.std())[:, None]


LATENCY_STEPS = ("create", "first", "next", "restored")


def ask_latency(repeats=5):
    """Seconds per ask(1) on oer_plate_4098 with 30 results told: without priors, and with two priors of 2000
    rows each (two overlapping slices of oer_plate_3496) under the default transfer settings. The first ask
    with priors used to fit the prior models; creating the campaign does now (once per campaign and process)."""
    X, y, cols, maximize = olympus("oer_plate_4098")
    PX, Py, pcols, pmax = olympus("oer_plate_3496")
    priors = [sozai.campaign.Prior(PX[:2000], Py[:2000], pcols, pmax, "first-2000"),
              sozai.campaign.Prior(PX[-2000:], Py[-2000:], pcols, pmax, "last-2000")]
    told = sozai.benchmark.random_baseline(len(y), 30, 0)
    times = {"plain": [], "priors": []}
    for rep in range(repeats):
        for arm in times:  # interleaved, so that a slow spell of the machine hits both arms alike
            extra = dict(columns=cols, priors=priors) if arm == "priors" else {}
            t = time.perf_counter()
            c = sozai.campaign.PoolCampaign(X, maximize, n_init=2, seed=rep, acquisition="logei", **extra)
            t_create = time.perf_counter() - t
            c.tell([int(i) for i in told], [float(y[i]) for i in told])
            t = time.perf_counter()
            first = c.ask(1)
            t_first = time.perf_counter() - t
            c.tell(int(first[0]), float(y[first[0]]))
            t = time.perf_counter()
            second = c.ask(1)
            t_next = time.perf_counter() - t
            # The lab service's path: the engine rebuilt from its saved state (and its priors attached) for
            # every ask. The prior models come from the process's cache, filled when the campaign was created.
            c.tell(int(second[0]), float(y[second[0]]))
            t = time.perf_counter()
            r = sozai.campaign.PoolCampaign.from_json(c.to_json())
            if arm == "priors":
                r.attach_priors(priors)
            r.ask(1)
            times[arm].append((t_create, t_first, t_next, time.perf_counter() - t))
    return latency_summary({arm: {k: [t[i] for t in ts] for i, k in enumerate(LATENCY_STEPS)}
                            for arm, ts in times.items()})


def latency_summary(times):
    """times: {arm: {step: [seconds]}} -> each step's median and quartiles per arm, and priors / plain."""
    out = {arm: {k: float(np.median(v)) for k, v in ts.items()} for arm, ts in times.items()}
    out["quartiles"] = {arm: {k: [float(q) for q in np.percentile(v, [25, 75])] for k, v in ts.items()}
                        for arm, ts in times.items()}
    for k in times["plain"]:
        out[f"ratio_{k}"] = out["priors"][k] / out["plain"][k]
    return out


LAB_STEPS = ("warm", "rebuilt")


def lab_latency(repeats=5, steps=4):
    """The lab service's ask(1) (in process, sozai.lab.LabService over a SQLite store) on oer_plate_4098 with
    31 or more results, `steps` asks of each kind per campaign after its first model ask: without priors, and with two earlier lab campaigns of 2000 measured rows each (the slices of
    oer_plate_3496 of ask_latency) as priors. "warm": the service kept the campaign's engine from its last ask;
    "rebuilt": a service just started on the same store rebuilds it from the stored state."""
    import tempfile
    X, y, cols, maximize = olympus("oer_plate_4098")
    PX, Py, pcols, pmax = olympus("oer_plate_3496")
    direction = "maximize" if maximize else "minimize"

    def description(name, A, names, **extra):
        return {"name": name, "objectives": [{"name": "eta", "direction": direction}],
                "parameters": [{"name": c, "type": "continuous", "low": 0.0, "high": 1.0} for c in names],
                "pool": [{c: float(v) for c, v in zip(names, row)} for row in A], **extra}

    def measure_all(svc, admin, cid, value_of, count):
        left = count
        while left > 0:
            es = svc.ask(admin, cid, {"count": min(left, 100)})["experiments"]
            if not es:
                return
            for e in es:
                svc.report(admin, cid, e["id"], {"values": {"eta": value_of(e["parameters"])}})
            left -= len(es)

    def lookup(A, names, values):
        table = {}
        for row, v in zip(A, values):
            table.setdefault(tuple(float(x) for x in row), float(v))
        return lambda p: table[tuple(float(p[c]) for c in names)]

    times = {arm: {k: [] for k in LAB_STEPS} for arm in ("plain", "priors")}
    with tempfile.TemporaryDirectory() as d:
        db = pathlib.Path(d) / "lab.db"
        svc = sozai.lab.LabService(db)
        admin = svc.authenticate("Bearer " + svc.bootstrap_admin_token())
        prior_ids = []
        for name, rows in (("first-2000", slice(0, 2000)), ("last-2000", slice(-2000, None))):
            cid = svc.create_campaign(admin, description(name, PX[rows], pcols, surrogate="random"))["id"]
            measure_all(svc, admin, cid, lookup(PX[rows], pcols, Py[rows]), 2000)
            prior_ids.append(cid)
        target = lookup(X, cols, y)
        for rep in range(repeats):
            for arm in times:  # interleaved, as ask_latency
                extra = {"priors": prior_ids} if arm == "priors" else {}
                cid = svc.create_campaign(admin, description(f"{arm}-{rep}", X, cols, n_init=30, seed=rep,
                                                             acquisition="logei", **extra))["id"]
                measure_all(svc, admin, cid, target, 30)  # the initial rows, in one ask
                measure_all(svc, admin, cid, target, 1)   # the first model ask (all restarts)
                for step in LAB_STEPS:
                    for _ in range(steps):
                        server = svc if step == "warm" else sozai.lab.LabService(db)
                        t = time.perf_counter()
                        e = server.ask(admin, cid, {"count": 1})["experiments"][0]
                        times[arm][step].append(time.perf_counter() - t)
                        server.report(admin, cid, e["id"], {"values": {"eta": target(e["parameters"])}})
    return latency_summary(times)


def load_cells():
    return json.loads(OUT.read_text()) if OUT.exists() else {"cells": {}}


def update_results(change):
    """Applies change(results) to results/bo_transfer.json under a lock, so that runs on different pairs (one
    per core) share the file without losing each other's cells."""
    import fcntl
    with open(OUT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        res = load_cells()
        change(res)
        tmp = OUT.with_suffix(".tmp")
        tmp.write_text(json.dumps(res))
        tmp.replace(OUT)


def save_cell(key, order, seconds):
    update_results(lambda res: res["cells"].__setitem__(key, {"order": [int(r) for r in order], "seconds": seconds}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", nargs="*", default=list(PAIRS))
    ap.add_argument("--arms", nargs="*", default=MAIN_ARMS + METHOD_ARMS)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--method-seeds", type=int, default=5)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--latency", action="store_true",
                    help="measure the ask latency with two 2000-row priors first (add --report-only to run no campaigns)")
    ap.add_argument("--lab-latency", action="store_true",
                    help="measure the lab service's ask with and without two 2000-row prior campaigns first")
    args = ap.parse_args()
    if args.lab_latency:
        lab = lab_latency(repeats=11)
        update_results(lambda res: res.__setitem__("lab_latency", lab))
        print(f"[bo_transfer] lab latency: {lab}", file=sys.stderr, flush=True)
    if args.latency:
        latency = ask_latency(repeats=21)
        update_results(lambda res: res.__setitem__("latency", latency))
        print(f"[bo_transfer] latency: {latency}", file=sys.stderr, flush=True)
    if not args.report_only:
        for pair in args.pairs:
            target, prior = load_pair(pair)
            for arm in args.arms:
                seeds = args.seeds if arm in MAIN_ARMS else args.method_seeds
                for seed in range(seeds):
                    key = f"{pair}|{arm}|{seed}"
                    if key in load_cells()["cells"]:
                        continue
                    t = time.time()
                    order = run_arm(arm, target, prior, seed, PAIRS[pair]["budget"])
                    save_cell(key, order, time.time() - t)
                    print(f"[bo_transfer] {pair} {arm} seed {seed + 1}/{seeds}: {time.time() - t:.0f} s",
                          file=sys.stderr, flush=True)
    report(args.pairs)


def reach(mean, target):
    """Experiments the mean curve needs to reach target; None when not within its budget."""
    n = sozai.benchmark.experiments_to_reach(mean, target)
    return n if n > 0 else None


def reach_ratio(n_plain, n_arm, budget):
    """How many times fewer experiments than the plain campaign the arm needs (its AF over plain's AF: random
    search's count cancels); a lower bound when only the arm gets there within the budget."""
    if n_arm is None:
        return "—"
    if n_plain is None:
        return f"> {budget / n_arm:.2f}"
    return f"{n_plain / n_arm:.2f}"


def prior_ranking_line(pair, target, prior):
    """How well the prior alone ranks the target's top 5 % (OER pairs: the stacked arm's forest)."""
    if not pair.startswith("oer"):
        return []
    _, y, _, maximize = target
    m = stacked_input(target, prior)[:, 0]
    better = m if maximize else -m   # larger: the prior expects a better result
    top = np.asarray(sozai.benchmark.top_fraction_curve(np.argsort(-y if maximize else y), y, maximize))
    k = int(np.argmax(top >= 1.0)) + 1
    best = np.argsort(-y if maximize else y)[:k]
    pct = np.mean([(better > better[i]).mean() for i in best])
    return [f"A forest on the whole prior (the stacked arm's) puts the target's top 5 % at percentile {100 * pct:.0f} "
            "of the pool on average, counted from the best (50: no information).", ""]


def latency_rows(lat, steps, labels):
    """Table rows of a latency measurement: each step's median (quartiles) per arm and their ratio."""
    quart = lat.get("quartiles")

    def cell(arm, k):
        if not quart:
            return f"{lat[arm][k]:.3f}"
        lo, hi = quart[arm][k]
        return f"{lat[arm][k]:.3f} ({lo:.3f}–{hi:.3f})"

    return [f"| {labels[k]} | {cell('plain', k)} | {cell('priors', k)} | {lat['ratio_' + k]:.2f} |"
            for k in steps if k in lat["plain"]]


def report(pairs):
    cells = load_cells()["cells"]
    lines = ["# Campaigns with priors (`benchmarks/bo_transfer.py`)", "",
             "Top%(i): share of the pool's top 5 % found after i experiments (mean over seeds); EF(i) against "
             "random search (200 seeds); n10, n50: experiments the mean curve needs to find 10 % and half of the top "
             "set (— when not within the budget); AF = random search's n over the arm's (Liang et al. 2021). "
             "Ratios are against the plain campaign (no priors) of the same seeds; the AF ratio is plain's n over the "
             "arm's, a lower bound (>) when only the arm gets there within the budget.", ""]
    curves_for_plot = {}
    for pair in pairs:
        target, prior = load_pair(pair)
        X, y, _, maximize = target
        budget = PAIRS[pair]["budget"]
        rand = [sozai.benchmark.top_fraction_curve(sozai.benchmark.random_baseline(len(y), len(y), s), y, maximize)
                for s in range(200)]
        rand_mean = sozai.benchmark.mean_curve(rand, len(y))
        r10, r50 = reach(rand_mean, 0.1), reach(rand_mean, 0.5)
        lines += [f"## {pair} (pool {len(y)}, budget {budget}; random search: n10 {r10}, n50 {r50})", "",
                  *prior_ranking_line(pair, target, prior),
                  "| arm | seeds | Top%(25) | Top%(50) | Top%(budget) | EF(50) | n10 | n50 | AF10 | AF50 | "
                  "×plain Top%(25) | ×plain Top%(50) | ×plain AF10 | ×plain AF50 | s/campaign |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        stats, bases = {}, {}

        def summary(arm, seeds):
            cs = [sozai.benchmark.top_fraction_curve(cells[f"{pair}|{arm}|{s}"]["order"], y, maximize) for s in seeds]
            mean = sozai.benchmark.mean_curve(cs, budget)
            return mean, dict(t25=mean[24], t50=mean[49], tb=mean[budget - 1],
                              ef50=sozai.benchmark.enhancement_factor(cs, rand, 50),
                              n10=reach(mean, 0.1), n50=reach(mean, 0.5), n=len(seeds),
                              sec=np.mean([cells[f"{pair}|{arm}|{s}"]["seconds"] for s in seeds]))

        for arm in MAIN_ARMS + METHOD_ARMS + VARIANT_ARMS:
            seeds = sorted(int(k.split("|")[2]) for k in cells if k.startswith(f"{pair}|{arm}|"))
            if not seeds:
                continue
            curves_for_plot[(pair, arm)], stats[arm] = summary(arm, seeds)
            # An arm with fewer seeds is compared with plain on its own seeds.
            if all(f"{pair}|plain|{s}" in cells for s in seeds):
                bases[arm] = summary("plain", seeds)[1]

        def fmt(n):
            return "—" if n is None else str(n)

        def af(r, n):
            return "—" if n is None or r is None else f"{r / n:.2f}"

        for arm, s in stats.items():
            base = bases.get(arm)

            def ratio(k):
                return f"{s[k] / base[k]:.2f}" if base and base[k] > 0 else "—"
            lines.append(
                f"| {arm} | {s['n']} | {s['t25']:.3f} | {s['t50']:.3f} | {s['tb']:.3f} | {s['ef50']:.2f} | "
                f"{fmt(s['n10'])} | {fmt(s['n50'])} | {af(r10, s['n10'])} | {af(r50, s['n50'])} | {ratio('t25')} | "
                f"{ratio('t50')} | {reach_ratio(base['n10'], s['n10'], budget) if base else '—'} | "
                f"{reach_ratio(base['n50'], s['n50'], budget) if base else '—'} | {s['sec']:.0f} |")
        lines.append("")
    lat = load_cells().get("latency")
    if lat:
        labels = {"create": "create the campaign (fits the prior models)", "first": "first ask", "next": "next ask",
                  "restored": "restored from saved state + ask (a lab service's path after a restart)"}
        lines += ["## Ask latency", "",
                  "oer_plate_4098 with 30 results, ask(1), median (and quartiles) of 21 campaigns of each arm, run alternately: without priors and with "
                  "two priors "
                  "of 2000 rows each (default transfer settings). Creating a campaign with priors fits the prior "
                  "models, once per campaign and process; a campaign restored from its saved state (as a lab service "
                  "just started rebuilds its engines) takes them from the process's cache.", "",
                  "| | no priors (s) | 2 × 2000-row priors (s) | ratio of the medians |", "|---|---:|---:|---:|"]
        lines += latency_rows(lat, LATENCY_STEPS, labels) + [""]
    lab = load_cells().get("lab_latency")
    if lab:
        lines += ["## Ask latency through the lab service", "",
                  "`sozai.lab.LabService` in process over a SQLite store (what `sozai serve` runs for `POST "
                  "/v1/campaigns/{id}/ask`, without HTTP): oer_plate_4098 as a pool campaign with 31 or more results, "
                  "ask(1) timed, 4 asks of each kind after the first model ask of each of 11 campaigns per arm, run "
                  "alternately; with priors: two earlier lab campaigns of 2000 measured rows each (the slices above). "
                  "Median (quartiles).", "",
                  "| | no priors (s) | 2 prior campaigns of 2000 rows (s) | ratio of the medians |",
                  "|---|---:|---:|---:|"]
        labels = {"warm": "the service kept the campaign's engine from its last ask",
                  "rebuilt": "a service just started rebuilds the engine from the store"}
        lines += latency_rows(lab, LAB_STEPS, labels) + [""]
    (RESULTS / "bo_transfer.md").write_text("\n".join(lines) + "\n")
    plot(pairs, curves_for_plot)
    print("\n".join(lines))


def plot(pairs, curves):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4), squeeze=False)
    for ax, pair in zip(axes[0], pairs):
        for (p, arm), mean in curves.items():
            if p == pair:
                ax.plot(np.arange(1, len(mean) + 1), mean, label=arm, lw=2 if arm in ("auto", "plain") else 1)
        ax.set_title(pair)
        ax.set_xlabel("experiments")
        ax.set_ylabel("share of the top 5 % found")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "bo_transfer.png", dpi=120)


if __name__ == "__main__":
    main()
