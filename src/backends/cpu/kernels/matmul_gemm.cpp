#include "backends/cpu/kernels/matmul_gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

namespace kiln::cpu {

namespace {

blasint toBlas(int64_t v) { return static_cast<blasint>(v); }

/// BLAS requires leading dimensions >= 1 even when a matrix is empty.
blasint pitch(int64_t v) { return toBlas(std::max<int64_t>(v, 1)); }

CBLAS_TRANSPOSE transposeOf(bool t) { return t ? CblasTrans : CblasNoTrans; }

void blasGemm(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
    cblas_sgemm(CblasRowMajor, transposeOf(s.transA), transposeOf(s.transB), toBlas(s.m), toBlas(s.n), toBlas(s.k),
                alpha, a, pitch(s.lda), b, pitch(s.ldb), beta, c, pitch(s.ldc));
}

void blasGemm(const GemmShape& s, double alpha, const double* a, const double* b, double beta, double* c) {
    cblas_dgemm(CblasRowMajor, transposeOf(s.transA), transposeOf(s.transB), toBlas(s.m), toBlas(s.n), toBlas(s.k),
                alpha, a, pitch(s.lda), b, pitch(s.ldb), beta, c, pitch(s.ldc));
}

/// Splits C into one block of rows or columns per OpenMP thread (the longer side, so each block
/// stays a well-shaped GEMM) and runs single-threaded BLAS on each block.
template <typename T>
void partitionedGemm(const GemmShape& s, T alpha, const T* a, const T* b, T beta, T* c) {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads <= 1 || s.m * s.n * s.k <= kSingleThreadedGemmWork) {
        blasGemm(s, alpha, a, b, beta, c);
        return;
    }
    const bool splitColumns = s.n >= s.m;
    const int64_t extent = splitColumns ? s.n : s.m;
    // Blocks are multiples of 16 elements: whole SIMD panels of the BLAS kernels.
    const int64_t block = ((extent + threads - 1) / threads + 15) / 16 * 16;
    const int64_t blocks = (extent + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < blocks; ++i) {
        const int64_t begin = i * block;
        GemmShape part = s;
        if (splitColumns) {
            part.n = std::min(block, s.n - begin);
            blasGemm(part, alpha, a, s.transB ? b + begin * s.ldb : b + begin, beta, c + begin);
        } else {
            part.m = std::min(block, s.m - begin);
            blasGemm(part, alpha, s.transA ? a + begin : a + begin * s.lda, b, beta, c + begin * s.ldc);
        }
    }
}

}  // namespace

void configureBlasThreading() {
    // The CPU kernels thread with OpenMP. OpenBLAS's own pthreads would compete with OpenMP's
    // threads for the same cores (OpenMP workers spin after each parallel region), which made
    // GEMMs several times slower on two cores; OpenBLAS therefore runs on the calling thread.
    openblas_set_num_threads(1);
}

void gemmRowMajor(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
    if (s.m == 0 || s.n == 0) return;
    partitionedGemm(s, alpha, a, b, beta, c);
}

void gemmRowMajor(const GemmShape& s, double alpha, const double* a, const double* b, double beta, double* c) {
    if (s.m == 0 || s.n == 0) return;
    partitionedGemm(s, alpha, a, b, beta, c);
}

}  // namespace kiln::cpu
