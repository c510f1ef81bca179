#pragma once
// Whole-file reads and writes with errors that name the file (the CLI's files, the engine cache's).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln {

Expected<std::vector<uint8_t>> readFile(const std::string& path);
/// The first `maxBytes` bytes of `path` (fewer when the file is shorter).
Expected<std::vector<uint8_t>> readFilePrefix(const std::string& path, size_t maxBytes);
Status writeFile(const std::string& path, const void* data, size_t size);

}  // namespace kiln
