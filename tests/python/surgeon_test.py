#!/usr/bin/env python3
"""kiln.surgeon from Python: the SSD-style edit (a subgraph Kiln cannot handle replaced by one node a
plugin implements), saved and checked with onnx.checker; constant folding; errors raise RuntimeError
with the logged reason.

    PYTHONPATH=build/python surgeon_test.py
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import kiln
from script_checks import check, summary



def ssd_like_model(path):
    """features -> conv head; an anchor generator written out as Shape/Slice/Mul... under a
    'MultipleGridAnchorGenerator/' namespace; both feed a Concat output."""
    rng = np.random.default_rng(3)
    nodes = [
        helper.make_node("Conv", ["image", "conv_w"], ["features"], name="FeatureExtractor/conv"),
        helper.make_node("Flatten", ["features"], ["flat"], name="FeatureExtractor/flatten", axis=1),
        helper.make_node("Shape", ["features"], ["fshape"], name="MultipleGridAnchorGenerator/Shape"),
        helper.make_node("Cast", ["fshape"], ["fshape_f"], name="MultipleGridAnchorGenerator/Cast",
                         to=TensorProto.FLOAT),
        helper.make_node("Mul", ["fshape_f", "scale"], ["anchors_raw"], name="MultipleGridAnchorGenerator/Mul"),
        helper.make_node("Unsqueeze", ["anchors_raw", "axes0"], ["anchors"],
                         name="MultipleGridAnchorGenerator/Unsqueeze"),
        helper.make_node("Identity", ["anchors"], ["anchors_out"], name="anchors_identity"),
    ]
    graph = helper.make_graph(
        nodes, "ssd_like",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("flat", TensorProto.FLOAT, [1, 144]),
         helper.make_tensor_value_info("anchors_out", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "conv_w"),
                     numpy_helper.from_array(np.full(4, 0.5, np.float32), "scale"),
                     numpy_helper.from_array(np.array([0], np.int64), "axes0")])
    # What onnx.shape_inference would record: folding reads Shape's answer from declared shapes.
    graph.value_info.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 4, 6, 6]))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ssd_like_model(tmp / "ssd.onnx")
        graph = kiln.surgeon.OnnxGraph.load(str(tmp / "ssd.onnx"))
        anchors = graph.find_nodes(name_prefix="MultipleGridAnchorGenerator/")
        check(len(anchors) == 4, f"the anchor generator's four nodes are found: {anchors}")
        check(graph.find_nodes(op_type="Conv", domain="") == ["FeatureExtractor/conv"], "find by op type and domain")
        graph.replace_subgraph(anchors, "GridAnchor", "GridAnchor_TRT", domain="kiln.plugins",
                               attributes={"numLayers": 6, "minSize": 0.2, "aspectRatios": [1.0, 2.0, 0.5],
                                           "featureMapShapes": [19, 10, 5]},
                               initializer_inputs=False)
        node = graph.node("GridAnchor")
        check(node["inputs"] == ["features"] and node["outputs"] == ["anchors"],
              f"the boundary: features in, anchors out: {node}")
        check(sorted(node["attribute_names"]) == ["aspectRatios", "featureMapShapes", "minSize", "numLayers"],
              "the attributes are set")
        check(graph.tensor("anchors")["producer"] == "GridAnchor", "the new node produces the boundary output")
        graph.cleanup()
        graph.toposort()
        graph.save(str(tmp / "ssd_plugins.onnx"))
        model = onnx.load(str(tmp / "ssd_plugins.onnx"))
        onnx.checker.check_model(model)
        check(True, "the saved model passes onnx.checker")
        check([n.op_type for n in model.graph.node] == ["Conv", "Flatten", "GridAnchor_TRT", "Identity"],
              f"node order: {[n.op_type for n in model.graph.node]}")
        check(sorted(i.name for i in model.graph.initializer) == ["conv_w"], "unused initializers are gone")
        check(any(o.domain == "kiln.plugins" for o in model.opset_import), "the plugin domain is imported")
        anchor = next(n for n in model.graph.node if n.op_type == "GridAnchor_TRT")
        attrs = {a.name: helper.get_attribute_value(a) for a in anchor.attribute}
        check(attrs["numLayers"] == 6 and attrs["featureMapShapes"] == [19, 10, 5], f"attribute values: {attrs}")

        # Constant folding on the original: the anchor chain folds through the static shape.
        folded = kiln.surgeon.OnnxGraph.load(str(tmp / "ssd.onnx"))
        count = folded.fold_constants()
        folded.cleanup()
        check(count == 5, f"the four anchor nodes and the Identity after them fold ({count})")
        model = onnx.load_from_string(folded.serialize())
        anchors_value = next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == "anchors_out")
        expected = np.array([[1, 4, 6, 6]], np.float64) * 0.5
        check(np.allclose(anchors_value, expected), f"the folded anchors: {anchors_value}")

        # Errors raise RuntimeError with the logged reason, and change nothing.
        for call, needle in [
            (lambda: graph.remove_nodes(["nope"]), "no node is called 'nope'"),
            (lambda: graph.remove_nodes(["FeatureExtractor/flatten"]), "graph output 'flat'"),
            (lambda: kiln.surgeon.OnnxGraph.load(str(tmp / "missing.onnx")), "missing.onnx"),
            (lambda: graph.replace_subgraph(["FeatureExtractor/conv"], "x", "Op", outputs=["z"]), "'features'"),
        ]:
            try:
                call()
                check(False, f"raises for {needle}")
            except RuntimeError as error:
                check(needle in str(error), f"raises RuntimeError naming {needle}: {error}")
        check(graph.node_names == ["FeatureExtractor/conv", "FeatureExtractor/flatten", "GridAnchor",
                                   "anchors_identity"], "failed edits changed nothing")
        check(graph.node("nope") is None and graph.tensor("nope") is None, "unknown names give None")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
