"""Plots of campaign benchmarks (matplotlib, Agg backend).

>>> import sozai.plot
>>> sozai.plot.plot_benchmark("demo/crossed_barrel.json", "demo/crossed_barrel.png")  # doctest: +SKIP
"""

import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_benchmark(res, png):
    """Two-panel convergence plot of a `sozai benchmark --out` result (dict or JSON path) into ``png``."""
    if not isinstance(res, dict):
        res = json.loads(pathlib.Path(res).read_text())
    fig, (ax_best, ax_top) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = np.arange(1, res["budget"] + 1)
    colors = {"random": "0.45"}
    palette = iter(["tab:blue", "tab:orange", "tab:green", "tab:red"])
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
        ax_top.fill_between(x, lo, hi, color=c, alpha=0.15, linewidth=0)
    direction = "max" if res["maximize"] else "min"
    ax_best.set(xlabel="experiments", ylabel=f"best {res['objective']} found ({direction}, mean over seeds)",
                title=f"{res['dataset']}: best so far")
    ax_top.set(xlabel="experiments", ylabel="fraction of top 5% found", ylim=(0, 1.02),
               title=f"{res['dataset']}: top-{res['top_required']} found ({res['seeds']} seeds, 10-90% band)")
    for ax in (ax_best, ax_top):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


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


__all__ = ["plot_benchmark", "summary_markdown"]
