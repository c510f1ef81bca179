#!/usr/bin/env python3
"""DLPack on a CUDA engine: ExecutionContext.infer() reads torch CUDA tensors in place, writes into the
torch CUDA tensors given as outputs, on torch's current stream, and refuses host tensors. Exits 77
(skipped) where torch has no CUDA device, or where the kiln module cannot be imported because it was
built for another Python (a build carried to a GPU machine: scripts/gpu_test.sh; the module is then built
there and this script run by scripts/gpu_python_test.sh).

    PYTHONPATH=build/python dlpack_cuda_test.py
"""

import sys

import numpy as np
import torch

from script_checks import check, raises, summary

SKIP = 77


def main():
    if not torch.cuda.is_available():
        print("SKIPPED: torch sees no CUDA device")
        return SKIP
    try:
        import kiln
    except ImportError as error:
        print(f"SKIPPED: the kiln module is not importable by this Python: {error}")
        return SKIP
    logger = kiln.Logger()
    builder = kiln.Builder(logger)
    if not builder.platform_has_gpu:
        print("SKIPPED: Kiln's CUDA backend is not available here")
        return SKIP
    network = builder.create_network()
    x = network.add_input("x", kiln.DataType.FLOAT, (4, 32))
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, (32,)).astype(np.float32)
    scaled = network.add_layer("Mul", [x, network.add_constant(w)]).get_output(0)
    y = network.add_layer("Relu", [scaled]).get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    config.default_device_type = kiln.DeviceType.GPU
    engine = kiln.Runtime(logger).deserialize_engine(builder.build_serialized_network(network, config))
    context = engine.create_execution_context()

    xs = torch.from_numpy(rng.uniform(-2, 2, (4, 32)).astype(np.float32)).cuda()
    ys = torch.empty((4, 32), device="cuda")
    stream = torch.cuda.current_stream()
    result = context.infer({"x": xs}, outputs={"y": ys}, stream=stream.cuda_stream)
    stream.synchronize()
    expected = np.maximum(xs.cpu().numpy().astype(np.float64) * w, 0)
    check(result["y"] is ys and np.allclose(ys.cpu().numpy(), expected, rtol=1e-6, atol=1e-6),
          "torch CUDA tensors in and out, in place, on torch's stream")
    check(raises(lambda: context.infer({"x": xs}), TypeError, "a CUDA engine writes into device tensors you give"),
          "outputs must be given for a CUDA engine")
    check(raises(lambda: context.infer({"x": xs.cpu()}, outputs={"y": ys}), TypeError, "is in host memory"),
          "a host tensor is refused by a CUDA engine")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
