// Tensors made from attributes and shapes rather than from input values: ConstantOfShape (one value
// repeated; the output's shape came from input 0's values, which the runtime read), EyeLike (ones on
// diagonal k, zeros elsewhere) and Size (the input's element count, known on the host at reshape).

#include <cstring>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

// ----------------------------------------------------------------------------------- ConstantOfShape

template <typename Word>
__global__ void fillKernel(Word* out, int64_t count, Word value) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) out[i] = value;
}

class ConstantOfShapeKernel : public Kernel {
public:
    /// `pattern` holds one element's bytes (float 0 when the attribute is absent).
    explicit ConstantOfShapeKernel(uint64_t pattern) : mPattern(pattern) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (outputs.empty()) return invalidArgument("cuda.constant_of_shape: needs an output");
        mCount = outputs[0].elementCount();
        mElementSize = dataTypeSize(outputs[0].dtype);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const unsigned grid = elementwiseGrid(mCount);
        void* out = io.output(0).data;
        switch (mElementSize) {
            case 1: fillKernel<uint8_t><<<grid, kElementwiseBlock, 0, stream>>>(static_cast<uint8_t*>(out), mCount, word<uint8_t>()); break;
            case 2: fillKernel<uint16_t><<<grid, kElementwiseBlock, 0, stream>>>(static_cast<uint16_t*>(out), mCount, word<uint16_t>()); break;
            case 4: fillKernel<uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(static_cast<uint32_t*>(out), mCount, word<uint32_t>()); break;
            case 8: fillKernel<uint64_t><<<grid, kElementwiseBlock, 0, stream>>>(static_cast<uint64_t*>(out), mCount, word<uint64_t>()); break;
            default: return unsupported("cuda.constant_of_shape: no kernel for " + std::to_string(mElementSize) + "-byte elements");
        }
        return launchStatus("fillKernel");
    }

    std::string tacticName() const override { return "cuda.constant_of_shape"; }

private:
    template <typename Word>
    Word word() const {
        Word w;
        std::memcpy(&w, &mPattern, sizeof(Word));
        return w;
    }

    uint64_t mPattern;
    int64_t mCount{0};
    size_t mElementSize{4};
};

Expected<std::unique_ptr<Kernel>> createConstantOfShape(const Node& node, const CudaContext&) {
    uint64_t pattern = 0;
    if (const Tensor* value = node.attrs.getTensor("value")) {
        if (value->elementCount() != 1 || dataTypeSize(value->dtype()) > sizeof(pattern))
            return invalidModel(node.describe() + ": attribute 'value' must be a one-element tensor");
        std::memcpy(&pattern, value->data(), dataTypeSize(value->dtype()));
    }
    return std::unique_ptr<Kernel>(std::make_unique<ConstantOfShapeKernel>(pattern));
}

// -------------------------------------------------------------------------------------------- EyeLike

template <typename T>
__global__ void eyeKernel(T* out, int64_t count, int64_t cols, int64_t k) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = castValue<T>(i % cols - i / cols == k ? 1 : 0);
}

class EyeLikeKernel : public Kernel {
public:
    EyeLikeKernel(DataType type, int64_t k) : mType(type), mK(k) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (outputs.empty() || outputs[0].rank() != 2 || outputs[0].dtype != mType)
            return invalidArgument(tacticName() + ": the output must be a 2-D " + dataTypeName(mType) + " tensor");
        mCount = outputs[0].elementCount();
        mCols = outputs[0].shape[1];
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        AllTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            eyeKernel<T><<<elementwiseGrid(mCount), kElementwiseBlock, 0, stream>>>(static_cast<T*>(io.output(0).data),
                                                                                  mCount, mCols, mK);
        });
        return launchStatus("eyeKernel");
    }

    std::string tacticName() const override { return std::string("cuda.eye_like_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    int64_t mK;
    int64_t mCount{0};
    int64_t mCols{1};
};

// ----------------------------------------------------------------------------------------------- Size

class SizeKernel : public Kernel {
public:
    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || outputs[0].dtype != DataType::kINT64 || outputs[0].elementCount() != 1)
            return invalidArgument("cuda.size: needs an input and a one-element int64 output");
        mSize = inputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        // The count travels as a kernel argument, not a copy from pageable memory, so a CUDA graph can
        // record it (a shape change re-captures the graph).
        fillKernel<int64_t><<<1, 1, 0, static_cast<cudaStream_t>(io.stream)>>>(static_cast<int64_t*>(io.output(0).data),
                                                                             1, mSize);
        return launchStatus("fillKernel");
    }

    std::string tacticName() const override { return "cuda.size"; }

private:
    int64_t mSize{0};
};

bool outputTypeKnown(const Node& node, std::string* reason) {
    const Value* out = node.outputs.empty() ? nullptr : node.outputs[0];
    if (out && AllTypes::contains(out->dtype)) return true;
    if (reason)
        *reason = std::string("no CUDA ") + node.opType + " kernel for output type " +
                  (out ? dataTypeName(out->dtype) : "<none>");
    return false;
}

}  // namespace

void registerFillKernels(CudaKernelRegistry& registry) {
    registry.add({"ConstantOfShape", outputTypeKnown, createConstantOfShape});
    registry.add({"EyeLike",
                  [](const Node& node, std::string* reason) {
                      if (!outputTypeKnown(node, reason)) return false;
                      if (node.outputs[0]->shape.size() == 2) return true;
                      if (reason) *reason = "EyeLike's output must be 2-D";
                      return false;
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(
                          std::make_unique<EyeLikeKernel>(node.outputs[0]->dtype, node.attrs.getInt("k", 0)));
                  }});
    registry.add({"Size",
                  [](const Node& node, std::string* reason) {
                      if (node.input(0)) return true;
                      if (reason) *reason = "input 0 is missing";
                      return false;
                  },
                  [](const Node&, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<SizeKernel>());
                  }});
}

}  // namespace kiln::cuda
