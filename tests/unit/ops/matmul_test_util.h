#pragma once
// Helpers of the MatMul / Conv / pooling / normalization / reduction op tests: per-dtype
// tolerances, a one-node run that must succeed, and shape inference of one node on symbolic inputs.

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "ir/shape_inference.h"
#include "test_support.h"

namespace kiln::test {

struct Tol {
    double rtol;
    double atol;
};

/// Tolerance for a result stored in `type`, computed from sums of `terms` products of values of
/// magnitude ~1 (rounding grows with sqrt(terms)); the reference uses the same (rounded) inputs.
inline Tol tolFor(DataType type, int64_t terms = 1) {
    const double growth = std::sqrt(static_cast<double>(std::max<int64_t>(terms, 1)));
    switch (type) {
        case DataType::kFLOAT: return {1e-4, 1e-5 * growth};
        case DataType::kDOUBLE: return {1e-10, 1e-12 * growth};
        case DataType::kHALF: return {4e-3, 2e-3 * growth};
        case DataType::kBF16: return {2e-2, 1.6e-2 * growth};
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT16:
        case DataType::kUINT16:
        case DataType::kINT32:
        case DataType::kUINT32:
        case DataType::kINT64:
        case DataType::kUINT64:
        case DataType::kBOOL: return {0, 0};
    }
    return {0, 0};
}

/// Runs one node that must succeed and returns its outputs.
inline std::vector<Tensor> runNode(const std::string& op, const std::vector<const Tensor*>& inputs, size_t numOutputs,
                                   const AttributeMap& attrs) {
    SingleNodeRun run = runSingleNode(op, inputs, numOutputs, attrs);
    EXPECT_TRUE(run.status.isOk()) << op << ": " << run.status.message();
    if (!run.status.isOk()) return std::vector<Tensor>(numOutputs);
    return run.outputs;
}

inline Tensor runOne(const std::string& op, const std::vector<const Tensor*>& inputs, const AttributeMap& attrs = {}) {
    return runNode(op, inputs, 1, attrs)[0];
}

/// Checks shape and dtype, then every element against the reference.
inline void expectClose(const Tensor& actual, DataType type, const Shape& shape, const std::vector<double>& reference,
                        Tol tol, const std::string& what) {
    EXPECT_EQ(actual.dtype(), type) << what;
    EXPECT_EQ(actual.shape(), shape) << what;
    if (actual.shape() != shape) return;
    std::string error = compareWithReference(actual, reference, tol.rtol, tol.atol);
    EXPECT_TRUE(error.empty()) << what << ": " << error;
}

/// One input of a node whose shape is inferred: a graph input with a (symbolic) shape, or a
/// constant when `value` is set.
struct InputSpec {
    DataType dtype{DataType::kFLOAT};
    SymShape shape;
    std::optional<Tensor> value;

    static InputSpec of(DataType dtype, SymShape shape) { return {dtype, std::move(shape), std::nullopt}; }
    static InputSpec constant(Tensor value) { return {value.dtype(), fromConcrete(value.shape()), std::move(value)}; }
};

struct InferResult {
    Status status;
    std::vector<ValueInfo> outputs;
};

/// Runs shape inference of one node (no evaluator: values stay unknown unless inference sets them).
inline InferResult inferOne(const std::string& op, const std::vector<InputSpec>& inputs, size_t numOutputs,
                            const AttributeMap& attrs = {}) {
    Graph graph;
    std::vector<Value*> values;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const InputSpec& spec = inputs[i];
        const std::string name = "in" + std::to_string(i);
        if (spec.value) values.push_back(graph.addConstant(name, *spec.value));
        else values.push_back(graph.addInput(name, spec.dtype, spec.shape));
    }
    Node* node = graph.addNode(op, "node", values, {}, numOutputs);
    node->attrs = attrs;
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    InferResult result;
    result.status = inferShapes(graph, infos, ShapeInferenceOptions{});
    if (result.status.isOk())
        for (Value* out : node->outputs) result.outputs.push_back(infos[static_cast<size_t>(out->id)]);
    return result;
}

/// The inferred shape of output 0, rendered like "(batch, 64, 56, 56)", or "error: ...".
inline std::string inferredShape(const InferResult& r, size_t output = 0) {
    if (!r.status.isOk()) return "error: " + r.status.message();
    return symShapeToString(r.outputs[output].shape);
}

inline AttributeMap attrsOf(std::initializer_list<std::pair<const char*, AttributeValue>> entries) {
    AttributeMap attrs;
    for (const auto& [name, value] : entries) attrs.set(name, value);
    return attrs;
}

/// Row-major strides of a shape.
inline Shape stridesOf(const Shape& shape) {
    Shape strides(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
    return strides;
}

}  // namespace kiln::test
