// The convolution from NCHW X to NHWC Y (conv_channels_first_input.h).
//
// Work split: blockIdx.x is a tile of tileH x tileW output pixels of one image, blockIdx.y a chunk of the
// output channels (all of them where the chunk's weights fit). The block's threads first stage, in shared
// memory as float, the chunk's bias, its weights as [tap][channel] (a tap is (r, s, c), W's own order) and
// the input patch the tile's windows cover, [c][row][column] with the padding as zeros: one warp a patch
// row, its lanes along the row, so the loads of an NCHW row are coalesced. Then thread t computes the 8
// output channels (t % groups) * 8 ... of the pixels t / groups, + slots, + 2 slots ... of the tile: threads
// next to each other write the channels of one pixel, then of the next one, so a warp's stores are
// consecutive. The chunk is padded to a multiple of 8 with zero weights; lanes past K are not stored.
// Float X under narrow W and Y (a Cast folded in) is staged as it is: its values are used unrounded.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <type_traits>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/conv_channels_first_input.h"
#include "backends/cuda/kernels/conv_type_dispatch.h"
#include "backends/cuda/kernels/element_types.cuh"
#include "ir/ops/layout_attributes.h"

namespace kiln::cuda {

namespace {

/// Output channels of a thread: one 16-byte float16 / bfloat16 vector, two float ones.
constexpr int kChannelsPerThread = 8;
/// Output pixels of a thread at most: each tap's 8 weights are read from shared memory once for all of them.
constexpr int kPixelsPerThread = 4;
constexpr int kBlockThreads = 256;
/// Shared memory of a block: the default limit, so no launch needs an opt-in.
constexpr size_t kMaxSharedBytes = 48 * 1024;
/// The weights' share of it: a larger chunk of output channels goes to another block (blockIdx.y).
constexpr size_t kMaxWeightBytes = 24 * 1024;
/// Output channels of a chunk at most: 8 groups of 8, so a block still holds 32 pixel slots.
constexpr int32_t kMaxChunkChannels = 64;
/// Output columns of a tile at most: rows of the tile are split evenly to about this width.
constexpr int32_t kMaxTileWidth = 32;

/// A launch's extents and tiling.
struct ChannelsFirstParams {
    DirectConvShape shape;
    int32_t chunkChannels{0};  // output channels of a block (blockIdx.y), a multiple of kChannelsPerThread
    int32_t tileH{0}, tileW{0};
    int32_t tilesH{0}, tilesW{0};
    int32_t patchH{0}, patchW{0};  // the input rows and columns the tile's windows cover
};

struct TilePlan {
    ChannelsFirstParams params;
    int32_t chunks{0};
    size_t sharedBytes{0};
};

int64_t ceilDiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/// The tiling of a convolution: the chunk of output channels whose weights fit kMaxWeightBytes (equal
/// chunks), then the largest tile of about kPixelsPerThread pixels a thread whose patch fits the rest of
/// kMaxSharedBytes. Nothing when not even one output pixel's patch fits.
std::optional<TilePlan> planTiles(const DirectConvShape& s) {
    const int64_t taps = int64_t{s.kernelH} * s.kernelW * s.inC;
    const int64_t channelBytes = taps * static_cast<int64_t>(sizeof(float));
    const int64_t fitting =
        static_cast<int64_t>(kMaxWeightBytes) / channelBytes / kChannelsPerThread * kChannelsPerThread;
    const int64_t maxChunk = std::max<int64_t>(kChannelsPerThread, std::min<int64_t>(kMaxChunkChannels, fitting));
    const int64_t chunks = ceilDiv(s.outC, maxChunk);
    const int64_t chunk = ceilDiv(ceilDiv(s.outC, chunks), kChannelsPerThread) * kChannelsPerThread;
    const int64_t fixedBytes = chunk * (channelBytes + static_cast<int64_t>(sizeof(float)));  // weights, bias
    if (fixedBytes >= static_cast<int64_t>(kMaxSharedBytes)) return std::nullopt;
    const int64_t patchBudget = static_cast<int64_t>(kMaxSharedBytes) - fixedBytes;

    const int64_t slots = kBlockThreads / (chunk / kChannelsPerThread);
    const int64_t tilePixels = slots * kPixelsPerThread;
    const int64_t outH = std::max(s.outH, 1), outW = std::max(s.outW, 1);  // an empty output plans one tile
    int64_t tileW = std::min<int64_t>(ceilDiv(outW, ceilDiv(outW, kMaxTileWidth)), tilePixels);
    int64_t tileH = std::max<int64_t>(1, std::min<int64_t>(outH, tilePixels / tileW));
    auto patchRows = [&](int64_t h) { return (h - 1) * s.strideH + int64_t{s.kernelH - 1} * s.dilationH + 1; };
    auto patchColumns = [&](int64_t w) { return (w - 1) * s.strideW + int64_t{s.kernelW - 1} * s.dilationW + 1; };
    auto patchBytes = [&](int64_t h, int64_t w) {
        return int64_t{s.inC} * patchRows(h) * patchColumns(w) * static_cast<int64_t>(sizeof(float));
    };
    while (patchBytes(tileH, tileW) > patchBudget) {
        if (tileH > 1)
            --tileH;
        else if (tileW > 1)
            --tileW;
        else
            return std::nullopt;
    }
    TilePlan plan;
    ChannelsFirstParams& p = plan.params;
    p.shape = s;
    p.chunkChannels = static_cast<int32_t>(chunk);
    p.tileH = static_cast<int32_t>(tileH);
    p.tileW = static_cast<int32_t>(tileW);
    p.tilesH = static_cast<int32_t>(ceilDiv(outH, tileH));
    p.tilesW = static_cast<int32_t>(ceilDiv(outW, tileW));
    p.patchH = static_cast<int32_t>(patchRows(tileH));
    p.patchW = static_cast<int32_t>(patchColumns(tileW));
    plan.chunks = static_cast<int32_t>(chunks);
    plan.sharedBytes = static_cast<size_t>(fixedBytes + patchBytes(tileH, tileW));
    return plan;
}

/// Loads a block stages into shared memory, issued kStageBatch at a time before any is stored: a loop
/// that stores each load before issuing the next waits one memory latency per element (the first form
/// of this kernel staged its patch that way and ran MobileNetV2's stem at 0.6 TB/s on an H200).
constexpr int kStageBatch = 8;

/// Stages elements [0, count) of the block: write(e, read(e)) for each, by all its threads.
template <typename Read, typename Write>
__device__ __forceinline__ void stageInBatches(int32_t count, Read read, Write write) {
    for (int32_t base = static_cast<int32_t>(threadIdx.x); base < count; base += kStageBatch * kBlockThreads) {
        float v[kStageBatch];
#pragma unroll
        for (int b = 0; b < kStageBatch; ++b) {
            const int32_t e = base + b * kBlockThreads;
            v[b] = e < count ? read(e) : 0.f;
        }
#pragma unroll
        for (int b = 0; b < kStageBatch; ++b) {
            const int32_t e = base + b * kBlockThreads;
            if (e < count) write(e, v[b]);
        }
    }
}

template <typename TX, typename T, typename B, bool kVectorIo>
__global__ void __launch_bounds__(kBlockThreads)
    channelsFirstInputConvKernel(const TX* __restrict__ x, const T* __restrict__ w, const B* __restrict__ bias,
                                 const T* residual, T* y, ChannelsFirstParams params, FusedActivation activation) {
    // X, W and the bias are read-only for the launch; the residual may be Y's own buffer (an in-place sum),
    // read by the thread that then writes it.
    constexpr int V = kChannelsPerThread;
    constexpr int P = kPixelsPerThread;
    const DirectConvShape& s = params.shape;
    const int32_t chunk = params.chunkChannels;
    const int32_t taps = s.kernelH * s.kernelW * s.inC;
    int32_t tile = static_cast<int32_t>(blockIdx.x);
    const int32_t tileX = tile % params.tilesW;
    tile /= params.tilesW;
    const int32_t tileY = tile % params.tilesH;
    const int32_t n = tile / params.tilesH;
    const int32_t firstChannel = static_cast<int32_t>(blockIdx.y) * chunk;
    const int32_t oy0 = tileY * params.tileH;
    const int32_t ox0 = tileX * params.tileW;
    const int32_t iy0 = oy0 * s.strideH - s.padTop;
    const int32_t ix0 = ox0 * s.strideW - s.padLeft;

    // [bias: chunk][weights: taps x chunk][patch: C x patchH x patchW], floats; the chunk is a multiple of
    // 8, so the weights start 32-byte aligned for the float4 reads below.
    extern __shared__ float4 sharedVectors[];
    float* sharedBias = reinterpret_cast<float*>(sharedVectors);
    float* sharedWeights = sharedBias + chunk;
    float* patch = sharedWeights + taps * chunk;
    const int32_t thread = static_cast<int32_t>(threadIdx.x);
    for (int32_t j = thread; j < chunk; j += kBlockThreads) {
        const int32_t k = firstChannel + j;
        sharedBias[j] = bias && k < s.outC ? static_cast<float>(load(bias[k])) : 0.f;
    }
    // A float image's patch goes first, by asynchronous copies (cp.async: every element of the patch in
    // flight at once, the positions outside the image zero-filled by the copy), so its latency overlaps the
    // weights' staging below; other types are converted on the way and staged in batches after them.
    const TX* image = x + n * s.inC * s.inH * s.inW;
    const int32_t patchCount = s.inC * params.patchH * params.patchW;
    auto patchSource = [&](int32_t e, bool* inside) {
        const int32_t row = e / params.patchW;  // c * patchH + the patch row
        const int32_t c = row / params.patchH;
        const int32_t iy = iy0 + (row - c * params.patchH), ix = ix0 + (e - row * params.patchW);
        *inside = static_cast<uint32_t>(iy) < static_cast<uint32_t>(s.inH) &&
                  static_cast<uint32_t>(ix) < static_cast<uint32_t>(s.inW);
        return *inside ? image + (c * s.inH + iy) * s.inW + ix : image;
    };
    if constexpr (std::is_same_v<TX, float>) {
        for (int32_t e = thread; e < patchCount; e += kBlockThreads) {
            bool inside = false;
            const float* source = patchSource(e, &inside);
            __pipeline_memcpy_async(patch + e, source, sizeof(float), inside ? 0 : sizeof(float));
        }
        __pipeline_commit();
    }
    // W [K, R, S, C] read in order (coalesced), written [tap][channel]; channels past K weigh zero.
    stageInBatches(
        chunk * taps,
        [&](int32_t j) {
            const int32_t k = firstChannel + j / taps;
            return k < s.outC ? static_cast<float>(load(w[firstChannel * taps + j])) : 0.f;
        },
        [&](int32_t j, float v) {
            const int32_t channel = j / taps;
            sharedWeights[(j - channel * taps) * chunk + channel] = v;
        });
    // The patch [c][row][column] in NCHW order: consecutive threads read consecutive columns of a row
    // (coalesced); outside the image reads as zero.
    if constexpr (std::is_same_v<TX, float>) {
        __pipeline_wait_prior(0);
    } else {
        stageInBatches(
            patchCount,
            [&](int32_t e) {
                bool inside = false;
                const TX* source = patchSource(e, &inside);
                return inside ? static_cast<float>(load(*source)) : 0.f;
            },
            [&](int32_t e, float v) { patch[e] = v; });
    }
    __syncthreads();

    const int32_t groups = chunk / V;
    const int32_t slots = kBlockThreads / groups;
    const int32_t group = thread % groups;
    const int32_t slot = thread / groups;
    if (slot >= slots) return;  // the threads past groups x slots only staged
    const int32_t tilePixels = params.tileH * params.tileW;
    int32_t patchOffset[P];  // where pixel p's window starts in a patch plane
    bool valid[P];
#pragma unroll
    for (int p = 0; p < P; ++p) {
        const int32_t j = slot + p * slots;
        const int32_t ty = j / params.tileW;
        const int32_t tx = j - ty * params.tileW;
        valid[p] = j < tilePixels && oy0 + ty < s.outH && ox0 + tx < s.outW;
        patchOffset[p] = valid[p] ? ty * s.strideH * params.patchW + tx * s.strideW : 0;
    }
    float acc[P][V];
#pragma unroll
    for (int p = 0; p < P; ++p)
#pragma unroll
        for (int l = 0; l < V; ++l) acc[p][l] = 0.f;
    const int32_t channel0 = group * V;  // the thread's first channel in the chunk
    const int32_t plane = params.patchH * params.patchW;
    int32_t tap = 0;
    for (int32_t r = 0; r < s.kernelH; ++r) {
        for (int32_t t = 0; t < s.kernelW; ++t) {
            const float* window = patch + r * s.dilationH * params.patchW + t * s.dilationW;
            for (int32_t c = 0; c < s.inC; ++c, ++tap) {
                const auto* wv = reinterpret_cast<const float4*>(sharedWeights + tap * chunk + channel0);
                const float4 lo = wv[0], hi = wv[1];
                const float wk[V] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
                const float* source = window + c * plane;
#pragma unroll
                for (int p = 0; p < P; ++p) {
                    const float in = source[patchOffset[p]];
#pragma unroll
                    for (int l = 0; l < V; ++l) acc[p][l] = fmaf(in, wk[l], acc[p][l]);
                }
            }
        }
    }

    const int32_t k = firstChannel + channel0;
    if (k >= s.outC) return;
#pragma unroll
    for (int p = 0; p < P; ++p) {
        if (!valid[p]) continue;
        const int32_t j = slot + p * slots;
        const int32_t ty = j / params.tileW;
        const int32_t oy = oy0 + ty;
        const int32_t ox = ox0 + (j - ty * params.tileW);
        const int32_t at = ((n * s.outH + oy) * s.outW + ox) * s.outC + k;  // Y's offset
        if constexpr (kVectorIo) {
            T skip[V];
            if (residual) loadPacks<T, V>(residual + at, skip);
            T out[V];
#pragma unroll
            for (int l = 0; l < V; ++l) {
                float v = acc[p][l] + sharedBias[channel0 + l];
                if (residual) v += static_cast<float>(load(skip[l]));
                out[l] = store<T>(applyActivation(activation, v));
            }
            storePacks<T, V>(y + at, out);
        } else {
#pragma unroll
            for (int l = 0; l < V; ++l) {
                if (k + l >= s.outC) break;
                float v = acc[p][l] + sharedBias[channel0 + l];
                if (residual) v += static_cast<float>(load(residual[at + l]));
                y[at + l] = store<T>(applyActivation(activation, v));
            }
        }
    }
}

template <typename TX, typename T, typename B>
Status launchTyped(const void* x, const void* w, const void* bias, const void* residual, void* y, const TilePlan& plan,
                   const FusedActivation& activation, cudaStream_t stream) {
    const DirectConvShape& s = plan.params.shape;
    // 8-channel vectors where every pixel's channels start at a multiple of 8 and Y and the residual are
    // 16-byte aligned; single channels otherwise.
    const bool vector =
        s.outC % kChannelsPerThread == 0 && addressesAligned(packAlignment<T>(kChannelsPerThread), {y, residual});
    const dim3 grid(static_cast<unsigned>(int64_t{s.batch} * plan.params.tilesH * plan.params.tilesW),
                    static_cast<unsigned>(plan.chunks));
    const auto* xt = static_cast<const TX*>(x);
    const auto* wt = static_cast<const T*>(w);
    const auto* bt = static_cast<const B*>(bias);
    const auto* rt = static_cast<const T*>(residual);
    auto* yt = static_cast<T*>(y);
    if (vector)
        channelsFirstInputConvKernel<TX, T, B, true>
            <<<grid, kBlockThreads, plan.sharedBytes, stream>>>(xt, wt, bt, rt, yt, plan.params, activation);
    else
        channelsFirstInputConvKernel<TX, T, B, false>
            <<<grid, kBlockThreads, plan.sharedBytes, stream>>>(xt, wt, bt, rt, yt, plan.params, activation);
    return launchStatus("channelsFirstInputConvKernel");
}

}  // namespace

bool channelsFirstInputConvApplies(DataType type, DataType inputType, const DirectConvShape& s, std::string* reason) {
    auto refuse = [&](const std::string& why) {
        if (reason) *reason = why;
        return false;
    };
    if (type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16)
        return refuse(std::string("no NCHW-input convolution kernel for ") + dataTypeName(type));
    if (inputType != type && inputType != DataType::kFLOAT)
        return refuse(std::string("an NCHW-input convolution on ") + dataTypeName(type) +
                      " reads X of that type or float, not " + dataTypeName(inputType));
    if (s.group != 1) return refuse("an NCHW-input convolution has group 1, not " + std::to_string(s.group));
    if (s.inC < 1 || s.inC > kChannelsFirstInputMaxChannels)
        return refuse("an NCHW-input convolution reads 1 to " + std::to_string(kChannelsFirstInputMaxChannels) +
                      " input channels, not " + std::to_string(s.inC));
    if (s.batch < 0 || s.inH < 1 || s.inW < 1 || s.outH < 0 || s.outW < 0 || s.outC < 1 || s.kernelH < 1 ||
        s.kernelW < 1 || s.strideH < 1 || s.strideW < 1 || s.dilationH < 1 || s.dilationW < 1)
        return refuse("an NCHW-input convolution needs positive window extents, strides and dilations");
    // Offsets are 32-bit; the grid's tiles and chunks fit its x and y extents.
    const int64_t limit = std::numeric_limits<int32_t>::max() / 2;
    if (int64_t{s.batch} * s.inC * s.inH * s.inW > limit || int64_t{s.batch} * s.outH * s.outW * s.outC > limit)
        return refuse("the NCHW-input convolution's tensors pass its 32-bit offsets (" + std::to_string(limit) +
                      " elements)");
    const auto plan = planTiles(s);
    if (!plan)
        return refuse("the NCHW-input convolution's " + std::to_string(s.kernelH) + "x" + std::to_string(s.kernelW) +
                      " window over " + std::to_string(s.inC) + " channels does not fit a block's shared memory");
    if (plan->chunks > 65535) return refuse("the NCHW-input convolution has too many output channels");
    return true;
}

Status launchChannelsFirstInputConv(DataType type, DataType inputType, DataType biasType, const void* x, const void* w,
                                    const void* bias, const void* residual, void* y, const DirectConvShape& shape,
                                    const FusedActivation& activation, cudaStream_t stream) {
    std::string reason;
    if (!channelsFirstInputConvApplies(type, inputType, shape, &reason)) return invalidArgument(reason);
    if (int64_t{shape.batch} * shape.outH * shape.outW == 0) return Status::ok();
    const TilePlan plan = *planTiles(shape);
    // X is of the layer's type, or float (a Cast folded away).
    return dispatchConvTypes(type, biasType, "the NCHW-input convolution", [&](auto data, auto biasData) {
        using T = typename decltype(data)::type;
        using B = typename decltype(biasData)::type;
        if (inputType == DataType::kFLOAT)
            return launchTyped<float, T, B>(x, w, bias, residual, y, plan, activation, stream);
        return launchTyped<T, T, B>(x, w, bias, residual, y, plan, activation, stream);
    });
}

}  // namespace kiln::cuda
