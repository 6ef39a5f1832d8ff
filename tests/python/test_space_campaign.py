"""Design spaces as JSON and campaigns over continuous/mixed spaces from Python."""

import json

import numpy as np
import pytest

import sozai
from sozai.spaces import DesignSpace, candidate_from_json, candidate_to_json, space_from_json, space_to_json

FAST_OPT = {"restarts": 3, "raw_samples": 128, "max_iter": 40, "rounds": 2}


def _space():
    s = DesignSpace()
    s.add_continuous("T", 0.0, 1.0).add_composition("c", ["Fe", "Co", "Ni"]).add_categorical("route", ["a", "b"])
    s.add_linear_constraint({"T": 1.0, "c.Co": 1.0}, 1.2)
    return s


def _objective(X):
    X = np.atleast_2d(X)
    return -((X[:, 0] - 0.6) ** 2) - (X[:, 2] - 0.5) ** 2 + 0.3 * (X[:, 4] == 1.0)


def test_space_json_round_trip():
    s = _space()
    s.forbid_elements(["Ni"]).set_critical_budget(0.5, {"Co": 0.8})
    spec = space_to_json(s)
    assert [p["type"] for p in spec["parameters"]] == ["continuous", "composition", "categorical"]
    back = space_from_json(json.dumps(spec))
    assert space_to_json(back) == spec
    X = s.sample(50, seed=2)
    np.testing.assert_array_equal(back.encode(X), s.encode(X))
    np.testing.assert_array_equal(back.feasible(X), s.feasible(X))
    bounds = s.encoded_bounds
    E = s.encode(X)
    assert bounds.shape == (2, s.encoded_width) and (E >= bounds[0]).all() and (E <= bounds[1]).all()


def test_candidate_named_values_round_trip_and_errors():
    s = _space()
    for row in s.sample(10, seed=1):
        named = candidate_to_json(s, row)
        assert named["route"] in ("a", "b") and set(named["c"]) == {"Fe", "Co", "Ni"}
        np.testing.assert_array_equal(candidate_from_json(s, named), row)
    named = candidate_to_json(s, s.sample(1, seed=3)[0])
    with pytest.raises(sozai.InputError, match="parameter 'T' is missing"):
        candidate_from_json(s, {k: v for k, v in named.items() if k != "T"})
    with pytest.raises(sozai.InputError, match="unknown parameter 'P'"):
        candidate_from_json(s, dict(named, P=1))
    with pytest.raises(sozai.InputError, match="outside the design space"):
        candidate_from_json(s, dict(named, T=3.0))
    with pytest.raises(sozai.InputError, match=r"parameters\[0\] \('T'\): missing field 'high'"):
        space_from_json({"parameters": [{"name": "T", "type": "continuous", "low": 0}]})


def test_space_campaign_finds_the_optimum_and_respects_the_space():
    s = _space()
    c = sozai.campaign.SpaceCampaign(s, maximize=True, acquisition="logei", n_init=4, seed=1, gp={"restarts": 2},
                                     optimizer=FAST_OPT)
    for _ in range(8):
        X = c.ask(2)
        assert X.shape == (2, s.raw_width) and len(c.pending) == 2
        assert all(s.violation(x) == "" for x in X)
        c.tell(X, _objective(X))
    assert c.num_observed == 16 and len(c.pending) == 0
    row, value = c.best()
    assert value > 0.28
    np.testing.assert_array_equal(c.observed_candidates[row], c.observed_candidates[c.pareto_front()[0]])


def test_space_campaign_save_load_continue(tmp_path):
    def fresh():
        return sozai.campaign.SpaceCampaign(_space(), acquisition="qlognei", n_init=3, seed=4, gp={"restarts": 2},
                                            mc_samples=32, optimizer=FAST_OPT)

    a = fresh()
    X = a.ask(3)
    a.tell(X, _objective(X))
    held = a.ask(1)
    path = tmp_path / "space.json"
    a.save(str(path))
    b = sozai.campaign.SpaceCampaign.load(str(path))
    np.testing.assert_array_equal(b.pending, held)
    for _ in range(2):
        xa, xb = a.ask(1), b.ask(1)
        np.testing.assert_array_equal(xa, xb)
        a.tell(xa, _objective(xa))
        b.tell(xb, _objective(xb))
    assert a.to_json() == b.to_json()


def test_space_campaign_bad_input_changes_nothing():
    c = sozai.campaign.SpaceCampaign(_space(), n_init=2, optimizer=FAST_OPT)
    X = c.ask(2)
    before = c.to_json()
    with pytest.raises(sozai.InputError, match="candidate 1 .* outside the design space"):
        c.tell(np.vstack([X[0], [5.0, 0.2, 0.3, 0.5, 0.0]]), [1.0, 2.0])
    with pytest.raises(sozai.InputError, match="not finite"):
        c.tell(X, [1.0, float("nan")])
    with pytest.raises(sozai.InputError, match="not pending"):
        c.cancel([0.5, 0.2, 0.3, 0.5, 0.0])
    with pytest.raises(sozai.InputError, match="unknown field 'restart'"):
        sozai.campaign.SpaceCampaign(_space(), optimizer={"restart": 2})
    assert c.to_json() == before
    c.cancel(X[0])
    assert len(c.pending) == 1


def test_space_campaign_several_outcomes():
    s = DesignSpace()
    s.add_continuous("x", 0.0, 1.0).add_continuous("y", 0.0, 1.0)
    c = sozai.campaign.SpaceCampaign(s, acquisition="qnehvi", outcomes=[{"direction": "maximize"}, {"direction": "maximize"}, {"direction": "at_most", "limit": 1.2}],
                                     n_init=4, gp={"restarts": 2}, mc_samples=32, optimizer=FAST_OPT)
    for _ in range(3):
        for x in c.ask(2):
            c.tell_outcomes(x, [x[0], x[1], x[0] + x[1]])
    Y = c.observed_outcomes
    assert Y.shape == (6, 3)
    front = c.pareto_front()
    assert len(front) >= 1 and (Y[front, 2] <= 1.2).all()
    with pytest.raises(sozai.InputError, match="pareto_front"):
        c.best()
