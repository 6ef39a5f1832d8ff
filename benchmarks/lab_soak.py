#!/usr/bin/env python3
"""Soak test of `sozai serve`: honest controllers, a dashboard, fuzzers and
attackers at once for a while; reports requests survived, 5xx seen, memory
over time, and whether every acknowledged result is still in the store.

    PYTHONPATH=build/python /usr/bin/python3 benchmarks/lab_soak.py [--seconds 600] \\
        [--out benchmarks/results/lab_soak]

Writes OUT.json, OUT.md and OUT.png (resident memory over time). Progress
on stderr every 10 s. Not run by CI.
"""

import argparse
import collections
import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from lab_server import LabServer, send_raw  # noqa: E402
from sozai.lab import Client, LabError  # noqa: E402

SPACE = {"name": "soak", "parameters": [{"name": "x", "type": "continuous", "low": 0, "high": 1},
                                        {"name": "route", "type": "categorical", "choices": ["a", "b"]}],
         "objectives": [{"name": "y", "direction": "maximize"}], "surrogate": "random", "n_init": 4}


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = collections.Counter()
        self.errors = collections.Counter()
        self.acked = {}  # (campaign, experiment) -> value

    def count(self, status):
        with self.lock:
            self.status[status] += 1

    def error(self, what):
        with self.lock:
            self.errors[what] += 1


def raw_status(port, data):
    """The status of one raw request (0: closed without an answer; -1: no connection)."""
    try:
        return send_raw(port, data, timeout=5.0, half_close=True)[0]
    except OSError:
        return -1


def honest(server, token, cids, stop, tally, k):
    c = Client(server.url, token, keep_alive=(k % 2 == 0), retries=20, backoff=0.05)
    rng = random.Random(k)
    while not stop.is_set():
        cid = rng.choice(cids)
        try:
            exps = c.ask(cid, count=rng.randint(1, 3), controller=f"robot-{k}", lease_seconds=600)
            tally.count(200)
            for e in exps:
                if rng.random() < 0.1:
                    c.cancel(cid, e["id"])
                    tally.count(200)
                    continue
                y = e["parameters"]["x"] + (0.1 if e["parameters"]["route"] == "b" else 0)
                c.report(cid, e["id"], {"y": y}, note=f"robot {k}")
                tally.count(200)
                with tally.lock:
                    tally.acked[(cid, e["id"])] = y
        except LabError as err:
            tally.count(err.status)
        except Exception as err:  # noqa: BLE001 - counted, the soak goes on
            tally.error(type(err).__name__)


def dashboard(server, token, cids, stop, tally):
    c = Client(server.url, token, keep_alive=True)
    last = {cid: 0 for cid in cids}
    while not stop.is_set():
        for cid in cids:
            try:
                c.get_campaign(cid)
                page = c.list_results(cid, after=last[cid])
                last[cid] = page["last"]
                tally.count(200)
            except LabError as err:
                tally.count(err.status)
            except Exception as err:  # noqa: BLE001
                tally.error(type(err).__name__)
        time.sleep(0.5)


def fuzzer(server, token, cids, stop, tally, k):
    rng = random.Random(1000 + k)
    bodies = ['{"count": 2}', '{"values": {"y": 0.5}}', '{"role": "viewer"}', json.dumps(SPACE),
              '{"values": {"y": 1e999}}', '{"a": 1, "a": 2}', "[" * 500 + "]" * 500, '{"note": "\xff"}']
    paths = [f"/v1/campaigns/{cids[0]}/ask", f"/v1/campaigns/{cids[0]}/experiments/1/result", "/v1/tokens",
             "/v1/campaigns", f"/v1/campaigns/{cids[1]}/experiments?state=leased", "/v1/campaigns/%FF",
             f"/v1/campaigns/{cids[1]}/results?after=0"]
    inserts = [b"\r\n", b"\n", b"\x00", b"\xff", b"%", b"Transfer-Encoding: chunked\r\n", b"Content-Length: 99\r\n",
               b"Host: y\r\n", b" ", b":"]
    while not stop.is_set():
        body = rng.choice(bodies).encode("utf-8", "surrogateescape")
        method = rng.choice([b"POST", b"GET", b"PUT"])
        req = (method + b" " + rng.choice(paths).encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               + rng.choice([token, "nope", ""]).encode() + b"\r\nContent-Type: application/json\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
        for _ in range(rng.randint(0, 3)):
            at = rng.randrange(len(req) + 1)
            op = rng.randrange(4)
            if op == 0:
                req = req[:at] + rng.choice(inserts) + req[at:]
            elif op == 1 and at < len(req):
                req = req[:at] + bytes([rng.randrange(256)]) + req[at + 1:]
            elif op == 2:
                req = req[:at] + req[at + rng.randint(1, 8):]
            else:
                req = req[:at]
        st = raw_status(server.port, req)
        tally.count(st if st > 0 else "closed" if st == 0 else "connect-error")


def attacker(server, stop, tally):
    rng = random.Random(7)
    while not stop.is_set():
        kind = rng.randrange(4)
        if kind == 0:  # slowloris burst
            socks = []
            for _ in range(20):
                try:
                    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    socks.append(s)
                except OSError:
                    tally.error("slowloris-connect")
            time.sleep(3)
            for s in socks:
                s.close()
            tally.count("slowloris")
        elif kind == 1:  # a big chunked body without a token
            st = raw_status(server.port, b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                         b"Content-Type: application/json\r\n\r\n" + b"100000\r\n" + b"a" * 0x100000)
            tally.count(st)
        elif kind == 2:  # deep JSON with the admin token
            deep = "[" * 50000 + "]" * 50000
            st = raw_status(server.port, (f"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                          f"{server.admin_token}\r\nContent-Type: application/json\r\n"
                                          f"Content-Length: {len(deep) + 30}\r\n\r\n").encode()
                            + ('{"role": "viewer", "campaign": ' + deep + "}").encode())
            tally.count(st)
        else:  # conflicting framing
            st = raw_status(server.port, b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            tally.count(st)
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lab_soak"))
    a = ap.parse_args()
    cli = os.environ.get("SOZAI_CLI", str(ROOT / "build" / "bin" / "sozai"))
    tmp = tempfile.TemporaryDirectory()
    db = pathlib.Path(tmp.name) / "lab.db"
    server = LabServer(cli, db, admin_token="soak-admin-" + os.urandom(8).hex(), extra=["--threads", "8"])
    server.start()
    admin = Client(server.url, server.admin_token)
    cids = [admin.create_campaign(dict(SPACE, name=f"soak {i}")) for i in range(2)]
    tally, stop = Tally(), threading.Event()
    threads = [threading.Thread(target=honest, args=(server, server.admin_token, cids, stop, tally, k)) for k in range(4)]
    threads.append(threading.Thread(target=dashboard, args=(server, server.admin_token, cids, stop, tally)))
    threads += [threading.Thread(target=fuzzer, args=(server, server.admin_token, cids, stop, tally, k)) for k in range(2)]
    threads.append(threading.Thread(target=attacker, args=(server, stop, tally)))
    for t in threads:
        t.start()
    t0 = time.time()
    memory = []
    while time.time() - t0 < a.seconds:
        time.sleep(1.0)
        memory.append((round(time.time() - t0, 1), server.rss_mib()))
        if len(memory) % 10 == 0:
            with tally.lock:
                n = sum(tally.status.values())
                five = sum(v for k, v in tally.status.items() if isinstance(k, int) and k >= 500 and k not in (501, 505))
            print(f"soak {memory[-1][0]:.0f}/{a.seconds:.0f} s: {n} requests, {five} 5xx, rss {memory[-1][1]:.0f} MiB",
                  file=sys.stderr, flush=True)
    stop.set()
    for t in threads:
        t.join()
    alive = server.proc.poll() is None
    # Every acknowledged result is in the store with its value.
    got = {}
    for cid in cids:
        for e in admin.list_experiments(cid, state="completed"):
            got[(cid, e["id"])] = e["values"]["y"]
    missing = [k for k, v in tally.acked.items() if got.get(k) != v]
    server.stop()
    check = subprocess.run([cli, "serve", "--db", str(db), "--check"], capture_output=True, text=True)
    statuses = {str(k): v for k, v in sorted(tally.status.items(), key=lambda kv: str(kv[0]))}
    five = sum(v for k, v in tally.status.items() if isinstance(k, int) and k >= 500 and k not in (501, 505))
    result = {"seconds": a.seconds, "requests": sum(tally.status.values()), "statuses": statuses,
              "client_errors": dict(tally.errors), "server_5xx": five, "server_alive_at_end": alive,
              "acknowledged_results": len(tally.acked), "missing_or_changed": len(missing),
              "store_check_ok": check.returncode == 0, "rss_mib_start": memory[0][1], "rss_mib_end": memory[-1][1],
              "rss_mib_peak": max(m for _, m in memory), "memory": memory}
    out = pathlib.Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Lab service soak", "",
             f"`benchmarks/lab_soak.py --seconds {a.seconds:.0f}`: `sozai serve --threads 8` with 4 honest "
             "controllers (asks, reports, cancels; half on kept-alive connections), a dashboard polling "
             "`/results`, 2 fuzzers sending mutated requests on raw sockets, and an attacker cycling through "
             "slowloris bursts (20 connections), 1 MiB chunked bodies without a token, 50 000-deep JSON and "
             "Content-Length with Transfer-Encoding.", "",
             f"- requests answered or refused: **{result['requests']}**; server 5xx (other than 501/505 "
             f"refusals): **{five}**; server alive at the end: **{alive}**",
             f"- acknowledged results: {len(tally.acked)}, missing or changed afterwards: **{len(missing)}**; "
             f"`sozai serve --check` afterwards: **{'ok' if check.returncode == 0 else 'FAILED'}**",
             f"- resident memory: {result['rss_mib_start']:.0f} MiB after 1 s, peak {result['rss_mib_peak']:.0f} MiB, "
             f"{result['rss_mib_end']:.0f} MiB at the end (`lab_soak.png`)",
             f"- statuses: {json.dumps(statuses)}", f"- client-side errors: {json.dumps(dict(tally.errors))}", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot([t for t, _ in memory], [m for _, m in memory])
        ax.set_xlabel("seconds")
        ax.set_ylabel("resident memory (MiB)")
        ax.set_title("sozai serve under a mixed soak")
        ax.set_ylim(bottom=0)
        fig.tight_layout()
        fig.savefig(out.with_suffix(".png"), dpi=120)
    except ImportError:
        pass
    print("\n".join(lines))


if __name__ == "__main__":
    main()
