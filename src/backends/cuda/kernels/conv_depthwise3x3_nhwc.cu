// The depthwise 3x3 NHWC convolution (conv_depthwise3x3_nhwc.h).
//
// Work split: a block's threadIdx.x walks the channel packs of one channel tile (blockIdx.y), so a warp's
// loads and stores cover consecutive 16-byte packs of a pixel; threadIdx.y walks groups of P output
// columns, each group a thread's P pixels, over all rows of all images with a grid-stride loop. The block
// stages its tile's weights (as [tap][channel], one pack per tap) and bias (as float) in shared memory
// once, so a tap's weights are one shared-memory vector load and the weights are read from global memory
// once per block, not per thread.
//
// Latency: the general direct kernel walks the taps with runtime bounds and skips the outside ones, so a
// thread has one load in flight at a time. Here the window's 3 x ((P-1)*S + 3) packs are loaded by a fully
// unrolled loop whose outside positions are zero-filled by predicate, so all loads are independent and
// ptxas issues them back to back; the row and column of a thread come from multiply-shift divisions
// (fast_divmod.cuh), not 32-bit hardware divisions.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <limits>
#include <string>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/conv_depthwise3x3_nhwc.h"
#include "backends/cuda/kernels/conv_type_dispatch.h"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/fast_divmod.cuh"

namespace kiln::cuda {

namespace {

constexpr int kTaps = 9;
constexpr int kBlockThreads = 256;
/// Blocks an SM holds at least: caps a thread's registers at 65536 / (2 * 256) = 128, so ptxas can hoist
/// the later rows' loads above the earlier rows' arithmetic (ptxas 13.0 gives the 16-byte forms 98 to 128)
/// with no spill but 4 bytes in the bfloat16 stride-1 form. A lower cap buys no occupancy with blocks of
/// 256: from 86 to 128 registers an SM holds two of them either way, and a cap of 96 spilled 16-56 bytes.
constexpr int kMinBlocksPerSm = 2;
/// Channel packs of one block at most: wider layers are split into channel tiles (blockIdx.y) of equal
/// size, so a block still spans a few column groups and its shared weights stay small (<= 10 KiB).
constexpr int32_t kMaxTilePacks = 64;
/// Blocks of a launch at most (all channel tiles together): each block stages its weights once, and the
/// grid-stride loop spreads the rest of the rows over these; 4096 fills an H200 (132 SMs) many times.
constexpr int64_t kMaxBlocks = 4096;

/// Output pixels per thread at stride S, consecutive along W: their windows overlap, so a row of the
/// window is read once for all of them ((P-1)*stride + 3 packs). At stride 1, 4 pixels read 6 packs a
/// row and keep 4 x 8 float accumulators (float16); at stride 2, 4 pixels would read 9 packs a row,
/// more than the registers below hold without spilling, so 2 (5 packs a row).
template <int S>
constexpr int kPixelsPerThread = S == 1 ? 4 : 2;

/// The launch's extents and its precomputed divisors.
struct Depthwise3x3Params {
    DirectConvShape shape;
    FastDivmod columnGroups;  // groups of P output columns per output row
    FastDivmod outH;
    uint32_t groups{0};       // N * OH * column groups: the grid-stride loop's extent
    int32_t tileChannels{0};  // channels of a channel tile: blockDim.x * V
    int32_t weightBytes{0};   // the shared weights' bytes, rounded up to 16 (the bias follows them)
};

template <typename T, int V>
__device__ __forceinline__ ChannelPack<T, V> zeroPack() {
    ChannelPack<T, V> pack;
#pragma unroll
    for (int l = 0; l < V; ++l) pack.lane[l] = store<T>(0.f);
    return pack;
}

template <typename T, typename B, int V, int S>
__global__ void __launch_bounds__(kBlockThreads, kMinBlocksPerSm)
    depthwise3x3NhwcKernel(const T* __restrict__ x, const T* __restrict__ w, const B* __restrict__ bias,
                           const T* residual, T* y, Depthwise3x3Params params, FusedActivation activation) {
    // X, W and the bias are read-only for the launch (the read-only cache path); the residual may be Y's
    // own buffer (an in-place sum), read by the thread that then writes it.
    using Pack = ChannelPack<T, V>;
    constexpr int P = kPixelsPerThread<S>;
    constexpr int kColumns = (P - 1) * S + 3;  // input columns of a thread's window
    const DirectConvShape& s = params.shape;
    const int32_t tileChannels = params.tileChannels;
    const int32_t firstChannel = static_cast<int32_t>(blockIdx.y) * tileChannels;
    const int32_t channels = min(tileChannels, s.inC - firstChannel);  // the last tile may be short

    // Stage the tile's weights: W [C, 3, 3, 1] read in order (coalesced), written [tap][channel].
    extern __shared__ float4 sharedVectors[];  // float4: 16-byte aligned for the pack loads below
    T* sharedWeights = reinterpret_cast<T*>(sharedVectors);
    float* sharedBias = reinterpret_cast<float*>(reinterpret_cast<char*>(sharedVectors) + params.weightBytes);
    const int32_t thread = static_cast<int32_t>(threadIdx.y * blockDim.x + threadIdx.x);
    const int32_t threads = static_cast<int32_t>(blockDim.x * blockDim.y);
    const T* tileWeights = w + firstChannel * kTaps;
    for (int32_t j = thread; j < channels * kTaps; j += threads)
        sharedWeights[(j % kTaps) * tileChannels + j / kTaps] = tileWeights[j];
    for (int32_t c = thread; c < channels; c += threads)
        sharedBias[c] = bias ? static_cast<float>(load(bias[firstChannel + c])) : 0.f;
    __syncthreads();

    const int32_t k = static_cast<int32_t>(threadIdx.x) * V;  // the thread's first channel in the tile
    if (k >= channels) return;
    const int32_t channel = firstChannel + k;
    const uint32_t step = gridDim.x * blockDim.y;
    for (uint32_t g = blockIdx.x * blockDim.y + threadIdx.y; g < params.groups; g += step) {
        uint32_t columnGroup, oy;
        const uint32_t row = params.columnGroups.divmod(g, columnGroup);  // n * OH + oy
        const uint32_t n = params.outH.divmod(row, oy);
        const int32_t ox0 = static_cast<int32_t>(columnGroup) * P;
        const int32_t x0 = ox0 * S - s.padLeft;
        const int32_t y0 = static_cast<int32_t>(oy) * S - s.padTop;
        const T* image = x + static_cast<int32_t>(n) * s.inH * s.inW * s.inC + channel;

        // Row by row: a row's (P-1)*S + 3 packs are loaded by independent loads, outside positions
        // zero-filled by predicate, then used for the row's three taps. The rows are unrolled too, so ptxas
        // issues the next rows' loads ahead of this row's arithmetic as far as the registers allow.
        float acc[P][V];
#pragma unroll
        for (int p = 0; p < P; ++p)
#pragma unroll
            for (int l = 0; l < V; ++l) acc[p][l] = 0.f;
#pragma unroll
        for (int r = 0; r < 3; ++r) {
            const int32_t iy = y0 + r;
            const bool rowInside = static_cast<uint32_t>(iy) < static_cast<uint32_t>(s.inH);
            Pack window[kColumns];
#pragma unroll
            for (int j = 0; j < kColumns; ++j) {
                const int32_t ix = x0 + j;
                const bool inside = rowInside && static_cast<uint32_t>(ix) < static_cast<uint32_t>(s.inW);
                window[j] = inside ? *reinterpret_cast<const Pack*>(image + (iy * s.inW + ix) * s.inC)
                                   : zeroPack<T, V>();
            }
            // Each column's pack feeds every pixel whose window holds it, so a pack is dead after its
            // column and the row's three taps stay in registers as float.
            float wf[3][V];
#pragma unroll
            for (int t = 0; t < 3; ++t) {
                const Pack wk = *reinterpret_cast<const Pack*>(sharedWeights + (r * 3 + t) * tileChannels + k);
#pragma unroll
                for (int l = 0; l < V; ++l) wf[t][l] = static_cast<float>(load(wk.lane[l]));
            }
#pragma unroll
            for (int j = 0; j < kColumns; ++j) {
                float in[V];
#pragma unroll
                for (int l = 0; l < V; ++l) in[l] = static_cast<float>(load(window[j].lane[l]));
#pragma unroll
                for (int t = 0; t < 3; ++t) {
                    const int p = (j - t) / S;
                    if (j < t || (j - t) % S != 0 || p >= P) continue;  // compile-time under the unrolling
#pragma unroll
                    for (int l = 0; l < V; ++l) acc[p][l] = fmaf(in[l], wf[t][l], acc[p][l]);
                }
            }
        }

        // The epilogue, one aligned pack store per pixel; a row's last group may be short.
        const int32_t pixels = min(P, s.outW - ox0);
        const int32_t first = (static_cast<int32_t>(row) * s.outW + ox0) * s.inC + channel;  // Y's offset
#pragma unroll
        for (int p = 0; p < P; ++p) {
            if (p >= pixels) break;
            Pack skip;
            if (residual) skip = *reinterpret_cast<const Pack*>(residual + first + p * s.inC);
            Pack out;
#pragma unroll
            for (int l = 0; l < V; ++l) {
                float v = acc[p][l] + sharedBias[k + l];
                if (residual) v += static_cast<float>(load(skip.lane[l]));
                out.lane[l] = store<T>(applyActivation(activation, v));
            }
            *reinterpret_cast<Pack*>(y + first + p * s.inC) = out;
        }
    }
}

template <typename T, typename B, int V, int S>
void launchShaped(const T* x, const T* w, const B* bias, const T* residual, T* y, const DirectConvShape& s,
                  const FusedActivation& activation, cudaStream_t stream) {
    const int32_t packs = s.inC / V;
    const int32_t tiles = (packs + kMaxTilePacks - 1) / kMaxTilePacks;
    const int32_t tilePacks = (packs + tiles - 1) / tiles;  // equal tiles, the last one possibly short
    const int32_t rowsPerBlock = kBlockThreads / tilePacks;
    const int32_t columnGroups = (s.outW + kPixelsPerThread<S> - 1) / kPixelsPerThread<S>;
    Depthwise3x3Params params;
    params.shape = s;
    params.columnGroups = FastDivmod(static_cast<uint32_t>(columnGroups));
    params.outH = FastDivmod(static_cast<uint32_t>(s.outH));
    params.groups = static_cast<uint32_t>(int64_t{s.batch} * s.outH * columnGroups);
    params.tileChannels = tilePacks * V;
    params.weightBytes = static_cast<int32_t>((kTaps * params.tileChannels * sizeof(T) + 15) / 16 * 16);
    const size_t sharedBytes = static_cast<size_t>(params.weightBytes) + sizeof(float) * params.tileChannels;
    const int64_t wanted = (int64_t{params.groups} + rowsPerBlock - 1) / rowsPerBlock;
    const int64_t columnsOfBlocks = std::max<int64_t>(1, std::min<int64_t>(wanted, kMaxBlocks / tiles));
    const dim3 grid(static_cast<unsigned>(columnsOfBlocks), static_cast<unsigned>(tiles));
    const dim3 block(static_cast<unsigned>(tilePacks), static_cast<unsigned>(rowsPerBlock));
    depthwise3x3NhwcKernel<T, B, V, S><<<grid, block, sharedBytes, stream>>>(x, w, bias, residual, y, params,
                                                                             activation);
}

template <typename T, typename B, int V>
void launchStride(const T* x, const T* w, const B* bias, const T* residual, T* y, const DirectConvShape& s,
                  const FusedActivation& activation, cudaStream_t stream) {
    if (s.strideW == 2)
        launchShaped<T, B, V, 2>(x, w, bias, residual, y, s, activation, stream);
    else
        launchShaped<T, B, V, 1>(x, w, bias, residual, y, s, activation, stream);
}

template <typename T, typename B>
Status launchTyped(const void* x, const void* w, const void* bias, const void* residual, void* y,
                   const DirectConvShape& s, const FusedActivation& activation, cudaStream_t stream) {
    // The widest pack where C and X's, Y's and the residual's addresses allow it, else one channel (the
    // weights and the bias are read one element at a time, so their addresses do not matter).
    const bool vector = widestPack(s.inC, sizeof(T), {x, y, residual}) == kWidestPack<T>;
    const auto* xt = static_cast<const T*>(x);
    const auto* wt = static_cast<const T*>(w);
    const auto* bt = static_cast<const B*>(bias);
    const auto* rt = static_cast<const T*>(residual);
    auto* yt = static_cast<T*>(y);
    if (vector)
        launchStride<T, B, kWidestPack<T>>(xt, wt, bt, rt, yt, s, activation, stream);
    else
        launchStride<T, B, 1>(xt, wt, bt, rt, yt, s, activation, stream);
    return launchStatus("depthwise3x3NhwcKernel");
}

}  // namespace

bool depthwise3x3Applies(DataType type, const DirectConvShape& s) {
    if (type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16) return false;
    if (s.group <= 0 || s.inC != s.group || s.outC != s.group) return false;
    if (s.kernelH != 3 || s.kernelW != 3 || s.dilationH != 1 || s.dilationW != 1) return false;
    if (s.strideH != s.strideW || (s.strideW != 1 && s.strideW != 2)) return false;
    if (s.batch <= 0 || s.inH <= 0 || s.inW <= 0 || s.outH <= 0 || s.outW <= 0) return false;
    // Offsets are 32-bit, with room for the window's reach past a row; channel tiles fit blockIdx.y.
    const int64_t limit = std::numeric_limits<int32_t>::max() / 2;
    const int64_t inputs = int64_t{s.batch} * s.inH * s.inW * s.inC;
    const int64_t outputs = int64_t{s.batch} * s.outH * s.outW * s.outC;
    return inputs <= limit && outputs <= limit && s.inC <= kMaxTilePacks * 65535;
}

Status launchDepthwise3x3Nhwc(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                              const void* residual, void* y, const DirectConvShape& shape,
                              const FusedActivation& activation, cudaStream_t stream) {
    if (!depthwise3x3Applies(type, shape))
        return invalidArgument(std::string("the depthwise 3x3 kernel does not run this ") + dataTypeName(type) +
                               " convolution (it takes K == C == group, a 3x3 window, dilation 1, stride 1 or 2)");
    return dispatchConvTypes(type, biasType, "the depthwise 3x3 convolution", [&](auto data, auto biasData) {
        return launchTyped<typename decltype(data)::type, typename decltype(biasData)::type>(x, w, bias, residual, y,
                                                                                            shape, activation, stream);
    });
}

}  // namespace kiln::cuda
