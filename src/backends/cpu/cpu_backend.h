#pragma once
// The CPU backend: host memory, OpenBLAS for GEMM/convolution, plain (OpenMP) kernels for the rest.

#include <memory>

#include "backends/backend.h"
#include "ir/shape_inference.h"

namespace kiln {

std::unique_ptr<Backend> createCpuBackend();

/// The process's CPU backend (getBackend("cpu")): kernels that run subgraphs (If, Loop, Scan,
/// FlexAttention's modifiers) create the subgraph's kernels and buffers through it.
Backend& cpuBackend();

/// Runs nodes on the host with the CPU kernels: the evaluator of constant folding and of
/// shape-value propagation.
class CpuNodeEvaluator : public NodeEvaluator {
public:
    Expected<std::vector<Tensor>> evaluate(const Node& node, const std::vector<const Tensor*>& inputs,
                                           const std::vector<ValueInfo>& outputs) const override;
};

}  // namespace kiln
