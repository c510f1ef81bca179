#pragma once
// The bytes `kiln exec` feeds each input: a file given by --loadInputs (raw or .npy), checked
// against the input's dtype and shape, or deterministic random data.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/types.h"

namespace kiln::cli {

/// Elements of `dims` (1 for a scalar); `dims` must be fully known.
int64_t elementCount(const Dims& dims);

/// Reads `path` for input `name`: a file ending in ".npy" must hold exactly this dtype and shape; any
/// other file is raw little-endian elements of `dtype` and must be exactly the input's size. Errors
/// name the input, what it needs and what the file holds.
Expected<std::vector<uint8_t>> loadInputFile(const std::string& name, DataType dtype, const Dims& dims,
                                             const std::string& path);

/// `count` random elements of `dtype`: uniform in [-1, 1] for floating types, integers in [0, 4),
/// bools 0 or 1. The same `rng` state gives the same data, so runs are repeatable.
std::vector<uint8_t> randomInput(DataType dtype, int64_t count, std::mt19937_64& rng);

}  // namespace kiln::cli
