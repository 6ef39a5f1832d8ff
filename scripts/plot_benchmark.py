#!/usr/bin/env python3
"""Convergence plot and markdown summary of `sozai benchmark --out` results.

    plot_benchmark.py demo/crossed_barrel.json --png demo/crossed_barrel.png --summary demo/SUMMARY.md

Left panel: mean best value found vs experiments; right panel: fraction of
the top 5% found, BO arms with the 10-90% band over seeds, random search
with its own band. The plotting lives in the package (sozai.plot).
"""

import argparse
import json
import pathlib
import sys

import sozai.plot


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
    sozai.plot.plot_benchmark(res, args.png)
    print(f"wrote {args.png}", file=sys.stderr)
    if args.summary:
        args.summary.write_text(sozai.plot.summary_markdown(res, args.png.name))
        print(f"wrote {args.summary}", file=sys.stderr)


if __name__ == "__main__":
    main()
