"""Federated training over the network, as deployed: `sozai federate serve`
and three `sozai federate join` processes on loopback HTTP, each party
holding a third of matbench_steels_yield (its rows never leave its
process). Per round: bytes the coordinator received (message bodies, from
its status) and bytes each party sent (whole HTTP requests), wall seconds,
with secure aggregation against updates sent in the clear - and the raw size
of one float32 update, to show what base64-in-JSON adds.

    SOZAI_DATA_DIR=../shared/data PYTHONPATH=build/python /usr/bin/python3 benchmarks/federated_network.py \\
        [--cli build/bin/sozai] [--rounds 5] [--members 2]

Writes benchmarks/results/federated_network.{json,md}. The three parties and
the coordinator share the machine's 2 cores, so the seconds are those of a
crowded machine, not of three companies' servers.
"""

import argparse
import csv
import http.client
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "tests" / "python"))
from lab_server import LabServer  # noqa: E402

ADMIN = "benchmark-admin-token-0123456789"


def status(port, fid):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/v1/federations/{fid}", headers={"Authorization": f"Bearer {ADMIN}"})
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body


def run(cli, tmp, files, rounds, members, secure):
    db = tmp / f"fed-{'secure' if secure else 'plain'}.db"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    server = LabServer(cli, db, admin_token=ADMIN, command=("federate", "serve"))
    server.start()
    try:
        cfg = {"name": "steels", "parties": len(files),
               "model": {"kind": "composition", "n_members": members, "seed": 0},
               "training": {"rounds": rounds, "secure": secure}}
        (tmp / "fed.json").write_text(json.dumps(cfg))
        sh = lambda *a: subprocess.run([str(cli), *map(str, a)], capture_output=True, text=True, env=env,
                                       check=True).stdout.strip()
        fid = sh("federate", "create", "--db", db, "--config", tmp / "fed.json")
        tokens = [sh("federate", "token", "--db", db, "--federation", fid) for _ in files]
        t0 = time.time()
        procs = [subprocess.Popen([str(cli), "federate", "join", "--server", server.url, "--token", tokens[k],
                                   "--federation", fid, "--data", str(files[k]), "--kind", "composition",
                                   "--input", "formula", "--target", "target", "--out", str(tmp / f"m{k}.pt"),
                                   "--threads", "1", "--quiet"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for k in range(len(files))]
        outs = [p.communicate(timeout=3600) for p in procs]
        wall = time.time() - t0
        for p, (out, err) in zip(procs, outs):
            if p.returncode != 0:
                raise RuntimeError(err[-2000:])
        sent = [float(re.search(r"sent ([0-9.]+) MB", out).group(1)) * 1e6 for out, _ in outs]
        st = status(server.port, fid)
    finally:
        server.stop()
    per_step = {int(k): v for k, v in st["bytes_per_step"].items()}
    round_bytes = [per_step[s] for s in range(2, 2 + rounds)]
    return dict(secure=secure, rounds=rounds, members=members, wall_seconds=wall, seconds_per_round=wall / rounds,
                coordinator_bytes_per_round=sum(round_bytes) / rounds, party_bytes_sent=sum(sent) / len(sent),
                coordinator_bytes_total=st["bytes_received"], setup_bytes=per_step.get(0, 0) + per_step.get(1, 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default=str(ROOT / "build" / "bin" / "sozai"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--members", type=int, default=2)
    args = ap.parse_args()
    data = pathlib.Path(os.environ.get("SOZAI_DATA_DIR", ROOT.parent / "shared" / "data"))
    rows = list(csv.reader(open(data / "alloys" / "matbench_steels_yield.csv")))
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        files = []
        for k in range(3):
            path = tmp / f"party{k + 1}.csv"
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(rows[0])
                w.writerows(rows[1:][k::3])
            files.append(path)
        out = [run(args.cli, tmp, files, args.rounds, args.members, secure) for secure in (True, False)]
    # The clear message is {"vector": "<base64 of float32 entries>"}: the raw update, parameters and weight.
    params = int(round((out[1]["coordinator_bytes_per_round"] / 3 - len('{"vector":""}')) * 3 / 4 / 4)) - 1
    for r in out:
        print(r, flush=True)
    secure, plain = out
    res = dict(runs=out, parameters=params, expansion=secure["coordinator_bytes_per_round"] /
               plain["coordinator_bytes_per_round"], time_ratio=secure["seconds_per_round"] / plain["seconds_per_round"])
    (RESULTS / "federated_network.json").write_text(json.dumps(res, indent=1))
    lines = ["# Federated training over the network: cost per round", "",
             "`benchmarks/federated_network.py`: `sozai federate serve` and 3 `sozai federate join` processes on "
             "loopback HTTP, matbench_steels_yield split in 3 by row, a composition ensemble of "
             f"{args.members} members (default architecture), {args.rounds} rounds; coordinator, parties and their "
             "training share the 2-core machine. Coordinator bytes: message bodies it stored (JSON with base64 "
             "vectors); party bytes: whole HTTP requests a party sent, set-up and calibration included.", "",
             "| aggregation | s / round | coordinator bytes / round | bytes each party sent (whole run) | set-up bytes |",
             "|---|---:|---:|---:|---:|"]
    for r in out:
        lines.append(f"| {'secure' if r['secure'] else 'in the clear'} | {r['seconds_per_round']:.2f} | "
                     f"{r['coordinator_bytes_per_round']:,.0f} | {r['party_bytes_sent']:,.0f} | {r['setup_bytes']:,} |")
    lines += ["", f"Secure / clear: {res['expansion']:.3f}× the bytes and {res['time_ratio']:.2f}× the seconds per "
              "round. Both carry each update as base64 in JSON (4/3 of its raw bytes); the secure round adds the "
              "keys, sealed shares and unmasking shares of Bonawitz et al. and three more round trips."]
    if params:
        lines.append(f"One update: {params:,} parameters = {4 * params:,} bytes as float32 per party.")
    (RESULTS / "federated_network.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
