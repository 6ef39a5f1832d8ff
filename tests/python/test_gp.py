"""ExactGP against scikit-learn's GaussianProcessRegressor (independent oracle)."""

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

import sozai


def _data(n=30, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    y = np.sin(5 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_posterior_equals_sklearn_with_fixed_hyperparameters(kernel):
    X, y = _data()
    gp = sozai.models.ExactGP(kernel=kernel, outcome_transform="standardize")
    gp.set_input_bounds(np.zeros(3), np.ones(3))
    h = sozai.models.GPHyperparameters()
    h.lengthscale = [0.3, 0.8, 2.0]
    h.outputscale = 1.7
    h.noise = 0.02
    gp.hyperparameters = h
    gp.set_data(X, y)

    z = (y - y.mean()) / y.std()
    base = Matern(length_scale=h.lengthscale, nu=2.5) if kernel == "matern52" else RBF(length_scale=h.lengthscale)
    sk = GaussianProcessRegressor(ConstantKernel(h.outputscale) * base, alpha=h.noise, optimizer=None,
                                  normalize_y=False)
    sk.fit(X, z)
    Xs = np.random.default_rng(1).uniform(size=(200, 3))
    mean_sk, std_sk = sk.predict(Xs, return_std=True)
    mean, var = gp.latent_posterior(Xs)
    np.testing.assert_allclose(mean, mean_sk, atol=1e-6, rtol=0)
    np.testing.assert_allclose(var, std_sk ** 2, atol=1e-6, rtol=0)
    assert gp.log_marginal_likelihood == pytest.approx(sk.log_marginal_likelihood_value_, abs=1e-6)
    # Original units: the affine standardisation undone.
    m_orig, v_orig = gp.posterior(Xs)
    np.testing.assert_allclose(m_orig, mean_sk * y.std() + y.mean(), atol=1e-6)
    np.testing.assert_allclose(v_orig, std_sk ** 2 * y.var(), atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fitted_marginal_likelihood_at_least_sklearns(seed):
    X, y = _data(n=40, seed=seed)
    gp = sozai.models.ExactGP(outcome_transform="standardize", restarts=4)
    gp.fit(X, y)
    Xn = gp.normalize_inputs(X)
    z = gp.transform_outcome(y)
    kernel = ConstantKernel(1.0, (1e-4, 1e4)) * Matern(length_scale=np.full(3, 0.5), length_scale_bounds=(1e-3, 1e5),
                                                       nu=2.5) + WhiteKernel(1e-2, (1e-6, 1.0))
    sk = GaussianProcessRegressor(kernel, normalize_y=False, n_restarts_optimizer=5, random_state=seed)
    sk.fit(Xn, z)
    assert gp.log_marginal_likelihood >= sk.log_marginal_likelihood_value_ - 1e-6 * abs(
        sk.log_marginal_likelihood_value_)


def test_fit_on_real_data_beats_sklearn(data_dir):
    ds = sozai.datasets.load_closed_loop("autoam")
    X, y = ds["X"], ds["Y"][:, 0]
    gp = sozai.models.ExactGP(outcome_transform="standardize")
    gp.fit(X, y)
    Xn, z = gp.normalize_inputs(X), gp.transform_outcome(y)
    d = X.shape[1]
    kernel = ConstantKernel(1.0, (1e-4, 1e4)) * Matern(np.full(d, 0.5), (1e-3, 1e5), nu=2.5) + WhiteKernel(
        1e-2, (1e-6, 1.0))
    sk = GaussianProcessRegressor(kernel, n_restarts_optimizer=5, random_state=0).fit(Xn, z)
    assert gp.log_marginal_likelihood >= sk.log_marginal_likelihood_value_ - 1e-6 * abs(
        sk.log_marginal_likelihood_value_)


def test_outcome_transforms_and_errors():
    X, y = _data()
    pos = np.exp(3 * y)
    gp = sozai.models.ExactGP()
    gp.fit(X, pos)
    assert gp.outcome_transform == "log"
    mean, var = gp.posterior(X)
    assert np.all(mean > 0) and np.all(var >= 0)
    yj = sozai.models.ExactGP(outcome_transform="yeo-johnson", restarts=2)
    yj.fit(X, pos)
    assert yj.outcome_transform == "yeo-johnson"
    assert np.isfinite(yj.yeo_johnson_lambda)
    with pytest.raises(sozai.InputError, match="target 4"):
        bad = y.copy()
        bad[4] = np.nan
        sozai.models.ExactGP().fit(X, bad)
    with pytest.raises(sozai.InputError, match="no data yet"):
        sozai.models.ExactGP().posterior(X)
    with pytest.raises(sozai.InputError, match="kernel"):
        sozai.models.ExactGP(kernel="laplace")
    assert issubclass(sozai.InputError, sozai.SozaiError)


@pytest.mark.parametrize("seed", [0, 1])
def test_yeo_johnson_matches_sklearn_power_transformer(seed):
    from sklearn.preprocessing import PowerTransformer
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.lognormal(0, 0.8, 300), -rng.gamma(2.0, 0.5, 100)])
    pt = PowerTransformer(method="yeo-johnson", standardize=False).fit(y[:, None])
    lam = sozai.models.fit_yeo_johnson_lambda(y)
    assert lam == pytest.approx(pt.lambdas_[0], abs=1e-4)
    np.testing.assert_allclose(sozai.models.yeo_johnson(y, lam), pt.transform(y[:, None])[:, 0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sozai.models.yeo_johnson_inverse(sozai.models.yeo_johnson(y, lam), lam), y, atol=1e-9)


def test_posterior_bound_encloses_the_latent_posterior():
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(80, 3))
    y = np.sin(4 * X[:, 0]) + X[:, 1] ** 2 + 0.02 * rng.standard_normal(80)
    gp = sozai.models.ExactGP(seed=0, restarts=2)
    gp.fit(X, y)
    Xq = rng.uniform(-0.2, 1.2, size=(2000, 3))
    mean, var = gp.latent_posterior(Xq)
    for rank in (2, 16, 80):
        b = sozai.models.PosteriorBound(gp, rank)
        lo, hi, vh = b(Xq)
        assert 1 <= b.rank <= rank
        assert np.all(lo <= mean) and np.all(mean <= hi) and np.all(var <= vh)
    # more pivots, tighter: the mean intervals shrink on average
    w2 = np.mean(np.subtract(*sozai.models.PosteriorBound(gp, 2)(Xq)[1::-1]))
    w16 = np.mean(np.subtract(*sozai.models.PosteriorBound(gp, 16)(Xq)[1::-1]))
    assert w16 < w2
    # the first pivots of a larger bound: the smaller bound itself (nested factors), still enclosing
    lo4, hi4, vh4 = sozai.models.PosteriorBound(gp, 16)(Xq, pivots=4)
    own = sozai.models.PosteriorBound(gp, 4)(Xq)
    for a, b in zip((lo4, hi4, vh4), own):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert np.all(lo4 <= mean) and np.all(mean <= hi4) and np.all(var <= vh4)
