#include "calibration_cache_file.h"

#include "common/file_io.h"
#include "quant/calibration_cache.h"

namespace kiln::cli {

Expected<std::unique_ptr<CalibrationCacheFile>> CalibrationCacheFile::load(const std::string& path) {
    auto bytes = readFile(path);
    if (!bytes) return bytes.status().withContext("--calib");
    auto table = parseCalibrationCache(std::string_view(reinterpret_cast<const char*>(bytes.value().data()),
                                                        bytes.value().size()));
    if (!table) return table.status().withContext("--calib: '" + path + "'");
    auto file = std::make_unique<CalibrationCacheFile>();
    file->mBytes = std::move(bytes).value();
    file->mHeader = table.value().header;
    file->mScaleCount = table.value().scales.size();
    if (table.value().algorithm) file->mAlgorithm = *table.value().algorithm;
    return file;
}

const void* CalibrationCacheFile::readCalibrationCache(size_t& length) noexcept {
    length = mBytes.size();
    return mBytes.data();
}

}  // namespace kiln::cli
