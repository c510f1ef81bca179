#pragma once
// Reader for NumPy's .npy format (versions 1-3): C-order arrays of the numeric and bool dtypes,
// little-endian. That is what `numpy.save` writes for the inputs users give `--loadInputs`.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/types.h"

namespace kiln::cli {

struct NpyArray {
    DataType dtype{DataType::kFLOAT};
    std::string descr;           // the header's dtype string, e.g. "<f4"
    std::vector<int64_t> shape;  // empty for a 0-d array
    std::vector<uint8_t> data;   // element bytes, little-endian, C order
};

/// Parses an .npy file's bytes; `what` (usually the path) names it in errors.
Expected<NpyArray> parseNpy(const std::vector<uint8_t>& bytes, const std::string& what);
Expected<NpyArray> readNpy(const std::string& path);

/// "(2, 3)" as NumPy prints shapes, "()" for 0-d.
std::string npyShapeToString(const std::vector<int64_t>& shape);

}  // namespace kiln::cli
