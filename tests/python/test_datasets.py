"""Dataset readers and the registry from Python."""

import hashlib

import numpy as np
import pytest

import sozai


@pytest.mark.parametrize("name,row,column,what", [
    ("bad_field_count", 3, "target", "expected 3 fields"),
    ("bad_number", 3, "x2", "abc"),
    ("empty_target", 4, "y", "empty cell"),
    ("nan_target", 3, "y", "NaN"),
])
def test_malformed_csv_names_row_and_column(fixtures, name, row, column, what):
    path = fixtures / "datasets" / f"{name}.csv"
    with pytest.raises(sozai.InputError) as e:
        sozai.datasets.read_pvlab_csv(str(path), True)
    msg = str(e.value)
    assert f"{name}.csv" in msg and f"row {row}" in msg and f"column '{column}'" in msg and what in msg


def test_unknown_categorical_option(fixtures):
    with pytest.raises(sozai.InputError, match=r"row 2, column 'solvent'.*acetone"):
        sozai.datasets.read_olympus_dir(str(fixtures / "datasets" / "olympus_bad_option"))


def test_repeats_are_averaged(fixtures):
    d = sozai.datasets.read_pvlab_csv(str(fixtures / "datasets" / "pvlab_small.csv"), True)
    np.testing.assert_allclose(d["X"], [[1.0, 2.0], [0.5, 1.0]])
    np.testing.assert_allclose(d["Y"][:, 0], [12.0, 7.0])
    np.testing.assert_allclose(d["counts"], [3, 1])


@pytest.mark.parametrize("name,unique,maximize", [
    ("p3ht", 178, True), ("agnp", 164, False), ("crossed_barrel", 600, True), ("autoam", 100, True),
    ("oer_plate_3496", 2121, False), ("oer_plate_4098", 2121, False), ("photo_pce10", 1020, False), ("vapdiff_crystal", 918, True),
])
def test_real_closed_loop_sets(data_dir, name, unique, maximize):
    d = sozai.datasets.load_closed_loop(name)
    assert d["X"].shape[0] == unique and d["Y"].shape == (unique, 1)
    assert d["maximize"] == [maximize]
    assert np.isfinite(d["X"]).all() and np.isfinite(d["Y"]).all()
    assert len(d["input_names"]) == d["X"].shape[1]


def test_averaging_matches_pandas(data_dir):
    import pandas as pd
    raw = pd.read_csv(data_dir / "pvlab-benchmarking" / "P3HT_dataset.csv")
    inputs = list(raw.columns[:-1])
    ref = raw.groupby(inputs, sort=False)[raw.columns[-1]].mean()
    d = sozai.datasets.load_closed_loop("p3ht")
    assert len(ref) == d["X"].shape[0]
    np.testing.assert_allclose(np.sort(d["Y"][:, 0]), np.sort(ref.values), rtol=1e-12)


def test_registry_records_sources_and_digests(data_dir):
    names = sozai.datasets.closed_loop_names()
    assert "lnp3" not in names and "crossed_barrel" in names
    for info in sozai.datasets.dataset_registry():
        assert info.source and info.licence and info.files
        for f in info.files:
            path = data_dir / f.relative_path
            assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256, f.relative_path
    with pytest.raises(sozai.InputError, match="crossed_barrel"):
        sozai.datasets.dataset_info("no_such_set")
