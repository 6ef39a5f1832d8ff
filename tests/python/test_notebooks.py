"""The notebooks in examples/ run top to bottom (nbclient, the python3 kernel of Debian's ipykernel); any cell
error fails the test. Each has a time budget per cell, which stops a hung notebook; their settings are small (each
notebook says what the real ones are)."""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT / "scripts"))
from run_notebooks import run_notebook  # noqa: E402  (one runner for make notebooks and the tests)
# Seconds a single cell may take (a hang guard for CI; the notebooks take about a minute each on 2 cores).
CELL_BUDGET = {"polymers_tg": 400, "alloys_critical_elements": 400, "catalysts_oer_transfer": 400, "lab_loop": 300}


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in EXAMPLES.glob("*.ipynb")) == sorted(CELL_BUDGET)


@pytest.mark.parametrize("name", sorted(CELL_BUDGET))
def test_notebook_runs(name, data_dir, sozai_cli, tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    book, seconds = run_notebook(EXAMPLES / f"{name}.ipynb", CELL_BUDGET[name],
                                 env={"SOZAI_CLI": str(sozai_cli), "SOZAI_FIGURES": str(tmp_path)})
    print(f"{name}: {seconds:.0f} s")
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    # Every notebook shows at least one figure and saves it when asked.
    images = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{name} displayed no figure"
    assert list(tmp_path.glob("*.png")), f"{name} saved no figure into SOZAI_FIGURES"
