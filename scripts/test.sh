#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test with CTest.
# GPU tests (label "gpu") run too and report themselves as skipped when there is no GPU.
# Extra arguments go to ctest (e.g. -L unit, -R Conv).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
ctest --test-dir "${KILN_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"
