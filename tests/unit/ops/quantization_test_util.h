#pragma once
// What the QuantizeLinear / DequantizeLinear tests share: the scale layouts they sweep and an
// independent statement of which scale entry each element uses (written from the ONNX definition by
// unravelling the index, not by Kiln's ScaleIndexer arithmetic).

#include <cstdint>
#include <vector>

#include "tensor_test_helpers.h"

namespace kiln::test {

/// A scale's shape with the `axis` and `block_size` attributes that go with it.
struct QuantLayout {
    Shape scaleShape;
    int64_t axis;
    int64_t block;
};

/// The layouts of an x of shape {2, 6, 4}: per tensor, per axis (positive and negative) and blocked.
inline const std::vector<QuantLayout>& quantLayoutsOf264() {
    static const std::vector<QuantLayout> layouts = {
        {{}, 1, 0}, {{6}, 1, 0}, {{4}, -1, 0}, {{2, 3, 4}, 1, 2}, {{2, 6, 2}, 2, 3}};
    return layouts;
}

/// Scale entry of element i of `x` for per-tensor (scaleCount 1), per-axis or blocked layouts.
inline int64_t scaleIndex(const Shape& x, int64_t i, size_t axis, int64_t scaleCount, int64_t block) {
    if (scaleCount == 1) return 0;
    std::vector<int64_t> c = unravel(i, x);
    if (block == 0) return c[axis];
    Shape s = x;
    s[axis] = (x[axis] + block - 1) / block;
    c[axis] /= block;
    return ravel(c, s);
}

}  // namespace kiln::test
