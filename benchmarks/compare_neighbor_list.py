#!/usr/bin/env python3
"""Neighbour lists: sozai against pymatgen and ASE on the same structures.

Times, on the perov_5_val crystals (5-atom cubic perovskites) at cutoff 8 A:
  - sozai.kernels.neighbor_list, one batched call (ptr) and one call per
    structure, with 1 thread and with --threads threads;
  - pymatgen Structure.get_all_neighbors (on a subset: it is slow; its rate
    is structures/second all the same);
  - pymatgen Structure.get_neighbor_list (Cython);
  - ASE ase.neighborlist.neighbor_list('ijdS').
Every library gets its native input prepared outside the timing (arrays for
sozai, Structure for pymatgen, Atoms for ASE); CIF parsing is not timed.
Correctness is checked first: the edge sets (i, j, image) of every library
equal sozai's on the first structures. pymatgen and ASE run single-threaded
Python (BLAS threads pinned to 1); sozai's threads are libtorch's
(OMP_NUM_THREADS), set per run in a subprocess because libtorch reads it once.

    SOZAI_DATA_DIR=/work/shared/data PYTHONPATH=build/python \\
        /usr/bin/python3 benchmarks/compare_neighbor_list.py [--n 1000] [--threads 2]

Writes benchmarks/results/neighbor_list.json and neighbor_list.md.
"""

import argparse
import csv
import itertools
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CUTOFF = 8.0


def load_structures(n):
    from pymatgen.core import Structure

    data = pathlib.Path(os.environ.get("SOZAI_DATA_DIR", ROOT.parent / "shared" / "data"))
    path = data / "ceramics" / "perov_5_val.csv"
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="") as f:
        rows = list(itertools.islice(csv.DictReader(f), n))
    return [Structure.from_str(r["cif"], fmt="cif") for r in rows], str(path)


def arrays(structures):
    import numpy as np

    pos = [np.ascontiguousarray(s.cart_coords) for s in structures]
    lat = [np.ascontiguousarray(s.lattice.matrix) for s in structures]
    ptr = np.concatenate([[0], np.cumsum([len(p) for p in pos])]).astype(np.int64)
    return pos, lat, np.concatenate(pos), np.stack(lat), ptr


def best_time(fn, repeat, min_seconds=0.5):
    """Best wall time of fn() over `repeat` runs (at least min_seconds in all)."""
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 50 * repeat:
            break
    return min(times)


def sozai_worker(n, repeat):
    """Runs in a subprocess with OMP_NUM_THREADS set; prints one JSON line."""
    import sozai

    structures, _ = load_structures(n)
    pos, lat, all_pos, all_lat, ptr = arrays(structures)
    nl = sozai.kernels.neighbor_list
    edges = nl(all_pos, all_lat, CUTOFF, ptr=ptr)[2].size
    batched = best_time(lambda: nl(all_pos, all_lat, CUTOFF, ptr=ptr), repeat)

    def per_structure():
        for p, l in zip(pos, lat):
            nl(p, l, CUTOFF)

    single = best_time(per_structure, repeat)
    print(json.dumps({"batched_s": batched, "per_structure_s": single, "edges": edges}))


def edge_set(i, j, images, d):
    import numpy as np

    images = np.asarray(images).astype(np.int64)
    return {(int(a), int(b), *map(int, s)) for a, b, s, x in zip(i, j, images, d) if abs(x - CUTOFF) > 1e-6}


def check(structures):
    """Edge sets of every library equal sozai's on the first structures."""
    import ase
    from ase.neighborlist import neighbor_list as ase_nl

    import sozai

    for s in structures[:20]:
        pos, lat = s.cart_coords, s.lattice.matrix
        ei, S, d = sozai.kernels.neighbor_list(pos, lat, CUTOFF)
        mine = edge_set(ei[0], ei[1], S, d)
        c, p, off, dist = s.get_neighbor_list(CUTOFF)
        assert mine == edge_set(c, p, off, dist), f"pymatgen get_neighbor_list differs on {s.formula}"
        atoms = ase.Atoms(positions=pos, cell=lat, pbc=True)
        i, j, dd, SS = ase_nl("ijdS", atoms, CUTOFF)
        assert mine == edge_set(i, j, SS, dd), f"ASE differs on {s.formula}"
        gan = s.get_all_neighbors(CUTOFF)
        assert sum(abs(nb.nn_distance - CUTOFF) > 1e-6 for x in gan for nb in x) == len(mine), \
            f"pymatgen get_all_neighbors count differs on {s.formula}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="structures (default 1000)")
    ap.add_argument("--all-neighbors-n", type=int, default=200,
                    help="structures timed for pymatgen get_all_neighbors (slow; default 200)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="sozai threads for the threaded run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--note", default="", help="remark on the run (machine load...) written into the results")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        sozai_worker(args.n, args.repeat)
        return

    import ase
    import pymatgen.core
    from ase.neighborlist import neighbor_list as ase_nl

    structures, path = load_structures(args.n)
    natoms = sum(len(s) for s in structures)
    check(structures)

    results = {}
    thread_counts = sorted({1, args.threads})
    for t in thread_counts:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
        out = subprocess.run([sys.executable, __file__, "--worker", "--n", str(args.n), "--repeat", str(args.repeat)],
                             env=env, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results[f"sozai batched ({t} thread{'s' if t > 1 else ''})"] = (r["batched_s"], args.n, t)
        results[f"sozai per structure ({t} thread{'s' if t > 1 else ''})"] = (r["per_structure_s"], args.n, t)
        edges = r["edges"]

    sub = structures[: args.all_neighbors_n]
    results["pymatgen get_all_neighbors"] = (
        best_time(lambda: [s.get_all_neighbors(CUTOFF) for s in sub], 1), len(sub), 1)
    results["pymatgen get_neighbor_list"] = (
        best_time(lambda: [s.get_neighbor_list(CUTOFF) for s in structures], args.repeat), args.n, 1)
    atoms = [ase.Atoms(positions=s.cart_coords, cell=s.lattice.matrix, pbc=True) for s in structures]
    results["ASE neighbor_list ijdS"] = (
        best_time(lambda: [ase_nl("ijdS", a, CUTOFF) for a in atoms], args.repeat), args.n, 1)

    rate = {k: n / t for k, (t, n, _) in results.items()}
    ref_all = rate["pymatgen get_all_neighbors"]
    ref_nl = rate["pymatgen get_neighbor_list"]
    import numpy
    import torch

    report = {
        "dataset": path, "structures": args.n, "atoms": natoms, "edges": edges, "cutoff": CUTOFF,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": {"pymatgen": getattr(pymatgen.core, "__version__", "?"), "ase": ase.__version__,
                     "numpy": numpy.__version__, "torch (python, unused by sozai)": torch.__version__},
        "baseline_threads": "single-threaded Python (OMP/MKL/OPENBLAS_NUM_THREADS=1)",
        "note": args.note,
        "results": {k: {"seconds": t, "structures": n, "threads": th, "structures_per_s": rate[k],
                        "x_vs_get_all_neighbors": rate[k] / ref_all, "x_vs_get_neighbor_list": rate[k] / ref_nl}
                    for k, (t, n, th) in results.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "neighbor_list.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Neighbour lists: sozai vs pymatgen and ASE",
        "",
        f"{args.n} perov_5_val structures ({natoms} atoms, {edges} edges) at cutoff {CUTOFF} A; "
        f"{os.cpu_count()} CPU cores. Best of {args.repeat}+ runs; inputs prepared outside the timing; "
        "edge sets checked equal to pymatgen and ASE before timing. pymatgen and ASE run single-threaded; "
        f"sozai with 1 and {args.threads} libtorch threads. get_all_neighbors timed on "
        f"{len(sub)} structures.",
        "",
        "| method | threads | structures/s | x get_all_neighbors | x get_neighbor_list |",
        "|---|---:|---:|---:|---:|",
    ]
    for k, (t, n, th) in results.items():
        lines.append(f"| {k} | {th} | {rate[k]:,.0f} | {rate[k] / ref_all:,.1f} | {rate[k] / ref_nl:,.2f} |")
    if args.note:
        lines += ["", f"Note: {args.note}"]
    lines.append("")
    (RESULTS / "neighbor_list.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if "--worker" not in sys.argv:
            os.environ[var] = "1"
    main()
