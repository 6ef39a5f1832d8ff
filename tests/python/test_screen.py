"""sozai.screen from Python and `sozai screen` from the shell: the same hits
as a brute-force sort, shards merged and a SIGKILLed run resumed give the
identical file, DataFrames out, errors named, several MPI ranks (when
mpirun is installed) give the one-process result."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import sozai
from sozai.spaces import space_from_json

SPACE = {
    "parameters": [
        {"name": "x", "type": "composition", "elements": ["Fe", "Co", "Ni", "Cr"], "step": 0.05},
        {"name": "T", "type": "continuous", "low": 300, "high": 900, "levels": 5},
    ],
    "constraints": [{"terms": {"x.Cr": 1.0}, "rhs": 0.3}],
    "critical_budget": {"max_fraction": 0.4, "risk": {"Co": 1.0}},
}


def _truth(X):
    return -((X[:, 1] - 0.3) ** 2) - (X[:, 3] - 0.2) ** 2 - 0.5 * (X[:, 4] / 900 - 0.6) ** 2


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    d = tmp_path_factory.mktemp("screen")
    s = space_from_json(json.dumps(SPACE))
    c = sozai.campaign.SpaceCampaign(s, acquisition="logei", n_init=6, seed=2, gp={"restarts": 2},
                                     optimizer={"restarts": 2, "raw_samples": 64, "max_iter": 20, "rounds": 1})
    for _ in range(4):
        X = c.ask(3)
        c.tell(X, _truth(X))
    c.ask(1)
    c.save(str(d / "state.json"))
    (d / "space.json").write_text(json.dumps(SPACE))
    return d


def _all_feasible(space):
    idx, rows = [], []
    for i in range(space.grid_size):
        p = space.grid_point(i)
        if space.violation(p) == "":
            idx.append(i)
            rows.append(p)
    return np.array(idx), np.array(rows)


def test_screen_matches_brute_force_and_returns_a_frame(campaign):
    space = space_from_json(json.dumps(SPACE))
    idx, rows = _all_feasible(space)
    r = sozai.screen(space=campaign / "space.json", campaign=campaign / "state.json", score="mean", top=10 ** 6,
                     progress=False)
    assert r.complete and r.screened == len(idx) and r.positions == space.grid_size
    assert sorted(r.index.tolist()) == idx.tolist()
    # best first: mean descending, ties by index
    assert np.all(np.diff(r.score) <= 0)
    top = sozai.screen(space=SPACE, campaign=campaign / "state.json", score="logei", top=5, progress=False)
    full = sozai.screen(space=SPACE, campaign=campaign / "state.json", score="logei", top=10 ** 6, progress=False)
    np.testing.assert_array_equal(top.index, full.index[:5])
    df = top.to_frame()
    assert list(df.columns[:5]) == ["x.Fe", "x.Co", "x.Ni", "x.Cr", "T"]
    assert list(df.index) == top.index.tolist() and df.index.name == "index"
    np.testing.assert_allclose(df[["x.Fe", "x.Co", "x.Ni", "x.Cr"]].sum(axis=1), 1.0, atol=1e-9)
    for i, row in zip(top.index, df.itertuples()):
        np.testing.assert_allclose([row[1], row[2], row[3], row[4], row[5]], space.grid_point(int(i)), atol=1e-9)
    np.testing.assert_array_equal(df["score"].to_numpy(), top.score)


@pytest.mark.parametrize("score", ["logei", "ucb", "mean"])
def test_pruning_changes_the_work_not_the_result(campaign, score):
    kw = dict(space=campaign / "space.json", campaign=campaign / "state.json", score=score, top=7, chunk=1024,
              progress=False)
    pruned = sozai.screen(**kw)
    exact = sozai.screen(prune=False, **kw)
    np.testing.assert_array_equal(pruned.index, exact.index)
    np.testing.assert_array_equal(pruned.score, exact.score)
    np.testing.assert_array_equal(pruned.mean, exact.mean)
    np.testing.assert_array_equal(pruned.variance, exact.variance)
    assert exact.exact == exact.screened and pruned.exact <= pruned.screened


def test_shards_merge_to_the_single_run(campaign, tmp_path):
    kw = dict(space=SPACE, campaign=campaign / "state.json", top=20, chunk=100, progress=False)
    whole = sozai.screen(out=tmp_path / "whole.csv", **kw)
    parts = []
    for i in range(4):
        sozai.screen(out=tmp_path / f"p{i}.h5", shard=(i, 4), **kw)
        parts.append(tmp_path / f"p{i}.h5")
    merged = sozai.screen_merge(parts, out=tmp_path / "merged.csv")
    np.testing.assert_array_equal(merged.index, whole.index)
    np.testing.assert_array_equal(merged.score, whole.score)
    assert (tmp_path / "merged.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    back = sozai.read_screen(tmp_path / "merged.csv")
    np.testing.assert_array_equal(back.mean, whole.mean)
    assert back.provenance["settings_sha256"] == whole.provenance["settings_sha256"]


def test_errors_name_what_is_wrong(campaign, tmp_path):
    with pytest.raises(sozai.InputError, match="unknown score 'top'"):
        sozai.screen(space=SPACE, campaign=campaign / "state.json", score="top", progress=False)
    bad = json.loads(json.dumps(SPACE))
    del bad["parameters"][1]["levels"]
    with pytest.raises(sozai.InputError, match="parameter 'T' has no grid"):
        sozai.screen(space=bad, campaign=campaign / "state.json", progress=False)
    with pytest.raises(sozai.InputError, match="limit on 'hardness'"):
        sozai.screen(space=SPACE, campaign=campaign / "state.json", limits=["hardness>=2"], progress=False)
    with pytest.raises(sozai.InputError, match="library 'nope.csv' does not exist"):
        sozai.screen(library="nope.csv", models=["m.pt"], progress=False)
    if sozai.build_info().get("cuda_available") != "yes":
        with pytest.raises(sozai.DeviceError, match="no CUDA device is available"):
            sozai.screen(space=SPACE, campaign=campaign / "state.json", device="cuda", progress=False)
    lib = tmp_path / "lib.csv"
    lib.write_text("formula,note\nFe2O3,a\nNiO,b\n")
    with pytest.raises(sozai.InputError, match="neither a file nor NAME:TASK"):
        sozai.screen(library=lib, input="formula", models=["nope.pt"], progress=False)
    with pytest.raises(sozai.InputError, match="has no task 'hardness'"):
        sozai.screen(library=lib, input="formula", models=["composition-mp:hardness"], progress=False)
    (tmp_path / "junk.pt").write_bytes(b"\x00not a model")
    with pytest.raises(sozai.SozaiError, match="junk.pt"):
        sozai.screen(library=lib, input="formula", models=[tmp_path / "junk.pt"], progress=False)
    with pytest.raises(sozai.InputError, match="line 3"):
        lib.write_text("formula,note\nFe2O3,a\nNiO\n")
        sozai.screen(library=lib, input="formula", models=["composition-mp:mp_gap"], progress=False)
    (tmp_path / "part.csv").write_text("rank,index\n")
    with pytest.raises(sozai.StorageError, match="part.csv.provenance.json"):
        sozai.screen_merge([tmp_path / "part.csv"])


def test_cli_screen_resumes_after_sigkill_with_the_identical_file(campaign, tmp_path, sozai_cli):
    # The campaign's space on a finer grid (it encodes the same): 884,255 positions, a few seconds.
    fine = json.loads(json.dumps(SPACE))
    fine["parameters"][0]["step"] = 0.01
    (tmp_path / "fine.json").write_text(json.dumps(fine))
    base = [str(sozai_cli), "screen", "--space", str(tmp_path / "fine.json"), "--campaign",
            str(campaign / "state.json"), "--score", "ucb", "--top", "30", "--chunk", "2000"]
    subprocess.run(base + ["--out", str(tmp_path / "ref.csv"), "--quiet"], check=True)
    # Killed mid-run (SIGKILL: no cleanup), then run again with the same command.
    out = tmp_path / "run.csv"
    p = subprocess.Popen(base + ["--out", str(out), "--checkpoint-seconds", "0"], stderr=subprocess.DEVNULL)
    ck = tmp_path / "run.csv.ckpt"
    t0 = time.time()
    while not ck.exists() and time.time() - t0 < 60:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert ck.exists() and not out.exists(), "the run ended before it was killed"
    r = subprocess.run(base + ["--out", str(out)], capture_output=True, text=True, check=True)
    assert "resuming from" in r.stderr and "done:" in r.stderr
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert not ck.exists()
    # Without --out the hits go to stdout as CSV; a bad shard is an error naming it.
    r = subprocess.run(base[:-4] + ["--top", "3", "--quiet"], capture_output=True, text=True, check=True)
    assert r.stdout.splitlines()[0].startswith("rank,index,x.Fe") and len(r.stdout.splitlines()) == 4
    r = subprocess.run(base + ["--shard", "4/3"], capture_output=True, text=True)
    assert r.returncode == 2 and "shard 4/3" in r.stderr


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed")
def test_mpi_ranks_give_the_one_process_result(campaign, tmp_path, sozai_cli):
    if not sozai.build_info().get("mpi"):
        pytest.skip("built without MPI")
    base = ["screen", "--space", str(campaign / "space.json"), "--campaign", str(campaign / "state.json"),
            "--score", "logei", "--top", "40", "--chunk", "64", "--quiet"]
    subprocess.run([str(sozai_cli)] + base + ["--out", str(tmp_path / "one.csv")], check=True)
    for ranks in (1, 2, 3):
        out = tmp_path / f"r{ranks}.csv"
        r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), str(sozai_cli)]
                           + base + ["--out", str(out)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == (tmp_path / "one.csv").read_bytes(), ranks
        if ranks > 1:  # without --quiet: each rank's line and, at rank 0, every rank's progress summed
            r = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), str(sozai_cli)]
                               + [a for a in base if a != "--quiet"] + ["--out", str(tmp_path / "loud.csv")],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr
            assert f"rank 1/{ranks}:" in r.stderr and f"all {ranks} ranks:" in r.stderr and "done:" in r.stderr
        prov = json.loads((tmp_path / f"r{ranks}.csv.provenance.json").read_text())
        assert prov["screened"] == sozai.read_screen(tmp_path / "one.csv").screened


def test_networks_screen_a_library_and_a_composition_space(tmp_path):
    """A pretrained head as the model: the screen's means are the model's own predictions, on a CSV library
    and on a composition space (each grid point's formula), and two heads give a Pareto front."""
    p = sozai.models.PretrainedModel("composition-mp")
    formulas = ["Fe2O3", "NiO", "TiO2", "ZnO", "GaN", "Al2O3", "SiC", "MgO"]
    lib = tmp_path / "lib.csv"
    lib.write_text("id,formula\n" + "".join(f"m{i},{f}\n" for i, f in enumerate(formulas)))
    r = sozai.screen(library=lib, input="formula", models=["composition-mp:mp_gap"], score="mean", top=3,
                     progress=False, chunk=3)
    mean, _ = p.predict("mp_gap", formulas)
    mean = np.ravel(mean)
    want = np.lexsort((np.arange(len(mean)), -mean))[:3]
    np.testing.assert_array_equal(r.index, want)
    # The networks run in float32, and a row's rounding depends on the batch it is in (SIMD path, batch size):
    # agreement to float32 rounding of the outputs' scale.
    np.testing.assert_allclose(r.mean[:, 0], mean[want], rtol=1e-6, atol=4e-6 * np.max(np.abs(mean)))
    assert r.columns == ["id", "formula"] and r.values[0] == [f"m{want[0]}", formulas[want[0]]]
    assert r.outcomes == ["mp_gap"]
    # A composition space: Ga-N-Al at 0.25 (15 points), minimised formation energy.
    space = {"parameters": [{"name": "x", "type": "composition", "elements": ["Ga", "Al", "N"], "step": 0.25}]}
    s = sozai.screen(space=space, models=["composition-mp:mp_e_form"], minimize=True, score="mean", top=100,
                     progress=False)
    assert s.screened == 15
    fs = ["".join(f"{e}{v:g}" for e, v in zip(["Ga", "Al", "N"], map(float, row)) if v > 0) for row in s.values]
    e, _ = p.predict("mp_e_form", fs)
    np.testing.assert_allclose(s.mean[:, 0], np.ravel(e), rtol=1e-6, atol=4e-6 * np.max(np.abs(e)))
    assert np.all(np.diff(s.mean[:, 0]) >= 0)  # minimised: best (lowest) first
    front = sozai.screen(space=space, models=["composition-mp:mp_e_form", "composition-mp:mp_gap"],
                         objectives=["e_form", "gap"], score="pareto", progress=False)
    assert front.outcomes == ["e_form", "gap"] and len(front) >= 1
    for i in range(len(front)):  # maximised both (no --minimize): nobody dominates a front point
        for j in range(len(front)):
            a, b = front.mean[i], front.mean[j]
            assert not (b[0] >= a[0] and b[1] >= a[1] and (b[0] > a[0] or b[1] > a[1]))
