#pragma once
// Helpers for the shape and tensor op tests: typed random data, N-d index math for the references,
// and one-node shape inference over symbolic inputs.

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"
#include "test_support.h"

namespace kiln::test {

inline const std::vector<DataType> kAllDataTypes = {
    DataType::kFLOAT, DataType::kHALF,   DataType::kBF16,   DataType::kDOUBLE, DataType::kINT8,
    DataType::kUINT8, DataType::kINT16,  DataType::kUINT16, DataType::kINT32,  DataType::kUINT32,
    DataType::kINT64, DataType::kUINT64, DataType::kBOOL};

/// Random data whose values survive a round trip through double exactly (small integers for every
/// type; unsigned types get non-negative values).
inline Tensor randomData(DataType type, const Shape& shape, uint32_t seed) {
    bool isUnsigned =
        type == DataType::kUINT8 || type == DataType::kUINT16 || type == DataType::kUINT32 || type == DataType::kUINT64;
    if (type == DataType::kFLOAT || type == DataType::kDOUBLE) return randomTensor(type, shape, -10, 10, seed);
    return randomTensor(type, shape, isUnsigned ? 0 : -100, 100, seed);
}

inline Tensor int64Tensor(const std::vector<int64_t>& values, const Shape& shape) {
    return Tensor::fromInt64(values, shape);
}
inline Tensor int64Vector(const std::vector<int64_t>& values) {
    return Tensor::fromInt64(values, {static_cast<int64_t>(values.size())});
}
/// int32 copies of `values`, saturated (INT64_MAX "to the end" becomes INT32_MAX, as exporters write it).
inline Tensor int32Vector(const std::vector<int64_t>& values) {
    Tensor t = Tensor::allocate(DataType::kINT32, {static_cast<int64_t>(values.size())});
    for (size_t i = 0; i < values.size(); ++i)
        t.data<int32_t>()[i] = static_cast<int32_t>(std::clamp<int64_t>(values[i], INT32_MIN, INT32_MAX));
    return t;
}
inline Tensor int64Scalar(int64_t value) {
    return Tensor::fromInt64({value}, {});
}

inline std::vector<int64_t> stridesOf(const Shape& shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
    return strides;
}
inline std::vector<int64_t> unravel(int64_t index, const Shape& shape) {
    std::vector<int64_t> out(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
        out[d] = index % shape[d];
        index /= shape[d];
    }
    return out;
}
inline int64_t ravel(const std::vector<int64_t>& index, const Shape& shape) {
    int64_t offset = 0;
    for (size_t d = 0; d < shape.size(); ++d) offset = offset * shape[d] + index[d];
    return offset;
}

/// Data movement is exact: every element must equal its reference.
inline void expectExact(const Tensor& actual, const std::vector<double>& reference, const std::string& what = "") {
    EXPECT_EQ(compareWithReference(actual, reference, 0, 0), "") << what;
}

inline SingleNodeRun runOp(const std::string& opType, const std::vector<const Tensor*>& inputs,
                           const AttributeMap& attrs = {}, size_t numOutputs = 1) {
    return runSingleNode(opType, inputs, numOutputs, attrs);
}

/// One input of a shape-inference test: a graph input of symbolic shape, or a constant.
struct InputSpec {
    DataType dtype{DataType::kFLOAT};
    SymShape shape;
    std::optional<Tensor> constant;
};
inline InputSpec symbolic(DataType dtype, SymShape shape) {
    return {dtype, std::move(shape), std::nullopt};
}
inline InputSpec constant(Tensor value) {
    return {value.dtype(), fromConcrete(value.shape()), std::move(value)};
}

struct InferResult {
    Status status;
    std::vector<ValueInfo> outputs;
};

/// Infers one node whose inputs are `inputs` (nullopt: an omitted optional input).
inline InferResult inferOp(const std::string& opType, const std::vector<std::optional<InputSpec>>& inputs,
                           const AttributeMap& attrs = {}, size_t numOutputs = 1) {
    Graph graph;
    std::vector<Value*> values;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i]) {
            values.push_back(nullptr);
        } else if (inputs[i]->constant) {
            values.push_back(graph.addConstant("c" + std::to_string(i), *inputs[i]->constant));
        } else {
            values.push_back(graph.addInput("in" + std::to_string(i), inputs[i]->dtype, inputs[i]->shape));
        }
    }
    Node* node = graph.addNode(opType, "node", values, {}, numOutputs);
    node->attrs = attrs;
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    InferResult result;
    result.status = inferShapes(graph, infos, ShapeInferenceOptions{});
    for (Value* out : node->outputs) result.outputs.push_back(infos[static_cast<size_t>(out->id)]);
    return result;
}

inline AttributeMap attrsOf(std::initializer_list<std::pair<const char*, AttributeValue>> entries) {
    AttributeMap attrs;
    for (const auto& [name, value] : entries) attrs.set(name, value);
    return attrs;
}

/// "(batch, 3, -1)" for assertions on symbolic shapes.
inline std::string shapeString(const ValueInfo& info) {
    return symShapeToString(info.shape);
}

}  // namespace kiln::test
