#include "output_comparison.h"

#include <cmath>
#include <sstream>
#include <string_view>
#include <vector>

namespace kiln::conformance {
namespace {

std::string describe(const Tensor& t) {
    std::string shape = shapeToString(t.shape(), true);
    return std::string(dataTypeName(t.dtype())) + " " + shape;
}

bool closeEnough(double actual, double expected, const Tolerance& tolerance) {
    if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
    if (std::isinf(expected) || std::isinf(actual)) return actual == expected;
    return std::fabs(actual - expected) <= tolerance.atol + tolerance.rtol * std::fabs(expected);
}

/// Strings compare exactly, byte for byte.
std::optional<std::string> compareStrings(const std::string& outputName, const Tensor& actual, const Tensor& expected) {
    const std::vector<std::string_view> a = actual.strings();
    const std::vector<std::string_view> e = expected.strings();
    int64_t mismatches = 0;
    int64_t first = -1;
    for (size_t i = 0; i < e.size(); ++i) {
        if (a[i] == e[i]) continue;
        if (mismatches++ == 0) first = static_cast<int64_t>(i);
    }
    if (mismatches == 0) return std::nullopt;
    return "output '" + outputName + "' (" + describe(expected) + "): " + std::to_string(mismatches) + " of " +
           std::to_string(e.size()) + " strings differ; first at flat index " + std::to_string(first) + ": got '" +
           std::string(a[static_cast<size_t>(first)]) + "', expected '" + std::string(e[static_cast<size_t>(first)]) +
           "'";
}

}  // namespace

std::optional<std::string> compareOutput(const std::string& outputName, const Tensor& actual, const Tensor& expected,
                                         const Tolerance& tolerance) {
    if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape())
        return "output '" + outputName + "' is " + describe(actual) + ", expected " + describe(expected);
    const int64_t count = expected.elementCount();
    if (expected.dtype() == DataType::kSTRING) return compareStrings(outputName, actual, expected);
    int64_t mismatches = 0;
    int64_t worst = -1;
    double worstExcess = -1.0;
    for (int64_t i = 0; i < count; ++i) {
        const double a = actual.elementAsDouble(i);
        const double e = expected.elementAsDouble(i);
        if (closeEnough(a, e, tolerance)) continue;
        ++mismatches;
        // A NaN or infinity where a finite value belongs outranks any finite difference.
        const double excess = std::isfinite(a) && std::isfinite(e)
                                  ? std::fabs(a - e) - (tolerance.atol + tolerance.rtol * std::fabs(e))
                                  : INFINITY;
        if (excess > worstExcess) {
            worstExcess = excess;
            worst = i;
        }
    }
    if (mismatches == 0) return std::nullopt;
    std::ostringstream message;
    message.precision(9);
    message << "output '" << outputName << "' (" << describe(expected) << "): " << mismatches << " of " << count
            << " elements differ; worst at flat index " << worst << ": got " << actual.elementAsDouble(worst)
            << ", expected " << expected.elementAsDouble(worst);
    return message.str();
}

}  // namespace kiln::conformance
