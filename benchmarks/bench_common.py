"""Helpers shared by the Python comparison benchmarks (run as scripts from
the repository root: `python3 benchmarks/compare_*.py`)."""

import os
import pathlib
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def data_dir():
    """The shared data folder: $SOZAI_DATA_DIR, else ../shared/data."""
    return pathlib.Path(os.environ.get("SOZAI_DATA_DIR", ROOT.parent / "shared" / "data"))


def best_of(fn, repeats):
    """(fastest wall time of `repeats` calls of fn, the last result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
