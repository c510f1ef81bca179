#!/usr/bin/env python3
"""Bad-input suite for `kiln`: every malformed model, engine, input file or command line must end
in a clear error, never a crash.

For each case `kiln` must
  - exit with a non-zero status, and not by a signal (returncode > 0);
  - print exactly one line starting with "[E] " on stderr, and that line must name the problem
    (each case lists patterns the line must match, e.g. the offending tensor, file or flag);
  - print nothing that betrays a crash ("terminate called", "Segmentation", sanitizer reports);
  - leave no engine file behind when a build fails.
The small ONNX files are made here with onnx.helper, into a temporary folder. Two valid baselines
(a build and a run of a good model) make sure the failures are the inputs' fault, not kiln's.

    bad_inputs_test.py --kiln PATH [--case NAME ...] [--keep]
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CRASH_MARKERS = ["terminate called", "Segmentation", "Aborted", "core dumped", "AddressSanitizer",
                 "runtime error:", "std::bad_alloc", "what():"]
TIMEOUT_S = 60

# Patterns (case-insensitive) that a message about each kind of problem is expected to contain.
PARSE_PROBLEM = r"pars|truncat|invalid|corrupt|malformed|protobuf|not an? (valid )?onnx"
ENGINE_DAMAGE = r"truncat|corrupt|checksum|too (short|small)|incomplete|unexpected end|invalid|mismatch|size"
SIZE_PROBLEM = r"size|bytes|elements|shape|dimension"


def make_model(path, nodes, inputs, outputs, initializers=(), opset_imports=None):
    graph = helper.make_graph(nodes, "bad_inputs", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=opset_imports or [helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def float_input(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def write_models(tmp):
    """The files the cases use; returns a dict of paths."""
    paths = {}
    bias = numpy_helper.from_array(np.linspace(-1.0, 1.0, 3, dtype=np.float32), "bias")
    relu_add = [helper.make_node("Relu", ["data_in"], ["relu_out"], name="relu"),
                helper.make_node("Add", ["relu_out", "bias"], ["out"], name="add")]
    paths["valid"] = make_model(tmp / "valid.onnx", relu_add, [float_input("data_in", [2, 3])],
                                [float_input("out", [2, 3])], [bias])
    paths["dynamic"] = make_model(tmp / "dynamic.onnx", relu_add, [float_input("data_in", ["batch", 3])],
                                  [float_input("out", ["batch", 3])], [bias])

    # A model big enough that cutting it in half cuts inside the graph message.
    weights = numpy_helper.from_array(np.arange(4096, dtype=np.float32).reshape(1024, 4), "weights")
    big = make_model(tmp / "big.onnx", [helper.make_node("MatMul", ["data_in", "weights"], ["out"], name="mm")],
                     [float_input("data_in", [2, 1024])], [float_input("out", [2, 4])], [weights])
    data = big.read_bytes()
    paths["truncated_onnx"] = tmp / "truncated.onnx"
    paths["truncated_onnx"].write_bytes(data[: len(data) // 2])
    paths["garbage_onnx"] = tmp / "garbage.onnx"
    paths["garbage_onnx"].write_bytes(b"this is not an ONNX model\n" + bytes(range(256)) * 4)
    paths["empty_onnx"] = tmp / "empty.onnx"
    paths["empty_onnx"].write_bytes(b"")

    paths["undefined_tensor"] = make_model(
        tmp / "undefined_tensor.onnx",
        [helper.make_node("Relu", ["data_in"], ["relu_out"], name="relu"),
         helper.make_node("Add", ["relu_out", "ghost_tensor"], ["out"], name="add_reads_ghost")],
        [float_input("data_in", [2, 3])], [float_input("out", [2, 3])])

    # Three ops no backend has, chained; the error must list all of them in one go.
    domain = "com.example.kilntest"
    paths["unsupported_ops"] = make_model(
        tmp / "unsupported_ops.onnx",
        [helper.make_node("Relu", ["data_in"], ["a"], name="relu"),
         helper.make_node("FrobnicateAlpha", ["a"], ["b"], name="frob_alpha", domain=domain),
         helper.make_node("FrobnicateBeta", ["b"], ["c"], name="frob_beta", domain=domain),
         helper.make_node("FrobnicateGamma", ["c"], ["out"], name="frob_gamma", domain=domain)],
        [float_input("data_in", [2, 3])], [float_input("out", [2, 3])],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)])

    # Bytes that are no image, fed to ImageDecoder: the run, not the build, must refuse them.
    paths["image_decoder"] = make_model(
        tmp / "image_decoder.onnx", [helper.make_node("ImageDecoder", ["encoded"], ["pixels"], name="decode")],
        [helper.make_tensor_value_info("encoded", TensorProto.UINT8, [64])],
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, None)],
        opset_imports=[helper.make_opsetid("", 20)])
    paths["not_an_image"] = tmp / "not_an_image.npy"
    np.save(paths["not_an_image"], np.frombuffer(b"GIF89a, a format ImageDecoder does not read".ljust(64, b"."),
                                                 dtype=np.uint8))

    paths["good_input"] = tmp / "good_input.npy"
    np.save(paths["good_input"], np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
    paths["wrong_size_npy"] = tmp / "wrong_size.npy"
    np.save(paths["wrong_size_npy"], np.ones((2, 4), dtype=np.float32))
    paths["wrong_size_raw"] = tmp / "wrong_size.bin"
    paths["wrong_size_raw"].write_bytes(np.ones(5, dtype=np.float32).tobytes())  # 20 bytes, 24 needed
    paths["wrong_dtype_npy"] = tmp / "wrong_dtype.npy"
    np.save(paths["wrong_dtype_npy"], np.ones((2, 3), dtype=np.int32))
    paths["batch8_input"] = tmp / "batch8_input.npy"
    np.save(paths["batch8_input"], np.ones((8, 3), dtype=np.float32))
    return paths


def run(kiln, args):
    try:
        result = subprocess.run([str(kiln)] + args, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
    return result


def build_valid_engines(kiln, paths, tmp):
    """The engines the engine and input cases start from. Returns a list of failure messages."""
    failures = []
    builds = {"valid_engine": [f"--onnx={paths['valid']}"],
              "dynamic_engine": [f"--onnx={paths['dynamic']}", "--minShapes=data_in:1x3", "--optShapes=data_in:2x3",
                                 "--maxShapes=data_in:4x3"]}
    for key, model_args in builds.items():
        paths[key] = tmp / f"{key}.plan"
        result = run(kiln, ["exec"] + model_args + [f"--saveEngine={paths[key]}", "--skipInference"])
        if result is None or result.returncode != 0 or not paths[key].exists():
            detail = "timed out" if result is None else f"exit {result.returncode}: {result.stderr.strip()[-500:]}"
            failures.append(f"baseline build of {key} failed ({detail})")
    if not failures:
        result = run(kiln, ["exec", f"--loadEngine={paths['valid_engine']}",
                            f"--loadInputs=data_in:{paths['good_input']}", "--iterations=1", "--warmUp=0",
                            "--duration=0"])
        if result is None or result.returncode != 0:
            detail = "timed out" if result is None else f"exit {result.returncode}: {result.stderr.strip()[-500:]}"
            failures.append(f"baseline run of valid_engine failed ({detail})")
    return failures


def engine_cases(paths, tmp):
    """Damaged engine files made from the valid one."""
    data = paths["valid_engine"].read_bytes()
    paths["truncated_engine"] = tmp / "truncated.plan"
    paths["truncated_engine"].write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    paths["corrupted_engine"] = tmp / "corrupted.plan"
    paths["corrupted_engine"].write_bytes(bytes(flipped))


def cases(paths, tmp):
    """(name, kiln arguments, patterns the [E] line must match, engine file a failing build must not write)."""
    run_flags = ["--iterations=1", "--warmUp=0", "--duration=0"]
    save = tmp / "must_not_exist.plan"
    build = lambda model: ["exec", f"--onnx={model}", f"--saveEngine={save}", "--skipInference"]  # noqa: E731
    load = lambda engine, inputs: (["exec", f"--loadEngine={engine}", f"--loadInputs={inputs}"]  # noqa: E731
                                   + run_flags)
    good = f"data_in:{paths['good_input']}"
    return [
        ("truncated_onnx", build(paths["truncated_onnx"]), [PARSE_PROBLEM], save),
        ("garbage_onnx", build(paths["garbage_onnx"]), [PARSE_PROBLEM], save),
        ("empty_onnx", build(paths["empty_onnx"]), [r"empty|" + PARSE_PROBLEM + r"|no graph|0 bytes"], save),
        ("undefined_tensor", build(paths["undefined_tensor"]), [r"ghost_tensor"], save),
        ("three_unsupported_ops", build(paths["unsupported_ops"]),
         [r"FrobnicateAlpha", r"FrobnicateBeta", r"FrobnicateGamma"], save),
        ("missing_onnx_file", build(tmp / "absent_model.onnx"), [r"absent_model\.onnx"], save),
        ("truncated_engine", load(paths["truncated_engine"], good), [ENGINE_DAMAGE], None),
        ("corrupted_engine", load(paths["corrupted_engine"], good), [ENGINE_DAMAGE], None),
        ("onnx_as_engine", load(paths["valid"], good),
         [r"magic|not an? (kiln )?engine|not a plan|header|engine file"], None),
        ("wrong_size_npy_input", load(paths["valid_engine"], f"data_in:{paths['wrong_size_npy']}"),
         [r"data_in", SIZE_PROBLEM], None),
        ("wrong_size_raw_input", load(paths["valid_engine"], f"data_in:{paths['wrong_size_raw']}"),
         [r"data_in", SIZE_PROBLEM], None),
        ("wrong_dtype_npy_input", load(paths["valid_engine"], f"data_in:{paths['wrong_dtype_npy']}"),
         [r"data_in", r"type|int32|float"], None),
        ("unknown_input_name", load(paths["valid_engine"], f"nosuchinput:{paths['good_input']}"),
         [r"nosuchinput"], None),
        ("missing_input_file", load(paths["valid_engine"], f"data_in:{tmp / 'absent_input.npy'}"),
         [r"absent_input\.npy"], None),
        ("shape_outside_profile",
         ["exec", f"--loadEngine={paths['dynamic_engine']}", "--shapes=data_in:8x3",
          f"--loadInputs=data_in:{paths['batch8_input']}"] + run_flags,
         [r"data_in", r"profile|range|max|exceed|outside"], None),
        ("not_an_image", ["exec", f"--onnx={paths['image_decoder']}", f"--loadInputs=encoded:{paths['not_an_image']}"]
         + run_flags, [r"ImageDecoder", r"not an image in a supported format"], None),
        ("unknown_flag", ["exec", f"--onnx={paths['valid']}", "--frobnicate=3"], [r"frobnicate"], None),
    ]


def check_case(kiln, name, args, patterns, forbidden_file):
    """Returns a list of problems (empty when the case behaves)."""
    if forbidden_file is not None and forbidden_file.exists():
        forbidden_file.unlink()
    result = run(kiln, args)
    if result is None:
        return [f"no exit within {TIMEOUT_S} s"]
    problems = []
    if result.returncode == 0:
        problems.append("exit code 0")
    elif result.returncode < 0:
        problems.append(f"killed by signal {-result.returncode}")
    output = result.stdout + result.stderr
    for marker in CRASH_MARKERS:
        if marker in output:
            problems.append(f"output contains '{marker}'")
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("[E] ")]
    if len(error_lines) != 1:
        problems.append(f"{len(error_lines)} '[E] ' lines on stderr, expected exactly 1")
    for line in error_lines[:1]:
        for pattern in patterns:
            if not re.search(pattern, line, re.IGNORECASE):
                problems.append(f"the error does not match /{pattern}/")
    if forbidden_file is not None and forbidden_file.exists():
        problems.append(f"a failed build left {forbidden_file.name} behind")
    status = "PASS" if not problems else "FAIL"
    shown = error_lines[0] if error_lines else (result.stderr.strip().splitlines() or ["<no stderr>"])[-1]
    print(f"[{status}] {name}: exit {result.returncode}: {shown[:300]}")
    for problem in problems:
        print(f"        - {problem}")
    if problems and len(error_lines) != 1:
        print("        stderr:\n" + "\n".join("          " + line for line in result.stderr.splitlines()[-15:]))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--case", nargs="+", help="run only these cases")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not args.kiln.exists():
        parser.error(f"no kiln binary at {args.kiln}")

    tmp = Path(tempfile.mkdtemp(prefix="kiln_bad_inputs_"))
    try:
        paths = write_models(tmp)
        failures = build_valid_engines(args.kiln, paths, tmp)
        for failure in failures:
            print(f"[FAIL] {failure}")
        if failures:
            return 1
        engine_cases(paths, tmp)
        selected = [c for c in cases(paths, tmp) if not args.case or c[0] in args.case]
        failed = [c[0] for c in selected if check_case(args.kiln, *c)]
        print(f"{len(selected) - len(failed)} of {len(selected)} cases passed" +
              (f"; failed: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"files kept in {tmp}")
        else:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
