#!/usr/bin/env python3
"""`kiln compare` end to end, on small models made here with onnx.helper:

- the bundled tiny CNN: every layer output listed in the model's order, all matching, exit 0; the JSON
  report has one entry per tensor; --compareTensors=outputs compares the model's output only;
- a model whose middle layer draws unseeded random numbers (RandomUniformLike), so the two engines
  must part exactly there: exit 1, the [E] line names that layer, the layer before it matches;
- usage errors: no --onnx, --loadEngine (exit 2).
With --gpu, instead: the tiny CNN's CUDA engines (FP32 without TF32, and FP16 at a 1e-2 tolerance)
against the CPU reference, every tensor matching; without a GPU it says why and exits with 77 (CTest's
"skipped").

    compare_test.py --kiln PATH --model examples/models/tiny_cnn.onnx [--gpu]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import onnx
from onnx import TensorProto, helper

SKIP = 77
NO_GPU = re.compile(r"no CUDA device|no usable CUDA device|built without CUDA|backend 'cuda' (is not available|could not start)")
failures = []


def check(condition, what):
    print(f"[{'PASS' if condition else 'FAIL'}] {what}")
    if not condition:
        failures.append(what)


def run(kiln, args):
    result = subprocess.run([kiln, "compare"] + args, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def listed(output):
    """The per-tensor lines: (status, tensor name)."""
    rows = []
    for line in output.splitlines():
        for status in ("ok", "DIFF"):
            marker = f"[I]   {status}"
            if line.startswith(marker):
                rows.append((status, line[len(marker):].strip().split("'")[1]))
    return rows


def random_model(path):
    nodes = [helper.make_node("Relu", ["x"], ["relu_out"], name="relu"),
             helper.make_node("RandomUniformLike", ["relu_out"], ["noise"], name="noise"),
             helper.make_node("Add", ["relu_out", "noise"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "random_middle", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def gpu_checks(kiln, model):
    shapes = "--shapes=input:2x3x32x32"
    code, out = run(kiln, [f"--onnx={model}", shapes, "--backend=cuda", "--noTF32"])
    if code != 0 and NO_GPU.search(out):
        print(f"skipped: no GPU to run CUDA engines on: {[l for l in out.splitlines() if l.startswith('[E]')]}")
        return SKIP
    check(code == 0 and all(status == "ok" for status, _ in listed(out)) and len(listed(out)) == 9,
          f"CUDA FP32 (no TF32) against the CPU reference: all 9 tensors match (exit {code}, {listed(out)})")
    code, out = run(kiln, [f"--onnx={model}", shapes, "--backend=cuda", "--fp16", "--rtol=1e-2", "--atol=1e-2"])
    check(code == 0 and len(listed(out)) == 9, f"CUDA FP16 at 1e-2: all 9 tensors match (exit {code}, {listed(out)})")
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} check(s) failed")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", required=True)
    parser.add_argument("--model", required=True, help="the bundled tiny CNN")
    parser.add_argument("--gpu", action="store_true", help="compare CUDA engines (exit 77 without a GPU)")
    args = parser.parse_args()
    if args.gpu:
        return gpu_checks(args.kiln, args.model)
    with tempfile.TemporaryDirectory(prefix="kiln_compare_") as tmp:
        tmp = Path(tmp)
        report = tmp / "report.json"
        code, out = run(args.kiln, [f"--onnx={args.model}", "--shapes=input:2x3x32x32", f"--exportComparison={report}"])
        rows = listed(out)
        graph_outputs = [n.output[0] for n in onnx.load(args.model).graph.node]
        check(code == 0, f"tiny CNN: exit 0 (got {code})")
        check([name for _, name in rows] == graph_outputs, f"tiny CNN: every layer output in the model's order {rows}")
        check(all(status == "ok" for status, _ in rows), "tiny CNN: every tensor matches")
        entries = json.loads(report.read_text())["tensors"] if report.exists() else []
        check([e["name"] for e in entries] == graph_outputs and all(e["matches"] for e in entries),
              "tiny CNN: the JSON report lists the same tensors, all matching")

        code, out = run(args.kiln, [f"--onnx={args.model}", "--shapes=input:2x3x32x32", "--compareTensors=outputs"])
        check(code == 0 and [name for _, name in listed(out)] == ["probabilities"],
              f"--compareTensors=outputs: the model's output only ({listed(out)})")

        random_path = tmp / "random_middle.onnx"
        random_model(random_path)
        code, out = run(args.kiln, [f"--onnx={random_path}"])
        errors = [line for line in out.splitlines() if line.startswith("[E] ")]
        check(code == 1, f"random middle layer: exit 1 (got {code})")
        check(listed(out)[:2] == [("ok", "relu_out"), ("DIFF", "noise")],
              f"random middle layer: the layer before matches, the random one differs ({listed(out)})")
        check(len(errors) == 1 and "first at 'noise' from layer 'noise' (RandomUniformLike)" in errors[0],
              f"random middle layer: one [E] line naming it ({errors})")

        code, out = run(args.kiln, ["--shapes=input:2x3x32x32"])
        check(code == 2 and "--onnx" in out, f"no --onnx: usage error naming --onnx (exit {code})")
        code, out = run(args.kiln, [f"--onnx={args.model}", f"--loadEngine={tmp / 'x.plan'}"])
        check(code == 2, f"--loadEngine: usage error (exit {code})")
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
