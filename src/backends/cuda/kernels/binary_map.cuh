#pragma once
// One kernel shape for every broadcasting binary op: out[i] = fn(a[ia], b[ib]) over a BroadcastPlan,
// computed in Compute<T>. The inputs may differ in type (Pow's base and exponent); the output has
// input A's type, or bool for a PredicateFn. BinaryMapKernel is the same-type op of a type list, and
// registerBinaryKernel<Fn, List> registers one.
// Same-type float/half/bfloat16 maps whose inputs are contiguous (same shape), or a [rows, C] tensor with
// a [C] row repeated (a bias), take binaryPackKernel: 16 bytes per access instead of one element.

#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"

namespace kiln::cuda {

// No __restrict__: the runtime may run an element-wise op in place (out aliasing an input), and the
// variadic ops fold into their output. kFlat: the plan has one dim, so each input's offset is the
// index times its stride (1, or 0 for a broadcast scalar): the same-shape and scalar cases skip the
// index decomposition.
template <typename TA, typename TB, typename TO, typename Fn, typename IndexT, bool kFlat>
__global__ void binaryMapKernel(const TA* a, const TB* b, TO* out, BroadcastPlan plan, Fn fn) {
    const IndexT count = static_cast<IndexT>(plan.count);
    const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
    for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
        IndexT offsets[2];
        if constexpr (kFlat) {
            offsets[0] = i * static_cast<IndexT>(plan.strides[0][0]);
            offsets[1] = i * static_cast<IndexT>(plan.strides[1][0]);
        } else {
            broadcastOffsets<2>(plan, i, offsets);
        }
        out[i] = store<TO>(fn(load(a[offsets[0]]), load(b[offsets[1]])));
    }
}

// V consecutive output elements per thread, for two inputs each either contiguous like the output
// (period 0: offset i) or one row of `period` elements repeated (offset i % period; period % V == 0,
// so a pack never straddles a row). The count % V trailing elements (contiguous case only, as a
// repeated row's count is a multiple of its period) are one per thread of the first threads. The
// element math is binaryMapKernel's, one element at a time; the addresses are aligned to 16 bytes.
template <typename T, typename Fn, int V>
__global__ void binaryPackKernel(const T* a, const T* b, T* out, uint32_t count, uint32_t periodA, uint32_t periodB,
                                 Fn fn) {
    const uint32_t packs = count / V;
    const uint32_t first = blockIdx.x * blockDim.x + threadIdx.x;
    const uint32_t step = gridDim.x * blockDim.x;
    for (uint32_t p = first; p < packs; p += step) {
        const uint32_t i = p * V;
        T x[V], y[V];
        loadPacks<T, V>(a + (periodA ? i % periodA : i), x);
        loadPacks<T, V>(b + (periodB ? i % periodB : i), y);
#pragma unroll
        for (int k = 0; k < V; ++k) x[k] = store<T>(fn(load(x[k]), load(y[k])));
        storePacks<T, V>(out + i, x);
    }
    const uint32_t i = packs * V + first;
    if (i < count) out[i] = store<T>(fn(load(a[periodA ? i % periodA : i]), load(b[periodB ? i % periodB : i])));
}

/// The types binaryPackKernel is instantiated for: the memory-bound float activations.
template <typename T>
constexpr bool kBinaryPackType =
    std::is_same_v<T, float> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

/// Launches binaryPackKernel where the plan and the addresses allow (true), else launches nothing
/// (false): a same-type op on a float type whose output is its type, 32-bit index math, every input
/// contiguous or a repeated row of C % V == 0 elements ([rows, C] op [C], either way round), and the
/// three addresses aligned to 16 bytes.
template <typename T, typename Fn>
bool launchBinaryPacks(const Fn& fn, const BroadcastPlan& plan, const T* a, const T* b, T* out, cudaStream_t stream) {
    constexpr int V = kWidestPack<T>;
    if (!plan.fitsInt32() || !addressesAligned(16, {a, b, out})) return false;
    uint32_t periods[2] = {0, 0};
    if (plan.rank == 1) {
        if (plan.strides[0][0] != 1 || plan.strides[1][0] != 1) return false;
    } else if (plan.rank == 2) {
        const int64_t row = plan.dims[0];
        if (row % V != 0) return false;
        for (int k = 0; k < 2; ++k) {
            if (plan.strides[k][0] != 1) return false;
            if (plan.strides[k][1] == 0)
                periods[k] = static_cast<uint32_t>(row);
            else if (plan.strides[k][1] != row)
                return false;
        }
    } else {
        return false;
    }
    const int64_t threads = std::max<int64_t>(plan.count / V, plan.count % V);
    binaryPackKernel<T, Fn, V><<<elementwiseGrid(threads), kElementwiseBlock, 0, stream>>>(
        a, b, out, static_cast<uint32_t>(plan.count), periods[0], periods[1], fn);
    return true;
}

/// kAllShapes: instantiate the flat and 32-bit-index variants as well as the general one (the hot
/// same-type ops); without it a single 64-bit general loop serves (Pow's mixed type pairs).
template <typename TA, typename TB, typename Fn, bool kAllShapes = true>
Status launchBinaryMap(const Fn& fn, const BroadcastPlan& plan, const void* a, const void* b, void* out,
                       cudaStream_t stream) {
    using TO = OutputOf<Fn, TA>;
    const TA* pa = static_cast<const TA*>(a);
    const TB* pb = static_cast<const TB*>(b);
    TO* po = static_cast<TO*>(out);
    const unsigned grid = elementwiseGrid(plan.count);
    if constexpr (kAllShapes && std::is_same_v<TA, TB> && std::is_same_v<TO, TA> && kBinaryPackType<TA>) {
        if (launchBinaryPacks<TA>(fn, plan, pa, pb, po, stream)) return launchStatus("binaryPackKernel");
    }
    if constexpr (kAllShapes) {
        const bool flat = plan.rank == 1;
        if (plan.fitsInt32()) {
            if (flat)
                binaryMapKernel<TA, TB, TO, Fn, uint32_t, true><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan, fn);
            else
                binaryMapKernel<TA, TB, TO, Fn, uint32_t, false><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan, fn);
            return launchStatus("binaryMapKernel");
        }
        if (flat) {
            binaryMapKernel<TA, TB, TO, Fn, int64_t, true><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan, fn);
            return launchStatus("binaryMapKernel");
        }
    }
    binaryMapKernel<TA, TB, TO, Fn, int64_t, false><<<grid, kElementwiseBlock, 0, stream>>>(pa, pb, po, plan, fn);
    return launchStatus("binaryMapKernel");
}

/// out = fn(a, b) with numpy broadcasting, both inputs of one type of List.
template <typename Fn, typename List>
class BinaryMapKernel : public Kernel {
public:
    BinaryMapKernel(std::string tactic, DataType type, Fn fn = Fn{}) : mTactic(std::move(tactic)), mType(type), mFn(fn) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.size() < 2 || outputs.empty()) return invalidArgument(mTactic + ": needs two inputs and one output");
        const DataType outType = std::is_base_of_v<PredicateFn, Fn> ? DataType::kBOOL : mType;
        if (inputs[0].dtype != mType || inputs[1].dtype != mType || outputs[0].dtype != outType)
            return invalidArgument(mTactic + ": the inputs must be " + dataTypeName(mType) + " and the output " +
                                   dataTypeName(outType));
        KILN_ASSIGN_OR_RETURN(mPlan, planBroadcast({inputs[0].shape, inputs[1].shape}, outputs[0].shape));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mPlan.count == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        return List::dispatchStatus(
            mType, unsupported(mTactic + ": no instantiation for " + dataTypeName(mType)), [&](auto tag) -> Status {
                using T = decltype(tag);
                return launchBinaryMap<T, T>(mFn, mPlan, io.input(0).data, io.input(1).data, io.output(0).data, stream);
            });
    }

    std::string tacticName() const override { return mTactic; }

private:
    std::string mTactic;
    DataType mType;
    Fn mFn;
    BroadcastPlan mPlan;
};

/// supports() of a same-type binary op on List: two inputs of one listed type, rank within the plan's.
template <typename List>
bool binaryInputsIn(const Node& node, std::string* reason) {
    if (node.inputs.size() != 2) {
        if (reason) *reason = "the CUDA kernel of " + node.opType + " takes exactly two inputs";
        return false;
    }
    return inputsHaveType(node, 0, 2, List::types(), reason) && ranksAtMost(node, kMaxBroadcastRank, reason);
}

/// Registers `opType` as the broadcasting map of Fn on List; its tactic is "cuda.<name>_<type>".
template <typename Fn, typename List>
void registerBinaryKernel(CudaKernelRegistry& registry, const std::string& opType, const std::string& name) {
    registry.add({opType, &binaryInputsIn<List>,
                  [name](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      DataType type = node.input(0)->dtype;
                      return std::unique_ptr<Kernel>(std::make_unique<BinaryMapKernel<Fn, List>>(
                          "cuda." + name + "_" + tacticTypeSuffix(type), type));
                  }});
}

}  // namespace kiln::cuda
