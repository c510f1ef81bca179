#include "quant/calibration_cache.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace kiln {

namespace {

/// Kiln's cache format version: the number in "KILN-1-...".
constexpr const char* kKilnCachePrefix = "KILN-1-";

constexpr CalibrationAlgoType kAllAlgorithms[] = {CalibrationAlgoType::kMINMAX, CalibrationAlgoType::kENTROPY,
                                                  CalibrationAlgoType::kENTROPY_2, CalibrationAlgoType::kPERCENTILE};

std::string trimmed(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return std::string(s.substr(b, e - b));
}

/// A line as an error message shows it: printable, and short (a binary file's "line" is neither).
std::string quoted(const std::string& line) {
    constexpr size_t kShown = 80;
    std::string shown;
    for (size_t i = 0; i < line.size() && i < kShown; ++i) {
        const auto c = static_cast<unsigned char>(line[i]);
        shown += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
    }
    if (line.size() > kShown) shown += "...";
    return "'" + shown + "'";
}

bool allDigits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

/// "KILN-<n>-<Algorithm>" or "TRT-<n>-<Algorithm>": the algorithm part, or an error message.
Status parseHeader(const std::string& line, CalibrationTable& table) {
    const std::string expected = "expected a header such as 'KILN-1-EntropyCalibration2' or 'TRT-8601-EntropyCalibration2'";
    const size_t first = line.find('-');
    const size_t second = first == std::string::npos ? std::string::npos : line.find('-', first + 1);
    if (second == std::string::npos) return invalidArgument("calibration cache: line 1 " + quoted(line) + ": " + expected);
    const std::string product = line.substr(0, first);
    const std::string version = line.substr(first + 1, second - first - 1);
    const std::string algorithm = line.substr(second + 1);
    if ((product != "KILN" && product != "TRT") || !allDigits(version) || algorithm.empty())
        return invalidArgument("calibration cache: line 1 " + quoted(line) + ": " + expected);
    table.header = line;
    for (CalibrationAlgoType type : kAllAlgorithms)
        if (algorithm == calibrationAlgoName(type)) table.algorithm = type;
    return Status::ok();
}

}  // namespace

std::string formatCalibrationCache(CalibrationAlgoType algorithm, const std::map<std::string, float>& scales) {
    std::string text = std::string(kKilnCachePrefix) + calibrationAlgoName(algorithm) + "\n";
    for (const auto& [name, scale] : scales) {
        uint32_t bits = 0;
        std::memcpy(&bits, &scale, sizeof bits);
        char hex[9];
        std::snprintf(hex, sizeof hex, "%08x", bits);
        text += name + ": " + hex + "\n";
    }
    return text;
}

Expected<CalibrationTable> parseCalibrationCache(std::string_view text) {
    if (text.find('\0') != std::string_view::npos)
        return invalidArgument("calibration cache: holds a NUL byte: not a text calibration cache");
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        lines.push_back(trimmed(text.substr(start, end - start)));
        start = end + 1;
    }
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    if (lines.empty()) return invalidArgument("calibration cache: empty (no header line)");

    CalibrationTable table;
    KILN_RETURN_IF_ERROR(parseHeader(lines[0], table));
    for (size_t i = 1; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        const std::string where = "calibration cache: line " + std::to_string(i + 1) + " " + quoted(line) + ": ";
        // Tensor names may hold ':' themselves: the scale follows the last one.
        const size_t colon = line.rfind(':');
        if (colon == std::string::npos || colon == 0)
            return invalidArgument(where + "expected 'tensorName: <8 hex digits of the float32 scale>'");
        const std::string name = trimmed(std::string_view(line).substr(0, colon));
        const std::string hex = trimmed(std::string_view(line).substr(colon + 1));
        if (name.empty()) return invalidArgument(where + "the tensor name is empty");
        if (hex.size() != 8 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
            return invalidArgument(where + "the scale must be 8 hex digits (the float32's bits), got '" + hex + "'");
        const auto bits = static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
        float scale = 0;
        std::memcpy(&scale, &bits, sizeof scale);
        // Zero is allowed: a tensor that was all zeros during calibration (it is then left unquantized).
        if (!std::isfinite(scale) || scale < 0)
            return invalidArgument(where + "the scale " + std::to_string(scale) + " is not a finite number >= 0");
        if (!table.scales.emplace(name, scale).second)
            return invalidArgument(where + "tensor '" + name + "' is listed twice");
    }
    return table;
}

}  // namespace kiln
