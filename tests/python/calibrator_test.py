#!/usr/bin/env python3
"""INT8 calibration from Python: a kiln.IInt8Calibrator subclass feeds NumPy batches to the build of a
small ONNX CNN; the engine's output stays within INT8's error of FP32 and shows Q/DQ layers; the cache it
wrote skips calibration the next time; errors raised in (or wrong arrays from) get_batch come back as
Python exceptions from build_serialized_network.

    PYTHONPATH=build/python calibrator_test.py
"""

import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import kiln
from script_checks import check, summary


def cnn_model():
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.uniform(-0.4, 0.4, (8, 3, 3, 3)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(rng.uniform(-0.1, 0.1, (8,)).astype(np.float32), "b1")
    w2 = numpy_helper.from_array(rng.uniform(-0.2, 0.2, (4, 8, 3, 3)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["y"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 8, 8])], [w1, b1, w2])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


class NumpyCalibrator(kiln.IInt8Calibrator):
    def __init__(self, batches, algorithm=kiln.CalibrationAlgoType.ENTROPY_2, cache=None):
        super().__init__()
        self.batches, self.algorithm, self.cache = list(batches), algorithm, cache
        self.given, self.written, self.names = 0, None, None

    def get_batch_size(self):
        return 2

    def get_batch(self, names):
        self.names = names
        if self.given >= len(self.batches):
            return None
        self.given += 1
        return {"x": self.batches[self.given - 1]}

    def get_algorithm(self):
        return self.algorithm

    def read_calibration_cache(self):
        return self.cache

    def write_calibration_cache(self, cache):
        self.written = cache


def build(calibrator, int8=True):
    network = BUILDER.create_network()
    parser = kiln.OnnxParser(network, LOGGER)
    assert parser.parse(cnn_model().SerializeToString()), [parser.get_error(i) for i in range(parser.num_errors)]
    config = BUILDER.create_builder_config()
    if int8:
        config.set_flag(kiln.BuilderFlag.INT8)
        config.int8_calibrator = calibrator
    return BUILDER.build_serialized_network(network, config)


def run(plan, x):
    engine = kiln.Runtime(LOGGER).deserialize_engine(plan)
    return engine, engine.create_execution_context().infer({"x": x})["y"]


def main():
    rng = np.random.default_rng(1)
    batches = [rng.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32) for _ in range(6)]
    x = rng.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    _, reference = run(build(None, int8=False), x)

    for algorithm in (kiln.CalibrationAlgoType.MINMAX, kiln.CalibrationAlgoType.ENTROPY_2,
                      kiln.CalibrationAlgoType.PERCENTILE):
        calibrator = NumpyCalibrator(batches, algorithm)
        plan = build(calibrator)
        check(plan is not None and calibrator.given == len(batches), f"{algorithm}: built from every batch")
        check(calibrator.names == ["x"], f"{algorithm}: get_batch got the input names")
        engine, y = run(plan, x)
        error = np.linalg.norm(y - reference) / np.linalg.norm(reference)
        check(0 < error < 2e-2, f"{algorithm}: relative L2 error {error:.2e} is INT8's")
        check("QuantizeLinear" in engine.layer_information, f"{algorithm}: Q/DQ layers in the engine")
        check(isinstance(calibrator.written, bytes) and calibrator.written.startswith(b"KILN-1-"),
              f"{algorithm}: the cache was written")

    first = NumpyCalibrator(batches)
    plan = build(first)
    again = NumpyCalibrator(batches, cache=first.written)
    cached = build(again)
    check(again.given == 0 and np.array_equal(run(plan, x)[1], run(cached, x)[1]), "the cache skips calibration")

    # float64 arrays are converted; a wrong size, a missing input or an exception is raised from the build.
    check(build(NumpyCalibrator([b.astype(np.float64) for b in batches])) is not None, "float64 batches converted")
    for batches_given, exception, text in (
            ([np.zeros((1, 3, 8, 8), np.float32)], ValueError, "shape 2x3x8x8"),
            (["not an array"], ValueError, ""),
    ):
        try:
            build(NumpyCalibrator(batches_given))
            check(False, f"{exception.__name__} raised for a bad batch")
        except exception as e:
            check(text in str(e), f"{exception.__name__} raised for a bad batch: {e}")

    class Failing(NumpyCalibrator):
        def get_batch(self, names):
            raise RuntimeError("no data today")
    try:
        build(Failing(batches))
        check(False, "an exception in get_batch is raised from the build")
    except RuntimeError as e:
        check("no data today" in str(e), "an exception in get_batch is raised from the build")

    damaged = NumpyCalibrator(batches, cache=b"KILN-1-EntropyCalibration2\nx: nothex!\n")
    check(build(damaged) is None and damaged.given == 0, "a damaged cache fails the build (the logger says why)")
    return summary()


LOGGER = kiln.Logger()
BUILDER = kiln.Builder(LOGGER)

if __name__ == "__main__":
    sys.exit(main())
