#!/usr/bin/env python3
"""Runs the notebooks in examples/ top to bottom (nbclient, the python3 kernel) and writes the executed copies,
outputs and figures included, to OUT (default build/notebooks; figures in OUT/figures).

    PYTHONPATH=build/python /usr/bin/python3 scripts/run_notebooks.py [NAME ...] [--out DIR] [--timeout S]

`make notebooks` runs it; tests/python/test_notebooks.py runs every notebook through run_notebook below.
"""

import argparse
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_notebook(path, timeout, env=None):
    """Executes the notebook at `path` with examples/ as the working directory and `env` added to the kernel's
    environment; returns (executed notebook, seconds). nbclient.exceptions.CellExecutionError on a cell error,
    naming the cell; CellTimeoutError when one cell runs past `timeout` seconds."""
    import nbclient
    import nbformat
    book = nbformat.read(str(path), as_version=4)
    saved = dict(os.environ)
    os.environ.update({"PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})})
    try:
        client = nbclient.NotebookClient(book, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(EXAMPLES)}})
        start = time.time()
        client.execute()
        return book, time.time() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="notebooks by name (default: all of examples/)")
    ap.add_argument("--out", default=str(ROOT / "build" / "notebooks"))
    ap.add_argument("--timeout", type=float, default=900, help="seconds one cell may take")
    args = ap.parse_args()
    import nbformat
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.names or sorted(p.stem for p in EXAMPLES.glob("*.ipynb"))
    for name in names:
        path = EXAMPLES / f"{name}.ipynb"
        if not path.exists():
            sys.exit(f"run_notebooks: no notebook {path}")
        print(f"[notebooks] {name} ...", file=sys.stderr, flush=True)
        book, seconds = run_notebook(path, args.timeout, env={"SOZAI_FIGURES": str(out / "figures")})
        nbformat.write(book, str(out / f"{name}.ipynb"))
        print(f"[notebooks] {name}: {seconds:.0f} s -> {out / (name + '.ipynb')}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
