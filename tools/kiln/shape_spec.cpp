#include "shape_spec.h"

#include <charconv>

#include "name_value_list.h"

namespace kiln::cli {

Expected<Dims> parseDims(const std::string& text) {
    Dims dims;
    if (text.empty()) return dims;
    size_t start = 0;
    while (true) {
        size_t end = text.find('x', start);
        std::string part = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        int64_t extent = -1;
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), extent);
        if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || extent < 0)
            return invalidArgument(
                "'" + text + "': extent '" + part +
                "' is not a non-negative integer (dimensions are separated by 'x', e.g. 1x3x224x224)");
        if (dims.nbDims == kMaxDims)
            return invalidArgument("'" + text + "' has more than " + std::to_string(kMaxDims) + " dimensions");
        dims.d[dims.nbDims++] = extent;
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return dims;
}

Expected<ShapeSpecs> parseShapeSpecs(const std::string& flag, const std::vector<std::string>& args) {
    auto entries = parseNameValueList(flag, args, ColonRule::kLast, "input:1x3x224x224");
    if (!entries) return entries.status();
    ShapeSpecs specs;
    for (const NameValue& entry : entries.value()) {
        auto dims = parseDims(entry.value);
        if (!dims) return dims.status().withContext(flag + ": input '" + entry.name + "'");
        specs[entry.name] = dims.value();
    }
    return specs;
}

std::string describeDims(const Dims& dims) {
    return dims.nbDims == 0 ? "scalar" : dimsToString(dims);
}

}  // namespace kiln::cli
