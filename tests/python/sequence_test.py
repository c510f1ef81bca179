#!/usr/bin/env python3
"""Sequences and optionals from Python: infer() takes a list of arrays for a sequence input and an array
or None for an optional one, and gives sequence outputs as lists of arrays; checked against NumPy.

    PYTHONPATH=build/python sequence_test.py
"""

import sys

import numpy as np
from onnx import TensorProto, helper

import kiln
from script_checks import check, raises, summary


def model():
    """xs: seq(float [n, 3]), maybe: optional(float [2]), x: float [3, 4] ->
    count = SequenceLength(xs), joined = ConcatFromSequence(xs, axis 0), has = OptionalHasElement(maybe),
    parts = SplitToSequence(x, [1, 2]) (a sequence output)."""
    nodes = [helper.make_node("SequenceLength", ["xs"], ["count"]),
             helper.make_node("ConcatFromSequence", ["xs"], ["joined"], axis=0),
             helper.make_node("OptionalHasElement", ["maybe"], ["has"]),
             helper.make_node("SplitToSequence", ["x", "split"], ["parts"], axis=0)]
    optional = helper.make_optional_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [2]))
    graph = helper.make_graph(
        nodes, "sequences",
        [helper.make_tensor_sequence_value_info("xs", TensorProto.FLOAT, ["n", 3]),
         helper.make_value_info("maybe", optional),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("count", TensorProto.INT64, []),
         helper.make_tensor_value_info("joined", TensorProto.FLOAT, ["m", 3]),
         helper.make_tensor_value_info("has", TensorProto.BOOL, []),
         helper.make_tensor_sequence_value_info("parts", TensorProto.FLOAT, [None, 4])],
        initializer=[helper.make_tensor("split", TensorProto.INT64, [2], [1, 2])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


def main():
    logger = kiln.Logger()
    builder = kiln.Builder(logger)
    network = builder.create_network()
    parser = kiln.OnnxParser(network, logger)
    ok = parser.parse(model().SerializeToString())
    check(ok, f"the model imports {[parser.get_error(i) for i in range(parser.num_errors)]}")
    engine = kiln.Runtime(logger).deserialize_engine(
        builder.build_serialized_network(network, builder.create_builder_config()))
    check(engine.get_tensor_kind("xs") == kiln.IOKind.SEQUENCE and
          engine.get_tensor_kind("maybe") == kiln.IOKind.OPTIONAL_TENSOR and
          engine.get_tensor_kind("parts") == kiln.IOKind.SEQUENCE and engine.get_tensor_kind("x") == kiln.IOKind.TENSOR,
          "the engine tells sequences and optionals from tensors")
    context = engine.create_execution_context()
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((1, 3)).astype(np.float32)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out = context.infer({"xs": [a, b], "maybe": np.ones(2, np.float32), "x": x})
    check(int(out["count"]) == 2, "SequenceLength of a list of two arrays")
    check(np.array_equal(out["joined"], np.concatenate([a, b])), "ConcatFromSequence of the list")
    check(bool(out["has"]), "an optional holding an array has an element")
    check(isinstance(out["parts"], list) and len(out["parts"]) == 2 and np.array_equal(out["parts"][0], x[:1]) and
          np.array_equal(out["parts"][1], x[1:]), "a sequence output comes back as a list of arrays")
    out = context.infer({"xs": [a.astype(np.float64)], "maybe": None, "x": x})
    check(not bool(out["has"]) and np.array_equal(out["joined"], a), "None is an empty optional; elements convert")
    check(raises(lambda: context.infer({"xs": a, "maybe": None, "x": x}), TypeError, "give a list of arrays"),
          "an array where a sequence is expected is refused")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
