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
