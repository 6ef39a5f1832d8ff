"""sozai.plot: each plot draws what it says from what the API returns (the data in the artists is checked, not
pixels), and the calibration numbers against a closed form."""

import json

import numpy as np
import pandas as pd
import pytest

import sozai
import sozai.plot as splot


def _predictions(n=400, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=n)
    std = np.full(n, 0.5)
    y = mean + rng.normal(size=n) * 0.5 * scale
    return y, mean, std


def test_calibration_curve_of_calibrated_and_overconfident_models():
    y, mean, std = _predictions(20000)
    p, observed, area = splot.calibration_curve(y, (mean, std ** 2))
    # A calibrated Gaussian: observed coverage within sampling error (binomial sd <= 0.0036 at n = 20000).
    assert np.max(np.abs(observed - p)) < 0.02 and area < 0.01
    y, mean, std = _predictions(20000, scale=2.0)  # errors twice the predicted sd
    p, observed, area = splot.calibration_curve(y, pd.DataFrame({"mean": mean, "std": std}))
    assert np.all(observed < p) and area > 0.1
    # The 68.3 % interval of an sd-2 error given sd 1: P(|z| < 0.5) = 0.383.
    _, at, _ = splot.calibration_curve(y, (mean, std ** 2), levels=[0.6827])
    assert abs(at[0] - 0.3829) < 0.02


def test_parity_draws_points_error_bars_and_metrics():
    y, mean, std = _predictions(50)
    fig = splot.parity(y, (mean, std ** 2), label="GP")
    ax = fig.axes[0]
    points = ax.containers[0]
    np.testing.assert_allclose(points.lines[0].get_xdata(), y)
    np.testing.assert_allclose(points.lines[0].get_ydata(), mean)
    mae = np.mean(np.abs(y - mean))
    assert any(f"GP: MAE {mae:.3g}" in t.get_text() for t in ax.get_legend().get_texts())
    with pytest.raises(ValueError, match="3 true values for 50 predictions"):
        splot.parity(y[:3], (mean, std ** 2))
    with pytest.raises(ValueError, match="no 'std' column"):
        splot.parity(y, pd.DataFrame({"mean": mean}))


def test_pareto_front_greys_the_dominated():
    Y = pd.DataFrame({"strength": [1.0, 2.0, 3.0, 2.5, 1.5], "critical": [0.1, 0.2, 0.5, 0.6, 0.3]})
    fig = splot.pareto_front(Y, maximize=(True, False))
    ax = fig.axes[0]
    dominated, front = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    # (2.5, 0.6) is beaten by (3.0, 0.5); (1.5, 0.3) by (2.0, 0.2).
    assert sorted(map(tuple, np.asarray(dominated))) == [(1.5, 0.3), (2.5, 0.6)]
    assert sorted(map(tuple, np.asarray(front))) == [(1.0, 0.1), (2.0, 0.2), (3.0, 0.5)]
    assert ax.get_xlabel() == "strength (max)" and ax.get_ylabel() == "critical (min)"
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        splot.pareto_front(np.zeros((3, 3)))


def test_acquisition_landscape_peaks_where_the_acquisition_does():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.uniform(size=(25, 3)), columns=["Co", "T", "t"])
    y = -((X["Co"] - 0.7) ** 2) - (X["T"] - 0.2) ** 2
    gp = sozai.models.ExactGP(seed=0, restarts=2)
    gp.fit(X, y)
    best = float(gp.transform_outcome(y.to_numpy()).max())
    fig = splot.acquisition_landscape(gp, X, ("Co", "T"), bounds=((0, 1), (0, 1)), kind="ucb", best_f=best,
                                      observed=X, grid=30)
    ax = fig.axes[0]
    star = ax.lines[-1]
    sx, sy = star.get_xdata()[0], star.get_ydata()[0]
    # The starred maximum is the grid's UCB maximum, with the third input at the median.
    grid = np.linspace(0, 1, 30)
    A, B = np.meshgrid(grid, grid)
    Xg = np.column_stack([A.ravel(), B.ravel(), np.full(A.size, np.median(X["t"]))])
    v = sozai.bo.acquisition(gp, Xg, kind="ucb", best_f=best)
    assert (sx, sy) == (Xg[np.argmax(v), 0], Xg[np.argmax(v), 1])
    assert ax.get_xlabel() == "Co" and ax.get_ylabel() == "T"
    with pytest.raises(ValueError, match="'nope' is not a column"):
        splot.acquisition_landscape(gp, X, ("Co", "nope"))


def test_convergence_band_and_png(tmp_path):
    budget = 10
    curves = [list(np.linspace(0, 1, budget) ** k) for k in (1, 2, 3)]
    res = {"budget": budget, "maximize": True, "objective": "y", "dataset": "toy", "top_required": 3, "seeds": 3,
           "arms": [{"name": "random", "best_so_far_mean": list(range(budget)), "mean_top_fraction": [0.1] * budget,
                     "p10": [0.0] * budget, "p90": [0.2] * budget},
                    {"name": "logei", "best_so_far_mean": list(range(budget)), "mean_top_fraction": curves[1],
                     "curves": curves}]}
    fig = splot.convergence(res)
    top = fig.axes[1]
    band = top.collections[1].get_paths()[0].vertices
    lo = np.percentile(np.array(curves), 10, axis=0)
    assert np.isclose(band[:, 1].min(), lo.min())
    path = tmp_path / "r.json"
    path.write_text(json.dumps(res))
    splot.plot_benchmark(str(path), tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_importing_plot_leaves_the_backend_alone():
    import matplotlib
    before = matplotlib.get_backend()
    import importlib
    importlib.reload(splot)
    assert matplotlib.get_backend() == before


def test_acquisition_landscape_on_a_simplex():
    rng = np.random.default_rng(2)
    W = rng.dirichlet(np.ones(4), size=30)
    X = pd.DataFrame(W, columns=["Ni", "Fe", "Co", "Mn"])
    y = -((X["Ni"] - 0.5) ** 2) - (X["Co"] - 0.3) ** 2
    gp = sozai.models.ExactGP(seed=0, restarts=2)
    gp.fit(X, y)
    reference = pd.Series({"Ni": 0.1, "Fe": 0.2, "Co": 0.3, "Mn": 0.4})
    fig = splot.acquisition_landscape(gp, reference, ("Ni", "Fe"), bounds=((0, 1), (0, 1)), kind="ucb", grid=21,
                                      composition=["Ni", "Fe", "Co", "Mn"])
    ax = fig.axes[0]
    sx, sy = ax.lines[-1].get_xdata()[0], ax.lines[-1].get_ydata()[0]
    # Co and Mn share what Ni and Fe leave, 3:4; beyond Ni + Fe = 1 nothing is drawn.
    g = np.linspace(0, 1, 21)
    A, B = np.meshgrid(g, g)
    a, b = A.ravel(), B.ravel()
    ok = a + b <= 1 + 1e-12
    left = np.maximum(1 - a - b, 0)
    Xg = np.column_stack([a, b, left * 3 / 7, left * 4 / 7])[ok]
    v = sozai.bo.acquisition(gp, Xg, kind="ucb")
    assert (sx, sy) == (Xg[np.argmax(v), 0], Xg[np.argmax(v), 1])
    assert sx + sy <= 1 + 1e-12
