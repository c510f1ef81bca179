#pragma once
// One kernel shape for every element-wise unary op: out[i] = fn(in[i]), computed in Compute<T> (float
// for float16 and bfloat16). A family file defines its functors and registers them with
// registerUnaryKernel<Fn, List>: `List` (element_types.cuh) names the input types it is instantiated
// for; the output has the input's type, or bool for a PredicateFn. A functor may carry attributes
// (IsInf's flags, Shrink's lambd): it is passed to the kernel by value. Where the output has the input's
// type, the count is a multiple of the 16-byte pack and both addresses are aligned to it, each thread
// moves whole packs (8 float16 / bfloat16 or 4 floats): 2-byte accesses left a float16 GELU at 1.6 TB/s.

#include <memory>
#include <string>
#include <type_traits>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"

namespace kiln::cuda {

template <typename T, typename TO, typename Fn, typename IndexT>
__global__ void unaryMapKernel(const T* in, TO* out, IndexT count, Fn fn) {
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step)
        out[i] = store<TO>(fn(load(in[i])));
}

template <typename T, typename Fn, int V>
__global__ void unaryMapPackKernel(const T* in, T* out, uint32_t packs, Fn fn) {
    const uint32_t step = gridDim.x * blockDim.x;
    for (uint32_t p = blockIdx.x * blockDim.x + threadIdx.x; p < packs; p += step) {
        T v[V];
        loadPacks<T, V>(in + static_cast<size_t>(p) * V, v);
#pragma unroll
        for (int k = 0; k < V; ++k) v[k] = store<T>(fn(load(v[k])));
        storePacks<T, V>(out + static_cast<size_t>(p) * V, v);
    }
}

template <typename T, typename Fn>
Status launchUnaryMap(const Fn& fn, const void* in, void* out, int64_t count, cudaStream_t stream) {
    using TO = OutputOf<Fn, T>;
    const T* src = static_cast<const T*>(in);
    TO* dst = static_cast<TO*>(out);
    if constexpr (std::is_same_v<TO, T> && kWidestPack<T> > 1) {
        constexpr int V = kWidestPack<T>;
        const int64_t packs = count / V;
        if (count % V == 0 && packs < (int64_t{1} << 31) && addressesAligned(packAlignment<T>(V), {src, dst})) {
            unaryMapPackKernel<T, Fn, V><<<elementwiseGrid(packs), kElementwiseBlock, 0, stream>>>(
                src, dst, static_cast<uint32_t>(packs), fn);
            return launchStatus("unaryMapPackKernel");
        }
    }
    if (count < (int64_t{1} << 31))
        unaryMapKernel<T, TO, Fn, uint32_t>
            <<<elementwiseGrid(count), kElementwiseBlock, 0, stream>>>(src, dst, static_cast<uint32_t>(count), fn);
    else
        unaryMapKernel<T, TO, Fn, int64_t><<<elementwiseGrid(count), kElementwiseBlock, 0, stream>>>(src, dst, count, fn);
    return launchStatus("unaryMapKernel");
}

template <typename Fn, typename List>
class UnaryMapKernel : public Kernel {
public:
    UnaryMapKernel(std::string tactic, DataType type, Fn fn = Fn{}) : mTactic(std::move(tactic)), mType(type), mFn(fn) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const DataType outType = std::is_base_of_v<PredicateFn, Fn> ? DataType::kBOOL : mType;
        if (inputs.empty() || outputs.empty() || inputs[0].elementCount() != outputs[0].elementCount() ||
            inputs[0].dtype != mType || outputs[0].dtype != outType)
            return invalidArgument(mTactic + ": the input must be " + dataTypeName(mType) + " and the output " +
                                   dataTypeName(outType) + ", of the same element count");
        mCount = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        return List::dispatchStatus(mType, unsupported(mTactic + ": no instantiation for " + dataTypeName(mType)),
                                    [&](auto tag) -> Status {
                                        return launchUnaryMap<decltype(tag)>(mFn, io.input(0).data, io.output(0).data,
                                                                             mCount, stream);
                                    });
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    DataType mType;
    Fn mFn;
    int64_t mCount{0};
};

/// Registers `opType` as the unary map of Fn on the types of List; its tactic is "cuda.<name>_<type>".
/// `makeFn(node)` builds the functor from the node's attributes.
template <typename Fn, typename List, typename MakeFn>
void registerUnaryKernel(CudaKernelRegistry& registry, const std::string& opType, const std::string& name,
                         MakeFn makeFn) {
    registry.add({opType,
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1, List::types(), reason);
                  },
                  [name, makeFn](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      return std::unique_ptr<Kernel>(std::make_unique<UnaryMapKernel<Fn, List>>(
                          "cuda." + name + "_" + tacticTypeSuffix(type), type, makeFn(node)));
                  }});
}

/// A functor without attributes; float and float16 unless another List is named.
template <typename Fn, typename List = HalfFloatTypes>
void registerUnaryKernel(CudaKernelRegistry& registry, const std::string& opType, const std::string& name) {
    registerUnaryKernel<Fn, List>(registry, opType, name, [](const Node&) { return Fn{}; });
}

}  // namespace kiln::cuda
