#pragma once
// The pieces both forms of Kiln's flash attention share (attention_flash.cu: a block per 64-row query
// tile; attention_flash_persistent.cu: resident blocks walking the tiles): cp.async and ldmatrix,
// mma.sync m16n8k16 on float16 / bfloat16 with float accumulation (the fragment layouts of the PTX ISA's
// "Matrix Fragments for mma.m16n8k16"), the tile and key-bias staging, one key step of the running
// softmax and the store of a warp's finished rows. One copy of the math, so the two forms cannot drift
// apart: they differ only in how a block walks its work and when it copies.
//
// A block is 4 warps over 64 query rows (16 a warp); keys come in steps of 64. Per step:
//   S = Q K^T   A = Q's fragments (ldmatrix, read again each step: registers for a fourth resident
//               block), B = K's rows (ldmatrix: K stored [key][d] is the column-major B the
//               instruction wants);
//   softmax     in the log2 domain, scale and bias folded in, the running max and sum per row (each
//               thread holds two rows' pieces; the four threads of a row meet by shuffles);
//   O += P V    A = P straight from S's accumulators (the C fragment of two 8-key tiles is the A
//               fragment of one 16-key step), B = V through ldmatrix.trans.
// Shared rows are padded by 8 elements so the 8 rows an ldmatrix reads fall in distinct bank groups.
// A warp reads only its own 16 rows of the Q tile, so it may overwrite them with its output without
// waiting for the other warps.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "backends/cuda/kernels/attention_flash.h"
#include "backends/cuda/kernels/attention_mask.cuh"

namespace kiln::cuda::flash {

constexpr int kTileRows = 64;  // query rows of a block's tile, and keys of a step
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kPad = 8;
constexpr float kLog2e = 1.4426950408889634f;

/// Whether attn_mask has a row of its own for each query (else one row serves them all).
inline bool hasRowMask(const FlashAttentionProblem& problem) {
    return problem.maskType != MaskType::kNone && problem.maskStrides[2] != 0;
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
    constexpr int kRowsPerPass = kThreads / kChunksPerRow;
    // A fixed count a thread (blocks are kThreads): the loop unrolls whole, and a thread's row and piece
    // are a shift and a mask of its index. Its source steps by a whole pass of rows: one 64-bit add a copy,
    // where an address worked out per row took a wide multiply, its carry and a select (most of a key
    // step's instructions outside the math).
    const int row = static_cast<int>(threadIdx.x) / kChunksPerRow,
              piece = static_cast<int>(threadIdx.x) % kChunksPerRow;
    T* destination = tile + row * (D + kPad) + piece * 8;
    const T* source = head + (first + row) * rowStride + piece * 8;
    const int64_t passStride = kRowsPerPass * rowStride;
    // A whole tile tests no row. The two loops stay apart: one loop testing `whole || row < rows` per copy
    // made ptxas spill in the persistent form (measured, ptxas -v).
    if (first + kTileRows <= rows) {
#pragma unroll
        for (int pass = 0; pass < kTileRows / kRowsPerPass; ++pass) {
            cpAsync16(destination, source, true);
            destination += kRowsPerPass * (D + kPad);
            source += passStride;
        }
        return;
    }
#pragma unroll
    for (int pass = 0; pass < kTileRows / kRowsPerPass; ++pass) {
        const bool valid = first + row + pass * kRowsPerPass < rows;
        cpAsync16(destination, valid ? source : head, valid);
        destination += kRowsPerPass * (D + kPad);
        source += passStride;
    }
}

/// 2^x of a softmax exponent (<= 0, or -inf): the flush-to-zero approximation, one special-function op
/// where exp2f's denormal handling adds a test, a select and two multiplies an element. A weight below
/// 2^-126 of its row's largest is 0 either way.
__device__ __forceinline__ float exp2Softmax(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/// A step's scores s (scaled into the log2 domain) plus the staged key bias, this thread's two columns of
/// each 8-key tile in one 8-byte read. kTest: rows past the queries and keys past the causal frontier
/// become -inf, and kRowMask adds the per-row mask's value (-inf past its keys).
template <int kKeyTiles, bool kTest, bool kRowMask>
__device__ __forceinline__ void scaleScores(float (&s)[kKeyTiles][4], const float* bias, const void* mask,
                                            const FlashAttentionProblem& p, int k0, const int (&rows)[2],
                                            int64_t maskRow, int column, int queries, int maskKeys, float scaleLog2) {
#pragma unroll
    for (int t = 0; t < kKeyTiles; ++t) {
        const float2 pair = *reinterpret_cast<const float2*>(bias + t * 8 + column);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            float x = fmaf(s[t][e], scaleLog2, e & 1 ? pair.y : pair.x);
            if constexpr (kTest) {
                const int r = e / 2;
                const int j = k0 + t * 8 + column + (e & 1);
                if (rows[r] >= queries || (p.causal && j > rows[r]))
                    x = -INFINITY;
                else if (kRowMask && x != -INFINITY)
                    x = j < maskKeys
                            ? fmaf(maskValue(mask, p.maskType, maskRow + r * 8 * p.maskStrides[2] + j), kLog2e, x)
                            : -INFINITY;
            }
            s[t][e] = x;
        }
    }
}

/// One key step of 64 for this thread's two rows of its warp's 16: the scores against the step's K tile,
/// the running softmax (rowMax, rowSum, and o rescaled) and o += P V. sQ is the block's Q tile, sK and sV
/// the step's padded tiles, bias the step's staged key bias; k0 is the step's first key, rows the
/// thread's two query rows, maskRow where the first one's row of a per-row mask starts (kRowMask alone
/// reads it; the second row is 8 mask rows on, one offset kept where two would cost registers).
template <typename T, int D, bool kRowMask>
__device__ __forceinline__ void flashKeyStep(const T* sQ, const T* sK, const T* sV, const float* bias, const void* mask,
                                             const FlashAttentionProblem& p, int k0, const int (&rows)[2],
                                             int64_t maskRow, float scaleLog2, float (&o)[D / 8][4], float (&rowMax)[2],
                                             float (&rowSum)[2]) {
    constexpr int kStride = D + kPad;
    constexpr int kKeyTiles = kTileRows / 8;  // 8-key accumulator tiles of a step
    const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
    const int column = (lane % 4) * 2;  // the first of the thread's two columns in every 8-key tile
    // Sequences fit int (flashAttentionShapeRefusal): the per-element index arithmetic stays 32-bit.
    const int queries = static_cast<int>(p.q.seq), maskKeys = static_cast<int>(p.maskKeys);

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

    // The scores in the log2 domain. A warp whose 16 rows are all queries, without a causal frontier or a
    // per-row mask, takes the staged bias alone (keys past the sequence are -inf there): no per-element
    // tests, which with the index arithmetic behind them were most of a step's instructions.
    const int warpLastRow = rows[0] - lane / 4 + 15;
    if (!kRowMask && !p.causal && warpLastRow < queries)
        scaleScores<kKeyTiles, false, false>(s, bias, mask, p, k0, rows, maskRow, column, queries, maskKeys, scaleLog2);
    else
        scaleScores<kKeyTiles, true, kRowMask>(s, bias, mask, p, k0, rows, maskRow, column, queries, maskKeys,
                                               scaleLog2);
    float stepMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int t = 0; t < kKeyTiles; ++t)
#pragma unroll
        for (int e = 0; e < 4; ++e) stepMax[e / 2] = fmaxf(stepMax[e / 2], s[t][e]);
    float base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        stepMax[r] = fmaxf(stepMax[r], __shfl_xor_sync(0xffffffffu, stepMax[r], 1));
        stepMax[r] = fmaxf(stepMax[r], __shfl_xor_sync(0xffffffffu, stepMax[r], 2));
        const float newMax = fmaxf(rowMax[r], stepMax[r]);
        // A row with no key yet subtracts 0, never -inf - -inf.
        base[r] = newMax == -INFINITY ? 0.f : newMax;
        const float rescale = exp2Softmax(rowMax[r] - base[r]);
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
            s[t][e] = exp2Softmax(s[t][e] - base[e / 2]);
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
            ldmatrixX4Trans(vf, sV + (kk * 16 + lane % 8 + (lane / 8 % 2) * 8) * kStride + pair * 16 + lane / 16 * 8);
            mma16816<T>(o[2 * pair], pf, vf[0], vf[1]);
            mma16816<T>(o[2 * pair + 1], pf, vf[2], vf[3]);
        }
    }
}

/// The thread's lane, read from its special register again: the compiler cannot reuse an earlier value
/// for it, so what a later stage derives from the lane is worked out there instead of being held in
/// registers (or spilled) through the key steps.
__device__ __forceinline__ int laneAgain() {
    unsigned lane;
    asm volatile("mov.u32 %0, %%laneid;\n" : "=r"(lane));
    return static_cast<int>(lane);
}

/// The warp's 16 finished rows of Y, from `first` (rows from `queries` on are not written): o over the row
/// sums (a row no key may attend is zeros, as ONNX says) into sO, the warp's own 16 rows of a padded tile
/// (its rows of the Q tile: no other warp reads them), then out in 16-byte stores.
template <typename T, int D>
__device__ __forceinline__ void storeWarpRows(const float (&o)[D / 8][4], const float (&rowSum)[2], T* sO, T* yHead,
                                              int64_t rowStride, int first, int queries) {
    constexpr int kStride = D + kPad;
    const int lane = laneAgain();
    const int column = (lane % 4) * 2;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        float sum = rowSum[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        // The sum is at least 1 (the row's largest term is exp2(0)) and at most the keys: the approximate
        // reciprocal (within 2 ulps of float, far below the output's rounding) needs no IEEE slow path,
        // whose call would pin registers at the 128 a thread has at head size 64.
        const float inverse = sum > 0.f ? __fdividef(1.f, sum) : 0.f;
#pragma unroll
        for (int t = 0; t < D / 8; ++t)
            *reinterpret_cast<uint32_t*>(sO + (lane / 4 + 8 * r) * kStride + t * 8 + column) =
                packPair<T>(o[t][2 * r] * inverse, o[t][2 * r + 1] * inverse);
    }
    __syncwarp();
    constexpr int kChunksPerRow = D / 8;
    constexpr int kRowsPerPass = 32 / kChunksPerRow;
    // As in loadTile: whole passes, the piece fixed a lane, the destination stepping a pass of rows.
    const int row = lane / kChunksPerRow, piece = lane % kChunksPerRow;
    T* destination = yHead + static_cast<int64_t>(first + row) * rowStride + piece * 8;
#pragma unroll
    for (int pass = 0; pass < 16 / kRowsPerPass; ++pass) {
        const int r = row + pass * kRowsPerPass;
        if (first + r < queries)
            *reinterpret_cast<uint4*>(destination) = *reinterpret_cast<const uint4*>(sO + r * kStride + piece * 8);
        destination += kRowsPerPass * rowStride;
    }
}

}  // namespace kiln::cuda::flash
