// LinearAttention, as the CPU backend computes it (backends/cpu/kernels/linear_attention.cpp): the
// token-by-token recurrence of the ONNX definition, one block per (batch, KV head) owning that head's
// (d_k x d_v) float state. Per token t, each phase split over the block's threads and separated by a
// barrier:
//   gated rules:  S *= exp(g_t)                (per key row; g_t per key dim or per head)
//   delta rules:  v_t <- beta_t * (v_t - S^T k_t)
//   every rule:   S += k_t v_t^T,   o_t = scale * q_t^T S   for each query head of the group.
// The state (and the token's key, decay factors and value) sit in shared memory when they fit, else in
// the block's slice of the workspace. The state stays float32 whatever the storage types; outputs round
// once. chunk_size is a tuning hint of chunked GPU algorithms: the sequential scan gives the same result.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

enum Input : size_t { kQuery, kKey, kValue, kPastState, kDecay, kBeta };

constexpr int kLinearBlock = 256;
constexpr size_t kMaxSharedBytes = 48 * 1024;

using LinearTypes = DeviceTypes<float, __half, __nv_bfloat16>;

struct LinearParams {
    int64_t batch{0}, time{0}, qHeads{0}, kvHeads{0}, dk{0}, dv{0};
    bool decayPerHead{false};
    int64_t betaWidth{0};  // beta's last extent: kv_num_heads or 1
    float scale{1.f};
    bool inShared{false};
    __host__ __device__ int64_t taskFloats() const { return dk * dv + 2 * dk + dv; }
};

template <typename T, typename S>
struct LinearOperands {
    const T *q, *k, *v, *decay, *beta;
    const S* past;
    T* y;
    S* present;
    float* workspace;
};

template <typename T, typename S>
__global__ void __launch_bounds__(kLinearBlock) linearAttentionKernel(LinearOperands<T, S> o, LinearParams p) {
    extern __shared__ float sharedState[];
    const int64_t task = blockIdx.x, b = task / p.kvHeads, h = task % p.kvHeads;
    const int64_t dk = p.dk, dv = p.dv, stateSize = dk * dv, group = p.qHeads / p.kvHeads;
    float* state = p.inShared ? sharedState : o.workspace + task * p.taskFloats();
    float* key = state + stateSize;
    float* factor = key + dk;
    float* update = factor + dk;
    for (int64_t e = threadIdx.x; e < stateSize; e += kLinearBlock)
        state[e] = o.past ? load(o.past[task * stateSize + e]) : 0.f;
    for (int64_t t = 0; t < p.time; ++t) {
        const int64_t token = b * p.time + t;
        const int64_t kvRow = token * p.kvHeads + h;
        __syncthreads();  // the previous token's readers of state, key and update are done
        for (int64_t i = threadIdx.x; i < dk; i += kLinearBlock) {
            key[i] = load(o.k[kvRow * dk + i]);
            if (o.decay) factor[i] = expf(load(o.decay[p.decayPerHead ? kvRow : kvRow * dk + i]));
        }
        for (int64_t m = threadIdx.x; m < dv; m += kLinearBlock) update[m] = load(o.v[kvRow * dv + m]);
        __syncthreads();
        if (o.decay) {
            for (int64_t e = threadIdx.x; e < stateSize; e += kLinearBlock) state[e] *= factor[e / dv];
            __syncthreads();
        }
        if (o.beta) {
            // The delta rule corrects the value by what the (decayed) state already recalls for this key.
            const float rate = load(o.beta[token * p.betaWidth + (p.betaWidth == 1 ? 0 : h)]);
            for (int64_t m = threadIdx.x; m < dv; m += kLinearBlock) {
                float recalled = 0.f;
                for (int64_t i = 0; i < dk; ++i) recalled += state[i * dv + m] * key[i];
                update[m] = rate * (update[m] - recalled);
            }
            __syncthreads();
        }
        for (int64_t e = threadIdx.x; e < stateSize; e += kLinearBlock) state[e] += key[e / dv] * update[e % dv];
        __syncthreads();
        for (int64_t e = threadIdx.x; e < group * dv; e += kLinearBlock) {
            const int64_t hq = h * group + e / dv, m = e % dv;
            const T* query = o.q + (token * p.qHeads + hq) * dk;
            float sum = 0.f;
            for (int64_t i = 0; i < dk; ++i) sum += load(query[i]) * state[i * dv + m];
            o.y[(token * p.qHeads + hq) * dv + m] = store<T>(p.scale * sum);
        }
    }
    if (o.present) {
        __syncthreads();
        for (int64_t e = threadIdx.x; e < stateSize; e += kLinearBlock)
            o.present[task * stateSize + e] = store<S>(state[e]);
    }
}

class LinearAttentionKernel final : public Kernel {
public:
    LinearAttentionKernel(const Node& node, bool gated, bool delta)
        : mName(node.describe()),
          mGated(gated),
          mDelta(delta),
          mHasPast(node.hasInput(kPastState)),
          mHasPresent(node.outputs.size() > 1 && node.outputs[1] != nullptr),
          mScaleAttr(node.attrs.getFloat("scale", 0.0f)) {
        mParams.qHeads = node.attrs.getInt("q_num_heads", 0);
        mParams.kvHeads = node.attrs.getInt("kv_num_heads", 0);
    }

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        auto bad = [&](const std::string& what) { return invalidArgument(mName + ": " + what); };
        LinearParams& p = mParams;
        if (p.qHeads <= 0 || p.kvHeads <= 0 || p.qHeads % p.kvHeads != 0)
            return bad("q_num_heads must be a positive multiple of kv_num_heads");
        for (size_t i : {kQuery, kKey, kValue})
            if (in[i].shape.size() != 3) return bad("query, key and value must have rank 3");
        p.batch = in[kQuery].shape[0];
        p.time = in[kQuery].shape[1];
        if (in[kQuery].shape[2] % p.qHeads != 0 || in[kValue].shape[2] % p.kvHeads != 0)
            return bad("query's or value's last dimension is not a multiple of its head count");
        p.dk = in[kQuery].shape[2] / p.qHeads;
        p.dv = in[kValue].shape[2] / p.kvHeads;
        const Shape key{p.batch, p.time, p.kvHeads * p.dk}, value{p.batch, p.time, p.kvHeads * p.dv};
        if (in[kKey].shape != key || in[kValue].shape != value)
            return bad("key " + shapeToString(in[kKey].shape, true) + " and value " +
                       shapeToString(in[kValue].shape, true) + " do not fit query " +
                       shapeToString(in[kQuery].shape, true));
        const Shape state{p.batch, p.kvHeads, p.dk, p.dv};
        if (mHasPast && in[kPastState].shape != state)
            return bad("past_state has shape " + shapeToString(in[kPastState].shape, true) + ", expected " +
                       shapeToString(state, true));
        p.decayPerHead = false;
        if (mGated) {
            const Shape& d = in[kDecay].shape;
            p.decayPerHead = d == Shape{p.batch, p.time, p.kvHeads};
            if (!p.decayPerHead && d != key)
                return bad("decay has shape " + shapeToString(d, true) + ", expected " + shapeToString(key, true) +
                           " or " + shapeToString(Shape{p.batch, p.time, p.kvHeads}, true));
        }
        p.betaWidth = 0;
        if (mDelta) {
            const Shape& b = in[kBeta].shape;
            if (b.size() != 3 || b[0] != p.batch || b[1] != p.time || (b[2] != p.kvHeads && b[2] != 1))
                return bad("beta has shape " + shapeToString(b, true) + ", expected (B, T, kv_num_heads) or (B, T, 1)");
            p.betaWidth = b[2];
        }
        if (out[0].shape != Shape{p.batch, p.time, p.qHeads * p.dv})
            return bad("output has shape " + shapeToString(out[0].shape, true));
        if (mHasPresent && out[1].shape != state)
            return bad("present_state has shape " + shapeToString(out[1].shape, true) + ", expected " +
                       shapeToString(state, true));
        mType = in[kQuery].dtype;
        mStateType = mHasPast ? in[kPastState].dtype : mType;
        if (mHasPresent && out[1].dtype != mStateType)
            return bad(std::string("present_state is ") + dataTypeName(out[1].dtype) + ", the state " +
                       dataTypeName(mStateType));
        if (out[0].dtype != mType) return bad("the output must have the query's type");
        for (size_t i : {kKey, kValue, kDecay, kBeta})
            if ((i < kDecay || (i == kDecay ? mGated : mDelta)) && in[i].dtype != mType)
                return bad("inputs of different element types");
        if (!LinearTypes::contains(mType) || !LinearTypes::contains(mStateType))
            return unsupported(mName + ": no CUDA LinearAttention for " + dataTypeName(mType) + " inputs with a " +
                               dataTypeName(mStateType) + " state");
        // ONNX's default scale (attribute 0) is 1 / sqrt(d_k).
        p.scale = mScaleAttr != 0.0f ? mScaleAttr : 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(p.dk, 1)));
        p.inShared = static_cast<size_t>(p.taskFloats()) * sizeof(float) <= kMaxSharedBytes;
        if (p.batch * p.kvHeads > INT32_MAX) return unsupported(mName + ": too many (batch, head) pairs for one launch");
        return Status::ok();
    }

    size_t workspaceSize() const override {
        const LinearParams& p = mParams;
        return p.inShared ? 0 : static_cast<size_t>(p.batch * p.kvHeads * p.taskFloats()) * sizeof(float);
    }

    Status run(const KernelIO& io) override {
        const LinearParams& p = mParams;
        if (p.batch * p.kvHeads == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const Status noKernel = unsupported(mName + ": no CUDA LinearAttention for " + dataTypeName(mType));
        return LinearTypes::dispatchStatus(mType, noKernel, [&](auto inputTag) {
            return LinearTypes::dispatchStatus(mStateType, noKernel, [&](auto stateTag) {
                return launch<decltype(inputTag), decltype(stateTag)>(io, stream);
            });
        });
    }

    std::string tacticName() const override {
        return std::string("cuda.linear_attention_recurrent_") + tacticTypeSuffix(mType);
    }

private:
    template <typename T, typename S>
    Status launch(const KernelIO& io, cudaStream_t stream) {
        const LinearParams& p = mParams;
        LinearOperands<T, S> o{};
        o.q = static_cast<const T*>(io.input(kQuery).data);
        o.k = static_cast<const T*>(io.input(kKey).data);
        o.v = static_cast<const T*>(io.input(kValue).data);
        o.decay = mGated ? static_cast<const T*>(io.input(kDecay).data) : nullptr;
        o.beta = mDelta ? static_cast<const T*>(io.input(kBeta).data) : nullptr;
        o.past = mHasPast ? static_cast<const S*>(io.input(kPastState).data) : nullptr;
        o.y = static_cast<T*>(io.output(0).data);
        o.present = mHasPresent ? static_cast<S*>(io.output(1).data) : nullptr;
        o.workspace = static_cast<float*>(io.workspace);
        const size_t shared = p.inShared ? static_cast<size_t>(p.taskFloats()) * sizeof(float) : 0;
        linearAttentionKernel<T, S><<<static_cast<unsigned>(p.batch * p.kvHeads), kLinearBlock, shared, stream>>>(o, p);
        return launchStatus("linearAttentionKernel");
    }

    std::string mName;
    bool mGated, mDelta, mHasPast, mHasPresent;
    float mScaleAttr;  // 0 asks for the default
    LinearParams mParams;
    DataType mType{DataType::kFLOAT};
    DataType mStateType{DataType::kFLOAT};
};

bool linearAttentionSupported(const Node& node, std::string* reason) {
    auto refuse = [&](const std::string& why) {
        if (reason) *reason = why;
        return false;
    };
    if (!inputsHaveType(node, kQuery, 3, LinearTypes::types(), reason)) return false;
    if (const Value* past = node.input(kPastState); past && !LinearTypes::contains(past->dtype))
        return refuse(std::string("no CUDA LinearAttention state of ") + dataTypeName(past->dtype));
    const std::string rule = node.attrs.getString("update_rule", "gated_delta");
    if (rule != "linear" && rule != "gated" && rule != "delta" && rule != "gated_delta")
        return refuse("update_rule '" + rule + "' is not one of linear, gated, delta, gated_delta");
    const bool gated = rule == "gated" || rule == "gated_delta";
    const bool delta = rule == "delta" || rule == "gated_delta";
    if (gated != node.hasInput(kDecay) || delta != node.hasInput(kBeta))
        return refuse("the decay and beta inputs do not match update_rule '" + rule + "'");
    const int64_t qHeads = node.attrs.getInt("q_num_heads", 0);
    const int64_t kvHeads = node.attrs.getInt("kv_num_heads", 0);
    if (qHeads <= 0 || kvHeads <= 0 || qHeads % kvHeads != 0)
        return refuse("q_num_heads must be a positive multiple of kv_num_heads");
    return true;
}

}  // namespace

void registerLinearAttentionKernels(CudaKernelRegistry& registry) {
    registry.add({"LinearAttention", linearAttentionSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      const std::string rule = node.attrs.getString("update_rule", "gated_delta");
                      const bool gated = rule == "gated" || rule == "gated_delta";
                      const bool delta = rule == "delta" || rule == "gated_delta";
                      return std::unique_ptr<Kernel>(std::make_unique<LinearAttentionKernel>(node, gated, delta));
                  }});
}

}  // namespace kiln::cuda
