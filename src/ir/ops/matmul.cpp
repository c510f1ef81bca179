// MatMul and Gemm: type and shape inference.

#include <sstream>

#include "ir/dtype.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

bool isMatMulType(DataType type) {
    switch (type) {
        case DataType::kFLOAT:
        case DataType::kHALF:
        case DataType::kBF16:
        case DataType::kDOUBLE:
        case DataType::kINT32:
        case DataType::kINT64:
        case DataType::kUINT32:
        case DataType::kUINT64: return true;
        case DataType::kINT8:
        case DataType::kUINT8:
        case DataType::kINT16:
        case DataType::kUINT16:
        case DataType::kBOOL:
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
        case DataType::kINT4:
        case DataType::kUINT4:
        case DataType::kINT2:
        case DataType::kUINT2:
        case DataType::kFP4E2M1: return false;
        case DataType::kSTRING: return false;
    }
    return false;
}

Status checkOperandTypes(const InferenceContext& ctx, size_t count) {
    DataType type = ctx.inputType(0);
    if (!isMatMulType(type))
        return ctx.error(std::string("input type ") + dataTypeName(type) +
                         " is not one of float16, bfloat16, float, double, int32, int64, uint32, uint64");
    for (size_t i = 1; i < count; ++i) {
        if (ctx.hasInput(i) && ctx.inputType(i) != type)
            return ctx.error("input " + std::to_string(i) + " has type " + dataTypeName(ctx.inputType(i)) +
                             ", input 0 has " + dataTypeName(type));
    }
    return Status::ok();
}

/// Reports two known extents that must be equal but are not.
Status checkSameExtent(const InferenceContext& ctx, const Dim& a, const Dim& b, const std::string& what) {
    if (a.isKnown() && b.isKnown() && a.value != b.value) {
        std::ostringstream oss;
        oss << what << ": " << a.value << " vs " << b.value << " (shapes " << symShapeToString(ctx.inputShape(0))
            << " and " << symShapeToString(ctx.inputShape(1)) << ")";
        return ctx.error(oss.str());
    }
    return Status::ok();
}

Status inferMatMul(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkOperandTypes(ctx, 2));
    const SymShape& a = ctx.inputShape(0);
    const SymShape& b = ctx.inputShape(1);
    if (a.empty() || b.empty()) return ctx.error("MatMul operands must have rank >= 1 (scalars are not allowed)");
    // numpy: a 1-D A is a row (1, K) and a 1-D B a column (K, 1); the added axis is removed again.
    const Dim& k = a.back();
    const Dim& kb = b.size() == 1 ? b[0] : b[b.size() - 2];
    KILN_RETURN_IF_ERROR(checkSameExtent(ctx, k, kb, "the inner dimensions differ"));
    SymShape batchA(a.begin(), a.end() - std::min<size_t>(a.size(), 2));
    SymShape batchB(b.begin(), b.end() - std::min<size_t>(b.size(), 2));
    auto batch = broadcastShapes(batchA, batchB);
    if (!batch)
        return ctx.error("batch dimensions " + symShapeToString(batchA) + " and " + symShapeToString(batchB) +
                         " do not broadcast");
    SymShape out = *batch;
    if (a.size() >= 2) out.push_back(a[a.size() - 2]);
    if (b.size() >= 2) out.push_back(b.back());
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

Status inferGemm(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(checkOperandTypes(ctx, 3));
    const SymShape& a = ctx.inputShape(0);
    const SymShape& b = ctx.inputShape(1);
    if (a.size() != 2 || b.size() != 2)
        return ctx.error("Gemm operands must be 2-D, got " + symShapeToString(a) + " and " + symShapeToString(b));
    bool transA = ctx.attrs().getInt("transA", 0) != 0;
    bool transB = ctx.attrs().getInt("transB", 0) != 0;
    const Dim& m = transA ? a[1] : a[0];
    const Dim& k = transA ? a[0] : a[1];
    const Dim& kb = transB ? b[1] : b[0];
    const Dim& n = transB ? b[0] : b[1];
    KILN_RETURN_IF_ERROR(checkSameExtent(ctx, k, kb, "the inner dimensions (after transA/transB) differ"));
    SymShape out{m, n};
    if (ctx.hasInput(2)) {
        // C broadcasts unidirectionally to (M, N).
        const SymShape& c = ctx.inputShape(2);
        if (c.size() > 2) return ctx.error("C must have rank <= 2, got " + symShapeToString(c));
        for (size_t i = 0; i < c.size(); ++i) {
            const Dim& target = out[2 - c.size() + i];
            if (c[i].isKnown() && c[i].value != 1 && target.isKnown() && c[i].value != target.value)
                return ctx.error("C " + symShapeToString(c) + " does not broadcast to the result " +
                                 symShapeToString(out));
        }
    }
    ctx.setOutput(0, ctx.inputType(0), std::move(out));
    return Status::ok();
}

/// Det: X [*, M, M] of a float type -> [*].
Status inferDet(InferenceContext& ctx) {
    const SymShape& x = ctx.inputShape(0);
    if (!isFloatingType(ctx.inputType(0))) return ctx.error("Det takes a float tensor");
    if (x.size() < 2) return ctx.error("Det needs rank >= 2, got " + symShapeToString(x));
    const Dim& rows = x[x.size() - 2];
    const Dim& cols = x[x.size() - 1];
    if (rows.isKnown() && cols.isKnown() && rows.value != cols.value)
        return ctx.error("Det needs square matrices, got " + symShapeToString(x));
    ctx.setOutput(0, ctx.inputType(0), SymShape(x.begin(), x.end() - 2));
    return Status::ok();
}

}  // namespace

void registerMatMulOps(OpRegistry& registry) {
    registry.add({"MatMul", "", inferMatMul, 2, 2});
    registry.add({"Gemm", "", inferGemm, 2, 3});
    registry.add({"Det", "", inferDet, 1, 1});
}

}  // namespace kiln
