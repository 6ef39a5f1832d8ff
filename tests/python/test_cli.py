"""The sozai command line: benchmark and campaign sub-commands."""

import json
import subprocess

import pytest


def _run(cli, *args, check=True):
    return subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, check=check, timeout=600)


def test_benchmark_prints_progress_and_table(sozai_cli, data_dir, tmp_path):
    r = _run(sozai_cli, "benchmark", "--dataset", "autoam", "--budget", "20", "--seeds", "2", "--out", tmp_path)
    assert r.stderr.count("seed ") >= 4  # one progress line per seed and arm
    assert "| gp+logei |" in r.stdout and "| gp+ucb |" in r.stdout and "| random |" in r.stdout
    res = json.loads((tmp_path / "autoam.json").read_text())
    assert res["pool_size"] == 100 and res["budget"] == 20
    names = [a["name"] for a in res["arms"]]
    assert names == ["random", "gp+logei", "gp+ucb"]
    assert len(res["arms"][1]["mean_top_fraction"]) == 20
    # The plot and summary that `make demo` writes.
    import sozai.plot
    png = tmp_path / "autoam.png"
    sozai.plot.plot_benchmark(res, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000
    md = sozai.plot.summary_markdown(tmp_path / "autoam.json", "autoam.png")
    assert "| gp+logei |" in md and "EF@50" in md and "![convergence](autoam.png)" in md


def test_cli_errors_are_clear(sozai_cli, data_dir):
    r = _run(sozai_cli, "benchmark", "--dataset", "nope", check=False)
    assert r.returncode == 2 and "nope" in r.stderr
    r = _run(sozai_cli, "benchmark", "--dataset", "autoam", "--budget", "abc", check=False)
    assert r.returncode == 2 and "--budget" in r.stderr
    r = _run(sozai_cli, "benchmark", "--dataset", "lnp3", check=False)
    assert r.returncode != 0 and "objectives" in r.stderr
    r = _run(sozai_cli, "frobnicate", check=False)
    assert r.returncode == 2


def test_campaign_commands_round_trip(sozai_cli, tmp_path):
    pool = tmp_path / "pool.csv"
    rows = ["x1,x2,yield"] + [f"{i / 20},{(i * 7 % 20) / 20}," for i in range(20)]
    rows[3] = rows[3] + "0.5"
    pool.write_text("\n".join(rows) + "\n")
    state = tmp_path / "c.json"
    r = _run(sozai_cli, "campaign", "new", "--pool", pool, "--state", state, "--target", "yield")
    assert "1 results already known" in r.stdout
    ask = _run(sozai_cli, "campaign", "ask", "--state", state, "--q", "2").stdout.strip().splitlines()
    assert ask[0] == "row,x0,x1" and len(ask) == 3
    row = int(ask[1].split(",")[0])
    _run(sozai_cli, "campaign", "tell", "--state", state, "--row", row, "--value", "0.9")
    show = _run(sozai_cli, "campaign", "show", "--state", state).stdout
    assert "2 results, 1 pending" in show and f"best: row {row} = 0.9" in show
    before = state.read_text()
    bad = _run(sozai_cli, "campaign", "tell", "--state", state, "--row", row, "--value", "1.0", check=False)
    assert bad.returncode == 2 and "already has a result" in bad.stderr
    assert state.read_text() == before  # a rejected report loses nothing


def test_campaign_new_rejects_bad_pool(sozai_cli, tmp_path):
    pool = tmp_path / "pool.csv"
    pool.write_text("x1,x2\n0.1,0.2\n0.3,abc\n")
    r = _run(sozai_cli, "campaign", "new", "--pool", pool, "--state", tmp_path / "s.json", check=False)
    assert r.returncode == 2
    assert "pool.csv" in r.stderr and "row 3" in r.stderr and "x2" in r.stderr
    assert not (tmp_path / "s.json").exists()


def test_space_campaign_commands_round_trip(sozai_cli, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"parameters": [
        {"name": "T", "type": "continuous", "low": 300, "high": 900},
        {"name": "route", "type": "categorical", "choices": ["cast", "forged"]}]}))
    state = tmp_path / "s.json"
    _run(sozai_cli, "campaign", "new", "--space", space, "--state", state, "--n-init", "2")
    for _ in range(3):
        asked = [json.loads(line) for line in _run(sozai_cli, "campaign", "ask", "--state", state, "--q", "2")
                 .stdout.strip().splitlines()]
        assert len(asked) == 2 and all(300 <= a["T"] <= 900 and a["route"] in ("cast", "forged") for a in asked)
        for a in asked:
            value = -abs(a["T"] - 650) / 100 + (a["route"] == "forged")
            _run(sozai_cli, "campaign", "tell", "--state", state, "--params", json.dumps(a), "--value", value)
    show = _run(sozai_cli, "campaign", "show", "--state", state).stdout
    assert "6 results, 0 pending" in show and "best: {" in show
    bad = _run(sozai_cli, "campaign", "tell", "--state", state, "--params", '{"T": 5000, "route": "cast"}',
               "--value", "1", check=False)
    assert bad.returncode != 0 and "T = 5000 is outside [300, 900]" in bad.stderr
    assert "6 results" in _run(sozai_cli, "campaign", "show", "--state", state).stdout


def test_campaign_with_a_prior_file(sozai_cli, tmp_path):
    # Pool over Ni/Fe shares; the prior (another plate, Ni/Co) says Ni-rich is good.
    pool = tmp_path / "pool.csv"
    pool.write_text("Ni,Fe,y\n" + "".join(f"{i / 10},{1 - i / 10},\n" for i in range(11)))
    prior = tmp_path / "past.csv"
    prior.write_text("ni_load,co_load,activity\n" + "".join(f"{i / 10},{1 - i / 10},{i}\n" for i in range(11)))
    state = tmp_path / "c.json"
    r = _run(sozai_cli, "campaign", "new", "--pool", pool, "--state", state, "--target", "y", "--prior", prior,
             "--prior-target", "activity", "--n-init", "2")
    assert "prior 'past' (11 rows)" in r.stdout
    saved = json.loads(state.read_text())
    assert saved["priors"][0]["source"] == str(prior) and saved["priors"][0]["target"] == "activity"
    ask = _run(sozai_cli, "campaign", "ask", "--state", state, "--q", "1").stdout.strip().splitlines()
    assert int(ask[1].split(",")[0]) == 10  # the prior's best row (pure Ni) comes first
    # A changed prior file is refused, naming it; the state is untouched.
    before = state.read_text()
    prior.write_text(prior.read_text().replace(",10\n", ",-10\n"))
    bad = _run(sozai_cli, "campaign", "ask", "--state", state, check=False)
    assert bad.returncode != 0 and "past" in bad.stderr and "not the table" in bad.stderr
    assert state.read_text() == before
    prior.unlink()
    gone = _run(sozai_cli, "campaign", "ask", "--state", state, check=False)
    assert gone.returncode != 0 and "is gone" in gone.stderr


def test_benchmark_with_a_prior_runs_both_arms(sozai_cli, data_dir, tmp_path):
    r = _run(sozai_cli, "benchmark", "--dataset", "oer_plate_4098", "--prior", "oer_plate_3496", "--budget", "6",
             "--seeds", "1", "--random-seeds", "5", "--acquisition", "logei", "--out", tmp_path)
    res = json.loads((tmp_path / "oer_plate_4098.json").read_text())
    assert [a["name"] for a in res["arms"]] == ["random", "gp+logei", "gp+logei+priors"]
    assert res["priors"][0]["name"] == "oer_plate_3496" and res["transfer"]["method"] == "auto"
    assert "priors (arms \"+priors\"" in r.stdout
    bad = _run(sozai_cli, "benchmark", "--dataset", "autoam", "--prior", "nope", check=False)
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_space_campaign_with_a_prior_file(sozai_cli, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"parameters": [{"name": "T", "type": "continuous", "low": 300, "high": 900},
                                                {"name": "route", "type": "categorical",
                                                 "choices": ["cast", "wrought"]}]}))
    prior = tmp_path / "past.csv"  # wrought at 650 was best; the columns meet the space by name
    prior.write_text("T,route=wrought,strength\n" +
                     "".join(f"{T},{w},{-abs(T - 650) + 100 * w}\n" for T in range(300, 901, 50) for w in (0, 1)))
    state = tmp_path / "c.json"
    r = _run(sozai_cli, "campaign", "new", "--space", space, "--state", state, "--prior", prior, "--n-init", "2",
             "--settings", '{"optimizer": {"restarts": 2, "raw_samples": 64}}')
    assert "prior 'past' (26 rows)" in r.stdout
    first = json.loads(_run(sozai_cli, "campaign", "ask", "--state", state).stdout.strip().splitlines()[0])
    assert first["route"] == "wrought" and abs(first["T"] - 650) <= 50
    prior.write_text(prior.read_text().replace(",100\n", ",-100\n"))
    bad = _run(sozai_cli, "campaign", "ask", "--state", state, check=False)
    assert bad.returncode != 0 and "not the table" in bad.stderr
