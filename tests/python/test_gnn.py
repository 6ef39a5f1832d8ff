"""GnnEnsemble from Python: the scikit-learn-like contract, save/load across
processes, and errors."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sozai
from sozai import models


@pytest.fixture(scope="module")
def tg(data_dir):
    df = pd.read_csv(data_dir / "polymers" / "Tg_Original.csv").sample(120, random_state=0)
    return list(df["Smiles"]), df["Tg"].to_numpy()


def test_polymer_ensemble_contract_and_reload(tg, tmp_path):
    smiles, y = tg
    m = models.GnnEnsemble(kind="polymer", n_members=2, seed=0, hidden=32, head_hidden=32, layers=2,
                           max_epochs=15, batch_size=32, progress=False)
    report = m.fit(smiles[:100], y[:100])
    assert len(report["epochs"]) == 2 and report["seconds"] > 0
    mean, variance = m.predict(smiles[100:])
    assert mean.shape == (20,) and variance.shape == (20,)
    assert np.all(variance > 0) and np.all(np.isfinite(mean))
    path = tmp_path / "tg.pt"
    m.save(str(path))
    code = ("import sys, json, sozai; m = sozai.models.load(sys.argv[1]); "
            "mu, var = m.predict(json.loads(sys.argv[2])); print(json.dumps([list(mu), list(var)]))")
    import json
    out = subprocess.run([sys.executable, "-c", code, str(path), json.dumps(smiles[100:])],
                         capture_output=True, text=True, check=True)
    mu2, var2 = json.loads(out.stdout)
    np.testing.assert_allclose(mu2, mean, rtol=1e-9)
    np.testing.assert_allclose(var2, variance, rtol=1e-9)


def test_ensemble_errors(tmp_path):
    with pytest.raises(sozai.InputError, match="kind must be"):
        models.GnnEnsemble(kind="metal")
    m = models.GnnEnsemble(kind="composition", progress=False)
    with pytest.raises(sozai.InputError, match="has not been fitted"):
        m.predict(["Fe"])
    with pytest.raises(sozai.InputError, match="input 1"):
        m.fit(["Fe", "Qq"], [1.0, 2.0])
    with pytest.raises(sozai.StorageError):
        models.load(str(tmp_path / "missing.pt"))
