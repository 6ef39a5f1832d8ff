"""Neighbour lists against pymatgen and ASE on real structures (perov_5
CIFs) and on skewed hand-made cells, compared as edge sets (i, j, image)
with distances; max_neighbors; bad input."""

import csv
import itertools
import sys
import zlib

import numpy as np
import pytest

import sozai

pymatgen_core = pytest.importorskip("pymatgen.core")
ase_nl = pytest.importorskip("ase.neighborlist")
import ase  # noqa: E402

CUTOFF = 8.0
# Edges within this distance of the cutoff may be decided either way by the
# libraries' different tolerances (pymatgen keeps d <= r + 1e-8).
BAND = 1e-6


def _edges(i, j, images, d, cutoff=CUTOFF):
    """{(i, j, S0, S1, S2): d} without edges in the rounding band."""
    out = {}
    for a, b, s, dist in zip(i, j, np.asarray(images).astype(np.int64), d):
        if abs(dist - cutoff) < BAND:
            continue
        key = (int(a), int(b), int(s[0]), int(s[1]), int(s[2]))
        assert key not in out, f"duplicate edge {key}"
        out[key] = float(dist)
    return out


def _assert_same(got, want, what):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    assert not missing, f"{what}: {len(missing)} edges missing, e.g. {missing[:5]}"
    assert not extra, f"{what}: {len(extra)} extra edges, e.g. {extra[:5]}"
    worst = max((abs(got[k] - want[k]) for k in want), default=0.0)
    assert worst < 1e-6, f"{what}: distances differ by up to {worst}"


def _sozai(pos, lat, cutoff=CUTOFF, **kw):
    ei, images, d = sozai.kernels.neighbor_list(pos, lat, cutoff, **kw)
    assert ei.dtype == np.int64 and images.dtype == np.int64 and d.dtype == np.float64
    assert ei.shape == (2, d.size) and images.shape == (d.size, 3)
    return ei, images, d


def _vectors_ok(pos, lat, i, j, images, d):
    """The reported distance is |pos[j] + S @ L - pos[i]| (the convention)."""
    v = pos[j] + images @ lat - pos[i]
    return np.allclose(np.linalg.norm(v, axis=1), d, atol=1e-9)


@pytest.fixture(scope="module")
def perovskites(data_dir):
    path = data_dir / "ceramics" / "perov_5_val.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="") as f:
        rows = list(itertools.islice(csv.DictReader(f), 30))
    return [pymatgen_core.Structure.from_str(r["cif"], fmt="cif") for r in rows]


def test_perovskites_match_pymatgen_get_neighbor_list(perovskites):
    for n, s in enumerate(perovskites):
        pos, lat = s.cart_coords, s.lattice.matrix
        ei, images, d = _sozai(pos, lat)
        assert _vectors_ok(pos, lat, ei[0], ei[1], images, d)
        c, p, off, dist = s.get_neighbor_list(CUTOFF)
        assert _vectors_ok(pos, lat, c, p, off, dist)  # same convention on the oracle's side
        _assert_same(_edges(ei[0], ei[1], images, d), _edges(c, p, off, dist), f"structure {n} ({s.formula})")


def test_perovskites_match_pymatgen_get_all_neighbors(perovskites):
    for n, s in enumerate(perovskites[:10]):
        pos, lat = s.cart_coords, s.lattice.matrix
        ei, images, d = _sozai(pos, lat)
        i, j, img, dist = [], [], [], []
        for centre, neighbours in enumerate(s.get_all_neighbors(CUTOFF)):
            for nb in neighbours:
                # Neighbour coordinates as listed, back to the image of the
                # site as given (pymatgen may report images of a wrapped site).
                shift = np.rint(nb.frac_coords - s[nb.index].frac_coords).astype(np.int64)
                i.append(centre)
                j.append(nb.index)
                img.append(shift)
                dist.append(nb.nn_distance)
        _assert_same(_edges(ei[0], ei[1], images, d), _edges(i, j, img, dist), f"structure {n} ({s.formula})")


def test_perovskites_match_ase(perovskites):
    for n, s in enumerate(perovskites):
        pos, lat = s.cart_coords, s.lattice.matrix
        atoms = ase.Atoms(numbers=[site.specie.Z for site in s], positions=pos, cell=lat, pbc=True)
        i, j, d, S = ase_nl.neighbor_list("ijdS", atoms, CUTOFF)
        ei, images, dd = _sozai(pos, lat)
        _assert_same(_edges(ei[0], ei[1], images, dd), _edges(i, j, S, d), f"structure {n} ({s.formula})")


def test_batched_call_equals_per_structure_calls(perovskites):
    pos = np.concatenate([s.cart_coords for s in perovskites])
    lat = np.stack([s.lattice.matrix for s in perovskites])
    ptr = np.concatenate([[0], np.cumsum([len(s) for s in perovskites])])
    ei, images, d = _sozai(pos, lat, ptr=ptr)
    parts = [_sozai(s.cart_coords, s.lattice.matrix) for s in perovskites]
    np.testing.assert_array_equal(ei, np.concatenate([p[0] + ptr[b] for b, p in enumerate(parts)], axis=1))
    np.testing.assert_array_equal(images, np.concatenate([p[1] for p in parts]))
    np.testing.assert_array_equal(d, np.concatenate([p[2] for p in parts]))


SKEWED = {
    "sheared": [[4.0, 0.0, 0.0], [3.8, 1.1, 0.0], [3.6, 0.9, 1.3]],
    "obtuse": [[5.0, 0.0, 0.0], [-4.6, 2.0, 0.0], [-2.0, -1.5, 2.2]],
    "tiny": [[1.3, 0.2, 0.0], [0.4, 1.5, 0.1], [0.3, -0.2, 1.1]],
    "large": [[11.0, 0.0, 0.0], [-5.0, 9.0, 0.0], [3.0, -2.0, 10.0]],
}


@pytest.mark.parametrize("name", sorted(SKEWED))
@pytest.mark.parametrize("pbc", [(True, True, True), (True, True, False), (False, True, False)])
def test_skewed_cells_match_ase(name, pbc):
    rng = np.random.default_rng(zlib.crc32(f"{name}{pbc}".encode()))
    lat = np.array(SKEWED[name])
    natoms = 40 if name == "large" else 5
    pos = rng.uniform(-0.7, 1.7, size=(natoms, 3)) @ lat  # partly outside the cell
    cutoff = 3.0 if name == "large" else 5.0
    atoms = ase.Atoms(positions=pos, cell=lat, pbc=pbc)
    i, j, d, S = ase_nl.neighbor_list("ijdS", atoms, cutoff)
    ei, images, dd = _sozai(pos, lat, cutoff, pbc=list(pbc))
    assert _vectors_ok(pos, lat, ei[0], ei[1], images, dd)
    _assert_same(_edges(ei[0], ei[1], images, dd, cutoff), _edges(i, j, S, d, cutoff), f"{name} pbc={pbc}")


def test_molecule_matches_ase():
    rng = np.random.default_rng(7)
    pos = rng.uniform(-4, 4, size=(50, 3))
    atoms = ase.Atoms(positions=pos, pbc=False)
    i, j, d = ase_nl.neighbor_list("ijd", atoms, 2.5)
    ei, images, dd = _sozai(pos, None, 2.5)
    assert not images.any()
    zero = np.zeros((len(i), 3), dtype=np.int64)
    _assert_same(_edges(ei[0], ei[1], images, dd, 2.5), _edges(i, j, zero, d, 2.5), "molecule")


@pytest.mark.parametrize("k", [0, 1, 6, 1000])
def test_max_neighbors_keeps_the_nearest(perovskites, k):
    s = perovskites[3]
    pos, lat = s.cart_coords, s.lattice.matrix
    full = _sozai(pos, lat)
    cut = _sozai(pos, lat, max_neighbors=k)
    for centre in range(len(s)):
        mine = cut[0][0] == centre
        want = np.flatnonzero(full[0][0] == centre)[:k]
        assert mine.sum() == min(k, want.size)
        np.testing.assert_array_equal(cut[0][1][mine], full[0][1][want])
        np.testing.assert_array_equal(cut[1][mine], full[1][want])
        np.testing.assert_array_equal(cut[2][mine], full[2][want])
        assert np.all(np.diff(cut[2][mine]) >= 0)
    # centres are contiguous and ascending
    assert np.all(np.diff(cut[0][0]) >= 0)


def test_pbc_forms_and_empty():
    lat = 3.0 * np.eye(3)
    a = _sozai([[0.0, 0.0, 0.0]], lat, 3.5, pbc=True)
    b = _sozai([[0.0, 0.0, 0.0]], lat, 3.5, pbc=[True, True, True])
    c = _sozai([[0.0, 0.0, 0.0]], lat, 3.5, pbc=np.array([True, True, True]))
    for x in (b, c):
        for u, v in zip(a, x):
            np.testing.assert_array_equal(u, v)
    np.testing.assert_allclose(a[2], np.full(6, 3.0))
    slab = _sozai([[0.0, 0.0, 0.0]], lat, 3.5, pbc=(True, True, False))
    assert slab[2].size == 4
    none = _sozai(np.zeros((0, 3)), lat, 3.5)
    assert none[0].shape == (2, 0) and none[1].shape == (0, 3) and none[2].shape == (0,)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros((4, 2)), np.eye(3), 3.0), {}, "2-D|\\[N, 3\\]"),
        ((np.zeros((4, 3)), np.eye(3), -1.0), {}, "cutoff"),
        ((np.zeros((4, 3)), np.eye(3), float("nan")), {}, "cutoff"),
        ((np.zeros((4, 3)), np.eye(4), 3.0), {}, "lattice"),
        ((np.zeros((4, 3)), np.stack([np.eye(3)] * 2), 3.0), {}, "2 cells"),
        ((np.zeros((4, 3)), np.eye(3), 3.0), {"ptr": [0, 3]}, "ptr"),
        ((np.zeros((4, 3)), np.eye(3), 3.0), {"ptr": [0, 3, 2, 4]}, "non-decreasing"),
        ((np.zeros((4, 3)), np.eye(3), 3.0), {"max_neighbors": -5}, "max_neighbors"),
        ((np.zeros((4, 3)), np.eye(3), 3.0), {"pbc": [True, False]}, "pbc"),
        ((np.zeros((4, 3)), np.diag([1.0, 1.0, 0.0]), 3.0), {}, "zero"),
        ((np.full((4, 3), np.nan), np.eye(3), 3.0), {}, "finite"),
    ],
)
def test_bad_input_raises_input_error(args, kwargs, match):
    with pytest.raises(sozai.InputError, match=match):
        sozai.kernels.neighbor_list(*args, **kwargs)
