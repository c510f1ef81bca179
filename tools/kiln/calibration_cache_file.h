#pragma once
// --calib: a calibration cache file as the builder's INT8 calibrator. It has no data of its own, so
// its scales are used as they are (trtexec's --calib reads the cache the same way).

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/calibrator.h"

namespace kiln::cli {

class CalibrationCacheFile : public IInt8Calibrator {
public:
    /// Reads and checks `path` (an empty or damaged file is an error naming the file and the line).
    static Expected<std::unique_ptr<CalibrationCacheFile>> load(const std::string& path);

    /// The number of tensor scales the file holds, and its header.
    size_t scaleCount() const { return mScaleCount; }
    const std::string& header() const { return mHeader; }

    int32_t getBatchSize() const noexcept override { return 1; }
    /// No data: the cache is all there is.
    bool getBatch(void* bindings[], const char* names[], int32_t nbBindings) noexcept override { return false; }
    const void* readCalibrationCache(size_t& length) noexcept override;
    /// Never called with a usable cache; the file is not overwritten.
    void writeCalibrationCache(const void* ptr, size_t length) noexcept override {}
    /// The algorithm the header names, so the builder takes the scales (kENTROPY_2 for one Kiln does not
    /// implement, whose scales the builder takes as well).
    CalibrationAlgoType getAlgorithm() noexcept override { return mAlgorithm; }

private:
    std::vector<uint8_t> mBytes;
    std::string mHeader;
    size_t mScaleCount{0};
    CalibrationAlgoType mAlgorithm{CalibrationAlgoType::kENTROPY_2};
};

}  // namespace kiln::cli
