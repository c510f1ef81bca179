#!/usr/bin/env python3
"""Zero-copy tensors through DLPack: ExecutionContext.infer() reads torch tensors in place and writes
into the DLPack tensors (torch, NumPy) it is given; what it cannot use in place (another element type, a
strided view, memory on the wrong device) is refused with the reason, never copied behind the caller's
back. Uses Debian's torch (CPU); CUDA engines take CUDA tensors the same way (not run here: no GPU).

    PYTHONPATH=build/python dlpack_test.py
"""

import sys

import numpy as np
import torch

import kiln
from script_checks import check, raises, summary




def scale_add_engine():
    """y = relu(x * w) + b for x (batch, 6), a CPU engine with a dynamic batch."""
    logger = kiln.Logger()
    builder = kiln.Builder(logger)
    network = builder.create_network()
    x = network.add_input("x", kiln.DataType.FLOAT, (-1, 6))
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, (6,)).astype(np.float32)
    b = rng.uniform(-1, 1, (6,)).astype(np.float32)
    scaled = network.add_layer("Mul", [x, network.add_constant(w)]).get_output(0)
    relu = network.add_layer("Relu", [scaled]).get_output(0)
    y = network.add_layer("Add", [relu, network.add_constant(b)]).get_output(0)
    y.name = "y"
    network.mark_output(y)
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, 6), (4, 6), (8, 6))
    config = builder.create_builder_config()
    config.add_optimization_profile(profile)
    engine = kiln.Runtime(logger).deserialize_engine(builder.build_serialized_network(network, config))
    return engine, lambda xv: np.maximum(xv.astype(np.float64) * w, 0) + b


def main():
    engine, reference = scale_add_engine()
    context = engine.create_execution_context()
    x = torch.from_numpy(np.random.default_rng(2).uniform(-2, 2, (3, 6)).astype(np.float32))

    out = context.infer({"x": x})["y"]
    check(isinstance(out, np.ndarray) and np.allclose(out, reference(x.numpy()), rtol=1e-6, atol=1e-6),
          "a torch CPU tensor is read through DLPack")

    target = torch.empty((3, 6), dtype=torch.float32)
    result = context.infer({"x": x}, outputs={"y": target})
    check(result["y"] is target and np.allclose(target.numpy(), reference(x.numpy()), rtol=1e-6, atol=1e-6),
          "the output is written into the torch tensor given, which infer() returns")
    array_target = np.zeros((3, 6), np.float32)
    context.infer({"x": x}, outputs={"y": array_target})
    check(np.allclose(array_target, reference(x.numpy()), rtol=1e-6, atol=1e-6), "and into a NumPy array given")

    # An output handed back as NumPy goes on to torch without a copy.
    shared = torch.from_dlpack(out)
    check(shared.data_ptr() == out.__array_interface__["data"][0], "a NumPy output is shared with torch, not copied")

    check(raises(lambda: context.infer({"x": x.double()}), TypeError, "is double, and the engine's is float"),
          "another element type is refused, not converted")
    check(raises(lambda: context.infer({"x": torch.zeros((6, 3)).t()}), TypeError, "strided view"),
          "a strided view is refused")
    check(raises(lambda: context.infer({"x": x}, outputs={"y": torch.empty((2, 6))}), ValueError,
                 "is given with shape (2, 6), and the run computes (3, 6)"), "an output of the wrong shape is refused")
    check(raises(lambda: context.infer({"x": x}, outputs={"z": torch.empty((3, 6))}), KeyError, "'z' is not an output"),
          "an unknown output name is refused")
    check(raises(lambda: context.infer({"x": x}, outputs={"y": np.zeros((3, 12), np.float32)[:, ::2]}), TypeError,
                 "strided view"),
          "a non-contiguous NumPy output is refused")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
