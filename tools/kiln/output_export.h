#pragma once
// Output tensors as JSON (--exportOutput) and as text (--dumpOutput).
//
// JSON has no NaN or infinity, so those are written as the strings "NaN", "Infinity" and
// "-Infinity" (the names JavaScript and Python give them); fp16 and bf16 values become numbers via
// float, integers stay integers and bool is true/false. Keys keep the order the spec gives.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/types.h"

namespace kiln::cli {

/// A host tensor owned elsewhere.
struct TensorView {
    std::string name;
    DataType dtype{DataType::kFLOAT};
    Dims dims;
    const void* data{nullptr};
};

/// `value` as JSON: a number, or "NaN" / "Infinity" / "-Infinity" (every JSON file kiln writes
/// spells them so).
nlohmann::ordered_json jsonNumber(double value);

/// The `count` elements at `data` as a JSON array.
nlohmann::ordered_json tensorValuesToJson(DataType dtype, const void* data, int64_t count);

/// [{"name", "dimensions": "AxBxC", "dtype", "values"}] in the order of `outputs`.
nlohmann::ordered_json outputsToJson(const std::vector<TensorView>& outputs);

/// Writes outputsToJson(outputs) to `path`, one output per line.
Status exportOutputs(const std::string& path, const std::vector<TensorView>& outputs);

/// "name (float, 1x10): v0 v1 ... v{n-1}" with at most `maxValues` values, then how many were left out.
std::string formatTensor(const TensorView& tensor, int64_t maxValues);

}  // namespace kiln::cli
