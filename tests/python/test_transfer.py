"""Priors and transfer surrogates from Python: sozai.campaign.Prior, PoolCampaign(priors=, columns=),
save/load with attach_priors, and sozai.benchmark.pool_campaign(priors=, transfer=)."""

import numpy as np
import pytest

import sozai
from sozai.campaign import PoolCampaign, Prior


def simplex3():
    return np.array([[a / 10, b / 10, (10 - a - b) / 10] for a in range(11) for b in range(11 - a)])


def activity(X):
    return -((X[:, 0] - 0.6) ** 2 + (X[:, 1] - 0.3) ** 2) * 10


def plate_prior(order=(0, 1, 2), names=("Co", "Ni", "Fe")):
    g = simplex3()
    y = 5 * activity(g) + 100  # another scale and offset than the target's
    return Prior(g[:, list(order)], y, [names[i] for i in order], True, "plate-a")


SETTINGS = dict(n_init=2, seed=3, acquisition="logei", gp={"restarts": 2})


def test_prior_holds_its_table():
    p = plate_prior()
    assert p.rows == 66 and p.columns == ["Co", "Ni", "Fe"] and p.maximize and p.name == "plate-a"
    assert p.X.shape == (66, 3) and p.y.shape == (66,)
    assert len(p.digest()) == 64 and p.digest() == plate_prior().digest()
    assert p.describe()["digest"] == p.digest() and p.describe()["rows"] == 66
    assert "plate-a" in repr(p) and "Co, Ni, Fe" in repr(p)


def test_prior_names_bad_cells():
    X, y = np.random.default_rng(0).random((3, 2)), np.arange(3.0)
    with pytest.raises(sozai.InputError, match="1 column names for 2 input columns"):
        Prior(X, y, ["a"])
    X[1, 1] = np.nan
    with pytest.raises(sozai.InputError, match=r"row 1, column 'b'"):
        Prior(X, y, ["a", "b"], name="p")


def test_prior_from_csv(tmp_path):
    path = tmp_path / "plate.csv"
    path.write_text("ni_load,co_load,overpotential\n0.5,0.5,0.31\n1,0,\n0,1,0.42\n")
    p = Prior.read_csv(str(path), maximize=False)
    assert p.name == "plate" and p.rows == 2 and p.columns == ["ni_load", "co_load"] and not p.maximize
    assert p.source == str(path)


def test_campaign_with_prior_is_independent_of_column_order():
    pool = simplex3()
    y = activity(pool)

    def run(prior):
        c = PoolCampaign(pool, priors=[prior], columns=["Co", "Ni", "Mn"], **SETTINGS)
        order = []
        for _ in range(6):
            r = int(c.ask(1)[0])
            c.tell(r, float(y[r]))
            order.append(r)
        return order, c

    a, c = run(plate_prior())
    b, _ = run(plate_prior(order=(2, 0, 1), names=("Co", "Ni", "fe_load")))
    assert a == b
    summary = c.transfer_summary
    assert summary["chosen"] in ("none", "rgpe", "residual") and "ranking_loss" in summary
    assert c.columns == ["Co", "Ni", "Mn"] and c.priors[0].name == "plate-a"


def test_save_load_needs_the_priors_back(tmp_path):
    pool = simplex3()
    y = activity(pool)
    c = PoolCampaign(pool, priors=[plate_prior()], columns=["Co", "Ni", "Mn"], **SETTINGS)
    for _ in range(4):
        r = int(c.ask(1)[0])
        c.tell(r, float(y[r]))
    path = str(tmp_path / "c.json")
    c.save(path)
    loaded = PoolCampaign.load(path)
    assert loaded.prior_records[0]["digest"] == plate_prior().digest() and loaded.priors == []
    with pytest.raises(sozai.InputError, match="attach_priors"):
        loaded.ask(1)
    wrong = Prior(plate_prior().X, plate_prior().y * 2, ["Co", "Ni", "Fe"], True, "plate-a")
    with pytest.raises(sozai.InputError, match="not the table the campaign was created with"):
        loaded.attach_priors([wrong])
    loaded.attach_priors([plate_prior()])
    for _ in range(3):
        a, b = int(c.ask(1)[0]), int(loaded.ask(1)[0])
        assert a == b
        c.tell(a, float(y[a]))
        loaded.tell(b, float(y[b]))


def test_refusals():
    pool = simplex3()
    far = Prior(np.random.default_rng(1).random((4, 2)), np.arange(4.0), ["La", "pressure"], name="far")
    with pytest.raises(sozai.InputError, match="prior 'far' shares no column"):
        PoolCampaign(pool, priors=[far], columns=["Co", "Ni", "Mn"], **SETTINGS)
    with pytest.raises(sozai.InputError, match="columns"):
        PoolCampaign(pool, priors=[plate_prior()], **SETTINGS)
    with pytest.raises(sozai.InputError, match="unknown transfer method 'magic'"):
        PoolCampaign(pool, priors=[plate_prior()], columns=["Co", "Ni", "Mn"], transfer={"method": "magic"})
    assert sozai.campaign.campaign_settings(transfer={"method": "rgpe"})["transfer"]["method"] == "rgpe"


@pytest.mark.parametrize("method", ["auto", "rgpe", "residual", "mtgp", "none"])
def test_benchmark_replay_with_priors(method):
    pool = simplex3()
    y = activity(pool)
    order = sozai.benchmark.pool_campaign(pool, y, True, budget=8, seed=1, columns=["Co", "Ni", "Mn"],
                                          priors=[plate_prior()], transfer=method, gp={"restarts": 1})
    assert len(order) == 8 and len(set(order)) == 8 and all(0 <= r < len(y) for r in order)
    again = sozai.benchmark.pool_campaign(pool, y, True, budget=8, seed=1, columns=["Co", "Ni", "Mn"],
                                          priors=[plate_prior()], transfer=method, gp={"restarts": 1})
    assert again == order  # seeded: the same campaign twice


def test_random_forest_matches_scikit_learn():
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import RandomForestRegressor
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    Xt, yt = make_friedman1(n_samples=400, noise=0.0, random_state=1)
    ours = sozai.models.RandomForest(trees=100, seed=0)
    ours.fit(X, y)
    mean, var = ours.posterior(Xt)
    ref = RandomForestRegressor(n_estimators=100, random_state=0).fit(X, y).predict(Xt)
    mae, ref_mae = np.abs(mean - yt).mean(), np.abs(ref - yt).mean()
    assert mae < 1.1 * ref_mae  # the same estimator: as accurate as scikit-learn's within seed noise
    assert np.corrcoef(mean, ref)[0, 1] > 0.95
    assert (var > 0).all() and ours.tree_predictions(Xt[:3]).shape == (100, 3)


def test_random_forest_on_sparse_shares_matches_scikit_learn():
    # Element shares: most entries zero, the split search's short cuts (rows at
    # a node's lowest value unsorted, features constant in a parent skipped).
    from sklearn.ensemble import RandomForestRegressor
    rng = np.random.default_rng(4)
    X = rng.random((900, 30)) * (rng.random((900, 30)) < 0.12)
    X /= np.maximum(X.sum(1, keepdims=True), 1e-12)
    y = X @ rng.normal(size=30) + 2.0 * (X[:, 2] > 0) + 0.1 * rng.normal(size=900)
    ours = sozai.models.RandomForest(trees=100, seed=0)
    ours.fit(X[:600], y[:600])
    mean, _ = ours.posterior(X[600:])
    ref = RandomForestRegressor(n_estimators=100, random_state=0).fit(X[:600], y[:600]).predict(X[600:])
    mae, ref_mae = np.abs(mean - y[600:]).mean(), np.abs(ref - y[600:]).mean()
    assert mae < 1.1 * ref_mae
    assert np.corrcoef(mean, ref)[0, 1] > 0.95


def test_transfer_neighbourhood_and_auto_margin_settings():
    pool = simplex3()
    y = activity(pool)
    for transfer in ({"neighbours": 0}, {"neighbours": 4, "auto_margin": 0.1}):
        order = sozai.benchmark.pool_campaign(pool, y, True, budget=5, seed=2, columns=["Co", "Ni", "Mn"],
                                              priors=[plate_prior()], transfer=transfer, gp={"restarts": 1})
        assert len(set(order)) == 5
    with pytest.raises(sozai.InputError, match="neighbours must be >= 0"):
        sozai.campaign.campaign_settings(transfer={"neighbours": -2})
    with pytest.raises(sozai.InputError, match="auto_margin must be in"):
        sozai.campaign.campaign_settings(transfer={"auto_margin": 1.5})


def test_forest_source_model():
    pool = simplex3()
    order = sozai.benchmark.pool_campaign(pool, activity(pool), True, budget=6, seed=1, columns=["Co", "Ni", "Mn"],
                                          priors=[plate_prior()], transfer={"method": "rgpe", "source_model": "forest"})
    assert len(set(order)) == 6
    with pytest.raises(sozai.InputError, match="unknown source_model 'tree'"):
        sozai.campaign.campaign_settings(transfer={"source_model": "tree"})


def test_first_experiments_are_the_priors_best_rows_unless_asked_for_random():
    pool = simplex3()
    best = int(np.argmax(activity(pool)))  # (0.6, 0.3, 0.1): also the prior's best
    c = PoolCampaign(pool, priors=[plate_prior()], columns=["Co", "Ni", "Fe"], **SETTINGS)
    assert int(c.ask(1)[0]) == best
    randomly = [int(PoolCampaign(pool, priors=[plate_prior()], columns=["Co", "Ni", "Fe"],
                                 transfer={"initial": "random"}, **dict(SETTINGS, seed=s)).ask(1)[0])
                for s in range(5)]
    assert len(set(randomly)) > 1  # random rows, as without priors
    with pytest.raises(sozai.InputError, match="unknown initial design 'best'"):
        sozai.campaign.campaign_settings(transfer={"initial": "best"})


def test_prior_belief_follows_an_agreeing_prior_and_ignores_a_contrary_one():
    pool = simplex3()
    y = activity(pool)
    g = simplex3()
    related = Prior(g, 5 * activity(g) + 0.37 * g[:, 0] + 0.11 * g[:, 1] + 100, ["Co", "Ni", "Fe"], True, "plate-a")
    contrary = Prior(g, -activity(g), ["Co", "Ni", "Fe"], True, "contrary")

    def order(prior, belief, budget=8):
        return sozai.benchmark.pool_campaign(pool, y, True, budget=budget, seed=3, columns=["Co", "Ni", "Mn"],
                                             priors=[prior], n_init=2, acquisition="logei", gp={"restarts": 2},
                                             transfer={"method": "none", "prior_belief": belief})

    ranked = PoolCampaign(pool, priors=[related], columns=["Co", "Ni", "Mn"], **dict(SETTINGS, n_init=8))
    prior_order = [int(r) for r in ranked.ask(8)]
    assert order(related, 1e6) == prior_order      # an overwhelming belief in an agreeing prior
    assert order(related, 0.0) != prior_order      # the GP on its own
    assert order(contrary, 1e6, 10) == order(contrary, 0.0, 10)  # a contrary prior pulls nowhere
    c = PoolCampaign(pool, priors=[related], columns=["Co", "Ni", "Mn"],
                     transfer={"method": "none", "prior_belief": 4.0}, **SETTINGS)
    for _ in range(3):
        r = int(c.ask(1)[0])
        c.tell(r, float(y[r]))
    c.ask(1)
    belief = c.transfer_summary["prior_belief"]
    assert 0 < belief["agreement"] <= 1 and belief["weight"] == pytest.approx(4.0 / 3 * belief["agreement"])
    with pytest.raises(sozai.InputError, match="not 'ucb'"):
        sozai.campaign.campaign_settings(acquisition="ucb", transfer={"prior_belief": 1.0})
    with pytest.raises(sozai.InputError, match="prior_belief must be a finite number >= 0"):
        sozai.campaign.campaign_settings(transfer={"prior_belief": float("nan")})


def alloy_space():
    s = sozai.spaces.DesignSpace()
    s.add_continuous("T", 300, 900).add_composition("alloy", ["Ni", "Fe", "Co"])
    return s


def alloy_value(T, ni, co):
    return -((T - 700) / 300) ** 2 - (ni - 0.6) ** 2 - co


def alloy_prior(scale=4.0):
    # An earlier study of Ni-Fe-Mn alloys at other temperatures, its columns named as a lab writes them.
    rng = np.random.default_rng(7)
    shares = rng.dirichlet(np.ones(3), 200)  # ni, fe, mn
    T = rng.uniform(300, 900, 200)
    y = scale * alloy_value(T, shares[:, 0], 0.0) + 3.0
    return Prior(np.column_stack([shares[:, 2], T, shares[:, 0], shares[:, 1]]), y,
                 ["Mn", "T", "ni_load", "Fe"], True, "ni-fe-mn")


def test_space_campaign_with_a_prior_starts_at_its_best_and_reloads(tmp_path):
    from sozai.campaign import SpaceCampaign, natural_columns, natural_table
    space = alloy_space()
    assert natural_columns(space) == ["T", "Ni", "Fe", "Co"]
    raw = np.array([[500.0, 0.2, 0.3, 0.5]])
    assert np.allclose(natural_table(space, raw), raw)
    settings = dict(n_init=2, seed=1, acquisition="logei", gp={"restarts": 2}, transfer={"method": "residual"},
                    optimizer={"restarts": 3, "raw_samples": 128, "max_iter": 30})
    c = SpaceCampaign(space, priors=[alloy_prior()], **settings)
    assert c.columns == ["T", "Ni", "Fe", "Co"] and c.prior_records[0]["name"] == "ni-fe-mn"
    first = c.ask(1)[0]
    # The prior knows T and Ni (not Co): its best is near T = 700, Ni = 0.6.
    assert abs(first[0] - 700) < 120 and abs(first[1] - 0.6) < 0.25
    for _ in range(3):
        x = c.ask(1) if c.num_observed else first[None, :]
        c.tell(x, [alloy_value(x[0, 0], x[0, 1], x[0, 3])])
    assert c.transfer_summary["chosen"] == "residual"
    path = tmp_path / "c.json"
    c.save(str(path))
    loaded = SpaceCampaign.load(str(path))
    with pytest.raises(sozai.InputError, match="attach_priors"):
        loaded.ask(1)
    with pytest.raises(sozai.InputError, match="not the table"):
        loaded.attach_priors([alloy_prior(scale=5.0)])
    loaded.attach_priors([alloy_prior()])
    assert np.allclose(c.ask(1), loaded.ask(1), atol=1e-10)
