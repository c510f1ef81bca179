#include "backends/cpu/kernels/matmul_gemm.h"

#include <cblas.h>

#include <algorithm>

namespace kiln::cpu {

namespace {

blasint toBlas(int64_t v) { return static_cast<blasint>(v); }

/// BLAS requires leading dimensions >= 1 even when a matrix is empty.
blasint pitch(int64_t v) { return toBlas(std::max<int64_t>(v, 1)); }

}  // namespace

void gemmRowMajor(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
    if (s.m == 0 || s.n == 0) return;
    cblas_sgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans, s.transB ? CblasTrans : CblasNoTrans,
                toBlas(s.m), toBlas(s.n), toBlas(s.k), alpha, a, pitch(s.lda), b, pitch(s.ldb), beta, c,
                pitch(s.ldc));
}

void gemmRowMajor(const GemmShape& s, double alpha, const double* a, const double* b, double beta, double* c) {
    if (s.m == 0 || s.n == 0) return;
    cblas_dgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans, s.transB ? CblasTrans : CblasNoTrans,
                toBlas(s.m), toBlas(s.n), toBlas(s.k), alpha, a, pitch(s.lda), b, pitch(s.ldb), beta, c,
                pitch(s.ldc));
}

}  // namespace kiln::cpu
