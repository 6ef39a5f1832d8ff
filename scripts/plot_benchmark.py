#!/usr/bin/env python3
"""Convergence plot and markdown summary of `sozai benchmark --out` results.

    plot_benchmark.py demo/crossed_barrel.json --png demo/crossed_barrel.png --summary demo/SUMMARY.md

Left panel: mean best value found vs experiments; right panel: fraction of
the top 5% found, BO arms with the 10-90% band over seeds, random search
with its own band.
"""

import argparse
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot(res, png):
    fig, (ax_best, ax_top) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = np.arange(1, res["budget"] + 1)
    colors = {"random": "0.45"}
    palette = iter(["tab:blue", "tab:orange", "tab:green", "tab:red"])
    for arm in res["arms"]:
        c = colors.get(arm["name"]) or next(palette)
        ax_best.plot(x, arm["best_so_far_mean"], color=c, label=arm["name"])
        ax_top.plot(x, arm["mean_top_fraction"], color=c, label=arm["name"])
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


def summary(res, png_name):
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
              "(Liang et al., npj Comput. Mater. 7, 188, 2021).", "", f"![convergence]({png_name})", ""]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("result", type=pathlib.Path)
    p.add_argument("--png", type=pathlib.Path, required=True)
    p.add_argument("--summary", type=pathlib.Path)
    args = p.parse_args(argv)
    try:
        res = json.loads(args.result.read_text())
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"plot_benchmark: cannot read {args.result}: {e}")
    plot(res, args.png)
    print(f"wrote {args.png}", file=sys.stderr)
    if args.summary:
        args.summary.write_text(summary(res, args.png.name))
        print(f"wrote {args.summary}", file=sys.stderr)


if __name__ == "__main__":
    main()
