"""Pool campaigns from Python: invariants, save/load, the pool_campaign contract."""

import numpy as np
import pytest

import sozai


def _pool(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 3))
    y = -((X[:, 0] - 0.6) ** 2) - 0.3 * (X[:, 1] - 0.3) ** 2
    return X, y


def test_never_proposes_observed_or_pending():
    X, y = _pool()
    c = sozai.campaign.PoolCampaign(X, maximize=True, acquisition="logei", n_init=2, gp={"restarts": 2})
    seen = set()
    for _ in range(5):
        rows = list(c.ask(4))
        assert len(rows) == 4 and not (set(rows) & seen)
        seen.update(rows)
        c.tell(rows[:3], [float(y[r]) for r in rows[:3]])  # one stays pending
    assert len(c.pending) == 5


@pytest.mark.parametrize("suffix", [".json", ".h5"])
def test_save_load_continue_identical(tmp_path, suffix):
    if suffix == ".h5" and sozai.build_info()["hdf5"] == "none":
        pytest.skip("built without HDF5")
    X, y = _pool()

    def run(c, k):
        out = []
        for _ in range(k):
            rows = list(c.ask(2))
            c.tell(int(rows[0]), float(y[rows[0]]))
            out += rows
        return out

    a = sozai.campaign.PoolCampaign(X, maximize=False, gp={"restarts": 2})
    seq_a = run(a, 6)
    b = sozai.campaign.PoolCampaign(X, maximize=False, gp={"restarts": 2})
    seq_b = run(b, 3)
    path = tmp_path / ("state" + suffix)
    b.save(str(path))
    b2 = sozai.campaign.PoolCampaign.load(str(path))
    seq_b += run(b2, 3)
    assert seq_a == seq_b


def test_pool_campaign_contract():
    X, y = _pool(80)
    order = sozai.benchmark.pool_campaign(X, y, maximize=True, budget=15, seed=3, surrogate="gp",
                                          acquisition="logei", q=1, n_init=2)
    assert isinstance(order, list) and len(order) == 15 and len(set(order)) == 15
    assert order == sozai.benchmark.pool_campaign(X, y, True, 15, seed=3)
    # First n_init are random by seed: same for every acquisition.
    ucb = sozai.benchmark.pool_campaign(X, y, True, 15, seed=3, acquisition="ucb", q=3)
    assert ucb[:2] == order[:2]
    rnd = sozai.benchmark.random_baseline(80, 80, seed=1)
    assert sorted(rnd) == list(range(80))


def test_metrics_match_definitions():
    y = np.arange(100.0)
    member, k = sozai.benchmark.top_set(y, True)
    assert k == 5 and member[95:].all() and not member[:95].any()
    curve = sozai.benchmark.top_fraction_curve([99, 0, 98, 97, 96, 95], y, True)
    np.testing.assert_allclose(curve, [0.2, 0.2, 0.4, 0.6, 0.8, 1.0])
    bo = [[0.0, 0.5, 1.0]]
    rnd = [[0.0, 0.25, 0.5], [0.0, 0.25, 0.5]]
    assert sozai.benchmark.enhancement_factor(bo, rnd, 2) == pytest.approx(2.0)
    assert sozai.benchmark.acceleration_factor(bo, rnd, 0.5) == pytest.approx(1.5)


def test_bo_beats_random_on_a_real_pool(data_dir):
    ds = sozai.datasets.load_closed_loop("crossed_barrel")
    X, y = ds["X"], ds["Y"][:, 0]
    budget = 60
    bo = [sozai.benchmark.top_fraction_curve(sozai.benchmark.pool_campaign(X, y, True, budget, seed=s), y, True)
          for s in range(2)]
    rnd = [sozai.benchmark.top_fraction_curve(sozai.benchmark.random_baseline(len(y), budget, s), y, True)
           for s in range(200)]
    assert sozai.benchmark.enhancement_factor(bo, rnd, budget) > 2.0


def test_bad_input():
    X, y = _pool(20)
    c = sozai.campaign.PoolCampaign(X)
    r = c.ask(1)[0]
    c.tell(int(r), 1.0)
    with pytest.raises(sozai.InputError, match="already has a result"):
        c.tell(int(r), 2.0)
    with pytest.raises(sozai.InputError, match="outside the pool"):
        c.tell(500, 2.0)
    with pytest.raises(sozai.InputError, match="budget"):
        sozai.benchmark.pool_campaign(X, y, True, budget=21)
    with pytest.raises(sozai.StorageError):
        sozai.campaign.PoolCampaign.load("/nonexistent/state.json")


def test_run_pool_benchmark_from_python(capsys):
    X, y = _pool(60)
    r = sozai.benchmark.run_pool_benchmark(X, y, True, acquisitions=["ucb"], budget=30, seeds=2, random_seeds=40)
    assert [a["name"] for a in r["arms"]] == ["random", "gp+ucb"]
    assert r["top_required"] == 3 and len(r["arms"][0]["orders"]) == 40
    assert len(r["arms"][1]["mean_top_fraction"]) == 30
    assert len(r["arms"][0]["mean_top_fraction"]) == 60  # random search runs through the whole pool
    assert r["arms"][1]["mean_top_fraction"][29] > r["arms"][0]["mean_top_fraction"][29]
    assert set(r["arms"][1]["ef"]) == {10, 25, 50}
    assert capsys.readouterr().err.count("[gp+ucb] seed") == 2


# ---------------------------------------------------------------- settings, outcomes, old state

def test_settings_defaults_and_outcomes_as_data():
    s = sozai.campaign.campaign_settings()
    assert s["acquisition"] == "qlognei" and s["n_init"] == 4 and s["surrogate"] == "gp"
    assert s["outcomes"] == [{"direction": "maximize"}]
    assert sozai.campaign.campaign_settings(maximize=False)["outcomes"] == [{"direction": "minimize"}]
    two = [{"name": "yield", "direction": "maximize"}, {"name": "cost", "direction": "at_most", "limit": 3.5}]
    X, y = _pool(40)
    c = sozai.campaign.PoolCampaign(X, outcomes=two, gp={"restarts": 2}, seed=np.int64(3))
    assert c.outcomes == two and c.settings["acquisition"] == "qlognei" and c.settings["seed"] == 3
    assert sozai.campaign.PoolCampaign(X, outcomes=two + [{"direction": "minimize"}]).settings["acquisition"] == \
        "qlognehvi"
    with pytest.raises(sozai.InputError, match="give maximize or outcomes, not both"):
        sozai.campaign.PoolCampaign(X, maximize=True, outcomes=two)
    with pytest.raises(sozai.InputError, match=r"settings: outcomes\[1\]: name 'yield' is used twice"):
        sozai.campaign.PoolCampaign(X, outcomes=[two[0], two[0]])
    with pytest.raises(sozai.InputError, match="settings: unknown field 'restarts'"):
        sozai.campaign.PoolCampaign(X, restarts=2)


BAD_SETTINGS = [  # (setting, value, the one error text)
    ("n_init", -1, "settings: n_init must be >= 0, got -1"),
    ("acquisition", "qfoo", "settings: unknown acquisition 'qfoo'; expected one of ei, logei"),
    ("mc_samples", "many", "settings: field 'mc_samples' has the wrong type: 'mc_samples' must be a whole number, "
                           "got string"),
    ("seed", -3, "settings: field 'seed' has the wrong type: 'seed' must be a non-negative whole number, got number"),
]


@pytest.mark.parametrize("key,value,message", BAD_SETTINGS)
def test_an_invalid_setting_gets_the_same_error_everywhere(key, value, message, sozai_cli, tmp_path):
    import json
    import subprocess
    # Python keyword arguments
    with pytest.raises(sozai.InputError) as py:
        sozai.campaign.PoolCampaign(_pool(20)[0], **{key: value})
    assert message in str(py.value)
    # the command line (--settings)
    pool = tmp_path / "pool.csv"
    pool.write_text("a,b\n0.1,0.2\n0.3,0.4\n")
    r = subprocess.run([str(sozai_cli), "campaign", "new", "--pool", str(pool), "--state", str(tmp_path / "s.json"),
                        "--settings", json.dumps({key: value})], capture_output=True, text=True)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "s.json").exists()
    # the lab service
    lab = sozai.lab.LabService(str(tmp_path / "lab.db"))
    admin = lab.authenticate("Bearer " + lab.bootstrap_admin_token())
    with pytest.raises(sozai.lab.LabError) as err:
        lab.create_campaign(admin, {"name": "c", "parameters": [{"name": "x", "type": "continuous", "low": 0,
                                                                  "high": 1}],
                                    "objectives": [{"name": "y", "direction": "maximize"}], key: value})
    assert err.value.status == 400 and message in err.value.message


def test_state_saved_before_the_redesign_loads_and_goes_on(fixtures, tmp_path):
    import json
    d = fixtures / "campaign_state_v1"
    e = json.loads((d / "expected.json").read_text())
    names = ["pool_single.json"] + ([] if sozai.build_info()["hdf5"] == "none" else ["pool_single.h5"])
    for name in names:
        c = sozai.campaign.PoolCampaign.load(str(d / name))
        assert c.observed_indices.tolist() == e["pool_single"]["observed"]
        np.testing.assert_array_equal(c.observed_values, e["pool_single"]["values"])
        assert c.pending.tolist() == e["pool_single"]["pending"] and c.ask_count == 3 and not c.maximize
        assert c.outcomes == [{"direction": "minimize"}] and c.settings["acquisition"] == "ucb"
        c.save(str(tmp_path / "now.json"))
        state = json.loads((tmp_path / "now.json").read_text())
        assert state["version"] == 2 and "maximize" not in state
        rows = c.ask(2).tolist()
        assert len(rows) == 2 and not set(rows) & set(e["pool_single"]["observed"] + e["pool_single"]["pending"])
    m = sozai.campaign.PoolCampaign.load(str(d / "pool_outcomes.json"))
    assert m.outcomes == [{"direction": "maximize"}, {"direction": "minimize"},
                          {"direction": "at_most", "limit": 1.2}]
    s = sozai.campaign.SpaceCampaign.load(str(d / "space.json"))
    np.testing.assert_array_equal(s.observed_candidates, e["space"]["observed"])
    assert s.ask(1).shape == (1, 3)
    # The old lab store: the in-process service answers from it.
    info = json.loads((d / "lab_v1.json").read_text())
    db = tmp_path / "lab.db"
    db.write_bytes((d / "lab_v1.db").read_bytes())
    lab = sozai.lab.LabService(str(db))
    admin = lab.authenticate("Bearer " + info["admin_token"])
    got = lab.ask(admin, info["pool_campaign"], {"count": 2})["experiments"]
    assert len(got) == 2
    assert lab.get_campaign(admin, info["space_campaign"])["observed"] == 4
