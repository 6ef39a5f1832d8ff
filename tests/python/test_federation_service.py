"""Federated training over a network: `sozai federate serve` and parties in
separate processes (their rows never leave them), a coordinator killed with
SIGKILL mid-round that resumes the round, in-process parties against
sozai.federated.FederationService, and hostile requests."""

import csv
import http.client
import json
import os
import subprocess
import threading
import time

import numpy as np
import pytest

import sozai
from sozai import federated as F
from lab_server import LabServer, send_raw
from test_federated import _alloy_parties

SMALL = dict(n_members=2, hidden=8, head_hidden=8, layers=1, batch_size=16, lr=5e-3, progress=False)
ADMIN = "test-admin-token-0123456789"


def call(port, method, path, body=None, token=ADMIN, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body if body is None or isinstance(body, bytes) else json.dumps(body), headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def test_in_process_parties_train_the_simulations_model(tmp_path):
    parties = _alloy_parties()
    c = F.FederationService(tmp_path / "fed.db")
    admin = c.authenticate("Bearer " + c.bootstrap_admin_token())
    fid = c.create_federation("alloys", parties=3, kind="composition", rounds=3, seed=0, **SMALL)
    tokens = [c.create_party_token(fid) for _ in parties]
    assert [p for p, _ in tokens] == [1, 2, 3]
    out = [None] * 3

    def run(k):
        out[k] = F.join(c, tokens[k][1], fid, *parties[k], wait=60, poll=0.01, progress=False)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sim, _ = F.simulate("composition", parties, rounds=3, seed=0, **SMALL)
    want, _ = sim.predict(parties[0][0])
    spread = np.concatenate([y for _, y in parties]).std()
    for model, log in out:
        mean, var = model.predict(parties[0][0])
        assert np.abs(mean - want).max() <= 1e-6 * spread
        assert len(log["round_seconds"]) == 3 and log["coordinator_bytes"] > 0
    status = c.get_federation(admin, fid)
    assert status["finished"] and status["steps_done"] == 6 and status["bytes_received"] > 0
    # A party token sees its own federation only, and no campaign.
    who = c.authenticate("Bearer " + tokens[0][1])
    other = c.create_federation("other", parties=2, kind="composition", rounds=1, **SMALL)
    with pytest.raises(sozai.lab.LabError) as e:
        c.get_federation(who, other)
    assert e.value.status == 403


def _write_party_csvs(tmp_path):
    files = []
    for k, (x, y) in enumerate(_alloy_parties()):
        path = tmp_path / f"party{k + 1}.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["formula", "strength"])
            w.writerows(zip(x, y))
        files.append(path)
    return files


def test_parties_in_their_own_processes_survive_a_coordinator_killed_mid_round(sozai_cli, tmp_path):
    db = tmp_path / "fed.db"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cfg = {"name": "alloys", "parties": 3, "phase_timeout": 600,
           "model": {"kind": "composition", "n_members": 2, "seed": 0,
                     "model": {"hidden": 8, "head_hidden": 8, "layers": 1},
                     "train": {"batch_size": 16, "lr": 5e-3}},
           "training": {"rounds": 6}}
    (tmp_path / "fed.json").write_text(json.dumps(cfg))
    run = lambda *a: subprocess.run([str(sozai_cli), *map(str, a)], capture_output=True, text=True, env=env, check=True)
    server = LabServer(sozai_cli, db, admin_token=ADMIN, command=("federate", "serve"))
    server.start()  # first: the store and its admin token
    try:
        fid = run("federate", "create", "--db", db, "--config", tmp_path / "fed.json").stdout.strip()
        tokens = [run("federate", "token", "--db", db, "--federation", fid).stdout.strip() for _ in range(3)]
        files = _write_party_csvs(tmp_path)
        procs = [subprocess.Popen([str(sozai_cli), "federate", "join", "--server", server.url, "--token", tokens[k],
                                   "--federation", fid, "--data", str(files[k]), "--kind", "composition",
                                   "--input", "formula", "--target", "strength", "--out", str(tmp_path / f"m{k}.pt"),
                                   "--wait", "120", "--threads", "1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for k in range(3)]
        # Kill the coordinator (SIGKILL: no clean-up) once round 2 has started, then restart it on the same store and port.
        deadline = time.time() + 120
        while time.time() < deadline:
            status, body = call(server.port, "GET", f"/v1/federations/{fid}")
            if status == 200 and body["steps_done"] >= 3:
                break
            time.sleep(0.05)
        assert body["steps_done"] >= 3 and not body["finished"]
        server.kill()
        time.sleep(1.0)
        server.start()
        outs = [p.communicate(timeout=300) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err[-2000:]
            assert "6 rounds over" in out
        status, body = call(server.port, "GET", f"/v1/federations/{fid}")
        assert body["finished"] and body["failed"] is None
    finally:
        server.stop()
        for p in procs if "procs" in dir() else []:
            if p.poll() is None:
                p.kill()
    # Every party holds the same model, and it is the simulation's.
    models = [sozai.models.load(str(tmp_path / f"m{k}.pt")) for k in range(3)]
    x = _alloy_parties()[1][0]
    means = [m.predict(x)[0] for m in models]
    sim, _ = F.simulate("composition", _alloy_parties(), rounds=6, seed=0, **SMALL)
    spread = np.concatenate([y for _, y in _alloy_parties()]).std()
    for m in means:
        np.testing.assert_allclose(m, means[0], atol=1e-9 * spread)
        assert np.abs(m - sim.predict(x)[0]).max() <= 1e-5 * spread
    # No party's target is in the store the coordinator kept (every byte it received).
    raw = b"".join(open(str(db) + ext, "rb").read() for ext in ("", "-wal") if os.path.exists(str(db) + ext))
    for _, y in _alloy_parties():
        for v in y:
            assert repr(float(v)).encode() not in raw and np.float32(v).tobytes() not in raw


@pytest.fixture
def coordinator(sozai_cli, tmp_path):
    s = LabServer(sozai_cli, tmp_path / "fed.db", admin_token=ADMIN, command=("federate", "serve"),
                  extra=["--threads", "4", "--header-timeout", "2", "--max-body-bytes", str(1 << 20)])
    s.start()
    yield s
    s.stop()


def test_hostile_requests_are_refused(coordinator):
    port = coordinator.port
    cfg = {"name": "<script>alert(1)</script>", "parties": 2,
           "model": {"kind": "composition", "n_members": 1, "model": {"hidden": 8, "layers": 1}},
           "training": {"rounds": 1}}
    status, body = call(port, "POST", "/v1/federations", cfg)
    assert status == 201
    fid = body["id"]
    status, body = call(port, "POST", f"/v1/federations/{fid}/parties", {})
    assert status == 201 and body["party"] == 1
    party = body["token"]
    # A party token cannot create federations or tokens, nor read another federation or the list.
    other = call(port, "POST", "/v1/federations", dict(cfg, name="other"))[1]["id"]
    for method, path, b in [("POST", "/v1/federations", cfg), ("POST", f"/v1/federations/{fid}/parties", {}),
                            ("GET", f"/v1/federations/{other}", None), ("GET", "/v1/federations", None),
                            ("POST", f"/v1/federations/{other}/steps/0/bound", {"values": [1]})]:
        assert call(port, method, path, b, token=party)[0] == 403, path
    # The admin is not a party; no token, or a made-up one, is 401.
    assert call(port, "POST", f"/v1/federations/{fid}/steps/0/bound", {"values": [1]})[0] == 403
    assert call(port, "GET", f"/v1/federations/{fid}", token=None)[0] == 401
    assert call(port, "GET", f"/v1/federations/{fid}", token="sozai_0000000000000000_" + "0" * 48)[0] == 401
    # The hostile name comes back as JSON data, never as a page.
    status, body = call(port, "GET", f"/v1/federations/{fid}")
    assert status == 200 and body["name"] == cfg["name"]
    # Malformed messages: not base64, wrong sizes, a body that is not JSON, the wrong type, deep nesting, huge.
    base = f"/v1/federations/{fid}/steps"
    assert call(port, "POST", f"{base}/0/bound", {"values": ["x"]}, token=party)[0] == 400
    assert call(port, "POST", f"{base}/0/bound", b"{not json", token=party)[0] == 400
    assert call(port, "POST", f"{base}/0/bound", b'{"values": [1]}', token=party,
                headers={"Content-Type": "text/plain"})[0] == 415
    deep = b'{"values": ' + b"[" * 10000 + b"]" * 10000 + b"}"
    status, body = call(port, "POST", f"{base}/0/bound", deep, token=party)
    assert status == 400 and b"[[[[" not in json.dumps(body).encode()
    assert call(port, "POST", f"{base}/0/bound", b'{"values": [' + b"1," * 600000 + b"1]}", token=party)[0] == 413
    assert call(port, "GET", f"{base}/99/bound", token=party)[0] == 404
    assert call(port, "GET", f"{base}/0/nothing", token=party)[0] == 404
    # Non-UTF-8 bytes in the path, and a GET with a body.
    status, _, _ = send_raw(port, b"GET /v1/federations/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                            + party.encode() + b"\r\n\r\n")
    assert status == 400
    assert call(port, "GET", f"/v1/federations/{fid}", b"{}", token=party)[0] == 400
    # A replay is accepted once; a changed message for the same step is refused.
    assert call(port, "POST", f"{base}/0/bound", {"values": [3]}, token=party) == \
        (200, {"accepted": True, "repeated": False, "party": 1, "step": 0, "phase": "bound"})
    assert call(port, "POST", f"{base}/0/bound", {"values": [3]}, token=party)[1]["repeated"] is True
    assert call(port, "POST", f"{base}/0/bound", {"values": [4]}, token=party)[0] == 409
    # Still serving, and the document lists the routes.
    status, doc = call(port, "GET", "/openapi.json", token=None)
    assert status == 200 and "/v1/federations/{id}/steps/{step}/{phase}" in doc["paths"]
    assert call(port, "GET", "/healthz", token=None)[0] == 200


def test_parties_over_tls_check_the_coordinators_certificate(sozai_cli, tmp_path):
    def make_cert(name):
        cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
        return cert, key

    cert, key = make_cert("coordinator")
    stranger, _ = make_cert("stranger")
    db = tmp_path / "fed.db"
    server = LabServer(sozai_cli, db, admin_token=ADMIN, command=("federate", "serve"),
                       extra=["--tls-cert", str(cert), "--tls-key", str(key)])
    server.start()
    try:
        c = F.FederationService(db)  # the same store, in this process, for the set-up
        fid = c.create_federation("tls", parties=2, kind="composition", rounds=1, seed=0, **SMALL)
        tokens = [c.create_party_token(fid)[1] for _ in range(2)]
        parties = _alloy_parties()[:2]
        # A party that does not trust the coordinator's certificate stops at once, naming why.
        with pytest.raises(sozai.InputError, match="certificate"):
            F.join(server.url, tokens[0], fid, *parties[0], ca_cert=str(stranger), wait=5, progress=False)
        out = [None, None]

        def run(k):
            out[k] = F.join(server.url, tokens[k], fid, *parties[k], ca_cert=str(cert), wait=60, poll=0.01,
                            progress=False)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        x = parties[0][0]
        np.testing.assert_array_equal(out[0][0].predict(x)[0], out[1][0].predict(x)[0])
        # Plain HTTP is not served on the TLS port.
        with pytest.raises(sozai.InputError):
            F.join(server.url.replace("https", "http"), tokens[0], fid, *parties[0], wait=1, progress=False)
    finally:
        server.stop()


def test_process_conditions_travel_and_a_party_with_other_columns_is_refused(tmp_path):
    parties = _alloy_parties()
    rng = np.random.default_rng(0)
    cond = [rng.uniform(300, 900, size=(len(x), 1)) for x, _ in parties]
    c = F.FederationService(tmp_path / "fed.db")
    fid = c.create_federation("conditions", parties=3, kind="composition", rounds=2, seed=0, phase_timeout=1, **SMALL)
    tokens = [c.create_party_token(fid)[1] for _ in parties]
    out, errors = [None] * 3, [None] * 3

    def run(k, conditions):
        try:
            out[k] = F.join(c, tokens[k], fid, *parties[k], conditions=conditions, wait=60, poll=0.01, progress=False)
        except sozai.InputError as e:
            errors[k] = str(e)

    # Party 3 brings two condition columns where the others bring one: refused at the first step, by name.
    bad = np.hstack([cond[2], cond[2]])
    threads = [threading.Thread(target=run, args=(k, cond[k] if k < 2 else bad)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The coordinator compares each bound message with the first one stored, so whoever posts after the other kind
    # is refused by name: party 3 when a good party posted first (the usual order), else the good parties, and
    # party 3's phase then fails for want of them. Either way party 3 trains nothing and the mismatch is named.
    assert errors[2] is not None
    assert any(e is not None and "condition columns differ" in e for e in errors), errors
    # The first two go on without it (the phase closes after phase_timeout); a fresh federation with matching
    # columns trains the simulation's model.
    fid2 = c.create_federation("conditions2", parties=3, kind="composition", rounds=2, seed=0, **SMALL)
    tokens = [c.create_party_token(fid2)[1] for _ in parties]
    fid = fid2
    threads = [threading.Thread(target=run, args=(k, cond[k])) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sim, _ = F.simulate("composition", [(x, y, cnd) for (x, y), cnd in zip(parties, cond)], rounds=2, seed=0, **SMALL)
    want, _ = sim.predict(parties[0][0], cond[0])
    spread = np.concatenate([y for _, y in parties]).std()
    for model, _ in out:
        assert np.abs(model.predict(parties[0][0], cond[0])[0] - want).max() <= 1e-6 * spread
