"""Kiln: build optimized inference engines from ONNX models and run them.

The classes follow TensorRT's Python API (Builder, OnnxParser, BuilderConfig, Runtime, Engine,
ExecutionContext). ExecutionContext.infer() runs on NumPy arrays or DLPack tensors (torch, CuPy), which
it uses in place; plugins and graph surgery are here too (get_plugin_registry, IPluginCreator, surgeon):

    import kiln
    logger = kiln.Logger()
    builder = kiln.Builder(logger)
    network = builder.create_network()
    parser = kiln.OnnxParser(network, logger)
    assert parser.parse_from_file("model.onnx"), [parser.get_error(i) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    plan = builder.build_serialized_network(network, config)
    engine = kiln.Runtime(logger).deserialize_engine(plan)
    outputs = engine.create_execution_context().infer({"input": array})
"""

from ._kiln import *  # noqa: F401,F403
from ._kiln import __version__  # noqa: F401
