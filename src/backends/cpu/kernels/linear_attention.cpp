// CPU LinearAttention: the token-by-token recurrence of the ONNX definition, one task per
// (batch, KV head), which owns that head's (d_k x d_v) float state. Per token t:
//   gated rules:  S *= exp(g_t)                (per key row; g_t per key dim or per head)
//   delta rules:  v_t <- beta_t * (v_t - S^T k_t)
//   every rule:   S += k_t v_t^T,   o_t = scale * q_t^T S   for each query head of the group.
// The state stays float32 whatever the input types (as ONNX's reference accumulates); the
// outputs are rounded once to their types. The chunk_size attribute is a GPU tuning hint: a
// sequential scan computes the same result.

#include <algorithm>
#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "common/half.h"

namespace kiln {

namespace {

enum Input : size_t { kQuery, kKey, kValue, kPastState, kDecay, kBeta };

template <typename T>
float loadFloat(const T* p, int64_t i) {
    return static_cast<float>(p[i]);
}
template <typename T>
T storeFloat(float v) {
    return T(v);
}
template <>
float storeFloat<float>(float v) {
    return v;
}

/// Calls fn(T{}) for the float element types LinearAttention takes; false for any other.
template <typename Fn>
bool dispatchAttentionType(DataType type, Fn&& fn) {
    switch (type) {
        case DataType::kFLOAT: fn(float{}); return true;
        case DataType::kHALF: fn(Half{}); return true;
        case DataType::kBF16: fn(BFloat16{}); return true;
        default: return false;
    }
}

class LinearAttentionKernel final : public Kernel {
public:
    /// `gated` / `delta`: the update rule's parts, whose decay / beta inputs the node has;
    /// `hasPast` / `hasPresent`: whether the node has the optional state input and output.
    LinearAttentionKernel(bool gated, bool delta, bool hasPast, bool hasPresent, int64_t qHeads, int64_t kvHeads, float scale)
        : mGated(gated), mDelta(delta), mHasPast(hasPast), mHasPresent(hasPresent), mQHeads(qHeads), mKvHeads(kvHeads),
          mScaleAttr(scale) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        auto bad = [&](const std::string& what) { return invalidArgument("cpu.linear_attention: " + what); };
        for (size_t i : {kQuery, kKey, kValue})
            if (in[i].shape.size() != 3) return bad("query, key and value must have rank 3");
        mBatch = in[kQuery].shape[0];
        mTime = in[kQuery].shape[1];
        if (in[kQuery].shape[2] % mQHeads != 0 || in[kValue].shape[2] % mKvHeads != 0)
            return bad("query's or value's last dimension is not a multiple of its head count");
        mDk = in[kQuery].shape[2] / mQHeads;
        mDv = in[kValue].shape[2] / mKvHeads;
        const Shape key{mBatch, mTime, mKvHeads * mDk}, value{mBatch, mTime, mKvHeads * mDv};
        if (in[kKey].shape != key || in[kValue].shape != value)
            return bad("key " + shapeToString(in[kKey].shape, true) + " and value " + shapeToString(in[kValue].shape, true) +
                       " do not fit query " + shapeToString(in[kQuery].shape, true));
        const Shape state{mBatch, mKvHeads, mDk, mDv};
        if (mHasPast && in[kPastState].shape != state)
            return bad("past_state has shape " + shapeToString(in[kPastState].shape, true) + ", expected " +
                       shapeToString(state, true));
        mDecayPerHead = false;
        if (mGated) {
            const Shape& d = in[kDecay].shape;
            mDecayPerHead = d == Shape{mBatch, mTime, mKvHeads};
            if (!mDecayPerHead && d != key)
                return bad("decay has shape " + shapeToString(d, true) + ", expected " + shapeToString(key, true) + " or " +
                           shapeToString(Shape{mBatch, mTime, mKvHeads}, true));
        }
        mBetaWidth = 0;
        if (mDelta) {
            const Shape& b = in[kBeta].shape;
            if (b.size() != 3 || b[0] != mBatch || b[1] != mTime || (b[2] != mKvHeads && b[2] != 1))
                return bad("beta has shape " + shapeToString(b, true) + ", expected (B, T, kv_num_heads) or (B, T, 1)");
            mBetaWidth = b[2];
        }
        if (out[0].shape != Shape{mBatch, mTime, mQHeads * mDv})
            return bad("output has shape " + shapeToString(out[0].shape, true));
        if (mHasPresent && out[1].shape != state)
            return bad("present_state has shape " + shapeToString(out[1].shape, true) + ", expected " + shapeToString(state, true));
        mStateType = mHasPast ? in[kPastState].dtype : in[kQuery].dtype;
        if (mHasPresent && out[1].dtype != mStateType)
            return bad(std::string("present_state is ") + dataTypeName(out[1].dtype) + ", the state " + dataTypeName(mStateType));
        // ONNX's default scale (attribute 0) is 1 / sqrt(d_k).
        mScale = mScaleAttr != 0.0f ? mScaleAttr : 1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(mDk, 1)));
        for (size_t i : {kKey, kValue, kDecay, kBeta})
            if ((i < kDecay || (i == kDecay ? mGated : mDelta)) && in[i].dtype != in[kQuery].dtype)
                return bad("inputs of different element types");
        mRun = nullptr;
        dispatchAttentionType(in[kQuery].dtype, [&](auto t) {
            dispatchAttentionType(mStateType, [&](auto s) { mRun = &LinearAttentionKernel::runTyped<decltype(t), decltype(s)>; });
        });
        if (!mRun)
            return unsupported(std::string("cpu.linear_attention: no kernel for ") + dataTypeName(in[kQuery].dtype) +
                               " inputs with a " + dataTypeName(mStateType) + " state");
        return Status::ok();
    }

    /// Per task (batch, KV head): its state, the current key, value and per-row decay factors.
    size_t workspaceSize() const override {
        return static_cast<size_t>(mBatch * mKvHeads * taskFloats()) * sizeof(float);
    }

    Status run(const KernelIO& io) override {
        if (!mRun) return internalError("cpu.linear_attention: run before reshape");
        (this->*mRun)(io);
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.linear_attention_recurrent"; }

private:
    int64_t taskFloats() const { return mDk * mDv + 2 * mDk + mDv; }

    template <typename T, typename S>
    void runTyped(const KernelIO& io) {
        const T* q = io.input(kQuery).as<const T>();
        const T* k = io.input(kKey).as<const T>();
        const T* v = io.input(kValue).as<const T>();
        const S* past = mHasPast ? io.input(kPastState).as<const S>() : nullptr;
        const T* decay = mGated ? io.input(kDecay).as<const T>() : nullptr;
        const T* beta = mDelta ? io.input(kBeta).as<const T>() : nullptr;
        T* y = io.output(0).as<T>();
        S* present = mHasPresent ? io.output(1).as<S>() : nullptr;
        const int64_t tasks = mBatch * mKvHeads, group = mQHeads / mKvHeads, dk = mDk, dv = mDv;
        const int64_t stateSize = dk * dv;
        auto* workspace = static_cast<float*>(io.workspace);
#pragma omp parallel for schedule(static) if (tasks > 1 && tasks * mTime * stateSize * (group + 2) >= 32768)
        for (int64_t task = 0; task < tasks; ++task) {
            const int64_t b = task / mKvHeads, h = task % mKvHeads;
            float* state = workspace + task * taskFloats();
            float* key = state + stateSize;
            float* factor = key + dk;
            float* update = factor + dk;
            for (int64_t e = 0; e < stateSize; ++e) state[e] = past ? loadFloat(past, task * stateSize + e) : 0.0f;
            for (int64_t t = 0; t < mTime; ++t) {
                const int64_t token = b * mTime + t;
                for (int64_t i = 0; i < dk; ++i) key[i] = loadFloat(k, (token * mKvHeads + h) * dk + i);
                for (int64_t m = 0; m < dv; ++m) update[m] = loadFloat(v, (token * mKvHeads + h) * dv + m);
                if (decay) {
                    for (int64_t i = 0; i < dk; ++i) {
                        const int64_t at = mDecayPerHead ? token * mKvHeads + h : (token * mKvHeads + h) * dk + i;
                        factor[i] = std::exp(loadFloat(decay, at));
                    }
                    for (int64_t i = 0; i < dk; ++i)
                        for (int64_t m = 0; m < dv; ++m) state[i * dv + m] *= factor[i];
                }
                if (beta) {
                    // The delta rule corrects the value by what the (decayed) state already recalls for this key.
                    const float rate = loadFloat(beta, token * mBetaWidth + (mBetaWidth == 1 ? 0 : h));
                    for (int64_t m = 0; m < dv; ++m) {
                        float recalled = 0;
                        for (int64_t i = 0; i < dk; ++i) recalled += state[i * dv + m] * key[i];
                        update[m] = rate * (update[m] - recalled);
                    }
                }
                for (int64_t i = 0; i < dk; ++i)
                    for (int64_t m = 0; m < dv; ++m) state[i * dv + m] += key[i] * update[m];
                for (int64_t g = 0; g < group; ++g) {
                    const int64_t hq = h * group + g;
                    const T* query = q + (token * mQHeads + hq) * dk;
                    T* row = y + (token * mQHeads + hq) * dv;
                    for (int64_t m = 0; m < dv; ++m) {
                        float sum = 0;
                        for (int64_t i = 0; i < dk; ++i) sum += loadFloat(query, i) * state[i * dv + m];
                        row[m] = storeFloat<T>(mScale * sum);
                    }
                }
            }
            if (present)
                for (int64_t e = 0; e < stateSize; ++e) present[task * stateSize + e] = storeFloat<S>(state[e]);
        }
    }

    bool mGated, mDelta, mHasPast, mHasPresent;
    int64_t mQHeads, mKvHeads;
    float mScaleAttr;  // the attribute; 0 asks for the default
    float mScale{1.0f};
    int64_t mBatch{0}, mTime{0}, mDk{0}, mDv{0};
    bool mDecayPerHead{false};
    int64_t mBetaWidth{0};
    DataType mStateType{DataType::kFLOAT};
    void (LinearAttentionKernel::*mRun)(const KernelIO&){nullptr};  // runTyped for the input and state types
};

}  // namespace

void registerLinearAttentionKernels(CpuKernelRegistry& registry) {
    registry.add({"LinearAttention",
                  [](const Node& node, std::string* reason) {
                      return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}, reason);
                  },
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      const std::string rule = node.attrs.getString("update_rule", "gated_delta");
                      if (rule != "linear" && rule != "gated" && rule != "delta" && rule != "gated_delta")
                          return invalidModel(node.describe() + ": update_rule '" + rule +
                                              "' is not one of linear, gated, delta, gated_delta");
                      const int64_t qHeads = node.attrs.getInt("q_num_heads", 0);
                      const int64_t kvHeads = node.attrs.getInt("kv_num_heads", 0);
                      if (qHeads <= 0 || kvHeads <= 0 || qHeads % kvHeads != 0)
                          return invalidModel(node.describe() + ": q_num_heads must be a positive multiple of kv_num_heads");
                      const bool gated = rule == "gated" || rule == "gated_delta";
                      const bool delta = rule == "delta" || rule == "gated_delta";
                      if (gated != (node.input(kDecay) != nullptr) || delta != (node.input(kBeta) != nullptr))
                          return invalidModel(node.describe() + ": the decay and beta inputs do not match update_rule '" + rule + "'");
                      const bool hasPresent = node.outputs.size() > 1 && node.outputs[1] != nullptr;
                      return std::unique_ptr<Kernel>(std::make_unique<LinearAttentionKernel>(
                          gated, delta, node.input(kPastState) != nullptr, hasPresent, qHeads, kvHeads,
                          node.attrs.getFloat("scale", 0.0f)));
                  },
                  ""});
}

}  // namespace kiln
