#pragma once
// `kiln compare`'s arithmetic: one tensor of the engine under test against the same tensor of the
// reference engine, element by element, as Polygraphy does: an element matches when
// |candidate - reference| <= atol + rtol * |reference| (NaN matches NaN, an infinity only itself);
// integer, bool and string elements must be equal. The report keeps the worst element and the
// relative L2 error ||candidate - reference|| / ||reference|| of floating tensors.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "output_export.h"

namespace kiln::cli {

/// The defaults suit FP32 engines: a long FP32 dot product that cancels (a classifier's logits) can
/// differ by 1e-4 between two correct summation orders. FP16 and BF16 engines need about 1e-2.
struct Tolerance {
    double rtol{1e-3};
    double atol{1e-3};
};

struct TensorComparison {
    std::string name;
    std::string producer;  // "layer 'x' (Op)", or "" for a network input passed through
    DataType dtype{DataType::kFLOAT};
    Dims candidateDims;
    Dims referenceDims;
    bool missing{false};    // the reference engine has no tensor of that name
    int64_t elements{0};
    int64_t mismatches{0};  // elements outside the tolerance
    double maxAbsDiff{0};
    int64_t worstIndex{-1};  // the element with the largest |difference| (the first mismatch when non-finite)
    double worstCandidate{0};
    double worstReference{0};
    double relativeL2{0};  // floating tensors only; 0 when the reference is all zeros and so is the difference

    bool shapesMatch() const;
    bool matches() const { return !missing && shapesMatch() && mismatches == 0; }
};

TensorComparison compareTensors(const TensorView& candidate, const TensorView& reference, const Tolerance& tolerance);

/// One line per tensor, in the order given: status, name, producer, shape, max |diff|, rel L2.
std::vector<std::string> formatComparisons(const std::vector<TensorComparison>& comparisons);

/// [{"name", "producer", "dtype", "dimensions", "matches", ...}] in the order given.
nlohmann::ordered_json comparisonsToJson(const std::vector<TensorComparison>& comparisons, const Tolerance& tolerance);

}  // namespace kiln::cli
