#include "tensor_comparison.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <sstream>

#include "common/low_precision.h"
#include "input_data.h"
#include "ir/dtype.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

bool isFloating(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16 || type == DataType::kDOUBLE ||
           (isLowBitType(type) && !isLowBitIntegerType(type));
}

/// Element `i` of `view` as a double (strings are compared apart).
double elementAt(const TensorView& view, int64_t i) {
    if (isLowBitType(view.dtype)) return lowBitToDouble(view.dtype, static_cast<const uint8_t*>(view.data)[i]);
    return dispatchDataType(view.dtype, [&](auto zero) {
        using T = decltype(zero);
        T value;
        std::memcpy(&value, static_cast<const uint8_t*>(view.data) + static_cast<size_t>(i) * sizeof(T), sizeof(T));
        return static_cast<double>(value);
    });
}

bool sameString(const TensorView& a, const TensorView& b, int64_t i) {
    StringView x, y;
    std::memcpy(&x, static_cast<const uint8_t*>(a.data) + i * sizeof(StringView), sizeof(StringView));
    std::memcpy(&y, static_cast<const uint8_t*>(b.data) + i * sizeof(StringView), sizeof(StringView));
    return x.size == y.size && (x.size == 0 || std::memcmp(x.data, y.data, x.size) == 0);
}

bool withinTolerance(double candidate, double reference, const Tolerance& tolerance) {
    if (std::isnan(candidate) || std::isnan(reference)) return std::isnan(candidate) && std::isnan(reference);
    if (std::isinf(candidate) || std::isinf(reference)) return candidate == reference;
    return std::abs(candidate - reference) <= tolerance.atol + tolerance.rtol * std::abs(reference);
}

std::string scientific(double value) {
    std::ostringstream text;
    text << std::scientific << std::setprecision(3) << value;
    return text.str();
}

}  // namespace

bool TensorComparison::shapesMatch() const {
    if (candidateDims.nbDims != referenceDims.nbDims) return false;
    for (int32_t d = 0; d < candidateDims.nbDims; ++d)
        if (candidateDims.d[d] != referenceDims.d[d]) return false;
    return true;
}

TensorComparison compareTensors(const TensorView& candidate, const TensorView& reference, const Tolerance& tolerance) {
    TensorComparison result;
    result.name = candidate.name;
    result.dtype = candidate.dtype;
    result.candidateDims = candidate.dims;
    result.referenceDims = reference.dims;
    if (!result.shapesMatch() || candidate.dtype != reference.dtype) {
        result.mismatches = std::max<int64_t>(1, elementCount(candidate.dims));
        return result;
    }
    result.elements = elementCount(candidate.dims);
    const bool floating = isFloating(candidate.dtype);
    double diffSquares = 0, referenceSquares = 0;
    bool worstIsMismatch = false;
    double worstDiff = 0;
    for (int64_t i = 0; i < result.elements; ++i) {
        if (candidate.dtype == DataType::kSTRING) {
            if (!sameString(candidate, reference, i) && result.mismatches++ == 0) result.worstIndex = i;
            continue;
        }
        const double c = elementAt(candidate, i);
        const double r = elementAt(reference, i);
        const bool ok = floating ? withinTolerance(c, r, tolerance) : c == r;
        // Equal non-finite values (NaN and NaN, inf and inf) differ by 0; any other non-finite pair by inf.
        double diff = std::abs(c - r);
        if (!std::isfinite(diff)) diff = ok ? 0.0 : std::numeric_limits<double>::infinity();
        if (!ok) ++result.mismatches;
        result.maxAbsDiff = std::max(result.maxAbsDiff, diff);
        // The worst element: a mismatch before any match, then the larger difference.
        if (result.worstIndex < 0 || (!ok && !worstIsMismatch) || (!ok == worstIsMismatch && diff > worstDiff)) {
            result.worstIndex = i;
            result.worstCandidate = c;
            result.worstReference = r;
            worstIsMismatch = !ok;
            worstDiff = diff;
        }
        if (floating && std::isfinite(c) && std::isfinite(r)) {
            diffSquares += (c - r) * (c - r);
            referenceSquares += r * r;
        }
    }
    if (floating)
        result.relativeL2 = referenceSquares > 0 ? std::sqrt(diffSquares / referenceSquares) : std::sqrt(diffSquares);
    return result;
}

std::vector<std::string> formatComparisons(const std::vector<TensorComparison>& comparisons) {
    std::vector<std::string> lines;
    for (const TensorComparison& c : comparisons) {
        std::ostringstream line;
        line << (c.matches() ? "  ok   " : "  DIFF ") << "'" << c.name << "'";
        if (!c.producer.empty()) line << " from " << c.producer;
        if (c.missing) {
            line << ": the reference engine has no such tensor";
        } else if (!c.shapesMatch()) {
            line << ": shape " << describeDims(c.candidateDims) << ", reference " << describeDims(c.referenceDims);
        } else {
            line << ": " << dataTypeName(c.dtype) << " " << describeDims(c.candidateDims) << ", max |diff| "
                 << scientific(c.maxAbsDiff);
            if (isFloating(c.dtype)) line << ", rel L2 " << scientific(c.relativeL2);
            if (c.mismatches > 0)
                line << ", " << c.mismatches << " of " << c.elements << " elements outside the tolerance (worst: element "
                     << c.worstIndex << ", " << c.worstCandidate << " vs " << c.worstReference << ")";
        }
        lines.push_back(line.str());
    }
    return lines;
}

nlohmann::ordered_json comparisonsToJson(const std::vector<TensorComparison>& comparisons, const Tolerance& tolerance) {
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const TensorComparison& c : comparisons) {
        nlohmann::ordered_json entry;
        entry["name"] = c.name;
        entry["producer"] = c.producer;
        entry["dtype"] = dataTypeName(c.dtype);
        entry["dimensions"] = describeDims(c.candidateDims);
        entry["reference_dimensions"] = c.missing ? "" : describeDims(c.referenceDims);
        entry["matches"] = c.matches();
        entry["elements"] = c.elements;
        entry["mismatches"] = c.mismatches;
        entry["max_abs_diff"] = jsonNumber(c.maxAbsDiff);
        entry["relative_l2"] = jsonNumber(c.relativeL2);
        entry["worst_index"] = c.worstIndex;
        entry["worst_candidate"] = jsonNumber(c.worstCandidate);
        entry["worst_reference"] = jsonNumber(c.worstReference);
        tensors.push_back(std::move(entry));
    }
    return {{"rtol", tolerance.rtol}, {"atol", tolerance.atol}, {"tensors", std::move(tensors)}};
}

}  // namespace kiln::cli
