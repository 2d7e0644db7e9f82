#!/usr/bin/env bash
# Installs the Debian packages griffin.c needs (only the missing ones), then configures and
# builds into build/ (or $BUILD_DIR). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git
      libopenblas-openmp-dev libhdf5-dev hdf5-tools libopenmpi-dev openmpi-bin zlib1g-dev
      libinih-dev libjansson-dev sentencepiece libsentencepiece-dev libomp-dev
      python3 python3-torch python3-numpy python3-matplotlib
      man-db groff-base perl   # man-db, groff-base, perl (pod2text): scripts/prepare_data.sh
      time                     # GNU time: peak memory in scripts/lora_2b.sh
      clang libclang-rt-dev)   # the sanitizer + libFuzzer build of .ci/run (build-asan/)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
