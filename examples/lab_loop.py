#!/usr/bin/env python3
"""A self-driving lab against `sozai serve`: N simulated robots (threads)
run a whole campaign over HTTP, with a real closed-loop dataset as the
ground truth, random delays, failed syntheses and robots that die holding
a lease (their experiments come back after the lease and are handed out
again).

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 examples/lab_loop.py \\
        [--dataset crossed_barrel] [--robots 8] [--budget 80] [--url http://127.0.0.1:8080 --token T]

Without --url it starts its own server (build/bin/sozai serve) on a free
port with a fresh store in a temporary folder.
"""

import argparse
import os
import pathlib
import random
import sys
import tempfile
import threading
import time

import numpy as np

import sozai
from sozai.lab import Client, LabError

ROOT = pathlib.Path(__file__).resolve().parents[1]


def start_server(tmp):
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    from lab_server import LabServer

    cli = os.environ.get("SOZAI_CLI", str(ROOT / "build" / "bin" / "sozai"))
    server = LabServer(cli, pathlib.Path(tmp) / "lab.db", admin_token="lab-loop-admin-" + os.urandom(8).hex())
    server.start()
    return server


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="crossed_barrel")
    ap.add_argument("--robots", type=int, default=8)
    ap.add_argument("--budget", type=int, default=80, help="completed experiments to run")
    ap.add_argument("--fail", type=float, default=0.08, help="chance a synthesis fails")
    ap.add_argument("--die", type=float, default=0.03, help="chance a robot dies holding its experiment")
    ap.add_argument("--lease", type=float, default=2.0, help="lease seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--url")
    ap.add_argument("--token")
    args = ap.parse_args()

    ds = sozai.datasets.load_closed_loop(args.dataset)
    X, y, maximize = ds["X"], ds["Y"][:, 0], bool(ds["maximize"][0])
    names = [f"x{j}_{n}".replace(" ", "_") for j, n in enumerate(ds["input_names"])]
    truth = {tuple(float(v) for v in row): float(t) for row, t in zip(X, y)}
    description = {
        "name": f"{args.dataset} (lab_loop.py)",
        "parameters": [{"name": n, "type": "continuous", "low": float(X[:, j].min()), "high": float(X[:, j].max())}
                       for j, n in enumerate(names)],
        "objectives": [{"name": ds["objective_names"][0], "direction": "maximize" if maximize else "minimize"}],
        "pool": [{n: float(v) for n, v in zip(names, row)} for row in X],
        "acquisition": "qlognei", "n_init": 2 * args.robots, "seed": args.seed}
    objective = description["objectives"][0]["name"]

    tmp = tempfile.TemporaryDirectory()
    server = None
    if args.url:
        url, token = args.url, args.token
    else:
        server = start_server(tmp.name)
        url, token = server.url, server.admin_token
        print(f"started sozai serve at {url} (store {server.db})", file=sys.stderr)
    admin = Client(url, token)
    cid = admin.create_campaign(description)
    robot_token = admin.create_token("controller", cid)

    done = threading.Event()
    lock = threading.Lock()
    stats = {"completed": 0, "failed": 0, "died": 0}
    t0 = time.time()

    def robot(k):
        rng = random.Random(args.seed * 1000 + k)
        c = Client(url, robot_token)
        while not done.is_set():
            batch = c.ask(cid, count=1, controller=f"robot-{k}", lease_seconds=args.lease)
            if not batch:
                break  # the pool is used up
            e = batch[0]
            time.sleep(rng.uniform(0.01, 0.08))  # synthesis and measurement
            u = rng.random()
            if u < args.die:
                with lock:
                    stats["died"] += 1
                time.sleep(args.lease)  # a dead robot: the lease runs out, the experiment returns
                continue
            try:
                if u < args.die + args.fail:
                    c.report(cid, e["id"], status="failed", note="synthesis failed")
                    with lock:
                        stats["failed"] += 1
                else:
                    key = tuple(float(e["parameters"][n]) for n in names)
                    c.report(cid, e["id"], {objective: truth[key]})
                    with lock:
                        stats["completed"] += 1
                        if stats["completed"] >= args.budget:
                            done.set()
            except LabError as err:
                if err.status != 409:  # 409: another robot reported it first after our lease ran out
                    raise
            with lock:
                n = stats["completed"]
            print(f"\r{n}/{args.budget} results, {stats['failed']} failed, {stats['died']} robots died", end="",
                  file=sys.stderr, flush=True)

    threads = [threading.Thread(target=robot, args=(k,)) for k in range(args.robots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(file=sys.stderr)
    elapsed = time.time() - t0

    summary = admin.get_campaign(cid)
    exported = admin.export_campaign(cid)
    values = [e["values"][objective] for e in exported if e["status"] == "completed"]
    order = np.array(values)
    best = order.max() if maximize else order.min()
    top = np.sort(y)[::-1][: max(1, len(y) // 20)] if maximize else np.sort(y)[: max(1, len(y) // 20)]
    hit = np.nonzero(order >= top[-1] if maximize else order <= top[-1])[0]
    print(f"campaign {cid}: {summary['counts']}")
    print(f"{len(values)} results in {elapsed:.1f} s by {args.robots} robots; best {objective} = {best:.4g} "
          f"(dataset best {y.max() if maximize else y.min():.4g})")
    print(f"first top-5 % result at experiment {hit[0] + 1 if len(hit) else 'none'}; random search needs "
          f"{(len(y) + 1) / (len(top) + 1):.1f} on average")
    if server:
        server.stop()


if __name__ == "__main__":
    main()
