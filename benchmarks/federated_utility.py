"""Federated training against each party alone and against pooled training,
on the same held-out rows, for data split among companies by chemistry.

For each dataset (Tg of polymers, steels yield strength, measured band gaps)
and 3 or 5 parties: 20 % of the rows (random, per seed) are held out for
testing; the rest is split non-IID - KMeans on the inputs' features
(Magpie composition statistics, or Morgan fingerprints for polymers) into as
many clusters as parties, one cluster per party, so each party holds one
family of chemistry. Then, on the same test rows:

- alone:     a GnnEnsemble trained on one party's rows (each party in turn);
- federated: ``sozai.federated.simulate`` (FedAvg through secure
             aggregation) over all parties;
- pooled:    a GnnEnsemble on all training rows (what sharing the data would give).

Goals (the confidential-collaboration issue): federated MAE within 5 % of
pooled, and at least 15 % better than the average party alone. Costs per
round with and without secure aggregation come from the federated runs'
logs.

Recipes (--recipes, the methods the field uses to close the gap to pooled
training on non-IID parties): ROUNDSxEPOCHS rounds of that many local
epochs, optionally ":mu=M" (FedProx's proximal term), ":m=B" (FedAvgM's
server momentum), ":slr=S" (server learning rate) and ":pre" (every
party starts from the shipped pretrained composition network,
composition-mp), e.g. 120x3, 60x3:mu=0.01 or 60x3:pre; each runs through secure aggregation as the cell
"federated@RECIPE" beside the default "federated" (60x1).

Cells (dataset, parties, seed, method) are written to
results/federated_utility.json as they finish; a rerun skips them. A
federated cell keeps its progress in a checkpoint
(results/federated_checkpoints/, ignored by git) and resumes from it, so a
cell of hours goes on across runs; --max-hours stops the run cleanly
(inside a federated cell, or before starting another cell) so that it can
end with a session. Long: run in the background. Runs on different datasets may
share the machine, one per core (cells are added to the results file under
a lock).

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python \\
        /usr/bin/python3 benchmarks/federated_utility.py [--datasets steels] [--parties 3 5] [--seeds 0 1 2]
    ... --max-hours 1.5    # stop (and later resume) after 1.5 hours
    ... --report-only
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import sozai  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "federated_utility.json"
CHECKPOINTS = RESULTS / "federated_checkpoints"
DATA = pathlib.Path(os.environ.get("SOZAI_DATA_DIR", ROOT.parent / "shared" / "data"))

DATASETS = {
    "tg": ("polymer", "polymers/Tg_Original.csv", "Smiles", "Tg", "K"),
    "steels": ("composition", "alloys/matbench_steels_yield.csv", "formula", "target", "MPa"),
    "expt_gap": ("composition", "ceramics/matbench_expt_gap.csv", "formula", "target", "eV"),
}
GNN = dict(n_members=3, threads=1, progress=False)
ROUNDS = 60


def load(name):
    kind, rel, xcol, ycol, _ = DATASETS[name]
    df = pd.read_csv(DATA / rel, encoding="utf-8-sig")
    return kind, df[xcol].astype(str).tolist(), df[ycol].to_numpy(float)


def features(kind, inputs):
    if kind == "polymer":
        packed = sozai.featurize.polymer_features(inputs, radius=2, n_bits=256)[1]  # int64 words of bits
        return np.unpackbits(np.ascontiguousarray(packed).view(np.uint8), axis=1).astype(float)
    return np.asarray(sozai.featurize.composition_features(inputs), dtype=float)


def split(kind, inputs, y, parties, seed):
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = len(y) // 5
    test, train = order[:n_test], order[n_test:]
    F = features(kind, [inputs[i] for i in train])
    F = (F - F.mean(0)) / np.where(F.std(0) > 0, F.std(0), 1)
    labels = KMeans(n_clusters=parties, n_init=10, random_state=seed).fit_predict(np.nan_to_num(F))
    return test, [train[labels == k] for k in range(parties)]


def mae(model, inputs, y, rows):
    mean, _ = model.predict([inputs[i] for i in rows])
    return float(np.abs(np.ravel(mean) - y[rows]).mean())


def load_cells():
    return json.loads(OUT.read_text()) if OUT.exists() else {}


def save_cell(key, value):
    """Adds one cell to the results file under a lock, so that runs on different datasets can share a machine
    (one per core) without losing each other's cells."""
    import fcntl

    with open(OUT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cells = load_cells()
        cells[key] = value
        tmp = OUT.with_suffix(f".tmp.{os.getpid()}")
        tmp.write_text(json.dumps(cells, indent=1))
        tmp.replace(OUT)


def parse_recipe(text):
    """'120x3', '60x3:mu=0.01', '60x3:m=0.9:slr=1' or '60x3:pre' -> (rounds, local_epochs, options, pretrained)."""
    head, *opts = text.split(":")
    r, _, e = head.partition("x")
    get = lambda key, default: next((float(o[len(key) + 1:]) for o in opts if o.startswith(key + "=")), default)
    return int(r), int(e), dict(proximal_mu=get("mu", 0.0), server_momentum=get("m", 0.0),
                                server_lr=get("slr", 1.0)), "pre" in opts


class OutOfTime(Exception):
    pass


def run(datasets, party_counts, seeds, recipes=(), baseline=True, max_hours=0.0):
    deadline = time.time() + max_hours * 3600 if max_hours > 0 else None
    for name in datasets:
        kind, inputs, y = load(name)
        for P in party_counts:
            for seed in seeds:
                test, parts = split(kind, inputs, y, P, seed)
                prefix = f"{name}|{P}|{seed}"
                cells = load_cells()
                methods = ([f"alone{k + 1}" for k in range(P)] + ["federated", "plain", "pooled"]) if baseline else []
                methods += [f"federated@{r}" for r in recipes]
                if any(":pre" in r for r in recipes) and kind == "composition":
                    # Like against like: each party alone and pooled, fine-tuned from the same pretrained network.
                    methods += [f"alone{k + 1}@pre" for k in range(P)] + ["pooled@pre"]
                for method in methods:
                    key = f"{prefix}|{method}"
                    if key in cells:
                        continue
                    if deadline is not None and time.time() >= deadline:
                        raise OutOfTime(f"before {key}")
                    t = time.time()
                    extra = {}
                    if method.startswith("alone") or method.startswith("pooled"):
                        base = method.split("@")[0]
                        rows = parts[int(base[5:]) - 1] if base.startswith("alone") else np.concatenate(parts)
                        m = (sozai.models.GnnEnsemble.from_pretrained("composition-mp", seed=seed, **GNN)
                             if method.endswith("@pre") else sozai.models.GnnEnsemble(kind=kind, seed=seed, **GNN))
                        m.fit([inputs[i] for i in rows], y[rows])
                    else:
                        ps = [([inputs[i] for i in r], y[r]) for r in parts]
                        rounds, epochs, opt, pre = (parse_recipe(method.split("@")[1]) if "@" in method
                                                    else (ROUNDS, 1, {}, False))
                        start = dict(pretrained="composition-mp") if pre and kind == "composition" else {}
                        CHECKPOINTS.mkdir(parents=True, exist_ok=True)
                        ck = CHECKPOINTS / (key.replace("|", "_").replace(":", "-").replace("=", "") + ".pt")
                        left = 0.0 if deadline is None else max((deadline - time.time()) / 3600, 1e-9)
                        m, log = sozai.federated.simulate(kind, ps, rounds=rounds, local_epochs=epochs, seed=seed,
                                                          secure=method != "plain", checkpoint=ck, max_hours=left,
                                                          **GNN, **opt, **start)
                        if not log["finished"]:
                            raise OutOfTime(f"in {key} after round {len(log['round_loss'])}/{rounds}")
                        if log["resumed_rounds"]:
                            print(f"[federated_utility] {key}: resumed after round {log['resumed_rounds']}",
                                  file=sys.stderr, flush=True)
                        extra = dict(round_seconds=float(np.mean(log["round_seconds"])),
                                     round_bytes=float(np.mean(log["round_bytes"])),
                                     round_loss=[float(v) for v in log["round_loss"]],
                                     resumed_rounds=int(log["resumed_rounds"]))
                    seconds = time.time() - t
                    if extra.get("resumed_rounds"):  # the rounds earlier runs trained (their set-up not counted)
                        seconds += float(np.sum(log["round_seconds"][:extra["resumed_rounds"]]))
                    cell = dict(mae=mae(m, inputs, y, test), seconds=seconds, rows=[len(p) for p in parts], **extra)
                    save_cell(key, cell)
                    print(f"[federated_utility] {key}: MAE {cell['mae']:.4g} ({cell['seconds']:.0f} s)",
                          file=sys.stderr, flush=True)


def rounds_to_converge(loss, warmup=5):
    """The first round after the MSE warm-up whose training loss has made 95 % of the decrease it makes from there
    to the last round (None without a loss curve or a decrease)."""
    if not loss or len(loss) <= warmup + 1:
        return None
    tail = loss[warmup:]
    drop = tail[0] - tail[-1]
    if drop <= 0:
        return None
    return warmup + 1 + next(i for i, v in enumerate(tail) if tail[0] - v >= 0.95 * drop)


def report():
    cells = load_cells()
    lines = ["# Federated training: each party alone, federated, pooled", "",
             "`benchmarks/federated_utility.py`: 20 % of the rows held out (per seed), the rest split among the "
             "parties by KMeans on the inputs' features (one chemistry family per party); every method scored on "
             f"the same held-out rows. GnnEnsemble settings {GNN}; federated: {ROUNDS} rounds of one local epoch "
             "through secure aggregation; plain: the same rounds with updates in the clear. Goals: federated "
             "within 5 % of pooled, and at least 15 % better than the average party alone. Seconds per round come "
             "from runs that shared the 2-core machine with other work (two cells at a time, one per core, at "
             "times beside a build): `federated_cost.md` and `federated_network.md` measure the cost of secure "
             "aggregation on a quiet machine.", "",
             "| dataset | parties | seeds | alone (mean of parties) | federated | plain aggregation | pooled | "
             "federated / pooled | federated vs alone | s/round secure | s/round plain | bytes/round secure | "
             "bytes/round plain |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups = {}
    for key, c in cells.items():
        name, P, seed, method = key.split("|")
        groups.setdefault((name, int(P)), {}).setdefault(int(seed), {})[method] = c
    for (name, P), by_seed in sorted(groups.items()):
        done = {s: m for s, m in by_seed.items()
                if {"federated", "plain", "pooled"} <= set(m) and all(f"alone{k + 1}" in m for k in range(P))}
        if not done:
            continue
        alone = np.mean([np.mean([m[f"alone{k + 1}"]["mae"] for k in range(P)]) for m in done.values()])
        fed = np.mean([m["federated"]["mae"] for m in done.values()])
        plain = np.mean([m["plain"]["mae"] for m in done.values()])
        pooled = np.mean([m["pooled"]["mae"] for m in done.values()])
        sr = np.mean([m["federated"]["round_seconds"] for m in done.values()])
        pr = np.mean([m["plain"]["round_seconds"] for m in done.values()])
        sb = np.mean([m["federated"]["round_bytes"] for m in done.values()])
        pb = np.mean([m["plain"]["round_bytes"] for m in done.values()])
        unit = DATASETS[name][4]
        lines.append(f"| {name} ({unit}) | {P} | {len(done)} | {alone:.4g} | {fed:.4g} | {plain:.4g} | {pooled:.4g} | "
                     f"{fed / pooled:.3f} | {1 - fed / alone:+.1%} | {sr:.2f} | {pr:.2f} | {sb:,.0f} | {pb:,.0f} |")
    # Recipes: the same seeds' pooled and default federated MAE beside them.
    rec = {}
    for key, c in cells.items():
        name, P, seed, method = key.split("|")
        if "@" in method and f"{name}|{P}|{seed}|pooled" in cells:
            if not method.startswith("federated@"):
                continue
            conv = rounds_to_converge(c.get("round_loss"))
            recipe = method.split("@")[1]
            pre = ":pre" in recipe and f"{name}|{P}|{seed}|pooled@pre" in cells
            suffix = "@pre" if pre else ""
            alone = [cells.get(f"{name}|{P}|{seed}|alone{k + 1}{suffix}", {}).get("mae") for k in range(int(P))]
            rec.setdefault((name, int(P), recipe + (" (baselines fine-tuned too)" if pre else "")), []).append(
                (c["mae"], cells[f"{name}|{P}|{seed}|pooled{suffix}"]["mae"], c.get("round_seconds", float("nan")),
                 float("nan") if conv is None else conv,
                 float("nan") if None in alone else float(np.mean(alone))))
    if rec:
        lines += ["", "## Recipes (FedAvg rounds x local epochs, FedProx mu), through secure aggregation", "",
                  "| dataset | parties | recipe | seeds | federated | pooled (same seeds) | federated / pooled | "
                  "alone (mean) | federated vs alone | s/round | rounds to converge |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (name, P, r), v in sorted(rec.items()):
            f, p, t, conv, a = (np.mean([x[i] for x in v]) for i in range(5))
            lines.append(f"| {name} | {P} | {r} | {len(v)} | {f:.4g} | {p:.4g} | {f / p:.3f} | "
                         f"{'' if np.isnan(a) else f'{a:.4g}'} | {'' if np.isnan(a) else f'{1 - f / a:+.1%}'} | "
                         f"{t:.2f} | {'' if np.isnan(conv) else f'{conv:.0f}'} |")
        lines += ["", "A recipe with :pre starts every party from the shipped composition-mp network; where the same "
                  "seed's pooled@pre and alone@pre cells exist (pooled and each party alone fine-tuned from it too) "
                  "the row compares against those, like against like.",
                  "", "Rounds to converge: the first round after the 5 warm-up rounds (mean squared error) whose local "
                  "training loss has made 95 % of its decrease to the last round (runs recorded before the loss was "
                  "logged leave it empty)."]
    (RESULTS / "federated_utility.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--parties", nargs="*", type=int, default=[3, 5])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--recipes", nargs="*", default=[], help="extra federated runs, ROUNDSxEPOCHS[:mu=M]")
    ap.add_argument("--recipes-only", action="store_true", help="only the recipes (the baseline cells exist)")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--max-hours", type=float, default=0.0,
                    help="stop after this many hours (a federated cell keeps its checkpoint); 0: no limit")
    a = ap.parse_args()
    if not a.report_only:
        try:
            run(a.datasets, a.parties, a.seeds, a.recipes, baseline=not a.recipes_only, max_hours=a.max_hours)
        except OutOfTime as e:
            print(f"[federated_utility] --max-hours reached {e}; run again to go on", file=sys.stderr, flush=True)
    report()


if __name__ == "__main__":
    main()
