#!/usr/bin/env python3
"""What the builder makes of real exports, read from the engine's layer report (`kiln inspect
--layerInfo`) and the build log:

  - layer counts before (ONNX nodes) and after (engine layers) for each model;
  - ResNet-50 becomes at most 60 layers;
  - in BERT-base every LayerNorm, GELU and attention block is one layer: each ONNX node of such a
    block lands in one layer that holds exactly one block (a GELU may sit in a GEMM's epilogue);
  - ResNet-50 at batch 32: planned activation memory within 1.2x of the lower bound (the largest sum
    of simultaneously live tensors) and far below the sum of all tensors.

    check_builder_report.py --kiln PATH --models DIR [--workdir DIR]
"""

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import onnx

RESNET_MAX_LAYERS = 60
MEMORY_SLACK = 1.2
BERT_PROFILE = ["--minShapes=input_ids:1x16,attention_mask:1x16", "--optShapes=input_ids:2x128,attention_mask:2x128",
                "--maxShapes=input_ids:4x128,attention_mask:4x128"]
MEMORY_LINE = re.compile(r"profile 0: activation memory (\d+) bytes \(arena (\d+), lower bound (\d+), "
                         r"unshared sum (\d+), workspace (\d+)\)")


def build(kiln, model, engine, extra):
    result = subprocess.run([str(kiln), "exec", f"--onnx={model}", f"--saveEngine={engine}", "--skipInference"] + extra,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"building {model.name} failed:\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def layer_report(kiln, engine):
    result = subprocess.run([str(kiln), "inspect", "--layerInfo", str(engine)], capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"kiln inspect failed: {result.stderr.strip()}")
    return json.loads(result.stdout[result.stdout.index("\n{") + 1:])["Layers"]


def layer_of_each_node(layers):
    """ONNX node name -> index of the engine layer it ended up in."""
    where = {}
    for index, layer in enumerate(layers):
        for origin in layer.get("Origin", []):
            where[origin] = index
    return where


def check_blocks(model, layers, block_op, expected_layer_types, per_layer):
    """Every ONNX node of type `block_op` sits in a layer of one of `expected_layer_types` holding
    exactly `per_layer` of them. Returns (number of such layers, failures)."""
    where = layer_of_each_node(layers)
    nodes = [n.name for n in model.graph.node if n.op_type == block_op]
    failures = []
    per_layer_count = collections.Counter()
    for name in nodes:
        if name not in where:
            failures.append(f"{block_op} node '{name}' is in no layer's Origin")
            continue
        per_layer_count[where[name]] += 1
    for index, count in per_layer_count.items():
        layer = layers[index]
        if layer["LayerType"] not in expected_layer_types:
            failures.append(f"{block_op} nodes landed in layer '{layer['Name']}' of type {layer['LayerType']}, "
                            f"expected {expected_layer_types}")
        if count != per_layer:
            failures.append(f"layer '{layer['Name']}' holds {count} {block_op} nodes, expected {per_layer}")
    return len(per_layer_count), failures


def batch_copy(model_path, batch, out_path):
    """A copy of a static batch-1 model with batch `batch` on its inputs and outputs."""
    model = onnx.load(str(model_path))
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch
    onnx.save(model, str(out_path))
    return out_path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True, help="folder of the exported models")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kiln_builder_report_")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    failures = []

    cases = [("resnet50", []), ("mobilenet_v2", ["--minShapes=input:1x3x224x224", "--optShapes=input:2x3x224x224",
                                                   "--maxShapes=input:4x3x224x224"]),
             ("bert_base_opset14", BERT_PROFILE), ("bert_base_opset17", BERT_PROFILE)]
    for name, extra in cases:
        path = args.models / f"{name}.onnx"
        model = onnx.load(str(path), load_external_data=False)
        engine = work / f"{name}.plan"
        build(args.kiln, path, engine, extra)
        layers = layer_report(args.kiln, engine)
        types = collections.Counter(layer["LayerType"] for layer in layers)
        print(f"[layers] {name}: {len(model.graph.node)} ONNX nodes -> {len(layers)} engine layers; "
              f"{dict(types.most_common())}")
        if name == "resnet50" and len(layers) > RESNET_MAX_LAYERS:
            failures.append(f"resnet50 has {len(layers)} layers, at most {RESNET_MAX_LAYERS} expected")
        if name.startswith("bert"):
            blocks = [("Softmax", ("Attention",), 1, "attention"), ("Erf", ("Gelu", "FusedMatMul"), 1, "GELU")]
            if name.endswith("opset14"):
                blocks.append(("ReduceMean", ("LayerNormalization",), 2, "LayerNorm"))
            else:
                blocks.append(("LayerNormalization", ("LayerNormalization",), 1, "LayerNorm"))
            for op, layer_types, per_layer, what in blocks:
                count, problems = check_blocks(model, layers, op, layer_types, per_layer)
                print(f"  {what}: {count} blocks, one layer each" if not problems else f"  {what}: FAIL")
                failures += [f"{name}: {p}" for p in problems]

    # ResNet-50's activation memory at batch 32.
    resnet32 = batch_copy(args.models / "resnet50.onnx", 32, work / "resnet50_b32.onnx")
    log = build(args.kiln, resnet32, work / "resnet50_b32.plan", [])
    match = MEMORY_LINE.search(log)
    if not match:
        failures.append("the build log of resnet50 at batch 32 has no activation memory line")
    else:
        total, arena, bound, unshared, workspace = (int(g) for g in match.groups())
        mib = 1 << 20
        print(f"[memory] resnet50 batch 32: planned arena {arena / mib:.1f} MiB, lower bound {bound / mib:.1f} MiB "
              f"(ratio {arena / bound:.3f}), sum of all tensors {unshared / mib:.1f} MiB, "
              f"kernel workspace {workspace / mib:.1f} MiB, total {total / mib:.1f} MiB")
        if arena > MEMORY_SLACK * bound:
            failures.append(f"planned arena {arena} > {MEMORY_SLACK} x lower bound {bound}")
        if arena * 4 > unshared:
            failures.append(f"planned arena {arena} is not far below the sum of all tensors {unshared}")

    for failure in failures:
        print(f"[FAIL] {failure}")
    print("[PASS] builder report" if not failures else f"[FAIL] {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
