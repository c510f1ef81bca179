// The table of contrib expansions, and the ExpansionContext helpers they share.

#include "frontend/onnx/contrib_expansion.h"


namespace kiln::onnx_import {

Value* ExpansionContext::add(const std::string& opType, std::vector<Value*> inputs, AttributeMap attrs) {
    return mHost.addExpansionNode(opType, std::move(inputs), std::move(attrs), {""})[0];
}

std::vector<Value*> ExpansionContext::addProducing(const std::string& opType, std::vector<Value*> inputs,
                                                   AttributeMap attrs, const std::vector<int>& outputs) {
    std::vector<std::string> names;
    for (int output : outputs) names.push_back(output < 0 ? std::string() : outputName(static_cast<size_t>(output)));
    return mHost.addExpansionNode(opType, std::move(inputs), std::move(attrs), names);
}

Value* ExpansionContext::int64s(const std::vector<int64_t>& values) {
    return mHost.addHelperConstant("contrib_ints", Tensor::fromInt64(values, {static_cast<int64_t>(values.size())}));
}

Value* ExpansionContext::extent(Value* value, int64_t axis) {
    AttributeMap slice;
    slice.set("start", axis);
    slice.set("end", axis + 1);
    return add("Shape", {value}, slice);
}

Value* ExpansionContext::positions(Value* value, int64_t axis) {
    Value* axis0 = int64s({0});
    auto scalarOf = [&](Value* oneElement) { return add("Squeeze", {oneElement, axis0}); };
    return add("Range", {scalarOf(int64s({0})), scalarOf(extent(value, axis)), scalarOf(int64s({1}))});
}

Value* ExpansionContext::scalar(float value, Value* like) {
    Value* constant = mHost.addHelperConstant("contrib_scalar", Tensor::scalarFloat(value));
    return like ? add("CastLike", {constant, like}) : constant;
}

const std::map<std::pair<std::string, std::string>, ContribOp>& contribOps() {
    using namespace contrib;
    const std::string ms = "com.microsoft";
    const std::vector<std::string> rms = {"RMSNormalization"};
    static const std::map<std::pair<std::string, std::string>, ContribOp> kOps = {
        {{ms, "Gelu"}, {expandGelu, {"Gelu"}}},
        {{ms, "FastGelu"}, {expandFastGelu, {"Add", "Gelu"}}},
        {{ms, "BiasGelu"}, {expandBiasGelu, {"Add", "Gelu"}}},
        {{ms, "QuickGelu"}, {expandQuickGelu, {"CastLike", "Mul", "Sigmoid"}}},
        {{ms, "BiasAdd"}, {expandBiasAdd, {"Add"}}},
        {{ms, "FusedMatMul"}, {expandFusedMatMul, {"Transpose", "MatMul", "CastLike", "Mul"}}},
        {{ms, "SkipLayerNormalization"}, {expandSkipLayerNormalization, {"Add", "LayerNormalization"}}},
        {{ms, "SkipSimplifiedLayerNormalization"}, {expandSkipSimplifiedLayerNormalization, {"Add", "RMSNormalization"}}},
        {{ms, "EmbedLayerNormalization"},
         {expandEmbedLayerNormalization, {"Gather", "Shape", "Squeeze", "Range", "Add", "LayerNormalization", "Equal",
                                          "CastLike", "Cast", "ReduceSum", "ConstantOfShape"}}},
        {{ms, "Attention"},
         {expandAttention, {"MatMul", "Add", "Split", "Shape", "Squeeze", "Range", "Cast", "Unsqueeze", "Less", "Where",
                            "CastLike", "Concat", "ConstantOfShape", "Trilu", "Attention"}}},
        {{ms, "MultiHeadAttention"},
         {expandMultiHeadAttention, {"Slice", "Reshape", "Split", "Add", "Shape", "Squeeze", "Range", "Cast", "Unsqueeze",
                                     "Less", "Where", "CastLike", "Concat", "ConstantOfShape", "Trilu", "Attention"}}},
        {{ms, "RotaryEmbedding"},
         {expandRotaryEmbedding, {"Shape", "Squeeze", "Range", "Add", "Concat", "Unsqueeze", "Expand", "RotaryEmbedding"}}},
        // ONNX Runtime registers SimplifiedLayerNormalization in the default domain (as a contrib op
        // of opset 1); its optimizers write it there.
        {{"", "SimplifiedLayerNormalization"}, {expandSimplifiedLayerNormalization, rms}},
        {{ms, "SimplifiedLayerNormalization"}, {expandSimplifiedLayerNormalization, rms}},
    };
    return kOps;
}

const ContribOp* findContribOp(const std::string& domain, const std::string& opType) {
    auto it = contribOps().find({domain, opType});
    return it == contribOps().end() ? nullptr : &it->second;
}

}  // namespace kiln::onnx_import
