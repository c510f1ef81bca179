#pragma once
// Numpy-broadcasting iteration for the CPU kernels. A BroadcastPlan folds the output shape and each
// input's strides into the fewest dimensions that keep every input's access pattern (size-1 output
// dims dropped, runs of dims with the same "broadcast or not" pattern merged). The innermost folded
// dim is then contiguous (stride 1) or broadcast (stride 0) for each input, so kernels write one
// vectorizable inner loop per stride pattern:
//   same shapes          -> one dim, all strides 1            (contiguous fast path)
//   tensor op scalar     -> one dim, the scalar's stride 0    (scalar fast path)
//   NCHW op C11 (bias)   -> (N, C, HW), bias strides (0, 1, 0) (per-channel: HW-long spans of one value)
//   BSH op H             -> (BS, H),    H strides (0, 1)       (contiguous spans)

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "common/status.h"
#include "ir/tensor.h"

namespace kiln::cpu {

/// Element count above which a pointwise loop is split among OpenMP threads; below it the
/// fork/join costs more than the loop.
constexpr int64_t kParallelThreshold = 32768;
constexpr size_t kMaxBroadcastInputs = 3;
/// Folded rank limit; folding only keeps dims where some input switches between broadcast and
/// not, so real models stay far below it.
constexpr size_t kMaxBroadcastRank = 16;

struct BroadcastPlan {
    size_t numInputs{0};
    size_t rank{0};                                 // folded rank, >= 1
    std::array<int64_t, kMaxBroadcastRank> dims{};  // folded output extents, outermost first
    /// strides[i][d]: element stride of input i along folded dim d (0 where input i is broadcast).
    std::array<std::array<int64_t, kMaxBroadcastRank>, kMaxBroadcastInputs> strides{};
    int64_t elementCount{0};

    int64_t inner() const { return dims[rank - 1]; }
    /// 1 when input i is contiguous along the innermost folded dim, 0 when broadcast along it.
    int64_t innerStride(size_t i) const { return strides[i][rank - 1]; }
    /// True when every input has the output's shape: one flat contiguous loop.
    bool isContiguous() const;
};

/// Folds `inputs` (each broadcastable to `output`) into a plan. Fails when an input does not
/// broadcast to `output`, or when the folded rank exceeds kMaxBroadcastRank.
Expected<BroadcastPlan> makeBroadcastPlan(std::initializer_list<const Shape*> inputs, const Shape& output);

// The loops below are type-erased (a function pointer and a context) and defined once in
// broadcast.cpp: a kernel instantiated for many types and ops then only instantiates its inner
// loop, not the iteration and the OpenMP region around it. The indirect call costs one call per
// innermost row or per chunk.

using RangeFn = void (*)(const void* context, int64_t begin, int64_t end);
using SpanFn = void (*)(const void* context, int64_t outOffset, const int64_t* inOffsets, int64_t length);

/// Calls fn(begin, end) over [0, n): once when n < kParallelThreshold, else on contiguous chunks
/// in parallel. Chunk bounds are multiples of 64 elements so threads do not share output cache lines.
void parallelForRanges(int64_t n, RangeFn fn, const void* context);

/// Calls fn(outOffset, inOffsets, length) for each run of output elements in [begin, end) that
/// lies in one innermost folded row; inOffsets[i] is input i's element offset at the run's start.
void forEachSpan(const BroadcastPlan& plan, int64_t begin, int64_t end, SpanFn fn, const void* context);

/// forEachSpan over the whole output, split among threads when large.
void parallelForEachSpan(const BroadcastPlan& plan, SpanFn fn, const void* context);

template <typename Fn>
void parallelForRanges(int64_t n, const Fn& fn) {
    parallelForRanges(
        n, [](const void* c, int64_t begin, int64_t end) { (*static_cast<const Fn*>(c))(begin, end); }, &fn);
}

template <typename Fn>
void parallelForEachSpan(const BroadcastPlan& plan, const Fn& fn) {
    parallelForEachSpan(
        plan,
        [](const void* c, int64_t out, const int64_t* in, int64_t length) {
            (*static_cast<const Fn*>(c))(out, in, length);
        },
        &fn);
}

/// Copies input 0 of a one-input plan into the output, broadcasting; elements of `elementSize`
/// bytes (1, 2, 4 or 8), whatever their type.
using BroadcastCopyFn = void (*)(const BroadcastPlan& plan, const void* in, void* out);
BroadcastCopyFn selectBroadcastCopy(size_t elementSize, const BroadcastPlan& plan);

}  // namespace kiln::cpu
