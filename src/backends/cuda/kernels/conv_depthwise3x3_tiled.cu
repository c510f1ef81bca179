// The depthwise 3x3 NHWC convolution's tiled form (conv_depthwise3x3_nhwc.h).
//
// Why a second form: the per-thread form reads each input pixel from L1/L2 about 4.5 times (its windows
// overlap, and neighbouring threads load them again), with a few loads in flight per thread; on an H200
// its MobileNetV2 layers moved 0.6-1.8 TB/s of a ~4 TB/s memory. Here a block copies its input tile once
// from global memory into shared memory with asynchronous copies (cp.async: every load of the tile in
// flight at once, the positions outside the image zero-filled by the copy itself), then computes from
// shared memory, so global memory sees each input byte about once (plus the tile's halo).
//
// Work split: a block is one output tile (tileH x tileW pixels of one image) of one channel tile (up to 8
// 16-byte packs: 128 bytes of a pixel, one cache line). Thread t takes pack t % CP and is worker t / CP;
// a worker computes strips of R output rows of one column, walking the strip's input rows once and adding
// each row's three packs to every output row whose window holds it (R = 4 at stride 1: 18 shared loads for
// 4 pixels, not 36). The nine tap weights of the thread's channels stay in registers as float.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <algorithm>
#include <string>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/channel_pack.cuh"
#include "backends/cuda/kernels/conv_depthwise3x3_nhwc.h"
#include "backends/cuda/kernels/conv_type_dispatch.h"
#include "backends/cuda/kernels/element_types.cuh"

namespace kiln::cuda {

namespace {

constexpr int kTaps = 9;
constexpr int kTiledThreads = 256;
/// Packs of a channel tile at most: 8 x 16 bytes, one 128-byte line of a pixel.
constexpr int kMaxTilePacks = 8;
/// Shared memory of a block at most: the default dynamic limit, which needs no opt-in.
constexpr int kMaxSharedBytes = 48 * 1024;

/// Output rows of a worker's strip: at stride 1 its 4 rows read 6 input rows; at stride 2, 2 rows read 5
/// (4 would read 9 rows and hold 4 x 8 accumulators beside them).
template <int S>
constexpr int kStripRows = S == 1 ? 4 : 2;

struct TiledParams {
    DirectConvShape shape;
    int32_t tilePacks{0};         // packs of a channel tile (CP)
    int32_t tileH{0}, tileW{0};   // output pixels of a tile; tileH a multiple of the strip rows
    int32_t inTileH{0}, inTileW{0};  // input pixels the tile reads: (tile - 1) * stride + 3
    int32_t tilesH{0}, tilesW{0};
};

template <typename T, int V>
__device__ __forceinline__ void packToFloat(const ChannelPack<T, V>& pack, float (&out)[V]) {
#pragma unroll
    for (int l = 0; l < V; ++l) out[l] = static_cast<float>(load(pack.lane[l]));
}

template <typename T, typename B, int S>
__global__ void __launch_bounds__(kTiledThreads, 2)
    depthwise3x3TiledKernel(const T* __restrict__ x, const T* __restrict__ w, const B* __restrict__ bias,
                            const T* residual, T* y, TiledParams p, FusedActivation activation) {
    constexpr int V = kWidestPack<T>;
    constexpr int R = kStripRows<S>;
    constexpr int kInputRows = (R - 1) * S + 3;  // input rows of a strip
    using Pack = ChannelPack<T, V>;
    const DirectConvShape& s = p.shape;
    const int32_t packs = s.inC / V;
    const int32_t firstPack = static_cast<int32_t>(blockIdx.y) * p.tilePacks;
    const int32_t tilePacks = min(p.tilePacks, packs - firstPack);  // the last channel tile may be short

    int32_t b = static_cast<int32_t>(blockIdx.x);
    const int32_t tx = b % p.tilesW;
    b /= p.tilesW;
    const int32_t ty = b % p.tilesH;
    const int32_t n = b / p.tilesH;
    const int32_t oy0 = ty * p.tileH, ox0 = tx * p.tileW;
    const int32_t iy0 = oy0 * S - s.padTop, ix0 = ox0 * S - s.padLeft;

    // Shared: the input tile [inTileH][inTileW][CP] packs, the weights [tap][CP] packs, the bias as float.
    extern __shared__ float4 sharedVectors[];
    Pack* tile = reinterpret_cast<Pack*>(sharedVectors);
    Pack* weights = tile + p.inTileH * p.inTileW * p.tilePacks;
    float* sharedBias = reinterpret_cast<float*>(weights + kTaps * p.tilePacks);

    // The tile's copies, all in flight together; outside the image (and past a short channel tile) the
    // copy reads nothing and writes zeros.
    const T* image = x + n * s.inH * s.inW * s.inC + firstPack * V;
    const int32_t tileElements = p.inTileH * p.inTileW * p.tilePacks;
    for (int32_t i = static_cast<int32_t>(threadIdx.x); i < tileElements; i += kTiledThreads) {
        const int32_t pack = i % p.tilePacks;
        const int32_t pixel = i / p.tilePacks;
        const int32_t iy = iy0 + pixel / p.inTileW, ix = ix0 + pixel % p.inTileW;
        const bool inside = pack < tilePacks && static_cast<uint32_t>(iy) < static_cast<uint32_t>(s.inH) &&
                            static_cast<uint32_t>(ix) < static_cast<uint32_t>(s.inW);
        const T* source = inside ? image + (iy * s.inW + ix) * s.inC + pack * V : x;
        __pipeline_memcpy_async(tile + i, source, sizeof(Pack), inside ? 0 : sizeof(Pack));
    }
    __pipeline_commit();
    // W [C, 3, 3, 1] read in order (coalesced) while the copies fly, written [tap][channel].
    T* weightLanes = reinterpret_cast<T*>(weights);
    const int32_t tileChannels = p.tilePacks * V;
    const int32_t channels = tilePacks * V;
    const T* tileWeights = w + firstPack * V * kTaps;
    for (int32_t j = static_cast<int32_t>(threadIdx.x); j < channels * kTaps; j += kTiledThreads)
        weightLanes[(j % kTaps) * tileChannels + j / kTaps] = tileWeights[j];
    for (int32_t c = static_cast<int32_t>(threadIdx.x); c < channels; c += kTiledThreads)
        sharedBias[c] = bias ? static_cast<float>(load(bias[firstPack * V + c])) : 0.f;
    __pipeline_wait_prior(0);
    __syncthreads();

    const int32_t pack = static_cast<int32_t>(threadIdx.x) % p.tilePacks;
    const int32_t worker = static_cast<int32_t>(threadIdx.x) / p.tilePacks;
    const int32_t workers = kTiledThreads / p.tilePacks;
    if (pack >= tilePacks || worker >= workers) return;  // no barrier follows

    float wf[kTaps][V];
#pragma unroll
    for (int t = 0; t < kTaps; ++t) packToFloat(weights[t * p.tilePacks + pack], wf[t]);
    const int32_t channel = (firstPack + pack) * V;
    const int32_t tileRows = min(p.tileH, s.outH - oy0), tileCols = min(p.tileW, s.outW - ox0);
    const int32_t strips = (tileRows + R - 1) / R;
    const int32_t rowPacks = p.inTileW * p.tilePacks;  // a tile row's packs

    for (int32_t item = worker; item < strips * tileCols; item += workers) {
        const int32_t col = item % tileCols;
        const int32_t r0 = (item / tileCols) * R;  // the strip's first output row in the tile
        float acc[R][V];
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int l = 0; l < V; ++l) acc[r][l] = 0.f;
        // tileH is a multiple of R, so the strip's input rows lie in the tile even past the image's last
        // output row (those outputs are computed from zeros and not stored).
        const Pack* column = tile + (r0 * S) * rowPacks + (col * S) * p.tilePacks + pack;
#pragma unroll
        for (int ir = 0; ir < kInputRows; ++ir) {
            float in[3][V];
#pragma unroll
            for (int kx = 0; kx < 3; ++kx) packToFloat(column[ir * rowPacks + kx * p.tilePacks], in[kx]);
#pragma unroll
            for (int r = 0; r < R; ++r) {
                const int ky = ir - r * S;
                if (ky < 0 || ky > 2) continue;  // compile-time under the unrolling
#pragma unroll
                for (int kx = 0; kx < 3; ++kx)
#pragma unroll
                    for (int l = 0; l < V; ++l) acc[r][l] = fmaf(in[kx][l], wf[ky * 3 + kx][l], acc[r][l]);
            }
        }
        const int32_t ox = ox0 + col;
#pragma unroll
        for (int r = 0; r < R; ++r) {
            if (r0 + r >= tileRows) break;
            const int32_t at = ((n * s.outH + oy0 + r0 + r) * s.outW + ox) * s.inC + channel;
            Pack skip;
            if (residual) skip = *reinterpret_cast<const Pack*>(residual + at);
            Pack out;
#pragma unroll
            for (int l = 0; l < V; ++l) {
                float v = acc[r][l] + sharedBias[pack * V + l];
                if (residual) v += static_cast<float>(load(skip.lane[l]));
                out.lane[l] = store<T>(applyActivation(activation, v));
            }
            *reinterpret_cast<Pack*>(y + at) = out;
        }
    }
}

int32_t roundUp(int32_t v, int32_t multiple) { return (v + multiple - 1) / multiple * multiple; }

/// The input tile and the weights in 16-byte packs of V lanes, then the bias as float.
size_t sharedBytesOf(const TiledParams& p, int lanes) {
    return static_cast<size_t>(p.inTileH * p.inTileW + kTaps) * p.tilePacks * 16 +
           sizeof(float) * static_cast<size_t>(p.tilePacks) * lanes;
}

/// The tiling of a launch: channel tiles of equal size, tiles whose strips give every worker one.
template <typename T, int S>
TiledParams tilingOf(const DirectConvShape& s) {
    constexpr int V = kWidestPack<T>;
    constexpr int R = kStripRows<S>;
    TiledParams p;
    p.shape = s;
    const int32_t packs = s.inC / V;
    const int32_t channelTiles = (packs + kMaxTilePacks - 1) / kMaxTilePacks;
    p.tilePacks = (packs + channelTiles - 1) / channelTiles;
    const int32_t workers = kTiledThreads / p.tilePacks;
    p.tileW = std::min(s.outW, S == 1 ? 16 : 8);
    const int32_t strips = std::max(1, workers / p.tileW);
    p.tileH = std::min(roundUp(s.outH, R), strips * R);
    auto fill = [&] {
        p.tilesH = (s.outH + p.tileH - 1) / p.tileH;
        p.tileH = roundUp((s.outH + p.tilesH - 1) / p.tilesH, R);  // balanced: no nearly empty last tile
        p.inTileH = (p.tileH - 1) * S + 3;
        p.inTileW = (p.tileW - 1) * S + 3;
    };
    fill();
    while (sharedBytesOf(p, V) > kMaxSharedBytes && p.tileH > R) {
        p.tileH -= R;
        fill();
    }
    p.tilesW = (s.outW + p.tileW - 1) / p.tileW;
    return p;
}

template <typename T, typename B, int S>
Status launchTiled(const T* x, const T* w, const B* bias, const T* residual, T* y, const DirectConvShape& s,
                   const FusedActivation& activation, cudaStream_t stream) {
    const TiledParams p = tilingOf<T, S>(s);
    const size_t sharedBytes = sharedBytesOf(p, kWidestPack<T>);
    const int64_t blocks = int64_t{s.batch} * p.tilesH * p.tilesW;
    const int32_t channelTiles = (s.inC / kWidestPack<T> + p.tilePacks - 1) / p.tilePacks;
    if (sharedBytes > kMaxSharedBytes || blocks > 0x7fffffff || channelTiles > 65535)
        return unsupported("the tiled depthwise 3x3 kernel cannot tile this layer");
    const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(channelTiles));
    depthwise3x3TiledKernel<T, B, S><<<grid, kTiledThreads, sharedBytes, stream>>>(x, w, bias, residual, y, p,
                                                                                  activation);
    return launchStatus("depthwise3x3TiledKernel");
}

template <typename T, typename B>
Status launchTyped(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                   const void* residual, void* y, const DirectConvShape& s, const FusedActivation& activation,
                   cudaStream_t stream) {
    // Packs need C in whole 16-byte vectors and 16-byte aligned X, Y and residual; else the per-thread form,
    // which also reads single channels.
    if (s.inC % kWidestPack<T> != 0 || !addressesAligned(16, {x, y, residual}))
        return launchDepthwise3x3Nhwc(type, biasType, x, w, bias, residual, y, s, activation, stream);
    const auto* xt = static_cast<const T*>(x);
    const auto* wt = static_cast<const T*>(w);
    const auto* bt = static_cast<const B*>(bias);
    const auto* rt = static_cast<const T*>(residual);
    auto* yt = static_cast<T*>(y);
    if (s.strideW == 2) return launchTiled<T, B, 2>(xt, wt, bt, rt, yt, s, activation, stream);
    return launchTiled<T, B, 1>(xt, wt, bt, rt, yt, s, activation, stream);
}

}  // namespace

Status launchDepthwise3x3NhwcTiled(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                                   const void* residual, void* y, const DirectConvShape& shape,
                                   const FusedActivation& activation, cudaStream_t stream) {
    if (!depthwise3x3Applies(type, shape))
        return invalidArgument(std::string("the tiled depthwise 3x3 kernel does not run this ") + dataTypeName(type) +
                               " convolution (it takes K == C == group, a 3x3 window, dilation 1, stride 1 or 2)");
    return dispatchConvTypes(type, biasType, "the tiled depthwise 3x3 convolution", [&](auto data, auto biasData) {
        return launchTyped<typename decltype(data)::type, typename decltype(biasData)::type>(
            type, biasType, x, w, bias, residual, y, shape, activation, stream);
    });
}

}  // namespace kiln::cuda
