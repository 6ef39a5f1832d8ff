"""Plots people expect from a materials-discovery run (matplotlib).

Each function takes what the API returns (a benchmark result, predictions
as ``(mean, variance)`` or an ``as_frame=True`` DataFrame, a campaign's
outcomes, a fitted model) and returns the matplotlib Figure; pass ``ax=`` to
draw into an existing Axes. Figures are made without pyplot, so importing
this module never changes the backend of a notebook, and a returned figure
shows once in Jupyter.

>>> import sozai.plot
>>> fig = sozai.plot.parity(y_test, model.posterior(X_test))  # doctest: +SKIP
>>> fig.savefig("parity.png")  # doctest: +SKIP
"""

import json
import pathlib
from statistics import NormalDist

import numpy as np
from matplotlib.figure import Figure

__all__ = ["convergence", "plot_benchmark", "summary_markdown", "parity", "calibration", "calibration_curve",
           "pareto_front", "acquisition_landscape"]


def _axes(ax, figsize=(5.0, 4.2)):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _mean_std(prediction, where):
    """(mean, std) of predictions: a (mean, variance) pair or a DataFrame with 'mean' and 'std' columns."""
    if hasattr(prediction, "columns"):
        for c in ("mean", "std"):
            if c not in prediction.columns:
                raise ValueError(f"{where}: the prediction frame has no {c!r} column (columns: "
                                 f"{', '.join(map(str, prediction.columns))})")
        return prediction["mean"].to_numpy(dtype=float), prediction["std"].to_numpy(dtype=float)
    if isinstance(prediction, tuple) and len(prediction) == 2:
        mean, var = (np.asarray(p, dtype=float).reshape(-1) for p in prediction)
        return mean, np.sqrt(np.maximum(var, 0.0))
    raise ValueError(f"{where}: prediction must be (mean, variance) or a DataFrame with 'mean' and 'std'")


def _truth(y_true, n, where):
    y = np.asarray(y_true, dtype=float).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"{where}: {y.shape[0]} true values for {n} predictions")
    return y


def convergence(res, axes=None):
    """Best-so-far and top-5%-found curves of a `sozai benchmark --out` result (dict or JSON path), each arm with a
    10-90 % band over seeds. axes: two Axes to draw into (a new figure otherwise)."""
    if not isinstance(res, dict):
        res = json.loads(pathlib.Path(res).read_text())
    if axes is None:
        fig = Figure(figsize=(11, 4.2))
        ax_best, ax_top = fig.subplots(1, 2)
    else:
        ax_best, ax_top = axes
        fig = ax_best.figure
    x = np.arange(1, res["budget"] + 1)
    colors = {"random": "0.45"}
    palette = iter(["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"])
    for arm in res["arms"]:
        c = colors.get(arm["name"]) or next(palette)
        # Random search runs through the whole pool; the plot shows the BO budget.
        ax_best.plot(x, arm["best_so_far_mean"][:len(x)], color=c, label=arm["name"])
        ax_top.plot(x, arm["mean_top_fraction"][:len(x)], color=c, label=arm["name"])
        if arm["name"] == "random":
            lo, hi = arm["p10"], arm["p90"]
        else:
            curves = np.array([np.pad(cv, (0, res["budget"] - len(cv)), mode="edge") for cv in arm["curves"]])
            lo, hi = np.percentile(curves, 10, axis=0), np.percentile(curves, 90, axis=0)
        ax_top.fill_between(x, lo[:len(x)], hi[:len(x)], color=c, alpha=0.15, linewidth=0)
    direction = "max" if res["maximize"] else "min"
    ax_best.set(xlabel="experiments", ylabel=f"best {res['objective']} found ({direction}, mean over seeds)",
                title=f"{res['dataset']}: best so far")
    ax_top.set(xlabel="experiments", ylabel="fraction of top 5% found", ylim=(0, 1.02),
               title=f"{res['dataset']}: top-{res['top_required']} found ({res['seeds']} seeds, 10-90% band)")
    for ax in (ax_best, ax_top):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    if axes is None:
        fig.tight_layout()
    return fig


def plot_benchmark(res, png):
    """convergence(res) written to ``png``."""
    convergence(res).savefig(png, dpi=120)


def parity(y_true, prediction, ax=None, sigma=1.0, label=None, max_points=5000):
    """Predicted against measured with +-sigma standard-deviation error bars and the y = x line; MAE, RMSE and R^2 in
    the legend. prediction: (mean, variance) or a DataFrame with 'mean' and 'std' (as_frame=True)."""
    mean, std = _mean_std(prediction, "parity")
    y = _truth(y_true, len(mean), "parity")
    fig, ax = _axes(ax)
    show = np.arange(len(y))
    if len(show) > max_points:  # error bars of every point of a large test set are a solid block
        show = np.random.default_rng(0).choice(len(y), max_points, replace=False)
    err = y - mean
    mae, rmse = float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err ** 2)))
    r2 = 1.0 - float(np.sum(err ** 2)) / max(float(np.sum((y - y.mean()) ** 2)), 1e-300)
    text = f"MAE {mae:.3g}, RMSE {rmse:.3g}, R$^2$ {r2:.3f}"
    ax.errorbar(y[show], mean[show], yerr=sigma * std[show], fmt="o", ms=3, alpha=0.6, elinewidth=0.6,
                color="tab:blue", ecolor="tab:blue", label=f"{label + ': ' if label else ''}{text}")
    lo, hi = float(min(y.min(), mean.min())), float(max(y.max(), mean.max()))
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=1, ls="--", label="y = x")
    ax.set(xlabel="measured", ylabel=f"predicted (error bars: {sigma:g} sd)", xlim=(lo - pad, hi + pad),
           ylim=(lo - pad, hi + pad), aspect="equal")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def calibration_curve(y_true, prediction, levels=None):
    """(expected, observed, miscalibration area): for each central-interval probability p in `levels` (default
    0.05 ... 0.95), the fraction of measurements inside the predicted Gaussian p-interval; the area is the mean
    |observed - expected| (0 for a calibrated model; Tran et al. 2020)."""
    mean, std = _mean_std(prediction, "calibration_curve")
    y = _truth(y_true, len(mean), "calibration_curve")
    p = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels, dtype=float)
    z = np.abs(y - mean) / np.maximum(std, 1e-300)
    # Half-width of the central p-interval in standard deviations.
    half = np.array([NormalDist().inv_cdf(0.5 + 0.5 * v) for v in p])
    observed = (z[None, :] <= half[:, None]).mean(axis=1)
    return p, observed, float(np.mean(np.abs(observed - p)))


def calibration(y_true, prediction, ax=None, label=None):
    """Calibration curve: observed against expected coverage of the predicted central intervals, with the ideal
    diagonal and the miscalibration area in the legend (below the diagonal: over-confident)."""
    p, observed, area = calibration_curve(y_true, prediction)
    fig, ax = _axes(ax)
    ax.plot([0, 1], [0, 1], color="0.3", lw=1, ls="--", label="calibrated")
    ax.plot(p, observed, "o-", color="tab:orange", ms=4,
            label=f"{label + ': ' if label else ''}miscalibration area {area:.3f}")
    ax.fill_between(p, p, observed, color="tab:orange", alpha=0.15, linewidth=0)
    ax.set(xlabel="expected fraction inside the interval", ylabel="observed fraction", xlim=(0, 1), ylim=(0, 1),
           aspect="equal")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _front_mask(Y, maximize):
    sign = np.where(np.asarray(maximize, dtype=bool), 1.0, -1.0)
    S = Y * sign
    n = len(S)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if mask[i]:
            dominated = np.all(S <= S[i], axis=1) & np.any(S < S[i], axis=1)
            mask &= ~dominated
    return mask


def pareto_front(Y, maximize=(True, True), ax=None, names=None, labels=None):
    """Two objectives: every point, the non-dominated ones in colour joined by the front's staircase, the dominated
    ones grey. Y: [n, 2] array or a DataFrame of two columns (names from it); maximize: per objective."""
    if hasattr(Y, "columns"):
        names = names or [str(c) for c in Y.columns]
        labels = labels if labels is not None else [str(i) for i in Y.index]
        Y = Y.to_numpy(dtype=float)
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2 or Y.shape[1] != 2:
        raise ValueError(f"pareto_front: Y must be [n, 2], got shape {Y.shape}")
    maximize = np.broadcast_to(np.asarray(maximize, dtype=bool), (2,))
    names = names or ["objective 1", "objective 2"]
    mask = _front_mask(Y, maximize)
    fig, ax = _axes(ax)
    ax.scatter(Y[~mask, 0], Y[~mask, 1], s=14, color="0.7", label=f"dominated ({int((~mask).sum())})")
    F = Y[mask]
    F = F[np.argsort(F[:, 0] * (1 if maximize[0] else -1))]
    ax.step(F[:, 0], F[:, 1], where="post" if maximize[0] != maximize[1] else "pre", color="tab:red", lw=1, alpha=0.7)
    ax.scatter(F[:, 0], F[:, 1], s=26, color="tab:red", zorder=3, label=f"Pareto front ({int(mask.sum())})")
    ax.set(xlabel=f"{names[0]} ({'max' if maximize[0] else 'min'})",
           ylabel=f"{names[1]} ({'max' if maximize[1] else 'min'})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def acquisition_landscape(model, reference, inputs, bounds=None, kind="logei", best_f=0.0, maximize=True, ax=None,
                          observed=None, grid=60, names=None, composition=None):
    """The acquisition over two inputs, the others held at `reference` (a row [d] or a named Series, or a
    DataFrame/array whose column medians are used): a filled contour with the observed points on top. inputs: two column positions or
    names (with a DataFrame reference); bounds: ((lo, hi), (lo, hi)) (default: the range of `observed`, else of the
    reference frame); model: a fitted model with posterior (ExactGP); best_f in the model's latent space.
    composition: the inputs (names or positions, the two plotted among them) that are shares summing to one: the
    others of them then share what the two leave in the reference's proportions, and points where the two alone
    pass one are left blank (on a simplex, holding the others fixed would leave it)."""
    from . import bo
    if hasattr(reference, "columns"):  # a DataFrame: its column medians
        columns, ref = [str(c) for c in reference.columns], reference.to_numpy(dtype=float)
    elif hasattr(reference, "index") and hasattr(reference, "to_numpy"):  # a Series: one row, named
        columns, ref = [str(c) for c in reference.index], reference.to_numpy(dtype=float)
    else:
        columns, ref = None, np.asarray(reference, dtype=float)
    table = ref if ref.ndim == 2 else None
    row = np.median(ref, axis=0) if ref.ndim == 2 else ref.reshape(-1)
    def position(v):
        if isinstance(v, str):
            if not columns or v not in columns:
                raise ValueError(f"acquisition_landscape: input {v!r} is not a column of the reference")
            return columns.index(v)
        return int(v)

    pos = [position(v) for v in inputs]
    if len(pos) != 2 or pos[0] == pos[1]:
        raise ValueError("acquisition_landscape: inputs must name two different inputs")
    obs = None if observed is None else np.asarray(
        observed.to_numpy(dtype=float) if hasattr(observed, "columns") else observed, dtype=float)
    if bounds is None:
        src = obs if obs is not None else table
        if src is None:
            raise ValueError("acquisition_landscape: give bounds (or observed points or a reference table)")
        bounds = [(float(src[:, p].min()), float(src[:, p].max())) for p in pos]
    a = np.linspace(bounds[0][0], bounds[0][1], grid)
    b = np.linspace(bounds[1][0], bounds[1][1], grid)
    A, B = np.meshgrid(a, b)
    X = np.repeat(row[None, :], A.size, axis=0)
    X[:, pos[0]], X[:, pos[1]] = A.ravel(), B.ravel()
    valid = np.ones(A.size, dtype=bool)
    if composition is not None:
        total = float(sum(row[position(v)] for v in composition))
        rest = [p for p in (position(v) for v in composition) if p not in pos]
        left = total - A.ravel() - B.ravel()
        valid = left >= -1e-12
        share = row[rest] / row[rest].sum() if rest and row[rest].sum() > 0 else np.full(len(rest), 1.0 / max(len(rest), 1))
        X[:, rest] = np.maximum(left, 0.0)[:, None] * share[None, :]
    values = np.full(A.size, np.nan)
    values[valid] = np.asarray(bo.acquisition(model, X[valid], kind=kind, best_f=best_f, maximize=maximize))
    values = np.ma.masked_invalid(values.reshape(A.shape))
    fig, ax = _axes(ax, figsize=(5.6, 4.4))
    # Log acquisitions fall by thousands far from the data: colour the top 95 % of the points, the rest as the least.
    finite = values.compressed()
    lo, hi = float(np.percentile(finite, 5)), float(finite.max())
    levels = np.linspace(lo, hi if hi > lo else lo + 1e-12, 21)
    cs = ax.contourf(A, B, values, levels=levels, cmap="viridis", extend="min")
    bar = fig.colorbar(cs, ax=ax, label=kind)
    bar.formatter.set_useOffset(False)
    bar.update_ticks()
    if obs is not None:
        ax.scatter(obs[:, pos[0]], obs[:, pos[1]], s=14, color="white", edgecolor="black", lw=0.5, label="observed")
        ax.legend(fontsize=8, loc="upper right")
    best = np.unravel_index(np.ma.argmax(values), values.shape)
    ax.plot(A[best], B[best], marker="*", ms=14, color="tab:red", mec="black", label="maximum")
    names = names or ([columns[p] for p in pos] if columns else [f"x{p}" for p in pos])
    held = "rest of the composition as the reference" if composition is not None else "other inputs as the reference"
    ax.set(xlabel=names[0], ylabel=names[1], title=f"{kind}; {held}")
    return fig


def fmt(v):
    return "n/a" if v is None else f"{v:.2f}"


def summary_markdown(res, png_name=None):
    """Markdown summary (EF/AF table) of a benchmark result; links ``png_name`` if given."""
    if not isinstance(res, dict):
        res = json.loads(pathlib.Path(res).read_text())
    lines = [f"# sozai benchmark: {res['dataset']}", "",
             f"Pool of {res['pool_size']} unique experiments ({res['raw_rows']} rows, repeats averaged); "
             f"objective `{res['objective']}` ({'maximise' if res['maximize'] else 'minimise'}); "
             f"top 5% = {res['top_required']} candidates; budget {res['budget']}; {res['seeds']} seeds per BO arm; "
             f"campaigns start from {res['n_init']} random experiments.", "",
             "| arm | EF@10 | EF@25 | EF@50 | experiments to 50% | AF@50% | experiments to 80% | AF@80% |",
             "|---|---|---|---|---|---|---|---|"]
    for a in res["arms"]:
        ef, af, n = a["ef"], a["af"], a["n_to_reach"]
        lines.append(f"| {a['name']} | {fmt(ef.get('10'))} | {fmt(ef.get('25'))} | {fmt(ef.get('50'))} | "
                     f"{n.get('0.50')} | {fmt(af.get('0.50'))} | {n.get('0.80')} | {fmt(af.get('0.80'))} |")
    lines += ["", "EF(i) = Top%_BO(i) / Top%_random(i); AF(t) = n_random(t) / n_BO(t) "
              "(Liang et al., npj Comput. Mater. 7, 188, 2021).", ""]
    if png_name:
        lines += [f"![convergence]({png_name})", ""]
    return "\n".join(lines)

