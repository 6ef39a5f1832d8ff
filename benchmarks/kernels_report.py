#!/usr/bin/env python3
"""Runs the C++ kernel benchmarks (Google Benchmark) and writes the ratios.

    benchmarks/kernels_report.py --build build [--min-time 0.5]

Segment/scatter sum, mean and max against LibTorch's index_add_ and
scatter_reduce on the same inputs; fused acquisition + top-k against the
unfused LibTorch path; kernel-matrix and whole-screening throughput against
the memory bandwidth measured in the same run. Writes
benchmarks/results/kernels.json (raw Google Benchmark output) and
kernels.md (tables). Run it on a quiet machine: every number is a ratio of
two timings taken minutes apart at most.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(exe, min_time, extra=()):
    cmd = [str(exe), "--benchmark_format=json", f"--benchmark_min_time={min_time}", *extra]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def by_name(report):
    return {b["name"]: b for b in report["benchmarks"] if "error_occurred" not in b}


def segment_table(report):
    rows = by_name(report)
    lines = ["| E | F | op | sozai (ms) | torch (ms) | speed-up |", "|---|---|---|---|---|---|"]
    for name, b in rows.items():
        if not name.startswith("sozai/") or "/cuda/" in name:
            continue
        twin = rows.get(name.replace("sozai/", "torch/", 1))
        if twin is None:
            continue
        parts = name.split("/")  # sozai/segment_sum/cpu/E/F/...
        op, args = parts[1], parts[3:]
        E, F = int(args[0]), int(args[1])
        base = {"segment": "index_add_" if op.endswith("sum") else "scatter_reduce",
                "scatter": "index_add_" if op.endswith("sum") else "scatter_reduce"}[op.split("_")[0]]
        lines.append(f"| {E:.0e} | {F} | {op} vs {base} | {b['real_time']:.1f} | {twin['real_time']:.1f} | "
                     f"{twin['real_time'] / b['real_time']:.2f}x |")
    return "\n".join(lines)


def screening_table(report):
    rows = by_name(report)
    read = next((b for n, b in rows.items() if n.startswith("memory/read/cpu")), None)
    bw = read["bytes_per_second"] if read else float("nan")
    lines = [f"Memory read bandwidth (parallel sum over 1 GiB): **{bw / 1e9:.1f} GB/s**.", "",
             "| benchmark | candidates/s | bytes/s | share of the bandwidth bound | note |",
             "|---|---|---|---|---|"]
    notes = {
        "topk/fused/cpu": "fused LogEI + top-100 over 16.8M candidates (float32 mean + variance)",
        "topk/torch/cpu": "LogEI materialised, then torch::topk (baseline)",
        "kernel_matrix/cpu": "Matern-5/2, 65 536 candidates x 256 training points, d = 8",
        "screen/cpu": "GP screening pass over 1M generated candidates in chunks of 65 536 (n = 256)",
    }
    for name, b in rows.items():
        key = next((k for k in notes if name.startswith(k + "/")), None)
        if key is None:
            continue
        ips = b.get("items_per_second", float("nan"))
        bps = b.get("bytes_per_second")
        share = f"{bps / bw:.1%}" if bps else "-"
        lines.append(f"| {key} | {ips / 1e6:.1f} M | {bps / 1e9:.2f} GB/s | {share} | {notes[key]} |"
                     if bps else f"| {key} | {ips / 1e6:.2f} M | - | - | {notes[key]} |")
    fused = next((b for n, b in rows.items() if n.startswith("topk/fused/cpu")), None)
    plain = next((b for n, b in rows.items() if n.startswith("topk/torch/cpu")), None)
    if fused and plain:
        lines += ["", f"Fused top-k against the unfused LibTorch path: "
                      f"**{plain['real_time'] / fused['real_time']:.1f}x**."]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--min-time", default="0.5")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--only", choices=["bench_segment", "bench_screening"],
                    help="rerun one program and keep the other's saved results")
    args = ap.parse_args()
    bin_dir = pathlib.Path(args.build) / "bin"
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    filters = {"bench_segment": "/cpu", "bench_screening": "cpu"}
    saved = out / "kernels.json"
    reports = json.loads(saved.read_text()) if args.only and saved.exists() else {}
    for prog, flt in filters.items():
        if args.only in (None, prog):
            reports[prog] = run(bin_dir / prog, args.min_time, [f"--benchmark_filter={flt}"])
    saved.write_text(json.dumps(reports, indent=1))
    ctx = reports["bench_segment"]["context"]
    # LibTorch's intra-op threads (both sides share the library and its pool).
    import torch
    threads = torch.get_num_threads()
    md = [
        "# Kernel benchmarks (CPU)", "",
        f"Machine: {platform.processor() or platform.machine()}, {ctx.get('num_cpus')} CPUs at "
        f"{ctx.get('mhz_per_cpu')} MHz, LibTorch threads = {threads} for both sides. "
        "Produced by `benchmarks/kernels_report.py`; GPU numbers come from `scripts/gpu-check.sh`.", "",
        "## Segment and scatter reductions (float32, E/16 output rows, forward)", "",
        segment_table(reports["bench_segment"]), "",
        "## Screening against the memory bandwidth", "",
        screening_table(reports["bench_screening"]), "",
    ]
    (out / "kernels.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
