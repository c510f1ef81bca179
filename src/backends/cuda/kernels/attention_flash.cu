// Kiln's flash attention (attention_flash.h), its tiled form; the math it shares with the persistent
// form (attention_flash_persistent.cu) is in attention_flash_tiles.cuh.
//
// A block: 4 warps, 64 query rows (16 a warp), one (batch, head). K and V are double-buffered: the next
// step's tiles are copied (cp.async) while this one computes, and so is the step's key bias row (the
// mask's one row for all queries, -inf past the keys); a mask with a row per query is read per element
// instead, in a kernel form of its own.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/attention_flash.h"
#include "backends/cuda/kernels/attention_flash_tiles.cuh"

namespace kiln::cuda {

namespace {

using namespace flash;

template <int D>
constexpr size_t sharedBytes() {
    // The Q tile and two K and V tiles (the next step's copy lands while this one computes), 2-byte
    // elements; then two steps' key bias rows, float.
    return static_cast<size_t>(5 * kTileRows * (D + kPad)) * 2 + 2 * kTileRows * sizeof(float);
}

// Four blocks an SM at head size 64 (registers capped at 128), two at 128. At 64 the cap costs two 4-byte
// shared-memory offsets spilled and refilled once a key step (ptxas -v): two L1 hits, against the ~100
// instructions a key step spent on per-row source addresses before loadTile stepped them. kRowMask:
// attn_mask has its own row per query (read per element from global memory); otherwise its one row is
// staged per step.
template <typename T, int D, bool kRowMask>
__global__ void __launch_bounds__(kThreads, D == 64 ? 4 : 2)
    flashAttentionKernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                         const void* __restrict__ mask, T* __restrict__ y, FlashAttentionProblem p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    constexpr int kStride = D + kPad;
    extern __shared__ __align__(16) unsigned char shared[];
    T* sQ = reinterpret_cast<T*>(shared);
    T* const sKV = sQ + kTileRows * kStride;  // K then V of step 0, K then V of step 1, ...
    auto keyTile = [&](int step) { return sKV + (step % 2) * 2 * kTileRows * kStride; };
    float* const sBias = reinterpret_cast<float*>(sKV + 4 * kTileRows * kStride);  // two steps' rows
    auto keyBias = [&](int step) { return sBias + (step % 2) * kTileRows; };
    const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
    const int64_t b = blockIdx.z, h = blockIdx.y, hk = h / p.group;
    const float scaleLog2 = p.scale * kLog2e;  // the softmax runs on exp2
    const int q0 = static_cast<int>(blockIdx.x) * kTileRows;
    // Sequences fit int (flashAttentionShapeRefusal): the per-element index arithmetic stays 32-bit.
    const int queries = static_cast<int>(p.q.seq), keys = static_cast<int>(p.k.seq);
    const T* kHead = k + p.k.offset(b, hk);
    const T* vHead = v + p.v.offset(b, hk);
    const int64_t maskBase = b * p.maskStrides[0] + h * p.maskStrides[1];
    // The causal frontier of the block's last row ends its keys.
    const int keyEnd = p.causal ? min(keys, q0 + kTileRows) : keys;
    loadTile<T, D>(sQ, q + p.q.offset(b, h), p.q.rowStride(), q0, queries);
    if (0 < keyEnd) {
        loadTile<T, D>(keyTile(0), kHead, p.k.rowStride(), 0, keys);
        loadTile<T, D>(keyTile(0) + kTileRows * kStride, vHead, p.v.rowStride(), 0, keys);
        stageKeyBias(keyBias(0), mask, p, maskBase, kRowMask, 0, keys);
    }
    cpAsyncCommit();

    // This thread's two rows (of the warp's 16).
    const int rows[2] = {q0 + warp * 16 + lane / 4, q0 + warp * 16 + lane / 4 + 8};
    const int64_t maskRow = kRowMask ? maskBase + rows[0] * p.maskStrides[2] : 0;

    float o[D / 8][4] = {};
    float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
    for (int k0 = 0, step = 0; k0 < keyEnd; k0 += kTileRows, ++step) {
        const T* sK = keyTile(step);
        const T* sV = sK + kTileRows * kStride;
        const float* bias = keyBias(step);
        if (k0 + kTileRows < keyEnd) {  // the next step's K and V into the other buffer, freed a step ago
            loadTile<T, D>(keyTile(step + 1), kHead, p.k.rowStride(), k0 + kTileRows, keys);
            loadTile<T, D>(keyTile(step + 1) + kTileRows * kStride, vHead, p.v.rowStride(), k0 + kTileRows, keys);
            stageKeyBias(keyBias(step + 1), mask, p, maskBase, kRowMask, k0 + kTileRows, keys);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncthreads();

        flashKeyStep<T, D, kRowMask>(sQ, sK, sV, bias, mask, p, k0, rows, maskRow, scaleLog2, o, rowMax, rowSum);
        __syncthreads();  // every warp is done with this step's K and V
    }
    cpAsyncWait<0>();  // Q's copy, where there was no key to wait for
    __syncthreads();

    // Y through the warp's own rows of the Q tile.
    storeWarpRows<T, D>(o, rowSum, sQ + warp * 16 * kStride, y + p.y.offset(b, h), p.y.rowStride(), q0 + warp * 16,
                        queries);
#else
    __trap();  // flashAttentionShapeRefusal offers the kernel on sm_80 and later only
#endif
}

template <typename T, int D>
Status launchTyped(const FlashAttentionProblem& problem, const void* q, const void* k, const void* v, const void* mask,
                   void* y, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>((problem.q.seq + kTileRows - 1) / kTileRows),
                    static_cast<unsigned>(problem.q.heads), static_cast<unsigned>(problem.q.batch));
    auto kernel = hasRowMask(problem) ? flashAttentionKernel<T, D, true> : flashAttentionKernel<T, D, false>;
    kernel<<<grid, kThreads, sharedBytes<D>(), stream>>>(static_cast<const T*>(q), static_cast<const T*>(k),
                                                         static_cast<const T*>(v), mask, static_cast<T*>(y), problem);
    return launchStatus("flashAttentionKernel");
}

template <typename T, int D>
Status allowShared(bool rowMask) {
    // Beyond 48 KiB a kernel must opt in.
    return cudaStatus(
        cudaFuncSetAttribute(rowMask ? flashAttentionKernel<T, D, true> : flashAttentionKernel<T, D, false>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(sharedBytes<D>())),
        "cudaFuncSetAttribute(flashAttentionKernel)");
}

bool deviceHasMmaSync() {
    int device = 0, major = 0;
    return cudaGetDevice(&device) == cudaSuccess &&
           cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess && major >= 8;
}

}  // namespace

std::optional<std::string> flashAttentionShapeRefusal(const FlashAttentionProblem& p) {
    if (p.type != DataType::kHALF && p.type != DataType::kBF16)
        return std::string("Kiln's flash attention runs float16 and bfloat16");
    if (p.q.headSize != p.k.headSize || p.q.headSize != p.v.headSize)
        return std::string("Kiln's flash attention needs one head size for Q, K and V");
    if (p.q.headSize != 64 && p.q.headSize != 128)
        return std::string("Kiln's flash attention has head sizes 64 and 128");
    for (const HeadLayout* l : {&p.q, &p.k, &p.v, &p.y})
        if (l->base % 8 || l->batchStride % 8 || l->headStride % 8 || l->seqStride % 8)
            return std::string("Kiln's flash attention reads rows at multiples of 8 elements");
    if (p.q.batch > 65535 || p.q.heads > 65535 || p.q.seq > INT32_MAX / 2 || p.k.seq > INT32_MAX / 2)
        return std::string("too many batches, heads or rows for Kiln's flash attention");
    // The persistent form numbers its (batch, head, tile) items in int; so many would not fit in memory.
    if (p.q.batch * p.q.heads * ((p.q.seq + kTileRows - 1) / kTileRows) > INT32_MAX / 2)
        return std::string("too many query tiles for Kiln's flash attention");
    if (!deviceHasMmaSync()) return std::string("Kiln's flash attention needs an sm_80 or later GPU");
    return std::nullopt;
}

bool flashAttentionTakesAddresses(const void* q, const void* k, const void* v, const void* y) {
    for (const void* pointer : {q, k, v, y})
        if (reinterpret_cast<uintptr_t>(pointer) % 16 != 0) return false;
    return true;
}

Status prepareFlashAttention(const FlashAttentionProblem& problem) {
    const bool rowMask = hasRowMask(problem), wide = problem.q.headSize == 128;
    if (problem.type == DataType::kHALF)
        return wide ? allowShared<__half, 128>(rowMask) : allowShared<__half, 64>(rowMask);
    return wide ? allowShared<__nv_bfloat16, 128>(rowMask) : allowShared<__nv_bfloat16, 64>(rowMask);
}

Status launchFlashAttention(const FlashAttentionProblem& problem, const void* q, const void* k, const void* v,
                            const void* mask, void* y, cudaStream_t stream) {
    const bool wide = problem.q.headSize == 128;
    if (problem.type == DataType::kHALF)
        return wide ? launchTyped<__half, 128>(problem, q, k, v, mask, y, stream)
                    : launchTyped<__half, 64>(problem, q, k, v, mask, y, stream);
    return wide ? launchTyped<__nv_bfloat16, 128>(problem, q, k, v, mask, y, stream)
                : launchTyped<__nv_bfloat16, 64>(problem, q, k, v, mask, y, stream);
}

}  // namespace kiln::cuda
