"""Tanimoto and kernel-matrix throughput of sozai against the usual tools.

Tanimoto: sozai.kernels.tanimoto on packed Morgan fingerprints (radius 2,
2048 bits) of the Tg_Original polymer repeat units, all x all, against
RDKit's BulkTanimotoSimilarity on the same fingerprints. RDKit is timed over
a fixed set of query rows against the whole library and extrapolated per
similarity; sozai's packing (numpy bits -> words) is timed separately.
Goal: >= 5x RDKit.

Kernel matrix: sozai.kernels.kernel_matrix (Matern-5/2, ARD) against
scikit-learn's Matern(nu=2.5) kernel and against torch.cdist-based code, at
4096 x 4096 x 8 in float64.

Results are checked against each other before timing. Each timing is the
best of --repeats runs. Thread counts are printed and recorded.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/compare_tanimoto.py
"""

import argparse
import csv
import json
import os
import pathlib
import platform
import time

import numpy as np

import sozai

from bench_common import RESULTS, ROOT, best_of  # noqa: E402  (benchmarks/ is the script's folder)


def load_fingerprints(data_dir):
    from rdkit import Chem, DataStructs, RDLogger
    from rdkit.Chem import rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    with open(data_dir / "polymers" / "Tg_Original.csv") as f:
        smiles = [row["Smiles"] for row in csv.DictReader(f)]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    mols = [Chem.MolFromSmiles(s) for s in smiles]  # '*' end markers parse as dummy atoms
    fps = [gen.GetFingerprint(m) for m in mols if m is not None]
    t = time.perf_counter()
    bits = np.zeros((len(fps), 2048), dtype=np.uint8)
    for i, fp in enumerate(fps):
        DataStructs.ConvertToNumpyArray(fp, bits[i])
    extract_s = time.perf_counter() - t
    return DataStructs, fps, bits, extract_s


def bench_tanimoto(args):
    import torch

    DataStructs, fps, bits, extract_s = load_fingerprints(args.data_dir)
    n = len(fps)
    queries = list(range(0, n, n // args.queries))[: args.queries]

    pack_s, packed = best_of(lambda: sozai.kernels.pack_bits(bits), args.repeats)
    # Correctness first: the query rows agree exactly with RDKit (float32).
    T_q = sozai.kernels.tanimoto(packed[queries], packed)
    rd_q = np.array([DataStructs.BulkTanimotoSimilarity(fps[q], fps) for q in queries])
    if not np.array_equal(T_q, rd_q.astype(np.float32)):
        raise SystemExit("sozai tanimoto disagrees with RDKit")

    def rdkit_run():
        for q in queries:
            DataStructs.BulkTanimotoSimilarity(fps[q], fps)

    rd_s, _ = best_of(rdkit_run, args.repeats)
    rd_rate = len(queries) * n / rd_s
    sz_s, _ = best_of(lambda: sozai.kernels.tanimoto(packed, packed), args.repeats)
    sz_rate = n * n / sz_s
    sz_rate_with_pack = n * n / (sz_s + pack_s)
    res = {
        "fingerprints": n,
        "bits": 2048,
        "rdkit": {
            "queries_timed": len(queries),
            "seconds": rd_s,
            "similarities_per_second": rd_rate,
            "extrapolated_all_x_all_seconds": n * n / rd_rate,
            "threads": 1,
        },
        "sozai": {
            "all_x_all_seconds": sz_s,
            "similarities_per_second": sz_rate,
            "pack_bits_seconds": pack_s,
            "similarities_per_second_including_packing": sz_rate_with_pack,
            "threads": torch.get_num_threads(),
        },
        "rdkit_bits_to_numpy_seconds": extract_s,
        "ratio": sz_rate / rd_rate,
        "ratio_including_packing": sz_rate_with_pack / rd_rate,
        "goal_ratio": 5.0,
    }
    return res


def bench_kernel_matrix(args):
    import torch
    from sklearn.gaussian_process.kernels import Matern

    n, d = args.kernel_n, args.kernel_d
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    ls = rng.uniform(0.5, 2.0, size=d)

    def torch_cdist():
        a = torch.from_numpy(x1) / torch.from_numpy(ls)
        b = torch.from_numpy(x2) / torch.from_numpy(ls)
        r = torch.cdist(a, b)
        return ((1 + 5**0.5 * r + 5.0 / 3.0 * r * r) * torch.exp(-(5**0.5) * r)).numpy()

    sk = Matern(length_scale=ls, nu=2.5)
    K = sozai.kernels.kernel_matrix(x1, x2, ls, 1.0, "matern52")
    # Check on a corner (scikit-learn's full matrix is the slow part).
    np.testing.assert_allclose(K[:500, :500], sk(x1[:500], x2[:500]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(K, torch_cdist(), rtol=1e-9, atol=1e-9)

    sz_s, _ = best_of(lambda: sozai.kernels.kernel_matrix(x1, x2, ls, 1.0, "matern52"), args.repeats)
    sk_s, _ = best_of(lambda: sk(x1, x2), args.repeats)
    th_s, _ = best_of(torch_cdist, args.repeats)
    items = n * n
    return {
        "shape": [n, n, d],
        "dtype": "float64",
        "kind": "matern52",
        "sozai": {"seconds": sz_s, "entries_per_second": items / sz_s, "threads": torch.get_num_threads()},
        "sklearn_matern": {"seconds": sk_s, "entries_per_second": items / sk_s,
                           "threads": "1 (scipy cdist and numpy elementwise are single-threaded)"},
        "torch_cdist": {"seconds": th_s, "entries_per_second": items / th_s, "threads": torch.get_num_threads()},
        "ratio_vs_sklearn": sk_s / sz_s,
        "ratio_vs_torch_cdist": th_s / sz_s,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=pathlib.Path,
                   default=pathlib.Path(os.environ.get("SOZAI_DATA_DIR", ROOT.parent / "shared" / "data")))
    p.add_argument("--queries", type=int, default=200, help="RDKit query rows timed (x the whole library)")
    p.add_argument("--kernel-n", type=int, default=4096)
    p.add_argument("--kernel-d", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = p.parse_args()
    import torch

    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    args.out.mkdir(parents=True, exist_ok=True)

    tani = bench_tanimoto(args)
    tani["machine"] = machine
    (args.out / "tanimoto.json").write_text(json.dumps(tani, indent=2) + "\n")
    r, s = tani["rdkit"], tani["sozai"]
    md = [
        f"# Tanimoto: sozai vs RDKit BulkTanimotoSimilarity ({machine['when']})",
        "",
        f"{tani['fingerprints']} Morgan fingerprints (radius 2, 2048 bits) of the Tg_Original polymer repeat units, "
        f"all x all for sozai, {r['queries_timed']} query rows x all for RDKit (extrapolated per similarity). "
        "Results checked equal (float32) before timing. Best of the repeats.",
        "",
        "| | threads | similarities/s | all x all (s) |",
        "|---|---|---|---|",
        f"| RDKit BulkTanimotoSimilarity | {r['threads']} | {r['similarities_per_second']:.3g} | "
        f"{r['extrapolated_all_x_all_seconds']:.2f} (extrapolated) |",
        f"| sozai.kernels.tanimoto | {s['threads']} | {s['similarities_per_second']:.3g} | {s['all_x_all_seconds']:.3f} |",
        f"| sozai incl. pack_bits ({s['pack_bits_seconds'] * 1e3:.1f} ms) | {s['threads']} | "
        f"{s['similarities_per_second_including_packing']:.3g} | {s['all_x_all_seconds'] + s['pack_bits_seconds']:.3f} |",
        "",
        f"Ratio sozai / RDKit: **{tani['ratio']:.1f}x** ({tani['ratio_including_packing']:.1f}x including packing); "
        f"goal >= {tani['goal_ratio']:.0f}x. Getting the bits out of RDKit into numpy "
        f"(ConvertToNumpyArray) took {tani['rdkit_bits_to_numpy_seconds']:.2f} s and is not counted on either side.",
        "",
    ]
    (args.out / "tanimoto.md").write_text("\n".join(md))
    print("\n".join(md))

    km = bench_kernel_matrix(args)
    km["machine"] = machine
    (args.out / "kernel_matrix.json").write_text(json.dumps(km, indent=2) + "\n")
    n, _, d = km["shape"]
    md = [
        f"# Kernel matrix: Matern-5/2 with ARD, {n} x {n} x {d}, float64 ({machine['when']})",
        "",
        "Results checked against each other before timing. Best of the repeats.",
        "",
        "| | threads | entries/s | time (s) | sozai speed-up |",
        "|---|---|---|---|---|",
        f"| sozai.kernels.kernel_matrix | {km['sozai']['threads']} | {km['sozai']['entries_per_second']:.3g} | "
        f"{km['sozai']['seconds']:.3f} | 1.0x |",
        f"| torch.cdist + exp | {km['torch_cdist']['threads']} | {km['torch_cdist']['entries_per_second']:.3g} | "
        f"{km['torch_cdist']['seconds']:.3f} | {km['ratio_vs_torch_cdist']:.1f}x |",
        f"| scikit-learn Matern(nu=2.5) | 1 | {km['sklearn_matern']['entries_per_second']:.3g} | "
        f"{km['sklearn_matern']['seconds']:.3f} | {km['ratio_vs_sklearn']:.1f}x |",
        "",
        "sozai's thread count is ATen's (torch.get_num_threads(): the Python torch and sozai load the same",
        "libtorch here). Float32, RBF and other sizes, from Google Benchmark: kernel_matrix.txt",
        "(build/bin/bench_kernel_matrix).",
        "",
    ]
    (args.out / "kernel_matrix.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
