// CUDA kernels of the ai.onnx.ml ops that are plain numerics on tensors: Binarizer and
// ArrayFeatureExtractor, on float, double, int32 and int64 (the types the CPU kernels take,
// backends/cpu/kernels/ml_features.cpp), and the family's registration (TreeEnsemble lives in
// ml_tree_ensemble.cu).

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/index_values.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/ml_kernels.h"

namespace kiln::cuda {

namespace {

bool supportsFeatureTypes(const Node& node, std::string* reason) {
    return inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}, reason);
}

/// Calls fn(T{}) with the C++ type of a float / double / int32 / int64 `type`.
template <typename Fn>
void dispatchFeatureType(DataType type, Fn&& fn) {
    switch (type) {
        case DataType::kDOUBLE: fn(double{}); break;
        case DataType::kINT32: fn(int32_t{}); break;
        case DataType::kINT64: fn(int64_t{}); break;
        default: fn(float{}); break;
    }
}

// ------------------------------------------------------------------------------------------ Binarizer

/// How integers compare with the threshold: with floor(threshold), which gives the same answer
/// exactly (x > t holds for an integer x exactly when x > floor(t)), unless the threshold lies beyond
/// int64's range (or is NaN) and decides every element alike.
enum class IntegerRule : int { kCompare, kAllZero, kAllOne };

/// Floats compare with the threshold in double; integers by `rule`.
template <typename T>
__global__ void binarizeKernel(const T* x, T* y, int64_t n, double threshold, IntegerRule rule, int64_t bound) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        bool above;
        if constexpr (std::is_integral_v<T>)
            above = rule == IntegerRule::kAllOne || (rule == IntegerRule::kCompare && static_cast<int64_t>(x[i]) > bound);
        else
            above = static_cast<double>(x[i]) > threshold;
        y[i] = above ? T(1) : T(0);
    }
}

class BinarizerKernel final : public Kernel {
public:
    BinarizerKernel(DataType type, double threshold) : mType(type), mThreshold(threshold) {}

    Status run(const KernelIO& io) override {
        const int64_t n = io.input(0).elementCount();
        if (n == 0) return Status::ok();
        IntegerRule rule = IntegerRule::kCompare;
        int64_t bound = 0;
        if (std::isnan(mThreshold) || mThreshold >= 9.3e18)
            rule = IntegerRule::kAllZero;
        else if (mThreshold < -9.3e18)
            rule = IntegerRule::kAllOne;
        else
            bound = static_cast<int64_t>(std::floor(mThreshold));
        auto stream = static_cast<cudaStream_t>(io.stream);
        dispatchFeatureType(mType, [&](auto tag) {
            using T = decltype(tag);
            binarizeKernel<T><<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), n, mThreshold, rule, bound);
        });
        return launchStatus("binarize");
    }

    std::string tacticName() const override { return std::string("cuda.binarizer_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    double mThreshold;
};

// ------------------------------------------------------------------------------ ArrayFeatureExtractor

/// Z[r, k] = X[r, indices[k]] over X's rows (every axis but the last).
template <typename T>
__global__ void extractKernel(const T* x, const int64_t* indices, T* z, int64_t rows, int64_t width, int64_t count) {
    const int64_t n = rows * count;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / count;
        z[i] = x[r * width + indices[i % count]];
    }
}

class ArrayFeatureExtractorKernel final : public Kernel {
public:
    ArrayFeatureExtractorKernel(DataType type, const Node& node) : mType(type), mIndices(node.input(1)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        mWidth = in[0].shape.empty() ? 1 : in[0].shape.back();
        mRows = mWidth == 0 ? 0 : in[0].elementCount() / mWidth;
        mCount = in[1].elementCount();
        if (out[0].elementCount() != mRows * mCount)
            return invalidArgument("cuda.array_feature_extractor: Z has shape " + shapeToString(out[0].shape, true) +
                                   " for " + std::to_string(mRows) + " rows of " + std::to_string(mCount) + " indices");
        mChecked = false;
        if (mIndices.knownBeforeRun(in[1])) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> values, mIndices.read(in[1], nullptr, "Y"));
            KILN_RETURN_IF_ERROR(check(values));
            mChecked = true;
        }
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        // Indices computed during the run are read back to be checked before the gather reads with them.
        if (!mChecked) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> values, mIndices.read(io.input(1), stream, "Y"));
            KILN_RETURN_IF_ERROR(check(values));
        }
        const int64_t n = mRows * mCount;
        if (n == 0) return Status::ok();
        const auto* indices = static_cast<const int64_t*>(io.input(1).data);
        // Elements are moved, not computed: 4- and 8-byte words cover the four types.
        if (dataTypeSize(mType) == 4)
            extractKernel<uint32_t><<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(
                static_cast<const uint32_t*>(io.input(0).data), indices, static_cast<uint32_t*>(io.output(0).data), mRows,
                mWidth, mCount);
        else
            extractKernel<uint64_t><<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(
                static_cast<const uint64_t*>(io.input(0).data), indices, static_cast<uint64_t*>(io.output(0).data), mRows,
                mWidth, mCount);
        return launchStatus("array_feature_extractor");
    }

    std::string tacticName() const override {
        return std::string("cuda.array_feature_extractor_") + tacticTypeSuffix(mType);
    }

    bool isCapturable(std::string* reason) const override {
        if (mChecked) return true;
        if (reason) *reason = "its indices are computed during the run and read back to the host to be checked";
        return false;
    }

private:
    Status check(const std::vector<int64_t>& values) const {
        for (int64_t index : values)
            if (index < 0 || index >= mWidth)
                return invalidArgument("cuda.array_feature_extractor: index " + std::to_string(index) +
                                       " is outside X's last axis of " + std::to_string(mWidth));
        return Status::ok();
    }

    DataType mType;
    IndexInput mIndices;
    int64_t mWidth{0}, mRows{0}, mCount{0};
    bool mChecked{false};
};

}  // namespace

void registerMlFeatureKernels(CudaKernelRegistry& registry) {
    registry.add({"ai.onnx.ml::Binarizer", supportsFeatureTypes,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          new BinarizerKernel(node.input(0)->dtype, node.attrs.getFloat("threshold", 0.0f)));
                  }});
    registry.add({"ai.onnx.ml::ArrayFeatureExtractor",
                  [](const Node& node, std::string* reason) {
                      if (!supportsFeatureTypes(node, reason)) return false;
                      const Value* indices = node.input(1);
                      if (!indices || indices->dtype != DataType::kINT64) {
                          if (reason) *reason = "the indices Y must be int64";
                          return false;
                      }
                      return true;
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(new ArrayFeatureExtractorKernel(node.input(0)->dtype, node));
                  }});
    registerTreeEnsembleKernels(registry);
}

}  // namespace kiln::cuda
