#include "io_formats.h"

#include <algorithm>
#include <utility>

#include "builder/io_types.h"
#include "name_value_list.h"

namespace kiln::cli {

namespace {

// trtexec's type names.
const std::pair<const char*, DataType> kTypeNames[] = {
    {"fp32", DataType::kFLOAT}, {"fp16", DataType::kHALF},  {"bf16", DataType::kBF16},
    {"int8", DataType::kINT8},  {"uint8", DataType::kUINT8}, {"int32", DataType::kINT32},
    {"int64", DataType::kINT64}, {"bool", DataType::kBOOL},
};

// trtexec's tensor formats; Kiln produces only "chw" (linear), the others are recognized so that a
// TensorRT command line gets "not supported" rather than "malformed".
const char* const kFormatNames[] = {"chw",   "chw2",   "chw4", "hwc8",       "chw16",    "chw32", "dhwc8",
                                    "cdhw32", "hwc",   "hwc16", "dla_linear", "dla_hwc4", "dhwc"};

const char* kGrammar = "type:fmt[+fmt][,type:fmt...], e.g. fp32:chw";

}  // namespace

Expected<std::vector<IoFormat>> parseIoFormats(const std::string& flag, const std::string& text) {
    auto entries = splitOutsideQuotes(text, ',');
    if (!entries) return entries.status().withContext(flag);
    std::vector<IoFormat> formats;
    for (const std::string& entry : entries.value()) {
        size_t colon = entry.find(':');
        if (colon == std::string::npos)
            return invalidArgument(flag + ": '" + entry + "' is not " + kGrammar);
        IoFormat format;
        format.typeName = entry.substr(0, colon);
        auto type = std::find_if(std::begin(kTypeNames), std::end(kTypeNames),
                                 [&](const auto& known) { return format.typeName == known.first; });
        if (type == std::end(kTypeNames))
            return invalidArgument(flag + ": unknown type '" + format.typeName +
                                   "' (fp32, fp16, bf16, int8, uint8, int32, int64 or bool)");
        format.dtype = type->second;
        auto alternatives = splitOutsideQuotes(entry.substr(colon + 1), '+');
        if (!alternatives) return alternatives.status().withContext(flag);
        for (const std::string& name : alternatives.value()) {
            bool known = std::any_of(std::begin(kFormatNames), std::end(kFormatNames),
                                     [&](const char* fmt) { return name == fmt; });
            if (!known)
                return invalidArgument(flag + ": unknown format '" + name + "' in '" + entry + "' (" + kGrammar +
                                       "; formats chw, chw2, chw4, hwc8, chw16, chw32, dhwc8, cdhw32, hwc, hwc16, "
                                       "dhwc, dla_linear, dla_hwc4)");
            format.formats.push_back(name);
        }
        formats.push_back(std::move(format));
    }
    return formats;
}

Expected<std::vector<std::pair<std::string, DataType>>> resolveIoFormats(
    const std::string& flag, const std::vector<IoFormat>& formats,
    const std::vector<std::pair<std::string, DataType>>& tensors) {
    std::vector<std::pair<std::string, DataType>> rebound;
    if (formats.empty()) return rebound;
    if (formats.size() != 1 && formats.size() != tensors.size())
        return invalidArgument(flag + " gives " + std::to_string(formats.size()) + " formats for " +
                               std::to_string(tensors.size()) + " tensor(s): give one per tensor, in order, or one "
                               "for all");
    for (size_t i = 0; i < tensors.size(); ++i) {
        const IoFormat& format = formats.size() == 1 ? formats[0] : formats[i];
        const auto& [name, dtype] = tensors[i];
        if (!ioTypeBindable(dtype, format.dtype))
            return unsupported(flag + ": tensor '" + name + "' is " + dataTypeName(dtype) + " in the model, which Kiln "
                               "does not bind as '" + format.typeName + "' (float32, float16 and bfloat16 convert "
                               "among themselves; other types keep the model's)");
        if (std::find(format.formats.begin(), format.formats.end(), "chw") == format.formats.end())
            return unsupported(flag + ": tensor '" + name + "': Kiln engines use the linear format 'chw' only");
        if (format.dtype != dtype) rebound.emplace_back(name, format.dtype);
    }
    return rebound;
}

}  // namespace kiln::cli
