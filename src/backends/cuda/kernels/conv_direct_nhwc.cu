// The direct NHWC convolution (conv_direct_nhwc.h). Two forms of one loop over the window's taps:
// - depthwise (one input channel per group, one output per group: K == C == group): the V output
//   channels of a thread read V consecutive input channels, one vector load per tap;
// - grouped with few input channels per group (a stem over RGB, a depthwise multiplier > 1): the V
//   output channels share a group, so each tap's C/group input values are read once and used V times.
// Each block stages the layer's weights in shared memory (as float, output channels innermost) where they
// fit, and otherwise reads them from global memory as scalars.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <limits>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/conv_direct_nhwc.h"
#include "backends/cuda/kernels/conv_type_dispatch.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"

namespace kiln::cuda {

namespace {

/// Weights staged in shared memory as float, [tap][channel in group][output channel], so the V output
/// channels of a thread read consecutive words. Up to this many bytes (the default shared-memory limit of
/// a block); larger layers read their weights from global memory.
constexpr size_t kMaxStagedWeightBytes = 48 * 1024;
/// Blocks of a staged launch at most: each block loads the weights once, so a grid sized to the outputs
/// would read them from L2 tens of thousands of times; the grid-stride loop covers the rest.
constexpr int64_t kMaxStagedBlocks = 4096;

template <typename T, typename B, int V, int P, bool kDepthwise, bool kStaged>
__global__ void directConvNhwcKernel(const T* x, const T* w, const B* bias, const T* residual, T* y,
                                     DirectConvShape s, FusedActivation activation) {
    using Pack = ChannelPack<T, V>;
    const int32_t packs = s.outC / V;  // per output pixel
    const int32_t channelsPerGroup = s.inC / s.group;
    const int32_t outputsPerGroup = s.outC / s.group;
    const int32_t taps = s.kernelH * s.kernelW;
    extern __shared__ float4 stagedVectors[];  // float4: 16-byte aligned for the vector reads below
    float* staged = reinterpret_cast<float*>(stagedVectors);
    if constexpr (kStaged) {
        // W [K, R, S, C/g] read in order (coalesced), written [tap][c][k].
        const int32_t perOutput = taps * channelsPerGroup;
        for (int32_t j = static_cast<int32_t>(threadIdx.x); j < s.outC * perOutput; j += blockDim.x)
            staged[(j % perOutput) * s.outC + j / perOutput] = static_cast<float>(load(w[j]));
        __syncthreads();
    }
    // Weights of output channels k0 .. k0 + V - 1 at `tap` for input channel c of their group. Staged, they
    // are consecutive floats at a multiple of V (outC is one of V), read 16 bytes at a time: one
    // shared-memory load per four channels instead of one per channel.
    const auto weights = [&](int32_t k0, int32_t tap, int32_t c, float (&out)[V]) {
        if constexpr (kStaged && V % 4 == 0) {
            const auto* row = reinterpret_cast<const float4*>(staged + (tap * channelsPerGroup + c) * s.outC + k0);
            for (int q = 0; q < V / 4; ++q) {
                const float4 f = row[q];
                out[4 * q] = f.x;
                out[4 * q + 1] = f.y;
                out[4 * q + 2] = f.z;
                out[4 * q + 3] = f.w;
            }
        } else if constexpr (kStaged) {
            for (int l = 0; l < V; ++l) out[l] = staged[(tap * channelsPerGroup + c) * s.outC + k0 + l];
        } else {
            for (int l = 0; l < V; ++l)
                out[l] = static_cast<float>(load(w[((k0 + l) * taps + tap) * channelsPerGroup + c]));
        }
    };
    // A thread's P output pixels are consecutive along W: each tap's weights are read once for all P.
    const int32_t columnGroups = (s.outW + P - 1) / P;
    const int32_t count = s.batch * s.outH * columnGroups * packs;
    const int32_t step = static_cast<int32_t>(gridDim.x * blockDim.x);
    for (int32_t i = static_cast<int32_t>(blockIdx.x * blockDim.x + threadIdx.x); i < count; i += step) {
        const int32_t pack = i % packs;
        int32_t rest = i / packs;
        const int32_t ox0 = (rest % columnGroups) * P;
        rest /= columnGroups;
        const int32_t oy = rest % s.outH;
        const int32_t n = rest / s.outH;
        const int32_t k0 = pack * V;
        const int32_t y0 = oy * s.strideH - s.padTop;
        const int32_t pixels = min(P, s.outW - ox0);  // the last group of a row may be short
        const T* image = x + n * s.inH * s.inW * s.inC;
        float acc[P][V];
        for (int p = 0; p < P; ++p)
            for (int l = 0; l < V; ++l) acc[p][l] = 0.f;
        for (int32_t r = 0; r < s.kernelH; ++r) {
            const int32_t iy = y0 + r * s.dilationH;
            if (iy < 0 || iy >= s.inH) continue;
            const T* row = image + iy * s.inW * s.inC;
            for (int32_t t = 0; t < s.kernelW; ++t) {
                const int32_t tap = r * s.kernelW + t;
                float wk[V];
                if constexpr (kDepthwise) {
                    weights(k0, tap, 0, wk);
#pragma unroll
                    for (int p = 0; p < P; ++p) {
                        const int32_t ix = (ox0 + p) * s.strideW - s.padLeft + t * s.dilationW;
                        if (p >= pixels || ix < 0 || ix >= s.inW) continue;
                        const Pack in = *reinterpret_cast<const Pack*>(row + ix * s.inC + k0);
                        for (int l = 0; l < V; ++l) acc[p][l] += static_cast<float>(load(in.lane[l])) * wk[l];
                    }
                } else {
                    const int32_t firstChannel = (k0 / outputsPerGroup) * channelsPerGroup;
                    for (int32_t c = 0; c < channelsPerGroup; ++c) {
                        weights(k0, tap, c, wk);
#pragma unroll
                        for (int p = 0; p < P; ++p) {
                            const int32_t ix = (ox0 + p) * s.strideW - s.padLeft + t * s.dilationW;
                            if (p >= pixels || ix < 0 || ix >= s.inW) continue;
                            const float in = static_cast<float>(load(row[ix * s.inC + firstChannel + c]));
                            for (int l = 0; l < V; ++l) acc[p][l] += in * wk[l];
                        }
                    }
                }
            }
        }
#pragma unroll
        for (int p = 0; p < P; ++p) {
            if (p >= pixels) break;
            const int32_t at = ((n * s.outH + oy) * s.outW + ox0 + p) * packs + pack;  // Y's pack index
            Pack skip;
            if (residual) skip = reinterpret_cast<const Pack*>(residual)[at];
            Pack out;
            for (int l = 0; l < V; ++l) {
                float v = acc[p][l];
                if (bias) v += static_cast<float>(load(bias[k0 + l]));
                if (residual) v += static_cast<float>(load(skip.lane[l]));
                out.lane[l] = store<T>(applyActivation(activation, v));
            }
            reinterpret_cast<Pack*>(y)[at] = out;
        }
    }
}

template <typename T, typename B, int V, int P, bool kDepthwise>
void launchStaging(const T* x, const T* w, const B* bias, const T* residual, T* y, const DirectConvShape& s,
                   const FusedActivation& activation, cudaStream_t stream) {
    const int64_t threads = int64_t{s.batch} * s.outH * ((s.outW + P - 1) / P) * (s.outC / V);
    const size_t stagedBytes =
        sizeof(float) * static_cast<size_t>(s.outC) * s.kernelH * s.kernelW * (s.inC / s.group);
    if (stagedBytes <= kMaxStagedWeightBytes) {
        const auto grid = static_cast<unsigned>(std::min<int64_t>(elementwiseGrid(threads), kMaxStagedBlocks));
        directConvNhwcKernel<T, B, V, P, kDepthwise, true>
            <<<grid, kElementwiseBlock, stagedBytes, stream>>>(x, w, bias, residual, y, s, activation);
    } else {
        directConvNhwcKernel<T, B, V, P, kDepthwise, false>
            <<<elementwiseGrid(threads), kElementwiseBlock, 0, stream>>>(x, w, bias, residual, y, s, activation);
    }
}

template <typename T, typename B, int P, bool kDepthwise>
void launchForm(int width, const T* x, const T* w, const B* bias, const T* residual, T* y, const DirectConvShape& s,
                const FusedActivation& activation, cudaStream_t stream) {
    if (width == kWidestPack<T>)
        launchStaging<T, B, kWidestPack<T>, P, kDepthwise>(x, w, bias, residual, y, s, activation, stream);
    else
        launchStaging<T, B, 1, P, kDepthwise>(x, w, bias, residual, y, s, activation, stream);
}

template <typename T, typename B, bool kDepthwise>
void launchPixels(int pixels, int width, const T* x, const T* w, const B* bias, const T* residual, T* y,
                  const DirectConvShape& s, const FusedActivation& activation, cudaStream_t stream) {
    if (pixels == kDirectConvWidePixels)
        launchForm<T, B, kDirectConvWidePixels, kDepthwise>(width, x, w, bias, residual, y, s, activation, stream);
    else
        launchForm<T, B, 1, kDepthwise>(width, x, w, bias, residual, y, s, activation, stream);
}

template <typename T, typename B>
Status launchTyped(int pixels, const void* x, const void* w, const void* bias, const void* residual, void* y,
                   const DirectConvShape& s, const FusedActivation& activation, cudaStream_t stream) {
    const bool depthwise = s.group == s.inC && s.group == s.outC;
    // A thread's V output channels: consecutive input channels (depthwise) or one group's outputs.
    const int32_t vectorOver = depthwise ? s.outC : s.outC / s.group;
    // The kernel comes in the widest vector and single channels only.
    int width = widestPack(vectorOver, sizeof(T), {y, residual, depthwise ? x : nullptr});
    if (width != kWidestPack<T>) width = 1;
    const auto* xt = static_cast<const T*>(x);
    const auto* wt = static_cast<const T*>(w);
    const auto* bt = static_cast<const B*>(bias);
    const auto* rt = static_cast<const T*>(residual);
    auto* yt = static_cast<T*>(y);
    if (depthwise)
        launchPixels<T, B, true>(pixels, width, xt, wt, bt, rt, yt, s, activation, stream);
    else
        launchPixels<T, B, false>(pixels, width, xt, wt, bt, rt, yt, s, activation, stream);
    return launchStatus("directConvNhwcKernel");
}

}  // namespace

bool directConvApplies(DataType type, int64_t batch, int64_t inH, int64_t inW, int64_t inC, int64_t outH,
                       int64_t outW, int64_t outC, int64_t group) {
    if (type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16) return false;
    if (group <= 0 || inC % group != 0 || outC % group != 0 || inC / group > kDirectConvMaxChannelsPerGroup)
        return false;
    // Offsets are 32-bit, with room for the grid-stride step past the end.
    const int64_t limit = std::numeric_limits<int32_t>::max() / 2;
    return batch * inH * inW * inC <= limit && batch * outH * outW * outC <= limit;
}

Status launchDirectConvNhwc(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                            const void* residual, void* y, const DirectConvShape& shape,
                            const FusedActivation& activation, int pixelsPerThread, cudaStream_t stream) {
    if (pixelsPerThread != 1 && pixelsPerThread != kDirectConvWidePixels)
        return invalidArgument("the direct convolution takes 1 or " + std::to_string(kDirectConvWidePixels) +
                               " output pixels per thread, not " + std::to_string(pixelsPerThread));
    if (int64_t{shape.batch} * shape.outH * shape.outW * shape.outC == 0) return Status::ok();
    return dispatchConvTypes(type, biasType, "the direct convolution", [&](auto data, auto biasData) {
        return launchTyped<typename decltype(data)::type, typename decltype(biasData)::type>(
            pixelsPerThread, x, w, bias, residual, y, shape, activation, stream);
    });
}

}  // namespace kiln::cuda
