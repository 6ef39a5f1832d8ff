"""Accuracy and calibration of sozai's graph-network ensembles against random
forests, by 5-fold cross-validation on real data in ../shared/data.

| dataset | GNN (sozai.models.GnnEnsemble) | random-forest baseline |
|---|---|---|
| alloys/matbench_steels_yield.csv (312) | CompositionNet on the formula | RF on Magpie features |
| ceramics/matbench_dielectric.csv (4764) | CompositionNet on the formula | RF on Magpie features |
| ceramics/perov_5_val.csv (3787), heat_ref | CrystalGraphNet on the CIF | RF on Magpie of the formula |
| polymers/Tg_Original.csv (6906) | PolymerMPNN on the SMILES | RF on Morgan counts (r=2, 2048) |

Folds: KFold(5, shuffle=True, random_state=18012019), Matbench's. Every fold
trains a 5-member ensemble with the default settings (seed = fold) and a
RandomForestRegressor(n_estimators=300, random_state=fold) on the same
training rows. Per fold and model: MAE, RMSE, the Gaussian negative
log-likelihood per point, the miscalibration area (mean |observed -
expected| coverage of central intervals at 1..99 %, as in Uncertainty
Toolbox) and Spearman's rank correlation between |error| and predicted σ.
"single" is member 0 of the same ensemble alone (its own mean-variance
head, recalibrated on the validation rows like the ensemble); "RF σ" is the
spread of the trees.

Each finished fold is written to benchmarks/results/gnn_accuracy.json at
once, and a rerun skips the folds it already holds (the whole run takes
hours on 2 cores). The report (gnn_accuracy.md, gnn_calibration.png) is
made from whatever folds are there, and says how many.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/gnn_accuracy.py \\
        [--datasets steels dielectric perov tg] [--folds 0 1 2 3 4] [--report-only]
"""

import argparse
import json
import math
import platform
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold

import sozai
import sozai.featurize as F
from sozai import models

from bench_common import RESULTS, data_dir

DATASETS = {
    "steels": dict(file="alloys/matbench_steels_yield.csv", input="formula", target="target", kind="composition",
                   title="matbench_steels_yield (MPa)", baseline="RF/Magpie",
                   reference="Matbench: best 79.95 MPa, RF/Magpie 103.5, CrabNet 107.3"),
    "dielectric": dict(file="ceramics/matbench_dielectric.csv", input="formula", target="target",
                       kind="composition", title="matbench_dielectric (refractive index)", baseline="RF/Magpie",
                       reference="Matbench: best 0.271, CrabNet 0.323"),
    "perov": dict(file="ceramics/perov_5_val.csv", input="cif", target="heat_ref", kind="crystal",
                  formula="formula", title="perov_5 heat_ref (eV/atom)", baseline="RF/Magpie",
                  reference="Matbench perovskites: ALIGNN 0.0288, CGCNN 0.0452 eV"),
    "tg": dict(file="polymers/Tg_Original.csv", input="Smiles", target="Tg", kind="polymer",
               title="Tg_Original (K)", baseline="RF/Morgan counts", reference="RF on Morgan counts, same run"),
}
GNN_NAMES = {"composition": "CompositionNet", "crystal": "CrystalGraphNet", "polymer": "PolymerMPNN"}
OUT = RESULTS / "gnn_accuracy"


def metrics(y, mean, var):
    """MAE, RMSE, NLL, miscalibration area, Spearman(|err|, σ)."""
    var = np.maximum(np.asarray(var, float), 1e-300)
    err = np.asarray(mean, float) - y
    sd = np.sqrt(var)
    nll = float(np.mean(0.5 * np.log(2 * math.pi * var) + err ** 2 / (2 * var)))
    p = np.linspace(0.01, 0.99, 99)
    z = stats.norm.ppf(0.5 + p / 2)
    observed = (np.abs(err)[None, :] <= z[:, None] * sd[None, :]).mean(1)
    rho = stats.spearmanr(np.abs(err), sd).correlation if np.std(sd) > 0 else float("nan")
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))), "nll": nll,
            "miscal_area": float(np.mean(np.abs(observed - p))), "spearman_err_sigma": float(rho),
            "coverage": observed.tolist()}


def baseline_features(spec, df):
    if spec["kind"] == "polymer":
        return np.asarray(F.morgan_counts(list(df[spec["input"]]), 2, 2048), dtype=np.float64)
    formulas = list(df[spec.get("formula", spec["input"])])
    return np.asarray(F.composition_features(formulas), dtype=np.float64)


def run_fold(name, spec, graphs, y, X_rf, fold, train, test):
    m = models.GnnEnsemble(kind=spec["kind"], n_members=5, seed=fold, progress=False)
    report = m.fit(F.select_graphs(graphs, train), y[train])
    test_graphs = F.select_graphs(graphs, test)
    ens = m.predict(test_graphs)
    single = m.predict(test_graphs, member=0)
    t1 = time.perf_counter()
    rf = RandomForestRegressor(n_estimators=300, random_state=fold, n_jobs=2).fit(X_rf[train], y[train])
    trees = np.stack([t.predict(X_rf[test]) for t in rf.estimators_])
    rf_s = time.perf_counter() - t1
    return {
        "dataset": name, "fold": fold, "n_train": int(len(train)), "n_test": int(len(test)),
        "gnn_seconds": report["seconds"], "rf_seconds": rf_s,
        "epochs": report["epochs"], "max_epochs": report["max_epochs"],
        "ensemble": metrics(y[test], *ens), "single": metrics(y[test], *single),
        "rf": metrics(y[test], trees.mean(0), trees.var(0)),
    }


def load_results():
    path = OUT.with_suffix(".json")
    if path.exists():
        return json.loads(path.read_text())
    return {"benchmark": "gnn_accuracy", "folds": []}


def save_results(res):
    res["machine"] = platform.processor() or platform.machine()
    res["sozai"] = sozai.__version__
    OUT.with_suffix(".json").write_text(json.dumps(res, indent=1))


def report(res):
    lines = [
        "# Graph-network surrogates: accuracy and calibration (5-fold CV)",
        "",
        "Produced by `benchmarks/gnn_accuracy.py` (protocol in its docstring): Matbench's KFold(5, shuffle, "
        "random_state=18012019); per fold a 5-member `GnnEnsemble` with default settings and a 300-tree random "
        "forest on the same rows; mean ± sd over the folds run. NLL: Gaussian, per point; miscal.: "
        "miscalibration area (0 = calibrated); ρ: Spearman(abs. error, σ). *single* = member 0 alone.",
        "",
        "| dataset | folds | model | MAE | RMSE | NLL | miscal. | ρ(abs. error, σ) | published |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    by = {}
    for f in res["folds"]:
        by.setdefault(f["dataset"], []).append(f)
    summary = {}
    for name, spec in DATASETS.items():
        folds = sorted(by.get(name, []), key=lambda f: f["fold"])
        if not folds:
            continue
        gnn = GNN_NAMES[spec["kind"]]
        summary[name] = {}
        for key, label in (("ensemble", f"{gnn} ×5"), ("single", f"{gnn} ×1"), ("rf", spec["baseline"])):
            vals = {k: np.array([f[key][k] for f in folds]) for k in ("mae", "rmse", "nll", "miscal_area",
                                                                       "spearman_err_sigma")}
            summary[name][key] = {k: float(v.mean()) for k, v in vals.items()}

            def cell(k, digits):
                v = vals[k]
                return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}" if len(v) > 1 else f"{v.mean():.{digits}f}"

            digits = 4 if name == "perov" else 3 if name == "dielectric" else 1
            lines.append(f"| {spec['title']} | {len(folds)} | {label} | {cell('mae', digits)} | "
                         f"{cell('rmse', digits)} | {cell('nll', 2)} | {cell('miscal_area', 3)} | "
                         f"{cell('spearman_err_sigma', 2)} | {spec['reference'] if key == 'ensemble' else ''} |")
        secs = np.mean([f["gnn_seconds"] for f in folds])
        summary[name]["gnn_seconds_per_fold"] = float(secs)
        summary[name]["beats_baseline"] = summary[name]["ensemble"]["mae"] < summary[name]["rf"]["mae"]
    lines.append("")
    OUT.with_suffix(".md").write_text("\n".join(lines))
    res["summary"] = summary
    save_results(res)
    print("\n".join(lines))
    plot(res, by)


def plot(res, by):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in DATASETS if n in by]
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 4), squeeze=False)
    p = np.linspace(0.01, 0.99, 99)
    for ax, name in zip(axes[0], names):
        for key, style in (("ensemble", "-"), ("single", "--"), ("rf", ":")):
            cov = np.mean([f[key]["coverage"] for f in by[name]], axis=0)
            ax.plot(p, cov, style, label={"ensemble": "GNN ×5", "single": "GNN ×1", "rf": "RF σ"}[key])
        ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
        ax.set_title(DATASETS[name]["title"], fontsize=9)
        ax.set_xlabel("expected coverage")
        ax.set_ylabel("observed coverage")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "gnn_calibration.png", dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    res = load_results()
    if not args.report_only:
        for name in args.datasets:
            spec = DATASETS[name]
            df = pd.read_csv(data_dir() / spec["file"])
            df = df[np.isfinite(df[spec["target"]].to_numpy(float))].reset_index(drop=True)
            X_rf = baseline_features(spec, df)
            y = df[spec["target"]].to_numpy(float)
            graphs = models.GnnEnsemble(kind=spec["kind"], progress=False).featurize(list(df[spec["input"]]))
            splits = list(KFold(5, shuffle=True, random_state=18012019).split(np.arange(len(df))))
            for fold in args.folds:
                if any(f["dataset"] == name and f["fold"] == fold for f in res["folds"]):
                    continue
                train, test = splits[fold]
                t = time.perf_counter()
                row = run_fold(name, spec, graphs, y, X_rf, fold, train, test)
                res["folds"].append(row)
                save_results(res)
                print(f"{name} fold {fold}: GNN MAE {row['ensemble']['mae']:.4g} (single {row['single']['mae']:.4g}),"
                      f" RF {row['rf']['mae']:.4g}; {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    report(res)


if __name__ == "__main__":
    main()
