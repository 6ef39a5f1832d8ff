"""Cost of secure aggregation per round: bytes the coordinator receives and
seconds, against sending the same quantised updates in the clear, for 3 and 5
parties and update sizes of a small and a mid-sized surrogate (10^4 and 10^6
parameters), with and without a dropout. Everything runs in this process
(``sozai.federated.secure_sum``: all parties' and the coordinator's work, on
one thread), so the seconds are the sum over parties, an upper bound on the
wall time of parties working in parallel.

    PYTHONPATH=build/python /usr/bin/python3 benchmarks/federated_cost.py

Writes benchmarks/results/federated_cost.{json,md}.
"""

import json
import os
import pathlib
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from sozai import federated as F  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def main():
    rows = []
    rng = np.random.default_rng(0)
    for parties in (3, 5):
        for size in (10_000, 1_000_000):
            vecs = rng.normal(0, 0.01, size=(parties, size))
            # No dropout; the last party vanishes before its masked input; with 5 parties also one before and one
            # after its masked input (threshold 3), the dropout case.
            cases = [([], []), ([parties], [])] + ([([parties - 1], [parties])] if parties == 5 else [])
            for drops, late in cases:
                t = time.perf_counter()
                r = F.secure_sum(vecs, threshold=parties - 1 - len(late), clip=1.0, drop_after_sharing=drops,
                                 drop_after_masking=late)
                sec = time.perf_counter() - t
                alive = [k - 1 for k in r["survivors"]]
                err = float(np.abs(np.array(r["sum"]) - vecs[alive].sum(0)).max())
                rows.append(dict(parties=parties, parameters=size, dropped=len(drops), dropped_after_masking=len(late),
                                 seconds=sec,
                                 coordinator_bytes=r["coordinator_bytes"], plain_bytes=r["plain_bytes"],
                                 expansion=r["coordinator_bytes"] / r["plain_bytes"], max_error=err,
                                 error_bound=r["max_quantisation_error"]))
                print(rows[-1], flush=True)
    (RESULTS / "federated_cost.json").write_text(json.dumps(rows, indent=1))
    lines = ["# Secure aggregation: cost per round", "",
             "`benchmarks/federated_cost.py`: one round of `sozai.federated.secure_sum` (Bonawitz et al. 2017: "
             "X25519, ChaCha20 masks, Shamir t = n - 1 over GF(2^8), AES-256-GCM between parties, 32-bit fixed "
             "point), all parties and the coordinator in one process on one thread of the 2-core machine. "
             "Plain = the same quantised updates sent in the clear (4 bytes per entry per surviving party). "
             "Error = the largest |secure sum - exact float64 sum| per entry, against its bound. A party that drops "
             "after its masked input is in the sum (the others reveal its self-mask); one that drops before is not "
             "(the others reveal its pairwise mask keys); threshold n - 1, or 3 of 5 with two dropouts.", "",
             "| parties | parameters | dropped before masking | dropped after masking | seconds | coordinator bytes | "
             "plain bytes | expansion | max error | bound |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['parties']} | {r['parameters']:,} | {r['dropped']} | {r['dropped_after_masking']} | "
                     f"{r['seconds']:.3f} | "
                     f"{r['coordinator_bytes']:,} | {r['plain_bytes']:,} | {r['expansion']:.4f} | "
                     f"{r['max_error']:.2e} | {r['error_bound']:.2e} |")
    (RESULTS / "federated_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
