"""Polymer featurisation throughput: sozai against RDKit driven from Python.

Inputs: every SMILES of Tg_Original.csv (6,906 polymer repeat units with two
'*' end markers), the same list on both sides, in the same run.

1. Graph + fingerprint. sozai: one batched featurize.polymer_features(smiles)
   (atom/bond features, end markers removed, periodic bond; Morgan radius 2,
   2048 bits, packed int64; each SMILES parsed once), and, for reference,
   the two separate batched calls polymer_graphs + morgan_fingerprint.
   Baseline: what PyTorch-Geometric-style featurisers do (torch_geometric's
   from_smiles, chemprop's atom_features): Chem.MolFromSmiles, then Python
   loops over atoms and bonds building one-hot lists, then numpy arrays; the
   same features, the same marker removal and periodic bond; and RDKit's
   Morgan generator with the bits packed the same way (np.packbits).
   The baseline's arrays are checked equal to sozai's for every SMILES
   before anything is timed.
2. Fingerprints alone. sozai.featurize.morgan_fingerprint(list) against
   Chem.MolFromSmiles + GetMorganGenerator(radius=2, fpSize=2048)
   .GetFingerprint per SMILES (RDKit's native ExplicitBitVect, no conversion
   to numpy: the cheapest form of the baseline), and counts:
   morgan_counts(list) against GetCountFingerprintAsNumPy.

Timings are the best of --repeats runs; SMILES/s and the ratio sozai /
baseline are reported. Threads: RDKit from Python runs on one thread (the
loop holds the GIL); sozai parses in parallel over LibTorch's intra-op
threads, recorded as torch.get_num_threads().

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/compare_polymer.py
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
import sozai.featurize as F

from bench_common import RESULTS, ROOT, best_of  # noqa: E402  (benchmarks/ is the script's folder)


def load_smiles(data_dir):
    with open(data_dir / "polymers" / "Tg_Original.csv", newline="") as f:
        return [row["Smiles"] for row in csv.DictReader(f)]


class RDKitFeaturizer:
    """PyG-style Python featuriser producing sozai's layout (polymer.h)."""

    def __init__(self):
        from rdkit import Chem
        from rdkit.Chem import rdFingerprintGenerator

        self.Chem = Chem
        self.gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
        a_names, b_names = F.polymer_atom_feature_names(), F.polymer_bond_feature_names()
        self.na, self.nb = len(a_names), len(b_names)
        self.aidx = {n: i for i, n in enumerate(a_names)}
        self.bidx = {n: i for i, n in enumerate(b_names)}
        H, C, B, S = Chem.HybridizationType, Chem.ChiralType, Chem.BondType, Chem.BondStereo
        self.hyb = {H.S: "S", H.SP: "SP", H.SP2: "SP2", H.SP3: "SP3", H.SP3D: "SP3D", H.SP3D2: "SP3D2"}
        self.chiral = {C.CHI_UNSPECIFIED: "unspecified", C.CHI_TETRAHEDRAL_CW: "CW", C.CHI_TETRAHEDRAL_CCW: "CCW"}
        self.btype = {B.SINGLE: "single", B.DOUBLE: "double", B.TRIPLE: "triple", B.AROMATIC: "aromatic"}
        self.stereo = {S.STEREONONE: "none", S.STEREOANY: "any", S.STEREOZ: "Z", S.STEREOE: "E", S.STEREOCIS: "cis",
                       S.STEREOTRANS: "trans"}

    def col(self, index, group, value):
        return index.get(f"{group}={value}", index[f"{group}=other"])

    def atom_row(self, a):
        ai, row = self.aidx, [0.0] * self.na
        row[self.col(ai, "element", a.GetSymbol())] = 1.0
        row[self.col(ai, "degree", a.GetDegree())] = 1.0
        row[self.col(ai, "formal_charge", a.GetFormalCharge())] = 1.0
        row[self.col(ai, "hybridization", self.hyb.get(a.GetHybridization(), "other"))] = 1.0
        row[ai["aromatic"]] = float(a.GetIsAromatic())
        row[self.col(ai, "total_hs", a.GetTotalNumHs())] = 1.0
        row[ai["in_ring"]] = float(a.IsInRing())
        row[self.col(ai, "chirality", self.chiral.get(a.GetChiralTag(), "other"))] = 1.0
        return row

    def bond_row(self, b, periodic):
        bi, row = self.bidx, [0.0] * self.nb
        row[self.col(bi, "bond_type", self.btype.get(b.GetBondType(), "other"))] = 1.0
        row[bi["conjugated"]] = float(b.GetIsConjugated())
        row[bi["in_ring"]] = float(b.IsInRing())
        row[self.col(bi, "stereo", self.stereo.get(b.GetStereo(), "other"))] = 1.0
        row[bi["periodic"]] = float(periodic)
        return row

    def graph(self, mol):
        markers = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
        node, x, z = {}, [], []
        for a in mol.GetAtoms():
            if a.GetAtomicNum() != 0:
                node[a.GetIdx()] = len(node)
                x.append(self.atom_row(a))
                z.append(a.GetAtomicNum())
        src, dst, attr = [], [], []
        for b in mol.GetBonds():
            u, v = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
            if u in node and v in node:
                row = self.bond_row(b, False)
                src += [node[u], node[v]]
                dst += [node[v], node[u]]
                attr += [row, row]
        ends = [mol.GetAtomWithIdx(m).GetNeighbors()[0].GetIdx() for m in markers]
        row = self.bond_row(mol.GetBondBetweenAtoms(markers[0], ends[0]), True)
        a, b = node[ends[0]], node[ends[1]]
        src += [a, b]
        dst += [b, a]
        attr += [row, row]
        per = [False] * (len(src) - 2) + [True, True]
        return (np.array(x, dtype=np.float32), np.array([src, dst], dtype=np.int64),
                np.array(attr, dtype=np.float32), np.array(per), np.array(z, dtype=np.int64))

    def fingerprint(self, mol):
        bits = self.gen.GetFingerprintAsNumPy(mol).astype(np.uint8)
        return np.packbits(bits, bitorder="little").view("<i8")

    def run(self, smiles):
        out = []
        for s in smiles:
            mol = self.Chem.MolFromSmiles(s)
            out.append((self.graph(mol), self.fingerprint(mol)))
        return out


def sozai_run(smiles):
    return F.polymer_features(smiles, radius=2, n_bits=2048)


def sozai_two_calls(smiles):
    return F.polymer_graphs(smiles), F.morgan_fingerprint(smiles, radius=2, n_bits=2048)


def check_equal(smiles, rd, sz):
    batch, fps = sz
    ptr, eptr = batch.ptr, batch.edge_ptr
    x, ei, ea, per, z = batch.x, batch.edge_index, batch.edge_attr, batch.periodic, batch.atomic_number
    for i, ((gx, gei, gea, gper, gz), gfp) in enumerate(rd):
        n0, n1, e0, e1 = ptr[i], ptr[i + 1], eptr[i], eptr[i + 1]
        same = (np.array_equal(x[n0:n1], gx) and np.array_equal(ei[:, e0:e1] - n0, gei)
                and np.array_equal(ea[e0:e1], gea) and np.array_equal(per[e0:e1], gper)
                and np.array_equal(z[n0:n1], gz) and np.array_equal(fps[i], gfp))
        if not same:
            raise SystemExit(f"sozai and the RDKit baseline differ on row {i}: {smiles[i]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=pathlib.Path,
                   default=pathlib.Path(os.environ.get("SOZAI_DATA_DIR", ROOT.parent / "shared" / "data")))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = p.parse_args()

    import torch
    from rdkit import Chem, RDLogger, rdBase
    from rdkit.Chem import rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    smiles = load_smiles(args.data_dir)
    n = len(smiles)
    threads = torch.get_num_threads()
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "torch_threads": threads, "rdkit": rdBase.rdkitVersion,
               "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    # 1. Graph + fingerprint, checked equal first.
    feat = RDKitFeaturizer()
    rd_s, rd_out = best_of(lambda: feat.run(smiles), args.repeats)
    sz_s, sz_out = best_of(lambda: sozai_run(smiles), args.repeats)
    check_equal(smiles, rd_out, sz_out)
    sz2_s, sz2_out = best_of(lambda: sozai_two_calls(smiles), args.repeats)
    check_equal(smiles, rd_out, sz2_out)
    del sz2_out
    del rd_out

    # 2. Fingerprints alone (bits checked against RDKit's first).
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    rdfp_s, rd_fps = best_of(lambda: [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles], args.repeats)
    szfp_s, sz_fps = best_of(lambda: F.morgan_fingerprint(smiles), args.repeats)
    for i in range(n):
        on = np.flatnonzero(np.unpackbits(sz_fps[i].view(np.uint8), bitorder="little"))
        if on.tolist() != list(rd_fps[i].GetOnBits()):
            raise SystemExit(f"fingerprint differs from RDKit on row {i}: {smiles[i]}")
    rdc_s, rd_counts = best_of(lambda: np.stack([gen.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s))
                                                 for s in smiles]), args.repeats)
    szc_s, sz_counts = best_of(lambda: F.morgan_counts(smiles), args.repeats)
    if not np.array_equal(rd_counts.astype(np.int64), sz_counts.astype(np.int64)):
        raise SystemExit("morgan_counts differ from RDKit")

    def entry(seconds, th):
        return {"seconds": seconds, "smiles_per_second": n / seconds, "threads": th}

    res = {
        "smiles": n,
        "dataset": "polymers/Tg_Original.csv",
        "graph_and_fingerprint": {
            "rdkit_python": entry(rd_s, 1),
            "sozai": entry(sz_s, threads),
            "sozai_two_calls": entry(sz2_s, threads),
            "ratio": rd_s / sz_s,
            "ratio_two_calls": rd_s / sz2_s,
        },
        "fingerprint_bits": {
            "rdkit_generator": entry(rdfp_s, 1),
            "sozai": entry(szfp_s, threads),
            "ratio": rdfp_s / szfp_s,
        },
        "fingerprint_counts": {
            "rdkit_generator_numpy": entry(rdc_s, 1),
            "sozai": entry(szc_s, threads),
            "ratio": rdc_s / szc_s,
        },
        "checked_equal": True,
        "machine": machine,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "polymer.json").write_text(json.dumps(res, indent=2) + "\n")
    g, b, c = res["graph_and_fingerprint"], res["fingerprint_bits"], res["fingerprint_counts"]

    def line(name, e):
        return f"| {name} | {e['threads']} | {e['smiles_per_second']:,.0f} | {e['seconds']:.3f} |"

    md = [
        f"# Polymer featurisation: sozai vs RDKit from Python ({machine['when']})",
        "",
        f"All {n} SMILES of Tg_Original.csv (repeat units with two `*` end markers), RDKit {machine['rdkit']}, "
        f"{machine['cores']} logical cores. Outputs checked equal for every SMILES before timing; best of "
        f"{args.repeats} runs.",
        "",
        "| work | threads | SMILES/s | seconds |",
        "|---|---|---|---|",
        line("graph + fingerprint, RDKit + Python feature loops (PyG-style)", g["rdkit_python"]),
        line("graph + fingerprint, sozai polymer_features (batched, one parse)", g["sozai"]),
        line("graph + fingerprint, sozai polymer_graphs + morgan_fingerprint (two batched calls)",
             g["sozai_two_calls"]),
        line("fingerprint bits, RDKit MolFromSmiles + generator GetFingerprint", b["rdkit_generator"]),
        line("fingerprint bits, sozai morgan_fingerprint (batched)", b["sozai"]),
        line("fingerprint counts, RDKit MolFromSmiles + GetCountFingerprintAsNumPy", c["rdkit_generator_numpy"]),
        line("fingerprint counts, sozai morgan_counts (batched)", c["sozai"]),
        "",
        f"Ratios sozai / RDKit: graph + fingerprint **{g['ratio']:.2f}x** ({g['ratio_two_calls']:.2f}x as two calls), "
        f"fingerprint bits **{b['ratio']:.2f}x**, "
        f"counts **{c['ratio']:.2f}x**.",
        "",
        "Both sides parse every SMILES with the same RDKit library, so the fingerprint-only ratio is close to 1 "
        "by construction: SMILES parsing dominates and sozai saves only Python's per-molecule overhead. "
        "The graph ratio is the Python feature loops that sozai runs in C++; polymer_features parses each SMILES "
        "once, like the baseline, the two separate calls parse it twice. "
        f"On this machine LibTorch runs {threads} thread(s); sozai's batched calls parse in parallel over "
        "LibTorch's threads where there are more.",
        "",
    ]
    (args.out / "polymer.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
