// The strided copy of Transpose, Slice, DepthToSpace, SpaceToDepth and Tile: out[i] = in[offset(i)] for
// a StridedView, run on the path strided_plan.h chooses:
// - generic / vector: one word per thread and grid-stride step, its input offset decomposed from the
//   output index (32-bit: a multiply-high per dim, fast_divmod.cuh; 64-bit: plain division). On the
//   vector path the innermost dim is contiguous in both tensors, so a warp reads and writes whole
//   segments, in words of up to 16 bytes;
// - tiled: a shared-memory transpose of a tile over the output-innermost dim (A) and the dim that reads
//   the input contiguously (B): loaded with consecutive threads along B, stored with consecutive threads
//   along A, so both global accesses are coalesced; each block takes one tile of one rest index.

#include <cuda_runtime.h>

#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/fast_divmod.cuh"
#include "backends/cuda/kernels/strided_copy.h"
#include "backends/cuda/kernels/strided_plan.h"

namespace kiln::cuda {

namespace {

// ----------------------------------------------------------------------------- generic and vector paths

/// The view for 32-bit index math, dims innermost first; the outermost dim needs no division.
struct View32 {
    int rank;
    FastDivmod dims[kMaxStridedRank];
    int32_t strides[kMaxStridedRank];
    int32_t offset;
    uint32_t count;
};

/// The same with 64-bit math (a view reaching past 2^31 elements), dims innermost first.
struct View64 {
    int rank;
    int64_t dims[kMaxStridedRank];
    int64_t strides[kMaxStridedRank];
    int64_t offset;
    int64_t count;
};

template <typename Word>
__global__ void stridedCopy32Kernel(const Word* __restrict__ in, Word* __restrict__ out, View32 v) {
    // count < 2^31 and the step < 2^25: i + step never wraps an unsigned 32-bit index.
    const uint32_t step = gridDim.x * blockDim.x;
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < v.count; i += step) {
        uint32_t rest = i;
        int32_t offset = v.offset;
#pragma unroll
        for (int d = 0; d < kMaxStridedRank; ++d) {  // unrolled: every dims/strides index is a constant
            if (d >= v.rank) break;
            if (d + 1 == v.rank) {  // the outermost dim: what is left is its coordinate
                offset += static_cast<int32_t>(rest) * v.strides[d];
            } else {
                uint32_t coord;
                rest = v.dims[d].divmod(rest, coord);
                offset += static_cast<int32_t>(coord) * v.strides[d];
            }
        }
        out[i] = in[offset];
    }
}

template <typename Word>
__global__ void stridedCopy64Kernel(const Word* __restrict__ in, Word* __restrict__ out, View64 v) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < v.count; i += step) {
        int64_t rest = i;
        int64_t offset = v.offset;
        for (int d = 0; d < v.rank; ++d) {
            offset += (rest % v.dims[d]) * v.strides[d];
            rest /= v.dims[d];
        }
        out[i] = in[offset];
    }
}

template <typename Word>
Status launchElementwise(const StridedCopyPlan& plan, const void* inPtr, void* outPtr, cudaStream_t stream) {
    const StridedView& view = plan.view;
    const auto* in = static_cast<const Word*>(inPtr);
    auto* out = static_cast<Word*>(outPtr);
    const unsigned grid = elementwiseGrid(view.count);
    const int rank = std::max(view.rank, 1);  // rank 0 (one element) runs as one dim of extent 1
    if (plan.index32) {
        View32 v{};
        v.rank = rank;
        for (int d = 0; d < rank; ++d) {
            const int src = view.rank - 1 - d;
            v.dims[d] = FastDivmod(static_cast<uint32_t>(view.rank ? view.dims[src] : 1));
            v.strides[d] = static_cast<int32_t>(view.rank ? view.inputStrides[src] : 0);
        }
        v.offset = static_cast<int32_t>(view.inputOffset);
        v.count = static_cast<uint32_t>(view.count);
        stridedCopy32Kernel<Word><<<grid, kElementwiseBlock, 0, stream>>>(in, out, v);
    } else {
        View64 v{};
        v.rank = rank;
        for (int d = 0; d < rank; ++d) {
            const int src = view.rank - 1 - d;
            v.dims[d] = view.rank ? view.dims[src] : 1;
            v.strides[d] = view.rank ? view.inputStrides[src] : 0;
        }
        v.offset = view.inputOffset;
        v.count = view.count;
        stridedCopy64Kernel<Word><<<grid, kElementwiseBlock, 0, stream>>>(in, out, v);
    }
    return launchStatus("stridedCopyKernel");
}

// -------------------------------------------------------------------------------------------- tiled path

constexpr int kMaxRestRank = kMaxStridedRank - 2;

/// One tiled transpose: output dims A (innermost, input stride strideA) and B (input stride 1, output
/// stride outStrideB), tiles of tileA x tileB, and the other dims ("rest", innermost first) with their
/// input and output strides.
template <typename Offset>
struct TileArgs {
    Offset extentA, extentB;
    Offset strideA, outStrideB;
    Offset inputOffset;
    Offset tilesA, tilesB, numTiles;
    int tileA, tileB;
    int smemStrideA, smemStrideB;
    int restRank;
    Offset restDims[kMaxRestRank];
    Offset restIn[kMaxRestRank];
    Offset restOut[kMaxRestRank];
};

/// Elements of 1 and 2 bytes sit in 4-byte shared-memory slots: a bank is 4 bytes wide, so two
/// neighbours in one bank would make the pitch analysis of strided_plan.cpp wrong.
template <typename Word>
using SlotOf = std::conditional_t<(sizeof(Word) < 4), uint32_t, Word>;

template <typename Word, typename Offset>
__global__ void __launch_bounds__(kTileThreads) tiledTransposeKernel(const Word* __restrict__ in, Word* __restrict__ out,
                                                                    TileArgs<Offset> t) {
    using Slot = SlotOf<Word>;
    extern __shared__ __align__(16) unsigned char smemBytes[];
    Slot* tile = reinterpret_cast<Slot*>(smemBytes);
    const int tid = static_cast<int>(threadIdx.x);
    // The loop bound depends on blockIdx only, so every thread of a block takes the same iterations and
    // reaches the same __syncthreads.
    for (Offset block = blockIdx.x; block < t.numTiles; block += gridDim.x) {
        Offset rest = block;
        const Offset tileA = rest % t.tilesA;
        rest /= t.tilesA;
        const Offset tileB = rest % t.tilesB;
        rest /= t.tilesB;
        Offset inBase = t.inputOffset, outBase = 0;
#pragma unroll
        for (int d = 0; d < kMaxRestRank; ++d) {  // unrolled: constant indices keep the arrays out of local memory
            if (d >= t.restRank) break;
            const Offset coord = rest % t.restDims[d];
            rest /= t.restDims[d];
            inBase += coord * t.restIn[d];
            outBase += coord * t.restOut[d];
        }
        const Offset a0 = tileA * t.tileA, b0 = tileB * t.tileB;
        // Partial tiles at the ends of A and B: only na x nb elements exist.
        const int na = static_cast<int>(t.extentA - a0 < t.tileA ? t.extentA - a0 : t.tileA);
        const int nb = static_cast<int>(t.extentB - b0 < t.tileB ? t.extentB - b0 : t.tileB);
        inBase += a0 * t.strideA + b0;
        outBase += b0 * t.outStrideB + a0;

        // Load: position q = a * nb + b (b fastest), so consecutive threads read consecutive input
        // elements within a row of B. All loads are issued before the shared-memory stores.
        {
            Word values[kTileItems];
            int slots[kTileItems];
            int a = tid / nb, b = tid % nb;
            const int stepA = kTileThreads / nb, stepB = kTileThreads % nb;
#pragma unroll
            for (int k = 0; k < kTileItems; ++k) {
                slots[k] = a < na ? a * t.smemStrideA + b * t.smemStrideB : -1;
                if (a < na) values[k] = in[inBase + static_cast<Offset>(a) * t.strideA + b];
                a += stepA;
                b += stepB;
                if (b >= nb) b -= nb, ++a;
            }
#pragma unroll
            for (int k = 0; k < kTileItems; ++k)
                if (slots[k] >= 0) tile[slots[k]] = static_cast<Slot>(values[k]);
        }
        __syncthreads();  // the tile is complete before any thread reads another thread's element
        // Store: position q = b * na + a (a fastest), so consecutive threads write consecutive output
        // elements within a row of A (the whole tile is one contiguous run when B precedes A directly).
        {
            int b = tid / na, a = tid % na;
            const int stepB = kTileThreads / na, stepA = kTileThreads % na;
#pragma unroll
            for (int k = 0; k < kTileItems; ++k) {
                if (b < nb)
                    out[outBase + static_cast<Offset>(b) * t.outStrideB + a] =
                        static_cast<Word>(tile[a * t.smemStrideA + b * t.smemStrideB]);
                b += stepB;
                a += stepA;
                if (a >= na) a -= na, ++b;
            }
        }
        __syncthreads();  // every thread has read the tile before the next iteration overwrites it
    }
}

template <typename Word, typename Offset>
Status launchTiledTyped(const StridedCopyPlan& plan, const void* in, void* out, cudaStream_t stream) {
    const StridedView& v = plan.view;
    const TilePlan& tp = plan.tile;
    TileArgs<Offset> t{};
    // Output strides of the merged dims: the output is contiguous in view order.
    int64_t outStrides[kMaxStridedRank];
    int64_t running = 1;
    for (int d = v.rank - 1; d >= 0; --d) {
        outStrides[d] = running;
        running *= v.dims[d];
    }
    t.extentA = static_cast<Offset>(v.dims[tp.dimA]);
    t.extentB = static_cast<Offset>(v.dims[tp.dimB]);
    t.strideA = static_cast<Offset>(v.inputStrides[tp.dimA]);
    t.outStrideB = static_cast<Offset>(outStrides[tp.dimB]);
    t.inputOffset = static_cast<Offset>(v.inputOffset);
    t.tileA = tp.extentA;
    t.tileB = tp.extentB;
    t.smemStrideA = tp.smemStrideA;
    t.smemStrideB = tp.smemStrideB;
    t.tilesA = (t.extentA + tp.extentA - 1) / tp.extentA;
    t.tilesB = (t.extentB + tp.extentB - 1) / tp.extentB;
    Offset restCount = 1;
    for (int d = v.rank - 1; d >= 0; --d) {
        if (d == tp.dimA || d == tp.dimB) continue;
        t.restDims[t.restRank] = static_cast<Offset>(v.dims[d]);
        t.restIn[t.restRank] = static_cast<Offset>(v.inputStrides[d]);
        t.restOut[t.restRank] = static_cast<Offset>(outStrides[d]);
        restCount *= t.restDims[t.restRank];
        ++t.restRank;
    }
    t.numTiles = t.tilesA * t.tilesB * restCount;
    // A tile holds at least one element, so numTiles <= count: below 2^31 on the 32-bit path. The
    // grid-stride loop covers the rest on the 64-bit path.
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>(t.numTiles, std::numeric_limits<int32_t>::max()));
    const size_t smem = static_cast<size_t>(tp.smemSlots) * sizeof(SlotOf<Word>);
    tiledTransposeKernel<Word, Offset><<<grid, kTileThreads, smem, stream>>>(static_cast<const Word*>(in),
                                                                             static_cast<Word*>(out), t);
    return launchStatus("tiledTransposeKernel");
}

template <typename Word>
Status launchTiled(const StridedCopyPlan& plan, const void* in, void* out, cudaStream_t stream) {
    return plan.index32 ? launchTiledTyped<Word, int32_t>(plan, in, out, stream)
                        : launchTiledTyped<Word, int64_t>(plan, in, out, stream);
}

/// Runs a plan of planStridedCopy made for these same `in` and `out` addresses.
Status launchPlannedCopy(const StridedCopyPlan& plan, const void* in, void* out, cudaStream_t stream) {
    if (plan.view.count == 0) return Status::ok();
    if (plan.path == StridedCopyPath::kTiled) {
        switch (plan.wordBytes) {
            case 1: return launchTiled<uint8_t>(plan, in, out, stream);
            case 2: return launchTiled<uint16_t>(plan, in, out, stream);
            case 4: return launchTiled<uint32_t>(plan, in, out, stream);
            case 8: return launchTiled<uint64_t>(plan, in, out, stream);
            default: break;
        }
    } else {
        switch (plan.wordBytes) {
            case 1: return launchElementwise<uint8_t>(plan, in, out, stream);
            case 2: return launchElementwise<uint16_t>(plan, in, out, stream);
            case 4: return launchElementwise<uint32_t>(plan, in, out, stream);
            case 8: return launchElementwise<uint64_t>(plan, in, out, stream);
            case 16: return launchElementwise<uint4>(plan, in, out, stream);
            default: break;
        }
    }
    return unsupported("no strided copy for " + std::to_string(plan.wordBytes) + "-byte words");
}

}  // namespace

Status launchStridedCopy(const StridedView& view, size_t elementSize, const void* in, void* out, cudaStream_t stream) {
    if (view.count == 0) return Status::ok();
    if (elementSize != 1 && elementSize != 2 && elementSize != 4 && elementSize != 8)
        return unsupported("no strided copy for " + std::to_string(elementSize) + "-byte elements");
    const StridedCopyPlan plan = planStridedCopy(view, elementSize, reinterpret_cast<uintptr_t>(in),
                                                 reinterpret_cast<uintptr_t>(out));
    return launchPlannedCopy(plan, in, out, stream);
}

std::vector<int64_t> contiguousStrides(const Shape& shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
    return strides;
}

StridedView compactView(const Shape& outShape, const std::vector<int64_t>& inputStrides, int64_t inputOffset) {
    StridedView view;
    view.inputOffset = inputOffset;
    view.count = shapeElementCount(outShape);
    for (size_t d = 0; d < outShape.size(); ++d) {
        if (outShape[d] == 1) continue;
        view.dims[view.rank] = outShape[d];
        view.inputStrides[view.rank] = inputStrides[d];
        ++view.rank;
    }
    return view;
}

bool fitsStridedRank(const Shape& outShape) {
    return std::count_if(outShape.begin(), outShape.end(), [](int64_t d) { return d != 1; }) <= kMaxStridedRank;
}

}  // namespace kiln::cuda
