"""Analytic acquisitions against closed forms (hand-made posteriors)."""

import math

import numpy as np
import pytest

import sozai


def _phi(z):
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _Phi(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


@pytest.mark.parametrize("maximize", [True, False])
def test_closed_forms(maximize):
    mean = np.array([-1.0, 0.0, 0.3, 2.0])
    var = np.array([0.25, 1.0, 2.0, 0.04])
    best = 0.2
    ei = sozai.kernels.analytic_acquisition(mean, var, "ei", best, maximize=maximize)
    logei = sozai.kernels.analytic_acquisition(mean, var, "logei", best, maximize=maximize)
    pi = sozai.kernels.analytic_acquisition(mean, var, "pi", best, maximize=maximize)
    ucb = sozai.kernels.analytic_acquisition(mean, var, "ucb", best, beta=2.0, maximize=maximize)
    for i in range(4):
        s = math.sqrt(var[i])
        z = ((mean[i] - best) if maximize else (best - mean[i])) / s
        expected = s * (_phi(z) + z * _Phi(z))
        assert ei[i] == pytest.approx(expected, rel=1e-12)
        assert logei[i] == pytest.approx(math.log(expected), rel=1e-10)
        assert pi[i] == pytest.approx(_Phi(z), rel=1e-12)
        assert ucb[i] == pytest.approx((mean[i] if maximize else -mean[i]) + math.sqrt(2.0) * s, rel=1e-12)


def test_logei_finite_and_monotone_to_minus_40():
    z = np.linspace(5, -40, 2000)
    logei = sozai.kernels.analytic_acquisition(z, np.ones_like(z), "logei", 0.0)
    assert np.all(np.isfinite(logei))
    assert np.all(np.diff(logei) < 0)
    ei = sozai.kernels.analytic_acquisition(z, np.ones_like(z), "ei", 0.0)
    ok = ei > 1e-250
    np.testing.assert_allclose(logei[ok], np.log(ei[ok]), rtol=1e-7)
    assert ei[-1] == 0.0  # EI itself underflows there; LogEI does not


def test_bad_input():
    with pytest.raises(sozai.InputError, match="same shape"):
        sozai.kernels.analytic_acquisition(np.zeros(3), np.zeros(4), "ei")
    with pytest.raises(sozai.InputError, match="unknown acquisition"):
        sozai.kernels.analytic_acquisition(np.zeros(3), np.zeros(3), "qehvi")


def test_acquisition_on_fitted_model_ranks_like_kernel():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(20, 2))
    y = np.sin(4 * X[:, 0])
    gp = sozai.models.ExactGP(restarts=2)
    gp.fit(X, y)
    best = sozai.bo.best_latent_value(gp, y, True)
    Xs = rng.uniform(size=(50, 2))
    a = sozai.bo.acquisition(gp, Xs, "ei", best)
    m, v = gp.latent_posterior(Xs)
    np.testing.assert_allclose(a, sozai.kernels.analytic_acquisition(m, v, "ei", best), rtol=1e-12)


def test_select_batch_from_pool_distinct_and_available():
    rng = np.random.default_rng(1)
    pool = rng.uniform(size=(200, 2))
    y = np.sin(5 * pool[:, 0]) + pool[:, 1]
    gp = sozai.models.ExactGP(restarts=2)
    gp.fit(pool[:12], y[:12])
    available = np.ones(200, dtype=bool)
    available[:12] = False
    best = sozai.bo.best_latent_value(gp, y[:12], True)
    batch = sozai.bo.select_batch_from_pool(gp, pool, available, 5, "logei", best, pending=[20, 21])
    assert len(set(batch.tolist())) == 5
    assert all(r >= 12 for r in batch) and 20 not in batch and 21 not in batch
    first = sozai.bo.select_batch_from_pool(gp, pool, available, 1, "logei", best)[0]
    a = sozai.bo.acquisition(gp, pool, "logei", best)
    a[~available] = -np.inf
    assert first == int(np.argmax(a))


# ---------------------------------------------------------------- the registry and the two optimisers

def _two_outcome_problem(n=60, n_obs=10, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2))
    Y = np.stack([np.sin(4 * X[:, 0]) + X[:, 1], np.cos(3 * X[:, 0]) - X[:, 1]], 1)
    gps = []
    for j in range(2):
        gp = sozai.models.ExactGP(restarts=2)
        gp.set_input_bounds(np.zeros(2), np.ones(2))
        gp.fit(X[:n_obs], Y[:n_obs, j])
        gps.append(gp)
    available = np.ones(n, dtype=bool)
    available[:n_obs] = False
    return X, Y, gps, available


def test_registry_lists_every_acquisition_once():
    names = sozai.bo.acquisition_names()
    assert names == ["ei", "logei", "ucb", "pi", "qlognei", "qucb", "thompson", "qnehvi", "qlognehvi", "qparego",
                     "aei"]
    reg = sozai.bo.acquisition_registry()
    assert [r["name"] for r in reg] == names
    info = sozai.bo.acquisition_info("QLogNEI")
    assert info["name"] == "qlognei" and info["joint"] and info["constraints"] and info["spaces"]
    assert sozai.bo.acquisition_info("thompson")["batch"] == "sample_paths"
    assert sozai.bo.acquisition_info("aei")["fidelities"] and not sozai.bo.acquisition_info("aei")["spaces"]
    with pytest.raises(sozai.InputError, match="unknown acquisition 'qehvi'; expected one of ei, logei"):
        sozai.bo.acquisition_info("qehvi")


def test_make_acquisition_builds_every_name_and_values_batches():
    X, Y, gps, available = _two_outcome_problem()
    for info in sozai.bo.acquisition_registry():
        if info["fidelities"]:
            continue  # tested with a MultiTaskGP in test_monte_carlo.py
        several = not info["single_objective"]
        acq = sozai.bo.make_acquisition(gps if several else gps[:1], X[:10], Y[:10] if several else Y[:10, 0],
                                        acquisition=info["name"], mc_samples=32, seed=1,
                                        outcomes=[{"direction": "maximize"}] * (2 if several else 1))
        assert acq.name == info["name"] and acq.info == info
        v = acq(X[10:20, None, :])
        assert v.shape == (10,) and np.isfinite(v).all()
        rows = sozai.bo.select_from_pool(acq, X, available, 3)
        assert len(set(rows)) == 3 and all(r >= 10 for r in rows)
        if info["joint"]:
            assert np.isfinite(acq(np.stack([X[10:15], X[15:20]], 1))).all()
        else:
            with pytest.raises(sozai.InputError, match="one"):
                acq(np.stack([X[10:15], X[15:20]], 1))
    with pytest.raises(sozai.InputError, match="acquisition: mc_samples must be >= 1"):
        sozai.bo.make_acquisition(gps[:1], X[:10], Y[:10, 0], acquisition="qlognei", mc_samples=0)
    with pytest.raises(sozai.InputError, match="takes one objective, got 2; use qnehvi, qlognehvi or qparego"):
        sozai.bo.make_acquisition(gps, X[:10], Y[:10], acquisition="logei",
                                  outcomes=[{"direction": "maximize"}, {"direction": "minimize"}])
    with pytest.raises(sozai.InputError, match=r"Y_observed must be \[10, 2\]"):
        sozai.bo.make_acquisition(gps, X[:10], Y[:10, 0],
                                  outcomes=[{"direction": "maximize"}, {"direction": "minimize"}])


def test_pending_points_and_the_deprecated_aliases_agree():
    X, Y, gps, available = _two_outcome_problem(120, 12, seed=5)
    y = Y[:, 0]
    for name in ["logei", "qlognei", "qucb", "thompson"]:
        pending = [40, 41]
        acq = sozai.bo.make_acquisition([gps[0]], X[:12], y[:12], X[pending], acquisition=name, seed=7, mc_samples=64)
        free = available.copy()
        free[pending] = False
        rows = sozai.bo.select_from_pool(acq, X, free, 3)
        assert not set(rows) & set(pending)
        with pytest.warns(DeprecationWarning, match="make_acquisition and select_from_pool"):
            if name == "logei":
                best = sozai.bo.best_latent_value(gps[0], y[:12], True)
                old = sozai.bo.select_batch_from_pool(gps[0], X, available, 3, "logei", best, pending=pending)
            elif name == "thompson":
                old = sozai.bo.select_batch_thompson(gps[0], X, available, 3, seed=7, pending=pending)
            else:
                old = sozai.bo.select_batch_mc(gps[0], X, available, 3, X[:12], name, samples=64, seed=7,
                                               pending=pending)
        assert old.tolist() == rows
    # The campaign default is qlognei, and a campaign's asks are these selections.
    c = sozai.campaign.PoolCampaign(X, n_init=2, gp={"restarts": 2})
    assert c.settings["acquisition"] == "qlognei"


def test_select_in_space_gives_feasible_batches():
    space = sozai.spaces.DesignSpace()
    space.add_composition("c", ["Fe", "Ni", "Co"], high=[1.0, 1.0, 0.4])
    space.add_continuous("T", 500.0, 1200.0)
    raw = space.sample(10, seed=1)
    E = space.encode(raw)
    y = np.sin(5 * E[:, 0]) + E[:, 1] * E[:, 3]
    gp = sozai.models.ExactGP(restarts=2)
    gp.set_input_bounds(np.zeros(E.shape[1]), np.ones(E.shape[1]))
    gp.fit(E, y)
    acq = sozai.bo.make_acquisition([gp], E, y, E[:1], acquisition="qlognei", seed=2,
                                    mc_samples=32)
    batch = sozai.bo.select_in_space(space, acq, 2, optimizer={"restarts": 2, "raw_samples": 64}, seed=2)
    assert batch.shape == (2, 4) and space.feasible(batch).all()
    with pytest.raises(sozai.InputError, match="select_in_space: optimizer: unknown field 'restart'"):
        sozai.bo.select_in_space(space, acq, 1, optimizer={"restart": 2})
