"""Quick check of the fine-tuning options on one split, while the full
benchmark (gnn_pretrained.py) waits for the finished pretrained network:
matbench_expt_gap, 400 rows drawn with random_state=3, the first 100 to
train on and the other 300 to test on; 3-member ensembles, seed 0,
cross-validated stopping ("folds"), one thread. The network is the one
given (an export of an unfinished run, `sozai pretrain --export-checkpoint`,
or a finished model); the table says which.

    PYTHONPATH=build/python /usr/bin/python3 benchmarks/gnn_pretrained_quick.py PRETRAINED.pt [LABEL]
"""

import sys
import time

import numpy as np
import pandas as pd

from sozai import models

from bench_common import RESULTS, data_dir

CONFIGS = [("scratch", None), ("new head, trunk lr x1.0", dict(trunk_lr_scale=1.0)),
           ("new head, trunk lr x0.3", dict(trunk_lr_scale=0.3)),
           ("mp_gap head, trunk lr x0.3", dict(head="mp_gap", trunk_lr_scale=0.3)),
           ("mp_gap head, trunk lr x1.0", dict(head="mp_gap")),
           ("mp_gap head, 10 frozen epochs, trunk lr x0.3", dict(head="mp_gap", freeze_epochs=10, trunk_lr_scale=0.3))]


def main():
    path = sys.argv[1]
    label = sys.argv[2] if len(sys.argv) > 2 else path
    df = pd.read_csv(data_dir() / "ceramics" / "matbench_expt_gap.csv").sample(400, random_state=3)
    train, test = df.iloc[:100], df.iloc[100:]
    lines = [f"# Fine-tuning options, one split of matbench_expt_gap (100 training rows, 300 test rows)", "",
             f"Produced by `benchmarks/gnn_pretrained_quick.py` with {label}. 3 members, seed 0, "
             "cross-validated stopping, one thread. One split: differences of a few hundredths of an eV are "
             "within the noise; the 5-fold numbers are in gnn_pretrained.md.", "",
             "| arm | test MAE (eV) | / scratch | epochs | seconds |", "|---|---:|---:|---:|---:|"]
    scratch = None
    for name, kw in CONFIGS:
        t = time.perf_counter()
        base = dict(n_members=3, seed=0, progress=False, threads=1, stopping="folds")
        m = models.GnnEnsemble(kind="composition", **base) if kw is None else \
            models.GnnEnsemble.from_pretrained(path, **base, **kw)
        r = m.fit(list(train.formula), train.target.to_numpy())
        mae = float(np.abs(m.predict(list(test.formula))[0] - test.target.to_numpy()).mean())
        scratch = scratch or mae
        lines.append(f"| {name} | {mae:.3f} | {mae / scratch:.2f} | {r['epochs'][0]} | {time.perf_counter() - t:.0f} |")
        print(lines[-1], flush=True)
    (RESULTS / "gnn_pretrained_quick.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
