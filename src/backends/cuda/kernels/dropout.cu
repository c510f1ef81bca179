// Dropout. At inference (no training_mode input, or the constant false) the output is the input (copied
// device to device unless the runtime made it alias the input) and the optional mask is all true, for
// every element type. When training_mode is an input computed or fed at run time, or the constant true,
// one kernel reads the flag and the ratio on the device (no host synchronization): with the flag false
// it copies as above; with it true it keeps each element with probability 1 - ratio, scaled by
// 1 / (1 - ratio), and writes the mask. The random numbers come from a counter-based hash of the seed
// (the `seed` attribute, else a random one per kernel) and the element's position in the sequence of
// all elements this kernel has drawn, so every run draws new numbers.

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

/// SplitMix64's finalizer: a well-mixed 64-bit value of a counter.
__device__ __forceinline__ uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// Uniform in [0, 1) with 53 random bits.
__device__ __forceinline__ double uniformAt(uint64_t seed, uint64_t counter) {
    const uint64_t bits = mix64(seed + 0x9e3779b97f4a7c15ULL * (counter + 1));
    return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

__device__ __forceinline__ double loadValue(float v) { return v; }
__device__ __forceinline__ double loadValue(double v) { return v; }
__device__ __forceinline__ double loadValue(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T storeValue(double v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half storeValue<__half>(double v) {
    return __double2half(v);
}

/// The ratio input's element type, or kNone for the default 0.5.
enum class RatioType : int { kNone, kFloat, kHalf, kDouble };

__device__ __forceinline__ double readRatio(const void* ratio, RatioType type) {
    switch (type) {
        case RatioType::kFloat: return *static_cast<const float*>(ratio);
        case RatioType::kHalf: return __half2float(*static_cast<const __half*>(ratio));
        case RatioType::kDouble: return *static_cast<const double*>(ratio);
        default: return 0.5;
    }
}

template <typename T>
__global__ void dropoutKernel(const T* x, T* y, bool* mask, int64_t count, const void* ratio, RatioType ratioType,
                              const bool* training, bool trainingConstant, uint64_t seed, uint64_t first) {
    const bool train = training ? *training : trainingConstant;
    const double r = readRatio(ratio, ratioType);
    const double scale = r < 1.0 ? 1.0 / (1.0 - r) : 0.0;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
        if (!train) {
            y[i] = x[i];
            if (mask) mask[i] = true;
            continue;
        }
        // ratio 0 keeps everything unchanged; ratio 1 drops everything.
        const bool keep = uniformAt(seed, first + static_cast<uint64_t>(i)) >= r;
        y[i] = keep ? storeValue<T>(loadValue(x[i]) * scale) : storeValue<T>(0.0);
        if (mask) mask[i] = keep;
    }
}

/// training_mode as the node gives it: absent or constant false (inference), constant true, or a value
/// known only on the device.
enum class TrainingMode { kOff, kOn, kRuntime };

TrainingMode trainingModeOf(const Node& node) {
    const Value* mode = node.input(2);
    if (!mode) return TrainingMode::kOff;
    if (mode->isConstant() && mode->constant->elementCount() == 1)
        return mode->constant->elementAsDouble(0) != 0 ? TrainingMode::kOn : TrainingMode::kOff;
    return TrainingMode::kRuntime;
}

class DropoutKernel : public Kernel {
public:
    explicit DropoutKernel(const Node& node)
        : mName(node.describe()), mType(node.input(0)->dtype), mMode(trainingModeOf(node)) {
        if (auto seed = node.attrs.getFloat("seed"))
            mSeed = static_cast<uint64_t>(static_cast<int64_t>(*seed));
        else
            mSeed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs[0].byteSize() != outputs[0].byteSize())
            return invalidArgument(mName + ": input " + shapeToString(inputs[0].shape, true) + " and output " +
                                   shapeToString(outputs[0].shape, true) + " differ in size");
        mCount = inputs[0].elementCount();
        mBytes = outputs[0].byteSize();
        mMaskBytes = 0;
        if (outputs.size() > 1) {
            if (outputs[1].dtype != DataType::kBOOL || outputs[1].elementCount() != inputs[0].elementCount())
                return invalidArgument(mName + ": the mask must be a bool tensor of the input's shape");
            mMaskBytes = outputs[1].byteSize();
        }
        if (inputs.size() > 1 && inputs[1].data && inputs[1].elementCount() != 1)
            return invalidArgument(mName + ": ratio must hold one value, not " + std::to_string(inputs[1].elementCount()));
        if (inputs.size() > 2 && inputs[2].data &&
            (inputs[2].elementCount() != 1 || inputs[2].dtype != DataType::kBOOL))
            return invalidArgument(mName + ": training_mode must be one bool");
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        bool* mask = mMaskBytes > 0 && io.numOutputs > 1 ? static_cast<bool*>(io.output(1).data) : nullptr;
        if (mMode == TrainingMode::kOff) {
            if (mBytes > 0 && io.input(0).data != io.output(0).data)
                KILN_CUDA_RETURN_IF_ERROR(
                    cudaMemcpyAsync(io.output(0).data, io.input(0).data, mBytes, cudaMemcpyDeviceToDevice, stream));
            // bool true is the byte 1.
            if (mask) KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(mask, 1, mMaskBytes, stream));
            return Status::ok();
        }
        if (mCount == 0) return Status::ok();
        const void* ratio = io.hasInput(1) ? io.input(1).data : nullptr;
        RatioType ratioType = RatioType::kNone;
        if (ratio) {
            switch (io.input(1).dtype) {
                case DataType::kFLOAT: ratioType = RatioType::kFloat; break;
                case DataType::kHALF: ratioType = RatioType::kHalf; break;
                case DataType::kDOUBLE: ratioType = RatioType::kDouble; break;
                default: return invalidArgument(mName + ": ratio must be float, float16 or double");
            }
        }
        const bool* training = mMode == TrainingMode::kRuntime ? static_cast<const bool*>(io.input(2).data) : nullptr;
        const uint64_t first = mDrawn;
        mDrawn += static_cast<uint64_t>(mCount);
        switch (mType) {
            case DataType::kFLOAT: launch<float>(io, mask, ratio, ratioType, training, first, stream); break;
            case DataType::kHALF: launch<__half>(io, mask, ratio, ratioType, training, first, stream); break;
            case DataType::kDOUBLE: launch<double>(io, mask, ratio, ratioType, training, first, stream); break;
            default: return unsupported(mName + ": no CUDA training-mode Dropout for " + dataTypeName(mType));
        }
        return launchStatus("dropoutKernel");
    }

    std::string tacticName() const override {
        return mMode == TrainingMode::kOff ? "cuda.dropout_inference"
                                           : std::string("cuda.dropout_random_") + tacticTypeSuffix(mType);
    }

    bool isCapturable(std::string* reason) const override {
        if (mMode == TrainingMode::kOff) return true;
        if (reason) *reason = "Dropout that may train draws new random numbers every run; a replay would repeat one mask";
        return false;
    }

private:
    template <typename T>
    void launch(const KernelIO& io, bool* mask, const void* ratio, RatioType ratioType, const bool* training,
                uint64_t first, cudaStream_t stream) {
        dropoutKernel<T><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(
            static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mask, mCount, ratio,
            ratioType, training, mMode == TrainingMode::kOn, mSeed, first);
    }

    std::string mName;
    DataType mType;
    TrainingMode mMode;
    uint64_t mSeed{0};
    uint64_t mDrawn{0};
    int64_t mCount{0};
    size_t mBytes{0};
    size_t mMaskBytes{0};
};

bool dropoutSupported(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    if (!x) {
        if (reason) *reason = "Dropout needs its data input";
        return false;
    }
    if (trainingModeOf(node) == TrainingMode::kOff) return true;
    if (!inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}, reason)) return false;
    const Value* ratio = node.input(1);
    if (ratio && ratio->dtype != DataType::kFLOAT && ratio->dtype != DataType::kHALF && ratio->dtype != DataType::kDOUBLE) {
        if (reason) *reason = "Dropout's ratio must be float, float16 or double";
        return false;
    }
    if (node.input(2)->dtype != DataType::kBOOL) {
        if (reason) *reason = "Dropout's training_mode must be bool";
        return false;
    }
    return true;
}

}  // namespace

void registerDropoutKernels(CudaKernelRegistry& registry) {
    registry.add({"Dropout", dropoutSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<DropoutKernel>(node));
                  }});
}

}  // namespace kiln::cuda
