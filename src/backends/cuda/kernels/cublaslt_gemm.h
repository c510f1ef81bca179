#pragma once
// One configured cuBLASLt matrix product, shared by MatMul and Gemm: descriptors and the heuristic's
// algorithm are chosen at reshape; run() only launches.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "kiln/types.h"

namespace kiln::cuda {

/// A row-major product D[b] (m x n) = alpha * op(A[b]) (m x k) * op(B[b]) (k x n) + beta * C[b], C being D
/// itself or, with `residualC`, a tensor of its own laid out as D. A is stored (k x m) when transA, B is
/// stored (n x k) when transB. Strides are in elements; a stride of 0 gives every batch the same matrix.
/// What cuBLASLt applies to D on its way out: a bias per output column (our n), then an optional ReLU.
enum class GemmEpilogue { kNone, kBias, kReluBias };

struct GemmProblem {
    DataType type{DataType::kFLOAT};  // of A, B and D; accumulation is in float
    int64_t m{0};
    int64_t n{0};
    int64_t k{0};
    bool transA{false};
    bool transB{false};
    int64_t batch{1};
    int64_t strideA{0};
    int64_t strideB{0};
    int64_t strideD{0};
    /// Float products may round their inputs to TF32 on the tensor cores (BuilderFlag::kTF32).
    bool allowTf32{false};
    GemmEpilogue epilogue{GemmEpilogue::kNone};
    /// C is a tensor of its own (a fused residual: FusedMatMul's Z with beta = 1), read before the bias
    /// epilogue: D = act(alpha * A * B + beta * C + bias).
    bool residualC{false};
};

/// One column-major matrix operand as cuBLASLt is told it.
struct ColumnMajorLayout {
    int64_t rows{0};
    int64_t cols{0};
    int64_t ld{0};
    int64_t batch{1};
    int64_t stride{0};
};

/// What cuBLASLt is asked to compute for a GemmProblem: D (column-major) = op(A) * op(B), where
/// cuBLASLt's A is our B and its B is our A. A pure function, so the mapping is checked without a GPU.
struct ColumnMajorProduct {
    bool transposeA{false};
    bool transposeB{false};
    ColumnMajorLayout a;
    ColumnMajorLayout b;
    ColumnMajorLayout d;
};
ColumnMajorProduct toColumnMajor(const GemmProblem& problem);

class CublasLtGemm {
public:
    CublasLtGemm() = default;
    CublasLtGemm(const CublasLtGemm&) = delete;
    CublasLtGemm& operator=(const CublasLtGemm&) = delete;
    ~CublasLtGemm();

    /// Describes `problem` to cuBLASLt and lists up to `maxCandidates` algorithms of its heuristic for
    /// pointers aligned to `alignment` bytes and at most `maxWorkspace` bytes of scratch, the first one
    /// chosen; `preferred` (an algorithmState() of an earlier configure, e.g. the builder's timed choice)
    /// is chosen instead when cuBLASLt confirms it can solve this problem. Fails when m, n or k exceeds
    /// int32 or when cuBLASLt has no algorithm.
    Status configure(cublasLtHandle_t handle, const GemmProblem& problem, uint32_t alignment, size_t maxWorkspace,
                     size_t maxCandidates = 1, const std::vector<int64_t>& preferred = {});
    /// The algorithms to choose among (the preferred one first when it applies).
    size_t candidateCount() const { return mCandidates.size(); }
    Status select(size_t index);
    /// The chosen algorithm, opaque (cuBLASLt's algorithm words), for configure's `preferred`.
    std::vector<int64_t> algorithmState() const;
    /// Scratch bytes the chosen algorithm needs.
    size_t workspaceSize() const { return mWorkspaceBytes; }
    /// Runs the product. C is D (cuBLASLt accumulates in place when their layouts are equal), or `c` (laid
    /// out as D, aligned as configured) when the problem has residualC. `bias` (n elements of the product's
    /// type) is read when the problem has a bias epilogue.
    Status run(const void* a, const void* b, void* d, float alpha, float beta, void* workspace, size_t workspaceBytes,
               cudaStream_t stream, const void* bias = nullptr, const void* c = nullptr) const;

private:
    void release();

    cublasLtHandle_t mHandle{nullptr};
    cublasLtMatmulDesc_t mDesc{nullptr};
    cublasLtMatrixLayout_t mLayoutA{nullptr};  // cuBLASLt's A: our B (see configure)
    cublasLtMatrixLayout_t mLayoutB{nullptr};  // cuBLASLt's B: our A
    cublasLtMatrixLayout_t mLayoutD{nullptr};
    struct Candidate {
        cublasLtMatmulAlgo_t algo{};
        size_t workspaceBytes{0};
    };
    std::vector<Candidate> mCandidates;
    cublasLtMatmulAlgo_t mAlgo{};
    size_t mWorkspaceBytes{0};
    GemmEpilogue mEpilogue{GemmEpilogue::kNone};
    bool mResidualC{false};
};

/// The problem as the timing cache keys it: "cublaslt f16 m128 n768 k3072 b1 tA0 tB0 ep1 rC0 tf32:0 al16".
std::string gemmProblemKey(const GemmProblem& problem, uint32_t alignment);

/// Largest power of two <= `cap` that divides `bytes` (0 divides by everything: `cap`).
uint32_t alignmentOf(uint64_t bytes, uint32_t cap);

/// The workspace cuBLASLt may use per product: what NVIDIA recommends for Hopper.
constexpr size_t kCublasLtMaxWorkspace = size_t{32} << 20;
/// The pointer alignment GEMM algorithms are chosen for: what Hopper's fast paths need, and what every
/// cudaMalloc'd buffer and memory-planner slice (256-byte aligned) has.
constexpr uint32_t kGemmAlignment = 16;

}  // namespace kiln::cuda
