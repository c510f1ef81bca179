#!/usr/bin/env python3
"""End-to-end tests of `kiln exec` and `kiln inspect` flags: each case runs the binary and checks
the flag's effect (a number in the report, a file's content, a profile in the engine), not only
that it parses.

The models are made here with onnx.helper, in a temporary folder:
  - mlp.onnx: y = softmax(relu(x @ W + b)) with x [batch, 8] (dynamic batch), W random;
  - unsupported.onnx: a Relu and an operator no importer knows, for `kiln inspect`.
Numbers are compared with a double-precision numpy reference on random data.

    exec_flags_test.py --kiln PATH [--case NAME ...] [--keep]
"""

import argparse
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TIMEOUT_S = 120
# Quick runs: no warm-up and no minimum duration unless a case says otherwise.
QUICK = ["--warmUp=0", "--duration=0"]


class CaseFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CaseFailure(message)


class Kiln:
    def __init__(self, binary, tmp):
        self.binary = str(binary)
        self.tmp = tmp

    def run(self, *args, expect=0):
        result = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                                cwd=self.tmp)
        if expect is not None and result.returncode != expect:
            raise CaseFailure(f"exit {result.returncode}, expected {expect}; args {list(args)}\n"
                              f"stdout tail: {result.stdout[-1500:]}\nstderr: {result.stderr[-1500:]}")
        return result


def make_models(tmp):
    rng = np.random.default_rng(7)
    weights = rng.uniform(-1, 1, (8, 5)).astype(np.float32)
    bias = rng.uniform(-1, 1, (5,)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["mm"], name="matmul"),
             helper.make_node("Add", ["mm", "b"], ["biased"], name="add_bias"),
             helper.make_node("Relu", ["biased"], ["act"], name="relu"),
             helper.make_node("Softmax", ["act"], ["y"], name="softmax", axis=-1)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5])],
                              initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp / "mlp.onnx"))

    # An input whose name holds ':' (TensorFlow style), as the seeds' 'Input:0' example.
    colon = helper.make_graph([helper.make_node("Relu", ["Input:0"], ["out"], name="relu")], "colon",
                              [helper.make_tensor_value_info("Input:0", TensorProto.FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 4])])
    colon_model = helper.make_model(colon, opset_imports=[helper.make_opsetid("", 17)])
    colon_model.ir_version = 8
    onnx.save(colon_model, str(tmp / "colon.onnx"))

    odd = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                             helper.make_node("FrobnicateTensor", ["r"], ["y"], name="frob", domain="com.example")],
                            "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    odd_model = helper.make_model(odd, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    odd_model.ir_version = 8
    onnx.save(odd_model, str(tmp / "unsupported.onnx"))
    return weights, bias


def reference(x, weights, bias):
    act = np.maximum(x.astype(np.float64) @ weights.astype(np.float64) + bias.astype(np.float64), 0.0)
    e = np.exp(act - act.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def queries(result):
    match = re.search(r"Timing trace has (\d+) queries", result.stdout)
    check(match, "no 'Timing trace has N queries' line")
    return int(match.group(1))


def warnings(result):
    return [line for line in result.stderr.splitlines() if line.startswith("[W] ")]


def errors(result):
    return [line for line in result.stderr.splitlines() if line.startswith("[E] ")]


def expect_usage_error(kiln, args, pattern, code=2):
    result = kiln.run(*args, expect=code)
    lines = errors(result)
    check(len(lines) == 1, f"{len(lines)} [E] lines for {args}: {result.stderr}")
    check(re.search(pattern, lines[0]), f"the error '{lines[0]}' does not match /{pattern}/")


def profile_of(kiln, engine):
    """min/opt/max of input x from `kiln inspect`."""
    out = kiln.run("inspect", engine).stdout
    match = re.search(r"profile 0 (\S+): min (\S+), opt (\S+), max (\S+)", out)
    check(match, f"no profile in the inspection of {engine}")
    return match.group(2), match.group(3), match.group(4)


# ---- cases: each takes (kiln, ctx) and raises CaseFailure ----

def case_build_save_load(kiln, ctx):
    kiln.run("exec", "--onnx=mlp.onnx", "--saveEngine=mlp.engine", "--optShapes=x:4x8", "--skipInference")
    data = (ctx.tmp / "mlp.engine").read_bytes()
    check(data.startswith(b"KILNPLAN"), "the saved engine does not start with the plan magic")
    result = kiln.run("exec", "--loadEngine=mlp.engine", "--iterations=3", *QUICK)
    check("Loaded engine 'mlp.engine'" in result.stdout, "the engine was not loaded")
    check(queries(result) == 3, "--iterations=3 with --duration=0 did not run 3 inferences")
    version = kiln.run("exec", "--loadEngine=mlp.engine", "--getPlanVersionOnly").stdout
    check(re.search(r"Plan was built by Kiln \d+\.\d+\.\d+", version), "--getPlanVersionOnly printed no version")
    check("Performance summary" not in version, "--getPlanVersionOnly ran inference")


def case_shape_interplay(kiln, ctx):
    # Shapes only for inference: also min = opt = max of the profile.
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:3x8", "--saveEngine=s.engine", "--iterations=1", *QUICK)
    check("Input 'x': float 3x8" in result.stdout, "--shapes did not set the run-time shape")
    check(profile_of(kiln, "s.engine") == ("3x8", "3x8", "3x8"), "--shapes alone is not min = opt = max")
    # Only opt: expanded to min and max.
    kiln.run("exec", "--onnx=mlp.onnx", "--optShapes=x:6x8", "--saveEngine=o.engine", "--skipInference")
    check(profile_of(kiln, "o.engine") == ("6x8", "6x8", "6x8"), "--optShapes alone is not min = opt = max")
    # Shapes only for the build: inference runs at opt.
    result = kiln.run("exec", "--onnx=mlp.onnx", "--minShapes=x:1x8", "--optShapes=x:4x8", "--maxShapes=x:16x8",
                      "--saveEngine=p.engine", "--iterations=1", *QUICK)
    check(profile_of(kiln, "p.engine") == ("1x8", "4x8", "16x8"), "the min/opt/max profile was not built")
    check("Input 'x': float 4x8" in result.stdout, "without --shapes inference did not run at the opt shape")
    # Both: --shapes inside the profile runs, outside is an error naming the input.
    result = kiln.run("exec", "--loadEngine=p.engine", "--shapes=x:11x8", "--iterations=1", *QUICK)
    check("Input 'x': float 11x8" in result.stdout, "--shapes inside the profile was not used")
    result = kiln.run("exec", "--loadEngine=p.engine", "--shapes=x:32x8", "--iterations=1", *QUICK, expect=1)
    check(len(errors(result)) == 1 and "'x'" in errors(result)[0], "a shape outside the profile is not named")
    # Quoted names holding ':' (the seeds' 'Input:0').
    result = kiln.run("exec", "--onnx=colon.onnx", "--shapes='Input:0':2x4", "--iterations=1", *QUICK)
    check("Input 'Input:0': float 2x4" in result.stdout, "a quoted name with ':' was not understood")


def case_iterations_streams_threads(kiln, ctx):
    base = ["exec", "--onnx=mlp.onnx", "--shapes=x:2x8", *QUICK]
    check(queries(kiln.run(*base, "--iterations=7")) == 7, "--iterations=7 did not give 7 queries")
    result = kiln.run(*base, "--iterations=4", "--infStreams=3")
    check(queries(result) == 12, "3 streams x 4 iterations did not give 12 queries")
    check("3 streams (execution contexts), driven by one thread in turns" in result.stdout, "streams not reported")
    result = kiln.run(*base, "--iterations=4", "--infStreams=3", "--threads")
    check(queries(result) == 12, "3 threaded streams x 4 iterations did not give 12 queries")
    check("driven by one thread each" in result.stdout, "--threads not reported")
    result = kiln.run(*base, "--iterations=2", "--streams=2")
    check(queries(result) == 4, "--streams=2 (deprecated) did not run 2 streams")
    check(any("--infStreams=2" in w for w in warnings(result)), "--streams gave no note of its modern form")


def case_duration_and_warmup(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=1", "--warmUp=0", "--duration=0.3")
    walltime = float(re.search(r"Total Host Walltime: ([\d.e+-]+) s", result.stdout).group(1))
    check(walltime >= 0.3, f"--duration=0.3 ran only {walltime} s")
    check(queries(result) > 1, "--duration did not keep running past --iterations")
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=1", "--warmUp=150", "--duration=0")
    warm = re.search(r"Warm-up: (\d+) runs in ([\d.e+-]+) ms", result.stdout)
    check(warm and float(warm.group(2)) >= 150 and int(warm.group(1)) >= 1, "--warmUp=150 did not warm up 150 ms")


def case_sleep_time_and_spin_wait(kiln, ctx):
    for extra in ([], ["--useSpinWait"]):
        result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=3", "--sleepTime=25",
                          "--exportTimes=sleep.json", *QUICK, *extra)
        times = json.loads((ctx.tmp / "sleep.json").read_text())
        for t in times:
            check(t["latencyMs"] >= 25, f"latency {t['latencyMs']} ms is shorter than --sleepTime=25 {extra}")
            check(t["computeMs"] < t["latencyMs"] - 20, "--sleepTime was counted as compute time")
    check("CPU engine: --useSpinWait" in result.stdout, "--useSpinWait on a CPU engine is not explained")


def case_gpu_only_flags_on_cpu(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=2", "--noDataTransfers",
                      "--useCudaGraph", "--exposeDMA", *QUICK)
    check("CPU engine: --noDataTransfers" in result.stdout, "--noDataTransfers on the CPU is not explained")
    check("CPU engine: --useCudaGraph" in result.stdout, "--useCudaGraph on the CPU is not explained")
    check("CPU engine: --exposeDMA" in result.stdout, "--exposeDMA on the CPU is not explained")


def case_performance_summary(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=20", "--percentile=50,99.5",
                      "--exportTimes=times.json", *QUICK)
    out = result.stdout
    order = ["=== Performance summary ===", "Throughput: ", "Latency: min = ", "Enqueue Time: min = ",
             "H2D Latency: not applicable", "CPU Compute Time: min = ", "D2H Latency: not applicable",
             "Total Host Walltime: ", "Total CPU Compute Time: "]
    at = 0
    for text in order:
        found = out.find(text, at)
        check(found >= 0, f"'{text}' missing or out of order in the summary")
        at = found
    latency_line = re.search(r"Latency: (min = .*)", out).group(1)
    check("percentile(50%)" in latency_line and "percentile(99.5%)" in latency_line, "--percentile not reported")
    # The summary's numbers agree with --exportTimes.
    times = json.loads((ctx.tmp / "times.json").read_text())
    check(len(times) == queries(result), "--exportTimes does not hold one entry per query")
    latencies = np.array([t["latencyMs"] for t in times], dtype=np.float64)
    for t in times:
        check(abs(t["endMs"] - t["startMs"] - t["latencyMs"]) < 1e-6, "latencyMs is not endMs - startMs")
        check(t["h2dMs"] == 0 and t["d2hMs"] == 0, "a CPU engine reported transfers")
        check(set(t) == {"startMs", "endMs", "enqueueMs", "h2dMs", "computeMs", "d2hMs", "latencyMs"}, "fields")
    mean = float(re.search(r"Latency: min = [\d.e+-]+ ms, max = [\d.e+-]+ ms, mean = ([\d.e+-]+) ms", out).group(1))
    check(abs(mean - latencies.mean()) <= 1e-3 * max(1.0, latencies.mean()), "mean latency disagrees with the times")
    median = float(re.search(r"Latency: .*median = ([\d.e+-]+) ms", out).group(1))
    check(abs(median - np.median(latencies)) <= 1e-3 * max(1.0, median), "median latency disagrees with the times")
    throughput = float(re.search(r"Throughput: ([\d.e+-]+) qps", out).group(1))
    span = (max(t["endMs"] for t in times) - min(t["startMs"] for t in times)) / 1000.0
    check(abs(throughput - len(times) / span) <= 1e-3 * throughput, "throughput is not queries / walltime")


def case_avg_runs_and_verbose(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=6", "--avgRuns=2", "--verbose", *QUICK)
    averages = re.findall(r"\[V\] Average on (\d+) runs - CPU latency", result.stdout)
    check(averages == ["2", "2", "2"], f"--avgRuns=2 over 6 runs gave {averages}")
    check("[V] === Explanations of the performance metrics ===" in result.stdout, "no explanations with --verbose")
    quiet = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=6", *QUICK)
    check("[V]" not in quiet.stdout, "verbose lines without --verbose")


def case_profiles(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=5", "--dumpProfile",
                      "--exportProfile=profile.json", "--exportLayerInfo=layers.json", "--separateProfileRun", *QUICK)
    check("Profile run: 5 inferences" in result.stdout, "--separateProfileRun did not profile in a second run")
    check(not any("profiler is attached to the timed run" in w for w in warnings(result)),
          "the timed run was profiled despite --separateProfileRun")
    check("=== Profile (5 iterations) ===" in result.stdout, "--dumpProfile printed no profile")
    profile = json.loads((ctx.tmp / "profile.json").read_text())
    layers = json.loads((ctx.tmp / "layers.json").read_text())
    check(profile[0] == {"count": 5}, f"profile count {profile[0]}")
    names = [layer["Name"] for layer in layers["Layers"]]
    check([entry["name"] for entry in profile[1:]] == names, "profile layers are not the engine's layers")
    check(abs(sum(entry["percentage"] for entry in profile[1:]) - 100.0) < 1e-6, "percentages do not add to 100")
    for entry in profile[1:]:
        check(abs(entry["averageMs"] * 5 - entry["timeMs"]) < 1e-6 * max(1.0, entry["timeMs"]), "average != total/5")
    check(set(layers) >= {"Layers", "Bindings"} and layers["Bindings"] == ["x", "y"], "layer info bindings")
    # In the timed run: the warning says the numbers include the profiler.
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=4", "--dumpProfile", *QUICK)
    check(any("--separateProfileRun" in w for w in warnings(result)), "profiling the timed run is not flagged")
    check("=== Profile (4 iterations) ===" in result.stdout, "the timed run's profile has the wrong count")


def case_layer_info_with_skip_inference(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--skipInference", "--dumpLayerInfo")
    check("Performance summary" not in result.stdout, "--skipInference ran inference")
    start = result.stdout.index("{")
    info = json.loads(result.stdout[start:result.stdout.rindex("}") + 1])
    check(len(info["Layers"]) >= 1 and info["Bindings"] == ["x", "y"], "--dumpLayerInfo printed no layer JSON")


def case_outputs_match_reference(kiln, ctx):
    x = np.random.default_rng(3).uniform(-2, 2, (3, 8)).astype(np.float32)
    np.save(ctx.tmp / "x.npy", x)
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:3x8", "--loadInputs=x:x.npy", "--exportOutput=out.json",
                      "--dumpOutput", "--iterations=1", *QUICK)
    out = json.loads((ctx.tmp / "out.json").read_text())
    check(out[0]["name"] == "y" and out[0]["dimensions"] == "3x5", "exported output metadata")
    got = np.array(out[0]["values"], dtype=np.float64).reshape(3, 5)
    expected = reference(x, ctx.weights, ctx.bias)
    check(np.allclose(got, expected, rtol=1e-5, atol=1e-6), f"outputs differ: max {np.abs(got - expected).max()}")
    check(re.search(r"\[I\] y \(float, 3x5\): ", result.stdout), "--dumpOutput printed no output")


def case_float16_bindings(kiln, ctx):
    # --inputIOFormats / --outputIOFormats=fp16:chw: the engine takes and gives float16, and computes the
    # float32 network on the converted input.
    x = np.random.default_rng(4).uniform(-2, 2, (3, 8)).astype(np.float16)
    np.save(ctx.tmp / "x16.npy", x)
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:3x8", "--loadInputs=x:x16.npy", "--exportOutput=out16.json",
                      "--inputIOFormats=fp16:chw", "--outputIOFormats=fp16:chw", "--iterations=1", *QUICK)
    check("input 'x' bound as float16" in result.stdout and "output 'y' bound as float16" in result.stdout,
          "the bindings were not reported")
    out = json.loads((ctx.tmp / "out16.json").read_text())
    check(out[0]["dtype"] == "float16", f"the output is {out[0]['dtype']}, not float16")
    got = np.array(out[0]["values"], dtype=np.float64).reshape(3, 5)
    expected = reference(x.astype(np.float32), ctx.weights, ctx.bias)
    check(np.allclose(got, expected, rtol=2e-3, atol=2e-3), f"outputs differ: max {np.abs(got - expected).max()}")
    # A float32 file for the float16 binding is refused, naming the input.
    np.save(ctx.tmp / "x32.npy", x.astype(np.float32))
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:3x8", "--loadInputs=x:x32.npy",
                      "--inputIOFormats=fp16:chw", "--iterations=1", *QUICK, expect=1)
    check(len(errors(result)) == 1 and "'x'" in errors(result)[0], "a float32 file for a float16 input is not named")


def case_seed_era_flags(kiln, ctx):
    cases = [(["--explicitBatch"], "--explicitBatch is deprecated"),
             (["--workspace=64"], "--memPoolSize=workspace:64M"),
             (["--maxBatch=4"], "--maxShapes=input:4x"),
             (["--batch=3"], "--shapes=input:3x"),
             (["--minTiming=2"], "--minTiming is deprecated"),
             (["--nvtxMode=verbose"], "--profilingVerbosity")]
    for args, note in cases:
        result = kiln.run("exec", "--onnx=mlp.onnx", "--iterations=1", *QUICK, *args)
        check(any(note in w for w in warnings(result)), f"{args} gave no note '{note}': {warnings(result)}")
    result = kiln.run("exec", "--onnx=mlp.onnx", "--maxBatch=4", "--batch=3", "--saveEngine=mb.engine",
                      "--iterations=1", *QUICK)
    check(profile_of(kiln, "mb.engine") == ("1x8", "4x8", "4x8"), "--maxBatch=4 did not build profile 1/4/4")
    check("Input 'x': float 3x8" in result.stdout, "--batch=3 did not set the batch")
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--buildOnly")
    check("Performance summary" not in result.stdout and any("--skipInference" in w for w in warnings(result)),
          "--buildOnly did not skip inference with a note")


def case_build_flags(kiln, ctx):
    base = ["exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--skipInference"]
    result = kiln.run(*base, "--fp16", "--noTF32")
    check("--fp16 --noTF32 accepted and ignored" in result.stdout, "precision flags on the CPU are not explained")
    kiln.run(*base, "--best", "--memPoolSize=workspace:64M", "--builderOptimizationLevel=5", "--backend=cpu")
    kiln.run(*base, "--inputIOFormats=fp32:chw", "--outputIOFormats=fp32:chw")
    result = kiln.run(*base, "--inputIOFormats=int32:chw", expect=1)
    check(len(errors(result)) == 1 and "'x'" in errors(result)[0], "an unsupported IO type does not name the input")
    result = kiln.run(*base, "--outputIOFormats=fp32:hwc8", expect=1)
    check(len(errors(result)) == 1 and "'y'" in errors(result)[0], "an unsupported IO format does not name the output")
    # --calib: a calibration cache's scales quantize the MatMul's input (TensorRT's header and format).
    (ctx.tmp / "calib.cache").write_bytes(b"TRT-8601-EntropyCalibration2\nx: 3c010a14\n")
    result = kiln.run(*base, "--int8", "--calib=calib.cache", "--exportLayerInfo=int8_layers.json")
    check("1 tensor scales read from 'calib.cache'" in result.stdout, "--calib is not reported")
    check("QuantizeLinear" in (ctx.tmp / "int8_layers.json").read_text(), "--int8 --calib gave no Q/DQ layers")
    check("--int8 accepted and ignored" not in result.stdout, "--int8 with --calib is called ignored")
    (ctx.tmp / "header_only.cache").write_bytes(b"KILN-1-EntropyCalibration2\n")
    result = kiln.run(*base, "--int8", "--calib=header_only.cache")
    check(any("no scale for 1 tensors" in w and "'x'" in w for w in warnings(result)), "a missing scale is not warned")
    for name, content, expected in (("bad_line.cache", b"KILN-1-EntropyCalibration2\nx 3c010a14\n", "line 2"),
                                    ("empty.cache", b"", "empty"),
                                    ("binary.cache", bytes(range(1, 256)), "line 1")):
        (ctx.tmp / name).write_bytes(content)
        result = kiln.run(*base, "--int8", f"--calib={name}", expect=1)
        check(len(errors(result)) == 1 and name in errors(result)[0] and expected in errors(result)[0],
              f"a damaged --calib file ({name}) is not a clear error: {errors(result)}")
    expect_usage_error(kiln, base + ["--calib=calib.cache"], r"--int8")
    result = kiln.run(*base, "--int8", "--calib=missing.cache", expect=1)
    check(len(errors(result)) == 1 and "missing.cache" in errors(result)[0], "a missing --calib file is not named")
    # The timing cache is written after the build and read by the next one; the CPU's kernels have no
    # choice to time, so it stays empty here (the GPU test tests/cli/timing_cache_test.py fills it).
    result = kiln.run(*base, "--timingCacheFile=timing.cache", "--avgTiming=4")
    check("does not exist yet" in result.stdout and (ctx.tmp / "timing.cache").exists(), "timing cache not written")
    check('"kiln_timing_cache": 1' in (ctx.tmp / "timing.cache").read_text(), "timing cache has no format line")
    result = kiln.run(*base, "--timingCacheFile=timing.cache")
    check("read 0 entries from 'timing.cache'" in result.stdout, "timing cache not read back")
    result = kiln.run("inspect", "timing.cache")
    check("Timing cache: timing.cache" in result.stdout and "Entries: 0" in result.stdout, "inspect does not read the cache")
    (ctx.tmp / "not_a_cache.json").write_text("[1, 2]")
    result = kiln.run(*base, "--timingCacheFile=not_a_cache.json", expect=1)
    check(len(errors(result)) == 1 and "not_a_cache.json" in errors(result)[0] and "not a Kiln timing cache"
          in errors(result)[0], "a malformed timing cache is not named")
    check((ctx.tmp / "not_a_cache.json").read_text() == "[1, 2]", "a malformed timing cache was overwritten")
    expect_usage_error(kiln, base + ["--builderOptimizationLevel=7"], r"--builderOptimizationLevel")
    expect_usage_error(kiln, base + ["--stronglyTyped", "--fp16"], r"--stronglyTyped")


def gpu_count():
    """The GPUs nvidia-smi lists (0 without the tool or a driver): CUDA sees at most these."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines()) if listed.returncode == 0 else 0


def case_system_flags(kiln, ctx):
    result = kiln.run("exec", "--onnx=mlp.onnx", "--backend=cpu", "--shapes=x:2x8", "--device=0", "--iterations=1",
                      *QUICK)
    check("CPU engine: --device=0 (the engine runs on the CPU)" in result.stdout, "--device on the CPU is not explained")
    result = kiln.run("exec", "--onnx=mlp.onnx", "--backend=cpu", "--shapes=x:2x8", "--iterations=1", *QUICK)
    check("CPU engine: --device" not in result.stdout, "--device is explained without being given")
    # Out of range on any machine (7 unless it has 8 GPUs or more), for CPU engines as for GPU ones.
    missing = max(7, gpu_count())
    for backend in ("cpu", "cuda"):
        expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", f"--backend={backend}", f"--device={missing}"],
                           rf"--device={missing}(: this machine has no usable CUDA device \(.+\)| is out of range: "
                           rf"this machine has \d+ CUDA devices? \()")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--device=-2"], r"--device")
    # A plugin library that cannot be loaded fails the command (plugins_test.py loads real ones).
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--plugins=libnms.so"],
                       r"--plugins: cannot load the plugin library 'libnms\.so'", code=1)


def case_cuda_engine_without_a_gpu(kiln, ctx):
    if gpu_count() > 0:
        return  # cuda_graph_test.py runs CUDA engines where there is a GPU
    result = kiln.run("exec", "--onnx=mlp.onnx", "--backend=cuda", "--shapes=x:2x8", expect=1)
    check(any(re.search(r"backend 'cuda' (could not start: no CUDA device|is not available)", e) for e in errors(result)),
          f"asking for a CUDA engine without a GPU does not say why it fails: {errors(result)}")


def case_malformed_command_lines(kiln, ctx):
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--fastest"], r"--fastest")
    expect_usage_error(kiln, ["exec", "--uff=model.uff", "--uffInput=in,3,224,224"], r"--uff: UFF .*ONNX")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--useDLACore=0"], r"--useDLACore: .*DLA")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--shapes=x:2xq"], r"--shapes")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--infStreams=0"], r"--infStreams")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--sleepTime=-3"], r"--sleepTime")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--iterations=ten"], r"--iterations")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--percentile=101"], r"--percentile")
    expect_usage_error(kiln, ["exec", "--onnx=mlp.onnx", "--skipInference", "--exportTimes=t.json"], r"--skipInference")


def case_trtexec_status_lines(kiln, ctx):
    # Scripts written for trtexec look for "&&&& PASSED" / "&&&& FAILED" and the echoed command line.
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--iterations=1", *QUICK)
    lines = result.stdout.strip().splitlines()
    check(lines[0].startswith("&&&& RUNNING Kiln.kiln_exec") and lines[0].endswith("--shapes=x:2x8 --iterations=1 "
                                                                                  "--warmUp=0 --duration=0"),
          f"first line: {lines[0]}")
    check(lines[-1].startswith("&&&& PASSED Kiln.kiln_exec") and "--onnx=mlp.onnx" in lines[-1], f"last: {lines[-1]}")
    result = kiln.run("exec", "--loadEngine=missing.engine", expect=1)
    check(result.stdout.strip().splitlines()[-1].startswith("&&&& FAILED Kiln.kiln_exec"), "no FAILED line")


def case_help_groups_and_defaults(kiln, ctx):
    text = kiln.run("exec", "--help").stdout
    at = 0
    for group in ["Model Options:", "Build Options:", "Inference Options:", "Reporting Options:", "System Options:"]:
        found = text.find(group, at)
        check(found >= 0, f"'{group}' missing or out of order in --help")
        at = found
    options = re.findall(r"^  (--\w+)[^\n]*", text, re.MULTILINE)
    check(len(options) > 50, f"--help lists only {len(options)} options")
    # Every option's description (which may wrap) states its default.
    blocks = re.split(r"\n(?=  --)", text[text.find("Model Options:"):text.find("Build and Inference Shape")])
    for block in blocks:
        if block.lstrip().startswith("--") and "default" not in block:
            raise CaseFailure(f"an option does not state its default: {block.strip()[:80]}")
    check("Shapes given only for inference" in text, "--help does not explain the shape interplay rules")


def case_build_progress(kiln, ctx):
    # Not a terminal: plain lines.
    result = kiln.run("exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--skipInference")
    for phase in ["Parsing ONNX model", "Building engine", "Planning memory"]:
        check(f"[build] " in result.stdout and phase in result.stdout, f"no plain progress line for '{phase}'")
    check("\r" not in result.stdout and "\x1b" not in result.stdout, "terminal codes in a pipe")
    # A terminal: one status line redrawn in place.
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ctx.tmp)
        os.execv(kiln.binary, [kiln.binary, "exec", "--onnx=mlp.onnx", "--shapes=x:2x8", "--skipInference"])
    output = b""
    while True:
        ready, _, _ = select.select([fd], [], [], TIMEOUT_S)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    check(os.waitstatus_to_exitcode(status) == 0, "the build on a terminal failed")
    text = output.decode(errors="replace")
    check("\r\x1b[K" in text, "no in-place redraw on a terminal")
    check(re.search(r"Building engine \d/5 > Planning memory \d/1 \| ", text), "no nested phase on the status line")
    check("[build]" not in text, "plain progress lines on a terminal")


def case_inspect(kiln, ctx):
    out = kiln.run("inspect", "mlp.onnx").stdout
    check("Opsets: ai.onnx=17" in out, "opsets not shown")
    check("x: float (batch, 8)" in out and "y: float (batch, 5)" in out, "model I/O not shown")
    for op in ["MatMul: 1  import yes, cpu yes", "Softmax: 1  import yes, cpu yes"]:
        check(op in out, f"'{op}' not in the operator list")
    check("Supported by Kiln: 4 of 4 operator types" in out, "support summary")
    result = kiln.run("inspect", "unsupported.onnx")
    check("com.example::FrobnicateTensor: 1  import NO, cpu NO" in result.stdout, "an unknown op is not marked")
    check("Supported by Kiln: 1 of 2 operator types" in result.stdout, "support summary of the unsupported model")
    kiln.run("exec", "--onnx=mlp.onnx", "--minShapes=x:1x8", "--optShapes=x:2x8", "--maxShapes=x:4x8",
             "--saveEngine=i.engine", "--skipInference")
    out = kiln.run("inspect", "i.engine").stdout
    for text in ["Kiln engine: i.engine", "backend: cpu", "input  x: float -1x8", "output y: float -1x5",
                 "profile 0 x: min 1x8, opt 2x8, max 4x8", "activation memory", "Device memory"]:
        check(text in out, f"'{text}' not in the engine inspection")
    check(re.search(r"Layers \(\d+\):\n  \S+ \(\w+\) tactic ", out), "engine layers not listed with tactics")


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


class Context:
    pass


def run_cases(cases, description, tmp_prefix, skip_reason=None, skip_code=77):
    """The command line of a case script: --kiln, --case NAME..., --keep. Runs each case with the kiln
    binary and a context holding the models in a temporary folder; `skip_reason(kiln)` (optional) names
    why the cases cannot run here, which exits with `skip_code`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--case", nargs="+", choices=sorted(cases), help="run only these cases")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix))
    try:
        ctx = Context()
        ctx.tmp = tmp
        ctx.weights, ctx.bias = make_models(tmp)
        kiln = Kiln(args.kiln.resolve(), tmp)
        why = skip_reason(kiln) if skip_reason else None
        if why:
            print(f"SKIPPED: {why}")
            return skip_code
        failed = []
        for name in args.case or cases:
            try:
                cases[name](kiln, ctx)
                print(f"[PASS] {name}")
            except CaseFailure as failure:
                failed.append(name)
                print(f"[FAIL] {name}: {failure}")
            except Exception:  # a bug in the test or a crash of the binary: report, go on
                failed.append(name)
                print(f"[FAIL] {name}:\n{traceback.format_exc()}")
        total = len(args.case or cases)
        print(f"{total - len(failed)} of {total} cases passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0
    except CaseFailure as failure:
        print(f"[FAIL] {failure}")
        return 1
    finally:
        if args.keep:
            print(f"files kept in {tmp}")
        else:
            shutil.rmtree(tmp)


def main():
    return run_cases(CASES, __doc__, "kiln_exec_flags_")


if __name__ == "__main__":
    sys.exit(main())
