#pragma once
// Shared helpers for Kiln's unit tests: random data, a double-precision reference comparison,
// and running one node through the CPU backend.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/graph.h"
#include "ir/op_registry.h"
#include "ir/tensor.h"

namespace kiln::test {

/// A tensor of `dtype` and `shape` filled with uniform values in [lo, hi) (rounded for integers).
Tensor randomTensor(DataType dtype, const Shape& shape, double lo, double hi, uint32_t seed);
/// `n` random bytes (any bit pattern: data for code that moves bytes without reading them as numbers).
std::vector<uint8_t> randomBytes(size_t n, uint32_t seed);

/// Max relative-or-absolute error check: |a-b| <= atol + rtol*|b| for each element (b is the
/// reference). Returns "" when all pass, otherwise a description of the worst element.
std::string compareWithReference(const Tensor& actual, const std::vector<double>& reference, double rtol, double atol);

/// The relative L2 distance ||actual - reference|| / ||reference|| over all elements (read as double): the
/// whole-network accuracy measure of the reduced-precision tests.
double relativeL2(const Tensor& actual, const std::vector<double>& reference);

/// Builds a one-node graph with constant-free inputs of the given tensors, infers shapes, runs the
/// node with the CPU backend and returns its outputs. Attributes are set on the node by `configure`.
struct SingleNodeRun {
    std::vector<Tensor> outputs;
    Status status;
};
SingleNodeRun runSingleNode(const std::string& opType, const std::vector<const Tensor*>& inputs, size_t numOutputs,
                            const AttributeMap& attrs, const std::string& domain = "");

}  // namespace kiln::test
