// CPU kernels of the ml family's element-level ops, ArrayFeatureExtractor and Binarizer, and the
// family's registration (its other kernels live in ml_tree_ensemble.cpp and ml_tfidf.cpp).

#include <cmath>
#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/ml_kernels.h"

namespace kiln {

namespace {

constexpr const char* kMlDomain = "ai.onnx.ml";

/// Z[r, k] = X[r, Y[k]] over X's rows (every axis but the last): a gather of whole elements.
Status runArrayFeatureExtractor(const KernelIO& io) {
    const TensorView& x = io.input(0);
    const TensorView& indices = io.input(1);
    const int64_t width = x.shape.back();
    const int64_t rows = width == 0 ? 0 : x.elementCount() / width;
    const int64_t count = indices.elementCount();
    const int64_t* index = indices.as<const int64_t>();
    for (int64_t k = 0; k < count; ++k)
        if (index[k] < 0 || index[k] >= width)
            return invalidArgument("index " + std::to_string(index[k]) + " is outside X's last axis of " +
                                   std::to_string(width));
    const size_t element = dataTypeSize(x.dtype);
    const auto* src = static_cast<const uint8_t*>(x.data);
    auto* dst = static_cast<uint8_t*>(io.output(0).data);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < count; ++k)
            std::memcpy(dst + static_cast<size_t>(r * count + k) * element,
                        src + static_cast<size_t>(r * width + index[k]) * element, element);
    return Status::ok();
}

/// Integers compare with the float threshold exactly: x > t holds for an integer x exactly when
/// x > floor(t).
template <typename T>
void binarize(const T* x, T* y, int64_t count, double threshold) {
    if constexpr (std::is_integral_v<T>) {
        if (std::isnan(threshold) || threshold >= 9.3e18) {
            std::fill(y, y + count, T(0));
            return;
        }
        if (threshold < -9.3e18) {
            std::fill(y, y + count, T(1));
            return;
        }
        const auto bound = static_cast<int64_t>(std::floor(threshold));
        for (int64_t i = 0; i < count; ++i) y[i] = static_cast<int64_t>(x[i]) > bound ? T(1) : T(0);
    } else {
        for (int64_t i = 0; i < count; ++i) y[i] = static_cast<double>(x[i]) > threshold ? T(1) : T(0);
    }
}

Expected<std::unique_ptr<Kernel>> createBinarizer(const Node& node) {
    const double threshold = node.attrs.getFloat("threshold", 0.0f);
    const DataType type = node.input(0)->dtype;
    return std::unique_ptr<Kernel>(new FunctionKernel("cpu.binarizer", [threshold, type](const KernelIO& io) -> Status {
        const int64_t count = io.input(0).elementCount();
        return dispatchDataType(type, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                          std::is_same_v<T, int64_t>) {
                binarize(io.input(0).as<const T>(), io.output(0).as<T>(), count, threshold);
                return Status::ok();
            } else {
                return internalError(std::string("no Binarizer kernel for ") + dataTypeName(type));
            }
        });
    }));
}

bool supportsFeatureTypes(const Node& node, std::string* reason) {
    return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}, reason);
}

}  // namespace

void registerMlKernels(CpuKernelRegistry& registry) {
    registry.add({"ArrayFeatureExtractor", supportsFeatureTypes,
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          new FunctionKernel("cpu.array_feature_extractor", runArrayFeatureExtractor));
                  },
                  kMlDomain});
    registry.add({"Binarizer", supportsFeatureTypes, createBinarizer, kMlDomain});
    cpu::registerTreeEnsembleKernels(registry);
    cpu::registerTfIdfKernels(registry);
}

}  // namespace kiln
