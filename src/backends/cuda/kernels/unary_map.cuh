#pragma once
// One kernel shape for every element-wise unary op: out[i] = Fn(in[i]), computed in float for half.
// A family file defines its functors and registers them with registerUnaryKernel<Fn>.

#include <cuda_fp16.h>

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"

namespace kiln::cuda {

template <typename T, typename Fn, typename IndexT>
__global__ void unaryMapKernel(const T* in, T* out, IndexT count) {
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = fromFloat<T>(Fn{}(toFloat(in[i])));
}

template <typename T, typename Fn>
Status launchUnaryMap(const void* in, void* out, int64_t count, cudaStream_t stream) {
    const T* src = static_cast<const T*>(in);
    T* dst = static_cast<T*>(out);
    if (count < (int64_t{1} << 31))
        unaryMapKernel<T, Fn, uint32_t>
            <<<elementwiseGrid(count), kElementwiseBlock, 0, stream>>>(src, dst, static_cast<uint32_t>(count));
    else
        unaryMapKernel<T, Fn, int64_t><<<elementwiseGrid(count), kElementwiseBlock, 0, stream>>>(src, dst, count);
    return launchStatus("unaryMapKernel");
}

template <typename Fn>
class UnaryMapKernel : public Kernel {
public:
    UnaryMapKernel(std::string tactic, DataType type) : mTactic(std::move(tactic)), mType(type) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.empty() || outputs.empty() || inputs[0].elementCount() != outputs[0].elementCount() ||
            inputs[0].dtype != mType || outputs[0].dtype != mType)
            return invalidArgument(mTactic + ": input and output must be " + dataTypeName(mType) +
                                   " tensors of the same element count");
        mCount = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mType == DataType::kHALF)
            return launchUnaryMap<__half, Fn>(io.input(0).data, io.output(0).data, mCount, stream);
        return launchUnaryMap<float, Fn>(io.input(0).data, io.output(0).data, mCount, stream);
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    DataType mType;
    int64_t mCount{0};
};

/// Registers `opType` as the unary map of Fn on float and float16; its tactic is "cuda.<name>_<type>".
template <typename Fn>
void registerUnaryKernel(CudaKernelRegistry& registry, const std::string& opType, const std::string& name) {
    registry.add({opType,
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kHALF}, reason);
                  },
                  [name](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      return std::unique_ptr<Kernel>(
                          std::make_unique<UnaryMapKernel<Fn>>("cuda." + name + "_" + tacticTypeSuffix(type), type));
                  }});
}

}  // namespace kiln::cuda
