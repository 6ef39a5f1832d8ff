#!/bin/sh
# Recipe of the shipped composition-mp model (pretrained/README.md). Runs for
# hours on 2 cores; rerun the same command to resume from the checkpoint.
# Usage: scripts/pretrain-composition.sh [BUILD_DIR] [extra sozai pretrain flags, e.g. --max-hours 2]
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
[ $# -gt 0 ] && shift
: "${SOZAI_DATA_DIR:=../shared/data}"
export SOZAI_DATA_DIR
exec "$BUILD/bin/sozai" pretrain --dataset mp_e_form,mp_gap --kind composition \
  --epochs 60 --threads 1 --seed 0 --checkpoint "${CHECKPOINT:-composition-mp.ckpt}" \
  --out pretrained/composition-mp.pt "$@"
