#include "output_export.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "common/file_io.h"
#include "input_data.h"
#include "ir/dtype.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

// Reduced-precision values print with the fewest digits that still read back as the same float, so
// an fp32 output of 0.1 is written 0.1, not 0.10000000149011612.
double shortestAsDouble(float value) {
    char buffer[32];
    auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    double result = value;
    std::from_chars(buffer, end, result);
    return result;
}

template <typename T>
nlohmann::ordered_json elementToJson(T value) {
    if constexpr (std::is_integral_v<T>) {
        return value;  // bool included: it becomes true / false
    } else {
        double v = static_cast<double>(value);
        if (!std::isfinite(v)) return jsonNumber(v);
        if constexpr (std::is_same_v<T, double>) return v;
        return shortestAsDouble(static_cast<float>(value));
    }
}

template <typename T>
T loadElement(const void* data, int64_t index) {
    T value;
    std::memcpy(&value, static_cast<const uint8_t*>(data) + static_cast<size_t>(index) * sizeof(T), sizeof(T));
    return value;
}

}  // namespace

nlohmann::ordered_json jsonNumber(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
    return value;
}

nlohmann::ordered_json tensorValuesToJson(DataType dtype, const void* data, int64_t count) {
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    if (isLowBitType(dtype)) {  // one byte per element (see DataType): its value, not its code
        for (int64_t i = 0; i < count; ++i) {
            const double v = lowBitToDouble(dtype, static_cast<const uint8_t*>(data)[i]);
            if (isLowBitIntegerType(dtype))
                values.push_back(static_cast<int64_t>(v));
            else
                values.push_back(jsonNumber(v));
        }
        return values;
    }
    if (dtype == DataType::kSTRING) {
        for (int64_t i = 0; i < count; ++i) {
            StringView s;
            std::memcpy(&s, static_cast<const uint8_t*>(data) + i * sizeof(StringView), sizeof(StringView));
            values.push_back(std::string(s.data, s.size));
        }
        return values;
    }
    dispatchDataType(dtype, [&](auto zero) {
        using T = decltype(zero);
        for (int64_t i = 0; i < count; ++i) values.push_back(elementToJson(loadElement<T>(data, i)));
    });
    return values;
}

nlohmann::ordered_json outputsToJson(const std::vector<TensorView>& outputs) {
    nlohmann::ordered_json array = nlohmann::ordered_json::array();
    for (const TensorView& out : outputs) {
        array.push_back({{"name", out.name},
                         {"dimensions", dimsToString(out.dims)},
                         {"dtype", dataTypeName(out.dtype)},
                         {"values", tensorValuesToJson(out.dtype, out.data, elementCount(out.dims))}});
    }
    return array;
}

Status exportOutputs(const std::string& path, const std::vector<TensorView>& outputs) {
    std::string text = "[";
    for (const nlohmann::ordered_json& output : outputsToJson(outputs))
        text += (text.size() > 1 ? ",\n" : "\n") + output.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    text += "\n]\n";
    return writeFile(path, text.data(), text.size()).withContext("--exportOutput");
}

std::string formatTensor(const TensorView& tensor, int64_t maxValues) {
    int64_t count = elementCount(tensor.dims);
    int64_t shown = std::min(count, maxValues);
    nlohmann::ordered_json values = tensorValuesToJson(tensor.dtype, tensor.data, shown);
    std::string text = tensor.name + " (" + dataTypeName(tensor.dtype) + ", " + describeDims(tensor.dims) + "):";
    for (const nlohmann::ordered_json& v : values) {
        text += ' ';
        text += v.is_string() ? v.get<std::string>() : v.dump();
    }
    if (shown < count) text += " ... (" + std::to_string(count - shown) + " more)";
    return text;
}

}  // namespace kiln::cli
