#!/usr/bin/env python3
"""Plugins from Python: a plugin library loaded into the registry, a plugin written in Python (its
enqueue works on NumPy views of the engine's buffers), both as hand-added layers and as ONNX operators,
through a saved and reloaded engine; and the seed's SSD workflow end to end: kiln.surgeon replaces a
subgraph by one custom node, the plugin library implements it, and the engine's outputs equal the
original model's.

    PYTHONPATH=build/python KILN_SAMPLE_PLUGINS=build/tests/libkiln_sample_plugins.so plugin_test.py
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

import kiln
from script_checks import check, raises, summary




class ClampScaleRuntime(kiln.IPluginRuntime):
    """y = clip(x * scale, -limit, limit) and a mask of the clipped elements (two outputs)."""

    def __init__(self, scale, limit):
        super().__init__()
        self.scale, self.limit = scale, limit

    def get_num_outputs(self):
        return 2

    def get_output_data_types(self, input_types):
        return [input_types[0], kiln.DataType.BOOL]

    def get_output_shapes(self, input_shapes):
        return [input_shapes[0], input_shapes[0]]

    def enqueue(self, backend, inputs, outputs, stream):
        scaled = inputs[0] * self.scale
        np.clip(scaled, -self.limit, self.limit, out=outputs[0])
        outputs[1][...] = np.abs(scaled) > self.limit


class ClampScaleBuild(kiln.IPluginBuild):
    def __init__(self, fields):
        super().__init__()
        self.fields = fields

    def supports_format_combination(self, backend, input_types, output_types):
        return backend == "cpu" and input_types == [kiln.DataType.FLOAT]

    def get_fields_to_serialize(self):
        return self.fields


class ClampScaleCreator(kiln.IPluginCreator):
    def __init__(self):
        super().__init__("ClampScale", "1", "")

    @staticmethod
    def read(fields):
        if fields.get("limit", 1.0) <= 0:
            raise ValueError(f"ClampScale's limit must be positive, got {fields['limit']}")
        return {"scale": float(fields.get("scale", 1.0)), "limit": float(fields.get("limit", 1.0))}

    def create_build_part(self, fields):
        return ClampScaleBuild(self.read(fields))

    def create_runtime_part(self, fields):
        fields = self.read(fields)
        return ClampScaleRuntime(fields["scale"], fields["limit"])


def build_and_run(network, logger, feeds):
    builder_config = BUILDER.create_builder_config()
    plan = BUILDER.build_serialized_network(network, builder_config)
    if plan is None:
        return None
    engine = kiln.Runtime(logger).deserialize_engine(plan)
    return engine.create_execution_context().infer(feeds)


def parse(model):
    network = BUILDER.create_network()
    parser = kiln.OnnxParser(network, LOGGER)
    ok = parser.parse(model.SerializeToString())
    return network if ok else None, [parser.get_error(i) for i in range(parser.num_errors)]


def test_library(library):
    registry = kiln.get_plugin_registry()
    registry.load_library(library)
    check(("FlattenConcat", "1", "") in registry.creators, "the library's creators are listed")
    check(raises(lambda: registry.load_library("/nonexistent/lib.so"), RuntimeError, "cannot load the plugin library"),
          "a missing library raises with the reason")

    network = BUILDER.create_network()
    a = network.add_input("a", kiln.DataType.FLOAT, (2, 3, 4))
    b = network.add_input("b", kiln.DataType.FLOAT, (2, 5))
    layer = network.add_plugin_layer([a, b], "FlattenConcat", fields={"axis": 1})
    check(layer.get_output(0).shape == (2, 17), "the plugin's output shape is inferred")
    network.mark_output(layer.get_output(0))
    rng = np.random.default_rng(1)
    av, bv = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 5)).astype(np.float32)
    out = list(build_and_run(network, LOGGER, {"a": av, "b": bv}).values())[0]
    check(np.array_equal(out, np.concatenate([av.reshape(2, -1), bv], axis=1)), "FlattenConcat from the library runs")
    check(raises(lambda: network.add_plugin_layer([a], "FlattenConcat", fields={"axis": 0}), ValueError, "cannot add"),
          "fields the plugin refuses raise")


def test_python_plugin():
    kiln.get_plugin_registry().register_creator(ClampScaleCreator())
    check(("ClampScale", "1", "") in kiln.get_plugin_registry().creators, "a Python creator registers")
    x = np.random.default_rng(2).uniform(-3, 3, (4, 6)).astype(np.float32)
    expected = np.clip(x * 1.5, -2.0, 2.0)

    network = BUILDER.create_network()
    xin = network.add_input("x", kiln.DataType.FLOAT, (4, 6))
    layer = network.add_plugin_layer([xin], "ClampScale", fields={"scale": 1.5, "limit": 2.0})
    check(layer.num_outputs == 2 and layer.get_output(1).dtype == kiln.DataType.BOOL, "two outputs, types inferred")
    network.mark_output(layer.get_output(0))
    network.mark_output(layer.get_output(1))
    outs = list(build_and_run(network, LOGGER, {"x": x}).values())
    check(np.allclose(outs[0], expected, rtol=1e-6, atol=1e-6), "the Python plugin computes through the engine")
    check(np.array_equal(outs[1], np.abs(x * 1.5) > 2.0), "its second output too")
    check(raises(lambda: network.add_plugin_layer([xin], "ClampScale", fields={"limit": -1.0}), ValueError, "cannot add"),
          "a Python exception in create_build_part refuses the layer")

    # As an ONNX operator (the parser finds the Python creator by op type).
    node = helper.make_node("ClampScale", ["x"], ["y", "mask"], domain="custom", scale=1.5, limit=2.0)
    graph = helper.make_graph([node], "clamp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 6]),
                               helper.make_tensor_value_info("mask", TensorProto.BOOL, [4, 6])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)])
    network, errors = parse(model)
    check(network is not None, f"the ONNX operator becomes the Python plugin's layer {errors}")
    outs = build_and_run(network, LOGGER, {"x": x})
    check(np.allclose(outs["y"], expected, rtol=1e-6, atol=1e-6), "the imported Python plugin runs")


def ssd_head_model():
    """boxes (2, 3, 4) and scores (2, 6): each flattened, then concatenated (what FlattenConcat does)."""
    nodes = [helper.make_node("Flatten", ["boxes"], ["boxes_flat"], name="head/flatten_boxes", axis=1),
             helper.make_node("Flatten", ["scores"], ["scores_flat"], name="head/flatten_scores", axis=1),
             helper.make_node("Concat", ["boxes_flat", "scores_flat"], ["concat"], name="head/concat", axis=1),
             helper.make_node("Relu", ["concat"], ["out"], name="relu")]
    graph = helper.make_graph(nodes, "ssd_head",
                              [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [2, 3, 4]),
                               helper.make_tensor_value_info("scores", TensorProto.FLOAT, [2, 6])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 18])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_surgery_then_plugin(tmp):
    original = tmp / "ssd_head.onnx"
    onnx.save(ssd_head_model(), str(original))
    graph = kiln.surgeon.OnnxGraph.load(str(original))
    head = graph.find_nodes(name_prefix="head/")
    graph.replace_subgraph(head, "head/flatten_concat", "FlattenConcat", domain="my.plugins", attributes={"axis": 1})
    graph.cleanup()
    graph.toposort()
    edited = tmp / "ssd_head_plugin.onnx"
    graph.save(str(edited))
    model = onnx.load(str(edited))
    check([n.op_type for n in model.graph.node] == ["FlattenConcat", "Relu"], "the head became one FlattenConcat node")

    rng = np.random.default_rng(5)
    feeds = {"boxes": rng.standard_normal((2, 3, 4)).astype(np.float32),
             "scores": rng.standard_normal((2, 6)).astype(np.float32)}
    reference_net, errors = parse(ssd_head_model())
    reference = build_and_run(reference_net, LOGGER, feeds)["out"]
    plugin_net, errors = parse(model)
    check(plugin_net is not None, f"the edited model imports with the plugin {errors}")
    got = build_and_run(plugin_net, LOGGER, feeds)["out"]
    check(np.array_equal(got, reference), "the edited model with the plugin gives the original model's outputs")


def main():
    library = os.environ.get("KILN_SAMPLE_PLUGINS", "")
    if not Path(library).is_file():
        print(f"KILN_SAMPLE_PLUGINS must name the sample plugin library (got '{library}')")
        return 1
    test_library(library)
    test_python_plugin()
    with tempfile.TemporaryDirectory() as tmp:
        test_surgery_then_plugin(Path(tmp))
    return summary()


LOGGER = kiln.Logger()
BUILDER = kiln.Builder(LOGGER)

if __name__ == "__main__":
    sys.exit(main())
