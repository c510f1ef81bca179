#pragma once
// Compares an engine output with the case's expected tensor the way ONNX's backend test runner
// does (numpy.testing.assert_allclose): |actual - expected| <= atol + rtol * |expected| element by
// element, NaN equal to NaN, infinities equal only to themselves; the element type and the shape
// must match exactly.

#include <optional>
#include <string>

#include "ir/tensor.h"

namespace kiln::conformance {

struct Tolerance {
    double rtol{1e-3};
    double atol{1e-7};
};

/// Nothing when `actual` matches `expected`; otherwise one line saying where and by how much.
std::optional<std::string> compareOutput(const std::string& outputName, const Tensor& actual, const Tensor& expected,
                                         const Tolerance& tolerance);

}  // namespace kiln::conformance
