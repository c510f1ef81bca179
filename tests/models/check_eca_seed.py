#!/usr/bin/env python3
"""The ECA block of seed 001 (a Korean blog post on TensorRT 7): Conv -> GlobalAveragePool -> Squeeze ->
Transpose -> Conv1d -> Transpose -> Unsqueeze -> Sigmoid, then Expand(Sigmoid, Shape(conv)) -> Mul -> Conv.
TensorRT lost the static dimensions at Expand(..., Shape(...)) and reported an output of (-1, 5, 5, 5).
Kiln must fold that shape computation: output (1, 5, 5, 5), no -1 anywhere in the layer report, values
equal to ONNX Runtime's. The seed's second form (4-D Transpose/Conv, no Squeeze/Expand) must give the
same. With a dynamic batch the Shape -> Expand stays a host-side shape computation and must still be
right at every batch of the profile.

    check_eca_seed.py --kiln PATH [--workdir DIR]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
EXPECTED_OUTPUT = [1, 5, 5, 5]


def conv(name, x, w, kernel, pads):
    return helper.make_node("Conv", [x, w], [name], name=f"conv_{name}", kernel_shape=kernel, pads=pads,
                            strides=[1] * len(kernel), dilations=[1] * len(kernel))


def eca_model(form, opset, batch):
    """form 'squeeze_expand' is the seed's first graph, 'transpose4d' its second."""
    rng = np.random.default_rng(1)
    eca_w = (rng.standard_normal((1, 1, 3) if form == "squeeze_expand" else (1, 1, 3, 1)) * 0.5).astype(np.float32)
    m1_w = (rng.standard_normal((5, 3, 3, 3)) * 0.3).astype(np.float32)
    m2_w = (rng.standard_normal((5, 5, 3, 3)) * 0.3).astype(np.float32)
    inits = [numpy_helper.from_array(eca_w, "eca.conv.weight"), numpy_helper.from_array(m1_w, "m1.weight"),
             numpy_helper.from_array(m2_w, "m2.weight")]
    nodes = [conv("4", "input.1", "m1.weight", [3, 3], [1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["4"], ["5"], name="gap")]
    if form == "squeeze_expand":
        if opset >= 13:  # axes became an input in opset 13
            inits.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes_last"))
            nodes.append(helper.make_node("Squeeze", ["5", "axes_last"], ["6"], name="squeeze"))
        else:
            nodes.append(helper.make_node("Squeeze", ["5"], ["6"], name="squeeze", axes=[-1]))
        nodes += [helper.make_node("Transpose", ["6"], ["7"], name="transpose_in", perm=[0, 2, 1]),
                  conv("8", "7", "eca.conv.weight", [3], [1, 1]),
                  helper.make_node("Transpose", ["8"], ["9"], name="transpose_out", perm=[0, 2, 1])]
        if opset >= 13:
            nodes.append(helper.make_node("Unsqueeze", ["9", "axes_last"], ["10"], name="unsqueeze"))
        else:
            nodes.append(helper.make_node("Unsqueeze", ["9"], ["10"], name="unsqueeze", axes=[-1]))
        nodes += [helper.make_node("Sigmoid", ["10"], ["11"], name="sigmoid"),
                  helper.make_node("Shape", ["4"], ["12"], name="shape"),
                  helper.make_node("Expand", ["11", "12"], ["13"], name="expand"),
                  helper.make_node("Mul", ["4", "13"], ["14"], name="mul")]
    else:
        nodes += [helper.make_node("Transpose", ["5"], ["6"], name="transpose_in", perm=[0, 2, 1, 3]),
                  conv("7", "6", "eca.conv.weight", [3, 1], [1, 0, 1, 0]),
                  helper.make_node("Transpose", ["7"], ["8"], name="transpose_out", perm=[0, 2, 1, 3]),
                  helper.make_node("Sigmoid", ["8"], ["9"], name="sigmoid"),
                  helper.make_node("Mul", ["4", "9"], ["14"], name="mul")]
    nodes.append(conv("15", "14", "m2.weight", [3, 3], [1, 1, 1, 1]))
    # The output's dims are named, not given: Kiln must work them out, as TensorRT had to.
    graph = helper.make_graph(nodes, f"eca_{form}", [helper.make_tensor_value_info("input.1", TensorProto.FLOAT,
                                                                                   [batch, 3, 5, 5])],
                              [helper.make_tensor_value_info("15", TensorProto.FLOAT, ["d0", "d1", "d2", "d3"])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def layer_report(kiln, engine):
    """The engine's layer JSON, as `kiln inspect --layerInfo` prints it after its summary lines."""
    result = subprocess.run([str(kiln), "inspect", "--layerInfo", str(engine)], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kiln inspect failed: {result.stderr.strip()}")
    start = result.stdout.index("\n{") + 1
    return json.loads(result.stdout[start:])


def check_static_report(kiln, model_path, workdir):
    """Builds the static model and checks its layer report; returns failure messages."""
    engine = workdir / (model_path.stem + ".plan")
    build = subprocess.run([str(kiln), "exec", f"--onnx={model_path}", f"--saveEngine={engine}", "--skipInference"],
                           capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        return [f"build failed: {build.stderr.strip()}"]
    report = layer_report(kiln, engine)
    failures = []
    for layer in report["Layers"]:
        for tensor in layer["Inputs"] + layer["Outputs"]:
            if -1 in tensor["Dimensions"]:
                failures.append(f"layer '{layer['Name']}' ({layer['LayerType']}): tensor '{tensor['Name']}' has "
                                f"dimensions {tensor['Dimensions']}")
    producers = [t for layer in report["Layers"] for t in layer["Outputs"] if t["Name"] == "15"]
    if len(producers) != 1:
        failures.append(f"the output '15' is produced by {len(producers)} layers")
    elif producers[0]["Dimensions"] != EXPECTED_OUTPUT:
        failures.append(f"output '15' has dimensions {producers[0]['Dimensions']}, expected {EXPECTED_OUTPUT}")
    types = [layer["LayerType"] for layer in report["Layers"]]
    print(f"  layer report: {len(types)} layers {types}; output 15 {producers[0]['Dimensions'] if producers else '?'}")
    return failures


def check_values(kiln, model_path, workdir, extra):
    """Values against ONNX Runtime through check_model.py (build, save, load in a second process, run)."""
    command = [sys.executable, str(HERE / "check_model.py"), str(model_path), "--kiln", str(kiln),
               "--workdir", str(workdir / f"values_{model_path.stem}")] + extra
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    print("\n".join("  " + line for line in result.stdout.splitlines() if "rel L2" in line or "FAIL" in line))
    return [] if result.returncode == 0 else [f"values differ from ONNX Runtime:\n{result.stdout[-2000:]}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kiln_eca_")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    failures = []
    for form, opset in [("squeeze_expand", 11), ("squeeze_expand", 13), ("transpose4d", 11)]:
        name = f"eca_{form}_opset{opset}"
        print(f"[case] {name}, static input 1x3x5x5")
        path = workdir / f"{name}.onnx"
        onnx.save(eca_model(form, opset, 1), str(path))
        problems = check_static_report(args.kiln, path, workdir) + check_values(args.kiln, path, workdir, [])
        failures += [f"{name}: {p}" for p in problems]

        name = f"eca_{form}_opset{opset}_dynamic"
        print(f"[case] {name}, dynamic batch, profile 1/2/4, run at 3 and 1")
        path = workdir / f"{name}.onnx"
        onnx.save(eca_model(form, opset, "N"), str(path))
        profile = ["--minShapes=input.1:1x3x5x5", "--optShapes=input.1:2x3x5x5", "--maxShapes=input.1:4x3x5x5",
                   "--shapes=input.1:3x3x5x5", "--shapes=input.1:1x3x5x5"]
        failures += [f"{name}: {p}" for p in check_values(args.kiln, path, workdir, profile)]

    for failure in failures:
        print(f"[FAIL] {failure}")
    print("[PASS] every ECA form" if not failures else f"[FAIL] {len(failures)} problem(s); files in {workdir}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
