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


def small(kind, **kw):
    settings = dict(kind=kind, n_members=2, seed=0, hidden=16, head_hidden=16, layers=2, max_epochs=12,
                    batch_size=32, progress=False)
    settings.update(kw)
    return models.GnnEnsemble(**settings)


def test_graph_batches_members_and_embeddings(tg):
    smiles, y = tg
    m = small("polymer")
    graphs = m.featurize(smiles)
    assert isinstance(graphs, sozai.featurize.GraphBatch) and len(graphs) == 120
    train = sozai.featurize.select_graphs(graphs, list(range(100)))
    report = m.fit(train, y[:100])
    assert report["max_epochs"] == 12 and len(report["member_variance_scale"]) == 2
    test = sozai.featurize.select_graphs(graphs, list(range(100, 120)))
    mean, var = m.predict(test)
    # The same as featurising the SMILES again.
    again = m.predict(smiles[100:])
    np.testing.assert_allclose(again[0], mean, rtol=1e-12)
    # Each member alone; the ensemble mean is their mean.
    singles = [m.predict(test, member=i) for i in range(2)]
    np.testing.assert_allclose((singles[0][0] + singles[1][0]) / 2, mean, rtol=1e-9, atol=1e-9)
    assert all(np.all(v > 0) for _, v in singles)
    z = m.embed(test)
    assert z.shape == (20, 16) and np.all(np.isfinite(z))
    with pytest.raises(sozai.InputError, match="member 2"):
        m.predict(test, member=2)
    with pytest.raises(sozai.InputError, match="outside"):
        sozai.featurize.select_graphs(graphs, [120])


def test_threads_do_not_change_the_result(tg):
    smiles, y = tg
    a = small("polymer", threads=1).fit(smiles[:60], y[:60])
    b = small("polymer", threads=2).fit(smiles[:60], y[:60])
    assert a["epochs"] == b["epochs"]
    assert a["best_val_mae"] == b["best_val_mae"]


def test_blends_pool_by_fraction(tg):
    smiles, y = tg
    m = small("polymer")
    m.fit(smiles[:60], y[:60])
    a, b = smiles[0], smiles[1]
    pure, _ = m.predict([a, b])
    # A component with fraction 0 contributes nothing; fractions normalise.
    blend, _ = m.predict([f"{a} 1 | {b} 0", f"{a} 0 | {b} 3"])
    np.testing.assert_allclose(blend, pure, rtol=1e-5)
    mixed, _ = m.predict([f"{a} 0.5 | {b} 0.5"])
    assert np.isfinite(mixed).all()
    with pytest.raises(sozai.InputError, match="no fraction"):
        m.predict([f"{a} | {b} 0.5"])


def test_mc_dropout_is_repeatable_and_needs_dropout(tg):
    smiles, y = tg
    m = small("polymer", n_members=1, dropout=0.2, mc_dropout_samples=6)
    m.fit(smiles[:60], y[:60])
    first = m.predict(smiles[60:70])
    second = m.predict(smiles[60:70])
    np.testing.assert_array_equal(first[0], second[0])
    with pytest.raises(sozai.InputError, match="needs dropout > 0"):
        small("polymer", mc_dropout_samples=4)


def test_checkpoint_resumes_after_a_kill(tg, tmp_path):
    """A fit killed after its first member resumes from the checkpoint and
    ends with the ensemble an uninterrupted fit gives."""
    import json
    import time
    smiles, y = tg
    ckpt = tmp_path / "ckpt.pt"
    settings = dict(kind="polymer", n_members=3, seed=3, hidden=16, head_hidden=16, layers=2, max_epochs=80,
                    patience=80, batch_size=16, progress=False, threads=1)
    code = ("import json, sys, sozai; s = json.loads(sys.argv[1]); d = json.loads(sys.argv[2]); "
            "m = sozai.models.GnnEnsemble(checkpoint=sys.argv[3], **s); m.fit(d[0], d[1])")
    args = [sys.executable, "-c", code, json.dumps(settings), json.dumps([smiles[:100], list(y[:100])]), str(ckpt)]
    proc = subprocess.Popen(args)
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert ckpt.exists(), "no checkpoint was written after the first member"
    with pytest.raises(sozai.StorageError, match="checkpoint with 1 of 3"):
        models.load(str(ckpt))
    resumed = models.GnnEnsemble(checkpoint=str(ckpt), **settings)
    resumed.fit(smiles[:100], y[:100])
    assert not ckpt.exists()  # finished: the checkpoint is removed
    fresh = models.GnnEnsemble(**settings)
    fresh.fit(smiles[:100], y[:100])
    np.testing.assert_allclose(resumed.predict(smiles[100:])[0], fresh.predict(smiles[100:])[0], rtol=1e-6)
    assert resumed.report["epochs"] == fresh.report["epochs"]


def test_campaign_with_gnn_surrogates():
    formulas, y = [], []
    for a in range(11):
        for b in range(11 - a):
            fe, ni, co = a / 10, b / 10, (10 - a - b) / 10
            formulas.append(f"Fe{fe}Ni{ni}Co{co}")
            y.append(100 * fe * fe + 50 * ni - 30 * fe * co)
    settings = dict(n_members=2, hidden=16, max_epochs=30)
    for surrogate in ("gnn", "gnn-dkl"):
        order = sozai.benchmark.pool_campaign(formulas, y, True, budget=7, q=2, n_init=3, surrogate=surrogate,
                                              kind="composition", gnn=settings)
        assert len(order) == 7 and len(set(order)) == 7
    graphs = models.GnnEnsemble(kind="composition").featurize(formulas)
    c = sozai.campaign.PoolCampaign(graphs, maximize=True, surrogate="gnn", n_init=2, gnn=settings)
    first = c.ask(2)
    c.tell(list(first), [y[i] for i in first])
    nxt = c.ask(1)
    assert nxt[0] not in first
    with pytest.raises(ValueError, match="kind="):
        sozai.benchmark.pool_campaign(formulas, y, True, budget=4, surrogate="gnn")
    with pytest.raises(sozai.InputError, match="unknown field 'width'"):
        sozai.campaign.PoolCampaign(graphs, surrogate="gnn", gnn={"width": 3})


def _naive_composition_net(state, graph, heads=3):
    """models/gnn/composition_net.h's formula as written there, edge by edge (each head's gate and message
    networks on [h_i, h_j, e_ij]): the oracle for the C++ forward, which factors those products onto the
    nodes. Returns (mean, log_var) of one graph."""
    import torch

    def mlp(prefix, z, layers=1):
        for k in range(layers):
            z = torch.nn.functional.silu(z @ state[f"{prefix}.{2 * k}.weight"].T + state[f"{prefix}.{2 * k}.bias"])
        return z @ state[f"{prefix}.{2 * layers}.weight"].T + state[f"{prefix}.{2 * layers}.bias"]

    x = torch.tensor(np.asarray(graph.x), dtype=torch.float64)
    w = torch.tensor(np.asarray(graph.node_weight), dtype=torch.float64)
    ei = np.asarray(graph.edge_index)
    ea = torch.tensor(np.asarray(graph.edge_attr), dtype=torch.float64)
    h = torch.cat([x @ state["embed.weight"].T + state["embed.bias"], w[:, None]], 1)
    t = 0
    while f"step{t}.pow" in state and ei.shape[1] > 0:
        update = torch.zeros_like(h)
        for i in range(len(h)):
            into = [e for e in range(ei.shape[1]) if ei[1, e] == i]
            for k in range(heads):
                z = torch.stack([torch.cat([h[i], h[ei[0, e]], ea[e]]) for e in into])
                score = mlp(f"step{t}.gate{k}", z)[:, 0] + state[f"step{t}.pow"][k] * torch.log(w[ei[0, into]])
                a = torch.softmax(score, 0)
                update[i] += (a[:, None] * mlp(f"step{t}.msg{k}", z)).sum(0)
        h = h + update / heads
        t += 1
    pooled = 0
    for k in range(heads):
        b = torch.softmax(mlp(f"pool.gate{k}", h)[:, 0] + state["pool.pow"][k] * torch.log(w), 0)
        pooled = pooled + (b[:, None] * mlp(f"pool.msg{k}", h)).sum(0)
    out = mlp("head", (pooled / heads)[None, :], layers=2)[0]
    return out[0], out[1]


def test_composition_network_equals_its_formula_edge_by_edge(tmp_path):
    """The C++ CompositionNet moves the attention networks' matrix products from edges to nodes (the first
    Linear split by the blocks of [h_i, h_j, e_ij], the message's second Linear past the attention sum): the
    same function as the formula applied edge by edge, for one to five elements."""
    import torch
    formulas = ["Fe", "FeNi", "Fe2Ni3Cr", "Al0.1CoCrFeNi", "TiZrHfNbTa0.5", "NaCl", "Fe0.3Co0.2Ni0.5"]
    y = np.arange(len(formulas), dtype=float)
    m = small("composition", n_members=1, hidden=12, head_hidden=10, layers=2, max_epochs=3, batch_size=4)
    m.fit(formulas, y)
    path = tmp_path / "c.pt"
    m.save(str(path))
    archive = torch.jit.load(str(path))
    state = {k[len("member0."):]: v.double() for k, v in archive.state_dict().items() if k.startswith("member0.")}
    y_mean, y_std = float(archive.y_mean), float(archive.y_std)
    mean, variance = m.predict(formulas)
    for f, mu, var in zip(formulas, mean, variance):
        ref_mean, ref_log_var = _naive_composition_net(state, sozai.featurize.composition_graph(f))
        # float32 network against float64 arithmetic on the same weights: agreement to float32 rounding.
        assert mu == pytest.approx(float(ref_mean) * y_std + y_mean, rel=1e-4, abs=1e-4 * y_std), f
        assert var == pytest.approx(np.exp(float(ref_log_var)) * y_std ** 2, rel=1e-3), f
