#!/usr/bin/env bash
# GPU check: builds sozai against the CUDA-enabled LibTorch of this
# machine's PyTorch, runs the CUDA tests (CPU results are their oracle) and
# the GPU benchmarks, and writes logs and results into OUT (default
# gpu-results/). Meant for a borrowed GPU node with a time limit: no
# Python bindings, RDKit/HDF5/MPI only if present, one build directory.
#
#   scripts/gpu-check.sh [OUT]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-results}
mkdir -p "$OUT"
log() { echo "[gpu-check $(date +%T)] $*" | tee -a "$OUT/summary.txt" >&2; }
start=$(date +%s)

PY=${PYTHON:-python3}
TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>>"$OUT/summary.txt") || {
  log "no PyTorch with CMake files found by $PY"; exit 1; }
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' \
  | tee -a "$OUT/summary.txt"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || log "nvidia-smi failed"

GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
ARCH=${SOZAI_CUDA_ARCH:-90}
log "configure (CUDA arch $ARCH, LibTorch from $TORCH_PREFIX)"
cmake -S . -B build-gpu $GEN -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
  -DSOZAI_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DCMAKE_CUDA_COMPILER="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}" \
  -DSOZAI_BUILD_PYTHON=OFF -DSOZAI_WITH_MPI=OFF > "$OUT/configure.log" 2>&1 || { log "configure failed (see configure.log)"; exit 1; }
log "build"
cmake --build build-gpu -j "$(nproc)" > "$OUT/build.log" 2>&1 || { log "build failed (see build.log)"; exit 1; }

log "CUDA tests"
./build-gpu/tests/sozai_tests "[cuda]" -s -r console > "$OUT/cuda-tests.txt" 2>&1
rc=$?
tail -n 3 "$OUT/cuda-tests.txt" | tee -a "$OUT/summary.txt"
log "CUDA tests exit code $rc"
log "all C++ tests"
SOZAI_DATA_DIR=${SOZAI_DATA_DIR:-$PWD/../shared/data} ./build-gpu/tests/sozai_tests > "$OUT/all-tests.txt" 2>&1
tail -n 3 "$OUT/all-tests.txt" | tee -a "$OUT/summary.txt"

if [ -x build-gpu/bin/bench_acquisition ]; then
  log "acquisition benchmark (CPU kernel, torch-ops baseline, CUDA kernel)"
  ./build-gpu/bin/bench_acquisition --benchmark_min_time=0.2 --benchmark_out="$OUT/bench_acquisition.json" \
    --benchmark_out_format=json > "$OUT/bench_acquisition.txt" 2>&1 || log "benchmark failed"
fi
log "done in $(( $(date +%s) - start )) s"
exit $rc
