#include "backends/cpu/kernels/broadcast.h"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace kiln::cpu {

bool BroadcastPlan::isContiguous() const {
    if (rank != 1) return false;
    for (size_t i = 0; i < numInputs; ++i)
        if (strides[i][0] != 1) return false;
    return true;
}

Expected<BroadcastPlan> makeBroadcastPlan(std::initializer_list<const Shape*> inputs, const Shape& output) {
    const size_t outRank = output.size();
    BroadcastPlan plan;
    plan.numInputs = inputs.size();
    plan.elementCount = shapeElementCount(output);
    if (plan.numInputs > kMaxBroadcastInputs) return internalError("broadcast plan: too many inputs");

    // broadcastAt[i][d]: input i is repeated along output dim d (its extent there is 1 or absent).
    std::vector<std::vector<bool>> broadcastAt;
    for (const Shape* shape : inputs) {
        if (shape->size() > outRank)
            return invalidArgument("shape " + shapeToString(*shape, true) + " does not broadcast to " +
                                   shapeToString(output, true));
        const size_t pad = outRank - shape->size();
        std::vector<bool> flags(outRank, true);
        for (size_t d = pad; d < outRank; ++d) {
            const int64_t extent = (*shape)[d - pad];
            if (extent == output[d]) {
                flags[d] = false;
            } else if (extent != 1) {
                return invalidArgument("shape " + shapeToString(*shape, true) + " does not broadcast to " +
                                       shapeToString(output, true));
            }
        }
        broadcastAt.push_back(std::move(flags));
    }

    // Fold: skip output dims of extent 1; merge a dim into the previous folded one when every
    // input has the same broadcast flag for both.
    std::vector<int64_t> dims;
    std::vector<std::vector<bool>> foldedFlags;
    std::vector<bool> previous;
    for (size_t d = 0; d < outRank; ++d) {
        if (output[d] == 1) continue;
        std::vector<bool> flags(plan.numInputs);
        for (size_t i = 0; i < plan.numInputs; ++i) flags[i] = broadcastAt[i][d];
        if (!dims.empty() && flags == previous) {
            dims.back() *= output[d];
        } else {
            dims.push_back(output[d]);
            foldedFlags.push_back(flags);
            previous = flags;
        }
    }
    if (dims.empty()) {  // one element (or a rank-0 output): a single row of length 1
        dims.push_back(1);
        foldedFlags.emplace_back(plan.numInputs, true);
    }
    if (dims.size() > kMaxBroadcastRank)
        return unsupported("broadcast of " + shapeToString(output, true) + " folds to more than " +
                           std::to_string(kMaxBroadcastRank) + " dimensions");

    plan.rank = dims.size();
    for (size_t d = 0; d < plan.rank; ++d) plan.dims[d] = dims[d];
    for (size_t i = 0; i < plan.numInputs; ++i) {
        int64_t stride = 1;
        for (size_t d = plan.rank; d-- > 0;) {
            if (foldedFlags[d][i]) {
                plan.strides[i][d] = 0;
            } else {
                plan.strides[i][d] = stride;
                stride *= plan.dims[d];
            }
        }
    }
    return plan;
}

void parallelForRanges(int64_t n, RangeFn fn, const void* context) {
    if (n <= 0) return;
    const int64_t threads = omp_get_max_threads();
    const int64_t chunks =
        n < kParallelThreshold ? 1 : std::max<int64_t>(1, std::min(threads, n / (kParallelThreshold / 4)));
    if (chunks == 1) {
        fn(context, 0, n);
        return;
    }
    const int64_t chunkSize = ((n + chunks - 1) / chunks + 63) / 64 * 64;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const int64_t begin = c * chunkSize;
        const int64_t end = std::min(n, begin + chunkSize);
        if (begin < end) fn(context, begin, end);
    }
}

void forEachSpan(const BroadcastPlan& plan, int64_t begin, int64_t end, SpanFn fn, const void* context) {
    if (begin >= end) return;
    const size_t inputs = plan.numInputs;
    const size_t last = plan.rank - 1;
    std::array<int64_t, kMaxBroadcastRank> coord{};
    std::array<int64_t, kMaxBroadcastInputs> offset{};
    int64_t rest = begin;
    for (size_t d = plan.rank; d-- > 0;) {
        coord[d] = rest % plan.dims[d];
        rest /= plan.dims[d];
        for (size_t i = 0; i < inputs; ++i) offset[i] += coord[d] * plan.strides[i][d];
    }
    int64_t pos = begin;
    for (;;) {
        const int64_t length = std::min(plan.dims[last] - coord[last], end - pos);
        fn(context, pos, offset.data(), length);
        pos += length;
        if (pos >= end) return;
        // Step to the next row: the innermost coordinate wrapped, carry outwards.
        for (size_t i = 0; i < inputs; ++i) offset[i] += length * plan.strides[i][last];
        coord[last] += length;
        for (size_t d = last; d > 0 && coord[d] == plan.dims[d]; --d) {
            for (size_t i = 0; i < inputs; ++i) offset[i] += plan.strides[i][d - 1] - coord[d] * plan.strides[i][d];
            coord[d] = 0;
            ++coord[d - 1];
        }
    }
}

namespace {

struct SpanChunkContext {
    const BroadcastPlan* plan;
    SpanFn fn;
    const void* context;
};

void spansOfChunk(const void* c, int64_t begin, int64_t end) {
    const auto* chunk = static_cast<const SpanChunkContext*>(c);
    forEachSpan(*chunk->plan, begin, end, chunk->fn, chunk->context);
}

}  // namespace

void parallelForEachSpan(const BroadcastPlan& plan, SpanFn fn, const void* context) {
    const SpanChunkContext chunk{&plan, fn, context};
    parallelForRanges(plan.elementCount, &spansOfChunk, &chunk);
}

namespace {

template <typename T, int S>
void copyStrided(const BroadcastPlan& plan, const void* in, void* out) {
    const T* src = static_cast<const T*>(in);
    T* dst = static_cast<T*>(out);
    parallelForEachSpan(plan, [=](int64_t o, const int64_t* offsets, int64_t n) {
        const T* x = src + offsets[0];
        T* y = dst + o;
        for (int64_t k = 0; k < n; ++k) y[k] = x[S * k];
    });
}

template <typename T>
BroadcastCopyFn selectCopyForType(const BroadcastPlan& plan) {
    return plan.innerStride(0) == 1 ? &copyStrided<T, 1> : &copyStrided<T, 0>;
}

}  // namespace

BroadcastCopyFn selectBroadcastCopy(size_t elementSize, const BroadcastPlan& plan) {
    switch (elementSize) {
        case 1:
            return selectCopyForType<uint8_t>(plan);
        case 2:
            return selectCopyForType<uint16_t>(plan);
        case 4:
            return selectCopyForType<uint32_t>(plan);
        case 8:
            return selectCopyForType<uint64_t>(plan);
        default:
            return nullptr;  // a size, not an enum: no element type has another size
    }
}

}  // namespace kiln::cpu
