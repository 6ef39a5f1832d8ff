#!/usr/bin/env python3
"""Each attack of issue 15 against a `sozai serve` binary, with what happened.

Run it against the binary before the fixes and after them, side by side:

    /usr/bin/python3 benchmarks/lab_security.py --cli build/bin/sozai --label after \
        [--cli /path/to/old/sozai --label before] --out benchmarks/results/lab_security

Writes OUT.json (every measurement) and, with two binaries, OUT.md (a
before/after table). Loopback only; every attack is bounded in time and
memory. Stderr shows progress.
"""

import argparse
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
from lab_server import LabServer, send_raw  # noqa: E402

ADMIN = "bench-admin-token-0123456789abcdef"
SPACE = {"name": "bench", "parameters": [{"name": "x", "type": "continuous", "low": 0, "high": 1}],
         "objectives": [{"name": "y", "direction": "maximize"}], "n_init": 4}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def request(port, method, path, body=None, token=ADMIN, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


class Lab:
    def __init__(self, cli, env, extra=()):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="sozai-sec-"))
        self.server = LabServer(cli, self.dir / "lab.db", admin_token=ADMIN, extra=list(extra), env=env)
        self.server.start()

    @property
    def port(self):
        return self.server.port

    def alive(self):
        return self.server.proc.poll() is None and self.server.healthy()

    def campaign(self, space=SPACE):
        s, _, b = request(self.port, "POST", "/v1/campaigns", json.dumps(space))
        return json.loads(b)["id"]

    def close(self):
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ attacks

def xss(lab):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return {"skipped": "selenium missing"}
    if not shutil.which("chromedriver"):
        return {"skipped": "chromedriver missing"}
    payload = "<img src=x onerror=\"window.__pwned=(window.__pwned||0)+1\">"
    space = dict(SPACE, name=payload, n_init=50,
                 parameters=[{"name": payload, "type": "continuous", "low": 0, "high": 1}],
                 objectives=[{"name": "y" + payload, "direction": "maximize"}])
    cid = lab.campaign(space)
    _, _, b = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask", json.dumps({"count": 2, "controller": payload}))
    for e in json.loads(b)["experiments"]:
        request(lab.port, "POST", f"/v1/campaigns/{cid}/experiments/{e['id']}/result",
                json.dumps({"values": {"y" + payload: 0.5}}))
    _, headers, _ = request(lab.port, "GET", "/", token=None)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        d.get(f"http://127.0.0.1:{lab.port}/#token={ADMIN}&campaign={cid}")
        time.sleep(4)
        pwned = d.execute_script("return window.__pwned || 0")
        shown = payload in d.find_element("id", "latest").text
    finally:
        d.quit()
    return {"scripts_run": pwned, "hostile_names_shown_as_text": shown,
            "csp": headers.get("Content-Security-Policy", "")}


def chunked_without_token(lab, mib=256):
    before = lab.server.rss_mib()
    sent, status = 0, 0
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", lab.port), timeout=30) as s:
        s.sendall(b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"100000\r\n" + b"a" * 0x100000 + b"\r\n"
        try:
            for _ in range(mib):
                s.sendall(chunk)
                sent += 1
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        try:
            head = s.recv(4096)
            status = int(head.split()[1]) if head.startswith(b"HTTP/1.1") else 0
        except OSError:
            pass
    return {"mib_accepted": sent, "status": status, "rss_growth_mib": round(lab.server.rss_mib() - before, 1),
            "seconds": round(time.time() - t0, 2)}


def slowloris(lab, n=40, seconds=6):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", lab.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    lat = []
    t_end = time.time() + seconds
    while time.time() < t_end:
        for s in socks:
            try:
                s.sendall(b"X-Drip: 1\r\n")
            except OSError:
                pass
        t0 = time.time()
        try:
            request(lab.port, "GET", "/healthz", token=None, timeout=3)
            lat.append(time.time() - t0)
        except OSError:
            lat.append(float("inf"))
        time.sleep(1.0)
    for s in socks:
        s.close()
    return {"connections": n, "healthz_worst_s": round(max(lat), 3),
            "healthz_timeouts": sum(1 for x in lat if x == float("inf"))}


def deep_json(lab):
    out = {}
    for depth in (50_000, 100_000):
        deep = "[" * depth + "]" * depth
        try:
            s, _, b = request(lab.port, "POST", "/v1/campaigns", '{"name": "d", "seed": ' + deep + "}")
            out[f"depth_{depth}"] = {"status": s, "answer_bytes": len(b)}
        except OSError as e:
            out[f"depth_{depth}"] = {"error": type(e).__name__}
        if not lab.alive():
            out["server"] = "crashed"
            return out
    out["server"] = "up"
    return out


def non_utf8(lab):
    cid = lab.campaign()
    _, _, b = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask", "{}")
    eid = json.loads(b)["experiments"][0]["id"]
    out = {}
    for name, path, body in (("path", "/v1/campaigns/%FF", None), ("state", f"/v1/campaigns/{cid}/experiments?state=%FF", None),
                             ("format", f"/v1/campaigns/{cid}/export?format=%FF", None),
                             ("note", f"/v1/campaigns/{cid}/experiments/{eid}/result", b'{"values": {"y": 1}, "note": "\xff"}')):
        s, h, _ = request(lab.port, "GET" if body is None else "POST", path, body)
        out[name] = {"status": s, "exception_header": any(k.lower() == "exception_what" for k in h)}
    s = send_raw(lab.port, (f"POST /v1/campaigns/{cid}/ask HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 2\r\n").encode() + b"Idempotency-Key: k\xff\r\n\r\n{}")[0]
    out["idempotency_key"] = {"status": s}
    return out


def token_scope(lab):
    a, b = lab.campaign(), lab.campaign()
    s, _, body = request(lab.port, "POST", "/v1/tokens", json.dumps({"role": "controller", "campaign": [a]}))
    out = {"status": s}
    if s == 201:
        tok = json.loads(body)["token"]
        s2, _, _ = request(lab.port, "POST", f"/v1/campaigns/{b}/ask", "{}", token=tok)
        out["ask_on_other_campaign"] = s2
    return out


def resources(lab):
    out = {}
    cid = lab.campaign(dict(SPACE, n_init=2))
    for _ in range(2):
        _, _, b = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask", "{}")
        for e in json.loads(b)["experiments"]:
            request(lab.port, "POST", f"/v1/campaigns/{cid}/experiments/{e['id']}/result",
                    json.dumps({"values": {"y": e["parameters"]["x"]}}))
    t0 = time.time()
    try:
        s, _, _ = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask", json.dumps({"count": 1000}), timeout=120)
    except OSError:
        s = 0
    out["ask_1000"] = {"status": s, "seconds": round(time.time() - t0, 2)}
    s, _, _ = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask",
                      json.dumps({"count": 1, "lease_seconds": 30 * 24 * 3600}))
    out["lease_30_days"] = {"status": s}
    many = dict(SPACE, parameters=[{"name": f"p{i}", "type": "continuous", "low": 0, "high": 1} for i in range(100_000)])
    t0 = time.time()
    s, _, _ = request(lab.port, "POST", "/v1/campaigns", json.dumps(many), timeout=120)
    out["parameters_100000"] = {"status": s, "seconds": round(time.time() - t0, 2)}
    huge = dict(SPACE, parameters=[{"name": "x", "type": "continuous", "low": -1e308, "high": 1e308}])
    s, _, _ = request(lab.port, "POST", "/v1/campaigns", json.dumps(huge))
    out["bounds_1e308"] = {"status": s}
    s, _, _ = request(lab.port, "POST", "/v1/tokens", json.dumps({"role": "viewer"}),
                      headers={"Idempotency-Key": "big", "Content-Type": "application/json"})
    s, _, _ = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask", "{}")
    note = "n" * (1 << 20)
    _, _, b = request(lab.port, "GET", f"/v1/campaigns/{cid}/experiments?state=leased")
    eid = json.loads(b)["experiments"][0]["id"]
    s, _, _ = request(lab.port, "POST", f"/v1/campaigns/{cid}/experiments/{eid}/result",
                      json.dumps({"values": {"y": 0.1}, "note": note}))
    out["note_1_mib"] = {"status": s}
    for _ in range(300):
        lab.campaign()
    t0 = time.time()
    request(lab.port, "GET", "/v1/campaigns")
    out["list_300_campaigns_s"] = round(time.time() - t0, 3)
    return out


def corruption(lab):
    cid = lab.campaign()
    _, _, b = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask", "{}")
    eid = json.loads(b)["experiments"][0]["id"]
    request(lab.port, "POST", f"/v1/campaigns/{cid}/experiments/{eid}/result", json.dumps({"values": {"y": 0.066376}}))
    con = sqlite3.connect(lab.server.db)
    con.execute("UPDATE experiments SET vals = replace(vals, '0.066376', '0.566376')")
    con.commit()
    con.close()
    s, _, b = request(lab.port, "GET", f"/v1/campaigns/{cid}/experiments")
    served = json.loads(b)["experiments"][0]["values"]["y"] if s == 200 else None
    return {"status": s, "value_served": served}


def wal_deleted(lab):
    cid = lab.campaign()
    _, _, b = request(lab.port, "POST", f"/v1/campaigns/{cid}/ask", json.dumps({"count": 10}))
    ids = [e["id"] for e in json.loads(b)["experiments"]]
    os.remove(lab.server.db + "-wal")
    acked = 0
    for eid in ids:
        s, _, _ = request(lab.port, "POST", f"/v1/campaigns/{cid}/experiments/{eid}/result",
                          json.dumps({"values": {"y": 0.5}}))
        acked += s == 200
    lab.server.kill()
    try:
        lab.server.start(timeout=20)
        s, _, b = request(lab.port, "GET", f"/v1/campaigns/{cid}/experiments?state=completed")
        kept = len(json.loads(b)["experiments"]) if s == 200 else 0
        start = "started"
    except RuntimeError as e:
        kept, start = 0, "refused: " + str(e).splitlines()[-1][:200]
    return {"acknowledged": acked, "after_restart": kept, "restart": start}


def shutdown_and_framing(lab):
    out = {}
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=10)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        conn.request("GET", "/v1/campaigns", headers={"Authorization": f"Bearer {ADMIN}"})
        conn.getresponse().read()
        times.append(time.perf_counter() - t0)
    conn.close()
    out["keepalive_ms_median_requests_2_30"] = round(1000 * statistics.median(times[1:]), 3)
    t_new = []
    for _ in range(30):
        t0 = time.perf_counter()
        request(lab.port, "GET", "/v1/campaigns")
        t_new.append(time.perf_counter() - t0)
    out["new_connection_ms_median"] = round(1000 * statistics.median(t_new), 3)
    out["cl_and_te"] = send_raw(lab.port, b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")[0]
    s, _, _ = request(lab.port, "POST", "/v1/tokens", '{"role": "viewer", "role": "admin"}')
    out["duplicate_keys"] = s
    s, _, _ = request(lab.port, "POST", "/v1/tokens", '{"role": "viewer"}', headers={"Content-Type": "text/plain"})
    out["text_plain"] = s
    lab.server.proc.send_signal(signal.SIGTERM)
    try:
        out["sigterm_rc"] = lab.server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        out["sigterm_rc"] = "hung"
    out["clean_stop_line"] = "stopped" in lab.server.log.read_text().splitlines()[-1]
    return out


def admin_token_in_log(cli, env):
    d = pathlib.Path(tempfile.mkdtemp(prefix="sozai-sec-"))
    s = LabServer(cli, d / "lab.db", admin_token=None, env=env)
    s.start()
    try:
        token = (d / "lab.db.admin-token").read_text().strip()
        rows = sqlite3.connect(d / "lab.db").execute("SELECT id FROM tokens").fetchall()
        import hashlib
        unsalted = hashlib.sha256(token.encode()).hexdigest()[:16]
        return {"token_in_log": token in s.log.read_text(), "db_mode": oct(os.stat(d / "lab.db").st_mode & 0o777),
                "token_id_is_unsalted_hash": rows[0][0] == unsalted}
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


ATTACKS = [("1 stored XSS in the dashboard", xss), ("2 chunked body without a token", chunked_without_token),
           ("3 slowloris, 40 connections, 16 workers", slowloris), ("4 deeply nested JSON", deep_json),
           ("5 non-UTF-8 bytes", non_utf8), ("6 token scope of the wrong type", token_scope),
           ("7 resource exhaustion", resources), ("8a a changed stored digit", corruption),
           ("8b the -wal file deleted while running", wal_deleted),
           ("9 keep-alive, framing, SIGTERM", shutdown_and_framing)]


def run(cli, env):
    out = {}
    for name, attack in ATTACKS:
        log(f"{cli}: {name} ...")
        lab = Lab(cli, env, extra=["--threads", "16"])
        try:
            out[name] = attack(lab)
        except Exception as e:  # a crash is a result here
            out[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
        finally:
            try:
                lab.close()
            except Exception:
                pass
        out[name]["server_alive_after"] = lab.server.proc.poll() is None or lab.server.proc.returncode == 0
        log(f"  {json.dumps(out[name])[:300]}")
    out["9b admin token"] = admin_token_in_log(cli, env)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", action="append", required=True)
    ap.add_argument("--label", action="append", required=True)
    ap.add_argument("--lib", action="append", default=[], help="LD_LIBRARY_PATH for the matching --cli ('' for none)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    results = {}
    for i, (cli, label) in enumerate(zip(a.cli, a.label)):
        env = {}
        if i < len(a.lib) and a.lib[i]:
            env["LD_LIBRARY_PATH"] = a.lib[i]
        results[label] = run(cli, env)
    out = pathlib.Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    if len(results) >= 2:
        labels = list(results)
        lines = ["| attack | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for name in results[labels[0]]:
            cells = [json.dumps(results[l].get(name, {}), ensure_ascii=False).replace("|", "\\|") for l in labels]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        out.with_suffix(".table.md").write_text("\n".join(lines) + "\n")
    log(f"wrote {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
