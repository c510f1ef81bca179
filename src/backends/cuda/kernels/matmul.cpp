// MatMul (numpy semantics: batched, broadcast batch dims, 1-D operands), Kiln's FusedMatMul (MatMul +
// bias over the last dim + residual + activation) and Gemm (2-D, transposes, alpha, beta, broadcast C)
// through cuBLASLt, on float (FP32 or TF32 compute) and float16 (FP32 accumulation). FusedMatMul's bias
// and ReLU are cuBLASLt epilogues and its residual Z is cuBLASLt's C (beta = 1); other activations (GELU:
// cuBLASLt's is the tanh approximation, ONNX's the exact erf) run in fused_epilogue.cu, which then adds
// the bias and the residual too. MatMul on bfloat16, double and the integer types, and float /
// float16 products cuBLASLt has no algorithm for, run in matmul_direct.cu's kernel. Gemm's C is laid into the output by expand.cu's broadcast copy.
// For float16 / bfloat16 products with a 2-D weight, the CUTLASS sm_90a GEMMs with the whole epilogue
// fused (gemm_cutlass_sm90.h) are timed beside cuBLASLt (and its epilogue pass, where it needs one) too.

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "backends/cuda/kernels/broadcast_copy.h"
#include "backends/cuda/kernels/broadcast_plan.h"
#include "backends/cuda/kernels/cublaslt_gemm.h"
#include "backends/cuda/kernels/fused_activation.h"
#include "backends/cuda/kernels/gemm_cutlass_sm90.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/matmul_direct.h"
#include "backends/cuda/kernels/matmul_plan.h"

namespace kiln::cuda {

namespace {

Status checkPointerAlignment(const void* ptr, uint32_t alignment, const char* what) {
    if (reinterpret_cast<uintptr_t>(ptr) % alignment == 0) return Status::ok();
    return invalidArgument(std::string(what) + " is not " + std::to_string(alignment) +
                           "-byte aligned, as the chosen cuBLASLt algorithm requires");
}

/// The builder's tactic attributes of a node (backends/tactic_choice.h): the algorithm it timed fastest,
/// and, on its trial copy while timing, how many algorithms to list.
struct GemmTactics {
    explicit GemmTactics(const Node& node)
        : chosen(node.attrs.getInts(kTacticAttribute).value_or(std::vector<int64_t>{})),
          search(static_cast<size_t>(std::max<int64_t>(node.attrs.getInt(kTacticSearchAttribute, 1), 1))) {}
    std::vector<int64_t> chosen;
    size_t search;
};

class MatMulKernel : public Kernel, public TacticChooser {
public:
    /// A plain MatMul without `hasBias`, `hasResidual` and activation; FusedMatMul with them.
    MatMulKernel(const Node& node, const CudaContext& context, bool hasBias = false, bool hasResidual = false,
                 FusedActivation activation = {})
        : mType(node.input(0)->dtype),
          mContext(context),
          mHasBias(hasBias),
          mHasResidual(hasResidual),
          mActivation(activation),
          mTactics(node) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mCutlassConfigs.clear();
        mCutlass.reset();
        if (inputs.size() < 2 || outputs.empty()) return invalidArgument(tacticName() + ": needs A, B and Y");
        KILN_RETURN_IF_ERROR(reshapeLibraryPath(inputs, outputs));
        planCutlass(inputs[1].shape, outputs[0]);
        return Status::ok();
    }

    size_t workspaceSize() const override {
        if (mCutlass) return mCutlassWorkspace;
        const bool products = mPlan.mode == MatMulPlan::Mode::kSingle || mPlan.mode == MatMulPlan::Mode::kPerBatch;
        return products && !mDirect ? mGemm.workspaceSize() : 0;
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (mCutlass) return runCutlass(io);
        if (mDirect)
            KILN_RETURN_IF_ERROR(
                launchDirectMatMul(mDirectPlan, io.input(0).data, io.input(1).data, io.output(0).data, stream));
        else
            KILN_RETURN_IF_ERROR(runProduct(io));
        if (!mSeparateEpilogue) return Status::ok();
        return launchBiasResidualActivation(mType, io.output(0).data, mType, mHasBias ? io.input(2).data : nullptr,
                                            mHasResidual ? io.input(3).data : nullptr, mActivation, mOutputCount,
                                            mColumns, 1, stream);
    }

    std::string tacticName() const override {
        if (mCutlass)
            return std::string("cuda.cutlass_sm90_") + tacticTypeSuffix(mType) + "_" +
                   activationTacticName(mActivation.kind) + (mHasBias ? "_bias" : "") +
                   (mHasResidual ? "_residual" : "") + "_" + cutlassConfigName(mCutlassConfigs[*mCutlass]);
        if (mDirect)
            return std::string("cuda.matmul_direct_") + tacticTypeSuffix(mType) + (mSeparateEpilogue ? "+epilogue" : "");
        return std::string("cuda.cublaslt_matmul_") + tacticTypeSuffix(mType) +
               (mPlan.mode == MatMulPlan::Mode::kPerBatch ? "_per_batch" : "") +
               (mPlan.problem.epilogue == GemmEpilogue::kReluBias ? "_relu_bias"
                : mPlan.problem.epilogue == GemmEpilogue::kBias  ? "_bias"
                                                                 : "") +
               (mPlan.problem.residualC ? "_residual" : "") + (mSeparateEpilogue ? "+epilogue" : "") + (mPlan.problem.allowTf32 && mType == DataType::kFLOAT ? "_tf32" : "");
    }

    // The library's candidates (cuBLASLt's algorithms, or the direct kernel alone) first, then CUTLASS's.
    size_t tacticCount() const override { return libraryTacticCount() + mCutlassConfigs.size(); }
    Status selectTactic(size_t index) override {
        const size_t library = libraryTacticCount();
        if (index >= library) {
            if (index - library >= mCutlassConfigs.size())
                return invalidArgument(tacticName() + ": tactic " + std::to_string(index) + " of " +
                                       std::to_string(tacticCount()));
            selectCutlass(index - library);
            return Status::ok();
        }
        mCutlass.reset();
        if (mProducts) return mGemm.select(index);
        return index == 0 ? Status::ok() : invalidArgument(tacticName() + " has a single tactic");
    }
    std::vector<int64_t> tacticState() const override {
        if (mCutlass) return cutlassTacticState(mCutlassConfigs[*mCutlass]);
        if (mProducts) return mGemm.algorithmState();
        // The direct kernel chosen over CUTLASS's: a state the builder records, which selects nothing else.
        return mCutlassConfigs.empty() ? std::vector<int64_t>{} : std::vector<int64_t>{kDirectTacticState};
    }
    // Built when the builder asks, not at every reshape.
    std::string tacticKey() const override {
        std::string key = mProducts ? gemmProblemKey(mPlan.problem, mPlan.alignment) : "";
        if (mCutlassConfigs.empty()) return key;
        // The library path's time includes its epilogue pass, so the key names the whole epilogue.
        const CutlassGemmProblem& p = mCutlassProblem;
        return (key.empty() ? std::string("direct ") + tacticTypeSuffix(mType) : key) + " | cutlass_sm90 " +
               tacticTypeSuffix(mType) + " m" + std::to_string(p.m) + " n" + std::to_string(p.n) + " k" +
               std::to_string(p.k) + " " + activationTacticName(mActivation.kind) + " bias" +
               std::to_string(mHasBias) + " residual" + std::to_string(mHasResidual);
    }

private:
    /// The direct kernel's tactic state where CUTLASS candidates were timed against it.
    static constexpr int64_t kDirectTacticState = 0;

    /// Plans the cuBLASLt product or the direct kernel, and whether the epilogue then needs a pass of its own.
    Status reshapeLibraryPath(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) {
        for (const TensorView* v : {&inputs[0], &inputs[1], &outputs[0]})
            if (v->dtype != mType)
                return invalidArgument(tacticName() + ": every tensor must be " + dataTypeName(mType));
        mOutputBytes = outputs[0].byteSize();
        mOutputCount = outputs[0].elementCount();
        mColumns = outputs[0].rank() == 0 ? 1 : outputs[0].shape.back();
        if (mHasBias && (inputs.size() < 3 || inputs[2].dtype != mType || inputs[2].elementCount() != mColumns))
            return invalidArgument(tacticName() + ": the bias must be " + std::to_string(mColumns) + " " +
                                   dataTypeName(mType) + " elements, one per output column");
        if (mHasResidual && (inputs.size() < 4 || inputs[3].dtype != mType || inputs[3].shape != outputs[0].shape))
            return invalidArgument(tacticName() + ": the residual must be " + dataTypeName(mType) + " of the output's shape " +
                                   shapeToString(outputs[0].shape, true) +
                                   (inputs.size() < 4 ? std::string() : ", got " + shapeToString(inputs[3].shape, true)));
        mDirect = false;
        if (mType != DataType::kFLOAT && mType != DataType::kHALF)
            return planDirect(inputs[0].shape, inputs[1].shape, outputs[0].shape);
        auto plan = planMatMul(mType, inputs[0].shape, inputs[1].shape, outputs[0].shape);
        if (!plan) return plan.status().withContext(tacticName());
        mPlan = std::move(plan).value();
        mPlan.problem.allowTf32 = mContext.allowTf32;
        // cuBLASLt applies the bias, and ReLU after one, itself, and adds the residual as its C; any other
        // activation follows in our own pass, which then adds the bias and the residual too (the product
        // stays plain, beta = 0).
        const bool cublasActivation = mActivation.kind == ActivationKind::kNone ||
                                      (mHasBias && mActivation.kind == ActivationKind::kRelu);
        mPlan.problem.epilogue = !(mHasBias && cublasActivation)          ? GemmEpilogue::kNone
                                 : mActivation.kind == ActivationKind::kRelu ? GemmEpilogue::kReluBias
                                                                             : GemmEpilogue::kBias;
        const bool products = mPlan.mode == MatMulPlan::Mode::kSingle || mPlan.mode == MatMulPlan::Mode::kPerBatch;
        mPlan.problem.residualC = mHasResidual && products && cublasActivation;
        mSeparateEpilogue = hasEpilogue() && !(products && cublasActivation);
        mProducts = false;
        if (!products) return Status::ok();
        // Shapes cuBLASLt has no algorithm for (odd vector products, say) still run, on the direct kernel.
        if (mGemm.configure(mContext.cublasLt, mPlan.problem, mPlan.alignment, kCublasLtMaxWorkspace, mTactics.search,
                            mTactics.chosen)
                .isOk()) {
            mProducts = true;
            return Status::ok();
        }
        return planDirect(inputs[0].shape, inputs[1].shape, outputs[0].shape);
    }

    bool hasEpilogue() const { return mHasBias || mHasResidual || mActivation.kind != ActivationKind::kNone; }

    size_t libraryTacticCount() const { return mProducts ? mGemm.candidateCount() : 1; }

    /// CUTLASS's configurations become candidates of every float16 / bfloat16 product with a 2-D weight
    /// (A's batch dims fold into M), for those that can run the shape and apply the activation on this
    /// device. They fuse every epilogue; on an H200 the compiled-GELU one wins BERT's FFN-input products
    /// and the compiled identity some bias-and-residual ones, cuBLASLt the rest (docs/BENCHMARKS.md). A
    /// carried CUTLASS tactic is chosen again when its configuration is among them; otherwise the library
    /// path keeps its choice.
    void planCutlass(const Shape& b, const TensorView& y) {
        if ((mType != DataType::kHALF && mType != DataType::kBF16) || b.size() != 2 || y.elementCount() == 0)
            return;
        CutlassGemmProblem& p = mCutlassProblem;
        p = CutlassGemmProblem{};
        p.type = mType;
        p.k = b[0];
        p.n = b[1];
        p.m = y.elementCount() / p.n;
        p.lda = p.k;
        p.ldb = p.n;
        p.ldd = p.n;
        p.activation = mActivation;
        // The addresses come with each run; a residual is known now, and a configuration without a C
        // operand cannot add one.
        for (const CutlassGemmConfig& config : cutlassGemmConfigs())
            if ((config.residual || !mHasResidual) && cutlassCanRun(p, config).isOk()) mCutlassConfigs.push_back(config);
        for (size_t i = 0; i < mCutlassConfigs.size(); ++i)
            if (mTactics.chosen == cutlassTacticState(mCutlassConfigs[i])) selectCutlass(i);
    }

    void selectCutlass(size_t index) {
        mCutlass = index;
        mCutlassWorkspace = cutlassWorkspaceBytes(mCutlassProblem, mCutlassConfigs[index]);
    }

    Status runCutlass(const KernelIO& io) const {
        CutlassGemmProblem p = mCutlassProblem;
        p.a = io.input(0).data;
        p.b = io.input(1).data;
        p.d = io.output(0).data;
        p.bias = mHasBias ? io.input(2).data : nullptr;
        p.residual = mHasResidual ? io.input(3).data : nullptr;
        return runCutlassGemm(p, mCutlassConfigs[*mCutlass], io.workspace, io.workspaceBytes,
                              static_cast<cudaStream_t>(io.stream));
    }

    /// The direct kernel's plan (every epilogue then runs as a separate pass).
    Status planDirect(const Shape& a, const Shape& b, const Shape& y) {
        auto plan = planDirectMatMul(mType, a, b, y);
        if (!plan) return plan.status().withContext(tacticName());
        mDirectPlan = *plan;
        mDirect = true;
        mPlan.problem.residualC = false;
        mSeparateEpilogue = hasEpilogue();
        return Status::ok();
    }

    Status runProduct(const KernelIO& io) {
        auto stream = static_cast<cudaStream_t>(io.stream);
        const void* a = io.input(0).data;
        const void* b = io.input(1).data;
        void* y = io.output(0).data;
        const void* bias = mPlan.problem.epilogue != GemmEpilogue::kNone ? io.input(2).data : nullptr;
        // The residual is C, added once (beta = 1) before the bias epilogue.
        const void* z = mPlan.problem.residualC ? io.input(3).data : nullptr;
        const float beta = z ? 1.f : 0.f;
        switch (mPlan.mode) {
            case MatMulPlan::Mode::kNothing:
                return Status::ok();
            case MatMulPlan::Mode::kZeroFill:
                KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(y, 0, mOutputBytes, stream));
                return Status::ok();
            case MatMulPlan::Mode::kSingle:
                KILN_RETURN_IF_ERROR(checkAligned(a, b, y, z));
                return mGemm.run(a, b, y, 1.f, beta, io.workspace, io.workspaceBytes, stream, bias, z);
            case MatMulPlan::Mode::kPerBatch: {
                // The offsets keep the plan's alignment, so aligned base pointers keep every operand aligned.
                KILN_RETURN_IF_ERROR(checkAligned(a, b, y, z));
                const size_t size = dataTypeSize(mType);
                // Z has Y's shape, so Y's offsets address it too.
                for (const MatMulPlan::Offsets& o : mPlan.perBatch)
                    KILN_RETURN_IF_ERROR(mGemm.run(
                        static_cast<const char*>(a) + o.a * size, static_cast<const char*>(b) + o.b * size,
                        static_cast<char*>(y) + o.y * size, 1.f, beta, io.workspace, io.workspaceBytes, stream, bias,
                        z ? static_cast<const char*>(z) + o.y * size : nullptr));
                return Status::ok();
            }
        }
        return internalError("MatMul: unknown mode");
    }

    Status checkAligned(const void* a, const void* b, const void* y, const void* z) const {
        KILN_RETURN_IF_ERROR(checkPointerAlignment(a, mPlan.alignment, "MatMul input A"));
        KILN_RETURN_IF_ERROR(checkPointerAlignment(b, mPlan.alignment, "MatMul input B"));
        if (z) KILN_RETURN_IF_ERROR(checkPointerAlignment(z, mPlan.alignment, "FusedMatMul residual Z"));
        return checkPointerAlignment(y, mPlan.alignment, "MatMul output");
    }

    DataType mType;
    CudaContext mContext;
    bool mHasBias;
    bool mHasResidual;
    FusedActivation mActivation;
    MatMulPlan mPlan;
    GemmTactics mTactics;
    CublasLtGemm mGemm;
    bool mProducts{false};
    size_t mOutputBytes{0};
    int64_t mOutputCount{0};
    int64_t mColumns{1};
    bool mSeparateEpilogue{false};
    bool mDirect{false};
    DirectMatMulPlan mDirectPlan;
    std::vector<CutlassGemmConfig> mCutlassConfigs;  // the CUTLASS candidates at the last reshape's shapes
    std::optional<size_t> mCutlass;                  // the chosen one, when CUTLASS runs the product
    CutlassGemmProblem mCutlassProblem;              // its shape; run() fills in the pointers
    size_t mCutlassWorkspace{0};
};

class GemmKernel : public Kernel, public TacticChooser {
public:
    GemmKernel(const Node& node, DataType type, const CudaContext& context)
        : mType(type),
          mContext(context),
          mAlpha(node.attrs.getFloat("alpha", 1.f)),
          mBeta(node.attrs.getFloat("beta", 1.f)),
          mTransA(node.attrs.getInt("transA", 0) != 0),
          mTransB(node.attrs.getInt("transB", 0) != 0),
          // With beta 0 the C term vanishes (as in TensorRT: C's values, even NaN, are not read).
          mUseC(node.hasInput(2) && mBeta != 0.f),
          mTactics(node) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (inputs.size() < 2 || outputs.empty()) return invalidArgument(tacticName() + ": needs A, B and Y");
        const Shape& a = inputs[0].shape;
        const Shape& b = inputs[1].shape;
        if (a.size() != 2 || b.size() != 2) return invalidArgument(tacticName() + ": Gemm operands must be 2-D");
        for (const TensorView* v : {&inputs[0], &inputs[1], &outputs[0]})
            if (v->dtype != mType)
                return invalidArgument(tacticName() + ": every tensor must be " + dataTypeName(mType));
        const int64_t m = mTransA ? a[1] : a[0];
        const int64_t k = mTransA ? a[0] : a[1];
        const int64_t kB = mTransB ? b[1] : b[0];
        const int64_t n = mTransB ? b[0] : b[1];
        if (k != kB)
            return invalidArgument(tacticName() + ": inner dimensions differ: A " + shapeToString(a, true) + ", B " +
                                   shapeToString(b, true));
        const Shape y{m, n};
        if (outputs[0].shape != y)
            return invalidArgument(tacticName() + ": output " + shapeToString(outputs[0].shape, true) + " is not " +
                                   shapeToString(y, true));
        mOutputBytes = outputs[0].byteSize();
        if (mUseC) {
            if (inputs.size() < 3 || inputs[2].dtype != mType)
                return invalidArgument(tacticName() + ": C must be " + dataTypeName(mType));
            KILN_ASSIGN_OR_RETURN(mCPlan, planBroadcast({inputs[2].shape}, y));
        }
        if (m == 0 || n == 0) {
            mMode = Mode::kNothing;
            return Status::ok();
        }
        if (k == 0) {  // Y = beta * C, or 0
            if (mUseC && mBeta != 1.f)
                return unsupported(tacticName() + ": K = 0 with beta " + std::to_string(mBeta) +
                                   " needs a scaling kernel the CUDA backend does not have");
            mMode = mUseC ? Mode::kCopyC : Mode::kZeroFill;
            return Status::ok();
        }
        mMode = Mode::kProduct;
        mProblem = GemmProblem{};
        mProblem.type = mType;
        mProblem.allowTf32 = mContext.allowTf32;
        mProblem.m = m;
        mProblem.n = n;
        mProblem.k = k;
        mProblem.transA = mTransA;
        mProblem.transB = mTransB;
        return mGemm.configure(mContext.cublasLt, mProblem, kGemmAlignment, kCublasLtMaxWorkspace, mTactics.search,
                               mTactics.chosen);
    }

    size_t workspaceSize() const override { return mMode == Mode::kProduct ? mGemm.workspaceSize() : 0; }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        void* y = io.output(0).data;
        if (mUseC && !io.hasInput(2)) return invalidArgument(tacticName() + ": input C has no data");
        switch (mMode) {
            case Mode::kNothing:
                return Status::ok();
            case Mode::kZeroFill:
                KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(y, 0, mOutputBytes, stream));
                return Status::ok();
            case Mode::kCopyC:
                return launchBroadcastCopy(mCPlan, dataTypeSize(mType), io.input(2).data, y, stream);
            case Mode::kProduct:
                KILN_RETURN_IF_ERROR(checkPointerAlignment(io.input(0).data, kGemmAlignment, "Gemm input A"));
                KILN_RETURN_IF_ERROR(checkPointerAlignment(io.input(1).data, kGemmAlignment, "Gemm input B"));
                KILN_RETURN_IF_ERROR(checkPointerAlignment(y, kGemmAlignment, "Gemm output"));
                // C is laid into Y first and cuBLASLt accumulates onto it in place.
                if (mUseC)
                    KILN_RETURN_IF_ERROR(launchBroadcastCopy(mCPlan, dataTypeSize(mType), io.input(2).data, y, stream));
                return mGemm.run(io.input(0).data, io.input(1).data, y, mAlpha, mUseC ? mBeta : 0.f, io.workspace,
                                 io.workspaceBytes, stream);
        }
        return internalError("Gemm: unknown mode");
    }

    std::string tacticName() const override {
        return std::string("cuda.cublaslt_gemm_") + tacticTypeSuffix(mType) +
               (mContext.allowTf32 && mType == DataType::kFLOAT ? "_tf32" : "");
    }

    size_t tacticCount() const override { return mMode == Mode::kProduct ? mGemm.candidateCount() : 1; }
    Status selectTactic(size_t index) override {
        return mMode == Mode::kProduct ? mGemm.select(index) : invalidArgument(tacticName() + " has a single tactic");
    }
    std::vector<int64_t> tacticState() const override {
        return mMode == Mode::kProduct ? mGemm.algorithmState() : std::vector<int64_t>{};
    }
    std::string tacticKey() const override {
        return mMode == Mode::kProduct ? gemmProblemKey(mProblem, kGemmAlignment) : "";
    }

private:
    enum class Mode { kNothing, kZeroFill, kCopyC, kProduct };

    DataType mType;
    CudaContext mContext;
    float mAlpha;
    float mBeta;
    bool mTransA;
    bool mTransB;
    bool mUseC;
    Mode mMode{Mode::kNothing};
    BroadcastPlan mCPlan;
    GemmTactics mTactics;
    CublasLtGemm mGemm;
    GemmProblem mProblem;  // of the last reshape, when it is a product
    size_t mOutputBytes{0};
};

const std::vector<DataType> kMatMulTypes = {DataType::kFLOAT,  DataType::kHALF,  DataType::kBF16,   DataType::kDOUBLE,
                                            DataType::kINT32,  DataType::kINT64, DataType::kUINT32, DataType::kUINT64};

bool matMulSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 2, kMatMulTypes, reason)) return false;
    for (size_t i = 0; i < 2; ++i) {
        if (node.input(i)->shape.empty()) {
            if (reason) *reason = "MatMul input " + std::to_string(i) + " is a scalar (rank 0)";
            return false;
        }
    }
    return true;
}

bool fusedMatMulSupported(const Node& node, std::string* reason) {
    if (!matMulSupported(node, reason)) return false;
    // The bias/activation epilogue (fused_epilogue.cu) computes in float on the floating types.
    const DataType type = node.input(0)->dtype;
    if (type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16) {
        if (reason) *reason = std::string("FusedMatMul's epilogue has no CUDA kernel for ") + dataTypeName(type);
        return false;
    }
    if (node.input(2) && node.input(2)->dtype != node.input(0)->dtype) {
        if (reason) *reason = "the bias type differs from the operands'";
        return false;
    }
    if (node.input(3) && node.input(3)->dtype != node.input(0)->dtype) {
        if (reason) *reason = "the residual type differs from the operands'";
        return false;
    }
    auto activation = parseFusedActivation(node);
    if (!activation) {
        if (reason) *reason = activation.status().message();
        return false;
    }
    return true;
}

bool gemmSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 3, {DataType::kFLOAT, DataType::kHALF}, reason)) return false;
    for (size_t i = 0; i < 2; ++i) {
        if (node.input(i)->shape.size() != 2) {
            if (reason)
                *reason = "Gemm input " + std::to_string(i) + " has rank " +
                          std::to_string(node.input(i)->shape.size()) + ", not 2";
            return false;
        }
    }
    if (node.input(2) && node.input(2)->shape.size() > 2) {
        if (reason) *reason = "Gemm input C has rank " + std::to_string(node.input(2)->shape.size()) + ", more than 2";
        return false;
    }
    return true;
}

}  // namespace

void registerMatMulKernels(CudaKernelRegistry& registry) {
    registry.add({"MatMul", matMulSupported,
                  [](const Node& node, const CudaContext& context) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<MatMulKernel>(node, context));
                  }});
    registry.add({"kiln::FusedMatMul", fusedMatMulSupported,
                  [](const Node& node, const CudaContext& context) -> Expected<std::unique_ptr<Kernel>> {
                      KILN_ASSIGN_OR_RETURN(FusedActivation activation, parseFusedActivation(node));
                      return std::unique_ptr<Kernel>(std::make_unique<MatMulKernel>(
                          node, context, node.hasInput(2), node.hasInput(3), activation));
                  }});
    registry.add(
        {"Gemm", gemmSupported, [](const Node& node, const CudaContext& context) -> Expected<std::unique_ptr<Kernel>> {
             return std::unique_ptr<Kernel>(std::make_unique<GemmKernel>(node, node.input(0)->dtype, context));
         }});
}

}  // namespace kiln::cuda
