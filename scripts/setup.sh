#!/usr/bin/env bash
# Installs every Debian package sozai needs, skipping those already present.
# Called by `make demo` and `make test`; safe to run again.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp libopenblas-dev
  librdkit-dev libboost-dev
  libhdf5-dev
  pybind11-dev catch2 libsqlite3-dev libssl-dev openssl nlohmann-json3-dev
  libopenmpi-dev openmpi-bin libbenchmark-dev
  python3-dev python3-torch python3-rdkit python3-numpy python3-pandas python3-h5py
  python3-matplotlib python3-pytest python3-sklearn python3-optuna
  python3-pymatgen python3-ase python3-nbclient python3-ipykernel
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "sozai setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
