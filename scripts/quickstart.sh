#!/usr/bin/env bash
# A newcomer's first run: install, build, then Kiln's main job on the bundled example model:
# build an engine from ONNX and save it, load it in a second process, run it and print outputs
# and timing. Uses the GPU when this build has a CUDA backend and the machine has a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
KILN=./build/bin/kiln
MODEL=examples/models/tiny_cnn.onnx
ENGINE=build/tiny_cnn.plan
echo "== kiln exec --onnx=$MODEL --saveEngine=$ENGINE"
$KILN exec --onnx="$MODEL" --saveEngine="$ENGINE" --skipInference
echo "== kiln exec --loadEngine=$ENGINE --dumpOutput"
$KILN exec --loadEngine="$ENGINE" --dumpOutput --duration=1
