#pragma once
// Pieces shared by the Conv and ConvTranspose CPU kernels.

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "backends/backend.h"
#include "backends/cpu/kernels/matmul_gemm.h"
#include "ir/graph.h"

namespace kiln {
class CpuKernelRegistry;
}

namespace kiln::cpu {

/// Spatial axes a convolution kernel handles (index arrays live on the stack).
constexpr size_t kMaxConvSpatialRank = 8;

/// Loops with less work than this run on one thread: the fork/join costs more.
constexpr int64_t kParallelWork = 32768;

/// The window positions o in [lo, hi) of a line whose pixel start + o * stride lies in [0, width).
struct LineRange {
    int64_t lo;
    int64_t hi;
};

inline LineRange validRange(int64_t start, int64_t stride, int64_t width, int64_t count) {
    int64_t lo = start >= 0 ? 0 : (-start + stride - 1) / stride;
    int64_t hi = width - start <= 0 ? 0 : (width - start + stride - 1) / stride;
    lo = std::min(lo, count);
    hi = std::clamp(hi, lo, count);
    return {lo, hi};
}

/// Adds bias[c] to each of `channels` planes of `planeSize` elements.
template <typename T>
void addChannelBias(T* y, const T* bias, int64_t channels, int64_t planeSize) {
#pragma omp parallel for schedule(static) if (channels * planeSize >= kParallelWork && channels > 1)
    for (int64_t c = 0; c < channels; ++c) {
        T* plane = y + c * planeSize;
        const T b = bias[c];
        for (int64_t i = 0; i < planeSize; ++i) plane[i] += b;
    }
}

/// Runs fn(image, group, colBuffer, innerParallel) for every (image, group) pair. Small GEMMs
/// (`parallelItems`) run as independent items on `threads` OpenMP threads, each with its own
/// column buffer of `colSize` elements; otherwise the items run in order and each parallelizes
/// inside (the GEMM splits itself; OpenMP loops when innerParallel is true).
template <typename F, typename Fn>
void forEachConvItem(int64_t batch, int64_t groups, bool parallelItems, int threads, F* col, int64_t colSize,
                     Fn&& fn) {
    if (!parallelItems) {
        for (int64_t n = 0; n < batch; ++n)
            for (int64_t g = 0; g < groups; ++g) fn(n, g, col, true);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t item = 0; item < batch * groups; ++item)
        fn(item / groups, item % groups, col ? col + omp_get_thread_num() * colSize : col, false);
}

/// Element counts of a convolution's tensors and its column buffers.
struct ConvStaging {
    int64_t x{0};
    int64_t w{0};
    int64_t bias{0};  // 0 without a bias
    int64_t y{0};
    int64_t col{0};  // all column buffers together
};

template <typename F>
struct ConvBuffers {
    F* x{nullptr};
    F* w{nullptr};
    F* bias{nullptr};
    F* y{nullptr};
    F* col{nullptr};
};

/// The workspace layout: float copies of X, W, B and Y when `staged` (float16/bfloat16), then
/// the column buffers.
template <typename F>
ConvBuffers<F> carveConvBuffers(WorkspaceCarver& carver, const ConvStaging& s, bool staged) {
    ConvBuffers<F> b;
    if (staged) {
        b.x = carver.take<F>(s.x);
        b.w = carver.take<F>(s.w);
        b.bias = carver.take<F>(s.bias);
        b.y = carver.take<F>(s.y);
    }
    b.col = carver.take<F>(s.col);
    return b;
}

inline size_t convWorkspaceSize(DataType type, const ConvStaging& s) {
    WorkspaceCarver carver;
    if (type == DataType::kDOUBLE) carveConvBuffers<double>(carver, s, false);
    else carveConvBuffers<float>(carver, s, type == DataType::kHALF || type == DataType::kBF16);
    return carver.used();
}

/// Calls compute(x, w, bias or nullptr, y, col) with pointers of the compute type: the I/O
/// itself for float and double, float copies in the workspace for float16/bfloat16.
template <typename Fn>
Status runConvStaged(DataType type, const KernelIO& io, const ConvStaging& s, Fn&& compute) {
    const bool hasBias = s.bias > 0 && io.hasInput(2);
    return dispatchDataType(type, [&](auto tag) -> Status {
        using T = decltype(tag);
        WorkspaceCarver carver(io.workspace);
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
            ConvBuffers<T> b = carveConvBuffers<T>(carver, s, false);
            compute(io.input(0).as<const T>(), io.input(1).as<const T>(),
                    hasBias ? io.input(2).as<const T>() : static_cast<const T*>(nullptr), io.output(0).as<T>(), b.col);
            return Status::ok();
        } else if constexpr (kComputesThroughFloat<T>) {
            ConvBuffers<float> b = carveConvBuffers<float>(carver, s, true);
            toFloat(io.input(0).as<const T>(), b.x, s.x);
            toFloat(io.input(1).as<const T>(), b.w, s.w);
            if (hasBias) toFloat(io.input(2).as<const T>(), b.bias, s.bias);
            compute(static_cast<const float*>(b.x), static_cast<const float*>(b.w),
                    hasBias ? static_cast<const float*>(b.bias) : static_cast<const float*>(nullptr), b.y, b.col);
            fromFloat(b.y, io.output(0).as<T>(), s.y);
            return Status::ok();
        } else {
            return internalError(std::string("no convolution kernel for ") + dataTypeName(type));
        }
    });
}

/// supports() of Conv and ConvTranspose: floating types and at most kMaxConvSpatialRank spatial axes.
bool supportsConvNode(const Node& node, std::string* reason);

/// The weights' spatial extents from the node's declared shapes, when all are known.
std::optional<Shape> declaredKernel(const Node& node);

/// DeformConv (conv_deform.cpp).
void registerDeformConvKernels(CpuKernelRegistry& registry);

Expected<std::unique_ptr<Kernel>> createConvTransposeKernel(const Node& node);

}  // namespace kiln::cpu
