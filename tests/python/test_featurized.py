"""Featurised HDF5 datasets: written by sozai, read back by sozai (whole and
in chunks) and by h5py following the documented layout."""

import json

import h5py
import numpy as np
import pytest

import sozai
from sozai import datasets




def test_featurized_round_trip_and_h5py_layout(tmp_path):
    path = tmp_path / "set.h5"
    feats = np.arange(12, dtype=float).reshape(4, 3)
    targets = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    datasets.write_featurized(str(path), "composition", ["Fe", "Fe0.5Ni0.5", "Al2O3", "SiC"],
                              features=feats, feature_names=["a", "b", "c"], targets=targets,
                              target_names=["yield", "hardness"], target_units=["MPa", "HV"],
                              provenance={"source": "hand-made", "licence": "CC0"}, chunk_rows=2)
    d = datasets.read_featurized(str(path))
    assert len(d) == 4 and d.kind == "composition"
    np.testing.assert_array_equal(d.features, feats.astype(np.float32))
    np.testing.assert_array_equal(d.targets, targets)
    assert d.target_units == ["MPa", "HV"]
    assert d.provenance == {"source": "hand-made", "licence": "CC0"}
    assert d.graphs is None
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "sozai-featurized"
        assert f.attrs["kind"] == "composition"
        assert [s.decode() for s in f["inputs"][:]] == ["Fe", "Fe0.5Ni0.5", "Al2O3", "SiC"]
        assert json.loads(f["targets"].attrs["units"]) == ["MPa", "HV"]
        assert f["features"].chunks == (2, 3)
    chunks = list(datasets.iter_featurized(str(path), chunk=3))
    assert [len(c) for c in chunks] == [3, 1]
    np.testing.assert_array_equal(np.vstack([c.targets for c in chunks]), targets)


def test_featurized_errors(tmp_path):
    with pytest.raises(sozai.InputError, match="targets must be"):
        datasets.write_featurized(str(tmp_path / "x.h5"), "table", ["a", "b"], targets=np.zeros((3, 1)),
                                  target_names=["y"])
    with pytest.raises(sozai.StorageError, match="cannot open"):
        datasets.read_featurized(str(tmp_path / "missing.h5"))
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(sozai.StorageError, match="not a sozai featurized dataset"):
        datasets.FeaturizedReader(str(tmp_path / "other.h5"))
