#pragma once
// Every output of one node on the GPU against the CPU backend on the same inputs (float16 and bfloat16
// included: the CPU kernels of these ops compute in float and round once, as the CUDA ones do), for
// ops with optional outputs (KV caches, states, qk_matmul_output) that expectMatchesCpu does not check.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda_test_support.h"

namespace kiln::cudatest {

/// The tolerances of a storage type: float exact to accumulation order, float16 ~1e-2 relative,
/// bfloat16 (8 mantissa bits) a little wider.
struct Tolerance {
    double rtol, atol;
};
inline Tolerance toleranceOf(DataType type) {
    if (type == DataType::kHALF) return {1e-2, 2e-3};
    if (type == DataType::kBF16) return {2e-2, 1e-2};
    return {1e-4, 1e-5};
}

/// One node's outputs from the CPU backend and from the GPU (run with the CPU's output types and shapes).
struct PairedOutputs {
    std::vector<Tensor> cpu;
    std::vector<Tensor> gpu;  // empty when either side failed (the failure is recorded)
    std::string tactic;
};

inline PairedOutputs runOnCpuAndGpu(Backend& backend, Stream stream, const std::string& opType,
                                    const std::vector<const Tensor*>& inputs, size_t numOutputs,
                                    const AttributeMap& attrs, const std::string& label) {
    PairedOutputs paired;
    paired.cpu = cpuReference(opType, inputs, numOutputs, attrs);
    EXPECT_EQ(paired.cpu.size(), numOutputs) << label;
    if (paired.cpu.size() != numOutputs) return paired;
    std::vector<DataType> types;
    std::vector<Shape> shapes;
    for (const Tensor& t : paired.cpu) {
        types.push_back(t.dtype());
        shapes.push_back(t.shape());
    }
    auto gpu = runOnCuda(backend, stream, opType, inputs, types, shapes, attrs);
    EXPECT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
    if (!gpu.isOk()) return paired;
    paired.gpu = std::move(gpu->outputs);
    paired.tactic = gpu->tactic;
    return paired;
}

/// Runs `opType` with `numOutputs` outputs on the CPU and the GPU and compares each output.
inline void expectOutputsMatchCpu(Backend& backend, Stream stream, const std::string& opType,
                                  const std::vector<const Tensor*>& inputs, size_t numOutputs,
                                  const AttributeMap& attrs, Tolerance tol, const std::string& label) {
    PairedOutputs paired = runOnCpuAndGpu(backend, stream, opType, inputs, numOutputs, attrs, label);
    for (size_t k = 0; k < paired.gpu.size(); ++k)
        EXPECT_EQ(test::compareWithReference(paired.gpu[k], paired.cpu[k].toDoubleVector(), tol.rtol, tol.atol), "")
            << label << ", output " << k << " (tactic " << paired.tactic << ")";
}

}  // namespace kiln::cudatest
