#include "input_data.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <type_traits>

#include "common/file_io.h"
#include "ir/dtype.h"
#include "npy.h"
#include "shape_spec.h"

namespace kiln::cli {

namespace {

bool endsWithNpy(const std::string& path) {
    if (path.size() < 4) return false;
    std::string tail = path.substr(path.size() - 4);
    std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
    return tail == ".npy";
}

std::string describeInput(const std::string& name, DataType dtype, const Dims& dims) {
    return "input '" + name + "' (" + dataTypeName(dtype) + ", " + describeDims(dims) + ")";
}

}  // namespace

int64_t elementCount(const Dims& dims) {
    int64_t count = 1;
    for (int32_t i = 0; i < dims.nbDims; ++i) count *= dims.d[i];
    return count;
}

Expected<std::vector<uint8_t>> loadInputFile(const std::string& name, DataType dtype, const Dims& dims,
                                             const std::string& path) {
    const std::string who = describeInput(name, dtype, dims);
    if (endsWithNpy(path)) {
        auto array = readNpy(path);
        if (!array) return array.status().withContext(who);
        if (array->dtype != dtype)
            return invalidArgument(who + ": '" + path + "' holds " + dataTypeName(array->dtype) + " ('" + array->descr +
                                   "'), expected " + dataTypeName(dtype));
        bool sameShape = static_cast<int32_t>(array->shape.size()) == dims.nbDims;
        for (int32_t i = 0; sameShape && i < dims.nbDims; ++i)
            sameShape = array->shape[static_cast<size_t>(i)] == dims.d[i];
        if (!sameShape) {
            std::vector<int64_t> expected(dims.d, dims.d + dims.nbDims);
            return invalidArgument(who + ": '" + path + "' has shape " + npyShapeToString(array->shape) +
                                   ", expected " + npyShapeToString(expected));
        }
        return std::move(array->data);
    }
    auto bytes = readFile(path);
    if (!bytes) return bytes.status().withContext(who);
    size_t expected = static_cast<size_t>(elementCount(dims)) * dataTypeSize(dtype);
    if (bytes->size() != expected)
        return invalidArgument(who + ": '" + path + "' has " + std::to_string(bytes->size()) + " bytes, expected " +
                               std::to_string(expected) + " (raw little-endian " + dataTypeName(dtype) +
                               " elements; name the file .npy to give a NumPy array)");
    return bytes;
}

std::vector<uint8_t> randomInput(DataType dtype, int64_t count, std::mt19937_64& rng) {
    std::vector<uint8_t> bytes(static_cast<size_t>(count) * dataTypeSize(dtype));
    if (isLowBitType(dtype)) {  // in Kiln's one-byte layout (see DataType): [-1, 1], or 0 and 1 for integers
        std::uniform_real_distribution<double> real(-1.0, 1.0);
        std::uniform_int_distribution<int> small(0, 1);
        for (size_t i = 0; i < bytes.size(); ++i)
            bytes[i] =
                isLowBitIntegerType(dtype) ? lowBitFromInteger(dtype, small(rng)) : lowBitFromDouble(dtype, real(rng));
        return bytes;
    }
    dispatchDataType(dtype, [&](auto zero) {
        using T = decltype(zero);
        std::uniform_real_distribution<double> real(-1.0, 1.0);
        std::uniform_int_distribution<int> small(0, 3);
        for (int64_t i = 0; i < count; ++i) {
            T value{};
            if constexpr (std::is_same_v<T, bool>) {
                value = small(rng) % 2 == 1;
            } else if constexpr (std::is_integral_v<T>) {
                value = static_cast<T>(small(rng));
            } else if constexpr (std::is_same_v<T, double>) {
                value = real(rng);
            } else {
                value = T(static_cast<float>(real(rng)));
            }
            std::memcpy(bytes.data() + static_cast<size_t>(i) * sizeof(T), &value, sizeof(T));
        }
    });
    return bytes;
}

}  // namespace kiln::cli
