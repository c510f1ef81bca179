#include "ir/ops/shape_infer_helpers.h"

#include <algorithm>
#include <numeric>

#include "ir/ops/channels_last_perm.h"

namespace kiln::shapeinfer {

ValueInfo permutedInfo(const ValueInfo& info, const std::array<int64_t, 4>& perm) {
    ValueInfo out;
    out.dtype = info.dtype;
    out.known = info.known;
    out.shape = permuteRank4(info.shape, perm);
    return out;
}

Dim dimProduct(const SymShape& shape, size_t begin, size_t end) {
    int64_t known = 1;
    const Dim* lone = nullptr;
    size_t nonKnown = 0;
    for (size_t i = begin; i < end; ++i) {
        if (shape[i].isKnown()) {
            known *= shape[i].value;
        } else {
            ++nonKnown;
            lone = &shape[i];
        }
    }
    if (nonKnown == 0) return known;
    // A zero factor makes the product zero whatever the other factors are.
    if (known == 0) return 0;
    if (nonKnown == 1 && known == 1) return *lone;
    return Dim::unknown();
}

std::vector<int64_t> transposePerm(const std::optional<std::vector<int64_t>>& perm, size_t rank) {
    if (perm) return *perm;
    std::vector<int64_t> reversed(rank);
    std::iota(reversed.rbegin(), reversed.rend(), int64_t{0});
    return reversed;
}

std::pair<int64_t, int64_t> shapeOpRange(const AttributeMap& attrs, int64_t rank) {
    auto clampAxis = [rank](int64_t axis) { return std::clamp(axis < 0 ? axis + rank : axis, int64_t{0}, rank); };
    return {clampAxis(attrs.getInt("start", 0)), clampAxis(attrs.getInt("end", rank))};
}

Dim dimSum(const std::vector<Dim>& dims) {
    int64_t known = 0;
    const Dim* lone = nullptr;
    size_t nonKnown = 0;
    for (const Dim& d : dims) {
        if (d.isKnown()) {
            known += d.value;
        } else {
            ++nonKnown;
            lone = &d;
        }
    }
    if (nonKnown == 0) return known;
    if (nonKnown == 1 && known == 0) return *lone;
    return Dim::unknown();
}

std::optional<Dim> mergeEqualDims(const Dim& a, const Dim& b) {
    if (a.isKnown() && b.isKnown()) {
        if (a.value != b.value) return std::nullopt;
        return a;
    }
    if (a.isKnown()) return a;
    if (b.isKnown()) return b;
    return a.symbol.empty() ? b : a;
}

std::optional<std::vector<int64_t>> knownInts(const InferenceContext& ctx, size_t index) {
    const Tensor* value = ctx.inputValue(index);
    if (!value) return std::nullopt;
    return value->toInt64Vector();
}

Status checkIntVectorInput(const InferenceContext& ctx, size_t index, const std::string& what, bool allowScalar) {
    DataType type = ctx.inputType(index);
    if (type != DataType::kINT64 && type != DataType::kINT32)
        return ctx.error(what + " must be int32 or int64, got " + dataTypeName(type));
    int64_t rank = ctx.inputRank(index);
    if (rank == 1 || (allowScalar && rank == 0)) return Status::ok();
    return ctx.error(what + " must be a 1-D tensor, got rank " + std::to_string(rank));
}

Status checkScalarInput(const InferenceContext& ctx, size_t index, const std::string& what) {
    const SymShape& shape = ctx.inputShape(index);
    if (shape.empty()) return Status::ok();
    if (shape.size() == 1 && shape[0].isKnown() && shape[0].value == 1) return Status::ok();
    return ctx.error(what + " must be a scalar, got shape " + symShapeToString(shape));
}

Status normalizeAxes(const InferenceContext& ctx, std::vector<int64_t>& axes, int64_t rank, const std::string& what) {
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t& axis : axes) {
        auto normalized = normalizeAxis(axis, rank);
        if (!normalized)
            return ctx.error(what + " value " + std::to_string(axis) + " is out of range for rank " +
                             std::to_string(rank));
        if (seen[static_cast<size_t>(*normalized)])
            return ctx.error(what + " contains axis " + std::to_string(*normalized) + " twice");
        seen[static_cast<size_t>(*normalized)] = true;
        axis = *normalized;
    }
    return Status::ok();
}

}  // namespace kiln::shapeinfer
