// The depthwise 3x3 NHWC convolution's tiled form (conv_depthwise3x3_nhwc.h).
//
// Why a second form: the per-thread form reads each input pixel from L1/L2 about 4.5 times (its windows
// overlap, and neighbouring threads load them again). Here a block copies input tiles from global memory
// into shared memory with asynchronous copies (cp.async; positions outside the image zero-filled by the
// copy itself) and computes from there, so each input byte crosses from L2 about once plus the halo.
//
// Pipeline: a block keeps one channel tile (blockIdx.x) and walks output tiles (tileH x tileW pixels of
// one image) from blockIdx.y in steps of gridDim.y, through two shared buffers: the copies of its next
// tile are in flight while it computes the current one, so the memory pipe does not idle while a block
// computes. The grid is sized to one wave (kBlocksPerSm blocks on every SM); consecutive blocks take
// consecutive tiles, so at any moment the running blocks cover a band of neighbouring tiles and a tile's
// halo rows and columns, fetched moments earlier by its neighbours, come from L2, not DRAM.
//
// Work split: thread t computes kLanes channels (group t % groups of the channel tile, 4 channels: fewer
// registers than a whole 16-byte pack, whose 9 x 8 float weights alone took 72) as worker t / groups; a
// block runs workers * groups threads, so none is idle by construction. A worker computes items: strips of
// R output rows of one column, walking the strip's input rows once and adding each row's three taps to every
// output row whose window holds it (R = 4 at stride 1: 18 loads for 4 pixels, not 36). Consecutive workers
// take consecutive columns, so a warp's shared loads are consecutive words (no bank conflict); at stride 2
// the buffer holds the even input columns before the odd ones, to keep that true. The nine tap weights of
// a thread's channels stay in registers as float, the bias in shared memory.
//
// Tiling: the host scores every channel tile (a divisor of the packs, or the widest equal split), tile
// height (whole strips) and tile width that fit the buffers by the issue slots the launch would take
// (copies, and strips counted for every thread of the block, so idle workers and the halo both cost) over
// the tiles a block walks, and keeps the cheapest: e.g. 144 channels at 56x56, batch 256, take tiles of 72
// channels of 8x14 pixels, two strips per worker and no idle thread. The choice is remembered per shape.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
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
/// Channels of one thread: 8 bytes of float16 or bfloat16, 16 of float.
constexpr int kLanes = 4;
constexpr int kMaxThreads = 256;
/// Blocks an SM holds: caps a thread at 65536 / (3 * 256) = 85 registers (the weights take 36).
constexpr int kBlocksPerSm = 3;
/// Channel tiles of 16 packs at most (256 bytes of a pixel), so 8 workers at least.
constexpr int kMaxTilePacks = 16;
/// A tile's strips and columns at most: larger ones add little once the halo is small.
constexpr int kMaxTileStrips = 8;
constexpr int kMaxTileW = 32;
/// Shared memory of a block at most: the default dynamic limit, which needs no opt-in; 3 blocks fit an SM.
constexpr int kMaxSharedBytes = 48 * 1024;

/// Output rows of a worker's strip: at stride 1 its 4 rows read 6 input rows; at stride 2, 2 rows read 5.
template <int S>
constexpr int kStripRows = S == 1 ? 4 : 2;

/// The launch's tiling; what the threads derive from it is precomputed here, read from the constant bank
/// rather than held in registers.
struct TiledParams {
    DirectConvShape shape;
    int32_t tileChannels{0};         // channels of a channel tile, whole 16-byte packs
    int32_t tileH{0}, tileW{0};      // output pixels of a tile; tileH whole strips
    int32_t inTileH{0}, inTileW{0};  // input pixels it reads: (tile - 1) * stride + 3
    int32_t tiles{0};                // tiles of all images
    int32_t workers{0};              // threads / groups
    int32_t rowElements{0};          // elements of a buffer row: inTileW * tileChannels
    int32_t bufferElements{0};       // elements of a buffer: inTileH rows
    int32_t oddSlot{0};              // stride 2: the first slot of the odd input columns, (inTileW + 1) / 2
    FastDivmod tilePacks;            // packs of a channel tile
    FastDivmod groups;               // tileChannels / kLanes: the threads that share a pixel
    FastDivmod inTileWidth, tileWidth, tilesW, tilesH;
};

struct TileOrigin {
    int32_t n, oy, ox;  // the image, the first output row and column
};

__device__ __forceinline__ TileOrigin originOf(const TiledParams& p, int32_t tile) {
    uint32_t tx, ty;
    const uint32_t row = p.tilesW.divmod(static_cast<uint32_t>(tile), tx);  // n * tilesH + ty
    const uint32_t n = p.tilesH.divmod(row, ty);
    return {static_cast<int32_t>(n), static_cast<int32_t>(ty) * p.tileH, static_cast<int32_t>(tx) * p.tileW};
}

template <typename T, typename B, int S>
__global__ void __launch_bounds__(kMaxThreads, kBlocksPerSm)
    depthwise3x3TiledKernel(const T* __restrict__ x, const T* __restrict__ w, const B* __restrict__ bias,
                            const T* residual, T* y, TiledParams p, FusedActivation activation) {
    constexpr int V = kWidestPack<T>;
    constexpr int R = kStripRows<S>;
    constexpr int kInputRows = (R - 1) * S + 3;  // input rows of a strip
    using Lanes = ChannelPack<T, kLanes>;
    const DirectConvShape& s = p.shape;
    const int32_t firstChannel = static_cast<int32_t>(blockIdx.x) * p.tileChannels;
    const int32_t channels = min(p.tileChannels, s.inC - firstChannel);  // the last channel tile may be short

    // Shared: two buffers of [inTileH][inTileW slots][tileChannels], then the bias as float. At stride 2 the
    // even input columns take the first slots and the odd ones the rest (from oddSlot), so the columns of
    // neighbouring output pixels (2 apart) sit side by side.
    extern __shared__ float4 sharedVectors[];
    T* buffers = reinterpret_cast<T*>(sharedVectors);
    float* sharedBias = reinterpret_cast<float*>(buffers + 2 * p.bufferElements);

    // Copies: the block's thread count is a multiple of the packs, so a thread keeps one pack and walks
    // pixels. Offsets are 32-bit: depthwise3x3Applies keeps X and Y under 2^30 elements.
    auto copyTile = [&](int32_t tile, int32_t buffer) {
        uint32_t pack;
        const int32_t firstPixel = static_cast<int32_t>(p.tilePacks.divmod(threadIdx.x, pack));
        const int32_t packChannel = static_cast<int32_t>(pack) * V;
        if (packChannel >= channels) return;  // past a short channel tile: never read
        const int32_t pixelStep = static_cast<int32_t>(blockDim.x / p.tilePacks.divisor);
        const TileOrigin o = originOf(p, tile);
        const int32_t iy0 = o.oy * S - s.padTop, ix0 = o.ox * S - s.padLeft;
        const T* image = x + o.n * s.inH * s.inW * s.inC + firstChannel + packChannel;
        T* destination = buffers + buffer * p.bufferElements + packChannel;
        for (int32_t pixel = firstPixel; pixel < p.inTileH * p.inTileW; pixel += pixelStep) {
            uint32_t column;
            const int32_t row = static_cast<int32_t>(p.inTileWidth.divmod(static_cast<uint32_t>(pixel), column));
            const int32_t col = static_cast<int32_t>(column);
            const int32_t iy = iy0 + row, ix = ix0 + col;
            const bool inside = static_cast<uint32_t>(iy) < static_cast<uint32_t>(s.inH) &&
                                static_cast<uint32_t>(ix) < static_cast<uint32_t>(s.inW);
            const int32_t slot = S == 1 ? col : (col & 1) * p.oddSlot + (col >> 1);
            // Outside the image the copy reads nothing and writes zeros (the source only has to be valid).
            __pipeline_memcpy_async(destination + row * p.rowElements + slot * p.tileChannels,
                                    inside ? image + (iy * s.inW + ix) * s.inC : x, 16, inside ? 0 : 16);
        }
    };

    // The first tile's copies go out before the weights and the bias are read, which wait on memory.
    const int32_t step = static_cast<int32_t>(gridDim.y);
    int32_t buffer = 0;
    copyTile(static_cast<int32_t>(blockIdx.y), buffer);
    __pipeline_commit();

    // Arithmetic: the thread's channels (lane0 onwards in the tile) and its place among the workers.
    uint32_t group;
    p.groups.divmod(threadIdx.x, group);
    const int32_t lane0 = static_cast<int32_t>(group) * kLanes;
    const bool computes = lane0 < channels;
    float wf[kTaps][kLanes];  // W [C, 3, 3, 1]: read once per block
#pragma unroll
    for (int t = 0; t < kTaps; ++t)
#pragma unroll
        for (int l = 0; l < kLanes; ++l)
            wf[t][l] = computes ? static_cast<float>(load(w[(firstChannel + lane0 + l) * kTaps + t])) : 0.f;
    for (int32_t c = static_cast<int32_t>(threadIdx.x); c < channels; c += static_cast<int32_t>(blockDim.x))
        sharedBias[c] = bias ? static_cast<float>(load(bias[firstChannel + c])) : 0.f;
    auto computeTile = [&](int32_t tile, int32_t buffer) {
        const TileOrigin o = originOf(p, tile);
        const int32_t rows = min(p.tileH, s.outH - o.oy), cols = min(p.tileW, s.outW - o.ox);
        const int32_t items = (rows + R - 1) / R * cols;  // the tile's strips, clipped to the image
        const T* tileLanes = buffers + buffer * p.bufferElements + lane0;
        const int32_t outTile = ((o.n * s.outH + o.oy) * s.outW + o.ox) * s.inC + firstChannel + lane0;
        for (int32_t item = static_cast<int32_t>(p.groups.div(threadIdx.x)); item < items; item += p.workers) {
            const int32_t strip = cols == p.tileW ? static_cast<int32_t>(p.tileWidth.div(static_cast<uint32_t>(item)))
                                                  : item / cols;
            const int32_t col = item - strip * cols, r0 = strip * R;
            // A strip's input rows lie in the buffer even past the image's last row (tileH is whole
            // strips): those outputs are computed from zeros and not stored.
            const T* column = tileLanes + r0 * S * p.rowElements + col * p.tileChannels;
            float acc[R][kLanes];
#pragma unroll
            for (int r = 0; r < R; ++r)
#pragma unroll
                for (int l = 0; l < kLanes; ++l) acc[r][l] = 0.f;
#pragma unroll
            for (int ir = 0; ir < kInputRows; ++ir)
#pragma unroll
                for (int kx = 0; kx < 3; ++kx) {
                    // Input column col * S + kx: at stride 2 slots col, oddSlot + col, col + 1.
                    const int32_t slot = S == 1 ? kx : (kx == 1 ? p.oddSlot : kx / 2);
                    const Lanes v = *reinterpret_cast<const Lanes*>(column + ir * p.rowElements +
                                                                    slot * p.tileChannels);
                    float in[kLanes];
#pragma unroll
                    for (int l = 0; l < kLanes; ++l) in[l] = static_cast<float>(load(v.lane[l]));
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        const int ky = ir - r * S;
                        if (ky < 0 || ky > 2) continue;  // compile-time under the unrolling
#pragma unroll
                        for (int l = 0; l < kLanes; ++l) acc[r][l] = fmaf(in[l], wf[ky * 3 + kx][l], acc[r][l]);
                    }
                }
            // The FusedConv epilogue: + bias, + residual, activation, one rounding at the store. The residual
            // may be Y itself (an in-place sum): each element is read by the thread that then writes it.
#pragma unroll
            for (int r = 0; r < R; ++r) {
                if (r0 + r >= rows) break;
                const int32_t at = outTile + ((r0 + r) * s.outW + col) * s.inC;
                Lanes skip;
                if (residual) skip = *reinterpret_cast<const Lanes*>(residual + at);
                Lanes out;
#pragma unroll
                for (int l = 0; l < kLanes; ++l) {
                    float v = acc[r][l] + sharedBias[lane0 + l];
                    if (residual) v += static_cast<float>(load(skip.lane[l]));
                    out.lane[l] = store<T>(applyActivation(activation, v));
                }
                *reinterpret_cast<Lanes*>(y + at) = out;
            }
        }
    };

    // The pipeline: the next tile's copies fly while this one is computed. The barrier makes this tile's
    // copies (and the bias) visible to all, and tells that every thread is done with the other buffer,
    // which the next copies overwrite.
    for (int32_t tile = static_cast<int32_t>(blockIdx.y); tile < p.tiles; tile += step, buffer ^= 1) {
        __pipeline_wait_prior(0);
        __syncthreads();
        if (tile + step < p.tiles) copyTile(tile + step, buffer ^ 1);
        __pipeline_commit();
        if (computes) computeTile(tile, buffer);
    }
}

/// The search's costs, in thread instructions of an SM. A 16-byte copy: ~20 instructions (index, bounds,
/// addresses) and its trip from L2, which at the ~24-32 bytes an SM takes per clock (128 instructions) is
/// worth ~60 more: so the halo costs more than its instructions. A thread's strip (float16): stride 1, 18
/// loads, 72 conversions, 144 FMAs and the epilogue of 16 outputs; stride 2, 15 loads, 60 conversions, 72
/// FMAs and 8 outputs. DRAM traffic, each input and output byte once whatever the tiling, is left out.
constexpr double kCopyCost = 80;
template <int S>
constexpr double kStripCost = S == 1 ? 340 : 210;
/// Channel tiles of 4 packs at least (64 bytes of a pixel, two 32-byte sectors) where C has them: narrower
/// ones leave a pixel's sectors to different blocks.
constexpr int kMinTilePacks = 4;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

size_t sharedBytesOf(int32_t inTileH, int32_t inTileW, int32_t tileChannels, size_t elementBytes) {
    return 2 * static_cast<size_t>(inTileH) * inTileW * tileChannels * elementBytes + sizeof(float) * tileChannels;
}

struct Tiling {
    int32_t tilePacks{0}, tileH{0}, tileW{0};
};

/// Blocks of a channel tile (gridDim.y): as many as fit one wave of kBlocksPerSm blocks an SM with the
/// other channel tiles' (one where the channel tiles alone fill it), no more than its tiles.
int64_t runsOf(int64_t tiles, int64_t channelTiles, int64_t sms) {
    return std::min({tiles, std::max<int64_t>(1, sms * kBlocksPerSm / channelTiles), int64_t{65535}});
}

/// The cheapest tiling of a layer on `sms` SMs. Channel tiles divide the packs, or are the widest equal
/// split (the last tile short); the widest wins a tie.
template <typename T, int S>
Tiling searchTiling(const DirectConvShape& s, int64_t sms) {
    constexpr int V = kWidestPack<T>;
    constexpr int R = kStripRows<S>;
    const int32_t packs = s.inC / V;
    const int32_t widestSplit = static_cast<int32_t>(ceilDiv(packs, ceilDiv(packs, kMaxTilePacks)));
    Tiling best;
    double bestCost = 0;
    for (int32_t tilePacks = std::min(packs, kMaxTilePacks); tilePacks >= std::min(packs, kMinTilePacks); --tilePacks) {
        if (packs % tilePacks != 0 && tilePacks != widestSplit) continue;
        const int32_t tileChannels = tilePacks * V, groups = tileChannels / kLanes;
        const int64_t workers = kMaxThreads / groups, threads = workers * groups;
        const int64_t channelTiles = ceilDiv(packs, tilePacks);
        for (int32_t tileH = R; tileH <= std::min(kMaxTileStrips * R, static_cast<int32_t>(ceilDiv(s.outH, R) * R));
             tileH += R) {
            for (int32_t tileW = 1; tileW <= std::min(kMaxTileW, s.outW); ++tileW) {
                const int32_t inTileH = (tileH - 1) * S + 3, inTileW = (tileW - 1) * S + 3;
                if (sharedBytesOf(inTileH, inTileW, tileChannels, sizeof(T)) > kMaxSharedBytes) break;
                // A tile's rounds: strips of its rows (clipped to the image) times columns, over the workers;
                // a round costs every thread of the block.
                const int64_t tilesH = ceilDiv(s.outH, tileH), tilesW = ceilDiv(s.outW, tileW);
                const int64_t lastH = s.outH - (tilesH - 1) * tileH, lastW = s.outW - (tilesW - 1) * tileW;
                auto rounds = [&](int64_t rows, int64_t cols) { return ceilDiv(ceilDiv(rows, R) * cols, workers); };
                const int64_t imageRounds = (tilesH - 1) * (tilesW - 1) * rounds(tileH, tileW) +
                                            (tilesH - 1) * rounds(tileH, lastW) + (tilesW - 1) * rounds(lastH, tileW) +
                                            rounds(lastH, lastW);
                const double tileCost = static_cast<double>(inTileH) * inTileW * tilePacks * kCopyCost +
                                        static_cast<double>(imageRounds * threads) * kStripCost<S> /
                                            static_cast<double>(tilesH * tilesW);
                // The launch's grid (launchOf): an SM runs its blocks' tiles one after the other.
                const int64_t tiles = s.batch * tilesH * tilesW;
                const int64_t runs = runsOf(tiles, channelTiles, sms);
                const double cost =
                    static_cast<double>(ceilDiv(channelTiles * runs, sms) * ceilDiv(tiles, runs)) * tileCost;
                if (best.tilePacks == 0 || cost < bestCost) {
                    best = {tilePacks, tileH, tileW};
                    bestCost = cost;
                }
            }
        }
    }
    return best;
}

/// searchTiling's choice, remembered per shape: a launch then costs a lookup, not the search.
template <typename T, int S>
Tiling tilingOf(const DirectConvShape& s, int64_t sms) {
    static std::mutex mutex;
    static std::map<std::array<int64_t, 5>, Tiling> chosen;
    const std::array<int64_t, 5> key = {s.batch, s.inC, s.outH, s.outW, sms};
    std::lock_guard<std::mutex> lock(mutex);
    auto found = chosen.find(key);
    if (found == chosen.end()) found = chosen.emplace(key, searchTiling<T, S>(s, sms)).first;
    return found->second;
}

/// A launch of the kernel: its parameters, grid, block and shared memory.
struct TiledLaunch {
    TiledParams params;
    dim3 grid;
    unsigned threads{0};
    size_t sharedBytes{0};
};

template <typename T, int S>
TiledLaunch launchOf(const DirectConvShape& s, const Tiling& t, int64_t sms) {
    TiledParams p;
    p.shape = s;
    p.tileChannels = t.tilePacks * kWidestPack<T>;
    const int32_t groups = p.tileChannels / kLanes;
    p.tileH = t.tileH;
    p.tileW = t.tileW;
    p.inTileH = (t.tileH - 1) * S + 3;
    p.inTileW = (t.tileW - 1) * S + 3;
    const int32_t tilesH = static_cast<int32_t>(ceilDiv(s.outH, t.tileH));
    const int32_t tilesW = static_cast<int32_t>(ceilDiv(s.outW, t.tileW));
    p.tiles = s.batch * tilesH * tilesW;  // at most the outputs, which fit 32 bits
    p.workers = kMaxThreads / groups;
    p.rowElements = p.inTileW * p.tileChannels;
    p.bufferElements = p.inTileH * p.rowElements;
    p.oddSlot = (p.inTileW + 1) / 2;
    p.tilePacks = FastDivmod(static_cast<uint32_t>(t.tilePacks));
    p.groups = FastDivmod(static_cast<uint32_t>(groups));
    p.inTileWidth = FastDivmod(static_cast<uint32_t>(p.inTileW));
    p.tileWidth = FastDivmod(static_cast<uint32_t>(p.tileW));
    p.tilesW = FastDivmod(static_cast<uint32_t>(tilesW));
    p.tilesH = FastDivmod(static_cast<uint32_t>(tilesH));
    // Channel tiles across, tile walks down.
    const int64_t channelTiles = ceilDiv(s.inC, p.tileChannels);
    const int64_t runs = runsOf(p.tiles, channelTiles, sms);
    return {p, dim3(static_cast<unsigned>(channelTiles), static_cast<unsigned>(runs)),
            static_cast<unsigned>(p.workers * groups),
            sharedBytesOf(p.inTileH, p.inTileW, p.tileChannels, sizeof(T))};
}

template <typename T, typename B, int S>
Status launchTiled(const T* x, const T* w, const B* bias, const T* residual, T* y, const DirectConvShape& s,
                   const FusedActivation& activation, cudaStream_t stream) {
    int device = 0, sms = 0;
    KILN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
    KILN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    const TiledLaunch l = launchOf<T, S>(s, tilingOf<T, S>(s, sms), sms);
    depthwise3x3TiledKernel<T, B, S><<<l.grid, l.threads, l.sharedBytes, stream>>>(x, w, bias, residual, y, l.params,
                                                                                   activation);
    return launchStatus("depthwise3x3TiledKernel");
}

template <typename T, typename B>
Status launchTyped(DataType type, DataType biasType, const void* x, const void* w, const void* bias,
                   const void* residual, void* y, const DirectConvShape& s, const FusedActivation& activation,
                   cudaStream_t stream) {
    // Copies need C in whole 16-byte packs and 16-byte aligned X, Y and residual; else the per-thread form,
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
