#!/usr/bin/env bash
# The ONNX backend test cases of the pinned onnx version (scripts/requirements.txt), for the
# conformance runner (tests/conformance), in .cache/onnx-tests/<version>/:
#   node/                     the node cases, written by ONNX's own generators: the release archives
#                             of onnx 1.23 (wheel and source distribution alike) ship the generators
#                             (onnx/backend/test/case/node/*.py) but not their generated data
#   simple/, pytorch-*/       whole small models, from the source distribution (downloaded with pip
#                             into .cache/onnx-sdist/)
# Quick when already done: a marker file records a complete unpack.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${KILN_PYTHON:-.venv/bin/python}
VERSION=$(sed -n 's/^onnx==\([0-9.]*\).*/\1/p' scripts/requirements.txt)
[ -n "$VERSION" ] || { echo "[setup] no 'onnx==' pin in scripts/requirements.txt" >&2; exit 1; }

SDIST_DIR=.cache/onnx-sdist
DEST=.cache/onnx-tests/$VERSION
MARKER=$DEST/.complete
[ -f "$MARKER" ] && exit 0

TARBALL=$SDIST_DIR/onnx-$VERSION.tar.gz
if [ ! -f "$TARBALL" ]; then
  echo "[setup] downloading the onnx $VERSION source distribution (its backend test data)"
  mkdir -p "$SDIST_DIR"
  # --no-binary names onnx only: pip prepares the sdist's metadata, and ":all:" would make it
  # compile the build tools (cmake among them) from source too.
  "$PYTHON" -m pip download -q --disable-pip-version-check --no-binary onnx --no-deps \
    -d "$SDIST_DIR" "onnx==$VERSION"
fi

echo "[setup] unpacking onnx $VERSION backend test data into $DEST"
rm -rf "$DEST"
mkdir -p "$DEST"
DATA=onnx-$VERSION/onnx/backend/test/data
tar -xzf "$TARBALL" -C "$DEST" --strip-components=5 --wildcards \
  "$DATA/simple/*" "$DATA/pytorch-converted/*" "$DATA/pytorch-operator/*"
PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -W ignore scripts/generate_onnx_node_tests.py \
  --output "$DEST" --expect-version "$VERSION"
touch "$MARKER"
