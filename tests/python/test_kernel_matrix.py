"""kernel_matrix against scikit-learn's kernels; tanimoto against RDKit's
BulkTanimotoSimilarity on Morgan fingerprints of the polymer repeat units;
pack_bits layout; bad input."""

import csv

import numpy as np
import pytest

import sozai

sk_kernels = pytest.importorskip("sklearn.gaussian_process.kernels")


@pytest.mark.parametrize("kind", ["matern52", "rbf"])
@pytest.mark.parametrize("ard", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 1), (70, 130, 5), (64, 64, 8), (129, 3, 2)])
def test_kernel_matrix_matches_sklearn(kind, ard, shape):
    n, m, d = shape
    rng = np.random.default_rng(n * 1000 + m + d)
    x1 = rng.normal(size=(n, d))
    x2 = rng.normal(size=(m, d))
    ls = rng.uniform(0.3, 2.5, size=d) if ard else np.array(0.8)
    s = 1.9
    if kind == "matern52":
        ref = sk_kernels.Matern(length_scale=ls if ard else float(ls), nu=2.5)(x1, x2)
    else:
        ref = sk_kernels.RBF(length_scale=ls if ard else float(ls))(x1, x2)
    K = sozai.kernels.kernel_matrix(x1, x2, ls, outputscale=s, kind=kind)
    assert K.dtype == np.float64 and K.shape == (n, m)
    # scikit-learn uses scipy's cdist (direct differences), as sozai does.
    np.testing.assert_allclose(K, s * ref, rtol=1e-12, atol=1e-15)


def test_kernel_matrix_default_kind_is_matern52_and_scalar_lengthscale():
    x = np.linspace(0, 3, 7)[:, None]
    K = sozai.kernels.kernel_matrix(x, x, 1.3)
    ref = sk_kernels.Matern(length_scale=1.3, nu=2.5)(x, x)
    np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-15)


def test_kernel_matrix_empty():
    assert sozai.kernels.kernel_matrix(np.zeros((0, 3)), np.zeros((4, 3)), [1.0, 1.0, 1.0]).shape == (0, 4)
    assert sozai.kernels.kernel_matrix(np.zeros((4, 3)), np.zeros((0, 3)), 1.0).shape == (4, 0)


def test_kernel_matrix_bad_input():
    x = np.zeros((4, 3))
    with pytest.raises(sozai.InputError, match="same number of columns"):
        sozai.kernels.kernel_matrix(x, np.zeros((2, 4)), 1.0)
    with pytest.raises(sozai.InputError, match="lengthscale must be"):
        sozai.kernels.kernel_matrix(x, x, [1.0, 2.0])
    with pytest.raises(sozai.InputError, match="positive and finite"):
        sozai.kernels.kernel_matrix(x, x, [1.0, -1.0, 1.0])
    with pytest.raises(sozai.InputError, match="positive and finite"):
        sozai.kernels.kernel_matrix(x, x, np.nan)
    with pytest.raises(sozai.InputError, match="outputscale"):
        sozai.kernels.kernel_matrix(x, x, 1.0, outputscale=0.0)
    with pytest.raises(sozai.InputError, match="2-D"):
        sozai.kernels.kernel_matrix(np.zeros(3), x, 1.0)
    with pytest.raises(sozai.InputError, match="unknown kernel"):
        sozai.kernels.kernel_matrix(x, x, 1.0, kind="matern32")


# ------------------------------------------------------------------ Tanimoto


def test_pack_bits_layout_and_round_trip():
    bits = np.zeros((2, 130), dtype=bool)
    bits[0, [0, 63, 64]] = True
    bits[1, 129] = True
    w = sozai.kernels.pack_bits(bits)
    assert w.dtype == np.uint64 and w.shape == (2, 3)
    assert w[0, 0] == (1 << 63) | 1 and w[0, 1] == 1 and w[1, 2] == 2
    rng = np.random.default_rng(0)
    for nbits in (1, 64, 65, 2048, 1000):
        b = rng.random((11, nbits)) < 0.3
        packed = sozai.kernels.pack_bits(b)
        # Bit k of a row is bit k % 64 of word k // 64 (little-endian bit order).
        unpacked = np.unpackbits(packed.view(np.uint8), axis=1, bitorder="little")[:, :nbits]
        np.testing.assert_array_equal(unpacked.astype(bool), b)
        np.testing.assert_array_equal(sozai.kernels.pack_bits(b.astype(np.uint8)), packed)


def test_tanimoto_bad_input():
    w = np.zeros((3, 4), dtype=np.uint64)
    with pytest.raises(sozai.InputError, match="uint64 or int64"):
        sozai.kernels.tanimoto(w.astype(np.int32), w)
    with pytest.raises(sozai.InputError, match="same number of words"):
        sozai.kernels.tanimoto(w, np.zeros((3, 5), dtype=np.uint64))
    with pytest.raises(sozai.InputError, match="2-D"):
        sozai.kernels.tanimoto(w[0], w)
    with pytest.raises(sozai.InputError, match="bool or uint8"):
        sozai.kernels.pack_bits(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(sozai.InputError, match="2-D"):
        sozai.kernels.pack_bits(np.zeros(4, dtype=bool))
    assert sozai.kernels.tanimoto(np.zeros((0, 4), dtype=np.int64), w).shape == (0, 3)


@pytest.fixture(scope="module")
def polymer_fps(data_dir):
    rdkit = pytest.importorskip("rdkit")
    from rdkit import Chem, DataStructs, RDLogger
    from rdkit.Chem import rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    path = data_dir / "polymers" / "Tg_Original.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with open(path) as f:
        smiles = [row["Smiles"] for row in csv.DictReader(f)]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)  # '*' end markers are dummy atoms
        if mol is not None:
            fps.append(gen.GetFingerprint(mol))
    assert len(fps) > 6000
    bits = np.zeros((len(fps), 2048), dtype=np.uint8)
    for i, fp in enumerate(fps):
        DataStructs.ConvertToNumpyArray(fp, bits[i])
    return DataStructs, fps, bits


def test_tanimoto_equals_rdkit_on_polymer_morgan_fingerprints(polymer_fps):
    DataStructs, fps, bits = polymer_fps
    packed = sozai.kernels.pack_bits(bits)
    assert packed.shape == (len(fps), 32)
    # Query rows spread over the set, against the whole library.
    queries = list(range(0, len(fps), max(1, len(fps) // 40)))[:40]
    T = sozai.kernels.tanimoto(packed[queries], packed)
    assert T.dtype == np.float32 and T.shape == (len(queries), len(fps))
    for qi, q in enumerate(queries):
        ref = np.array(DataStructs.BulkTanimotoSimilarity(fps[q], fps), dtype=np.float64)
        # Exact: float32 of RDKit's double quotient, bit for bit.
        np.testing.assert_array_equal(T[qi], ref.astype(np.float32), err_msg=f"query row {q}")
    # The distribution is not degenerate (the comparison can fail).
    assert 0.0 < np.median(T) < 1.0


def test_tanimoto_full_matrix_symmetric(polymer_fps):
    _, fps, bits = polymer_fps
    packed = sozai.kernels.pack_bits(bits[:500])
    T = sozai.kernels.tanimoto(packed, packed)
    np.testing.assert_array_equal(T, T.T)
    np.testing.assert_array_equal(np.diag(T), np.ones(500, dtype=np.float32))
    # Non-contiguous slices are accepted.
    np.testing.assert_array_equal(sozai.kernels.tanimoto(packed[::2], packed), T[::2])
    # int64 words give the same result as uint64 (same bits).
    np.testing.assert_array_equal(sozai.kernels.tanimoto(packed.view(np.int64), packed), T)


def test_tanimoto_empty_fingerprints_follow_rdkit():
    DataStructs = pytest.importorskip("rdkit.DataStructs")
    a = DataStructs.ExplicitBitVect(64)
    b = DataStructs.ExplicitBitVect(64)
    c = DataStructs.ExplicitBitVect(64)
    c.SetBit(3)
    ref = DataStructs.BulkTanimotoSimilarity(a, [b, c])
    w = sozai.kernels.pack_bits(np.array([[0] * 64, [0] * 64, [1 if k == 3 else 0 for k in range(64)]], dtype=np.uint8))
    T = sozai.kernels.tanimoto(w[:1], w[1:])
    np.testing.assert_array_equal(T[0], np.array(ref, dtype=np.float32))
