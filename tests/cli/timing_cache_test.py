#!/usr/bin/env python3
"""`kiln exec --timingCacheFile` on a CUDA engine (GPU machine; exit 77 = skipped without a GPU).

A two-layer MLP with GEMMs large enough that cuBLASLt lists several algorithms is built twice with the
same timing cache: the first build times the GEMMs' candidates and writes their entries; the second
build answers every GEMM from the cache and times nothing; level 1 with --avgTiming=3 times 2
candidates 2 + 3 times each; --builderOptimizationLevel=0 times nothing. A small FP16 CNN's layout
(NCHW or channels-last) is timed on the first build, cached, and answered by the cache on the second.

    timing_cache_test.py --kiln BUILD/bin/kiln
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SKIP = 77


def make_model(path):
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((512, 1024)).astype(np.float32) * 0.05, "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((1024, 256)).astype(np.float32) * 0.05, "w2")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 512])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 256])], [w1, w2])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def make_cnn(path):
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.standard_normal((32, 16, 3, 3)).astype(np.float32) * 0.1, "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((32, 32, 3, 3)).astype(np.float32) * 0.1, "w2")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Conv", ["r", "w2"], ["y"], pads=[1, 1, 1, 1])],
        "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 16, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 32, 32, 32])], [w1, w2])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def check_layout(kiln, tmp, failures):
    """The timed layout choice: both sums and the choice on a cold cache, the same choice from a warm one."""
    cnn, cache = tmp / "cnn.onnx", tmp / "layout.json"
    make_cnn(cnn)
    args = [f"--onnx={cnn}", "--backend=cuda", "--fp16", "--skipInference", "--verbose", f"--timingCacheFile={cache}"]
    code, log = run(kiln, *args)
    chosen = re.search(r"layout: NCHW [\d.]+ ms, channels-last [\d.]+ ms \(sum of layer medians, (\d+) reformat "
                       r"layers?[^)]*\): (NCHW|channels-last)", log)
    if code != 0 or not chosen or int(chosen.group(1)) < 1:
        failures.append(f"the FP16 CNN's layout was not timed (exit {code}):\n{log[-3000:]}")
        return
    keys = [e["key"] for e in json.loads(cache.read_text())["entries"]] if cache.exists() else []
    if not any(" | layout | " in key for key in keys):
        failures.append(f"the cache lacks the layout decision: {keys}")
    code, log = run(kiln, *args)
    again = re.search(r"layout: .*answered by the timing cache: (NCHW|channels-last)", log)
    tactics = re.search(r"tactic selection: (\d+) layers timed", log)
    if code != 0 or not again or again.group(1) != chosen.group(2) or "layout timing" in log or \
            (tactics and tactics.group(1) != "0"):
        failures.append(f"the warm cache did not reproduce the layout ({chosen.group(2)}) without timing:\n"
                        f"{log[-3000:]}")
    shown = subprocess.run([str(kiln), "inspect", str(cache)], capture_output=True, text=True, timeout=60)
    if shown.returncode != 0 or " | layout | " not in shown.stdout:
        failures.append(f"kiln inspect does not show the layout decision:\n{shown.stdout}{shown.stderr}")


def run(kiln, *args):
    result = subprocess.run([str(kiln), "exec", *args], capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, cache = tmp / "mlp.onnx", tmp / "timing.json"
        make_model(model)
        base = [f"--onnx={model}", "--backend=cuda", "--skipInference", "--verbose"]
        code, log = run(args.kiln, *base, f"--timingCacheFile={cache}")
        if code != 0 and re.search(r"no CUDA device|no usable CUDA device|built without CUDA|backend 'cuda' "
                                   r"(is not available|could not start)", log):
            print("skipped: no usable CUDA backend:", log.strip().splitlines()[-1])
            return SKIP
        failures = []
        timed = re.search(r"tactic selection: (\d+) layers timed \((\d+) runs\), (\d+) answered by the timing cache", log)
        if code != 0 or not timed or int(timed.group(1)) < 2:
            failures.append(f"the first build did not time both GEMMs (exit {code}):\n{log[-3000:]}")
        entries = json.loads(cache.read_text())["entries"] if cache.exists() else []
        if len(entries) < 2 or any(e["candidates"] < 2 or not e["tactic"] for e in entries):
            failures.append(f"the cache lacks timed GEMM entries: {entries}")
        code, log = run(args.kiln, *base, f"--timingCacheFile={cache}")
        again = re.search(r"tactic selection: (\d+) layers timed \((\d+) runs\), (\d+) answered by the timing cache", log)
        if code != 0 or not again or again.group(1) != "0" or int(again.group(3)) < 2:
            failures.append(f"the second build did not answer from the cache:\n{log[-3000:]}")
        shown = subprocess.run([str(args.kiln), "inspect", str(cache)], capture_output=True, text=True, timeout=60)
        if shown.returncode != 0 or f"Entries: {len(entries)}" not in shown.stdout or "cublaslt" not in shown.stdout:
            failures.append(f"kiln inspect does not show the cache:\n{shown.stdout}{shown.stderr}")
        # --avgTiming and --builderOptimizationLevel set the work: level 1 lists 2 candidates per GEMM, and
        # each candidate runs 2 warm-up + N timed times.
        narrow = tmp / "narrow.json"
        code, log = run(args.kiln, *base, "--builderOptimizationLevel=1", "--avgTiming=3", f"--timingCacheFile={narrow}")
        timed = re.search(r"tactic selection: (\d+) layers timed \((\d+) runs\)", log)
        narrow_entries = json.loads(narrow.read_text())["entries"] if narrow.exists() else []
        expected_runs = sum(e["candidates"] * (2 + 3) for e in narrow_entries)
        if code != 0 or not timed or int(timed.group(2)) != expected_runs or \
                any(e["candidates"] > 2 for e in narrow_entries):
            failures.append(f"level 1 with --avgTiming=3 did not time 2 candidates x 5 runs per GEMM "
                            f"(expected {expected_runs} runs, entries {narrow_entries}):\n{log[-2000:]}")
        code, log = run(args.kiln, *base, "--builderOptimizationLevel=0")
        if code != 0 or "tactic selection:" in log:
            failures.append(f"level 0 timed tactics:\n{log[-2000:]}")
        check_layout(args.kiln, tmp, failures)
        for failure in failures:
            print("FAIL:", failure)
        print("timing cache test:", "FAILED" if failures else "passed")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
