// Kiln's flash attention (attention_flash.h): mma.sync m16n8k16 on float16 / bfloat16 with float
// accumulation, the fragment layouts of the PTX ISA's "Matrix Fragments for mma.m16n8k16".
//
// A block: 4 warps, 64 query rows (16 a warp), one (batch, head). K and V are double-buffered: the next
// step's tiles are copied (cp.async) while this one computes, and so is the step's key bias row (the
// mask's one row for all queries, -inf past the keys); a mask with a row per query is read per element
// instead, in a kernel form of its own. Per key block of 64:
//   S = Q K^T   A = Q's fragments (ldmatrix, read again each step: registers for a fourth resident
//               block), B = K's rows (ldmatrix: K stored [key][d] is the column-major B the
//               instruction wants);
//   softmax     in the log2 domain, scale and bias folded in, the running max and sum per row (each
//               thread holds two rows' pieces; the four threads of a row meet by shuffles);
//   O += P V    A = P straight from S's accumulators (the C fragment of two 8-key tiles is the A
//               fragment of one 16-key step), B = V through ldmatrix.trans.
// Shared rows are padded by 8 elements so the 8 rows an ldmatrix reads fall in distinct bank groups.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/attention_flash.h"

namespace kiln::cuda {

namespace {

constexpr int kTileRows = 64;  // query rows of a block, and keys of a step
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kPad = 8;
constexpr float kLog2e = 1.4426950408889634f;

template <int D>
constexpr size_t sharedBytes() {
    // The Q tile and two K and V tiles (the next step's copy lands while this one computes), 2-byte
    // elements; then two steps' key bias rows, float.
    return static_cast<size_t>(5 * kTileRows * (D + kPad)) * 2 + 2 * kTileRows * sizeof(float);
}

__device__ __forceinline__ void cpAsync16(void* shared, const void* global, bool valid) {
    const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
    // A source size of 0 fills the 16 bytes with zeros (rows past the sequence).
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpAsyncCommit() {
    asm volatile("cp.async.commit_group;\n" ::);
}
/// Waits until at most `pending` of this thread's committed copy groups are still in flight.
template <int pending>
__device__ __forceinline__ void cpAsyncWait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], const void* shared) {
    const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
}
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t (&r)[4], const void* shared) {
    const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
}

template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                        uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// Two floats as one register of T pairs, `low` at the lower column (the fragments' order).
template <typename T>
__device__ __forceinline__ uint32_t packPair(float low, float high);
template <>
__device__ __forceinline__ uint32_t packPair<__half>(float low, float high) {
    const __half2 pair = __floats2half2_rn(low, high);
    return *reinterpret_cast<const uint32_t*>(&pair);
}
template <>
__device__ __forceinline__ uint32_t packPair<__nv_bfloat16>(float low, float high) {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(low, high);
    return *reinterpret_cast<const uint32_t*>(&pair);
}

/// The bias of keys [first, first + 64) in the log2 domain, one value a key for every query row: -inf past
/// the keys (and past the mask's key extent), else the mask's value where it has one row for all queries
/// (a key-padding mask), else 0 (a per-row mask is read per element instead). Threads 0..63 write it.
__device__ __forceinline__ void stageKeyBias(float* bias, const void* mask, const FlashAttentionProblem& p,
                                             int64_t maskBase, bool rowMask, int first, int keys) {
    const int t = static_cast<int>(threadIdx.x);
    if (t >= kTileRows) return;
    const int j = first + t;
    float value = 0.f;
    if (j >= keys)
        value = -INFINITY;
    else if (p.maskType != MaskType::kNone && !rowMask)
        value = j < p.maskKeys ? maskValue(mask, p.maskType, maskBase + j) * kLog2e : -INFINITY;
    bias[t] = value;
}

/// Rows [first, first + 64) of a head (rows past `rows` zero) into a padded shared tile, by cp.async.
template <typename T, int D>
__device__ __forceinline__ void loadTile(T* tile, const T* head, int64_t rowStride, int first, int rows) {
    constexpr int kChunksPerRow = D / 8;  // 16-byte pieces
#pragma unroll
    for (int c = threadIdx.x; c < kTileRows * kChunksPerRow; c += kThreads) {
        const int r = c / kChunksPerRow, piece = c % kChunksPerRow;
        const bool valid = first + r < rows;
        cpAsync16(tile + r * (D + kPad) + piece * 8, valid ? head + (first + r) * rowStride + piece * 8 : head, valid);
    }
}

// Four blocks an SM at head size 64 (registers capped at 128), two at 128. kRowMask: attn_mask has its own
// row per query (read per element from global memory); otherwise its one row is staged per step.
template <typename T, int D, bool kRowMask>
__global__ void __launch_bounds__(kThreads, D == 64 ? 4 : 2)
    flashAttentionKernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                         const void* __restrict__ mask, T* __restrict__ y, FlashAttentionProblem p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    constexpr int kStride = D + kPad;
    constexpr int kKeyTiles = kTileRows / 8;  // 8-key accumulator tiles of a step
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

    // This thread's two rows (of the warp's 16) and the first of its two columns in every 8-key tile.
    const int rows[2] = {q0 + warp * 16 + lane / 4, q0 + warp * 16 + lane / 4 + 8};
    const int column = (lane % 4) * 2;
    int64_t maskAt[2] = {0, 0};
    if constexpr (kRowMask)
        for (int r = 0; r < 2; ++r) maskAt[r] = maskBase + rows[r] * p.maskStrides[2];
    const int maskKeys = static_cast<int>(p.maskKeys);

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

        float s[kKeyTiles][4] = {};
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) {
            // Q's fragments are read again each step rather than held: registers for more resident blocks.
            uint32_t qf[4];
            ldmatrixX4(qf, sQ + (warp * 16 + lane % 8 + (lane / 8 % 2) * 8) * kStride + kk * 16 + lane / 16 * 8);
#pragma unroll
            for (int pair = 0; pair < kKeyTiles / 2; ++pair) {
                uint32_t kf[4];
                ldmatrixX4(kf, sK + (pair * 16 + lane % 8 + lane / 16 * 8) * kStride + kk * 16 + (lane / 8 % 2) * 8);
                mma16816<T>(s[2 * pair], qf, kf[0], kf[1]);
                mma16816<T>(s[2 * pair + 1], qf, kf[2], kf[3]);
            }
        }

        float stepMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int t = 0; t < kKeyTiles; ++t) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e / 2;
                const int j = k0 + t * 8 + column + (e & 1);
                float x = fmaf(s[t][e], scaleLog2, bias[t * 8 + column + (e & 1)]);
                if (rows[r] >= queries || (p.causal && j > rows[r]))
                    x = -INFINITY;
                else if (kRowMask && x != -INFINITY)
                    x = j < maskKeys ? fmaf(maskValue(mask, p.maskType, maskAt[r] + j), kLog2e, x) : -INFINITY;
                s[t][e] = x;
                stepMax[r] = fmaxf(stepMax[r], x);
            }
        }
        float base[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            stepMax[r] = fmaxf(stepMax[r], __shfl_xor_sync(0xffffffffu, stepMax[r], 1));
            stepMax[r] = fmaxf(stepMax[r], __shfl_xor_sync(0xffffffffu, stepMax[r], 2));
            const float newMax = fmaxf(rowMax[r], stepMax[r]);
            // A row with no key yet subtracts 0, never -inf - -inf.
            base[r] = newMax == -INFINITY ? 0.f : newMax;
            const float rescale = exp2f(rowMax[r] - base[r]);
            rowMax[r] = newMax;
            rowSum[r] *= rescale;
#pragma unroll
            for (int t = 0; t < D / 8; ++t) {
                o[t][2 * r] *= rescale;
                o[t][2 * r + 1] *= rescale;
            }
        }
#pragma unroll
        for (int t = 0; t < kKeyTiles; ++t) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                s[t][e] = exp2f(s[t][e] - base[e / 2]);
                rowSum[e / 2] += s[t][e];
            }
        }

#pragma unroll
        for (int kk = 0; kk < kKeyTiles / 2; ++kk) {
            const uint32_t pf[4] = {packPair<T>(s[2 * kk][0], s[2 * kk][1]), packPair<T>(s[2 * kk][2], s[2 * kk][3]),
                                    packPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    packPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int pair = 0; pair < D / 16; ++pair) {
                uint32_t vf[4];
                ldmatrixX4Trans(vf,
                                sV + (kk * 16 + lane % 8 + (lane / 8 % 2) * 8) * kStride + pair * 16 + lane / 16 * 8);
                mma16816<T>(o[2 * pair], pf, vf[0], vf[1]);
                mma16816<T>(o[2 * pair + 1], pf, vf[2], vf[3]);
            }
        }
        __syncthreads();  // every warp is done with this step's K and V
    }
    cpAsyncWait<0>();  // Q's copy, where there was no key to wait for
    __syncthreads();

    // Y through the warp's own rows of the Q tile, then out in 16-byte stores.
    T* sO = sQ + warp * 16 * kStride;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float sum = rowSum[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inverse = sum > 0.f ? 1.f / sum : 0.f;  // a row no key may attend is zeros
#pragma unroll
        for (int t = 0; t < D / 8; ++t)
            *reinterpret_cast<uint32_t*>(sO + (lane / 4 + 8 * r) * kStride + t * 8 + column) =
                packPair<T>(o[t][2 * r] * inverse, o[t][2 * r + 1] * inverse);
    }
    __syncwarp();
    T* yHead = y + p.y.offset(b, h);
    constexpr int kChunksPerRow = D / 8;
#pragma unroll
    for (int c = lane; c < 16 * kChunksPerRow; c += 32) {
        const int r = c / kChunksPerRow, piece = c % kChunksPerRow;
        const int i = q0 + warp * 16 + r;
        if (i < queries)
            *reinterpret_cast<uint4*>(yHead + static_cast<int64_t>(i) * p.y.rowStride() + piece * 8) =
                *reinterpret_cast<const uint4*>(sO + r * kStride + piece * 8);
    }
#else
    __trap();  // flashAttentionShapeRefusal offers the kernel on sm_80 and later only
#endif
}

/// Whether attn_mask has a row of its own for each query (else one row serves them all).
bool hasRowMask(const FlashAttentionProblem& problem) {
    return problem.maskType != MaskType::kNone && problem.maskStrides[2] != 0;
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
