#!/usr/bin/env python3
"""The `kiln` Python module (python/, built into build/python): the bundled tiny CNN built and run from
Python and compared with ONNX Runtime; engine metadata and serialization; NumPy zero-copy addresses;
a Python logger; errors as Python exceptions or None, never a crash.

    PYTHONPATH=build/python python_api_test.py --model examples/models/tiny_cnn.onnx
"""

import argparse
import gc
import sys

import numpy as np
import onnxruntime as ort

import kiln
from script_checks import check, summary



class RecordingLogger(kiln.ILogger):
    def __init__(self):
        super().__init__()
        self.messages = []

    def log(self, severity, message):
        self.messages.append((severity, message))


class RaisingLogger(kiln.ILogger):
    def log(self, severity, message):
        raise RuntimeError("a logger that fails")


def build(model, logger, profile_shapes=None):
    builder = kiln.Builder(logger)
    network = builder.create_network()
    parser = kiln.OnnxParser(network, logger)
    assert parser.parse_from_file(model), [parser.get_error(i) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    if profile_shapes:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in profile_shapes.items():
            profile.set_shape(name, lo, opt, hi)
        check(config.add_optimization_profile(profile) == 0, "the profile is accepted")
    return builder.build_serialized_network(network, config)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    logger = RecordingLogger()
    plan = build(args.model, logger, {"input": ((1, 3, 32, 32), (4, 3, 32, 32), (8, 3, 32, 32))})
    check(isinstance(plan, bytes) and plan[:8] == b"KILNPLAN", "build_serialized_network returns the engine's bytes")
    check(any(severity == kiln.Severity.INFO for severity, _ in logger.messages), "a Python logger receives messages")

    engine = kiln.Runtime(logger).deserialize_engine(plan)
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    check(names == ["input", "probabilities"], f"I/O tensor names {names}")
    check(engine.get_tensor_mode("input") == kiln.TensorIOMode.INPUT and
          engine.get_tensor_mode("probabilities") == kiln.TensorIOMode.OUTPUT, "I/O modes")
    check(engine.get_tensor_dtype("input") == kiln.DataType.FLOAT and kiln.nptype(kiln.DataType.FLOAT) == np.float32,
          "dtypes and their NumPy types")
    check(engine.get_tensor_shape("input") == (-1, 3, 32, 32), f"dynamic shape {engine.get_tensor_shape('input')}")
    check(engine.get_tensor_profile_shape("input", 0)[2] == (8, 3, 32, 32), "profile shapes")
    check(engine.backend == "cpu", "a CPU engine")

    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 32, 32)).astype(np.float32)
    reference = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    context = engine.create_execution_context()
    out = context.infer({"input": x})["probabilities"]
    check(out.shape == (5, 10) and np.abs(out - reference).max() < 1e-5,
          f"infer() matches ONNX Runtime at batch 5 (max |diff| {np.abs(out - reference).max():.2e})")
    out64 = context.infer({"input": x.astype(np.float64)})["probabilities"]
    check(np.abs(out64 - reference).max() < 1e-5, "a float64 array is converted to the engine's float32")

    # Addresses: the engine reads and writes the NumPy buffers themselves.
    y = np.full((5, 10), np.nan, np.float32)
    check(context.set_input_shape("input", x.shape), "set_input_shape")
    context.set_tensor_address("input", x.ctypes.data)
    context.set_tensor_address("probabilities", y.ctypes.data)
    check(context.get_tensor_shape("probabilities") == (5, 10), "the output shape follows the input shape")
    check(context.execute() and np.abs(y - reference).max() < 1e-5, "execute() writes into the caller's array")

    # The context keeps its engine alive; a second engine from the same bytes agrees.
    del engine
    gc.collect()
    check(np.array_equal(context.infer({"input": x})["probabilities"], out), "a context outlives the Python engine object")

    try:
        context.infer({"input": x, "bogus": x})
        check(False, "an unknown input name raises")
    except KeyError as e:
        check("bogus" in str(e), f"an unknown input name raises KeyError ({e})")
    try:
        context.infer({"input": np.zeros((9, 3, 32, 32), np.float32)})
        check(False, "a shape outside the profile raises")
    except ValueError as e:
        check("outside the profile" in str(e), f"a shape outside the profile raises ValueError ({e})")
    try:
        context.infer({})
        check(False, "a missing input raises")
    except KeyError as e:
        check("input" in str(e), f"a missing input raises KeyError ({e})")

    quiet = RecordingLogger()
    check(kiln.Runtime(quiet).deserialize_engine(b"not an engine") is None and
          any("KILNPLAN" in m for _, m in quiet.messages), "bytes that are no engine give None and a logged reason")
    builder = kiln.Builder(quiet)
    broken = kiln.OnnxParser(builder.create_network(), quiet)
    check(not broken.parse(b"garbage") and broken.num_errors == 1 and "not a valid ONNX model" in broken.get_error(0),
          "a malformed model: parse() is False and get_error() says why")

    # A network built by hand: MatMul with a constant, then LeakyRelu, against NumPy.
    builder = kiln.Builder(quiet)
    network = builder.create_network()
    x_in = network.add_input("x", kiln.DataType.FLOAT, (2, 3))
    w = rng.standard_normal((3, 4)).astype(np.float32)
    product = network.add_layer("MatMul", [x_in, network.add_constant(w)])
    leaky = network.add_layer("LeakyRelu", [product.get_output(0)], attributes={"alpha": 0.25})
    network.mark_output(leaky.get_output(0))
    hand = kiln.Runtime(quiet).deserialize_engine(builder.build_serialized_network(network, builder.create_builder_config()))
    xv = rng.standard_normal((2, 3)).astype(np.float32)
    expected = xv @ w
    expected = np.where(expected > 0, expected, 0.25 * expected)
    got = list(hand.create_execution_context().infer({"x": xv}).values())[0]
    check(np.abs(got - expected).max() < 1e-5, "a network built with add_input / add_constant / add_layer computes NumPy's result")
    try:
        network.add_layer("NoSuchOp", [x_in])
        check(False, "an unknown op raises")
    except ValueError:
        check(True, "add_layer of an unknown op raises ValueError")

    # The engine cache: batch 4 builds, batch 2 reuses it, and the engine runs batch 3.
    cache = kiln.EngineCache(quiet, args.model, builder.create_builder_config(), kiln.EngineCacheConfig(2))
    four = cache.get_engine({"input": (4, 3, 32, 32)})
    check(cache.get_engine({"input": (2, 3, 32, 32)}) is four and cache.num_builds == 1,
          "EngineCache: an engine for batch 4 serves batch 2 without a build")
    three = x[:3]
    check(np.abs(four.create_execution_context().infer({"input": three})["probabilities"] - reference[:3]).max() < 1e-5,
          "EngineCache: its engine computes ONNX Runtime's result at batch 3")
    check(cache.get_engine({"input": (2, 3, 32)}) is None, "EngineCache: a request of the wrong rank gives None")

    unraisable = []
    sys.unraisablehook = unraisable.append  # where the logger's exceptions go, instead of stderr
    raising = RaisingLogger()
    plan = build(args.model, raising, {"input": ((1, 3, 32, 32), (1, 3, 32, 32), (2, 3, 32, 32))})
    sys.unraisablehook = sys.__unraisablehook__
    check(plan is not None and unraisable and isinstance(unraisable[0].exc_value, RuntimeError),
          f"a logger that raises does not break the build ({len(unraisable)} exceptions reported as unraisable)")

    return summary()


if __name__ == "__main__":
    sys.exit(main())
