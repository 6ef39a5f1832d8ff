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
