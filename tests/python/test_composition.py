"""Compositions, the element table and critical elements from Python.

Independent oracles: magpie.csv read with pandas (element table), pymatgen's
Composition (fractions of every formula in the shared alloy and ceramic
sets), numpy statistics over pymatgen's fractions (the 110 features).
"""

import math

import numpy as np
import pytest

import sozai
from sozai import featurize as F

SETS = [
    ("alloys/MPEA_dataset.csv", "FORMULA", 1545),
    ("alloys/matbench_steels_yield.csv", "formula", 312),
    ("ceramics/matbench_castelli.csv", "formula", 18928),
    ("ceramics/matbench_dielectric.csv", "formula", 4764),
    ("ceramics/matbench_expt_gap.csv", "formula", 4604),
]


def formulas_of(data_dir, path, column):
    import pandas as pd
    return pd.read_csv(data_dir / path)[column].astype(str).tolist()


@pytest.fixture(scope="module")
def magpie(data_dir):
    import pandas as pd
    return pd.read_csv(data_dir / "elements" / "magpie.csv").set_index("element")


def test_composition_contract():
    c = F.composition("Ca(OH)2")
    assert isinstance(c, dict) and list(c) == ["Ca", "O", "H"]
    assert all(type(v) is float for v in c.values())
    assert c == pytest.approx({"Ca": 0.2, "O": 0.4, "H": 0.4})
    assert math.isclose(sum(F.composition("Fe0.620C0.000953Mn0.000521Si0.00102").values()), 1.0, rel_tol=1e-15)
    assert F.composition("Al0.25 Co1 Fe1 Ni1") == pytest.approx({"Al": 1 / 13, "Co": 4 / 13, "Fe": 4 / 13, "Ni": 4 / 13})
    assert F.composition("(Ba0.5Sr0.5)TiO3") == pytest.approx({"Ba": 0.1, "Sr": 0.1, "Ti": 0.2, "O": 0.6})
    assert F.composition("K12O16V4") == pytest.approx({"K": 12 / 32, "O": 0.5, "V": 4 / 32})
    assert F.composition("CuSO4·5H2O") == pytest.approx({"Cu": 1 / 21, "S": 1 / 21, "O": 9 / 21, "H": 10 / 21})
    assert F.composition("K4[Fe(CN)6]") == pytest.approx({"K": 4 / 17, "Fe": 1 / 17, "C": 6 / 17, "N": 6 / 17})


def test_parse_formula_raw_amounts():
    c = F.parse_formula("[Co(NH3)6]2(SO4)3")
    assert c.symbols == ["Co", "N", "H", "S", "O"]
    assert c.amounts == pytest.approx([2, 12, 36, 3, 12])
    assert c.total == pytest.approx(65)
    assert c.atomic_numbers == [27, 7, 1, 16, 8]
    assert len(c) == 5 and c.as_dict()["H"] == pytest.approx(36 / 65)


@pytest.mark.parametrize("formula,fragment,position", [
    ("", "empty formula", 1),
    ("AlXx2", "unknown element 'Xx'", 3),
    ("Fe(Ni", "unbalanced '('", 3),
    ("FeNi)2", "unbalanced ')'", 5),
    ("Fe-1", "negative amounts", 3),
    ("Fe·Xx", "unknown element 'Xx'", 4),
    ("Fe0", "total amount is 0", None),
])
def test_errors_name_formula_and_position(formula, fragment, position):
    with pytest.raises(sozai.InputError) as e:
        F.composition(formula)
    msg = str(e.value)
    assert fragment in msg and f'"{formula}"' in msg
    if position is not None:
        assert f"at character {position} " in msg


def test_batch_error_names_the_row():
    with pytest.raises(sozai.InputError, match=r"formula 1: .*'Qq'"):
        F.composition_features(["NaCl", "Qq2"])


@pytest.mark.parametrize("path,column,rows", SETS)
def test_every_shared_formula_matches_pymatgen(data_dir, path, column, rows):
    from pymatgen.core import Composition
    formulas = formulas_of(data_dir, path, column)
    assert len(formulas) == rows
    differ = []
    for f in formulas:
        ours = F.composition(f)
        theirs = Composition(f).fractional_composition.get_el_amt_dict()
        if set(ours) != set(theirs) or any(
                not math.isclose(ours[k], theirs[k], rel_tol=1e-9, abs_tol=0) for k in ours):
            differ.append((f, ours, theirs))
    assert not differ, f"{len(differ)} formulas read differently, e.g. {differ[:3]}"


def test_element_table_equals_magpie_csv(magpie):
    t = F.element_table()
    assert t["property_names"] == list(magpie.columns)
    assert t["properties"].shape == (103, 22) and t["properties"].dtype == np.float64
    assert list(t["Z"]) == list(range(1, 104))
    sym = t["symbol"]
    for el, row in magpie.iterrows():
        z = sym.index(el)
        np.testing.assert_array_equal(t["properties"][z], row.to_numpy(dtype=np.float64), err_msg=el)
    missing = [z for z, s in enumerate(sym) if s not in magpie.index]
    assert [sym[z] for z in missing] == ["Cf", "Es", "Fm", "Md", "No", "Lr"]
    assert np.isnan(t["properties"][missing]).all()


def test_features_match_numpy_over_pymatgen_fractions(data_dir, magpie):
    """The statistics a researcher without matminer would compute: pymatgen
    fractions, magpie.csv values, numpy."""
    from pymatgen.core import Composition
    formulas = (formulas_of(data_dir, *SETS[0][:2]) + formulas_of(data_dir, *SETS[1][:2])
                + formulas_of(data_dir, *SETS[4][:2])[::5])
    P = magpie.to_numpy(dtype=np.float64)
    index = {el: i for i, el in enumerate(magpie.index)}
    W = np.zeros((len(formulas), len(index)))
    for r, f in enumerate(formulas):
        for el, x in Composition(f).fractional_composition.get_el_amt_dict().items():
            W[r, index[el]] = x
    mean = W @ P
    avg_dev = np.einsum("ne,nep->np", W, np.abs(P[None, :, :] - mean[:, None, :]))
    present = (W > 0)[:, :, None]
    lo = np.where(present, P[None], np.inf).min(axis=1)
    hi = np.where(present, P[None], -np.inf).max(axis=1)
    expected = np.stack([mean, avg_dev, lo, hi, hi - lo], axis=2).reshape(len(formulas), 110)

    got = F.composition_features(formulas)
    assert got.shape == (len(formulas), 110) and got.dtype == np.float32
    # float32 output: relative 1e-6 (float32 rounding is 6e-8), plus an
    # absolute floor, relative to each property's scale, for deviations that
    # cancel to ~0 in double precision on either side.
    scale = np.abs(P).max(axis=0).repeat(5)
    np.testing.assert_allclose(got / scale, expected / scale, rtol=1e-6, atol=1e-12)
    names = F.composition_feature_names()
    assert len(names) == 110 and names[:5] == ["mean_Number", "avg_dev_Number", "min_Number", "max_Number",
                                                 "range_Number"]
    assert names[5 * 21 + 4] == "range_SpaceGroupNumber"


def test_features_single_and_missing():
    one = F.composition_features("NaCl")
    assert one.shape == (110,)
    np.testing.assert_array_equal(one[:5], [14, 3, 11, 17, 6])
    # Cf lacks every property: CfFe3 has Fe's statistics (renormalised).
    np.testing.assert_allclose(F.composition_features("CfFe3"), F.composition_features("Fe"), rtol=1e-7, atol=1e-12)
    assert np.isnan(F.composition_features("Cf")).all()


def test_composition_graph():
    g = F.composition_graph("LiFePO4")
    assert g.kind == "composition" and g.num_nodes == 4 and g.num_edges == 12
    assert list(g.atomic_number) == [3, 26, 15, 8]
    np.testing.assert_allclose(g.node_weight, [1 / 7, 1 / 7, 1 / 7, 4 / 7], rtol=1e-6)
    ei = g.edge_index
    assert ei.shape == (2, 12) and (ei[0] != ei[1]).all()
    assert len({(a, b) for a, b in ei.T}) == 12
    np.testing.assert_array_equal(g.edge_attr[:, 0], g.node_weight[ei[0]])
    t = F.element_table()
    P = t["properties"][:97]
    z = g.atomic_number - 1
    np.testing.assert_allclose(g.x, (t["properties"][z] - P.mean(0)) / P.std(0), rtol=1e-5, atol=1e-6)
    single = F.composition_graph("Fe")
    assert single.num_nodes == 1 and single.num_edges == 0 and single.edge_index.shape == (2, 0)
    b = F.batch_graphs([g, single])
    assert b.num_graphs == 2 and b.num_nodes == 5 and b.num_edges == 12


def test_critical_elements():
    for s in ["Co", "Li", "Nd", "Dy"]:
        assert F.supply_risk(s) == 1.0 and F.usgs_2022_critical(s) and F.eu_2023_critical(s)
    for s in ["Fe", "O"]:
        assert F.supply_risk(s) == 0.0 and not F.usgs_2022_critical(s) and not F.eu_2023_critical(s)
    assert F.supply_risk("Cu") == 0.5 and F.supply_risk("Zr") == 0.5
    lists = F.critical_materials()
    assert len(lists["usgs_2022"]) == 50 and len(lists["eu_2023"]) == 34
    assert ("Heavy rare earth elements (HREE)",
            ["Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"]) in lists["eu_2023"]
    t = F.element_table()
    assert t["usgs_2022_critical"].sum() == 50 and t["eu_2023_critical"].sum() == 48
    np.testing.assert_array_equal(t["supply_risk"],
                                  0.5 * t["usgs_2022_critical"] + 0.5 * t["eu_2023_critical"])
    assert F.critical_fraction("Fe1 Co1") == pytest.approx(0.5)
    assert F.critical_fraction("Nd2Fe14B") == pytest.approx(3 / 17)
    assert F.critical_fraction("Fe2O3") == 0.0
    with pytest.raises(sozai.InputError, match="'Qq'"):
        F.supply_risk("Qq")
