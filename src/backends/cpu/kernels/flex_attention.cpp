// CPU FlexAttention. The whole (B, Hq, L, S) score tensor is computed first (one GEMM per
// (batch, query head)), so that score_mod and prob_mod run once each on the batched tensor, as
// ONNX defines them, through the subgraph interpreter that If / Loop / Scan use; then a row-wise
// softmax and one GEMM per head for Y.
//
// Arithmetic is float, or double when the softmax precision is double. Half / bfloat16 inputs are
// widened once; a float16 / bfloat16 softmax precision rounds the scores and probabilities to it
// where ONNX's definition holds them in that type (the modifiers' inputs and outputs).

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/subgraph_executor.h"
#include "common/half.h"
#include "ir/control_flow.h"
#include "ir/onnx_types.h"

namespace kiln {

namespace {

bool isFlexType(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16 || type == DataType::kDOUBLE;
}

/// Element i of a float / float16 / bfloat16 / double buffer, widened to C.
template <typename C>
C loadAs(DataType type, const void* data, int64_t i) {
    switch (type) {
        case DataType::kHALF: return static_cast<C>(static_cast<float>(static_cast<const Half*>(data)[i]));
        case DataType::kBF16: return static_cast<C>(static_cast<float>(static_cast<const BFloat16*>(data)[i]));
        case DataType::kDOUBLE: return static_cast<C>(static_cast<const double*>(data)[i]);
        default: return static_cast<C>(static_cast<const float*>(data)[i]);
    }
}

/// Writes `value` as element i of a buffer of `type` (rounding to nearest even).
template <typename C>
void storeAs(DataType type, void* data, int64_t i, C value) {
    switch (type) {
        case DataType::kHALF: static_cast<Half*>(data)[i] = Half(static_cast<float>(value)); break;
        case DataType::kBF16: static_cast<BFloat16*>(data)[i] = BFloat16(static_cast<float>(value)); break;
        case DataType::kDOUBLE: static_cast<double*>(data)[i] = static_cast<double>(value); break;
        default: static_cast<float*>(data)[i] = static_cast<float>(value); break;
    }
}

/// Rounds `value` to the precision of `type`.
template <typename C>
C roundTo(DataType type, C value) {
    switch (type) {
        case DataType::kHALF: return static_cast<C>(static_cast<float>(Half(static_cast<float>(value))));
        case DataType::kBF16: return static_cast<C>(static_cast<float>(BFloat16(static_cast<float>(value))));
        case DataType::kFLOAT: return static_cast<C>(static_cast<float>(value));
        default: return value;
    }
}

/// Row-major C (m x n) = alpha * A B, or alpha * A B^T, through BLAS; the empty cases (which BLAS
/// refuses) are handled here: a zero-length inner dimension gives zeros.
template <typename C>
void gemm(bool transB, int64_t m, int64_t n, int64_t k, C alpha, const C* a, const C* b, C* c) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        std::fill(c, c + m * n, C(0));
        return;
    }
    const auto tb = transB ? CblasTrans : CblasNoTrans;
    const int ldb = int(transB ? k : n);
    if constexpr (std::is_same_v<C, double>)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, tb, int(m), int(n), int(k), alpha, a, int(k), b, ldb, 0.0, c, int(n));
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, int(m), int(n), int(k), alpha, a, int(k), b, ldb, 0.0f, c, int(n));
}

size_t alignedBytes(size_t bytes) { return (bytes + 63) / 64 * 64; }

class FlexAttentionKernel final : public Kernel {
public:
    FlexAttentionKernel(std::optional<float> scale, DataType precision, size_t captured,
                        std::unique_ptr<SubgraphExecutor> scoreMod, std::unique_ptr<SubgraphExecutor> probMod)
        : mScale(scale), mPrecision(precision), mCaptured(captured), mScoreMod(std::move(scoreMod)), mProbMod(std::move(probMod)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        const Shape& q = in[0].shape;
        const Shape& k = in[1].shape;
        const Shape& v = in[2].shape;
        if (q.size() != 4 || k.size() != 4 || v.size() != 4 || k[0] != q[0] || v[0] != q[0] || v[1] != k[1] || v[2] != k[2] ||
            k[3] != q[3] || k[1] == 0 || q[1] % k[1] != 0)
            return invalidArgument("cpu.flex_attention: Q " + shapeToString(q, true) + ", K " + shapeToString(k, true) + ", V " +
                                   shapeToString(v, true) + " do not fit together");
        mType = in[0].dtype;
        if (in[1].dtype != mType || in[2].dtype != mType || out[0].dtype != mType)
            return invalidArgument("cpu.flex_attention: Q, K, V and Y must share one element type");
        mBatch = q[0];
        mHeads = q[1];
        mKvHeads = k[1];
        mQueries = q[2];
        mKeys = k[2];
        mHeadSize = q[3];
        mValueSize = v[3];
        if (out[0].shape != Shape{mBatch, mHeads, mQueries, mValueSize})
            return invalidArgument("cpu.flex_attention: Y has shape " + shapeToString(out[0].shape, true));
        // Workspace: the scores in the compute type, then what needs a copy in another type.
        const size_t c = computeBytes();
        const bool widen = mType != computeType();
        size_t at = 0;
        auto take = [&](size_t bytes) {
            const size_t offset = at;
            at += alignedBytes(bytes);
            return offset;
        };
        mScoresAt = take(size_t(scoreCount()) * c);
        const bool narrowMods = (mScoreMod || mProbMod) && mPrecision != computeType();
        mModAt = narrowMods ? take(size_t(scoreCount()) * dataTypeSize(mPrecision)) : 0;
        mQAt = widen ? take(size_t(shapeElementCount(q)) * c) : 0;
        mKAt = widen ? take(size_t(shapeElementCount(k)) * c) : 0;
        mVAt = widen ? take(size_t(shapeElementCount(v)) * c) : 0;
        mYAt = widen ? take(size_t(shapeElementCount(out[0].shape)) * c) : 0;
        mWorkspace = at;
        return Status::ok();
    }

    size_t workspaceSize() const override { return mWorkspace; }

    Status run(const KernelIO& io) override {
        if (computeType() == DataType::kDOUBLE) return runWith<double>(io);
        return runWith<float>(io);
    }

    std::string tacticName() const override { return "cpu.flex_attention"; }

private:
    /// double only for a double softmax precision: ONNX computes in the softmax precision.
    DataType computeType() const { return mPrecision == DataType::kDOUBLE ? DataType::kDOUBLE : DataType::kFLOAT; }
    size_t computeBytes() const { return dataTypeSize(computeType()); }
    int64_t scoreCount() const { return mBatch * mHeads * mQueries * mKeys; }

    /// The input as compute-type values: the input itself, or its widened copy at `offset`.
    template <typename C>
    const C* widened(const TensorView& view, uint8_t* workspace, size_t offset) const {
        if (view.dtype == computeType()) return view.as<const C>();
        C* copy = reinterpret_cast<C*>(workspace + offset);
        const int64_t n = view.elementCount();
        for (int64_t i = 0; i < n; ++i) copy[i] = loadAs<C>(view.dtype, view.data, i);
        return copy;
    }

    /// Rounds the score tensor to the softmax precision when it is narrower than the compute type.
    template <typename C>
    void roundToPrecision(C* scores) const {
        if (mPrecision == computeType()) return;
        const int64_t n = scoreCount();
        for (int64_t i = 0; i < n; ++i) scores[i] = roundTo(mPrecision, scores[i]);
    }

    /// Runs a modifier subgraph on the score tensor (in the softmax precision) and takes its result back.
    template <typename C>
    Status applyModifier(SubgraphExecutor& modifier, const char* name, C* scores, uint8_t* workspace, const KernelIO& io) {
        const Shape shape{mBatch, mHeads, mQueries, mKeys};
        const int64_t n = scoreCount();
        TensorView input{mPrecision, shape, scores};
        if (mPrecision != computeType()) {
            input.data = workspace + mModAt;
            for (int64_t i = 0; i < n; ++i) storeAs(mPrecision, input.data, i, scores[i]);
        }
        std::vector<TensorView> inputs{input};
        for (size_t i = io.numInputs - mCaptured; i < io.numInputs; ++i) inputs.push_back(io.input(i));
        KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, modifier.run(inputs, io.stream, io.strings));
        if (results.size() != 1 || results[0].dtype != mPrecision || results[0].shape != shape)
            return invalidArgument(std::string("cpu.flex_attention: ") + name + " must return one " + dataTypeName(mPrecision) + " " +
                                   shapeToString(shape, true) + " tensor" +
                                   (results.size() == 1 ? std::string(", got ") + dataTypeName(results[0].dtype) + " " +
                                                              shapeToString(results[0].shape, true)
                                                        : std::string()));
        if (results[0].data == scores) return Status::ok();
        for (int64_t i = 0; i < n; ++i) scores[i] = loadAs<C>(mPrecision, results[0].data, i);
        return Status::ok();
    }

    template <typename C>
    Status runWith(const KernelIO& io) {
        auto* workspace = static_cast<uint8_t*>(io.workspace);
        const C* q = widened<C>(io.input(0), workspace, mQAt);
        const C* k = widened<C>(io.input(1), workspace, mKAt);
        const C* v = widened<C>(io.input(2), workspace, mVAt);
        C* scores = reinterpret_cast<C*>(workspace + mScoresAt);
        const bool widen = mType != computeType();
        C* y = widen ? reinterpret_cast<C*>(workspace + mYAt) : io.output(0).as<C>();
        const C scale = mScale ? static_cast<C>(*mScale) : C(1) / std::sqrt(static_cast<C>(mHeadSize));
        const int64_t tasks = mBatch * mHeads, group = mHeads / mKvHeads;
        const int64_t scoreBlock = mQueries * mKeys;
#pragma omp parallel for schedule(static) if (tasks > 1)
        for (int64_t task = 0; task < tasks; ++task) {
            const int64_t kv = (task / mHeads) * mKvHeads + (task % mHeads) / group;
            gemm(true, mQueries, mKeys, mHeadSize, scale, q + task * mQueries * mHeadSize, k + kv * mKeys * mHeadSize,
                 scores + task * scoreBlock);
        }
        roundToPrecision(scores);
        if (mScoreMod) KILN_RETURN_IF_ERROR(applyModifier(*mScoreMod, "score_mod", scores, workspace, io));

        // A row whose scores are all -inf has no defined softmax: it comes out NaN, as in ONNX's reference.
        const int64_t rows = tasks * mQueries;
#pragma omp parallel for schedule(static) if (rows * mKeys >= 16384)
        for (int64_t r = 0; r < rows; ++r) {
            C* row = scores + r * mKeys;
            C top = -std::numeric_limits<C>::infinity();
            for (int64_t s = 0; s < mKeys; ++s) top = std::max(top, row[s]);
            C sum = 0;
            for (int64_t s = 0; s < mKeys; ++s) {
                row[s] = std::exp(row[s] - top);
                sum += row[s];
            }
            for (int64_t s = 0; s < mKeys; ++s) row[s] /= sum;
        }
        roundToPrecision(scores);
        if (mProbMod) KILN_RETURN_IF_ERROR(applyModifier(*mProbMod, "prob_mod", scores, workspace, io));

#pragma omp parallel for schedule(static) if (tasks > 1)
        for (int64_t task = 0; task < tasks; ++task) {
            const int64_t kv = (task / mHeads) * mKvHeads + (task % mHeads) / group;
            gemm(false, mQueries, mValueSize, mKeys, C(1), scores + task * scoreBlock, v + kv * mKeys * mValueSize,
                 y + task * mQueries * mValueSize);
        }
        if (widen) {
            const int64_t n = io.output(0).elementCount();
            for (int64_t i = 0; i < n; ++i) storeAs(mType, io.output(0).data, i, y[i]);
        }
        return Status::ok();
    }

    std::optional<float> mScale;  // absent: 1 / sqrt(head size)
    DataType mPrecision;
    size_t mCaptured;
    std::unique_ptr<SubgraphExecutor> mScoreMod, mProbMod;
    DataType mType{DataType::kFLOAT};
    int64_t mBatch{0}, mHeads{0}, mKvHeads{1}, mQueries{0}, mKeys{0}, mHeadSize{0}, mValueSize{0};
    size_t mScoresAt{0}, mModAt{0}, mQAt{0}, mKAt{0}, mVAt{0}, mYAt{0}, mWorkspace{0};
};

/// The softmax precision of `node`: its attribute, else float (double for double inputs).
Expected<DataType> softmaxPrecision(const Node& node) {
    const DataType type = node.input(0) ? node.input(0)->dtype : DataType::kFLOAT;
    std::optional<int64_t> code = node.attrs.getInt("softmax_precision");
    if (!code) return type == DataType::kDOUBLE ? DataType::kDOUBLE : DataType::kFLOAT;
    std::optional<DataType> named = dataTypeFromOnnx(*code);
    if (!named || !isFlexType(*named))
        return invalidModel(node.describe() + ": softmax_precision " + std::to_string(*code) +
                            " is not float, float16, bfloat16 or double");
    return *named;
}

bool supportsFlexAttention(const Node& node, std::string* reason) {
    if (!inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, reason)) return false;
    Expected<DataType> precision = softmaxPrecision(node);
    if (!precision) {
        if (reason) *reason = precision.status().message();
        return false;
    }
    for (const char* attr : {"score_mod", "prob_mod"}) {
        std::shared_ptr<Graph> graph = node.attrs.getGraph(attr);
        if (graph && !SubgraphExecutor::supports(
                         *graph, [](const Node& n, std::string* why) { return cpuBackend().supports(n, why); }, reason))
            return false;
    }
    return true;
}

Expected<std::unique_ptr<Kernel>> createFlexAttention(const Node& node) {
    const int64_t captured = capturedInputCount(node);
    if (captured < 0 || node.inputs.size() != 3 + static_cast<size_t>(captured))
        return invalidModel(node.describe() + ": FlexAttention takes Q, K, V and its subgraphs' captured values");
    KILN_ASSIGN_OR_RETURN(DataType precision, softmaxPrecision(node));
    std::unique_ptr<SubgraphExecutor> modifiers[2];
    const char* attrs[2] = {"score_mod", "prob_mod"};
    for (int i = 0; i < 2; ++i) {
        if (!node.attrs.has(attrs[i])) continue;
        std::shared_ptr<Graph> graph = node.attrs.getGraph(attrs[i]);
        if (!graph) return invalidModel(node.describe() + ": attribute '" + attrs[i] + "' must be a graph");
        KILN_ASSIGN_OR_RETURN(modifiers[i],
                              SubgraphExecutor::create(cpuBackend(), graph, "subgraph '" + std::string(attrs[i]) + "' of " + node.describe()));
    }
    return std::unique_ptr<Kernel>(std::make_unique<FlexAttentionKernel>(
        node.attrs.getFloat("scale"), precision, static_cast<size_t>(captured), std::move(modifiers[0]), std::move(modifiers[1])));
}

}  // namespace

void registerFlexAttentionKernels(CpuKernelRegistry& registry) {
    registry.add({"FlexAttention", supportsFlexAttention, createFlexAttention, "ai.onnx.preview"});
}

}  // namespace kiln
