"""Design spaces from Python: Sobol against PyTorch's engine, enumeration
against itertools, constraints, critical budget, encoding and errors."""

import itertools

import numpy as np
import pytest
import torch

import sozai
from sozai import spaces


@pytest.mark.parametrize("dim,seed", [(1, 0), (3, 7), (12, 123)])
def test_sobol_equals_pytorch(dim, seed):
    ours = spaces.SobolEngine(dim, scramble=True, seed=seed)
    ref = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed)
    np.testing.assert_array_equal(ours.draw(1), ref.draw(1, dtype=torch.float64).numpy())
    np.testing.assert_array_equal(ours.draw(100), ref.draw(100, dtype=torch.float64).numpy())
    plain = spaces.SobolEngine(dim, scramble=False)
    np.testing.assert_array_equal(plain.draw(64),
                                  torch.quasirandom.SobolEngine(dim).draw(64, dtype=torch.float64).numpy())


def test_enumeration_equals_itertools_product():
    s = spaces.DesignSpace()
    s.add_composition("alloy", ["Fe", "Co", "Ni"], step=0.25)
    s.add_categorical("route", ["cast", "wrought", "powder"])
    s.add_integer("passes", 1, 2)
    comps = [c for c in itertools.product(range(5), repeat=3) if sum(c) == 4]
    expect = {(a / 4, b / 4, c / 4, r, p) for (a, b, c) in comps for r in range(3) for p in (1, 2)}
    assert s.grid_size == len(expect)
    got = set()
    for values, index in spaces.iterate(s, chunk=7):
        got.update(map(tuple, values.tolist()))
    assert got == expect


def test_constraints_and_critical_budget():
    s = (spaces.DesignSpace()
         .add_composition("magnet", ["Fe", "Nd", "Dy", "Co", "B"], high=[1, 0.4, 0.2, 0.3, 0.1], step=0.05)
         .add_continuous("T", 800, 1200, levels=5)
         .add_linear_constraint({"magnet.Nd": 1.0, "magnet.Dy": 1.0}, 0.3)
         .set_critical_budget(0.25))
    crit_total = 0
    for values, _ in spaces.iterate(s, chunk=5000):
        crit = s.critical_fraction(values)
        assert crit.max() <= 0.25 + 1e-9
        assert (values[:, 1] + values[:, 2] <= 0.3 + 1e-9).all()
        crit_total += len(values)
    assert crit_total > 0
    x = s.sample(300, seed=2, sobol=True)
    assert s.feasible(x).all()
    bad = np.array([0.4, 0.4, 0.0, 0.2, 0.0, 800.0])
    assert "linear constraint 0 violated" in s.violation(bad) or "critical" in s.violation(bad)
    # The built-in risk: Nd, Dy and Co are on both lists (1), B on one (0.5), Fe on neither (0).
    rows = np.array([[0, 1, 0, 0, 0, 800.0], [1, 0, 0, 0, 0, 800.0], [0, 0, 0, 0, 1, 800.0]])
    np.testing.assert_allclose(s.critical_fraction(rows), [1.0, 0.0, 0.5])
    custom = spaces.DesignSpace().add_composition("a", ["Fe", "Co"]).set_critical_budget(0.5, {"Co": 0.5})
    np.testing.assert_allclose(custom.critical_fraction(np.array([[0.2, 0.8]])), [0.4])


def test_encoding_and_describe():
    s = spaces.DesignSpace().add_continuous("T", 300, 900).add_categorical("route", ["cast", "powder"])
    s.add_composition("alloy", ["Fe", "Ni"])
    row = np.array([[450.0, 1.0, 0.3, 0.7]])
    np.testing.assert_allclose(s.encode(row), [[0.25, 0.0, 1.0, 0.3, 0.7]])
    assert s.encoded_names == ["T", "route=cast", "route=powder", "alloy.Fe", "alloy.Ni"]
    assert s.describe(row[0]) == {"T": "450", "route": "powder", "alloy": "Fe0.3Ni0.7"}
    assert [p["type"] for p in s.parameters] == ["continuous", "categorical", "composition"]


def test_space_errors():
    s = spaces.DesignSpace().add_continuous("T", 0, 1)
    with pytest.raises(sozai.InputError, match="already exists"):
        s.add_continuous("T", 0, 2)
    with pytest.raises(sozai.InputError, match="unknown element 'Qq'"):
        s.add_composition("c", ["Fe", "Qq"])
    with pytest.raises(sozai.InputError, match="cannot be enumerated"):
        s.enumerate(0, 10)
    with pytest.raises(sozai.InputError, match=r"needs candidates of shape \[n, 1\]"):
        s.encode(np.zeros((2, 3)))


def test_composition_bounds_as_one_number_or_per_element():
    a = sozai.spaces.DesignSpace().add_composition("c", ["Fe", "Ni", "Co"], 0.1, 0.6)
    b = sozai.spaces.DesignSpace().add_composition("c", ["Fe", "Ni", "Co"], [0.1] * 3, [0.6] * 3)
    assert a.parameters[0]["low"] == b.parameters[0]["low"] == [0.1] * 3
    with pytest.raises(sozai.InputError, match="high must be a number or one number per element"):
        sozai.spaces.DesignSpace().add_composition("c", ["Fe", "Ni"], 0.0, "lots")
