#!/usr/bin/env python3
"""`kiln surgeon`: a model with a constant chain, a pass-through Identity and a dead branch is folded,
cleaned, sorted and saved; the result passes onnx.checker and computes what the original computes
(both run by ONNX Runtime). Bad input ends in one clear "[E]" line and a non-zero exit.

    surgeon_test.py --kiln PATH
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
from script_checks import check, summary  # noqa: E402



def make_model(path):
    rng = np.random.default_rng(7)
    p = rng.standard_normal(4).astype(np.float32)
    q = rng.standard_normal(4).astype(np.float32)
    nodes = [
        helper.make_node("Mul", ["p", "q"], ["pq"], name="mul_pq"),
        helper.make_node("Exp", ["pq"], ["e"], name="exp"),
        helper.make_node("Identity", ["x"], ["xi"], name="ident"),
        helper.make_node("Add", ["xi", "e"], ["y"], name="add"),
        helper.make_node("Neg", ["x"], ["dead"], name="dead_neg"),
    ]
    graph = helper.make_graph(nodes, "surgeon_cli", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                              initializer=[numpy_helper.from_array(p, "p"), numpy_helper.from_array(q, "q"),
                                           numpy_helper.from_array(np.ones(3, np.float32), "unused")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def run(kiln, *args):
    result = subprocess.run([kiln, "surgeon", *args], capture_output=True, text=True, timeout=60)
    errors = [line for line in result.stderr.splitlines() if line.startswith("[E] ")]
    return result.returncode, errors, result.stdout + result.stderr


def infer(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        original, edited = tmp / "in.onnx", tmp / "out.onnx"
        make_model(original)

        code, errors, output = run(args.kiln, f"--onnx={original}", f"--saveOnnx={edited}", "--removeNodes=ident",
                                   "--reconnect", "--foldConstants", "--cleanup", "--toposort")
        check(code == 0 and not errors, f"the edit succeeds ({code}): {output.strip()[-300:]}")
        if code == 0:
            model = onnx.load(str(edited))
            onnx.checker.check_model(model, full_check=True)
            check(True, "the edited model passes onnx.checker")
            check([n.op_type for n in model.graph.node] == ["Add"], "only the Add is left: "
                  + str([n.op_type for n in model.graph.node]))
            check(sorted(t.name for t in model.graph.initializer) == ["e"], "the folded 'e' is the only initializer")
            x = np.random.default_rng(8).standard_normal((2, 4)).astype(np.float32)
            check(np.allclose(infer(original, x), infer(edited, x), rtol=1e-6, atol=1e-6),
                  "the edited model computes what the original computes")

        code, errors, output = run(args.kiln, f"--onnx={tmp / 'missing.onnx'}", f"--saveOnnx={edited}")
        check(code == 1 and len(errors) == 1 and "missing.onnx" in errors[0], f"a missing model is one error: {output}")
        code, errors, output = run(args.kiln, f"--onnx={original}", f"--saveOnnx={edited}", "--removeNodes=nope")
        check(code == 1 and len(errors) == 1 and "'nope'" in errors[0], f"an unknown node is named: {output}")
        code, errors, output = run(args.kiln, f"--onnx={original}", f"--saveOnnx={edited}", "--removeNodes=mul_pq")
        check(code == 1 and len(errors) == 1 and "'exp'" in errors[0], f"a node still read is refused: {output}")
        code, errors, output = run(args.kiln, f"--onnx={original}", f"--saveOnnx={edited}", "--removeUnusedInputs")
        check(code == 2 and len(errors) == 1 and "--cleanup" in errors[0], f"a flag without its step: {output}")
        code, errors, output = run(args.kiln, f"--onnx={original}")
        check(code == 2 and "saveOnnx" in output, f"--saveOnnx is required: {output}")
        (tmp / "garbage.onnx").write_bytes(b"not a model")
        code, errors, output = run(args.kiln, f"--onnx={tmp / 'garbage.onnx'}", f"--saveOnnx={edited}")
        check(code == 1 and len(errors) == 1 and "garbage.onnx" in errors[0], f"a malformed model: {output}")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
