"""Polymer graphs and Morgan fingerprints against RDKit on every SMILES of
Tg_Original.csv (6,906 repeat units), plus blends and composites.

RDKit is the oracle: node and edge counts, atom order, the atoms the
periodic bond joins, every atom and bond feature (recomputed here in Python
from the documented column names) and the fingerprints bit for bit.
"""

import csv

import numpy as np
import pytest

import sozai
import sozai.featurize as F

Chem = pytest.importorskip("rdkit.Chem")
from rdkit import DataStructs  # noqa: E402
from rdkit.Chem import AllChem, rdFingerprintGenerator  # noqa: E402

pytestmark = pytest.mark.skipif(sozai.build_info()["rdkit"] == "none", reason="sozai built without RDKit")


@pytest.fixture(scope="module")
def tg_smiles(data_dir):
    with open(data_dir / "polymers" / "Tg_Original.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6906
    return [r["Smiles"] for r in rows]


@pytest.fixture(scope="module")
def tg_mols(tg_smiles):
    mols = [Chem.MolFromSmiles(s) for s in tg_smiles]
    assert all(m is not None for m in mols)
    return mols


def pack(bitvect, n_bits):
    """RDKit bit vector -> int64 words, bit k in word k // 64 at position k % 64."""
    bits = np.zeros(n_bits, dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(bitvect, bits)
    padded = np.zeros(((n_bits + 63) // 64) * 64, dtype=np.uint8)
    padded[:n_bits] = bits
    return np.packbits(padded, bitorder="little").view("<i8")


# ---------------------------------------------------------------- features
# An independent featuriser in Python, built from the column names alone.

HYB = {Chem.HybridizationType.S: "S", Chem.HybridizationType.SP: "SP", Chem.HybridizationType.SP2: "SP2",
       Chem.HybridizationType.SP3: "SP3", Chem.HybridizationType.SP3D: "SP3D",
       Chem.HybridizationType.SP3D2: "SP3D2"}
CHIRAL = {Chem.ChiralType.CHI_UNSPECIFIED: "unspecified", Chem.ChiralType.CHI_TETRAHEDRAL_CW: "CW",
          Chem.ChiralType.CHI_TETRAHEDRAL_CCW: "CCW"}
BTYPE = {Chem.BondType.SINGLE: "single", Chem.BondType.DOUBLE: "double", Chem.BondType.TRIPLE: "triple",
         Chem.BondType.AROMATIC: "aromatic"}
STEREO = {Chem.BondStereo.STEREONONE: "none", Chem.BondStereo.STEREOANY: "any", Chem.BondStereo.STEREOZ: "Z",
          Chem.BondStereo.STEREOE: "E", Chem.BondStereo.STEREOCIS: "cis", Chem.BondStereo.STEREOTRANS: "trans"}


def one_hot(index, group, value):
    key = f"{group}={value}"
    return index[key] if key in index else index[f"{group}=other"]


def expected_atom_row(atom, index):
    row = np.zeros(len(index), dtype=np.float32)
    row[one_hot(index, "element", atom.GetSymbol())] = 1
    row[one_hot(index, "degree", atom.GetDegree())] = 1
    row[one_hot(index, "formal_charge", atom.GetFormalCharge())] = 1
    row[one_hot(index, "hybridization", HYB.get(atom.GetHybridization(), "other"))] = 1
    row[index["aromatic"]] = atom.GetIsAromatic()
    row[one_hot(index, "total_hs", atom.GetTotalNumHs())] = 1
    row[index["in_ring"]] = atom.IsInRing()
    row[one_hot(index, "chirality", CHIRAL.get(atom.GetChiralTag(), "other"))] = 1
    return row


def expected_bond_row(bond, index, periodic):
    row = np.zeros(len(index), dtype=np.float32)
    row[one_hot(index, "bond_type", BTYPE.get(bond.GetBondType(), "other"))] = 1
    row[index["conjugated"]] = bond.GetIsConjugated()
    row[index["in_ring"]] = bond.IsInRing()
    row[one_hot(index, "stereo", STEREO.get(bond.GetStereo(), "other"))] = 1
    row[index["periodic"]] = periodic
    return row


def expected_graph(mol):
    """(x, edge_index, edge_attr, periodic, atomic numbers) as documented in polymer.h."""
    aidx = {n: i for i, n in enumerate(F.polymer_atom_feature_names())}
    bidx = {n: i for i, n in enumerate(F.polymer_bond_feature_names())}
    markers = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    node = {}
    for a in mol.GetAtoms():
        if a.GetAtomicNum() != 0 or not markers:
            node[a.GetIdx()] = len(node)
    x = np.stack([expected_atom_row(mol.GetAtomWithIdx(i), aidx) for i in node])
    src, dst, attr, per = [], [], [], []
    for b in mol.GetBonds():
        u, v = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        if u in node and v in node:
            src += [node[u], node[v]]
            dst += [node[v], node[u]]
            attr += [expected_bond_row(b, bidx, False)] * 2
            per += [False, False]
    if markers:
        ends = [mol.GetAtomWithIdx(m).GetNeighbors()[0].GetIdx() for m in markers]
        bond = mol.GetBondBetweenAtoms(markers[0], ends[0])
        a, b = node[ends[0]], node[ends[1]]
        src += [a, b]
        dst += [b, a]
        attr += [expected_bond_row(bond, bidx, True)] * 2
        per += [True, True]
    z = np.array([mol.GetAtomWithIdx(i).GetAtomicNum() for i in node], dtype=np.int64)
    return x, np.array([src, dst], dtype=np.int64), np.stack(attr), np.array(per), z


# ------------------------------------------------------------------ graphs


def test_polyethylene_and_markers():
    g = F.polymer_graph("*CC*")
    assert g.kind == "polymer"
    assert (g.num_nodes, g.num_edges) == (2, 4)
    assert g.periodic.tolist() == [False, False, True, True]
    assert g.edge_index.tolist() == [[0, 1, 0, 1], [1, 0, 1, 0]]
    for s in ["[*]CC[*]", "[*:1]CC[*:2]"]:
        h = F.polymer_graph(s)
        np.testing.assert_array_equal(h.x, g.x)
        np.testing.assert_array_equal(h.edge_index, g.edge_index)
        np.testing.assert_array_equal(h.edge_attr, g.edge_attr)
        np.testing.assert_array_equal(h.periodic, g.periodic)
    assert g.x.dtype == np.float32 and g.edge_attr.dtype == np.float32
    assert g.x.shape[1] == len(F.polymer_atom_feature_names())
    assert g.edge_attr.shape[1] == len(F.polymer_bond_feature_names())


def test_self_loop_when_both_markers_on_one_atom():
    g = F.polymer_graph("*C*")
    assert (g.num_nodes, g.num_edges) == (1, 2)
    assert g.edge_index.tolist() == [[0, 0], [0, 0]]
    assert g.periodic.tolist() == [True, True]


def test_molecule_without_markers():
    g = F.polymer_graph("c1ccccc1O")
    assert g.kind == "molecule"
    assert (g.num_nodes, g.num_edges) == (7, 14)
    assert not g.periodic.any()


@pytest.mark.parametrize("smiles, words", [
    ("*CC", "1 end markers"),
    ("*C(*)C*", "3 end markers"),
    ("C*CC*", "bonded to 2 atoms"),
    ("*CC(*", "parenthes"),
    ("*CX*", "syntax error"),
    ("*C(C)(C)(C)(C)C*", "valence"),
])
def test_errors_name_the_smiles(smiles, words):
    with pytest.raises(sozai.InputError) as e:
        F.polymer_graph(smiles)
    assert f"'{smiles}'" in str(e.value) and words in str(e.value)


def test_list_errors_name_the_index():
    with pytest.raises(sozai.InputError, match=r"SMILES #2 .*'\*CX\*'.*syntax error"):
        F.polymer_graphs(["*CC*", "*C*", "*CX*"])
    with pytest.raises(sozai.InputError, match=r"SMILES #1"):
        F.morgan_fingerprint(["*CC*", "C("])
    with pytest.raises(sozai.InputError, match="radius"):
        F.morgan_counts("*CC*", radius=-1)
    with pytest.raises(sozai.InputError, match="n_bits"):
        F.morgan_fingerprint("*CC*", n_bits=0)


def test_tg_graphs_match_rdkit(tg_smiles, tg_mols):
    batch = F.polymer_graphs(tg_smiles)
    assert batch.kind == "polymer" and batch.num_graphs == len(tg_smiles)
    ptr, eptr = batch.ptr, batch.edge_ptr
    n_nodes = np.diff(ptr)
    n_edges = np.diff(eptr)
    want_nodes = np.array([m.GetNumAtoms() - 2 for m in tg_mols])
    # Heavy atoms (RDKit's count excludes the dummies) plus the few explicit
    # hydrogens RDKit keeps (e.g. [2H]).
    want_heavy = np.array([m.GetNumHeavyAtoms() for m in tg_mols])
    want_edges = np.array([2 * (m.GetNumBonds() - 2 + 1) for m in tg_mols])
    np.testing.assert_array_equal(n_nodes, want_nodes)
    assert (n_nodes >= want_heavy).all()
    np.testing.assert_array_equal(n_edges, want_edges)
    assert batch.periodic.sum() == 2 * len(tg_smiles)

    x, ei, ea, per, z = batch.x, batch.edge_index, batch.edge_attr, batch.periodic, batch.atomic_number
    mismatches = []
    for i, (s, m) in enumerate(zip(tg_smiles, tg_mols)):
        n0, n1, e0, e1 = ptr[i], ptr[i + 1], eptr[i], eptr[i + 1]
        wx, wei, wea, wper, wz = expected_graph(m)
        ok = (np.array_equal(x[n0:n1], wx) and np.array_equal(ei[:, e0:e1] - n0, wei)
              and np.array_equal(ea[e0:e1], wea) and np.array_equal(per[e0:e1], wper)
              and np.array_equal(z[n0:n1], wz))
        if not ok:
            mismatches.append((i, s))
    assert not mismatches, f"{len(mismatches)} graphs differ from RDKit, first: {mismatches[:5]}"

    # One parse for both gives the same graphs and RDKit's fingerprints.
    both, fps = F.polymer_features(tg_smiles)
    for name in ["x", "edge_index", "edge_attr", "periodic", "atomic_number", "ptr", "edge_ptr", "batch"]:
        np.testing.assert_array_equal(getattr(both, name), getattr(batch, name), err_msg=name)
    np.testing.assert_array_equal(fps, F.morgan_fingerprint(tg_smiles))

    # A single call gives the batch's graph.
    for i in [0, 1, 2500, len(tg_smiles) - 1]:
        g, h = F.polymer_graph(tg_smiles[i]), batch.graph(i)
        np.testing.assert_array_equal(g.x, h.x)
        np.testing.assert_array_equal(g.edge_index, h.edge_index)
        np.testing.assert_array_equal(g.periodic, h.periodic)


def test_periodic_bond_joins_the_marker_neighbours(tg_smiles, tg_mols):
    batch = F.polymer_graphs(tg_smiles)
    per_edges = batch.edge_index[:, batch.periodic]
    for i, m in enumerate(tg_mols):
        markers = [a.GetIdx() for a in m.GetAtoms() if a.GetAtomicNum() == 0]
        ends = [m.GetAtomWithIdx(k).GetNeighbors()[0].GetIdx() for k in markers]
        # Node of RDKit atom k = k minus the markers before it.
        nodes = [k - sum(1 for mk in markers if mk < k) + batch.ptr[i] for k in ends]
        assert per_edges[:, 2 * i].tolist() == [nodes[0], nodes[1]], f"row {i}: {tg_smiles[i]}"
        assert per_edges[:, 2 * i + 1].tolist() == [nodes[1], nodes[0]], f"row {i}: {tg_smiles[i]}"


# ------------------------------------------------------------ fingerprints


@pytest.mark.parametrize("radius, n_bits", [(2, 2048), (3, 1000)])
def test_tg_fingerprints_bit_equal_rdkit(tg_smiles, tg_mols, radius, n_bits):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    got = F.morgan_fingerprint(tg_smiles, radius=radius, n_bits=n_bits)
    assert got.shape == (len(tg_smiles), (n_bits + 63) // 64) and got.dtype == np.int64
    want = np.stack([pack(gen.GetFingerprint(m), n_bits) for m in tg_mols])
    bad = np.flatnonzero((got != want).any(axis=1))
    assert bad.size == 0, f"{bad.size} fingerprints differ, first rows {bad[:5].tolist()}"
    if radius == 2:
        # The legacy function agrees too (RDKit 2022.09).
        legacy = np.stack([pack(AllChem.GetMorganFingerprintAsBitVect(m, radius, nBits=n_bits), n_bits)
                           for m in tg_mols[:500]])
        np.testing.assert_array_equal(got[:500], legacy)
    # Single calls equal the batch.
    for i in [0, 17, len(tg_smiles) - 1]:
        np.testing.assert_array_equal(F.morgan_fingerprint(tg_smiles[i], radius=radius, n_bits=n_bits), got[i])


def test_tg_counts_equal_rdkit(tg_smiles, tg_mols):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    got = F.morgan_counts(tg_smiles)
    assert got.shape == (len(tg_smiles), 2048) and got.dtype == np.int32
    want = np.stack([gen.GetCountFingerprintAsNumPy(m) for m in tg_mols]).astype(np.int32)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(F.morgan_counts(tg_smiles[5]), want[5])


def test_fingerprints_feed_the_tanimoto_kernel(tg_smiles, tg_mols):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = F.morgan_fingerprint(tg_smiles[:200])
    T = sozai.kernels.tanimoto(fps, fps)
    rd = [gen.GetFingerprint(m) for m in tg_mols[:200]]
    want = np.array([DataStructs.BulkTanimotoSimilarity(f, rd) for f in rd], dtype=np.float32)
    np.testing.assert_array_equal(T, want)


# --------------------------------------------------- blends and composites


def test_blend():
    b = F.polymer_blend(["*CC*", "*CC(*)c1ccccc1"], [70, 30])
    np.testing.assert_allclose(b.fractions, [0.7, 0.3])
    assert b.kinds == ["polymer", "polymer"]
    g = b.graphs
    assert g.kind == "polymer" and g.num_graphs == 2
    np.testing.assert_array_equal(g.ptr, [0, 2, 10])
    np.testing.assert_allclose(g.node_weight, [0.7] * 2 + [0.3] * 8, rtol=1e-7)
    mix = F.polymer_blend(["*CC(*)Cl", "CCCCOC(=O)c1ccccc1C(=O)OCCCC"], [0.8, 0.2])
    assert mix.graphs.kind == "blend" and mix.kinds == ["polymer", "molecule"]
    with pytest.raises(sozai.InputError, match="fraction #1"):
        F.polymer_blend(["*CC*", "*CC(*)C"], [1, -1])
    with pytest.raises(sozai.InputError, match="2 SMILES but 3 fractions"):
        F.polymer_blend(["*CC*", "*CC(*)C"], [1, 1, 1])


def test_blend_fingerprint_counts():
    smiles, f = ["*CC*", "*CC(*)C", "*CC(*)c1ccccc1"], [2.0, 1.0, 1.0]
    got = F.blend_fingerprint_counts(smiles, f, radius=2, n_bits=1024)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    want = sum(w / 4.0 * gen.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s)).astype(np.float64)
               for s, w in zip(smiles, f))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_composite():
    c = F.composite("*CC(*)(C)C(=O)OC", "BaTiO3", 0.2)
    assert c["matrix_kind"] == "polymer" and c["volume_fraction"] == 0.2
    assert c["filler_composition"] == pytest.approx({"Ba": 0.2, "Ti": 0.2, "O": 0.6})
    for phi in [-0.01, 1.01, float("nan")]:
        with pytest.raises(sozai.InputError, match="volume_fraction"):
            F.composite("*CC*", "SiO2", phi)
    with pytest.raises(sozai.InputError, match="matrix_smiles"):
        F.composite("*CC", "SiO2", 0.1)
    with pytest.raises(sozai.InputError, match="filler_formula"):
        F.composite("*CC*", "Qq2", 0.1)
