#!/usr/bin/env python3
"""The lab service under load, on loopback (`sozai serve` + sozai.lab.Client).

1. Throughput and latency: 16 concurrent controllers, each asking for one
   experiment and reporting it, over and over: p50/p99 of ask and report,
   requests per second. Two campaigns: surrogate "random" (what the service
   itself costs: HTTP, JSON, SQLite with synchronous=FULL) and "gp" (a GP
   refitted and the acquisition optimised at every ask, asks of one
   campaign serialised).
2. Result -> next ask with a refitted model, at 100, 500 and 2000
   observations (a continuous 4-parameter space, qLogNEI, the lab
   default): the first model ask (all GP restarts) and the steady state
   (refit from the last hyperparameters; from 1000 results, conditioning
   only).
3. Recovery after SIGKILL: restart to /healthz answering, and to the first
   ask answered, with a store of 2000+ experiments.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/lab_service.py \\
        [--seconds 20] [--sizes 100,500,2000] [--report-only]
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from lab_server import LabServer  # noqa: E402
from sozai.lab import Client  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def space(n_init, surrogate="gp", seed=0):
    return {"name": f"bench {surrogate} n_init={n_init}",
            "parameters": [{"name": f"x{j}", "type": "continuous", "low": 0, "high": 1} for j in range(4)],
            "objectives": [{"name": "y", "direction": "maximize"}],
            "surrogate": surrogate, "n_init": n_init, "seed": seed}


def f(p):
    x = np.array([p[f"x{j}"] for j in range(4)])
    return float(-np.sum((x - 0.3) ** 2) + 0.05 * np.sin(9 * x[0]))


def load(url, token, cid, controllers, seconds, keep_alive=False):
    asks, reports, stop = [], [], threading.Event()
    lock = threading.Lock()

    def worker(k):
        c = Client(url, token, keep_alive=keep_alive)
        while not stop.is_set():
            t0 = time.perf_counter()
            e = c.ask(cid, count=1, controller=f"robot-{k}")[0]
            t1 = time.perf_counter()
            c.report(cid, e["id"], {"y": f(e["parameters"])})
            t2 = time.perf_counter()
            with lock:
                asks.append(t1 - t0)
                reports.append(t2 - t1)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(controllers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    a, r = np.array(asks) * 1000, np.array(reports) * 1000
    return {"controllers": controllers, "seconds": wall, "requests": len(a) + len(r),
            "requests_per_second": (len(a) + len(r)) / wall, "experiments_per_second": len(a) / wall,
            "ask_ms_p50": float(np.percentile(a, 50)), "ask_ms_p99": float(np.percentile(a, 99)),
            "report_ms_p50": float(np.percentile(r, 50)), "report_ms_p99": float(np.percentile(r, 99))}


def refit_times(url, token, n):
    """Fills a campaign with n results (random phase), then times result ->
    next ask: the first model ask, then three steady-state ones."""
    c = Client(url, token, timeout=3600)
    cid = c.create_campaign(space(n_init=n))
    left = n
    while left:
        batch = c.ask(cid, count=min(left, 500))
        for e in batch:
            c.report(cid, e["id"], {"y": f(e["parameters"])})
        left -= len(batch)
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        e = c.ask(cid, count=1)[0]
        times.append(time.perf_counter() - t0)
        c.report(cid, e["id"], {"y": f(e["parameters"])})
    return {"observations": n, "first_model_ask_s": times[0], "steady_ask_s": float(np.median(times[1:]))}, cid


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--controllers", type=int, default=16)
    ap.add_argument("--sizes", default="100,500,2000")
    ap.add_argument("--out", default=str(RESULTS / "lab_service"))
    ap.add_argument("--report-only", action="store_true", help="rewrite the markdown from the saved JSON")
    ap.add_argument("--connections", action="store_true",
                    help="only the load test, with one connection per request and with kept-alive connections, "
                         "side by side (writes OUT_connections.{json,md})")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    if args.connections:
        return connections(args, pathlib.Path(str(out) + "_connections"))
    if args.report_only:
        write_report(json.loads(out.with_suffix(".json").read_text()), out)
        return
    cli = os.environ.get("SOZAI_CLI", str(ROOT / "build" / "bin" / "sozai"))
    tmp = tempfile.TemporaryDirectory()
    server = LabServer(cli, pathlib.Path(tmp.name) / "lab.db", admin_token="bench-admin-" + os.urandom(8).hex())
    server.start()
    admin = Client(server.url, server.admin_token)
    result = {"benchmark": "lab_service", "cpu_count": os.cpu_count(), "load": {}, "refit": [], "recovery": {}}
    for surrogate in ("random", "gp"):
        cid = admin.create_campaign(space(n_init=8, surrogate=surrogate))
        print(f"load: {args.controllers} controllers, surrogate {surrogate}, {args.seconds:.0f} s ...", file=sys.stderr)
        result["load"][surrogate] = load(server.url, server.admin_token, cid, args.controllers, args.seconds)
        print("  ", json.dumps(result["load"][surrogate]), file=sys.stderr)
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"refit at {n} observations ...", file=sys.stderr)
        r, _ = refit_times(server.url, server.admin_token, n)
        result["refit"].append(r)
        print("  ", json.dumps(r), file=sys.stderr)
    experiments = sum(admin.get_campaign(c["id"])["counts"]["completed"] for c in admin.list_campaigns())
    server.kill()
    t0 = time.perf_counter()
    server.start()
    while not server.healthy():
        time.sleep(0.005)
    t1 = time.perf_counter()
    cid = admin.list_campaigns()[0]["id"]
    admin.ask(cid, count=1)
    t2 = time.perf_counter()
    result["recovery"] = {"experiments_in_store": experiments, "restart_to_healthz_s": t1 - t0,
                          "restart_to_first_ask_s": t2 - t0}
    print("  recovery", json.dumps(result["recovery"]), file=sys.stderr)
    server.stop()

    result["seconds"] = args.seconds
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    write_report(result, out)


def connections(args, out):
    """The load test twice per campaign: a new connection per request, then
    one kept-alive connection per controller."""
    cli = os.environ.get("SOZAI_CLI", str(ROOT / "build" / "bin" / "sozai"))
    tmp = tempfile.TemporaryDirectory()
    server = LabServer(cli, pathlib.Path(tmp.name) / "lab.db", admin_token="bench-admin-" + os.urandom(8).hex())
    server.start()
    admin = Client(server.url, server.admin_token)
    result = {"benchmark": "lab_service_connections", "cpu_count": os.cpu_count(), "seconds": args.seconds,
              "controllers": args.controllers, "load": {}}
    for surrogate in ("random", "gp"):
        for keep in (False, True):
            cid = admin.create_campaign(space(n_init=8, surrogate=surrogate))
            key = f"{surrogate} {'kept-alive' if keep else 'new connection'}"
            print(f"load: {key}, {args.controllers} controllers, {args.seconds:.0f} s ...", file=sys.stderr)
            result["load"][key] = load(server.url, server.admin_token, cid, args.controllers, args.seconds, keep)
            print("  ", json.dumps(result["load"][key]), file=sys.stderr)
    server.stop()
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    lines = ["# Lab service on loopback: new connections against kept-alive ones", "",
             f"`sozai serve` ({result['cpu_count']} cores), {args.controllers} concurrent controllers "
             f"(threads of sozai.lab.Client), each asking for one experiment and reporting it, for "
             f"{args.seconds:.0f} s per row; `new connection`: one TCP connection per request, `kept-alive`: "
             "one per controller (`Client(keep_alive=True)`). Store: SQLite, WAL, synchronous=FULL. "
             "`benchmarks/lab_service.py --connections`.", "",
             "| campaign | connections | requests/s | experiments/s | ask p50 | ask p99 | report p50 | report p99 |",
             "|---|---|---|---|---|---|---|---|"]
    for key, d in result["load"].items():
        surrogate, mode = key.split(" ", 1)
        lines.append(f"| {surrogate} | {mode} | {d['requests_per_second']:.0f} | {d['experiments_per_second']:.1f} | "
                     f"{d['ask_ms_p50']:.1f} ms | {d['ask_ms_p99']:.1f} ms | {d['report_ms_p50']:.1f} ms | "
                     f"{d['report_ms_p99']:.1f} ms |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def write_report(result, out):
    L = result["load"]
    controllers, seconds = L["random"]["controllers"], result.get("seconds", 20)
    lines = ["# Lab service on loopback", "",
             f"`sozai serve` on this machine ({result['cpu_count']} cores), {controllers} concurrent controllers "
             f"(threads of sozai.lab.Client, one connection per request), each asking for one experiment and "
             f"reporting it, for {seconds:.0f} s. Store: SQLite, WAL, synchronous=FULL (every write is on "
             f"disk before the answer). `benchmarks/lab_service.py`.", "",
             "| campaign | requests/s | experiments/s | ask p50 | ask p99 | report p50 | report p99 |",
             "|---|---|---|---|---|---|---|"]
    for name, label in (("random", "surrogate random (the service's own cost)"),
                        ("gp", "surrogate gp (GP refit + qLogNEI for every batch of asks)")):
        d = L[name]
        lines.append(f"| {label} | {d['requests_per_second']:.0f} | {d['experiments_per_second']:.1f} | "
                     f"{d['ask_ms_p50']:.1f} ms | {d['ask_ms_p99']:.1f} ms | {d['report_ms_p50']:.1f} ms | "
                     f"{d['report_ms_p99']:.1f} ms |")
    lines += ["", "Result -> next ask answered with a refitted model (continuous 4-parameter space, qLogNEI):", "",
              "| observations | first model ask (all GP restarts) | steady state (refit from the last values; "
              "from 1000 results conditioning only) |",
              "|---|---|---|"]
    for r in result["refit"]:
        lines.append(f"| {r['observations']} | {r['first_model_ask_s']:.2f} s | {r['steady_ask_s']:.2f} s |")
    rec = result["recovery"]
    lines += ["", f"Recovery after SIGKILL with {rec['experiments_in_store']} results in the store: /healthz answers "
              f"{rec['restart_to_healthz_s'] * 1000:.0f} ms after the restart, the first ask "
              f"{rec['restart_to_first_ask_s'] * 1000:.0f} ms after it.", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
