#!/usr/bin/env bash
# The main job. For now (model core): installs what is missing, builds, and runs one
# forward/backward benchmark of the tiny and small presets plus the overfit-one-batch check.
# Later stages (data, pretraining, SFT, reward, RLHF) extend this script.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== tiny model: forward + backward =="
build/griffin bench train --preset tiny --batch 4 --seq 64 --steps 5
echo "== small model (~30M parameters): forward + backward =="
build/griffin bench train --preset small --batch 8 --seq 256 --steps 3
echo "== a tiny model of each family memorises one batch =="
build/tests/test_overfit
