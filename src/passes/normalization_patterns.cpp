#include "passes/normalization_patterns.h"

#include <algorithm>

#include "passes/pattern_utils.h"

namespace kiln {

std::optional<int64_t> trailingAxes(const Node& reduce, int64_t rank) {
    if (reduce.attrs.getInt("keepdims", 1) != 1 || !reduce.hasInput(1)) return std::nullopt;
    auto axes = intsConstant(reduce.input(1));
    if (!axes || axes->empty()) return std::nullopt;
    std::vector<int64_t> sorted;
    for (int64_t a : *axes) sorted.push_back(a < 0 ? a + rank : a);
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
        if (sorted[i] != rank - static_cast<int64_t>(sorted.size()) + static_cast<int64_t>(i)) return std::nullopt;
    return sorted.front();
}

Tensor onesLike(DataType type, const Shape& shape) {
    Tensor t = Tensor::allocate(type, shape);
    dispatchDataType(type, [&](auto tag) {
        using T = decltype(tag);
        for (int64_t i = 0; i < t.elementCount(); ++i) t.data<T>()[i] = T(1.0f);
    });
    return t;
}

std::optional<Shape> normalizedShape(const Value* x, int64_t axis) {
    Shape s;
    for (size_t i = static_cast<size_t>(axis); i < x->shape.size(); ++i) {
        if (!x->shape[i].isKnown()) return std::nullopt;
        s.push_back(x->shape[i].value);
    }
    return s;
}

bool matchesNormalizedShape(const Value* c, const Value* x, int64_t axis) {
    auto normalized = normalizedShape(x, axis);
    return c && c->isConstant() && normalized && c->constant->shape() == *normalized && c->dtype == x->dtype;
}

}  // namespace kiln
