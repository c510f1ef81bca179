#!/usr/bin/env python3
"""End-to-end tests of plugin libraries on the command line (--staticPlugins, --dynamicPlugins and the
deprecated --plugins): an ONNX model holding an operator no importer knows (FlattenConcat, SSD's layer)
builds and runs once the sample plugin library (tests/plugins/sample_plugins.cpp, path in the environment
variable KILN_SAMPLE_PLUGINS) is loaded, its engine needs the library again where it is loaded, and the
outputs equal a numpy reference.

    plugins_test.py --kiln PATH [--case NAME ...] [--keep]
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exec_flags_test import QUICK, check, errors, run_cases  # noqa: E402

LIBRARY = os.environ.get("KILN_SAMPLE_PLUGINS", "")


def make_plugin_model(tmp):
    """boxes [batch, 3, 4] and scores [batch, 6] -> FlattenConcat (domain my.ops, axis 1) -> out [batch, 18]."""
    node = helper.make_node("FlattenConcat", ["boxes", "scores"], ["out"], name="flatten_concat", domain="my.ops",
                            axis=1)
    graph = helper.make_graph([node], "ssd_head",
                              [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["batch", 3, 4]),
                               helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 6])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 18])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)])
    model.ir_version = 8
    onnx.save(model, str(tmp / "ssd_head.onnx"))


def run_with_inputs(kiln, ctx, *flags):
    rng = np.random.default_rng(11)
    boxes = rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
    scores = rng.uniform(-1, 1, (2, 6)).astype(np.float32)
    np.save(ctx.tmp / "boxes.npy", boxes)
    np.save(ctx.tmp / "scores.npy", scores)
    result = kiln.run("exec", *flags, "--shapes=boxes:2x3x4,scores:2x6", "--loadInputs=boxes:boxes.npy,scores:scores.npy",
                      "--exportOutput=out.json", "--iterations=1", *QUICK)
    out = json.loads((ctx.tmp / "out.json").read_text())
    # The JSON holds each float32 in enough digits to round back to it exactly.
    got = np.array(out[0]["values"], dtype=np.float32).reshape(2, 18)
    expected = np.concatenate([boxes.reshape(2, -1), scores.reshape(2, -1)], axis=1)
    check(np.array_equal(got, expected), f"FlattenConcat's output differs from numpy's: {got} vs {expected}")
    return result


def case_custom_operator_needs_its_plugin(kiln, ctx):
    make_plugin_model(ctx.tmp)
    result = kiln.run("exec", "--onnx=ssd_head.onnx", "--shapes=boxes:2x3x4,scores:2x6", expect=1)
    check(any("my.ops::FlattenConcat" in line for line in errors(result)),
          f"the unsupported operator is not named: {errors(result)}")


def case_static_plugins_build_and_run(kiln, ctx):
    make_plugin_model(ctx.tmp)
    result = run_with_inputs(kiln, ctx, "--onnx=ssd_head.onnx", f"--staticPlugins={LIBRARY}", "--saveEngine=ssd.plan")
    check(f"Loaded plugin library '{LIBRARY}': FlattenConcat v1" in result.stdout,
          "the loaded library and its creators are not reported")
    check("is imported as plugin 'FlattenConcat' version '1'" in result.stdout, "the plugin layer is not reported")


def case_engine_needs_the_library_where_it_loads(kiln, ctx):
    make_plugin_model(ctx.tmp)
    kiln.run("exec", "--onnx=ssd_head.onnx", f"--staticPlugins={LIBRARY}", "--shapes=boxes:2x3x4,scores:2x6",
             "--saveEngine=ssd.plan", "--skipInference")
    result = kiln.run("exec", "--loadEngine=ssd.plan", "--shapes=boxes:2x3x4,scores:2x6", "--iterations=1", *QUICK,
                      expect=1)
    check(any("plugin 'FlattenConcat' version '1' is not registered" in line for line in errors(result)),
          f"loading without the library does not say what is missing: {errors(result)}")
    run_with_inputs(kiln, ctx, "--loadEngine=ssd.plan", f"--dynamicPlugins={LIBRARY}")
    result = run_with_inputs(kiln, ctx, "--loadEngine=ssd.plan", f"--plugins={LIBRARY}")
    check(f"--plugins is deprecated; its modern form is --staticPlugins={LIBRARY}" in result.stderr + result.stdout,
          "--plugins does not print its modern form")


def case_inspect_counts_plugin_operators(kiln, ctx):
    make_plugin_model(ctx.tmp)
    result = kiln.run("inspect", "ssd_head.onnx")
    check("my.ops::FlattenConcat: 1  import NO" in result.stdout, "without plugins the operator is unsupported")
    result = kiln.run("inspect", "ssd_head.onnx", f"--staticPlugins={LIBRARY}")
    check("my.ops::FlattenConcat: 1  import as a plugin layer" in result.stdout and
          "Supported by Kiln: 1 of 1 operator types" in result.stdout and "FlattenConcat: 1" in result.stdout,
          f"with the library the operator is a plugin layer: {result.stdout}")


def case_bad_library(kiln, ctx):
    make_plugin_model(ctx.tmp)
    result = kiln.run("exec", "--onnx=ssd_head.onnx", "--staticPlugins=/nonexistent/libplugins.so", expect=1)
    check(any("--staticPlugins: cannot load the plugin library '/nonexistent/libplugins.so'" in line
              for line in errors(result)), f"a missing library is not reported: {errors(result)}")
    result = kiln.run("exec", "--onnx=ssd_head.onnx", "--staticPlugins=libm.so.6", expect=1)
    check(any("registered no plugin creator" in line for line in errors(result)),
          f"a library without plugins is not reported: {errors(result)}")


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if not LIBRARY or not Path(LIBRARY).is_file():
        print(f"KILN_SAMPLE_PLUGINS must name the sample plugin library (got '{LIBRARY}')")
        return 1
    return run_cases(CASES, __doc__, "kiln_plugins_")


if __name__ == "__main__":
    sys.exit(main())
