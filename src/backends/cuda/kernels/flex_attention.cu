// CUDA ai.onnx.preview::FlexAttention, following the CPU kernel's steps
// (backends/cpu/kernels/flex_attention.cpp): the whole (B, Hq, L, S) score tensor is computed first,
// so that score_mod and prob_mod run once each on the batched tensor, as ONNX defines them, through
// the subgraph executor on the CUDA backend; then a row-wise softmax and the product with V.
//
// Arithmetic is in the compute type C: double when the softmax precision is double, else float.
// A float16 / bfloat16 softmax precision rounds the scores and probabilities to it where ONNX holds
// them in that type (the modifiers' inputs and outputs). The products are plain dot products, one
// thread per score or output element: FlexAttention is a preview op whose modifiers dominate.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <optional>
#include <type_traits>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/subgraph_executor.h"
#include "ir/control_flow.h"
#include "ir/onnx_types.h"

namespace kiln::cuda {

namespace {

// ------------------------------------------------------------------------------- element conversions

template <typename C, typename T>
__device__ __forceinline__ C loadAs(const T* data, int64_t i) {
    if constexpr (std::is_same_v<T, __half>)
        return static_cast<C>(__half2float(data[i]));
    else if constexpr (std::is_same_v<T, __nv_bfloat16>)
        return static_cast<C>(__bfloat162float(data[i]));
    else
        return static_cast<C>(data[i]);
}

template <typename T, typename C>
__device__ __forceinline__ void storeAs(T* data, int64_t i, C value) {
    if constexpr (std::is_same_v<T, __half>)
        data[i] = __float2half_rn(static_cast<float>(value));
    else if constexpr (std::is_same_v<T, __nv_bfloat16>)
        data[i] = __float2bfloat16_rn(static_cast<float>(value));
    else
        data[i] = static_cast<T>(value);
}

/// How scores are rounded to the softmax precision when it is narrower than the compute type.
enum class Rounding : int { kNone, kHalf, kBF16 };

template <typename C>
__device__ __forceinline__ C roundTo(Rounding rounding, C value) {
    switch (rounding) {
        case Rounding::kHalf: return static_cast<C>(__half2float(__float2half_rn(static_cast<float>(value))));
        case Rounding::kBF16: return static_cast<C>(__bfloat162float(__float2bfloat16_rn(static_cast<float>(value))));
        default: return value;
    }
}

struct FlexShape {
    int64_t batch, heads, kvHeads, queries, keys, headSize, valueSize;
    __host__ __device__ int64_t scoreCount() const { return batch * heads * queries * keys; }
};

/// The K / V head that query head `h` of batch `b` reads (grouped-query attention).
__device__ __forceinline__ int64_t kvHeadOf(const FlexShape& s, int64_t b, int64_t h) {
    return b * s.kvHeads + h / (s.heads / s.kvHeads);
}

/// scores[b, h, l, s] = round(scale * q[b, h, l] . k[b, kv(h), s]).
template <typename T, typename C>
__global__ void scoresKernel(const T* q, const T* k, C* scores, FlexShape s, C scale, Rounding rounding) {
    const int64_t n = s.scoreCount();
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t key = i % s.keys;
        const int64_t row = i / s.keys;  // (b, h, l)
        const int64_t bh = row / s.queries;
        const int64_t kv = kvHeadOf(s, bh / s.heads, bh % s.heads);
        const T* qRow = q + row * s.headSize;
        const T* kRow = k + (kv * s.keys + key) * s.headSize;
        C dot = 0;
        for (int64_t e = 0; e < s.headSize; ++e) dot += loadAs<C>(qRow, e) * loadAs<C>(kRow, e);
        scores[i] = roundTo(rounding, scale * dot);
    }
}

/// Row-wise softmax over the keys; a row of all -inf comes out NaN, as in ONNX's reference.
template <typename C>
__global__ void softmaxKernel(C* scores, int64_t rows, int64_t keys, Rounding rounding) {
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        C* row = scores + r * keys;
        C top = -INFINITY;
        for (int64_t s = 0; s < keys; ++s) top = max(top, row[s]);
        C sum = 0;
        for (int64_t s = 0; s < keys; ++s) {
            row[s] = exp(row[s] - top);
            sum += row[s];
        }
        for (int64_t s = 0; s < keys; ++s) row[s] = roundTo(rounding, row[s] / sum);
    }
}

/// y[b, h, l, e] = probabilities[b, h, l] . v[b, kv(h), :, e].
template <typename T, typename C>
__global__ void outputKernel(const C* probabilities, const T* v, T* y, FlexShape s) {
    const int64_t n = s.batch * s.heads * s.queries * s.valueSize;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t e = i % s.valueSize;
        const int64_t row = i / s.valueSize;  // (b, h, l)
        const int64_t bh = row / s.queries;
        const int64_t kv = kvHeadOf(s, bh / s.heads, bh % s.heads);
        const C* p = probabilities + row * s.keys;
        const T* vHead = v + kv * s.keys * s.valueSize;
        C sum = 0;
        for (int64_t key = 0; key < s.keys; ++key) sum += p[key] * loadAs<C>(vHead, key * s.valueSize + e);
        storeAs(y, i, sum);
    }
}

template <typename To, typename From>
__global__ void convertKernel(const From* from, To* to, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        storeAs(to, i, loadAs<double>(from, i));
}

bool isFlexType(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16 || type == DataType::kDOUBLE;
}

/// The Status of fn(T{}) with the device type T of a float / float16 / bfloat16 / double `type`.
template <typename Fn>
Status dispatchFlexType(DataType type, Fn&& fn) {
    switch (type) {
        case DataType::kHALF: return fn(__half{});
        case DataType::kBF16: return fn(__nv_bfloat16{});
        case DataType::kDOUBLE: return fn(double{});
        default: return fn(float{});
    }
}

template <typename To, typename From>
Status launchConvert(const From* from, To* to, int64_t n, cudaStream_t stream) {
    if (n == 0) return Status::ok();
    convertKernel<To, From><<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(from, to, n);
    return launchStatus("flex_attention convert");
}

/// Converts `n` elements between buffers of any two flex types.
Status convertBuffer(DataType fromType, const void* from, DataType toType, void* to, int64_t n, cudaStream_t stream) {
    return dispatchFlexType(fromType, [&](auto fromTag) {
        using From = decltype(fromTag);
        return dispatchFlexType(toType, [&](auto toTag) {
            using To = decltype(toTag);
            return launchConvert(static_cast<const From*>(from), static_cast<To*>(to), n, stream);
        });
    });
}

size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

class FlexAttentionKernel final : public Kernel {
public:
    FlexAttentionKernel(std::optional<float> scale, DataType precision, size_t captured,
                        std::unique_ptr<SubgraphExecutor> scoreMod, std::unique_ptr<SubgraphExecutor> probMod)
        : mScale(scale), mPrecision(precision), mCaptured(captured), mScoreMod(std::move(scoreMod)),
          mProbMod(std::move(probMod)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        const Shape& q = in[0].shape;
        const Shape& k = in[1].shape;
        const Shape& v = in[2].shape;
        if (q.size() != 4 || k.size() != 4 || v.size() != 4 || k[0] != q[0] || v[0] != q[0] || v[1] != k[1] ||
            v[2] != k[2] || k[3] != q[3] || k[1] == 0 || q[1] % k[1] != 0)
            return invalidArgument("cuda.flex_attention: Q " + shapeToString(q, true) + ", K " + shapeToString(k, true) +
                                   ", V " + shapeToString(v, true) + " do not fit together");
        mType = in[0].dtype;
        if (in[1].dtype != mType || in[2].dtype != mType || out[0].dtype != mType)
            return invalidArgument("cuda.flex_attention: Q, K, V and Y must share one element type");
        mShape = FlexShape{q[0], q[1], k[1], q[2], k[2], q[3], v[3]};
        if (out[0].shape != Shape{q[0], q[1], q[2], v[3]})
            return invalidArgument("cuda.flex_attention: Y has shape " + shapeToString(out[0].shape, true));
        const size_t n = static_cast<size_t>(mShape.scoreCount());
        mModAt = aligned(n * dataTypeSize(computeType()));
        const bool narrowMods = (mScoreMod || mProbMod) && mPrecision != computeType();
        mWorkspace = mModAt + (narrowMods ? aligned(n * dataTypeSize(mPrecision)) : 0);
        return Status::ok();
    }

    size_t workspaceSize() const override { return mWorkspace; }

    Status run(const KernelIO& io) override {
        return dispatchFlexType(mType, [&](auto tag) {
            using T = decltype(tag);
            return computeType() == DataType::kDOUBLE ? runWith<T, double>(io) : runWith<T, float>(io);
        });
    }

    std::string tacticName() const override { return std::string("cuda.flex_attention_") + tacticTypeSuffix(mType); }

    bool isCapturable(std::string* reason) const override {
        if (!mScoreMod && !mProbMod) return true;
        if (reason) *reason = "runs its score_mod / prob_mod subgraph node by node from the host";
        return false;
    }

private:
    /// double only for a double softmax precision: ONNX computes in the softmax precision.
    DataType computeType() const { return mPrecision == DataType::kDOUBLE ? DataType::kDOUBLE : DataType::kFLOAT; }

    Rounding rounding() const {
        // The compute type is float for every precision but double, so only these two are narrower.
        if (mPrecision == DataType::kHALF) return Rounding::kHalf;
        if (mPrecision == DataType::kBF16) return Rounding::kBF16;
        return Rounding::kNone;
    }

    /// Runs a modifier subgraph on the score tensor (in the softmax precision) and takes its result back.
    Status applyModifier(SubgraphExecutor& modifier, const char* name, void* scores, void* narrow, const KernelIO& io) {
        const Shape shape{mShape.batch, mShape.heads, mShape.queries, mShape.keys};
        const int64_t n = mShape.scoreCount();
        auto stream = static_cast<cudaStream_t>(io.stream);
        TensorView input{mPrecision, shape, scores};
        if (mPrecision != computeType()) {
            input.data = narrow;
            KILN_RETURN_IF_ERROR(convertBuffer(computeType(), scores, mPrecision, narrow, n, stream));
        }
        std::vector<TensorView> inputs{input};
        for (size_t i = io.numInputs - mCaptured; i < io.numInputs; ++i) inputs.push_back(io.input(i));
        KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, modifier.run(inputs, io.stream, io.strings));
        if (results.size() != 1 || results[0].dtype != mPrecision || results[0].shape != shape)
            return invalidArgument(std::string("cuda.flex_attention: ") + name + " must return one " +
                                   dataTypeName(mPrecision) + " " + shapeToString(shape, true) + " tensor" +
                                   (results.size() == 1 ? std::string(", got ") + dataTypeName(results[0].dtype) + " " +
                                                              shapeToString(results[0].shape, true)
                                                        : std::string()));
        if (results[0].data == scores) return Status::ok();
        return convertBuffer(mPrecision, results[0].data, computeType(), scores, n, stream);
    }

    template <typename T, typename C>
    Status runWith(const KernelIO& io) {
        auto stream = static_cast<cudaStream_t>(io.stream);
        auto* workspace = static_cast<uint8_t*>(io.workspace);
        C* scores = reinterpret_cast<C*>(workspace);
        void* narrow = workspace + mModAt;
        const int64_t n = mShape.scoreCount();
        const C scale = mScale ? static_cast<C>(*mScale) : C(1) / std::sqrt(static_cast<C>(mShape.headSize));
        const auto* q = static_cast<const T*>(io.input(0).data);
        const auto* k = static_cast<const T*>(io.input(1).data);
        const auto* v = static_cast<const T*>(io.input(2).data);
        auto* y = static_cast<T*>(io.output(0).data);
        if (n > 0) {
            scoresKernel<T, C><<<elementwiseGrid(n), kElementwiseBlock, 0, stream>>>(q, k, scores, mShape, scale, rounding());
            KILN_RETURN_IF_ERROR(launchStatus("flex_attention scores"));
        }
        if (mScoreMod) KILN_RETURN_IF_ERROR(applyModifier(*mScoreMod, "score_mod", scores, narrow, io));
        const int64_t rows = mShape.batch * mShape.heads * mShape.queries;
        if (n > 0) {
            softmaxKernel<C><<<elementwiseGrid(rows), kElementwiseBlock, 0, stream>>>(scores, rows, mShape.keys, rounding());
            KILN_RETURN_IF_ERROR(launchStatus("flex_attention softmax"));
        }
        if (mProbMod) KILN_RETURN_IF_ERROR(applyModifier(*mProbMod, "prob_mod", scores, narrow, io));
        const int64_t outputs = rows * mShape.valueSize;
        if (outputs > 0) {
            // With no keys every output is an empty sum: zero.
            outputKernel<T, C><<<elementwiseGrid(outputs), kElementwiseBlock, 0, stream>>>(scores, v, y, mShape);
            KILN_RETURN_IF_ERROR(launchStatus("flex_attention output"));
        }
        return Status::ok();
    }

    std::optional<float> mScale;  // absent: 1 / sqrt(head size)
    DataType mPrecision;
    size_t mCaptured;
    std::unique_ptr<SubgraphExecutor> mScoreMod, mProbMod;
    DataType mType{DataType::kFLOAT};
    FlexShape mShape{};
    size_t mModAt{0}, mWorkspace{0};
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
    if (!inputsHaveType(node, 0, 3, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, reason))
        return false;
    Expected<DataType> precision = softmaxPrecision(node);
    if (!precision) {
        if (reason) *reason = precision.status().message();
        return false;
    }
    for (const char* attr : {"score_mod", "prob_mod"}) {
        std::shared_ptr<Graph> graph = node.attrs.getGraph(attr);
        if (graph && !SubgraphExecutor::supports(*graph, cudaSupportsNode, reason)) return false;
    }
    return true;
}

Expected<std::unique_ptr<Kernel>> createFlexAttention(const Node& node, const CudaContext& context) {
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
        if (!context.backend) return internalError(node.describe() + ": the CUDA kernel context names no backend");
        KILN_ASSIGN_OR_RETURN(modifiers[i], SubgraphExecutor::create(*context.backend, graph,
                                                                     "subgraph '" + std::string(attrs[i]) + "' of " +
                                                                         node.describe()));
    }
    return std::unique_ptr<Kernel>(std::make_unique<FlexAttentionKernel>(node.attrs.getFloat("scale"), precision,
                                                                         static_cast<size_t>(captured),
                                                                         std::move(modifiers[0]), std::move(modifiers[1])));
}

}  // namespace

void registerFlexAttentionKernels(CudaKernelRegistry& registry) {
    registry.add({"ai.onnx.preview::FlexAttention", supportsFlexAttention, createFlexAttention});
}

}  // namespace kiln::cuda
