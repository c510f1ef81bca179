#include "backends/cuda/kernels/cublaslt_gemm.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

namespace {

Status createLayout(cublasLtMatrixLayout_t* layout, cudaDataType type, const ColumnMajorLayout& l) {
    KILN_CUBLAS_RETURN_IF_ERROR(
        cublasLtMatrixLayoutCreate(layout, type, static_cast<uint64_t>(l.rows), static_cast<uint64_t>(l.cols), l.ld));
    if (l.batch > 1) {
        int32_t count = static_cast<int32_t>(l.batch);
        KILN_CUBLAS_RETURN_IF_ERROR(
            cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
        KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatrixLayoutSetAttribute(
            *layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &l.stride, sizeof l.stride));
    }
    return Status::ok();
}

/// Owns a heuristic preference for the length of one configure().
struct Preference {
    cublasLtMatmulPreference_t handle{nullptr};
    ~Preference() {
        if (handle) cublasLtMatmulPreferenceDestroy(handle);
    }
};

}  // namespace

ColumnMajorProduct toColumnMajor(const GemmProblem& p) {
    // cuBLASLt is column-major. A row-major X (r x c) is the column-major X^T (c x r) with the same bytes,
    // so D = op(A) op(B) is computed as D^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m): cuBLASLt's A is
    // our B and its B is our A, and nothing is copied.
    ColumnMajorProduct c;
    c.transposeA = p.transB;
    c.transposeB = p.transA;
    // Our B, stored row-major (k x n), is column-major (n x k); its transposed storage (n x k) is (k x n).
    c.a = p.transB ? ColumnMajorLayout{p.k, p.n, p.k, p.batch, p.strideB}
                   : ColumnMajorLayout{p.n, p.k, p.n, p.batch, p.strideB};
    // Our A, stored row-major (m x k), is column-major (k x m); its transposed storage (k x m) is (m x k).
    c.b = p.transA ? ColumnMajorLayout{p.m, p.k, p.m, p.batch, p.strideA}
                   : ColumnMajorLayout{p.k, p.m, p.k, p.batch, p.strideA};
    c.d = ColumnMajorLayout{p.n, p.m, p.n, p.batch, p.strideD};
    return c;
}

std::string gemmProblemKey(const GemmProblem& p, uint32_t alignment) {
    return std::string("cublaslt ") + (p.type == DataType::kHALF ? "f16" : "f32") + " m" + std::to_string(p.m) + " n" +
           std::to_string(p.n) + " k" + std::to_string(p.k) + " b" + std::to_string(p.batch) + " sA" +
           std::to_string(p.strideA) + " sB" + std::to_string(p.strideB) + " tA" + std::to_string(p.transA) + " tB" +
           std::to_string(p.transB) + " ep" + std::to_string(static_cast<int>(p.epilogue)) + " rC" +
           std::to_string(p.residualC) + " tf32:" +
           std::to_string(p.allowTf32) + " al" + std::to_string(alignment);
}

uint32_t alignmentOf(uint64_t bytes, uint32_t cap) {
    uint32_t alignment = cap;
    while (alignment > 1 && bytes % alignment != 0) alignment /= 2;
    return alignment;
}

CublasLtGemm::~CublasLtGemm() {
    release();
}

void CublasLtGemm::release() {
    if (mLayoutA) cublasLtMatrixLayoutDestroy(mLayoutA);
    if (mLayoutB) cublasLtMatrixLayoutDestroy(mLayoutB);
    if (mLayoutD) cublasLtMatrixLayoutDestroy(mLayoutD);
    if (mDesc) cublasLtMatmulDescDestroy(mDesc);
    mLayoutA = mLayoutB = mLayoutD = nullptr;
    mDesc = nullptr;
    mWorkspaceBytes = 0;
    mCandidates.clear();
}

Status CublasLtGemm::configure(cublasLtHandle_t handle, const GemmProblem& p, uint32_t alignment, size_t maxWorkspace,
                               size_t maxCandidates, const std::vector<int64_t>& preferred) {
    release();
    mHandle = handle;
    if (p.m > INT_MAX || p.n > INT_MAX || p.k > INT_MAX || p.batch > INT_MAX)
        return unsupported("cuBLASLt product " + std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                           std::to_string(p.k) + " (batch " + std::to_string(p.batch) + ") exceeds int32 extents");
    const cudaDataType type = p.type == DataType::kHALF ? CUDA_R_16F : CUDA_R_32F;
    const ColumnMajorProduct c = toColumnMajor(p);
    // FAST_TF32 lets float products round their inputs to TF32 on the tensor cores; half products
    // always run on them, with float accumulation either way.
    const cublasComputeType_t compute =
        p.allowTf32 && p.type == DataType::kFLOAT ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&mDesc, compute, CUDA_R_32F));
    mEpilogue = p.epilogue;
    mResidualC = p.residualC;
    if (p.epilogue != GemmEpilogue::kNone) {
        // The bias runs along cuBLASLt's rows, which are our columns (see toColumnMajor).
        cublasLtEpilogue_t epilogue =
            p.epilogue == GemmEpilogue::kReluBias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
        KILN_CUBLAS_RETURN_IF_ERROR(
            cublasLtMatmulDescSetAttribute(mDesc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
        const cudaDataType biasType = type;
        KILN_CUBLAS_RETURN_IF_ERROR(
            cublasLtMatmulDescSetAttribute(mDesc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &biasType, sizeof biasType));
    }
    cublasOperation_t opA = c.transposeA ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opB = c.transposeB ? CUBLAS_OP_T : CUBLAS_OP_N;
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mDesc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof opA));
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(mDesc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof opB));
    KILN_RETURN_IF_ERROR(createLayout(&mLayoutA, type, c.a));
    KILN_RETURN_IF_ERROR(createLayout(&mLayoutB, type, c.b));
    KILN_RETURN_IF_ERROR(createLayout(&mLayoutD, type, c.d));

    Preference preference;
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&preference.handle));
    uint64_t workspaceLimit = maxWorkspace;
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
        preference.handle, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspaceLimit, sizeof workspaceLimit));
    for (auto attribute : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                           CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
        KILN_CUBLAS_RETURN_IF_ERROR(
            cublasLtMatmulPreferenceSetAttribute(preference.handle, attribute, &alignment, sizeof alignment));

    std::vector<cublasLtMatmulHeuristicResult_t> results(std::max<size_t>(maxCandidates, 1));
    int returned = 0;
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulAlgoGetHeuristic(handle, mDesc, mLayoutA, mLayoutB, mLayoutD, mLayoutD,
                                                               preference.handle, static_cast<int>(results.size()),
                                                               results.data(), &returned));
    if (returned == 0)
        return unsupported("cuBLASLt has no algorithm for a " + std::to_string(p.m) + "x" + std::to_string(p.n) + "x" +
                           std::to_string(p.k) + " product (batch " + std::to_string(p.batch) + ")");
    if (preferred.size() == sizeof(cublasLtMatmulAlgo_t) / sizeof(int64_t)) {
        // A choice made at other shapes (the builder times at the profile's opt shapes) applies only
        // where cuBLASLt confirms it, within the workspace limit.
        Candidate chosen;
        std::memcpy(&chosen.algo, preferred.data(), sizeof chosen.algo);
        cublasLtMatmulHeuristicResult_t check{};
        if (cublasLtMatmulAlgoCheck(handle, mDesc, mLayoutA, mLayoutB, mLayoutD, mLayoutD, &chosen.algo, &check) ==
                CUBLAS_STATUS_SUCCESS &&
            check.workspaceSize <= maxWorkspace) {
            chosen.workspaceBytes = check.workspaceSize;
            mCandidates.push_back(chosen);
        }
    }
    for (int i = 0; i < returned; ++i) mCandidates.push_back({results[static_cast<size_t>(i)].algo,
                                                              results[static_cast<size_t>(i)].workspaceSize});
    return select(0);
}

Status CublasLtGemm::select(size_t index) {
    if (index >= mCandidates.size())
        return invalidArgument("cuBLASLt product: algorithm " + std::to_string(index) + " of " +
                               std::to_string(mCandidates.size()));
    mAlgo = mCandidates[index].algo;
    mWorkspaceBytes = mCandidates[index].workspaceBytes;
    return Status::ok();
}

std::vector<int64_t> CublasLtGemm::algorithmState() const {
    static_assert(sizeof(cublasLtMatmulAlgo_t) % sizeof(int64_t) == 0);
    std::vector<int64_t> words(sizeof(cublasLtMatmulAlgo_t) / sizeof(int64_t));
    std::memcpy(words.data(), &mAlgo, sizeof mAlgo);
    return words;
}

Status CublasLtGemm::run(const void* a, const void* b, void* d, float alpha, float beta, void* workspace,
                         size_t workspaceBytes, cudaStream_t stream, const void* bias, const void* c) const {
    if (!mDesc) return internalError("cuBLASLt product run before configure");
    if (mResidualC != (c != nullptr))
        return internalError(mResidualC ? "cuBLASLt product with a residual C run without it"
                                        : "cuBLASLt product given a C it was not configured for");
    if (mEpilogue != GemmEpilogue::kNone) {
        if (!bias) return internalError("cuBLASLt product with a bias epilogue run without a bias");
        KILN_CUBLAS_RETURN_IF_ERROR(
            cublasLtMatmulDescSetAttribute(mDesc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    if (workspaceBytes < mWorkspaceBytes)
        return internalError("cuBLASLt product needs " + std::to_string(mWorkspaceBytes) + " workspace bytes, got " +
                             std::to_string(workspaceBytes));
    // C is D itself or a residual laid out as D: D's layout describes both (in place, cuBLASLt needs them equal).
    KILN_CUBLAS_RETURN_IF_ERROR(cublasLtMatmul(mHandle, mDesc, &alpha, b, mLayoutA, a, mLayoutB, &beta, c ? c : d,
                                               mLayoutD, d, mLayoutD, &mAlgo, workspace, mWorkspaceBytes, stream));
    return Status::ok();
}

}  // namespace kiln::cuda
