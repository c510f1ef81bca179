#!/usr/bin/env python3
"""`kiln exec --useCudaGraph` and `--device` on a GPU engine: the graph is captured (a verbose line says
so, no warning says it was not), the outputs still match a double-precision numpy reference, every
timed run is a graph launch with several streams and threads too, and a profiler attached to the
timed run is explained. The model is exec_flags_test.py's mlp.onnx.

Needs a GPU: without one (or with a kiln built without CUDA) it prints why and exits with 77, which
CTest reports as skipped.

    cuda_graph_test.py --kiln PATH [--case NAME ...] [--keep]
"""

import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exec_flags_test import (QUICK, CaseFailure, check, errors, gpu_count, reference, run_cases,  # noqa: E402
                             warnings)

SKIP = 77
GPU = ["--backend=cuda"]
CAPTURED = "[V] Captured a CUDA graph of the execution context"
NOT_CAPTURED = "cannot be captured in a CUDA graph"


def no_gpu_reason(kiln):
    """Why this kiln cannot run a CUDA engine here, or None when it can."""
    probe = kiln.run("exec", "--onnx=mlp.onnx", *GPU, "--skipInference", expect=None)
    if probe.returncode == 0:
        return None
    text = "\n".join(errors(probe))
    if re.search(r"no CUDA device|no usable CUDA device|built without CUDA|backend 'cuda' (is not available|could not "
                 r"start)", text):
        return text
    raise CaseFailure(f"building a CUDA engine failed for another reason than a missing GPU:\n{probe.stderr}")


def exported(ctx, name, rows):
    out = json.loads((ctx.tmp / name).read_text())
    check(out[0]["name"] == "y" and out[0]["dimensions"] == f"{rows}x5", f"exported output metadata: {out[0]}")
    return np.array(out[0]["values"], dtype=np.float64).reshape(rows, 5)


def case_graph_captured_and_outputs_match(kiln, ctx):
    x = np.random.default_rng(5).uniform(-2, 2, (3, 8)).astype(np.float32)
    np.save(ctx.tmp / "x.npy", x)
    # One engine for both runs: two builds may time different GEMM algorithms (tactic selection), whose
    # sums round differently, and the check below is bitwise.
    kiln.run("exec", "--onnx=mlp.onnx", *GPU, "--noTF32", "--shapes=x:3x8", "--saveEngine=mlp.engine", "--skipInference")
    common = ["exec", "--loadEngine=mlp.engine", *GPU, "--shapes=x:3x8", "--loadInputs=x:x.npy", "--verbose",
              "--iterations=50", *QUICK]
    graph = kiln.run(*common, "--useCudaGraph", "--exportOutput=graph.json")
    check(CAPTURED in graph.stderr + graph.stdout, "no verbose line says the graph was captured")
    check(not any(NOT_CAPTURED in w or "--useCudaGraph" in w for w in warnings(graph)),
          f"the graph was not used: {warnings(graph)}")
    check("--useCudaGraph (utilize CUDA graphs" not in graph.stderr, "the summary suggests --useCudaGraph while using it")
    check("Timing trace has 50 queries" in graph.stdout, "the timed run did not run 50 inferences")
    plain = kiln.run(*common, "--exportOutput=plain.json")
    check(CAPTURED not in plain.stderr + plain.stdout, "a graph was captured without --useCudaGraph")
    expected = reference(x, ctx.weights, ctx.bias)
    for name in ("graph.json", "plain.json"):
        got = exported(ctx, name, 3)
        check(np.allclose(got, expected, rtol=1e-5, atol=1e-6), f"{name}: max error {np.abs(got - expected).max()}")
    check(np.array_equal(exported(ctx, "graph.json", 3), exported(ctx, "plain.json", 3)),
          "graph launches and plain enqueues give different outputs")


def case_graph_per_stream_and_thread(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", *GPU, "--shapes=x:2x8", "--useCudaGraph", "--infStreams=2",
                      "--threads", "--verbose", "--iterations=20", "--exportTimes=times.json", *QUICK)
    captured = (result.stderr + result.stdout).count(CAPTURED)
    check(captured == 2, f"{captured} graph captures for 2 streams")
    check(not any(NOT_CAPTURED in w for w in warnings(result)), f"a stream ran without a graph: {warnings(result)}")
    times = json.loads((ctx.tmp / "times.json").read_text())
    check(len(times) >= 40, f"{len(times)} timed inferences, expected 20 per stream")


def case_profiled_timed_run_is_explained(kiln, ctx):
    base = ["exec", "--onnx=mlp.onnx", *GPU, "--shapes=x:2x8", "--useCudaGraph", "--iterations=5", "--dumpProfile",
            *QUICK]
    result = kiln.run(*base)
    check(any("--useCudaGraph: the profiled stream launches its layers one by one" in w for w in warnings(result)),
          f"profiling the timed run with --useCudaGraph is not explained: {warnings(result)}")
    check(re.search(r"\[I\] +Time\(ms\) +Avg\.\(ms\)", result.stdout), "no per-layer profile was printed")
    separate = kiln.run(*base, "--separateProfileRun")
    check(not any("profiled stream" in w for w in warnings(separate)), "--separateProfileRun still warns")


def case_device_selects_a_gpu(kiln, ctx):
    first = kiln.run("exec", "--onnx=mlp.onnx", *GPU, "--shapes=x:2x8", "--device=0", "--useCudaGraph",
                     "--iterations=2", *QUICK)
    check("Selected device: GPU 0 '" in first.stdout, "the selected GPU is not named")
    count = gpu_count()
    if count > 1:
        last = kiln.run("exec", "--onnx=mlp.onnx", *GPU, "--shapes=x:2x8", f"--device={count - 1}", "--useCudaGraph",
                        "--infStreams=2", "--threads", "--verbose", "--iterations=2", *QUICK)
        check(f"Selected device: GPU {count - 1} '" in last.stdout, f"GPU {count - 1} was not the one selected")
    result = kiln.run("exec", "--onnx=mlp.onnx", *GPU, f"--device={max(count, 1)}", expect=2)
    check(len(errors(result)) == 1 and "is out of range" in errors(result)[0], f"errors: {errors(result)}")


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def gpu_missing(kiln):
    why = no_gpu_reason(kiln)
    return f"no GPU to run CUDA engines on: {why}" if why else None


def main():
    return run_cases(CASES, __doc__, "kiln_cuda_graph_", skip_reason=gpu_missing, skip_code=SKIP)


if __name__ == "__main__":
    sys.exit(main())
