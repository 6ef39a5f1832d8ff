"""`sozai serve` under attack: each test reproduces an attack an outside
review found to work (issue 15) and checks that it no longer does."""

import http.client
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from lab_server import LabServer, send_raw
from sozai.lab import Client, LabError

SPACE = {"name": "security", "parameters": [{"name": "x", "type": "continuous", "low": 0, "high": 1}],
         "objectives": [{"name": "y", "direction": "maximize"}], "n_init": 50}


@pytest.fixture
def server(sozai_cli, tmp_path):
    s = LabServer(sozai_cli, tmp_path / "lab.db", extra=["--threads", "4", "--header-timeout", "2",
                                                        "--max-body-bytes", str(1 << 20)])
    s.start()
    yield s
    s.stop()


def call(server, method, path, body=None, token=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    out = r.status, dict(r.getheaders()), r.read()
    conn.close()
    return out


# ------------------------------------------------------------------ bodies

def test_chunked_body_without_token_is_refused_before_it_is_read(server):
    before = server.rss_mib()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401")
        # The server closes instead of reading 512 MiB more.
        sent = 0
        try:
            chunk = b"100000\r\n" + b"a" * 0x100000 + b"\r\n"
            for _ in range(512):
                s.sendall(chunk)
                sent += 1
        except OSError:
            pass
        assert sent < 512
    assert server.rss_mib() - before < 64
    assert server.healthy()


def test_chunked_body_over_the_limit_is_refused_with_a_token(server):
    admin = Client(server.url, server.admin_token)
    cid = admin.create_campaign(SPACE)
    eid = admin.ask(cid)[0]["id"]
    note = "n" * (2 << 20)
    body = json.dumps({"values": {"y": 1.0}, "note": note}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536]) for i in range(0, len(body), 65536))
    status, _, _ = send_raw(server.port, (f"POST /v1/campaigns/{cid}/experiments/{eid}/result HTTP/1.1\r\nHost: x\r\n"
                                f"Authorization: Bearer {server.admin_token}\r\nContent-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n")
    assert status == 413
    assert admin.list_experiments(cid)[0]["state"] == "leased"  # nothing stored


def test_ambiguous_framing_is_refused(server):
    for extra in (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
                  b"Content-Length: 2\r\nContent-Length: 3\r\n",
                  b"Transfer-Encoding: gzip\r\n"):
        status, _, _ = send_raw(server.port, b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n{}")
        assert status in (400, 501), extra
    # A smuggled second request after an ambiguous one is never executed.
    status, _, _ = send_raw(server.port, b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400


def test_json_that_parsers_read_differently_is_refused(server):
    tok = server.admin_token
    status, _, body = call(server, "POST", "/v1/tokens", '{"role": "viewer", "role": "admin"}', tok)
    assert status == 400 and b"appears twice" in body
    for ctype in ("text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"):
        status, _, _ = call(server, "POST", "/v1/tokens", '{"role": "viewer"}', tok, {"Content-Type": ctype})
        assert status == 415, ctype


def test_deeply_nested_json_is_refused_and_not_echoed(server):
    tok = server.admin_token
    for depth in (50_000, 100_000):
        deep = "[" * depth + "]" * depth
        for path, body in (("/v1/campaigns", '{"name": "d", "seed": ' + deep + "}"),
                           ("/v1/tokens", '{"role": "viewer", "campaign": ' + deep + "}")):
            status, _, answer = call(server, "POST", path, body, tok)
            assert status == 400 and b"nested deeper" in answer and len(answer) < 1000
    assert server.healthy()


# ------------------------------------------------------------------ text

def test_non_utf8_is_a_400_never_a_500(server):
    admin = Client(server.url, server.admin_token)
    cid = admin.create_campaign(SPACE)
    eid = admin.ask(cid)[0]["id"]
    tok = server.admin_token
    cases = [("GET", "/v1/campaigns/%FF", None, {}),
             ("GET", f"/v1/campaigns/{cid}/experiments?state=%FF", None, {}),
             ("GET", f"/v1/campaigns/{cid}/export?format=%FF", None, {}),
             ("POST", f"/v1/campaigns/{cid}/experiments/{eid}/result", b'{"values": {"y": 1}, "note": "\xff"}', {}),
             ("POST", f"/v1/campaigns/{cid}/ask", b"{}", {"Idempotency-Key": "k\xff"})]
    for method, path, body, headers in cases:
        if "Idempotency-Key" in headers:
            status, text, answer = send_raw(server.port, (f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
                                                "Content-Type: application/json\r\nContent-Length: 2\r\n").encode()
                                       + b"Idempotency-Key: k\xff\r\n\r\n{}")
            hdrs = text.lower()
        else:
            status, h, answer = call(server, method, path, body, tok)
            hdrs = json.dumps(h).lower()
        assert status == 400, (path, status, answer[:200])
        assert "exception_what" not in hdrs
        json.loads(answer)  # a JSON error, valid UTF-8
    raw_status, _, _ = send_raw(server.port, b"GET /v1/campaigns/\xff HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw_status == 400
    assert admin.list_experiments(cid)[0]["state"] == "leased"


# ------------------------------------------------------------------ tokens

def test_token_scope_cannot_fail_open(server):
    admin = Client(server.url, server.admin_token)
    a, b = admin.create_campaign(SPACE), admin.create_campaign(SPACE)
    for scope in ([a], {"id": a}, None, 5, "", True):
        status, _, body = call(server, "POST", "/v1/tokens", json.dumps({"role": "controller", "campaign": scope}),
                               server.admin_token)
        assert status == 400 and b"campaign" in body, scope
    robot = Client(server.url, admin.create_token("controller", campaign=a))
    assert robot.ask(a)
    with pytest.raises(LabError) as err:
        robot.ask(b)
    assert err.value.status == 403
    assert [c["id"] for c in robot.list_campaigns()] == [a]
    status, _, _ = call(server, "POST", "/v1/tokens", json.dumps({"role": "admin", "campaign": a}), server.admin_token)
    assert status == 400  # an admin token limited to a campaign means nothing


def test_tokens_are_not_logged_and_the_store_is_private(sozai_cli, tmp_path):
    server = LabServer(sozai_cli, tmp_path / "lab.db", admin_token=None)
    server.start()
    try:
        token = (tmp_path / "lab.db.admin-token").read_text().strip()
        assert token not in server.log.read_text()
        assert stat.S_IMODE(os.stat(tmp_path / "lab.db").st_mode) == 0o600
        assert token.startswith("sozai_") and Client(server.url, token).list_campaigns() == []
        # The token's id in the store is random, not derived from the secret.
        rows = sqlite3.connect(tmp_path / "lab.db").execute("SELECT id FROM tokens").fetchall()
        assert rows == [(token.split("_")[1],)]
    finally:
        server.stop()


# ------------------------------------------------------------------ slow clients

def test_slowloris_does_not_starve_other_clients(server):
    socks = []
    for _ in range(40):  # ten times the 4 workers
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    try:
        for _ in range(3):
            for s in socks:
                s.sendall(b"X-Drip: 1\r\n")
            t0 = time.time()
            assert server.healthy()
            assert time.time() - t0 < 2.0
            time.sleep(0.5)
        time.sleep(1.5)  # past the 2 s header deadline
        closed = 0
        for s in socks:
            try:
                data = s.recv(4096)
                closed += data == b"" or data.startswith(b"HTTP/1.1 408")
            except OSError:
                closed += 1
        assert closed == 40
    finally:
        for s in socks:
            s.close()


def test_kept_alive_connections_answer_without_delay(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        conn.request("GET", "/v1/campaigns", headers={"Authorization": f"Bearer {server.admin_token}"})
        r = conn.getresponse()
        r.read()
        times.append(time.perf_counter() - t0)
        assert r.status == 200
    conn.close()
    # Nagle's algorithm meeting delayed ACKs costs ~40 ms per request; the
    # median here is well under a millisecond when TCP_NODELAY is set.
    assert sorted(times[1:])[len(times) // 2] < 0.03


# ------------------------------------------------------------------ limits

def test_limits_with_safe_defaults(sozai_cli, tmp_path):
    server = LabServer(sozai_cli, tmp_path / "lab.db", extra=["--max-leased", "5", "--max-campaigns", "3",
                                                              "--max-note-bytes", "100"])
    server.start()
    try:
        admin = Client(server.url, server.admin_token)
        cid = admin.create_campaign(SPACE)
        for body, what in (({"count": 1000}, "count"), ({"lease_seconds": 30 * 24 * 3600}, "lease_seconds")):
            with pytest.raises(LabError) as err:
                admin.ask(cid, **body)
            assert err.value.status == 400 and what in err.value.message
        got = admin.ask(cid, count=5)
        with pytest.raises(LabError) as err:
            admin.ask(cid, count=1)
        assert err.value.status == 429
        with pytest.raises(LabError) as err:
            admin.report(cid, got[0]["id"], {"y": 1.0}, note="n" * 101)
        assert err.value.status == 400 and "note" in err.value.message
        many = dict(SPACE, parameters=[{"name": f"p{i}", "type": "continuous", "low": 0, "high": 1}
                                       for i in range(100_000)])
        t0 = time.time()
        with pytest.raises(LabError) as err:
            admin.create_campaign(many)
        assert err.value.status in (400, 413) and time.time() - t0 < 10
        huge = dict(SPACE, parameters=[{"name": "x", "type": "continuous", "low": -1e308, "high": 1e308}])
        with pytest.raises(LabError) as err:
            admin.create_campaign(huge)
        assert err.value.status == 400 and "finite" in err.value.message
        admin.create_campaign(SPACE)
        admin.create_campaign(SPACE)
        with pytest.raises(LabError) as err:
            admin.create_campaign(SPACE)
        assert err.value.status == 409
        # Listings come in pages.
        status, _, body = call(server, "GET", "/v1/campaigns?limit=2", token=server.admin_token)
        page = json.loads(body)
        assert status == 200 and len(page["campaigns"]) == 2 and page["next_after"]
        assert len(admin.list_campaigns()) == 3
        status, _, _ = call(server, "GET", "/v1/campaigns?limit=100000", token=server.admin_token)
        assert status == 400
    finally:
        server.stop()


def test_results_arrive_in_pages_in_the_order_they_came(server):
    admin = Client(server.url, server.admin_token)
    cid = admin.create_campaign(SPACE)
    ids = [e["id"] for e in admin.ask(cid, count=6)]
    for k, eid in enumerate(reversed(ids)):
        admin.report(cid, eid, {"y": float(k)})
    first = admin.list_results(cid, after=0, limit=4)
    assert [r["id"] for r in first["results"]] == list(reversed(ids))[:4] and first["next_after"] == 4
    rest = admin.list_results(cid, after=first["last"])
    assert [r["id"] for r in rest["results"]] == list(reversed(ids))[4:] and rest["next_after"] is None
    assert admin.list_results(cid, after=rest["last"])["results"] == []


# ------------------------------------------------------------------ storage

def test_a_changed_stored_value_is_refused_and_found_by_check(sozai_cli, tmp_path):
    db = tmp_path / "lab.db"
    server = LabServer(sozai_cli, db)
    server.start()
    try:
        admin = Client(server.url, server.admin_token, retries=0)
        cid = admin.create_campaign(SPACE)
        eid = admin.ask(cid)[0]["id"]
        admin.report(cid, eid, {"y": 0.066376})
        ok = subprocess.run([str(sozai_cli), "serve", "--db", str(db), "--check"], capture_output=True, text=True)
        assert ok.returncode == 0 and "ok" in ok.stdout
        # One digit changed behind the service's back.
        con = sqlite3.connect(db)
        con.execute("UPDATE experiments SET vals = replace(vals, '0.066376', '0.566376')")
        con.commit()
        con.close()
        with pytest.raises(LabError) as err:
            admin.list_experiments(cid)
        assert err.value.status == 503 and "checksum" in err.value.message
        assert "fails its checksum" in server.log.read_text()
        bad = subprocess.run([str(sozai_cli), "serve", "--db", str(db), "--check"], capture_output=True, text=True)
        assert bad.returncode == 1 and f"experiment {eid} of campaign {cid}" in bad.stdout
    finally:
        server.stop()


def test_a_deleted_wal_loses_nothing(sozai_cli, tmp_path):
    db = tmp_path / "lab.db"
    server = LabServer(sozai_cli, db)
    server.start()
    try:
        admin = Client(server.url, server.admin_token)
        cid = admin.create_campaign(SPACE)
        ids = [e["id"] for e in admin.ask(cid, count=10)]
        for eid in ids[:5]:
            admin.report(cid, eid, {"y": 0.5})
        os.remove(str(db) + "-wal")
        for eid in ids[5:]:
            admin.report(cid, eid, {"y": 0.25})
        server.kill()
        server.start()
        got = Client(server.url, server.admin_token).list_experiments(cid, state="completed")
        assert sorted(e["id"] for e in got) == sorted(ids)
    finally:
        server.stop()


def test_a_store_whose_data_vanished_is_refused_not_restarted_empty(sozai_cli, tmp_path):
    db = tmp_path / "lab.db"
    server = LabServer(sozai_cli, db)
    server.start()
    Client(server.url, server.admin_token).create_campaign(SPACE)
    server.stop()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            os.remove(str(db) + suffix)
    with pytest.raises(RuntimeError) as err:
        server.start(timeout=15)
    assert "lost its data" in str(err.value)
    bad = subprocess.run([str(sozai_cli), "serve", "--db", str(db), "--check"], capture_output=True, text=True)
    assert bad.returncode == 1 and "lost" in bad.stdout


# ------------------------------------------------------------------ shutdown

def test_sigterm_finishes_requests_in_flight_and_exits_cleanly(server):
    admin = Client(server.url, server.admin_token)
    cid = admin.create_campaign(dict(SPACE, n_init=2))
    for e in admin.ask(cid, count=2):
        admin.report(cid, e["id"], {"y": e["parameters"]["x"]})
    answers = []
    asker = threading.Thread(target=lambda: answers.append(admin.ask(cid, count=4)))
    asker.start()
    time.sleep(0.2)  # the GP ask is running
    server.proc.send_signal(signal.SIGTERM)
    asker.join(timeout=60)
    assert server.proc.wait(timeout=30) == 0
    assert answers and len(answers[0]) == 4
    assert "stopped cleanly" in server.log.read_text()


def test_priors_name_only_existing_campaigns_and_refuse_hostile_entries(server):
    admin = Client(server.url, server.admin_token)
    pool = [{"x": i / 10} for i in range(11)]
    desc = dict(SPACE, name="earlier", pool=pool, n_init=2)
    a = admin.create_campaign(desc)
    for _ in range(4):
        for e in admin.ask(a, count=1):
            admin.report(a, e["id"], {"y": -(e["parameters"]["x"] - 0.7) ** 2})
    b = admin.create_campaign(dict(desc, name="next", priors=[a]))
    assert admin.get_campaign(b)["settings"]["priors"] == [a]
    assert admin.ask(b, count=1)
    before = len(admin.list_campaigns())
    hostile = [[{"$ne": None}], [["nested"] * 3], ["<script>alert(1)</script>"], ["c" * 5000], [a] * 17, "all",
               [a, a], [""]]
    for priors in hostile:
        status, headers, body = call(server, "POST", "/v1/campaigns",
                                     json.dumps(dict(desc, name="bad", priors=priors)), server.admin_token)
        assert status == 400 and b"priors" in body, (priors, body)
        # An echoed id stays a JSON string that no browser renders as a page.
        assert headers["Content-Type"].startswith("application/json")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert len(body) < 2000
    robot = admin.create_token("controller", campaign=a)
    status, _, _ = call(server, "POST", "/v1/campaigns", json.dumps(dict(desc, name="x", priors=[a])), robot)
    assert status == 403
    assert len(admin.list_campaigns()) == before
