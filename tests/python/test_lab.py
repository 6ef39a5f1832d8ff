"""The lab service over HTTP: the Python client, the OpenAPI document against
the routes, durability under SIGKILL, a few thousand malformed requests,
TLS, tokens."""

import http.client
import json
import os
import random
import stat
import subprocess
import threading
import time

import pytest

import sozai
from lab_server import LabServer
from sozai.lab import Client, LabError

SPACE = {"name": "films",
         "parameters": [{"name": "T", "type": "continuous", "low": 0, "high": 1},
                        {"name": "route", "type": "categorical", "choices": ["a", "b"]}],
         "objectives": [{"name": "y", "direction": "maximize"}], "n_init": 6, "seed": 1}


def truth(p):
    return -(p["T"] - 0.3) ** 2 + (0.1 if p["route"] == "b" else 0.0)


@pytest.fixture
def server(sozai_cli, tmp_path):
    s = LabServer(sozai_cli, tmp_path / "lab.db")
    s.start()
    yield s
    s.stop()


def test_client_round_trip(server):
    admin = Client(server.url, server.admin_token)
    assert admin.healthz()["status"] == "ok"
    cid = admin.create_campaign(SPACE)
    robot = Client(server.url, admin.create_token("controller", cid))
    viewer = Client(server.url, admin.create_token("viewer"))
    for _ in range(4):
        for e in robot.ask(cid, count=2, controller="robot-1"):
            assert 0 <= e["parameters"]["T"] <= 1 and e["lease_expires_at"].endswith("Z")
            robot.report(cid, e["id"], {"y": truth(e["parameters"])})
    c = viewer.get_campaign(cid)
    assert c["counts"]["completed"] == 8 and c["observed"] == 8
    assert c["best"]["values"]["y"] == max(e["values"]["y"] for e in viewer.export_campaign(cid))
    csv = viewer.export_campaign(cid, format="csv").splitlines()
    assert csv[0] == "id,status,controller,proposed_at,completed_at,T,route,y,note" and len(csv) == 9
    assert len(viewer.list_experiments(cid, state="completed")) == 8
    frame = viewer.export_frame(cid)
    assert frame.index.name == "id" and len(frame) == 8
    assert list(frame["y"]) == [e["values"]["y"] for e in viewer.export_campaign(cid)]
    with pytest.raises(LabError) as err:
        viewer.ask(cid)
    assert err.value.status == 403
    with pytest.raises(LabError) as err:
        robot.create_campaign(SPACE)
    assert err.value.status == 403
    with pytest.raises(LabError) as err:
        Client(server.url, "wrong-token").list_campaigns()
    assert err.value.status == 401
    with pytest.raises(LabError, match="unknown objective 'z'"):
        robot.report(cid, robot.ask(cid)[0]["id"], {"z": 1.0})
    with pytest.raises(LabError, match="no campaign"):
        admin.get_campaign("c000")


def test_openapi_document_matches_the_routes(server):
    admin = Client(server.url, server.admin_token)
    doc = admin.openapi()
    assert doc["openapi"].startswith("3.") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    cid = admin.create_campaign(SPACE)
    first, second = (e["id"] for e in admin.ask(cid, count=2))
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"] and op["summary"]
            eid = second if path.endswith("/cancel") else first
            real = path.replace("{id}", cid).replace("{eid}", str(eid))
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            body = {"/v1/campaigns": json.dumps(SPACE), "/v1/tokens": '{"role": "viewer"}'}.get(path, "{}")
            if path.endswith("/result"):
                body = '{"values": {"y": 0.5}}'
            headers = {"Authorization": f"Bearer {server.admin_token}"}
            if method == "post":
                headers["Content-Type"] = "application/json"
            conn.request(method.upper(), real, body=body if method == "post" else None, headers=headers)
            r = conn.getresponse()
            text = r.read().decode()
            assert r.status in (200, 201), (method, path, r.status, text)
            assert str(r.status) in op["responses"], (method, path, r.status)
    # Routes that are not in the document are not served.
    for method, path in [("GET", "/v1/nothing"), ("POST", "/v1/campaigns/x/delete"), ("GET", "/v2/campaigns")]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request(method, path, headers={"Authorization": f"Bearer {server.admin_token}"})
        r = conn.getresponse()
        assert r.status == 404 and "error" in json.loads(r.read())
        assert path not in doc["paths"]


def test_sigkill_loses_no_acknowledged_result(server):
    """Four controllers ask and report while the server is killed with
    SIGKILL at random moments; after restart every acknowledged result is in
    the export exactly once."""
    admin = Client(server.url, server.admin_token)
    cid = admin.create_campaign(dict(SPACE, n_init=10))
    acked, lock, stop = {}, threading.Lock(), threading.Event()
    errors = []

    def controller(k):
        c = Client(server.url, server.admin_token, timeout=10, retries=200, backoff=0.02)
        rng = random.Random(k)
        try:
            while not stop.is_set():
                for e in c.ask(cid, count=1, controller=f"robot-{k}", lease_seconds=600):
                    value = truth(e["parameters"]) + rng.gauss(0, 0.01)
                    c.report(cid, e["id"], {"y": value})  # retried with one key across crashes
                    with lock:
                        assert e["id"] not in acked
                        acked[e["id"]] = value
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(repr(err))

    threads = [threading.Thread(target=controller, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    rng = random.Random(0)
    for _ in range(4):
        time.sleep(rng.uniform(0.3, 1.0))
        server.kill()
        time.sleep(0.05)
        server.start()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(acked) >= 8
    exported = admin.export_campaign(cid)
    done = {e["id"]: e["values"]["y"] for e in exported if e["status"] == "completed"}
    assert done == acked  # every acknowledged result, once, with its value; nothing else
    assert len({e["id"] for e in exported}) == len(exported)


def test_thousands_of_malformed_requests_are_refused_and_change_nothing(sozai_cli, tmp_path):
    server = LabServer(sozai_cli, tmp_path / "lab.db", extra=["--max-body-bytes", "4096"])
    server.start()
    try:
        admin = Client(server.url, server.admin_token)
        cid = admin.create_campaign(SPACE)
        eid = admin.ask(cid, count=1)[0]["id"]
        viewer = admin.create_token("viewer")
        before = (admin.export_campaign(cid), admin.list_campaigns())
        rng = random.Random(7)
        good = {"Authorization": f"Bearer {server.admin_token}"}
        paths = [f"/v1/campaigns/{cid}/ask", f"/v1/campaigns/{cid}/experiments/{eid}/result",
                 f"/v1/campaigns/{cid}/experiments/{eid}/cancel", "/v1/campaigns", "/v1/tokens",
                 f"/v1/campaigns/{cid}/experiments/999/result", "/v1/campaigns/nope/ask",
                 f"/v1/campaigns/{cid}/experiments/-1/result", f"/v1/campaigns/{cid}/experiments/x/cancel"]
        bodies = ["{", "[]", "null", "1", '"x"', '{"count": "2"}', '{"count": -1}', '{"count": 1e9}',
                  '{"values": {"y": NaN}}', '{"values": {"y": Infinity}}', '{"values": {"y": "1"}}',
                  '{"values": {"q": 1}}', '{"values": []}', '{"status": 3}', '{"lease_seconds": 0}',
                  '{"name": "x"}', '{"name": "x", "parameters": [], "objectives": []}',
                  json.dumps(dict(SPACE, parameters=[{"name": "T", "type": "continuous", "low": 2, "high": 1}])),
                  json.dumps(dict(SPACE, objectives=[{"name": "y", "direction": "sideways"}])),
                  '{"role": "superuser"}', '{"values": {"y": 1}, "extra": true}', "\x00\xff" * 10,
                  "x" * 5000, '{"values": {"y": 1e999}}']
        sent = 0
        for i in range(2400):
            path = rng.choice(paths)
            body = rng.choice(bodies)
            # Every body is invalid for every path; the cancel of a real
            # experiment (which needs no body) is sent with a viewer token.
            headers = rng.choice([good, {}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                                  good, good, {"Authorization": f"Bearer {viewer}"}])
            if path.endswith(f"/{eid}/cancel"):
                headers = {"Authorization": f"Bearer {viewer}"}
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("POST", path, body=body.encode("latin-1"), headers=headers)
            r = conn.getresponse()
            payload = r.read()
            conn.close()
            assert 400 <= r.status < 500, (path, body[:60], r.status, payload[:200])
            assert "error" in json.loads(payload), payload[:200]
            sent += 1
        assert sent == 2400 and server.healthy()
        assert (admin.export_campaign(cid), admin.list_campaigns()) == before
    finally:
        server.stop()


def test_tls_and_tokens(sozai_cli, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = LabServer(sozai_cli, tmp_path / "lab.db", admin_token=None,
                       extra=["--tls-cert", str(cert), "--tls-key", str(key)])
    server.start()
    try:
        log = server.log.read_text()
        token_file = tmp_path / "lab.db.admin-token"
        token = token_file.read_text().strip()
        # The token goes to the owner-only file, never to the log.
        assert token not in log and str(token_file) in log and stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        c = Client(server.url, token, verify=str(cert))
        assert c.healthz()["status"] == "ok" and c.list_campaigns() == []
        with pytest.raises(Exception):
            Client(server.url.replace("https", "http"), token, retries=0).healthz()  # plain HTTP is not served
        cli = subprocess.run([str(sozai_cli), "token", "create", "--db", str(tmp_path / "lab.db"), "--role", "viewer"],
                             check=True, capture_output=True, text=True)
        assert Client(server.url, cli.stdout.strip(), verify=str(cert)).list_campaigns() == []
    finally:
        server.stop()
    # A restart keeps the tokens and prints no new admin token.
    server.start()
    try:
        assert server.log.read_text().count("admin token") == 1
        assert Client(server.url, token, verify=False).list_campaigns() == []
    finally:
        server.stop()


def test_concurrent_controllers_over_http_never_share_an_experiment(server):
    admin = Client(server.url, server.admin_token)
    cid = admin.create_campaign(dict(SPACE, n_init=100))
    got, lock = [], threading.Lock()

    def robot(k):
        c = Client(server.url, server.admin_token)
        for _ in range(3):
            ids = [e["id"] for e in c.ask(cid, count=2, controller=f"robot-{k}")]
            with lock:
                got.extend(ids)

    threads = [threading.Thread(target=robot, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 96 and len(set(got)) == 96


def test_lab_loop_example_runs_a_campaign(sozai_cli, data_dir):
    """examples/lab_loop.py end to end: robots, failures, dead robots, a pool campaign over real data."""
    import pathlib
    import sys
    root = pathlib.Path(__file__).resolve().parents[2]
    env = dict(os.environ, SOZAI_CLI=str(sozai_cli), SOZAI_DATA_DIR=str(data_dir),
               PYTHONPATH=os.pathsep.join(p for p in [os.environ.get("PYTHONPATH", ""), str(root / "tests" / "python")]
                                           if p))
    r = subprocess.run([sys.executable, str(root / "examples" / "lab_loop.py"), "--dataset", "autoam", "--robots", "4",
                        "--budget", "24", "--lease", "0.5", "--die", "0.1"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "results in" in r.stdout and "best" in r.stdout
    import ast
    counts = ast.literal_eval(r.stdout.splitlines()[0].split(": ", 1)[1])
    assert counts["completed"] >= 24  # every robot stops once the budget is reached
    assert counts["leased"] + counts["expired"] <= 4  # at most one experiment left per robot
