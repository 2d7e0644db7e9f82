#!/usr/bin/env bash
# Installs what is missing, builds into build/, runs every ctest suite.
# Extra arguments go to ctest (e.g. scripts/test.sh -L kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "${BUILD_DIR:-build}"
ctest --output-on-failure "$@"
