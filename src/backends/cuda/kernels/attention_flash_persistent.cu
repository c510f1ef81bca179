// Kiln's flash attention (attention_flash.h), its persistent form: the tiled form's math
// (attention_flash_tiles.cuh) in blocks that stay resident and walk the work items.
//
// Why: at BERT's shapes (S = 128) a block of the tiled form lives for two key steps, and its life is a
// serial chain: copy Q, K, V, compute, store. Its copies overlap nothing of its own, and with ~6 waves of
// short blocks every wave pays DRAM's latency again. Here a block takes item after item (item = blockIdx.x,
// then + gridDim.x), and while the last key step of one item computes, the next item's Q tile, first K and
// V tiles and key bias row are already on their way (cp.async), so a block's copies hide behind its own
// math as well as behind its neighbours'.
//
// An item is one (batch, head, 64-row query tile), numbered tile fastest, then head, then batch: the grid's
// blocks run consecutive items at once, so the tiles of one head (and the heads of one KV group) read
// their K and V while it is in L2.
//
// Shared memory: two Q tiles (this item's; the next item's, arriving), two K-and-V step buffers and their
// two key bias rows. The K/V buffers alternate across items too: the next item's first step lands in the
// buffer this item's last step does not read. A finished item's Y leaves through its own Q tile (each
// warp through its own rows), and a barrier after that store frees that tile and the last step's K/V
// buffer for the copies the next item issues.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/attention_flash.h"
#include "backends/cuda/kernels/attention_flash_tiles.cuh"
#include "backends/cuda/kernels/fast_divmod.cuh"

namespace kiln::cuda {

namespace {

using namespace flash;

template <int D>
constexpr size_t sharedBytes() {
    // Two Q tiles and two steps' K and V tiles, 2-byte elements; then two steps' key bias rows, float.
    // 55.8 KB at D = 64 (four blocks an SM), 105 KB at 128 (two).
    return static_cast<size_t>(6 * kTileRows * (D + kPad)) * 2 + 2 * kTileRows * sizeof(float);
}

/// How a grid walks one problem's items (batch, head, query tile). The divisions that take an item apart
/// are multiply-highs (fast_divmod.cuh), which the SM's uniform datapath runs: an item's batch, head and
/// tile are the same for the whole block, and held in uniform registers they leave the vector registers
/// (all 128 of them at head size 64) to the math.
struct PersistentWalk {
    FastDivmod tiles, heads, group;  // query tiles a head, query heads, query heads a KV head
    int items{0};                    // below INT32_MAX / 2 (flashAttentionShapeRefusal)
};

PersistentWalk walkOf(const FlashAttentionProblem& p) {
    PersistentWalk walk;
    const int64_t tiles = (p.q.seq + kTileRows - 1) / kTileRows;
    walk.tiles = FastDivmod(static_cast<uint32_t>(std::max<int64_t>(tiles, 1)));
    // No divisor of 0 where a problem has no heads (it has no items either).
    walk.heads = FastDivmod(static_cast<uint32_t>(std::max<int64_t>(p.q.heads, 1)));
    walk.group = FastDivmod(static_cast<uint32_t>(std::max<int64_t>(p.group, 1)));
    walk.items = static_cast<int>(p.q.batch * p.q.heads * tiles);
    return walk;
}

/// `value`, which the compiler cannot see through: what is derived from it is derived again.
__device__ __forceinline__ int opaqueCopy(int value) {
    int copy;
    asm volatile("mov.b32 %0, %1;\n" : "=r"(copy) : "r"(value));
    return copy;
}

// The tiled form's bounds: four blocks an SM at head size 64 (registers capped at 128, no spill: ptxas -v),
// two at 128.
// kRowMask: attn_mask has its own row per query (read per element), else its one row is staged per step.
template <typename T, int D, bool kRowMask>
__global__ void __launch_bounds__(kThreads, D == 64 ? 4 : 2)
    flashAttentionPersistentKernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                   const void* __restrict__ mask, T* __restrict__ y, FlashAttentionProblem p,
                                   PersistentWalk walk) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    constexpr int kStride = D + kPad;
    constexpr int kTile = kTileRows * kStride;  // elements of one padded tile
    extern __shared__ __align__(16) unsigned char shared[];
    T* const sQ = reinterpret_cast<T*>(shared);                      // Q tile 0, Q tile 1
    T* const sKV = sQ + 2 * kTile;                                   // K then V of buffer 0, K then V of buffer 1
    float* const sBias = reinterpret_cast<float*>(sKV + 4 * kTile);  // key bias rows of buffers 0 and 1
    const int warp = static_cast<int>(threadIdx.x) / 32;
    const float scaleLog2 = p.scale * kLog2e;  // the softmax runs on exp2
    // Sequences and items fit int (flashAttentionShapeRefusal): the index arithmetic stays 32-bit.
    const int queries = static_cast<int>(p.q.seq), keys = static_cast<int>(p.k.seq), items = walk.items;
    // Item `it` as its batch, head and first query row.
    auto itemOf = [&](int it, int& b, int& h, int& q0) {
        uint32_t tile = 0, head = 0;
        const uint32_t bh = walk.tiles.divmod(static_cast<uint32_t>(it), tile);
        b = static_cast<int>(walk.heads.divmod(bh, head));
        h = static_cast<int>(head);
        q0 = static_cast<int>(tile) * kTileRows;
    };

    // Keys [first, first + 64) of (b, h)'s KV head, and their bias row, into K/V buffer `buffer`.
    auto loadKeys = [&](int b, int h, int first, int buffer) {
        const int hk = static_cast<int>(walk.group.div(static_cast<uint32_t>(h)));
        T* const sK = sKV + buffer * 2 * kTile;
        loadTile<T, D>(sK, k + p.k.offset(b, hk), p.k.rowStride(), first, keys);
        loadTile<T, D>(sK + kTile, v + p.v.offset(b, hk), p.v.rowStride(), first, keys);
        stageKeyBias(sBias + buffer * kTileRows, mask, p, b * p.maskStrides[0] + h * p.maskStrides[1], kRowMask, first,
                     keys);
    };
    // Item `it`'s Q tile into Q tile `qBuffer`, its first key step into K/V buffer `kvBuffer`.
    auto loadItem = [&](int it, int qBuffer, int kvBuffer) {
        int b = 0, h = 0, q0 = 0;
        itemOf(it, b, h, q0);
        loadTile<T, D>(sQ + qBuffer * kTile, q + p.q.offset(b, h), p.q.rowStride(), q0, queries);
        loadKeys(b, h, 0, kvBuffer);
    };

    int item = static_cast<int>(blockIdx.x);  // the host launches at most `items` blocks
    loadItem(item, 0, 0);
    cpAsyncCommit();
    // This item's Q tile and the K/V buffer of its first step; the next item's take the others.
    int qBuffer = 0, kvBuffer = 0;
    for (; item < items; item += static_cast<int>(gridDim.x)) {
        int b = 0, h = 0, q0 = 0;
        itemOf(item, b, h, q0);
        // The causal frontier of the tile's last row ends its keys. Without keys an item still takes one
        // step, all of it masked (its rows come out zeros): every item then issues the next one's copies.
        const int keyEnd = p.causal ? min(keys, q0 + kTileRows) : keys;
        const int steps = max(1, (keyEnd + kTileRows - 1) / kTileRows);
        const int next = item + static_cast<int>(gridDim.x);
        T* const sQi = sQ + qBuffer * kTile;

        // This thread's two rows (of the warp's 16); the lane read again, not held from the last item.
        const int firstRow = q0 + warp * 16 + laneAgain() / 4;
        const int rows[2] = {firstRow, firstRow + 8};
        const int64_t maskRow = kRowMask ? b * p.maskStrides[0] + h * p.maskStrides[1] + rows[0] * p.maskStrides[2] : 0;

        float o[D / 8][4] = {};
        float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
        for (int step = 0; step < steps; ++step) {
            const int buffer = (kvBuffer + step) % 2;
            // Into the other K/V buffer, which every warp left at the last barrier: this item's next step,
            // or on its last step the next item's Q tile (into the Q tile its store freed) and first step.
            if (step + 1 < steps) {
                loadKeys(b, h, (step + 1) * kTileRows, buffer ^ 1);
                cpAsyncCommit();
                cpAsyncWait<1>();
            } else if (next < items) {
                loadItem(next, qBuffer ^ 1, buffer ^ 1);
                cpAsyncCommit();
                cpAsyncWait<1>();
            } else {
                cpAsyncWait<0>();
            }
            __syncthreads();  // this step's copies (and its bias row) are in, from every thread

            const T* const sK = sKV + buffer * 2 * kTile;
            flashKeyStep<T, D, kRowMask>(sQi, sK, sK + kTile, sBias + buffer * kTileRows, mask, p, step * kTileRows,
                                         rows, maskRow, scaleLog2, o, rowMax, rowSum);
            if (step + 1 < steps) __syncthreads();  // every warp is done with this step's K and V
        }

        // Y through the warp's own rows of this item's Q tile. The item's batch, head and first row are
        // worked out again from an opaque copy of its number: held through the key steps instead, they
        // would be spilled at head size 64.
        itemOf(opaqueCopy(item), b, h, q0);
        storeWarpRows<T, D>(o, rowSum, sQi + warp * 16 * kStride, y + p.y.offset(b, h), p.y.rowStride(), q0 + warp * 16,
                            queries);
        // Every warp is done with the last step's K/V buffer and with its rows of this Q tile: the next
        // item's first copies may land in them.
        __syncthreads();
        qBuffer ^= 1;
        kvBuffer = (kvBuffer + steps) % 2;
    }
#else
    __trap();  // flashAttentionShapeRefusal offers the kernel on sm_80 and later only
#endif
}

template <typename T, int D>
auto persistentKernel(const FlashAttentionProblem& problem) {
    return hasRowMask(problem) ? flashAttentionPersistentKernel<T, D, true>
                               : flashAttentionPersistentKernel<T, D, false>;
}

template <typename T, int D>
Expected<unsigned> prepareTyped(const FlashAttentionProblem& problem) {
    const auto kernel = persistentKernel<T, D>(problem);
    constexpr int kShared = static_cast<int>(sharedBytes<D>());
    // Beyond 48 KiB a kernel must opt in (both head sizes here).
    KILN_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kShared));
    int device = 0, sms = 0, perSm = 0;
    KILN_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
    KILN_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    KILN_CUDA_RETURN_IF_ERROR(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, kernel, kThreads, kShared));
    if (perSm < 1) return unsupported("Kiln's persistent flash attention fits no block on an SM of this device");
    // One wave of resident blocks; more would only queue behind them and lose the walk's prefetch.
    const int64_t items = walkOf(problem).items;
    return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(items, int64_t{sms} * perSm)));
}

template <typename T, int D>
Status launchTyped(const FlashAttentionProblem& problem, unsigned blocks, const void* q, const void* k, const void* v,
                   const void* mask, void* y, cudaStream_t stream) {
    const PersistentWalk walk = walkOf(problem);
    if (walk.items == 0) return Status::ok();
    // The loop needs every block to own an item; a grid prepared for more items than these is cut down.
    blocks = std::min(blocks, static_cast<unsigned>(walk.items));
    persistentKernel<T, D>(problem)<<<blocks, kThreads, sharedBytes<D>(), stream>>>(
        static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), mask, static_cast<T*>(y), problem,
        walk);
    return launchStatus("flashAttentionPersistentKernel");
}

}  // namespace

std::optional<std::string> persistentFlashAttentionRefusal(const FlashAttentionProblem& problem) {
    const size_t bytes = problem.q.headSize == 128 ? sharedBytes<128>() : sharedBytes<64>();
    int device = 0, most = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess)
        return std::string("no CUDA device for Kiln's persistent flash attention");
    if (bytes > static_cast<size_t>(most))
        return "Kiln's persistent flash attention needs " + std::to_string(bytes) +
               " bytes of shared memory a block, the device gives " + std::to_string(most);
    return std::nullopt;
}

Expected<unsigned> preparePersistentFlashAttention(const FlashAttentionProblem& problem) {
    const bool wide = problem.q.headSize == 128;
    if (problem.type == DataType::kHALF)
        return wide ? prepareTyped<__half, 128>(problem) : prepareTyped<__half, 64>(problem);
    return wide ? prepareTyped<__nv_bfloat16, 128>(problem) : prepareTyped<__nv_bfloat16, 64>(problem);
}

Status launchPersistentFlashAttention(const FlashAttentionProblem& problem, unsigned blocks, const void* q,
                                      const void* k, const void* v, const void* mask, void* y, cudaStream_t stream) {
    const bool wide = problem.q.headSize == 128;
    if (problem.type == DataType::kHALF)
        return wide ? launchTyped<__half, 128>(problem, blocks, q, k, v, mask, y, stream)
                    : launchTyped<__half, 64>(problem, blocks, q, k, v, mask, y, stream);
    return wide ? launchTyped<__nv_bfloat16, 128>(problem, blocks, q, k, v, mask, y, stream)
                : launchTyped<__nv_bfloat16, 64>(problem, blocks, q, k, v, mask, y, stream);
}

}  // namespace kiln::cuda
