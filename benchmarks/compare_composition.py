"""Composition parsing and Magpie features: sozai against pymatgen + numpy.

Inputs: every formula of the shared alloy and ceramic sets (MPEA, matbench
steels, castelli, dielectric, expt_gap; 30,153 formulas).

1. Parse + normalise: pymatgen ``Composition(f).fractional_composition``
   against ``sozai.featurize.composition(f)`` (one Python call per formula,
   both returning element -> fraction), and ``sozai.featurize.parse_formulas``
   (one call for the whole list).
2. The 110 features (fraction-weighted mean, avg_dev, min, max, range of
   the 22 Magpie properties): ``sozai.featurize.composition_features(list)``
   against what a researcher without matminer would write: pymatgen
   fractions, the property values of magpie.csv (pymatgen's ``Element`` has
   direct attributes for only 7 of the 22 Magpie properties: Z,
   mendeleev_no, atomic_mass, melting_point, group, row, X; so the values
   come from the same CSV for both sides) and numpy, (a) per formula and (b) vectorised over a
   dense [n, 97] fraction matrix. Both baselines include pymatgen parsing,
   as sozai's time includes its own.

Results are checked against each other before timing; each timing is the
best of --repeats runs. Thread counts are recorded: pymatgen and the numpy
reductions used here run on one thread; sozai's is ATen's
(torch.get_num_threads(); the Python torch and sozai load the same
libtorch).

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/compare_composition.py
"""

import argparse
import json
import math
import os
import pathlib
import platform
import time

import numpy as np

import sozai
from sozai import featurize as F

from bench_common import RESULTS, ROOT, best_of  # noqa: E402  (benchmarks/ is the script's folder)
SETS = [
    ("alloys/MPEA_dataset.csv", "FORMULA"),
    ("alloys/matbench_steels_yield.csv", "formula"),
    ("ceramics/matbench_castelli.csv", "formula"),
    ("ceramics/matbench_dielectric.csv", "formula"),
    ("ceramics/matbench_expt_gap.csv", "formula"),
]


def load_formulas(data_dir):
    import pandas as pd
    out = []
    for path, column in SETS:
        out += pd.read_csv(data_dir / path)[column].astype(str).tolist()
    return out


def pymatgen_fractions(formulas):
    from pymatgen.core import Composition
    return [Composition(f).fractional_composition for f in formulas]


def numpy_features_per_formula(formulas, table):
    """pymatgen parse, then numpy statistics formula by formula."""
    from pymatgen.core import Composition
    out = np.empty((len(formulas), 110))
    for r, f in enumerate(formulas):
        amt = Composition(f).fractional_composition.get_el_amt_dict()
        w = np.fromiter(amt.values(), dtype=np.float64, count=len(amt))
        P = np.stack([table[el] for el in amt])  # [k, 22]
        mean = w @ P
        dev = w @ np.abs(P - mean)
        lo, hi = P.min(axis=0), P.max(axis=0)
        out[r] = np.stack([mean, dev, lo, hi, hi - lo], axis=1).reshape(-1)
    return out


def numpy_features_vectorised(formulas, P, index):
    """pymatgen parse into a dense fraction matrix, then whole-array numpy."""
    from pymatgen.core import Composition
    W = np.zeros((len(formulas), len(index)))
    for r, f in enumerate(formulas):
        for el, x in Composition(f).fractional_composition.get_el_amt_dict().items():
            W[r, index[el]] = x
    mean = W @ P
    dev = np.empty_like(mean)
    for p in range(P.shape[1]):  # per property: [n, 97] temporaries, not [n, 97, 22]
        dev[:, p] = (W * np.abs(P[None, :, p] - mean[:, p:p + 1])).sum(axis=1)
    present = W > 0
    lo = np.stack([np.where(present, P[:, p], np.inf).min(axis=1) for p in range(P.shape[1])], axis=1)
    hi = np.stack([np.where(present, P[:, p], -np.inf).max(axis=1) for p in range(P.shape[1])], axis=1)
    return np.stack([mean, dev, lo, hi, hi - lo], axis=2).reshape(len(formulas), -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path(os.environ.get("SOZAI_DATA_DIR",
                                                                                    ROOT.parent / "shared" / "data")))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = ap.parse_args()
    import pandas as pd
    import torch
    import pymatgen.core

    formulas = load_formulas(args.data)
    n = len(formulas)
    magpie = pd.read_csv(args.data / "elements" / "magpie.csv").set_index("element")
    P = magpie.to_numpy(dtype=np.float64)
    index = {el: i for i, el in enumerate(magpie.index)}
    table = {el: P[i] for el, i in index.items()}
    sozai_threads = torch.get_num_threads()

    # --- correctness before timing ---
    ours = [F.composition(f) for f in formulas]
    theirs = [c.get_el_amt_dict() for c in pymatgen_fractions(formulas)]
    worst = 0.0
    for a, b in zip(ours, theirs):
        assert set(a) == set(b), (a, b)
        worst = max(worst, max(abs(a[k] - b[k]) / b[k] for k in a))
    assert worst <= 1e-9, worst
    feats = F.composition_features(formulas)
    ref_loop = numpy_features_per_formula(formulas, table)
    ref_vec = numpy_features_vectorised(formulas, P, index)
    scale = np.abs(P).max(axis=0).repeat(5)
    np.testing.assert_allclose(feats / scale, ref_loop / scale, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(ref_vec / scale, ref_loop / scale, rtol=1e-9, atol=1e-12)

    # --- timing ---
    pm_s, _ = best_of(lambda: pymatgen_fractions(formulas), args.repeats)
    sz_call_s, _ = best_of(lambda: [F.composition(f) for f in formulas], args.repeats)
    sz_batch_s, _ = best_of(lambda: F.parse_formulas(formulas), args.repeats)
    ft_s, _ = best_of(lambda: F.composition_features(formulas), args.repeats)
    loop_s, _ = best_of(lambda: numpy_features_per_formula(formulas, table), args.repeats)
    vec_s, _ = best_of(lambda: numpy_features_vectorised(formulas, P, index), args.repeats)

    import importlib.metadata as md
    result = {
        "formulas": n,
        "sets": [p for p, _ in SETS],
        "check": {"max_rel_fraction_diff_vs_pymatgen": worst, "features_rtol": 1e-6},
        "parse": {
            "pymatgen": {"seconds": pm_s, "formulas_per_second": n / pm_s, "threads": 1,
                         "what": "Composition(f).fractional_composition"},
            "sozai_composition": {"seconds": sz_call_s, "formulas_per_second": n / sz_call_s, "threads": 1,
                                  "what": "featurize.composition(f) per formula (dict out)"},
            "sozai_parse_formulas": {"seconds": sz_batch_s, "formulas_per_second": n / sz_batch_s, "threads": 1,
                                     "what": "featurize.parse_formulas(list), one call"},
            "ratio_per_call": pm_s / sz_call_s,
            "ratio_batch": pm_s / sz_batch_s,
        },
        "features": {
            "sozai": {"seconds": ft_s, "formulas_per_second": n / ft_s, "threads": sozai_threads,
                      "what": "featurize.composition_features(list) -> float32 [n, 110], parsing included"},
            "pymatgen_numpy_loop": {"seconds": loop_s, "formulas_per_second": n / loop_s, "threads": 1,
                                    "what": "pymatgen fractions + magpie.csv values + numpy per formula"},
            "pymatgen_numpy_vectorised": {"seconds": vec_s, "formulas_per_second": n / vec_s, "threads": 1,
                                          "what": "pymatgen fractions into a dense [n, 97] matrix + numpy"},
            "ratio_vs_loop": loop_s / ft_s,
            "ratio_vs_vectorised": vec_s / ft_s,
        },
        "machine": {"python": platform.python_version(), "pymatgen": md.version("pymatgen"),
                    "numpy": np.__version__, "torch": torch.__version__, "cpu_count": os.cpu_count(),
                    "torch_threads": sozai_threads, "sozai": sozai.build_info().get("version"),
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "composition.json").write_text(json.dumps(result, indent=2) + "\n")
    p, f = result["parse"], result["features"]
    lines = [
        f"# Compositions: sozai vs pymatgen (+ numpy) ({result['machine']['when']})",
        "",
        f"{n} formulas: every formula of {', '.join(result['sets'])}. Fractions checked against pymatgen "
        f"before timing (max relative difference {worst:.1e}); features checked against numpy (rtol 1e-6, "
        "float32 output). Best of the repeats.",
        "",
        "## Parse + normalise",
        "",
        "| | threads | formulas/s | time (s) | sozai speed-up |",
        "|---|---|---|---|---|",
        f"| pymatgen Composition(f).fractional_composition | 1 | {p['pymatgen']['formulas_per_second']:.3g} | "
        f"{pm_s:.3f} | 1.0x |",
        f"| sozai.featurize.composition(f), per formula | 1 | {p['sozai_composition']['formulas_per_second']:.3g} | "
        f"{sz_call_s:.3f} | **{p['ratio_per_call']:.1f}x** |",
        f"| sozai.featurize.parse_formulas(list) | 1 | {p['sozai_parse_formulas']['formulas_per_second']:.3g} | "
        f"{sz_batch_s:.3f} | **{p['ratio_batch']:.1f}x** |",
        "",
        "## 110 Magpie features (mean, avg_dev, min, max, range of 22 properties), parsing included",
        "",
        "| | threads | formulas/s | time (s) | sozai speed-up |",
        "|---|---|---|---|---|",
        f"| pymatgen + numpy, per formula | 1 | {f['pymatgen_numpy_loop']['formulas_per_second']:.3g} | "
        f"{loop_s:.3f} | **{f['ratio_vs_loop']:.1f}x** |",
        f"| pymatgen + numpy, vectorised [n, 97] | 1 | "
        f"{f['pymatgen_numpy_vectorised']['formulas_per_second']:.3g} | {vec_s:.3f} | "
        f"**{f['ratio_vs_vectorised']:.1f}x** |",
        f"| sozai.featurize.composition_features(list) | {sozai_threads} | {f['sozai']['formulas_per_second']:.3g} | "
        f"{ft_s:.4f} | |",
        "",
        "Property values for the baselines come from magpie.csv (pymatgen's Element has direct attributes for only "
        "7 of the 22 Magpie properties); sozai's are compiled in from the same file. The vectorised baseline's time is mostly "
        "pymatgen parsing.",
        "",
    ]
    (args.out / "composition.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
