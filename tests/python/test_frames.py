"""pandas in and out: every DataFrame entry point gives the numbers of the numpy path, and bad frames get errors
naming the column and the rows."""

import numpy as np
import pandas as pd
import pytest

import sozai


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 3))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, 2]
    index = [f"s{i:03d}" for i in range(n)][::-1]  # labels not in row order
    df = pd.DataFrame(X, columns=["Ni", "T_anneal", "time"], index=index)
    return X, y, df, pd.Series(y, index=index, name="hardness")


# ---------------------------------------------------------------- checks

def test_missing_value_names_column_and_row():
    _, _, df, _ = _data()
    df.iloc[3, 1] = np.nan
    with pytest.raises(sozai.InputError, match=r"column 'T_anneal' has 1 missing value \(row 's036'\)"):
        sozai.frames.to_array(df)
    # Through a C++ binding directly (the argument converter checks frames too).
    with pytest.raises(sozai.InputError, match="T_anneal"):
        sozai.models.ExactGP().fit(df, np.zeros(len(df)))


def test_non_numeric_and_repeated_columns():
    _, y, df, _ = _data()
    bad = df.assign(phase=["fcc"] * len(df))
    with pytest.raises(sozai.InputError, match=r"column 'phase' is not numeric .*'fcc' in row 's039'"):
        sozai.models.ExactGP().fit(bad, y)
    twice = pd.concat([df, df[["Ni"]]], axis=1)
    with pytest.raises(sozai.InputError, match="column name 'Ni' appears 2 times"):
        sozai.models.ExactGP().fit(twice, y)
    with pytest.raises(sozai.InputError, match="missing"):
        sozai.models.ExactGP().fit(df, pd.Series([np.nan] + list(y[1:]), index=df.index))
    # Booleans and integers are numbers.
    ok = df.assign(flag=[True, False] * (len(df) // 2), count=np.arange(len(df)))
    assert sozai.frames.to_array(ok).shape == (len(df), 5)


def test_targets_by_name_and_alignment():
    X, y, df, s = _data()
    full = df.assign(hardness=y)
    a, rest = sozai.frames.targets("hardness", "t", full)
    assert np.array_equal(a, y) and list(rest.columns) == ["Ni", "T_anneal", "time"]
    with pytest.raises(sozai.InputError, match="'nope' is not a column"):
        sozai.frames.targets("nope", "t", full)
    with pytest.raises(sozai.InputError, match="index of y is not the inputs' index"):
        sozai.models.ExactGP().fit(df, s.sort_index())


# ---------------------------------------------------------------- models

def test_exact_gp_frames_match_numpy():
    X, y, df, s = _data()
    a = sozai.models.ExactGP(seed=0, restarts=2)
    a.fit(X, y)
    b = sozai.models.ExactGP(seed=0, restarts=2)
    b.fit(df.assign(hardness=s), "hardness")
    m, v = a.posterior(X)
    f = b.posterior(df, as_frame=True)
    assert list(f.columns) == ["Ni", "T_anneal", "time", "mean", "std"]
    assert f.index.equals(df.index)
    np.testing.assert_allclose(f["mean"].to_numpy(), m, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f["std"].to_numpy(), np.sqrt(v), rtol=1e-12, atol=1e-12)
    lm, lv = b.latent_posterior(df)
    np.testing.assert_allclose(lm, a.latent_posterior(X)[0], rtol=1e-12, atol=1e-12)
    # set_data with a Series
    b.set_data(df, s)
    np.testing.assert_allclose(b.posterior(df)[0], m, rtol=1e-9, atol=1e-9)


def test_random_forest_and_multitask_frames_match_numpy():
    X, y, df, s = _data()
    a, b = sozai.models.RandomForest(trees=20, seed=1), sozai.models.RandomForest(trees=20, seed=1)
    a.fit(X, y)
    b.fit(df, s)
    f = b.posterior(df, as_frame=True)
    np.testing.assert_array_equal(f["mean"].to_numpy(), a.posterior(X)[0])
    XT = np.column_stack([X, np.arange(len(X)) % 2])
    dT = df.assign(task=np.arange(len(df)) % 2)
    a, b = sozai.models.MultiTaskGP(num_tasks=2, seed=0), sozai.models.MultiTaskGP(num_tasks=2, seed=0)
    a.fit(XT, y)
    b.fit(dT, s)
    np.testing.assert_allclose(b.posterior(dT, as_frame=True)["mean"].to_numpy(), a.posterior(XT)[0], rtol=1e-12,
                               atol=1e-12)


def test_gnn_ensemble_series_and_element_frames():
    formulas = ["Fe2O3", "Fe3O4", "FeO", "NiO", "Ni2O3", "CoO", "Co3O4", "Al2O3", "TiO2", "ZnO", "MgO", "CaO"] * 2
    y = np.linspace(0.0, 3.0, len(formulas))
    cfg = dict(kind="composition", n_members=2, seed=3, hidden=16, layers=1, head_hidden=16, max_epochs=3,
               progress=False, threads=1)
    a, b = sozai.models.GnnEnsemble(**cfg), sozai.models.GnnEnsemble(**cfg)
    a.fit(formulas, y)
    index = pd.Index([f"m{i}" for i in range(len(formulas))])
    b.fit(pd.Series(formulas, index=index, name="formula"), pd.Series(y, index=index))
    ma, va = a.predict(formulas)
    f = b.predict(pd.Series(formulas, index=index, name="formula"), as_frame=True)
    assert list(f.columns) == ["formula", "mean", "std"] and f.index.equals(index)
    np.testing.assert_allclose(f["mean"].to_numpy(), ma, rtol=1e-6, atol=1e-9)
    # A frame of element shares is read as formulas.
    shares = pd.DataFrame({"Fe": [0.4, 0.0], "O": [0.6, 0.5], "Ni": [0.0, 0.5]}, index=["x", "y"])
    assert sozai.campaign.element_formulas(shares.to_numpy(), list(shares.columns)) == ["Fe0.4O0.6", "O0.5Ni0.5"]
    np.testing.assert_allclose(b.predict(shares)[0], a.predict(["Fe0.4O0.6", "O0.5Ni0.5"])[0], rtol=1e-6)
    with pytest.raises(sozai.InputError, match=r"column 'formula' has 1 missing or non-text value\(s\) \(rows 'm1'\)"):
        b.predict(pd.Series(["FeO", None] + formulas[2:], index=index, name="formula"))


# ---------------------------------------------------------------- acquisition

def test_acquisition_frames_match_numpy():
    X, y, df, s = _data()
    gp = sozai.models.ExactGP(seed=0, restarts=2)
    gp.fit(df, s)
    best = float(gp.transform_outcome(y).max())
    v = sozai.bo.acquisition(gp, X, kind="logei", best_f=best)
    f = sozai.bo.acquisition(gp, df, kind="logei", best_f=best, as_frame=True)
    assert list(f.columns) == ["Ni", "T_anneal", "time", "mean", "std", "acquisition"] and f.index.equals(df.index)
    np.testing.assert_allclose(f["acquisition"].to_numpy(), v, rtol=1e-12, atol=1e-12)
    acq = sozai.bo.make_acquisition([gp], X[:0], acquisition="logei", best_f=best)
    free = np.ones(len(X), dtype=bool)
    assert list(sozai.bo.select_from_pool(acq, df, free, 3)) == list(sozai.bo.select_from_pool(acq, X, free, 3))


def test_design_space_takes_frames():
    s = sozai.spaces.DesignSpace().add_composition("c", ["Fe", "Ni"]).add_continuous("T", 0.0, 1.0)
    raw = np.array([[0.3, 0.7, 0.5], [0.5, 0.5, 0.1]])
    df = pd.DataFrame(raw, columns=["Fe", "Ni", "T"])
    np.testing.assert_array_equal(s.encode(df), s.encode(raw))
    np.testing.assert_array_equal(s.feasible(df), s.feasible(raw))


# ---------------------------------------------------------------- campaigns

def _pool(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2))
    y = -((X[:, 0] - 0.6) ** 2) - 0.3 * (X[:, 1] - 0.3) ** 2
    labels = [f"cand-{i}" for i in rng.permutation(n)]
    return X, y, pd.DataFrame(X, columns=["Co", "T"], index=labels)


def test_pool_campaign_frames_match_numpy():
    X, y, df = _pool()
    settings = dict(maximize=True, acquisition="logei", n_init=3, seed=4, gp={"restarts": 2})
    a = sozai.campaign.PoolCampaign(X, **settings)
    b = sozai.campaign.PoolCampaign(df, **settings)
    assert b.columns == ["Co", "T"]
    truth = pd.Series(y, index=df.index, name="y")
    for round in range(4):
        rows = a.ask(2)
        batch = b.ask_frame(2)
        assert list(batch.index) == [df.index[r] for r in rows]
        assert list(batch.columns) == ["Co", "T", "mean", "std", "acquisition"]
        np.testing.assert_array_equal(batch[["Co", "T"]].to_numpy(), X[rows])
        if b.num_observed < 3:
            assert batch["mean"].isna().all()  # random picks (n_init = 3): no model chose them
        else:
            assert np.isfinite(batch[["mean", "std", "acquisition"]].to_numpy()).all()
        a.tell(list(rows), [float(y[r]) for r in rows])
        b.tell(batch.index, truth.loc[batch.index])
    np.testing.assert_array_equal(a.observed_indices, b.observed_indices)
    obs = b.observed_frame()
    assert list(obs.columns) == ["Co", "T", "y"] and list(obs.index) == [df.index[r] for r in a.observed_indices]
    with pytest.raises(sozai.InputError, match="'nope' not in the pool's index"):
        b.tell(pd.Index(["nope"]), [1.0])
    # The first pick maximises LogEI on its own; the later ones were chosen beside it.
    batch = b.ask_frame(3)
    assert batch["acquisition"].iloc[0] >= batch["acquisition"].max() - 1e-9


def test_pool_campaign_two_outcomes_frame():
    X, y, df = _pool()
    outcomes = [{"name": "strength", "direction": "maximize"}, {"name": "cost", "direction": "minimize"}]
    c = sozai.campaign.PoolCampaign(df, outcomes=outcomes, n_init=3, seed=1, gp={"restarts": 1}, mc_samples=32)
    results = pd.DataFrame({"strength": y, "cost": X[:, 0]}, index=df.index)
    for _ in range(2):
        batch = c.ask_frame(2)
        c.tell(batch.index, results.loc[batch.index])
    batch = c.ask_frame(1)
    assert {"mean.strength", "std.strength", "mean.cost", "std.cost", "acquisition"} <= set(batch.columns)
    np.testing.assert_array_equal(c.observed_outcomes, results.loc[c.observed_frame().index].to_numpy())


def test_space_campaign_frames_match_numpy():
    s = (sozai.spaces.DesignSpace().add_composition("c", ["Fe", "Co", "Ni"]).add_continuous("T", 0.0, 1.0)
         .add_categorical("route", ["cast", "printed"]))

    def f(raw):
        return -(raw[:, 3] - 0.6) ** 2 - (raw[:, 1] - 0.4) ** 2 + 0.2 * raw[:, 4]

    settings = dict(maximize=True, acquisition="logei", n_init=4, seed=2, gp={"restarts": 1},
                    optimizer={"restarts": 2, "raw_samples": 64, "max_iter": 30})
    a, b = sozai.campaign.SpaceCampaign(s, **settings), sozai.campaign.SpaceCampaign(s, **settings)
    for round in range(2):
        raw = a.ask(4 if round == 0 else 1)
        frame = b.ask_frame(4 if round == 0 else 1)
        assert list(frame.columns)[:5] == ["Fe", "Co", "Ni", "T", "route"]
        assert set(frame["route"]) <= {"cast", "printed"}
        assert list(frame["route"]) == [["cast", "printed"][int(v)] for v in raw[:, 4]]
        np.testing.assert_allclose(frame[["Fe", "Co", "Ni", "T"]].to_numpy(), raw[:, :4], rtol=0, atol=0)
        a.tell(raw, f(raw))
        b.tell(frame.assign(score=f(raw)), "score")
    np.testing.assert_array_equal(a.observed_candidates, b.observed_candidates)
    assert np.isfinite(frame[["mean", "std", "acquisition"]].to_numpy()).all()
    obs = b.observed_frame()
    assert list(obs.columns) == ["Fe", "Co", "Ni", "T", "route", "y"]
    with pytest.raises(sozai.InputError, match=r"column 'route', row 0: 'molten' is not one of cast, printed"):
        b.tell(frame.assign(route="molten", score=0.0), "score")
    with pytest.raises(sozai.InputError, match="lacks column"):
        b.tell(frame.drop(columns=["T"]), [0.0])


def test_prior_from_frame():
    X, y, df = _pool()
    a = sozai.campaign.Prior(X, y, ["Co", "T"], name="p")
    b = sozai.campaign.Prior(df.assign(y=y), "y", name="p")
    assert b.columns == ["Co", "T"] and a.digest() == b.digest()
    with pytest.raises(sozai.InputError, match="columns must name"):
        sozai.campaign.Prior(X, y)


# ---------------------------------------------------------------- datasets

def test_read_frame(data_dir):
    d = sozai.datasets.load_closed_loop("oer_plate_3496")
    f = sozai.datasets.read_frame("oer_plate_3496")
    assert list(f.columns) == list(d["input_names"]) + list(d["objective_names"]) + ["counts"]
    np.testing.assert_array_equal(f[list(d["input_names"])].to_numpy(), d["X"])
    np.testing.assert_array_equal(f["overpotential"].to_numpy(), d["Y"][:, 0])
    tg = sozai.datasets.read_frame("tg_polymers")
    assert list(tg.columns) == ["Smiles", "Tg"] and len(tg) == 6906
    with pytest.raises(ValueError, match="no file 'x.csv'"):
        sozai.datasets.read_frame("tg_polymers", file="x.csv")


def test_benchmark_and_federated_take_frames():
    X, y, df = _pool()
    a = sozai.benchmark.pool_campaign(X, y, True, budget=8, seed=1)
    b = sozai.benchmark.pool_campaign(df, pd.Series(y, index=df.index), True, budget=8, seed=1)
    assert a == b
    with pytest.raises(sozai.InputError, match="column 'T' has 1 missing value"):
        sozai.benchmark.pool_campaign(df.assign(T=[np.nan] + list(df["T"].iloc[1:])), y, True, budget=4)
    with pytest.raises(sozai.InputError, match="join: inputs: column 'formula' has 1 missing"):
        sozai.federated._party(pd.Series(["FeO", None], name="formula"), [1.0, 2.0])
