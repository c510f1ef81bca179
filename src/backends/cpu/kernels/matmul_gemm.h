#pragma once
// Row-major GEMM for the CPU kernels (MatMul, Gemm, Conv, ConvTranspose): OpenBLAS for float and
// double, plain loops for integer types, and float16/bfloat16 <-> float conversion helpers for
// the kernels that compute those types through float.

#include <cstdint>
#include <type_traits>

#include "ir/dtype.h"

namespace kiln::cpu {

/// Dimensions and scaling of C = alpha * op(A) * op(B) + beta * C on row-major matrices;
/// op(A) is m x k, op(B) is k x n, lda/ldb/ldc are the row pitches of the stored matrices.
struct GemmShape {
    bool transA{false};
    bool transB{false};
    int64_t m{0};
    int64_t n{0};
    int64_t k{0};
    int64_t lda{0};
    int64_t ldb{0};
    int64_t ldc{0};
};

/// GEMMs of at most this many multiply-adds run on one thread; larger ones are split over the
/// OpenMP threads (see gemmRowMajor). Independent GEMMs that small are best spread over threads
/// by the caller.
constexpr int64_t kSingleThreadedGemmWork = 262144;

/// Whether `items` independent GEMMs of `itemWork` multiply-adds each should run as one item per
/// OpenMP thread (each GEMM single-threaded) rather than one after another with each GEMM split
/// over the threads: yes when the GEMMs are too small to split, or when the items share out
/// evenly over `threads`.
inline bool spreadGemmItems(int64_t items, int64_t itemWork, int threads) {
    if (items < 2 || items * itemWork <= kSingleThreadedGemmWork) return false;
    return itemWork <= kSingleThreadedGemmWork || items % threads == 0 || items >= 4 * threads;
}

/// Makes OpenBLAS run on its calling thread: the CPU backend's parallelism is OpenMP's, and
/// gemmRowMajor splits large GEMMs over the OpenMP threads itself. Called once, when the CPU
/// kernels are registered.
void configureBlasThreading();

/// OpenBLAS GEMM; inside an OpenMP parallel region it runs on the calling thread, outside one a
/// large GEMM is split into row or column blocks over the OpenMP threads.
void gemmRowMajor(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);
void gemmRowMajor(const GemmShape& s, double alpha, const double* a, const double* b, double beta, double* c);

/// Integer GEMM with wrap-around arithmetic (ONNX integer MatMul); alpha and beta other than 1 and
/// 0 are applied in double, as numpy does for Gemm on integer inputs.
template <typename T>
void gemmIntegerRowMajor(const GemmShape& s, double alpha, const T* a, const T* b, double beta, T* c) {
    static_assert(std::is_integral_v<T>);
    // Unsigned 64-bit arithmetic wraps like the narrower types do after truncation.
    using Wide = uint64_t;
    const bool plain = alpha == 1.0 && beta == 0.0;
    for (int64_t i = 0; i < s.m; ++i) {
        for (int64_t j = 0; j < s.n; ++j) {
            Wide acc = 0;
            for (int64_t p = 0; p < s.k; ++p) {
                T av = s.transA ? a[p * s.lda + i] : a[i * s.lda + p];
                T bv = s.transB ? b[j * s.ldb + p] : b[p * s.ldb + j];
                acc += static_cast<Wide>(static_cast<int64_t>(av)) * static_cast<Wide>(static_cast<int64_t>(bv));
            }
            T& out = c[i * s.ldc + j];
            if (plain) {
                out = static_cast<T>(acc);
            } else {
                double value = std::is_signed_v<T> ? static_cast<double>(static_cast<int64_t>(acc))
                                                   : static_cast<double>(acc);
                out = static_cast<T>(alpha * value + beta * static_cast<double>(out));
            }
        }
    }
}

/// Converts `count` float16/bfloat16 (or float) values to float.
template <typename T>
void toFloat(const T* src, float* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(src[i]);
}
template <typename T>
void fromFloat(const float* src, T* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = T(src[i]);
}

/// Lays typed buffers out in one workspace: the same sequence of take() calls sizes the
/// workspace at reshape (no base) and carves it at run. Each buffer starts 64-byte aligned
/// relative to the base.
class WorkspaceCarver {
public:
    explicit WorkspaceCarver(void* base = nullptr) : mBase(static_cast<unsigned char*>(base)) {}
    template <typename T>
    T* take(int64_t count) {
        T* p = mBase ? reinterpret_cast<T*>(mBase + mUsed) : nullptr;
        mUsed += (static_cast<size_t>(count) * sizeof(T) + 63) / 64 * 64;
        return p;
    }
    size_t used() const { return mUsed; }

private:
    unsigned char* mBase;
    size_t mUsed{0};
};

/// True for the storage types computed through float (float16, bfloat16).
template <typename T>
constexpr bool kComputesThroughFloat = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

}  // namespace kiln::cpu
