#pragma once
// The calibration cache's text, TensorRT's format: a header line "<PRODUCT>-<VERSION>-<Algorithm>"
// ("KILN-1-EntropyCalibration2"; TensorRT's "TRT-8601-EntropyCalibration2" is read too, so a cache
// made by TensorRT can be reused), then one line per tensor "name: 3c010a14", the hex digits being the
// bits of the float32 scale (amax / 127) written as one 32-bit number, most significant digit first.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "kiln/calibrator.h"

namespace kiln {

struct CalibrationTable {
    /// The algorithm the header names; empty for one Kiln does not implement (TensorRT's
    /// "LegacyCalibration"): its scales are still usable.
    std::optional<CalibrationAlgoType> algorithm;
    std::string header;
    std::map<std::string, float> scales;  // tensor name -> scale (amax / 127)
};

/// The cache text for `scales`, Kiln's header naming `algorithm`.
std::string formatCalibrationCache(CalibrationAlgoType algorithm, const std::map<std::string, float>& scales);

/// Parses a cache; an error names the line (1-based) and what is wrong with it. Scales must be finite
/// and >= 0, names unique.
Expected<CalibrationTable> parseCalibrationCache(std::string_view text);

}  // namespace kiln
