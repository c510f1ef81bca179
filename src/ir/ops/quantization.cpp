// Quantization ops: QuantizeLinear DequantizeLinear DynamicQuantizeLinear (per-tensor, per-axis
// and blocked scales) and the integer compute ops MatMulInteger ConvInteger QLinearMatMul
// QLinearConv.

#include <sstream>

#include "ir/onnx_types.h"
#include "ir/ops/conv_window.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

/// The quantized side of QuantizeLinear / DequantizeLinear: the 8- and 16-bit integers and the
/// low-bit types but float8e8m0 (a scale type, not a quantized one).
bool isQuantizedType(DataType type) {
    return type == DataType::kINT8 || type == DataType::kUINT8 || type == DataType::kINT16 ||
           type == DataType::kUINT16 || (isLowBitType(type) && type != DataType::kFP8E8M0);
}

/// Scales are floating-point or float8e8m0 (the power-of-two scales of the MX formats).
bool isScaleType(DataType type) {
    return isFloatingType(type) || type == DataType::kFP8E8M0;
}

/// Checks that a scale (or zero point) input fits X: a scalar/1-element tensor (per tensor), a 1-D
/// tensor of X's extent on `axis` (per axis), or X's rank with ceil(extent / block_size) on `axis`
/// (blocked).
Status checkQuantParameter(const InferenceContext& ctx, size_t index, const std::string& what) {
    const SymShape& x = ctx.inputShape(0);
    const SymShape& p = ctx.inputShape(index);
    auto count = knownElementCount(p);
    if (p.empty() || (p.size() == 1 && count && *count == 1)) return Status::ok();
    int64_t axisAttr = ctx.attrs().getInt("axis", 1);
    auto axis = normalizeAxis(axisAttr, static_cast<int64_t>(x.size()));
    if (!axis) return ctx.error("axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(x.size()));
    const Dim& extent = x[static_cast<size_t>(*axis)];
    int64_t blockSize = ctx.attrs().getInt("block_size", 0);
    if (blockSize < 0) return ctx.error("block_size must be >= 0, got " + std::to_string(blockSize));
    if (blockSize == 0) {
        if (p.size() != 1) return ctx.error(what + " must be a scalar or 1-D (per axis), got " + symShapeToString(p));
        if (p[0].isKnown() && extent.isKnown() && p[0].value != extent.value)
            return ctx.error(what + " has " + std::to_string(p[0].value) + " entries for axis " + std::to_string(*axis) +
                             " of extent " + std::to_string(extent.value));
        return Status::ok();
    }
    if (p.size() != x.size()) return ctx.error(what + " of blocked quantization must have the input's rank, got " + symShapeToString(p));
    for (size_t d = 0; d < x.size(); ++d) {
        if (!p[d].isKnown() || !x[d].isKnown()) continue;
        int64_t expected = d == static_cast<size_t>(*axis) ? (x[d].value + blockSize - 1) / blockSize : x[d].value;
        if (p[d].value != expected)
            return ctx.error(what + " " + symShapeToString(p) + " does not fit blocks of " + std::to_string(blockSize) +
                             " on axis " + std::to_string(*axis) + " of input " + symShapeToString(x));
    }
    return Status::ok();
}

Status inferQuantizeLinear(InferenceContext& ctx) {
    DataType x = ctx.inputType(0);
    if (!isFloatingType(x) && x != DataType::kINT32) return ctx.error(std::string("x has type ") + dataTypeName(x) + "; a float type or int32 is required");
    if (!isScaleType(ctx.inputType(1))) return ctx.error("y_scale must be floating-point or float8e8m0");
    KILN_RETURN_IF_ERROR(checkQuantParameter(ctx, 1, "y_scale"));
    DataType out = DataType::kUINT8;
    if (ctx.hasInput(2)) {
        out = ctx.inputType(2);
        KILN_RETURN_IF_ERROR(checkQuantParameter(ctx, 2, "y_zero_point"));
    } else if (auto attr = ctx.attrs().getInt("output_dtype"); attr && *attr != 0) {
        auto type = dataTypeFromOnnx(*attr);
        if (!type) return ctx.error("output_dtype " + std::to_string(*attr) + " is not supported");
        out = *type;
    }
    if (!isQuantizedType(out))
        return ctx.error(std::string("output type ") + dataTypeName(out) +
                         " is not supported (int8, uint8, int16, uint16, int4, uint4, int2, uint2, float8e4m3fn, "
                         "float8e4m3fnuz, float8e5m2, float8e5m2fnuz, float4e2m1)");
    ctx.setOutput(0, out, ctx.inputShape(0));
    return Status::ok();
}

Status inferDequantizeLinear(InferenceContext& ctx) {
    DataType x = ctx.inputType(0);
    if (!isQuantizedType(x) && x != DataType::kINT32)
        return ctx.error(std::string("x has type ") + dataTypeName(x) +
                         "; an 8-, 16- or 32-bit integer, a 4- or 2-bit integer, float8 or float4e2m1 is required");
    if (!isScaleType(ctx.inputType(1))) return ctx.error("x_scale must be floating-point or float8e8m0");
    KILN_RETURN_IF_ERROR(checkQuantParameter(ctx, 1, "x_scale"));
    if (ctx.hasInput(2)) {
        if (ctx.inputType(2) != x) return ctx.error("x_zero_point must have x's type");
        KILN_RETURN_IF_ERROR(checkQuantParameter(ctx, 2, "x_zero_point"));
    }
    DataType out = ctx.inputType(1);
    if (auto attr = ctx.attrs().getInt("output_dtype"); attr && *attr != 0) {
        auto type = dataTypeFromOnnx(*attr);
        if (!type || !isFloatingType(*type)) return ctx.error("output_dtype " + std::to_string(*attr) + " is not a floating-point type");
        out = *type;
    }
    if (!isFloatingType(out))
        return ctx.error(std::string("the output would be ") + dataTypeName(out) +
                         " (x_scale's type); give output_dtype, a floating-point type");
    ctx.setOutput(0, out, ctx.inputShape(0));
    return Status::ok();
}

Status inferDynamicQuantizeLinear(InferenceContext& ctx) {
    if (ctx.inputType(0) != DataType::kFLOAT) return ctx.error("x must be float");
    ctx.setOutput(0, DataType::kUINT8, ctx.inputShape(0));
    if (ctx.numOutputs() > 1) ctx.setOutput(1, DataType::kFLOAT, {});
    if (ctx.numOutputs() > 2) ctx.setOutput(2, DataType::kUINT8, {});
    return Status::ok();
}

/// numpy matmul shape of inputs `a` and `b`, for the integer matmuls.
Status inferIntegerMatMulShape(InferenceContext& ctx, size_t a, size_t b, DataType out) {
    const SymShape& sa = ctx.inputShape(a);
    const SymShape& sb = ctx.inputShape(b);
    if (sa.empty() || sb.empty()) return ctx.error("operands must have rank >= 1");
    if (ctx.inputType(a) != DataType::kINT8 && ctx.inputType(a) != DataType::kUINT8) return ctx.error("A must be int8 or uint8");
    if (ctx.inputType(b) != DataType::kINT8 && ctx.inputType(b) != DataType::kUINT8) return ctx.error("B must be int8 or uint8");
    const Dim& k = sa.back();
    const Dim& kb = sb.size() == 1 ? sb[0] : sb[sb.size() - 2];
    if (k.isKnown() && kb.isKnown() && k.value != kb.value)
        return ctx.error("inner dimensions differ: " + symShapeToString(sa) + " x " + symShapeToString(sb));
    SymShape batchA(sa.begin(), sa.end() - std::min<size_t>(sa.size(), 2));
    SymShape batchB(sb.begin(), sb.end() - std::min<size_t>(sb.size(), 2));
    auto batch = broadcastShapes(batchA, batchB);
    if (!batch) return ctx.error("batch dimensions " + symShapeToString(batchA) + " and " + symShapeToString(batchB) + " do not broadcast");
    SymShape shape = *batch;
    if (sa.size() >= 2) shape.push_back(sa[sa.size() - 2]);
    if (sb.size() >= 2) shape.push_back(sb.back());
    ctx.setOutput(0, out, std::move(shape));
    return Status::ok();
}

Status inferMatMulInteger(InferenceContext& ctx) {
    for (size_t zp : {size_t{2}, size_t{3}})
        if (ctx.hasInput(zp) && ctx.inputType(zp) != ctx.inputType(zp - 2))
            return ctx.error("zero point " + std::to_string(zp) + " must have its operand's type");
    return inferIntegerMatMulShape(ctx, 0, 1, DataType::kINT32);
}

Status inferQLinearMatMul(InferenceContext& ctx) {
    if (ctx.inputType(2) != ctx.inputType(0) || ctx.inputType(5) != ctx.inputType(3))
        return ctx.error("zero points must have their operand's type");
    DataType out = ctx.inputType(7);
    if (out != DataType::kINT8 && out != DataType::kUINT8) return ctx.error("y_zero_point must be int8 or uint8");
    for (size_t s : {size_t{1}, size_t{4}, size_t{6}})
        if (!isFloatingType(ctx.inputType(s))) return ctx.error("scales must be floating-point");
    return inferIntegerMatMulShape(ctx, 0, 3, out);
}

/// Output shape of an integer convolution whose input is input `x` and weights input `w`.
Status inferIntegerConvShape(InferenceContext& ctx, size_t xIndex, size_t wIndex, DataType out) {
    const SymShape& x = ctx.inputShape(xIndex);
    const SymShape& w = ctx.inputShape(wIndex);
    for (size_t i : {xIndex, wIndex})
        if (ctx.inputType(i) != DataType::kINT8 && ctx.inputType(i) != DataType::kUINT8)
            return ctx.error("x and w must be int8 or uint8");
    if (x.size() < 3 || w.size() != x.size())
        return ctx.error("x " + symShapeToString(x) + " and w " + symShapeToString(w) + " must have one rank >= 3");
    int64_t group = ctx.attrs().getInt("group", 1);
    if (group < 1) return ctx.error("group must be >= 1");
    const size_t n = x.size() - 2;
    std::optional<Shape> kernel = Shape{};
    for (size_t i = 2; i < w.size(); ++i) {
        if (!w[i].isKnown()) kernel.reset();
        else if (kernel) kernel->push_back(w[i].value);
    }
    auto spec = parseWindowSpec(ctx.attrs(), n, kernel, WindowKind::kConvolution);
    if (!spec) return ctx.error(spec.status().message());
    if (x[1].isKnown() && w[1].isKnown() && x[1].value != w[1].value * group)
        return ctx.error("x has " + std::to_string(x[1].value) + " channels; the weights with group " + std::to_string(group) +
                         " expect " + std::to_string(w[1].value * group));
    SymShape shape{x[0], w[0]};
    for (size_t i = 0; i < n; ++i) {
        if (spec->kernel.empty() || !x[2 + i].isKnown()) {
            shape.push_back(!spec->kernel.empty() && forwardWindowPreservesExtent(*spec, i) ? x[2 + i] : Dim::unknown());
            continue;
        }
        AxisWindow window = forwardWindow(*spec, i, x[2 + i].value);
        if (window.output < 1) return ctx.error("spatial axis " + std::to_string(i) + " is smaller than the kernel after padding");
        shape.emplace_back(window.output);
    }
    ctx.setOutput(0, out, std::move(shape));
    return Status::ok();
}

Status inferConvInteger(InferenceContext& ctx) {
    return inferIntegerConvShape(ctx, 0, 1, DataType::kINT32);
}

Status inferQLinearConv(InferenceContext& ctx) {
    DataType out = ctx.inputType(7);
    if (out != DataType::kINT8 && out != DataType::kUINT8) return ctx.error("y_zero_point must be int8 or uint8");
    if (ctx.hasInput(8) && ctx.inputType(8) != DataType::kINT32) return ctx.error("B must be int32");
    return inferIntegerConvShape(ctx, 0, 3, out);
}

}  // namespace

void registerQuantizationOps(OpRegistry& registry) {
    registry.add({"QuantizeLinear", "", inferQuantizeLinear, 2, 3});
    registry.add({"DequantizeLinear", "", inferDequantizeLinear, 2, 3});
    registry.add({"DynamicQuantizeLinear", "", inferDynamicQuantizeLinear, 1, 1});
    registry.add({"MatMulInteger", "", inferMatMulInteger, 2, 4});
    registry.add({"QLinearMatMul", "", inferQLinearMatMul, 8, 8});
    registry.add({"ConvInteger", "", inferConvInteger, 2, 4});
    registry.add({"QLinearConv", "", inferQLinearConv, 8, 9});
}

}  // namespace kiln
