#!/usr/bin/env bash
# Stages the build-only dependencies that a bare GPU node lacks (its image
# has CUDA, PyTorch and CMake but no Debian -dev packages) into .gpu-deps/,
# keeping /usr's layout so the packages' CMake configs relocate: the
# header-only nlohmann-json and Catch2, and Google Benchmark. gpu-check.sh
# puts .gpu-deps on CMAKE_PREFIX_PATH; carry the folder to the node with the
# working tree.
#
#   scripts/stage-gpu-deps.sh            (run here, where setup.sh installed them)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.gpu-deps
rm -rf "$DEST"
mkdir -p "$DEST"
copy() {  # copy /usr/<rel> to $DEST/<rel> if present
  for rel in "$@"; do
    if compgen -G "/usr/$rel" > /dev/null; then
      (cd /usr && cp -a --parents $rel "$OLDPWD/$DEST/")
    else
      echo "stage-gpu-deps: /usr/$rel not found (run scripts/setup.sh first)" >&2
      exit 1
    fi
  done
}
copy include/nlohmann share/cmake/nlohmann_json
copy include/catch2 lib/cmake/Catch2
copy include/benchmark lib/x86_64-linux-gnu/cmake/benchmark 'lib/x86_64-linux-gnu/libbenchmark.so*' \
  lib/x86_64-linux-gnu/libbenchmark_main.a
grep -qx '/.gpu-deps/' .git/info/exclude 2>/dev/null || echo '/.gpu-deps/' >> .git/info/exclude
du -sh "$DEST"
