#!/usr/bin/env bash
# GPU check: builds sozai against the CUDA-enabled LibTorch of this
# machine's PyTorch, runs the CUDA tests (the CPU results are their oracle)
# and the GPU kernel benchmarks, and writes logs and results into OUT
# (default gpu-results/). Meant for a borrowed GPU node with a time limit
# (it must finish in under 8 minutes): no Python bindings, RDKit/HDF5 only
# if present (the build turns them off otherwise), no MPI, one build tree.
# Build-only dependencies the node lacks are taken from .gpu-deps/ (made
# here by scripts/stage-gpu-deps.sh and carried along).
#
#   scripts/gpu-check.sh [OUT]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-results}
mkdir -p "$OUT"
# At most six files land in OUT (a borrowed node returns only a few): the
# summary, the two test reports, the benchmarks as text and as one JSON, and
# the configure/build logs packed together. Intermediate files go to LOGS.
LOGS=$(mktemp -d)
pack() {
  tar -C "$LOGS" -czf "$OUT/logs.tar.gz" . 2>/dev/null
  ${PYTHON:-python3} - "$LOGS" "$OUT/benchmarks.json" <<'PYEOF' 2>/dev/null
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
BUDGET=${SOZAI_GPU_CHECK_BUDGET:-450}  # seconds; leaves margin under 8 minutes
log() { echo "[gpu-check $(date +%T) +$(( $(date +%s) - start ))s] $*" | tee -a "$OUT/summary.txt" >&2; }
left() { echo $(( BUDGET - ($(date +%s) - start) )); }

PY=${PYTHON:-python3}
TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>>"$OUT/summary.txt") || {
  log "no PyTorch with CMake files found by $PY"; exit 1; }
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' \
  | tee -a "$OUT/summary.txt"
nvidia-smi > "$LOGS/nvidia-smi.txt" 2>&1 || log "nvidia-smi failed"

PREFIX="$TORCH_PREFIX"
[ -d .gpu-deps ] && PREFIX="$PREFIX;$PWD/.gpu-deps"
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
ARCH=${SOZAI_CUDA_ARCH:-90}
log "configure (CUDA arch $ARCH, LibTorch from $TORCH_PREFIX)"
cmake -S . -B build-gpu $GEN -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DSOZAI_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
  -DCMAKE_CUDA_COMPILER="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}" \
  -DSOZAI_BUILD_PYTHON=OFF -DSOZAI_WITH_MPI=OFF > "$LOGS/configure.log" 2>&1 || {
  log "configure failed (see configure.log)"; tail -n 30 "$LOGS/configure.log"; exit 1; }
grep "sozai:" "$LOGS/configure.log" | tee -a "$OUT/summary.txt"
log "build"
cmake --build build-gpu -j "$(nproc)" > "$LOGS/build.log" 2>&1 || {
  log "build failed (see build.log)"; grep -m 20 -E "error|Error" "$LOGS/build.log"; exit 1; }

log "CUDA tests (CPU results as the oracle)"
timeout 120 ./build-gpu/tests/sozai_tests "[cuda]" -s -r compact > "$OUT/cuda-tests.txt" 2>&1
rc=$?
tail -n 3 "$OUT/cuda-tests.txt" | tee -a "$OUT/summary.txt"
log "CUDA tests exit code $rc"
if [ "$rc" -eq 77 ]; then
  # 77: every CUDA test skipped itself (no device visible to LibTorch); on a
  # GPU node that is a failure, not a pass.
  log "FAIL: CUDA tests skipped - LibTorch sees no CUDA device"
  rc=1
fi
log "kernel tests (CPU and CUDA)"
SOZAI_DATA_DIR=${SOZAI_DATA_DIR:-$PWD/../shared/data} timeout 120 ./build-gpu/tests/sozai_tests "[kernels]" \
  > "$OUT/kernel-tests.txt" 2>&1
tail -n 2 "$OUT/kernel-tests.txt" | tee -a "$OUT/summary.txt"

# Pretraining on the GPU: rows per second of `sozai pretrain --device cuda`
# on 20,000 rows of each task (one epoch), against the CPU's ~2,500 rows/s.
if [ -d "${SOZAI_DATA_DIR:-$PWD/../shared/data}/ceramics" ]; then
  log "pretraining throughput on cuda (1 epoch, 2 x 20000 rows)"
  SOZAI_DATA_DIR=${SOZAI_DATA_DIR:-$PWD/../shared/data} timeout 120 ./build-gpu/bin/sozai pretrain \
    --dataset mp_e_form,mp_gap --limit 20000 --epochs 1 --batch-size 1024 --device cuda \
    --out "$LOGS/pretrain-cuda.pt" > "$LOGS/pretrain-cuda.txt" 2>&1 || log "pretrain on cuda stopped (exit $?)"
  tr '\r' '\n' < "$LOGS/pretrain-cuda.txt" | grep -E "rows/s|validation MAE" | tail -n 2 | tee -a "$OUT/summary.txt"
fi

# GPU benchmarks: every case whose name says cuda, shortest first, each
# bounded so that the whole check stays inside the budget.
for b in bench_acquisition bench_screening bench_segment bench_kernel_matrix bench_neighbor_list bench_gnn; do
  exe=build-gpu/bin/$b
  [ -x "$exe" ] || { log "$b not built (Google Benchmark missing?)"; continue; }
  t=$(left)
  if [ "$t" -lt 30 ]; then log "skip $b: budget spent"; continue; fi
  [ "$t" -gt 120 ] && t=120
  log "$b (cuda cases, up to ${t}s)"
  timeout "$t" "$exe" --benchmark_filter='[Cc][Uu][Dd][Aa]' --benchmark_min_time=0.1 \
    --benchmark_out="$LOGS/$b.json" --benchmark_out_format=json > "$LOGS/$b.txt" 2>&1 || log "$b stopped (exit $?)"
  { echo "== $b"; cat "$LOGS/$b.txt"; } >> "$OUT/benchmarks.txt"
done
log "done in $(( $(date +%s) - start )) s"
exit $rc
