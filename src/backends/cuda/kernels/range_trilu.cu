// Tensors generated or masked by position: Range (start + i * delta, the count from the output's shape,
// which inference computed) and Trilu (the upper or lower triangle of the last two dims, k from the
// optional input 1). Their scalar inputs live on the device and are read by the kernels.

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

// --------------------------------------------------------------------------------------------- Range

using RangeTypes = DeviceTypes<float, double, __half, __nv_bfloat16, int16_t, int32_t, int64_t>;

// Integers step exactly (wrapping); floats compute start + i * delta in double, rounded once per element
// (no accumulated error), as the CPU kernel does.
template <typename T>
__global__ void rangeKernel(const T* start, const T* delta, T* out, int64_t count) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        if constexpr (std::is_integral_v<T>) {
            out[i] = wrapAdd(*start, wrapMul(static_cast<T>(i), *delta));
        } else {
            const double s = static_cast<double>(load(*start));
            const double d = static_cast<double>(load(*delta));
            const double v = s + static_cast<double>(i) * d;
            if constexpr (std::is_same_v<T, double>)
                out[i] = v;
            else
                out[i] = store<T>(static_cast<float>(v));
        }
    }
}

class RangeKernel : public Kernel {
public:
    explicit RangeKernel(DataType type) : mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.size() != 3 || outputs.empty() || outputs[0].dtype != mType || outputs[0].rank() != 1)
            return invalidArgument(tacticName() + ": needs start, limit and delta and a 1-D " + dataTypeName(mType) +
                                   " output");
        for (size_t i = 0; i < 3; ++i)
            if (inputs[i].dtype != mType || inputs[i].elementCount() != 1)
                return invalidArgument(tacticName() + ": input " + std::to_string(i) + " must be one " +
                                       dataTypeName(mType) + " element");
        mCount = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        RangeTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            rangeKernel<T><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<const T*>(io.input(2).data),
                static_cast<T*>(io.output(0).data), mCount);
        });
        return launchStatus("rangeKernel");
    }

    std::string tacticName() const override { return std::string("cuda.range_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    int64_t mCount{0};
};

// --------------------------------------------------------------------------------------------- Trilu

// Element i of a (..., rows, cols) tensor is kept when its column minus its row is >= k (upper) or
// <= k (lower); the rest become zero bytes, 0 / false in every Kiln type.
template <typename Word, bool kUpper>
__global__ void triluKernel(const Word* in, Word* out, int64_t count, int64_t rows, int64_t cols, const int64_t* kPtr) {
    const int64_t k = kPtr ? *kPtr : 0;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        const int64_t c = i % cols;
        const int64_t r = (i / cols) % rows;
        const bool keep = kUpper ? c - r >= k : c - r <= k;
        out[i] = keep ? in[i] : Word{0};
    }
}

class TriluKernel : public Kernel {
public:
    TriluKernel(DataType type, bool upper) : mType(type), mUpper(upper) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].rank() < 2 || inputs[0].shape != outputs[0].shape ||
            inputs[0].dtype != mType || outputs[0].dtype != mType)
            return invalidArgument(tacticName() + ": input and output must be " + dataTypeName(mType) +
                                   " tensors of one shape of rank >= 2");
        if (inputs.size() > 1 && inputs[1].data && (inputs[1].dtype != DataType::kINT64 || inputs[1].elementCount() != 1))
            return invalidArgument(tacticName() + ": k must be one int64 element");
        mCount = outputs[0].elementCount();
        mRows = inputs[0].shape[inputs[0].shape.size() - 2];
        mCols = inputs[0].shape.back();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const int64_t* k = io.hasInput(1) ? static_cast<const int64_t*>(io.input(1).data) : nullptr;
        switch (dataTypeSize(mType)) {
            case 1: return launch<uint8_t>(io, k, stream);
            case 2: return launch<uint16_t>(io, k, stream);
            case 4: return launch<uint32_t>(io, k, stream);
            case 8: return launch<uint64_t>(io, k, stream);
            default: return unsupported(tacticName() + ": no kernel for " + dataTypeName(mType));
        }
    }

    std::string tacticName() const override {
        return std::string(mUpper ? "cuda.trilu_upper_" : "cuda.trilu_lower_") + tacticTypeSuffix(mType);
    }

private:
    template <typename Word>
    Status launch(const KernelIO& io, const int64_t* k, cudaStream_t stream) {
        const Word* in = static_cast<const Word*>(io.input(0).data);
        Word* out = static_cast<Word*>(io.output(0).data);
        const unsigned grid = elementwiseGrid(mCount);
        if (mUpper)
            triluKernel<Word, true><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mCount, mRows, mCols, k);
        else
            triluKernel<Word, false><<<grid, kElementwiseBlock, 0, stream>>>(in, out, mCount, mRows, mCols, k);
        return launchStatus("triluKernel");
    }

    DataType mType;
    bool mUpper;
    int64_t mCount{0};
    int64_t mRows{0};
    int64_t mCols{0};
};

bool triluSupported(const Node& node, std::string* reason) {
    const Value* x = node.input(0);
    if (!x || !AllTypes::contains(x->dtype) || x->shape.size() < 2) {
        if (reason) *reason = "Trilu needs an input of rank >= 2 and a Kiln element type";
        return false;
    }
    const Value* k = node.input(1);
    if (k && k->dtype != DataType::kINT64) {
        if (reason) *reason = std::string("Trilu's k must be int64, not ") + dataTypeName(k->dtype);
        return false;
    }
    return true;
}

}  // namespace

void registerRangeTriluKernels(CudaKernelRegistry& registry) {
    registry.add({"Range",
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 3, RangeTypes::types(), reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<RangeKernel>(node.input(0)->dtype));
                  }});
    registry.add({"Trilu", triluSupported, [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<TriluKernel>(
                          node.input(0)->dtype, node.attrs.getInt("upper", 1) != 0));
                  }});
}

}  // namespace kiln::cuda
