"""Every timed tactic of one FusedMatMul, per shape and epilogue: what Kiln's builder measured for each
cuBLASLt algorithm (with its epilogue pass where cuBLASLt cannot fuse the activation) and each CUTLASS
configuration, read from `kiln exec --verbose`. A model Y = act(X W + b) is built per case, from float
weights, and run through the builder in FP16; the activation is none, Relu or the exact GELU as BERT
exports it (x * 0.5 * (1 + erf(x / sqrt 2))). The medians are the builder's (CUDA events, warm-up,
median of repeats).

    python3 bench/gemm_probe.py --kiln build/bin/kiln --out /tmp/gemm_probe \
        [--cases 16384x768x3072 16384x3072x768] [--activations none relu gelu] [--level 3] [--bias both]
"""

import argparse
import pathlib
import re
import subprocess

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def gemm_model(m, k, n, activation, seed, bias=True):
    """X [m, k] -> act(X W + b) [m, n] (act(X W) without the bias), opset 17, float weights."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"])]
    inits = [w]
    if bias:
        nodes.append(helper.make_node("Add", ["xw", "b"], ["h"]))
        inits.append(b)
    else:
        nodes[0].output[0] = "h"
    if activation == "relu":
        nodes.append(helper.make_node("Relu", ["h"], ["y"]))
    elif activation == "gelu":
        inits += [numpy_helper.from_array(np.array(v, np.float32), name)
                  for name, v in (("sqrt2", np.sqrt(2.0)), ("one", 1.0), ("half", 0.5))]
        nodes += [helper.make_node("Div", ["h", "sqrt2"], ["scaled"]), helper.make_node("Erf", ["scaled"], ["erf"]),
                  helper.make_node("Add", ["erf", "one"], ["cdf2"]), helper.make_node("Mul", ["h", "cdf2"], ["hc"]),
                  helper.make_node("Mul", ["hc", "half"], ["y"])]
    else:
        nodes[-1].output[0] = "y"
    graph = helper.make_graph(nodes, "gemm_probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


TACTIC = re.compile(r"\(kiln::FusedMatMul\): tactic (\d+) (\S+) ([0-9.]+) ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--cases", nargs="+", default=["16384x768x3072"], help="MxKxN products")
    parser.add_argument("--activations", nargs="+", default=["none", "relu", "gelu"], choices=["none", "relu", "gelu"])
    parser.add_argument("--level", type=int, default=3, help="--builderOptimizationLevel")
    parser.add_argument("--bias", choices=["with", "without", "both"], default="with",
                        help="products with the bias row, without it (what the epilogue's bias load costs: "
                             "without an activation either, the product is a MatMul, the library's alone), or both")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| M x K x N | epilogue | tactic | median ms | TFLOP/s |", "|---|---|---|---|---|"]
    biases = {"with": [True], "without": [False], "both": [True, False]}[args.bias]
    for case in args.cases:
        m, k, n = (int(v) for v in case.split("x"))
        for activation, bias in ((a, b) for a in args.activations for b in biases):
            epilogue = activation + ("" if bias else ", no bias")
            name = f"gemm_{case}_{activation}{'' if bias else '_nobias'}"
            path = args.out / f"{name}.onnx"
            onnx.save(gemm_model(m, k, n, activation, seed=len(lines), bias=bias), path)
            command = [str(args.kiln), "exec", f"--onnx={path}", "--backend=cuda", "--fp16", "--verbose",
                       f"--shapes=x:{m}x{k}", f"--builderOptimizationLevel={args.level}", "--iterations=1",
                       "--warmUp=0", "--duration=0"]
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
            log = result.stdout + result.stderr
            (args.out / f"{name}.log").write_text(log)
            if result.returncode != 0:
                lines.append(f"| {case} | {epilogue} | kiln failed (exit {result.returncode}) | - | - |")
                continue
            timed = sorted(((float(ms), tactic, int(t)) for t, tactic, ms in TACTIC.findall(log)))
            for ms, tactic, t in timed:
                lines.append(f"| {case} | {epilogue} | #{t} {tactic} | {ms:.4f} | {2 * m * k * n / ms / 1e9:.0f} |")
    table = "\n".join(lines)
    (args.out / "gemm_probe.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
