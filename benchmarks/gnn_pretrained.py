"""Pretrained against scratch: 5-fold cross-validated accuracy of
GnnEnsembles fine-tuned from a pretrained network, the same ensembles from
random weights, and random forests, on real measured data in ../shared/data.

| dataset | inputs | pretrained network | fine-tuning head |
|---|---|---|---|
| alloys/matbench_steels_yield.csv (312) | formula | composition-mp (mp_e_form + mp_gap) | new |
| ceramics/matbench_dielectric.csv (4764) | formula | composition-mp | new |
| ceramics/matbench_expt_gap.csv (4604) | formula | composition-mp | mp_gap (computed -> measured gap) |
| alloys/MPEA_dataset.csv (yield strength, 1067 rows with a test temperature) | formula + test temperature, processing route | composition-mp | new |
| polymers/Tg_Original.csv (6906) | SMILES | PolymerMPNN pretrained per fold on Tg (training rows) + Eg (all) | Tg |
| polymers/Eg_Original.csv (3379) | SMILES | PolymerMPNN pretrained per fold on Eg (training rows) + Tg (all) | Eg |

Folds: KFold(5, shuffle=True, random_state=18012019), Matbench's. Per fold
and arm: a 5-member ensemble (seed = fold), the default training settings,
cross-validated stopping (stopping="folds": the members hold out one fold
of the training rows each and stop at the epoch with the best pooled
out-of-fold MAE) for both the scratch and the fine-tuned arm, so that the
two differ only in their starting weights; the fine-tuned arm trains the
trunk at trunk_lr_scale of the head's rate. The random forest
(RandomForestRegressor(300), random_state = fold) sees Magpie statistics (and
the conditions) of the same rows, Morgan counts for polymers. The polymer
arm pretrains inside each fold on that fold's training rows only, so no
test row's target is ever seen.

Recipes (RECIPES below): a dataset may set up both GNN arms alike in
another way than GnnEnsemble's defaults. MPEA yield strength uses
"log-magpie-e400": log(y) fitted (strength spans 24-3416 MPa), the Magpie
statistics beside the test temperature and route in the head, and up to 400
epochs (the default limit, 200, was reached by most members). Its forest is
then run on y and on log(y) and the better one is the baseline. Tg uses
"morgan-e150": log(1 + Morgan counts) of the common substructures in the
head beside the pooled graph, a new head when fine-tuning, and up to 150
epochs (the automatic limit, 58, was reached by every member in every fold).
Cells from earlier recipes stay in the results and are reported as
superseded.

Learning curves (expt_gap and steels): per fold, the first 50, 100 and 200
training rows of a seeded permutation, scratch against fine-tuned, tested
on the fold's whole test set; "all" is the CV itself.

Every finished cell (dataset, fold, arm, rows) is written to
benchmarks/results/gnn_pretrained.json at once and a rerun skips it: the
whole run takes hours on 2 cores and resumes where it stopped. The report
(gnn_pretrained.md, gnn_pretrained_learning_curves.png) is made from the
cells there, and says how many folds each number rests on.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/gnn_pretrained.py \\
        [--datasets steels expt_gap ...] [--folds 0 1 2 3 4] [--pretrained composition-mp] [--report-only]
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold

import sozai
import sozai.featurize as F
from sozai import models

from bench_common import RESULTS, data_dir
from gnn_accuracy import metrics

OUT = RESULTS / "gnn_pretrained"
MEMBERS = 5
TRUNK_LR = 0.3
POLYMER_PRETRAIN_EPOCHS = 30
CURVE_SIZES = (50, 100, 200)
THREADS = 1  # --threads: members side by side, LibTorch threads when pretraining, RF jobs

DATASETS = {
    "steels": dict(file="alloys/matbench_steels_yield.csv", input="formula", target="target", kind="composition",
                   head="new", title="matbench_steels_yield (MPa)", best=79.95,
                   reference="Matbench best 79.95 (MODNet), RF/Magpie 103.5, CrabNet 107.3"),
    "dielectric": dict(file="ceramics/matbench_dielectric.csv", input="formula", target="target",
                       kind="composition", head="new", title="matbench_dielectric (refractive index)", best=0.271,
                       reference="Matbench best 0.271, CrabNet 0.323"),
    "expt_gap": dict(file="ceramics/matbench_expt_gap.csv", input="formula", target="target", kind="composition",
                     head="mp_gap", title="matbench_expt_gap (eV)", best=0.287,
                     reference="Matbench best 0.287 (MODNet), CrabNet 0.346, RF/Magpie 0.406"),
    "mpea": dict(file="alloys/MPEA_dataset.csv", input="FORMULA", target="PROPERTY: YS (MPa)", kind="composition",
                 head="new", title="MPEA yield strength with test temperature (MPa)", best=None,
                 reference="no published CV on this table", recipe="log-magpie-e400"),
    "tg": dict(file="polymers/Tg_Original.csv", input="Smiles", target="Tg", kind="polymer", head="tg",
               other=("eg", "polymers/Eg_Original.csv", "Eg"), title="Tg_Original (degC)", best=None,
               reference="RF on Morgan counts, same run", recipe="morgan-e150"),
    "eg": dict(file="polymers/Eg_Original.csv", input="Smiles", target="Eg", kind="polymer", head="eg",
               other=("tg", "polymers/Tg_Original.csv", "Tg"), title="Eg_Original (eV)", best=None,
               reference="RF on Morgan counts, same run"),
}
# How the GNN arms (scratch and fine-tuned alike) are set up on a dataset;
# cells record their recipe and the report shows each recipe run.
# - log_target: fit log(y) (positive targets spanning a decade or more, such
#   as yield strength) and predict exp(mean), the median of the log-normal
#   (the MAE-optimal point), with the variance by the delta method; the random
#   forest is then run on log(y) as well (arm "rf-log") and the better of the
#   two forests is the baseline.
# - descriptors: the random forest's inputs go into the head beside the
#   conditions, as conditions (GnnEnsemble standardises them on its training
#   rows): "magpie", the composition's Magpie statistics (columns constant on
#   the training rows dropped); "morgan", log(1 + Morgan counts) of the
#   substructures present in at least 1 % of the training rows. The
#   fine-tuned arm then gets a new head (a pretrained head has no inputs for
#   them).
# - max_epochs: the epoch limit (0: GnnEnsemble's automatic one).
RECIPES = {
    "default": {},
    "log-magpie-e400": dict(log_target=True, descriptors="magpie", max_epochs=400),
    "morgan-e150": dict(descriptors="morgan", max_epochs=150),
}
MPEA_TEMPERATURE = "PROPERTY: Test temperature ($^\\circ$C)"
MPEA_ROUTE = "PROPERTY: Processing method"


def load(name, spec):
    df = pd.read_csv(data_dir() / spec["file"])
    if name == "mpea":
        df = df.dropna(subset=[spec["target"], MPEA_TEMPERATURE]).reset_index(drop=True)
        routes = pd.get_dummies(df[MPEA_ROUTE].fillna("unknown"), prefix="route").astype(float)
        conditions = np.column_stack([df[MPEA_TEMPERATURE].to_numpy(float), routes.to_numpy()])
    else:
        conditions = None
    inputs = list(df[spec["input"]])
    y = df[spec["target"]].to_numpy(float)
    magpie = None
    if spec["kind"] == "polymer":
        X_rf = np.asarray(F.morgan_counts(inputs, 2, 2048), dtype=np.float64)
    else:
        magpie = np.nan_to_num(np.asarray(F.composition_features(inputs), dtype=np.float64))
        X_rf = magpie if conditions is None else np.column_stack([magpie, conditions])
    X_rf = np.nan_to_num(X_rf)
    return inputs, y, conditions, X_rf, magpie


def recipe_of(spec):
    return spec.get("recipe", "default")


def ensemble(spec, arm, fold, pretrained):
    kw = dict(n_members=MEMBERS, seed=fold, stopping="folds", progress=False, threads=THREADS)
    if RECIPES[recipe_of(spec)].get("max_epochs"):
        kw["max_epochs"] = RECIPES[recipe_of(spec)]["max_epochs"]
    if arm == "scratch":
        return models.GnnEnsemble(kind=spec["kind"], **kw)
    head = "new" if RECIPES[recipe_of(spec)].get("descriptors") else spec["head"]
    return models.GnnEnsemble.from_pretrained(pretrained, head=head, trunk_lr_scale=TRUNK_LR, **kw)


def polymer_pretrained(name, spec, inputs, y, train, fold, workdir):
    """A Tg+Eg network pretrained on this fold's training rows of the target
    property and every row of the other one."""
    other, other_file, other_target = spec["other"]
    df = pd.read_csv(data_dir() / other_file)
    path = Path(workdir) / f"{name}-fold{fold}.pt"
    if not path.exists():
        models.pretrain(tasks={spec["head"]: ([inputs[i] for i in train], y[train]),
                               other: (list(df["Smiles"]), df[other_target].to_numpy(float))},
                        out=str(path), kind="polymer", epochs=POLYMER_PRETRAIN_EPOCHS, seed=fold, progress=False,
                        threads=1)
    return str(path)


def from_log(mean, var):
    """Predictions of log(y) back in y's units: exp(mean), the log-normal
    median, and the variance by the delta method."""
    mean = np.exp(mean)
    return mean, var * mean ** 2


def run_cell(name, spec, data, fold, train, test, arm, pretrained):
    inputs, y, cond, X_rf, magpie = data
    recipe = RECIPES[recipe_of(spec)]
    t0 = time.perf_counter()
    if arm in ("rf", "rf-log"):
        target = np.log(y) if arm == "rf-log" else y
        rf = RandomForestRegressor(n_estimators=300, random_state=fold, n_jobs=THREADS).fit(X_rf[train], target[train])
        trees = np.stack([t.predict(X_rf[test]) for t in rf.estimators_])
        mean, var = trees.mean(0), trees.var(0)
        if arm == "rf-log":
            mean, var = from_log(mean, var)
        return {"metrics": metrics(y[test], mean, var), "seconds": time.perf_counter() - t0}
    m = ensemble(spec, arm, fold, pretrained)
    if recipe.get("descriptors") == "magpie":
        keep = magpie[train].std(0) > 0
        cond = magpie[:, keep] if cond is None else np.column_stack([cond, magpie[:, keep]])
    elif recipe.get("descriptors") == "morgan":
        keep = (X_rf[train] > 0).mean(0) >= 0.01
        cond = np.log1p(X_rf[:, keep])
    c_train = None if cond is None else cond[train]
    c_test = None if cond is None else cond[test]
    target = np.log(y) if recipe.get("log_target") else y
    report = m.fit([inputs[i] for i in train], target[train], conditions=c_train)
    mean, var = m.predict([inputs[i] for i in test], conditions=c_test)
    if recipe.get("log_target"):
        mean, var = from_log(mean, var)
    return {"metrics": metrics(y[test], mean, var), "seconds": time.perf_counter() - t0,
            "epochs": report["epochs"], "max_epochs": report["max_epochs"], "stopping": report["stopping"]}


def load_results():
    path = OUT.with_suffix(".json")
    if path.exists():
        return json.loads(path.read_text())
    return {"benchmark": "gnn_pretrained", "cells": []}


def save_cell(res, cell):
    """Adds a finished cell to the results file under a lock, merged with
    what other runs (other datasets, in parallel) wrote meanwhile."""
    import fcntl
    with open(OUT.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        on_disk = load_results()
        on_disk["cells"].append(cell)
        on_disk["machine"] = platform.processor() or platform.machine()
        on_disk["sozai"] = sozai.__version__
        on_disk["settings"] = {"members": MEMBERS, "trunk_lr_scale": TRUNK_LR, "stopping": "folds",
                               "polymer_pretrain_epochs": POLYMER_PRETRAIN_EPOCHS, "recipes": RECIPES}
        tmp = OUT.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(on_disk, indent=1))
        tmp.replace(OUT.with_suffix(".json"))
    res["cells"] = on_disk["cells"]


def have(res, **key):
    return any(all(c.get(k, "default" if k == "recipe" else None) == v for k, v in key.items()) for c in res["cells"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--pretrained", default="composition-mp")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    global THREADS
    THREADS = args.threads
    res = load_results()
    workdir = RESULTS / "gnn_pretrained_polymer_models"
    if not args.report_only:
        workdir.mkdir(exist_ok=True)
        for name in args.datasets:
            spec = DATASETS[name]
            data = load(name, spec)
            n = len(data[1])
            folds = list(KFold(5, shuffle=True, random_state=18012019).split(np.arange(n)))
            for fold in args.folds:
                train, test = folds[fold]
                pretrained = args.pretrained
                if spec["kind"] == "polymer":
                    pretrained = polymer_pretrained(name, spec, data[0], data[1], train, fold, workdir)
                recipe = recipe_of(spec)
                rfs = ("rf", "rf-log") if RECIPES[recipe].get("log_target") else ("rf",)
                plan = [(arm, len(train), train) for arm in rfs + ("scratch", "finetuned")]
                if name in ("expt_gap", "steels"):
                    perm = np.random.default_rng(1000 + fold).permutation(train)
                    plan += [(arm, k, np.sort(perm[:k])) for k in CURVE_SIZES for arm in ("scratch", "finetuned")]
                for arm, rows, tr in plan:
                    # The forests do not depend on the recipe (rf-log is its own arm).
                    cell_recipe = "default" if arm.startswith("rf") else recipe
                    if have(res, dataset=name, fold=fold, arm=arm, n_train=rows, recipe=cell_recipe):
                        continue
                    print(f"[gnn_pretrained] {name} fold {fold} {arm} on {rows} rows ...", file=sys.stderr,
                          flush=True)
                    cell = run_cell(name, spec, data, fold, tr, test, arm, pretrained)
                    cell.update(dataset=name, fold=fold, arm=arm, n_train=int(rows), n_test=int(len(test)),
                                pretrained=pretrained if arm == "finetuned" else None, recipe=cell_recipe)
                    save_cell(res, cell)
                    print(f"[gnn_pretrained]   MAE {cell['metrics']['mae']:.4g} in {cell['seconds']:.0f} s",
                          file=sys.stderr, flush=True)
    report(load_results())


def summary(res, name, arm, rows=None, recipe="default"):
    """(cells, MAEs) of one dataset, arm and recipe; rows=None: the full CV
    (the largest training set of each fold)."""
    cells = [c for c in res["cells"] if c["dataset"] == name and c["arm"] == arm and
             c.get("recipe", "default") == recipe and (rows is None or c["n_train"] == rows)]
    if rows is None:
        full = {}
        for c in cells:
            full[c["fold"]] = max(full.get(c["fold"], 0), c["n_train"])
        cells = [c for c in cells if c["n_train"] == full[c["fold"]]]
    maes = np.array([c["metrics"]["mae"] for c in cells])
    return cells, maes


def forest(res, name, folds):
    """(label, cells, MAEs) of the better random forest on these folds: on y,
    or on log(y) where that arm was run."""
    options = []
    for label, arm in (("RF", "rf"), ("RF on log y", "rf-log")):
        cells = [c for c in summary(res, name, arm)[0] if c["fold"] in folds]
        if cells:
            options.append((label, cells, np.array([c["metrics"]["mae"] for c in cells])))
    if not options:
        return "RF", [], np.array([])
    return min(options, key=lambda o: o[2].mean())


def fmt(x, name):
    digits = 1 if name in ("steels", "mpea", "tg") else 3
    return f"{x:.{digits}f}"


def report(res):
    lines = ["# Pretrained against scratch: accuracy by 5-fold CV", "",
             "Produced by `benchmarks/gnn_pretrained.py` (protocol in its docstring): Matbench's "
             "KFold(5, shuffle, random_state=18012019); per fold a 5-member `GnnEnsemble` from random weights "
             "(*scratch*) and the same fine-tuned from the pretrained network (*fine-tuned*), both with "
             "cross-validated stopping, and a 300-tree random forest, on the same rows. Mean ± sd over the "
             "folds run (the *folds* column).", "",
             "| dataset | folds | scratch MAE | fine-tuned MAE | RF MAE | fine-tuned / scratch | fine-tuned / RF | "
             "fine-tuned NLL | published |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    goals = []
    for name, spec in DATASETS.items():
        # The dataset's recipe first; a recipe run before it (the defaults) after it, for the record.
        recipes = [recipe_of(spec)] + (["default"] if recipe_of(spec) != "default" else [])
        for recipe in recipes:
            rows = {arm: summary(res, name, arm, recipe=recipe) for arm in ("scratch", "finetuned")}
            if not any(len(rows[a][1]) for a in ("scratch", "finetuned")):
                if recipe == recipe_of(spec) and recipe != "default":
                    goals.append(f"- {name}: recipe {recipe} not run yet (the superseded recipe's numbers below)")
                continue
            # The forest on the folds the networks have (a recipe still running has fewer).
            rf_label, *rows["rf"] = forest(res, name, {c["fold"] for a in ("scratch", "finetuned") for c in rows[a][0]})
            k = min(len(m) for _, m in rows.values())

            def cell(arm):
                m = rows[arm][1]
                return f"{fmt(m.mean(), name)} ± {fmt(m.std(), name)}" if len(m) else "—"

            def ratio(a, b):
                return f"{rows[a][1].mean() / rows[b][1].mean():.2f}" if len(rows[a][1]) and len(rows[b][1]) else "—"

            nll = rows["finetuned"][0]
            nll_text = f"{np.mean([c['metrics']['nll'] for c in nll]):.2f}" if nll else "—"
            title = spec["title"] + ("" if recipe == "default" else f", recipe {recipe}")
            if recipe != recipe_of(spec):
                title += " (superseded)"
            rf_text = cell("rf") + ("" if rf_label == "RF" else f" ({rf_label})")
            lines.append(f"| {title} | {k} | {cell('scratch')} | {cell('finetuned')} | {rf_text} | "
                         f"{ratio('finetuned', 'scratch')} | {ratio('finetuned', 'rf')} | {nll_text} | "
                         f"{spec['reference']} |")
            if recipe == recipe_of(spec) and len(rows["finetuned"][1]) and len(rows["rf"][1]):
                ft, rf = rows["finetuned"][1].mean(), rows["rf"][1].mean()
                goals.append(f"- {name}: fine-tuned {fmt(ft, name)} vs {rf_label} {fmt(rf, name)}: "
                             f"{'beats' if ft < rf else 'does not beat'} RF"
                             + (f" (on {k} of 5 folds so far)" if k < 5 else "")
                             + (f"; best published {spec['best']}: "
                                f"{'reached' if ft <= spec['best'] else 'not reached'}" if spec["best"] else ""))
    lines += ["", "Recipes (the GNN arms' settings; *default*: GnnEnsemble's): " +
              "; ".join(f"*{r}*: {', '.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
                        for r, kw in RECIPES.items()) +
              ". With log_target the ensembles fit log(y) and predict its exp (the log-normal median), and "
              "the random forest is run on y and on log(y); the better forest is the baseline."]
    lines += ["", "## Learning curves", "", "| dataset | training rows | folds | scratch MAE | fine-tuned MAE | "
              "fine-tuned / scratch |", "|---|---:|---:|---:|---:|---:|"]
    curves = {}
    for name in ("expt_gap", "steels"):
        for rows in CURVE_SIZES + (None,):
            s = summary(res, name, "scratch", rows)[1]
            f = summary(res, name, "finetuned", rows)[1]
            if not len(s) or not len(f):
                continue
            label = "all" if rows is None else str(rows)
            curves.setdefault(name, []).append((label, s.mean(), s.std(), f.mean(), f.std()))
            lines.append(f"| {name} | {label} | {min(len(s), len(f))} | {fmt(s.mean(), name)} ± {fmt(s.std(), name)}"
                         f" | {fmt(f.mean(), name)} ± {fmt(f.std(), name)} | {f.mean() / s.mean():.2f} |")
            if name == "expt_gap" and rows == 100:
                goals.append(f"- expt_gap at 100 rows: pretrained / scratch = {f.mean() / s.mean():.2f} "
                             f"(goal <= 0.70: {'met' if f.mean() / s.mean() <= 0.7 else 'not met'})")
    lines += ["", "## Goals", ""] + goals
    lines += ["", f"Cells: {len(res['cells'])}; machine: {res.get('machine', '?')}, sozai {res.get('sozai', '?')}."]
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if curves:
        plot(curves)


def plot(curves):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4))
    axes = np.atleast_1d(axes)
    units = {"expt_gap": "eV", "steels": "MPa"}
    for ax, (name, pts) in zip(axes, curves.items()):
        xs = [int(p[0]) if p[0] != "all" else None for p in pts]
        full = max(x for x in xs if x) * 5 if any(xs) else 1
        xs = [x if x else full for x in xs]
        ax.errorbar(xs, [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3, label="scratch")
        ax.errorbar(xs, [p[3] for p in pts], yerr=[p[4] for p in pts], marker="s", capsize=3,
                    label="fine-tuned from composition-mp")
        ax.set_xscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([p[0] for p in pts])
        ax.set_xlabel("training rows")
        ax.set_ylabel(f"test MAE ({units[name]})")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(OUT.parent / "gnn_pretrained_learning_curves.png", dpi=120)


if __name__ == "__main__":
    main()
