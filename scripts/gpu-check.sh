#!/usr/bin/env bash
# GPU check: builds sozai against the CUDA-enabled LibTorch of this
# machine's PyTorch, runs the CUDA tests (the CPU results are their oracle),
# the GPU benchmarks with their CPU cases, the anchors (BoTorch, PyTorch
# Geometric) where the node's Python has them, and pretraining on CUDA, and
# writes logs and results into OUT (default gpu-results/). Meant for a
# borrowed GPU node with a time limit: every step after the build is bounded
# by what is left of SOZAI_GPU_CHECK_BUDGET seconds, most valuable first; no
# Python bindings, RDKit/HDF5/MPI only if present (the build turns them off
# otherwise), one build tree holding only the test files that have CUDA cases.
# Build-only dependencies the node lacks are taken from .gpu-deps/ and the
# real data from .gpu-data/ (both made here by scripts/stage-gpu-deps.sh and
# carried along). benchmarks/gpu_report.py turns OUT into
# benchmarks/results/gpu.md.
#
#   scripts/gpu-check.sh [OUT]
#   SOZAI_GPU_CHECK_BUDGET=480 SOZAI_CUDA_ARCH=90 PYTHON=python3 scripts/gpu-check.sh "$OUT"
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-results}
mkdir -p "$OUT"
# At most seven files land in OUT (a borrowed node returns only a few): the
# summary, the CUDA test report (Catch2 XML), the benchmarks as text and as one JSON
# (anchors and pretraining included), the environment, and the configure/build
# logs packed together. Intermediate files go to LOGS.
LOGS=$(mktemp -d)
PY=${PYTHON:-python3}
pack() {
  tar -C "$LOGS" -czf "$OUT/logs.tar.gz" . 2>/dev/null
  $PY - "$LOGS" "$OUT/benchmarks.json" <<'PYEOF' 2>/dev/null
import json, pathlib, sys
logs, out = pathlib.Path(sys.argv[1]), sys.argv[2]
merged = {}
for f in sorted(logs.glob("bench_*.json")):
    try:
        merged[f.stem] = json.loads(f.read_text())
    except ValueError as e:
        merged[f.stem] = {"error": str(e)}
json.dump(merged, open(out, "w"), indent=1)
PYEOF
}
trap pack EXIT
start=$(date +%s)
BUDGET=${SOZAI_GPU_CHECK_BUDGET:-480}
log() { echo "[gpu-check $(date +%T) +$(( $(date +%s) - start ))s] $*" | tee -a "$OUT/summary.txt" >&2; }
left() { echo $(( BUDGET - ($(date +%s) - start) )); }
# bounded SECONDS: min(SECONDS, what is left less a reserve for packing)
bounded() { local t; t=$(( $(left) - 10 )); [ "$t" -gt "$1" ] && t=$1; echo "$t"; }

# SOZAI_GPU_CHECK_STEPS: what runs after the tests (a rerun that only needs
# the tests says "none").
STEPS=" ${SOZAI_GPU_CHECK_STEPS:-bench anchors pretrain screen cpu} "
step() { [[ "$STEPS" == *" $1 "* ]]; }

export SOZAI_DATA_DIR=${SOZAI_DATA_DIR:-$([ -d .gpu-data ] && echo "$PWD/.gpu-data" || echo "$PWD/../shared/data")}
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
  echo "c++: $(c++ --version 2>&1 | head -n1)"
  echo "nvcc: $(nvcc --version 2>&1 | tail -n2 | tr '\n' ' ')"
  echo "cmake: $(cmake --version 2>&1 | head -n1)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  $PY -c 'import torch; print("torch:", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1
  step anchors && for m in botorch gpytorch torch_geometric; do
    $PY -c "import $m; print('$m:', $m.__version__)" 2>/dev/null || echo "$m: not importable"
  done
  echo "data: $SOZAI_DATA_DIR"
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt" >&2
nvidia-smi > "$LOGS/nvidia-smi.txt" 2>&1 || log "nvidia-smi failed"

TORCH_PREFIX=${SOZAI_TORCH_PREFIX:-$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>>"$OUT/summary.txt")} || {
  log "no PyTorch with CMake files found by $PY"; exit 1; }
PREFIX="$TORCH_PREFIX"
DEPS=()
if [ -d .gpu-deps ]; then
  PREFIX="$PREFIX;$PWD/.gpu-deps"
  # Debian's SQLite and OpenSSL, named file by file (FindOpenSSL does not look
  # under lib/x86_64-linux-gnu of a root it is given).
  L=$PWD/.gpu-deps/lib/x86_64-linux-gnu
  DEPS=(-DSQLite3_INCLUDE_DIR="$PWD/.gpu-deps/include" -DSQLite3_LIBRARY="$L/libsqlite3.so"
        -DOPENSSL_INCLUDE_DIR="$PWD/.gpu-deps/include" -DOPENSSL_CRYPTO_LIBRARY="$L/libcrypto.so"
        -DOPENSSL_SSL_LIBRARY="$L/libssl.so")
fi
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
ARCH=${SOZAI_CUDA_ARCH:-90}
# Only the test files with CUDA cases (the rest ran on the CPU machine).
FILTER=$(grep -rl '\[cuda\]' tests/cpp --include='*_test.cpp' | sed 's|^tests/cpp/||; s|\.|\\.|g' | sort | paste -sd'|')
log "configure (CUDA arch $ARCH, LibTorch from $TORCH_PREFIX)"
cmake -S . -B build-gpu $GEN -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" "${DEPS[@]}" \
  -DSOZAI_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
  -DCMAKE_CUDA_COMPILER="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}" \
  -DSOZAI_BUILD_PYTHON=OFF -DSOZAI_TEST_FILTER="$FILTER" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DCMAKE_CXX_FLAGS="${SOZAI_GPU_CHECK_CXXFLAGS:-}" \
  > "$LOGS/configure.log" 2>&1 || {
  log "configure failed (see configure.log)"; tail -n 40 "$LOGS/configure.log" | tee -a "$OUT/summary.txt"; exit 1; }
grep "sozai:" "$LOGS/configure.log" | tee -a "$OUT/summary.txt"
log "build ($(nproc) jobs)"
cmake --build build-gpu -j "$(nproc)" > "$LOGS/build.log" 2>&1 || {
  log "build failed (see build.log)"
  grep -E -B2 -A6 "error" "$LOGS/build.log" | head -n 80 | tee -a "$OUT/summary.txt"; exit 1; }
log "built"

log "CUDA tests (CPU results as the oracle)"
timeout "$(bounded 150)" ./build-gpu/tests/sozai_tests "[cuda]" -r xml -d yes > "$OUT/cuda-tests.xml" 2> "$LOGS/cuda-tests.stderr"
rc=$?
log "CUDA tests exit code $rc: $(grep -c 'OverallResult success="true"' "$OUT/cuda-tests.xml") test cases passed," \
  "$(grep -c 'OverallResult success="false"' "$OUT/cuda-tests.xml") failed, $(grep -c 'SKIPPED' "$OUT/cuda-tests.xml") skip notes"
if [ "$rc" -ge 128 ] && [ "$rc" -ne 137 ]; then
  # A crash (signal): name the test case it happened in, take a backtrace of
  # that case alone under cuda-gdb where the node has it, then run the other
  # CUDA test cases so one crash does not hide their results.
  crashed=$($PY -c 'import html, re, sys
names = re.findall(r"<TestCase name=\"([^\"]*)\"", open(sys.argv[1], errors="replace").read())
print(html.unescape(names[-1]) if names else "")' "$OUT/cuda-tests.xml")
  if [ -n "$crashed" ]; then
    spec="\"$(printf '%s' "$crashed" | sed 's/[,\\]/\\&/g')\""
    log "crashed in: $crashed"
    GDB=$(command -v cuda-gdb || command -v gdb || { [ -x /usr/local/cuda/bin/cuda-gdb ] && echo /usr/local/cuda/bin/cuda-gdb; })
    if [ -n "$GDB" ]; then
      # A jump to a null function pointer leaves nothing to unwind, but the
      # caller's return address is on top of the stack: x/8a $sp names it.
      timeout "$(bounded 120)" "$GDB" -q -batch -ex "set pagination off" -ex run -ex "bt 60" \
        -ex 'x/8a $sp' -ex 'info line **(void ***)$sp' -ex "thread apply all bt 8" \
        --args ./build-gpu/tests/sozai_tests "$spec" > "$OUT/crash.txt" 2>&1
      grep -v -E "Cuda Driver error|New Thread|Thread 0x.* exited" "$OUT/crash.txt" | grep -E "^#[0-9]+ |^0x|^Line|SIG" |
        head -n 30 | cut -c1-300 | tee -a "$OUT/summary.txt"
      log "the same case on one OpenMP thread"
      OMP_NUM_THREADS=1 timeout "$(bounded 60)" ./build-gpu/tests/sozai_tests "$spec" -r compact \
        > "$LOGS/crash-one-thread.txt" 2>&1
      log "exit code $? on one thread: $(tail -n 1 "$LOGS/crash-one-thread.txt")"
    fi
    log "the other CUDA test cases"
    timeout "$(bounded 120)" ./build-gpu/tests/sozai_tests "[cuda]~$spec" -r xml -d yes \
      > "$OUT/cuda-tests-rest.xml" 2>> "$LOGS/cuda-tests.stderr"
    log "exit code $?: $(grep -c 'OverallResult success="true"' "$OUT/cuda-tests-rest.xml") passed," \
      "$(grep -c 'OverallResult success="false"' "$OUT/cuda-tests-rest.xml") failed"
  fi
fi
if [ "$rc" -eq 77 ]; then
  # 77: every CUDA test skipped itself (no device visible to LibTorch); on a
  # GPU node that is a failure, not a pass.
  log "FAIL: CUDA tests skipped - LibTorch sees no CUDA device"
  rc=1
fi

# bench NAME FILTER SUFFIX CAP: one Google Benchmark program, bounded.
bench() {
  local exe=build-gpu/bin/$1 t
  [ -x "$exe" ] || { log "$1 not built (Google Benchmark missing?)"; return; }
  t=$(bounded "$4")
  if [ "$t" -lt 20 ]; then log "skip $1$3: budget spent"; return; fi
  log "$1$3 (up to ${t}s)"
  timeout "$t" "$exe" --benchmark_filter="$2" --benchmark_min_time=0.1 \
    --benchmark_out="$LOGS/$1$3.json" --benchmark_out_format=json > "$LOGS/$1$3.txt" 2>&1 || log "$1$3 stopped (exit $?)"
  { echo "== $1$3"; cat "$LOGS/$1$3.txt"; } >> "$OUT/benchmarks.txt"
}
# GPU cases first (every case whose name says cuda), shortest first.
step bench && for b in bench_acquisition bench_screening bench_kernel_matrix bench_neighbor_list bench_gnn bench_segment; do
  bench "$b" '[Cc][Uu][Dd][Aa]' "" 90
done

# Anchors: BoTorch's GP posterior + LogEI and PyTorch Geometric's CGConv on
# the same device and shapes as bench_screening and bench_gnn.
t=$(bounded 90)
if step anchors && [ "$t" -ge 20 ]; then
  log "anchors (BoTorch, PyTorch Geometric; up to ${t}s)"
  PYTHONUNBUFFERED=1 timeout "$t" $PY benchmarks/gpu_anchors.py --out "$LOGS/bench_anchors.json" \
    > "$LOGS/anchors.txt" 2>&1 || log "anchors stopped (exit $?)"
  { echo "== anchors"; cat "$LOGS/anchors.txt"; } >> "$OUT/benchmarks.txt"
fi

# Pretraining on the GPU: rows per second of `sozai pretrain --device cuda`
# on 20,000 rows of each task (one epoch), against the CPU's ~2,500 rows/s.
t=$(bounded 90)
if step pretrain && [ -d "$SOZAI_DATA_DIR/ceramics" ] && [ "$t" -ge 20 ]; then
  log "pretraining throughput on cuda (1 epoch, 2 x 20000 rows, up to ${t}s)"
  timeout "$t" ./build-gpu/bin/sozai pretrain \
    --dataset mp_e_form,mp_gap --limit 20000 --epochs 1 --batch-size 1024 --device cuda \
    --out "$LOGS/pretrain-cuda.pt" > "$LOGS/pretrain-cuda.txt" 2>&1 || log "pretrain on cuda stopped (exit $?)"
  tr '\r' '\n' < "$LOGS/pretrain-cuda.txt" | grep -E "rows/s|validation MAE" | tail -n 2 | tee -a "$OUT/summary.txt"
fi

# Screening on the GPU: `sozai screen --device cuda` over the 1 % grid of a
# 6-element simplex (96,560,646 compositions) with the GP + LogEI of
# benchmarks/screening_fixture (200 told points); goal 1e8 candidates/s.
t=$(bounded 90)
if step screen && [ "$t" -ge 20 ]; then
  log "screening on cuda (96.5 M compositions, up to ${t}s)"
  timeout "$t" ./build-gpu/bin/sozai screen --space benchmarks/screening_fixture/space_001.json \
    --campaign benchmarks/screening_fixture/state.json --device cuda --score logei --top 1000 \
    --chunk 4194304 --checkpoint none --out "$LOGS/screen-cuda.csv" > "$LOGS/screen-cuda.txt" 2>&1 ||
    log "screen on cuda stopped (exit $?)"
  tr '\r' '\n' < "$LOGS/screen-cuda.txt" | grep -E "done:|error" | tail -n 2 | tee -a "$OUT/summary.txt"
fi

# The same benchmarks' CPU cases on this node's cores, while budget is left.
step cpu || { log "done in $(( $(date +%s) - start )) s"; exit $rc; }
bench bench_screening '-[Cc][Uu][Dd][Aa]' _cpu 60
bench bench_gnn '-[Cc][Uu][Dd][Aa]' _cpu 60
bench bench_kernel_matrix 'BM_KernelMatrix_sozai/|BM_Tanimoto_sozai/4096/2048' _cpu 40
bench bench_neighbor_list 'perovskite_batch/' _cpu 30
bench bench_acquisition 'BM_EI_sozai/' _cpu 20
log "done in $(( $(date +%s) - start )) s"
exit $rc
