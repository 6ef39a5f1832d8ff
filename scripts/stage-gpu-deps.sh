#!/usr/bin/env bash
# Stages the build-only dependencies that a bare GPU node lacks (its image
# has CUDA, PyTorch and CMake but no Debian -dev packages) into .gpu-deps/,
# keeping /usr's layout so the packages' CMake configs relocate: the
# header-only nlohmann-json and Catch2, Google Benchmark, and SQLite and
# OpenSSL (headers and libraries; OpenSSL's two Debian include folders merged
# into one). gpu-check.sh puts .gpu-deps on CMAKE_PREFIX_PATH and names the
# SQLite/OpenSSL files explicitly; the binaries find the libraries through
# their build RPATH. Also copies the real data the GPU tests and the
# pretraining throughput read (../shared/data, ~13 MB) into .gpu-data/, which
# git ignores and nothing commits: the node has no ../shared. Carry both
# folders to the node with the working tree.
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
copy include/catch2 lib/cmake/Catch2 lib/libCatch2WithMain.a
copy include/benchmark lib/x86_64-linux-gnu/cmake/benchmark 'lib/x86_64-linux-gnu/libbenchmark.so*' \
  lib/x86_64-linux-gnu/libbenchmark_main.a
copy include/sqlite3.h include/sqlite3ext.h 'lib/x86_64-linux-gnu/libsqlite3.so*'
copy include/openssl 'lib/x86_64-linux-gnu/libssl.so*' 'lib/x86_64-linux-gnu/libcrypto.so*'
cp -a /usr/include/x86_64-linux-gnu/openssl/. "$DEST/include/openssl/"
du -sh "$DEST"

DATA=${SOZAI_DATA_DIR:-../shared/data}
if [ -d "$DATA/ceramics" ]; then
  rm -rf .gpu-data
  mkdir -p .gpu-data
  cp -a "$DATA/." .gpu-data/
  du -sh .gpu-data
else
  echo "stage-gpu-deps: no data at $DATA (set SOZAI_DATA_DIR); the GPU tests that need it will skip" >&2
fi
mkdir -p .git/info
for d in /.gpu-deps/ /.gpu-data/; do
  grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude
done
