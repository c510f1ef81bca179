#!/usr/bin/env bash
# Installs everything Kiln's build and tests need on a fresh Debian 12 machine (root or sudo).
# Debian packages come from apt-get; Python packages are pinned and live in .venv, which sees
# Debian's python3-torch (used only to export test models on a CPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  ccache                                   # cheap rebuilds in fresh build folders
  libprotobuf-dev protobuf-compiler        # ONNX protobuf, compiled from the official schema
  libopenblas-dev                          # CPU GEMM / convolution
  nlohmann-json3-dev                       # JSON reports and engine metadata
  libcli11-dev                             # command-line parsing
  pybind11-dev python3-dev libdlpack-dev   # the Python module (DLPack: zero-copy tensors from torch, CuPy)
  libjpeg62-turbo-dev libpng-dev libtiff-dev libwebp-dev libopenjp2-7-dev libstb-dev  # ImageDecoder's codecs
  libgtest-dev libgmock-dev                # unit tests
  python3 python3-venv                     # test tooling
  python3-torch python3-torchvision        # exporting real models on a CPU machine
  libonnx-testdata                         # ONNX 1.12's node cases (tests/conformance)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python: Debian's interpreter, so Debian's torch is importable; pinned wheels on top.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r scripts/requirements-headers.txt
# The pinned onnx's backend test cases for tests/conformance (quick when already there).
./scripts/fetch_onnx_node_tests.sh
echo "[setup] done"
