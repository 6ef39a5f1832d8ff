"""Writes benchmarks/results/gpu.md from what scripts/gpu-check.sh left in
its output folders on a GPU node (environment.txt, summary.txt,
cuda-tests.xml, benchmarks.json, crash.txt), and keeps those files under
benchmarks/results/gpu/ so the report can be rebuilt and checked.

    python3 benchmarks/gpu_report.py RUN_DIR [RUN_DIR ...]

Several runs of one lease, oldest first: the benchmarks come from the last
run that measured them, the test results and environment from the last run,
and every run's log is kept (a crash and its fix stay on record).
benchmarks/results/gpu/notes.md, if present, is the hand-written reading of
the numbers and goes under the title.
"""

import argparse
import json
import pathlib
import re
import shutil
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def fmt(x, unit=""):
    if x is None:
        return "–"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {suffix}{unit}"
    return f"{x:.3g} {unit}".rstrip()


def ratio(a, b):
    return f"{a / b:.3g}×" if a and b else "–"


def load_benchmarks(path):
    """{program: {case name: entry}} from the merged benchmarks.json."""
    out = {}
    if not path.exists():
        return out
    for prog, data in json.loads(path.read_text()).items():
        if "benchmarks" in data:
            out[prog] = {b["name"]: b for b in data["benchmarks"]}
        else:
            out[prog] = data
    return out


def rate(benches, prog, name, key="items_per_second"):
    """The case `name` of `prog` (or the first whose name continues with '/' + its arguments)."""
    cases = benches.get(prog, {})
    entry = cases.get(name) or next((e for n, e in cases.items() if n.startswith(name + "/")), None)
    if not entry or entry.get("error_occurred"):
        return None
    return entry.get(key)


def cuda_tests(xml_path):
    """[(name, status, seconds, detail)] from Catch2's XML report."""
    if not xml_path.exists():
        return [], "no CUDA test report (the build or the run stopped before the tests)"
    text = xml_path.read_text(errors="replace")
    try:
        root = ET.fromstring(text[text.index("<"):])
    except (ValueError, ET.ParseError) as e:
        return [], f"the CUDA test report is not complete XML ({e}); the run was cut short"
    rows = []
    for tc in root.iter("TestCase"):
        res = tc.find("OverallResult")
        ok = res is not None and res.get("success") == "true"
        secs = float(res.get("durationInSeconds", "nan")) if res is not None else float("nan")
        warnings = [w.text.strip() for w in tc.iter("Warning") if w.text]
        skipped = [w for w in warnings if w.startswith("SKIPPED")]
        failures = []
        for ex in tc.iter("Expression"):
            if ex.get("success") == "false":
                exp = ex.find("Expanded")
                failures.append(f"{ex.get('filename', '').split('/')[-1]}:{ex.get('line')}: "
                                f"{(exp.text or '').strip() if exp is not None else ''}")
        for ex in tc.iter("Exception"):
            failures.append(f"exception: {(ex.text or '').strip()}")
        status = "FAILED" if not ok else ("skipped" if skipped else "passed")
        detail = "; ".join(failures[:3]) if failures else (skipped[0] if skipped else "")
        rows.append((tc.get("name"), status, secs, detail))
    return rows, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=pathlib.Path, nargs="*",
                    help="gpu-check output folders, oldest first (none: rebuild from benchmarks/results/gpu)")
    a = ap.parse_args()
    keep = RESULTS / "gpu"
    keep.mkdir(parents=True, exist_ok=True)
    if a.runs:
        logs = []
        for i, run in enumerate(a.runs, 1):
            for name in ("environment.txt", "cuda-tests.xml"):
                if (run / name).exists():
                    shutil.copy(run / name, keep / name)
            if (run / "benchmarks.json").exists() and load_benchmarks(run / "benchmarks.json"):
                for name in ("benchmarks.json", "benchmarks.txt"):
                    if (run / name).exists():
                        shutil.copy(run / name, keep / name)
            if (run / "crash.txt").exists():  # the backtrace, without the debugger's thread chatter
                lines = [ln for ln in (run / "crash.txt").read_text(errors="replace").splitlines()
                         if not re.search(r"Cuda Driver error|New Thread|Thread 0x.* exited", ln)]
                (keep / f"crash-run{i}.txt").write_text("\n".join(lines) + "\n")
            summary = (run / "summary.txt").read_text(errors="replace") if (run / "summary.txt").exists() else ""
            logs.append(f"### run {i}\n\n```\n{summary.strip()}\n```\n")
        (keep / "runs.md").write_text("\n".join(logs))
    env = (keep / "environment.txt").read_text() if (keep / "environment.txt").exists() else ""
    runs_log = (keep / "runs.md").read_text() if (keep / "runs.md").exists() else ""
    notes = (keep / "notes.md").read_text() if (keep / "notes.md").exists() else ""
    benches = load_benchmarks(keep / "benchmarks.json")
    tests, note = cuda_tests(keep / "cuda-tests.xml")

    md = ["# sozai on a GPU: CUDA tests and throughput", "",
          "Measured by `scripts/gpu-check.sh` on a borrowed GPU node (the raw files of its runs are in",
          "`benchmarks/results/gpu/`, this page is written from them by `benchmarks/gpu_report.py`).", ""]
    if notes:
        md += [notes.strip(), ""]
    md += ["## Device and software", "", "```", env.strip(), "```", ""]

    md += ["## CUDA tests against their CPU oracle", ""]
    if note:
        md += [note, ""]
    if tests:
        n_pass = sum(s == "passed" for _, s, _, _ in tests)
        n_fail = sum(s == "FAILED" for _, s, _, _ in tests)
        n_skip = sum(s == "skipped" for _, s, _, _ in tests)
        md += [f"{len(tests)} test cases tagged `[cuda]`: {n_pass} passed, {n_fail} failed, {n_skip} skipped.", "",
               "| test case | result | seconds | detail |", "| --- | --- | ---: | --- |"]
        md += [f"| {n} | {s} | {t:.2f} | {d.replace('|', '/')} |" for n, s, t, d in tests]
        md.append("")

    md += ["## Throughput, GPU against CPU in the same run", "",
           "CPU = the same benchmark's CPU case on the node's own cores (16); ratios are GPU/CPU or",
           "sozai/baseline measured in the same run. Rates are per second.", "",
           "| what | GPU | CPU / baseline | ratio |", "| --- | ---: | ---: | ---: |"]
    rows = []

    def add(what, g, c, unit=""):
        if g is not None or c is not None:
            rows.append(f"| {what} | {fmt(g, unit)} | {fmt(c, unit)} | {ratio(g, c)} |")

    add("EI, 2^24 candidates (sozai CUDA) vs 2^20 (sozai CPU)",
        rate(benches, "bench_acquisition", "BM_EI_sozai_cuda/16777216"),
        rate(benches, "bench_acquisition_cpu", "BM_EI_sozai/1048576"))
    add("fused LogEI + top-100: CUDA 2^26 vs CPU 2^24",
        rate(benches, "bench_screening", "topk/fused/cuda"),
        rate(benches, "bench_screening_cpu", "topk/fused/cpu"))
    add("fused LogEI + top-100 vs LibTorch acquisition + torch::topk (both CUDA)",
        rate(benches, "bench_screening", "topk/fused/cuda"),
        rate(benches, "bench_screening", "topk/torch/cuda"))
    bw = rate(benches, "bench_screening", "memory/read/cuda", "bytes_per_second")
    tk = rate(benches, "bench_screening", "topk/fused/cuda", "bytes_per_second")
    add("fused top-k bytes/s vs device copy bandwidth", tk, bw, "B")
    add("Matérn-5/2 cross-covariance rows (256 train, d 8): CUDA 2^20 vs CPU 65536",
        rate(benches, "bench_screening", "kernel_matrix/cuda"),
        rate(benches, "bench_screening_cpu", "kernel_matrix/cpu"))
    g_screen = rate(benches, "bench_screening", "screen/cuda")
    add("GP screen (posterior + LogEI + top-100), CUDA 2^24 vs CPU 2^20",
        g_screen, rate(benches, "bench_screening_cpu", "screen/cpu"))
    anchors = benches.get("bench_anchors", {})
    for dt in ("float32", "float64"):
        b = anchors.get(f"botorch_screen_{dt}", {})
        if "candidates_per_s" in b:
            add(f"GP screen: sozai CUDA float32 vs BoTorch SingleTaskGP + LogEI CUDA {dt}",
                g_screen, b["candidates_per_s"])
        elif b:
            rows.append(f"| BoTorch anchor ({dt}) | – | {b.get('error', '?')} | – |")
    for kind in ("polymer", "crystal", "composition"):
        for what in ("train_step", "inference"):
            add(f"GNN {what} {kind}, graphs",
                rate(benches, "bench_gnn", f"{what}/{kind}/cuda", "graphs/s"),
                rate(benches, "bench_gnn_cpu", f"{what}/{kind}/cpu", "graphs/s"))
    pyg = anchors.get("pyg_cgconv_crystal", {})
    if "inference_graphs_per_s" in pyg:
        add("crystal inference: sozai CUDA vs PyTorch Geometric CGConv CUDA, graphs",
            rate(benches, "bench_gnn", "inference/crystal/cuda", "graphs/s"), pyg["inference_graphs_per_s"])
        add("crystal train step: sozai CUDA vs PyTorch Geometric CGConv CUDA, graphs",
            rate(benches, "bench_gnn", "train_step/crystal/cuda", "graphs/s"), pyg["train_graphs_per_s"])
    elif pyg:
        rows.append(f"| PyTorch Geometric anchor | – | {pyg.get('error', '?')} | – |")
    for c in (64, 32):
        add(f"Matérn kernel matrix 16384 x 16384 (d 8, float{c}): sozai CUDA vs LibTorch ops CUDA",
            rate(benches, "bench_kernel_matrix", f"BM_KernelMatrix_sozai_cuda/16384/8/{c}"),
            rate(benches, "bench_kernel_matrix", f"BM_KernelMatrix_torch_ops_cuda/16384/8/{c}"))
    add("Tanimoto 16384 x 16384 x 2048 bits (sozai CUDA) vs 4096 x 4096 (CPU), pairs",
        rate(benches, "bench_kernel_matrix", "BM_Tanimoto_sozai_cuda/16384/2048"),
        rate(benches, "bench_kernel_matrix_cpu", "BM_Tanimoto_sozai/4096/2048"))
    for n in (1000, 10000):
        add(f"neighbour lists, {n} perovskite cells per batch (structures): CUDA vs CPU 1000",
            rate(benches, "bench_neighbor_list", f"BM_NL_perovskite_batch_cuda/{n}"),
            rate(benches, "bench_neighbor_list_cpu", "BM_NL_perovskite_batch/1000"))
    md += rows + [""]

    seg = benches.get("bench_segment", {})
    if seg:
        # The same reductions on the 2-core CPU machine, one thread (kernels.md).
        cpu_ms = {}
        kern = RESULTS / "kernels.md"
        if kern.exists():
            for m in re.finditer(r"^\| ([0-9.e+]+) \| (\d+) \| (\w+) vs [^|]*\| ([0-9.]+) \|", kern.read_text(), re.M):
                cpu_ms[(m.group(3), int(float(m.group(1))), m.group(2))] = float(m.group(4))
        md += ["### Segment and scatter reductions on CUDA: sozai against LibTorch", "",
               "float32, E/16 output rows, forward. Last column: sozai's CPU kernel on one thread of the 2-core",
               "CPU machine (`kernels.md`).", "",
               "| op | rows E x features | sozai CUDA | LibTorch CUDA | ratio | sozai CPU, 1 thread |",
               "| --- | --- | ---: | ---: | ---: | ---: |"]
        for name, e in seg.items():
            if not name.startswith("sozai/") or e.get("error_occurred"):
                continue
            parts = re.sub(r"/min_time:[^/]*|/min_warmup_time:[^/]*|/real_time", "", name[len("sozai/"):]).split("/")
            if len(parts) < 4 or not parts[2].isdigit():
                continue
            op, rows_e, feats = parts[0], int(parts[2]), parts[3]
            other = seg.get("torch/" + name[len("sozai/"):], {})
            t_s, t_t = e.get("real_time"), other.get("real_time")
            c = cpu_ms.get((op, rows_e, feats))
            md.append(f"| {op} | {rows_e:.0e} x {feats} | {t_s:.3g} ms | "
                      f"{f'{t_t:.3g} ms' if t_t else '–'} | {ratio(t_t, t_s)} | {f'{c:.4g} ms' if c else '–'} |")
        md.append("")

    md += ["## Every case", "", "| program | case | time | items/s | bytes/s | graphs/s | error |",
           "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for prog, cases in benches.items():
        if prog == "bench_anchors":
            continue
        for name, e in cases.items():
            if not isinstance(e, dict):
                continue
            t = f"{e['real_time']:.4g} {e.get('time_unit', '')}" if "real_time" in e else "–"
            md.append(f"| {prog} | {name} | {t} | {fmt(e.get('items_per_second'))} | "
                      f"{fmt(e.get('bytes_per_second'), 'B')} | {fmt(e.get('graphs/s'))} | "
                      f"{e.get('error_message', '') if e.get('error_occurred') else ''} |")
    if anchors:
        md += ["", "Anchors (`benchmarks/gpu_anchors.py`):", "", "```", json.dumps(anchors, indent=1), "```"]
    md += ["", "## The runs' logs", "", runs_log.strip(), ""]
    (RESULTS / "gpu.md").write_text("\n".join(md))
    print(f"wrote {RESULTS / 'gpu.md'}")


if __name__ == "__main__":
    main()
