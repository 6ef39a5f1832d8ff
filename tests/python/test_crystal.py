"""Crystals: CIF/POSCAR parsing and periodic crystal graphs against pymatgen.

Every perov_5_val CIF parses to pymatgen's structure (lattice to 1e-6, the
same sites as a multiset); crystal graphs on 50 of them hold pymatgen's
neighbour list (edges with images and distances); max_neighbors keeps the
nearest; POSCAR round trips through pymatgen's Poscar writer; hand-made
CIFs with symmetry operators expand like pymatgen's CifParser.
"""

import pathlib

import numpy as np
import pytest

import sozai
from sozai import featurize as F

pd = pytest.importorskip("pandas")
pmg_core = pytest.importorskip("pymatgen.core")
pmg_cif = pytest.importorskip("pymatgen.io.cif")
pmg_vasp = pytest.importorskip("pymatgen.io.vasp")

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "structures"
CUTOFF = 8.0
TOL = 1e-6


def _pmg_from_cif(text):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pmg_core.Structure.from_str(text, fmt="cif")


@pytest.fixture(scope="module")
def perov(data_dir):
    df = pd.read_csv(data_dir / "ceramics" / "perov_5_val.csv")
    assert len(df) == 3787
    return df.cif.tolist()


def _site_permutation(ours, theirs, what):
    """perm[k] = pymatgen index of our site k: same species, same wrapped
    fractional position (periodic distance < TOL in every coordinate); the
    map must be a bijection, i.e. the two are equal as multisets."""
    f_ours = np.asarray(ours.frac_coords)
    f_theirs = np.array([s.frac_coords for s in theirs])
    sp_theirs = [s.specie.symbol for s in theirs]
    assert len(f_ours) == len(f_theirs), f"{what}: {len(f_ours)} sites, pymatgen {len(f_theirs)}"
    perm = []
    for k, (sp, f) in enumerate(zip(ours.species, f_ours)):
        d = f_theirs - f
        d -= np.round(d)
        hit = [m for m in np.flatnonzero(np.abs(d).max(axis=1) < TOL) if sp_theirs[m] == sp]
        assert len(hit) == 1, f"{what}: our site {k} ({sp} at {f}) matches pymatgen sites {hit}"
        perm.append(hit[0])
    assert sorted(perm) == list(range(len(theirs))), f"{what}: sites do not pair one to one"
    return np.array(perm)


def _assert_structures_equal(ours, theirs, what):
    np.testing.assert_allclose(ours.lattice, theirs.lattice.matrix, atol=TOL, rtol=0, err_msg=what)
    perm = _site_permutation(ours, theirs, what)
    np.testing.assert_allclose(ours.cart_coords, ours.frac_coords @ ours.lattice, atol=1e-9)
    np.testing.assert_array_equal(ours.atomic_numbers, [theirs[m].specie.Z for m in perm])
    return perm


def test_every_perov_cif_matches_pymatgen(perov):
    for row, text in enumerate(perov):
        ours = F.parse_structure(text)
        _assert_structures_equal(ours, _pmg_from_cif(text), f"perov_5_val row {row}")
        assert ours.occupancies.tolist() == [1.0] * len(ours)


def _pmg_edges(structure, cutoff, perm_inv):
    """pymatgen's neighbour list as {(i, j, S): d} in OUR site indices."""
    c, p, off, d = structure.get_neighbor_list(cutoff)
    return {
        (int(perm_inv[a]), int(perm_inv[b]), *map(int, np.round(s))): float(x) for a, b, s, x in zip(c, p, off, d)
    }


def _our_edges(g):
    """Our graph as ASE/pymatgen-style (centre i, neighbour j, S) -> d: the
    centre is the target edge_index[1] and images are the centre's shift,
    so S = -images (see crystal_graph's docstring)."""
    ei, img, d = g.edge_index, g.images, g.distance
    out = {}
    for s_, t_, im, x in zip(ei[0], ei[1], img, d):
        key = (int(t_), int(s_), *(-int(v) for v in im))
        assert key not in out, f"duplicate edge {key}"
        out[key] = float(x)
    return out


def _sample(perov, n=50):
    rows = np.linspace(0, len(perov) - 1, n).astype(int)
    return [(int(r), perov[r]) for r in rows]


def test_crystal_graphs_match_pymatgen_neighbor_list(perov):
    for row, text in _sample(perov):
        ours = F.parse_structure(text)
        theirs = _pmg_from_cif(text)
        perm = _site_permutation(ours, theirs, f"row {row}")
        perm_inv = np.empty_like(perm)
        perm_inv[perm] = np.arange(len(perm))
        want = _pmg_edges(theirs, CUTOFF, perm_inv)
        g = F.crystal_graph(text, cutoff=CUTOFF, max_neighbors=None)
        assert g.kind == "crystal"
        got = _our_edges(g)
        missing, extra = set(want) - set(got), set(got) - set(want)
        # Only pairs within rounding of the cutoff may differ (pymatgen keeps d <= r + 1e-8).
        assert all(abs(want[k] - CUTOFF) < TOL for k in missing), f"row {row}: missing {sorted(missing)[:5]}"
        assert all(abs(got[k] - CUTOFF) < TOL for k in extra), f"row {row}: extra {sorted(extra)[:5]}"
        common = sorted(set(want) & set(got))
        assert len(common) > 0
        np.testing.assert_allclose([got[k] for k in common], [want[k] for k in common], atol=TOL, rtol=0)
        # Same edges through get_all_neighbors (the other pymatgen API).
        n_all = sum(len(nbrs) for nbrs in theirs.get_all_neighbors(CUTOFF))
        assert abs(n_all - g.num_edges) <= len(missing) + len(extra)
        # Fields the models read.
        assert g.edge_attr.shape == (g.num_edges, 40) and g.edge_attr.dtype == np.float32
        assert g.x.shape == (g.num_nodes, 100)
        np.testing.assert_array_equal(g.x.argmax(1) + 1, ours.atomic_numbers)
        np.testing.assert_allclose(g.positions, ours.cart_coords)
        np.testing.assert_allclose(g.lattice, ours.lattice)


def test_max_neighbors_keeps_the_nearest(perov):
    for row, text in _sample(perov, 20):
        full = F.crystal_graph(text, cutoff=CUTOFF, max_neighbors=None)
        g = F.crystal_graph(text)  # 8 Å, 12 neighbours: the contract's defaults
        all_edges = _our_edges(full)
        kept = _our_edges(g)
        assert set(kept) <= set(all_edges)
        centre = g.edge_index[1]
        for i in range(g.num_nodes):
            d_kept = g.distance[centre == i]
            d_all = np.sort(full.distance[full.edge_index[1] == i])
            assert len(d_kept) == min(12, len(d_all))
            # The 12 kept are the 12 nearest (ties at the 12th: any of them, by index).
            np.testing.assert_allclose(d_kept, d_all[: len(d_kept)], atol=TOL, rtol=0)
            assert np.all(np.diff(d_kept) >= 0), "edges of a centre are nearest first"


def test_batch_equals_single_graphs(perov):
    texts = [t for _, t in _sample(perov, 30)]
    b = F.crystal_graphs(texts, cutoff=CUTOFF, max_neighbors=12)
    assert b.num_graphs == len(texts) and len(b) == len(texts)
    assert b.ptr[0] == 0 and b.ptr[-1] == b.num_nodes and b.edge_ptr[-1] == b.num_edges
    for k, t in enumerate(texts):
        g = F.crystal_graph(t)
        part = b.graph(k)
        np.testing.assert_array_equal(part.edge_index, g.edge_index)
        np.testing.assert_array_equal(part.images, g.images)
        np.testing.assert_array_equal(part.distance, g.distance)
        np.testing.assert_array_equal(part.edge_attr, g.edge_attr)
        np.testing.assert_array_equal(part.x, g.x)
        np.testing.assert_array_equal(b.batch[b.ptr[k] : b.ptr[k + 1]], k)
    # Structures work as input too.
    b2 = F.crystal_graphs([F.parse_structure(t) for t in texts], max_neighbors=None)
    assert b2.num_edges > b.num_edges


def test_gaussian_expansion_is_cgcnn():
    rng = np.random.default_rng(0)
    d = np.concatenate([[0.0, 1.3, 7.9, 8.0, 0.1025, 9.5, 100.0, 1e6], rng.uniform(0, 8, 1000)])
    for cutoff, n in [(8.0, 40), (6.0, 100), (5.0, 2)]:
        e = F.gaussian_expansion(d, cutoff=cutoff, n=n)
        mu = np.linspace(0, cutoff, n)
        sigma = mu[1] - mu[0]
        want = np.exp(-((d[:, None] - mu) ** 2) / sigma**2)
        assert e.shape == (len(d), n) and e.dtype == np.float32
        np.testing.assert_allclose(e, want, rtol=1e-5, atol=1e-30)


def test_poscar_round_trip_against_pymatgen(perov, tmp_path):
    for row, text in _sample(perov, 20):
        theirs = _pmg_from_cif(text)
        for direct in (True, False):
            poscar = pmg_vasp.Poscar(theirs).get_string(direct=direct, significant_figures=12)
            ours = F.parse_poscar(poscar)
            assert ours.species == [s.specie.symbol for s in theirs]
            np.testing.assert_allclose(ours.lattice, theirs.lattice.matrix, atol=TOL, rtol=0)
            np.testing.assert_allclose(ours.cart_coords, theirs.cart_coords, atol=TOL, rtol=0)
            # And pymatgen reads back what we read.
            back = pmg_vasp.Poscar.from_string(poscar).structure
            np.testing.assert_allclose(ours.frac_coords, back.frac_coords, atol=TOL, rtol=0)
    # Hand-made VASP 4 (species on the comment line), volume scale, Cartesian, selective dynamics.
    text = (FIXTURES / "GaAs_vasp4_cartesian.poscar").read_text()
    # pymatgen does not read VASP 4 species from the comment line (ASE does); tell it.
    theirs = pmg_vasp.Poscar.from_string(text, default_names=["Ga", "As"]).structure
    ours = F.parse_structure(text)
    assert ours.species == [s.specie.symbol for s in theirs] == ["Ga", "As"]
    np.testing.assert_allclose(ours.lattice, theirs.lattice.matrix, atol=TOL)
    assert abs(np.linalg.det(ours.lattice)) == pytest.approx(45.0)
    # VASP scales Cartesian coordinates like the cell; pymatgen 2022.11 multiplies them by the raw
    # (negative, volume) scale line instead, so compare with the value VASP means: (1.4, 1.4, 1.4) in a
    # cell of 2.8-long vectors is (1/4, 1/4, 1/4).
    np.testing.assert_allclose(ours.frac_coords, [[0, 0, 0], [0.25, 0.25, 0.25]], atol=TOL)
    # VASP 4 with a symbol after each atom (pymatgen's convention).
    text = "CsCl\n4.1\n1 0 0\n0 1 0\n0 0 1\n1 1\nDirect\n0 0 0 Cs\n0.5 0.5 0.5 Cl\n"
    theirs = pmg_vasp.Poscar.from_string(text).structure
    ours = F.parse_poscar(text)
    assert ours.species == [s.specie.symbol for s in theirs] == ["Cs", "Cl"]
    np.testing.assert_allclose(ours.cart_coords, theirs.cart_coords, atol=TOL)


@pytest.mark.parametrize("name", ["NaCl_Fm-3m.cif", "ZnO_P6_3mc.cif", "perov_5_val_row0.cif"])
def test_symmetry_expansion_matches_pymatgen(name):
    text = (FIXTURES / name).read_text()
    ours = F.parse_structure(text)
    theirs = _pmg_from_cif(text)
    _assert_structures_equal(ours, theirs, name)
    if name.startswith("NaCl"):
        assert len(ours) == 8
        g = F.crystal_graph(text, cutoff=3.0, max_neighbors=None)
        np.testing.assert_allclose(g.distance, 2.82, atol=1e-5)  # 6 unlike neighbours each
        assert g.num_edges == 8 * 6


def test_second_data_block_and_label_species():
    text = (FIXTURES / "messy.cif").read_text()
    ours = F.parse_cif(text, block=1)
    # pymatgen's line-based reader trips over block 0's text field and loops; give it block 1 alone.
    theirs = _pmg_from_cif(text[text.index("data_FeO_rocksalt") :])
    _assert_structures_equal(ours, theirs, "messy.cif block 1")
    first = F.parse_cif(text)
    assert first.species == ["Sr", "La", "Ti", "O", "O", "O"]
    np.testing.assert_allclose(first.occupancies, [0.9, 0.1, 1, 1, 1, 1])
    np.testing.assert_allclose(first.oxidation_states, [2, 3, 4, -2, -2, -2])
    g = F.crystal_graph(first)
    np.testing.assert_allclose(g.node_weight, [0.9, 0.1, 1, 1, 1, 1], rtol=1e-6)


def test_errors_name_the_line():
    good = (FIXTURES / "perov_5_val_row0.cif").read_text()
    lines = good.splitlines()
    k = next(i for i, l in enumerate(lines) if l.startswith("_cell_length_b"))
    bad = "\n".join(lines[:k] + ["_cell_length_b   4.2x"] + lines[k + 1 :])
    with pytest.raises(sozai.InputError, match=rf"line {k + 1}: _cell_length_b = '4.2x'"):
        F.crystal_graph(bad)
    with pytest.raises(sozai.InputError, match=r"structure 1: CIF line"):
        F.crystal_graphs([good, bad])
    k = next(i for i, l in enumerate(lines) if l.strip().startswith("Cd "))
    bad = "\n".join(lines[:k] + [lines[k].replace("Cd  Cd1", "Qx  Qx1")] + lines[k + 1 :])
    with pytest.raises(sozai.InputError, match=rf"line {k + 1}: unknown element 'Qx'"):
        F.parse_structure(bad)
    with pytest.raises(sozai.InputError, match="POSCAR line 3"):
        F.parse_structure("x\n1.0\n1 0 zero\n0 1 0\n0 0 1\nSi\n1\nDirect\n0 0 0\n")
    with pytest.raises(sozai.InputError, match="max_neighbors"):
        F.crystal_graph(good, max_neighbors=-3)
    with pytest.raises(sozai.InputError, match="cutoff"):
        F.crystal_graph(good, cutoff=0.0)
    with pytest.raises(sozai.UnsupportedError, match="symmetry operators"):
        F.parse_cif("data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n_cell_angle_alpha 90\n"
                    "_cell_angle_beta 90\n_cell_angle_gamma 90\n_symmetry_Int_Tables_number 225\n"
                    "loop_\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
                    "Na 0 0 0\n")
