"""Property CSV import on the shared datasets and on hand-made bad rows,
against pandas (row counts, targets) and RDKit (graph sizes)."""

import subprocess

import numpy as np
import pandas as pd
import pytest

import sozai
from sozai import datasets

Chem = pytest.importorskip("rdkit.Chem")


def test_mpea_missing_targets_match_pandas(data_dir):
    data, report = datasets.import_registered_dataset("mpea")
    df = pd.read_csv(data_dir / "alloys" / "MPEA_dataset.csv")
    col = df["PROPERTY: YS (MPa)"]
    temp = df["PROPERTY: Test temperature ($^\\circ$C)"]
    assert report["rows_read"] == len(df)
    assert report["counts"].get("missing target", 0) == int(col.isna().sum())
    assert report["counts"].get("missing condition", 0) == int((col.notna() & temp.isna()).sum())
    keep = col.notna() & temp.notna()
    assert report["rows_kept"] == int(keep.sum())
    np.testing.assert_allclose(data.targets[:, 0], col[keep].to_numpy())
    # Process conditions after the 110 composition statistics: the test
    # temperature, then one-hot processing routes and test types.
    names = data.feature_names
    assert names[110] == "PROPERTY: Test temperature ($^\\circ$C)"
    np.testing.assert_allclose(data.features[:, 110], temp[keep].to_numpy(), rtol=1e-6)
    routes = [n for n in names if n.startswith("PROPERTY: Processing method=")]
    assert routes == ["PROPERTY: Processing method=" + r for r in ["ANNEAL", "CAST", "OTHER", "POWDER", "WROUGHT", "unknown"]]
    onehot = data.features[:, [names.index(r) for r in routes]]
    np.testing.assert_array_equal(onehot.sum(axis=1), 1)
    cast = df["PROPERTY: Processing method"][keep].to_numpy() == "CAST"
    np.testing.assert_array_equal(onehot[:, 1] == 1, cast)
    assert data.target_units == ["MPa"]
    assert data.provenance["licence"] and data.provenance["dataset"] == "mpea"


def test_tg_polymers_graphs_match_rdkit(data_dir, tmp_path):
    data, report = datasets.import_registered_dataset("tg_polymers", limit=300, out=str(tmp_path / "tg.h5"))
    assert report["rows_kept"] == 300 and report["bad_rows"] == []
    df = pd.read_csv(data_dir / "polymers" / "Tg_Original.csv").head(300)
    np.testing.assert_allclose(data.targets[:, 0], df["Tg"].to_numpy())
    ptr = data.graphs.ptr
    for i in range(0, 300, 37):
        mol = Chem.MolFromSmiles(df["Smiles"][i])
        heavy = sum(1 for a in mol.GetAtoms() if a.GetAtomicNum() != 0)
        assert ptr[i + 1] - ptr[i] == heavy
    back = datasets.read_featurized(str(tmp_path / "tg.h5"))
    np.testing.assert_array_equal(back.graphs.edge_index, data.graphs.edge_index)
    assert back.provenance["input_sha256"] == data.provenance["input_sha256"]


def test_perovskite_targets_and_crystal_graphs(data_dir):
    data, report = datasets.import_registered_dataset("perov_5", limit=50)
    df = pd.read_csv(data_dir / "ceramics" / "perov_5_val.csv").head(50)
    np.testing.assert_allclose(data.targets[:, 0], df["heat_ref"].to_numpy())
    assert data.graphs.num_graphs == 50
    # 12 nearest neighbours kept per atom, 5 atoms per cell.
    assert data.graphs.num_edges == 50 * 5 * 12


def test_bad_rows_are_reported_and_the_rest_kept(fixtures):
    data, report = datasets.import_property_csv(str(fixtures / "datasets" / "compositions_bad.csv"),
                                                kind="composition", input="formula", targets=["target"])
    assert data.inputs == ["Fe0.7Ni0.3", "Al2O3", "Ca(OH)2"]
    assert report["counts"] == {"unknown element": 1, "malformed formula": 1, "missing target": 1}
    assert [b["line"] for b in report["bad_rows"]] == [4, 5, 6]
    with pytest.raises(sozai.InputError, match="no column 'Tg'"):
        datasets.import_property_csv(str(fixtures / "datasets" / "compositions_bad.csv"),
                                     kind="composition", input="formula", targets=["Tg"])


def test_cli_featurize(sozai_cli, fixtures, tmp_path):
    out = tmp_path / "c.h5"
    r = subprocess.run([str(sozai_cli), "featurize", "--csv", str(fixtures / "datasets" / "compositions_bad.csv"),
                        "--kind", "composition", "--input", "formula", "--target", "target", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "kept 3 of 6 rows" in r.stdout
    assert "left out (unknown element)" in r.stderr and "row 4" in r.stderr
    assert len(datasets.read_featurized(str(out))) == 3
    r = subprocess.run([str(sozai_cli), "featurize", "--csv", "x.csv", "--kind", "composition"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "missing required option --input" in r.stderr
