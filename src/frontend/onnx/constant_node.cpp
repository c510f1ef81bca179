#include "frontend/onnx/constant_node.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "frontend/onnx/tensor_proto.h"

namespace kiln::onnx_import {

Expected<Tensor> constantNodeValue(onnx::NodeProto& node, const std::string& modelDir) {
    if (node.attribute_size() != 1)
        return invalidModel("a Constant needs exactly one value attribute, this one has " +
                            std::to_string(node.attribute_size()));
    onnx::AttributeProto& a = *node.mutable_attribute(0);
    const std::string& name = a.name();
    if (name == "value") return tensorFromProto(*a.mutable_t(), "attribute 'value'", modelDir);
    if (name == "value_float") return Tensor::scalarFloat(a.f());
    if (name == "value_int") return Tensor::fromInt64({a.i()}, {});
    if (name == "value_ints") {
        std::vector<int64_t> values(a.ints().begin(), a.ints().end());
        const int64_t count = static_cast<int64_t>(values.size());
        return Tensor::fromInt64(values, {count});
    }
    if (name == "value_floats") {
        Tensor t = Tensor::allocate(DataType::kFLOAT, {static_cast<int64_t>(a.floats_size())});
        std::copy(a.floats().begin(), a.floats().end(), t.data<float>());
        return t;
    }
    if (name == "value_string") return Tensor::fromStrings({a.s()}, {});
    if (name == "value_strings") {
        std::vector<std::string_view> values(a.strings().begin(), a.strings().end());
        const int64_t count = static_cast<int64_t>(values.size());
        return Tensor::fromStrings(values, {count});
    }
    if (name == "sparse_value") return unsupported("sparse constants are not supported");
    return invalidModel("a Constant has no attribute '" + name + "'");
}

}  // namespace kiln::onnx_import
