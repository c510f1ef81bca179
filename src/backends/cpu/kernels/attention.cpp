// CPU Attention: per (batch, query head), the scores scale * Q K^T come from sgemm in two column
// blocks of one score matrix, past keys then new ones, so a KV cache is never concatenated for the
// math; then per row softcap, the additive bias (attention_bias.cpp) and a numerically stable
// softmax; Y = P V the same way in two blocks. present_key/present_value are the byte-wise
// concatenation of past and new. float16/bfloat16 inputs are widened to float once and the outputs
// rounded once. Heads run in parallel, each thread with its own score rows in the workspace.

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/attention_layout.h"
#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/attention_parts.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

using cpu::AttentionBias;
using cpu::AttentionSizes;

constexpr size_t kQ = 0, kK = 1, kV = 2, kMask = 3, kPastKey = 4, kPastValue = 5, kNonpad = 6;
constexpr size_t kPresentKey = 1, kPresentValue = 2, kQkOutput = 3;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// What qk_matmul_output holds (ONNX qk_matmul_output_mode).
enum class QkStage { kScaled = 0, kSoftcapped = 1, kBiased = 2, kSoftmax = 3 };

bool isFloat16Family(DataType t) {
    return t == DataType::kHALF || t == DataType::kBF16;
}
bool isKernelType(DataType t) {
    return t == DataType::kFLOAT || isFloat16Family(t);
}

/// The tensor's elements as float: its own data when float, else widened into `scratch`.
const float* floatView(const TensorView& v, float* scratch) {
    const int64_t n = v.elementCount();
    if (v.dtype == DataType::kHALF) {
        for (int64_t i = 0; i < n; ++i) scratch[i] = static_cast<float>(v.as<const Half>()[i]);
        return scratch;
    }
    if (v.dtype == DataType::kBF16) {
        for (int64_t i = 0; i < n; ++i) scratch[i] = static_cast<float>(v.as<const BFloat16>()[i]);
        return scratch;
    }
    return v.as<const float>();
}

/// Writes n floats to `dst` (float, float16 or bfloat16) from element `at` on, rounding once.
void storeFloats(const float* src, int64_t n, const TensorView& dst, int64_t at) {
    if (dst.dtype == DataType::kHALF) {
        for (int64_t j = 0; j < n; ++j) dst.as<Half>()[at + j] = Half(src[j]);
    } else if (dst.dtype == DataType::kBF16) {
        for (int64_t j = 0; j < n; ++j) dst.as<BFloat16>()[at + j] = BFloat16(src[j]);
    } else {
        std::memcpy(dst.as<float>() + at, src, static_cast<size_t>(n) * sizeof(float));
    }
}

/// present = concat(past, new) along the sequence, in [batch, kv_heads, total, head_size]; the new
/// part in either layout. Element bytes are copied as they are: the cache keeps the input's type.
void writeCache(const TensorView* past, const HeadLayout& pastLayout, const TensorView& fresh,
                const HeadLayout& freshLayout, const TensorView& present) {
    const size_t bytes = dataTypeSize(present.dtype);
    const int64_t heads = freshLayout.heads, d = freshLayout.headSize, pastLen = past ? pastLayout.seq : 0;
    const int64_t total = pastLen + freshLayout.seq;
    auto* out = static_cast<unsigned char*>(present.data);
    const auto* in = static_cast<const unsigned char*>(fresh.data);
    for (int64_t b = 0; b < freshLayout.batch; ++b)
        for (int64_t h = 0; h < heads; ++h) {
            unsigned char* dst = out + static_cast<size_t>((b * heads + h) * total * d) * bytes;
            if (pastLen > 0)
                std::memcpy(dst,
                            static_cast<const unsigned char*>(past->data) +
                                static_cast<size_t>(pastLayout.offset(b, h)) * bytes,
                            static_cast<size_t>(pastLen * d) * bytes);
            for (int64_t s = 0; s < freshLayout.seq; ++s)
                std::memcpy(dst + static_cast<size_t>((pastLen + s) * d) * bytes,
                            in + static_cast<size_t>(freshLayout.offset(b, h) + s * freshLayout.rowStride()) * bytes,
                            static_cast<size_t>(d) * bytes);
        }
}

/// Softmax in place, accumulating in Acc; a row with no finite score gets zero probabilities.
template <typename Acc>
void softmaxRow(float* row, int64_t n) {
    float top = kNegInf;
    for (int64_t j = 0; j < n; ++j) top = std::max(top, row[j]);
    if (top == kNegInf) {
        std::fill(row, row + n, 0.0f);
        return;
    }
    Acc sum = 0;
    for (int64_t j = 0; j < n; ++j) {
        const Acc e = std::exp(static_cast<Acc>(row[j]) - static_cast<Acc>(top));
        row[j] = static_cast<float>(e);
        sum += e;
    }
    const Acc inverse = Acc(1) / sum;
    for (int64_t j = 0; j < n; ++j) row[j] = static_cast<float>(static_cast<Acc>(row[j]) * inverse);
}

/// Where the float copies of non-float inputs and the per-thread rows sit in the workspace (in floats).
struct WorkspacePlan {
    size_t q{0}, k{0}, v{0}, pastKey{0}, pastValue{0}, y{0}, rows{0};
    size_t rowsPerThread{0}, total{0};
};

class AttentionKernel : public Kernel {
public:
    explicit AttentionKernel(const Node& node)
        : mName(node.describe()),
          mScale(node.attrs.getFloat("scale")),
          mRules{node.attrs.getInt("is_causal", 0) != 0, node.attrs.getInt("left_window_size", -1),
                 node.attrs.getInt("right_window_size", -1)},
          mSoftcap(node.attrs.getFloat("softcap", 0.f)),
          mQHeads(node.attrs.getInt("q_num_heads", 0)),
          mKvHeads(node.attrs.getInt("kv_num_heads", 0)),
          mQkStage(static_cast<QkStage>(node.attrs.getInt("qk_matmul_output_mode", 0))),
          // softmax_precision DOUBLE (11) sums in double; float16/bfloat16 precisions get float's.
          mDoubleSoftmax(node.attrs.getInt("softmax_precision", 1) == 11),
          mHasMask(node.hasInput(kMask)),
          mHasPast(node.hasInput(kPastKey)),
          mHasNonpad(node.hasInput(kNonpad)),
          mHasPresentKey(node.output(kPresentKey) != nullptr),
          mHasPresentValue(node.output(kPresentValue) != nullptr),
          mHasQk(node.output(kQkOutput) != nullptr),
          mViews(decodeAttentionInputViews(node.attrs)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        // The constant folder evaluates without asking supportsAttention(), so the types are checked here too.
        for (size_t i : {kQ, kK, kV})
            if (!isKernelType(in[i].dtype))
                return unsupported(mName +
                                   ": the CPU Attention computes in float and takes float, float16 or bfloat16, not " +
                                   dataTypeName(in[i].dtype));
        KILN_RETURN_IF_ERROR(planLayouts(in, out));
        mSizes = {mQ.batch, mQ.heads, mK.heads, mQ.seq, mPastK.seq, mPastK.seq + mK.seq};
        KILN_RETURN_IF_ERROR(mBias.plan(mHasMask ? &in[kMask] : nullptr, mHasNonpad, mSizes, mRules, mName));
        if (mHasNonpad && in[kNonpad].shape != Shape{mSizes.batch})
            return invalidArgument(mName + ": nonpad_kv_seqlen " + shapeToString(in[kNonpad].shape) +
                                   " must hold one length per batch entry (" + std::to_string(mSizes.batch) + ")");
        planWorkspace(in, out);
        return Status::ok();
    }

    size_t workspaceSize() const override { return mWorkspace.total * sizeof(float); }

    Status run(const KernelIO& io) override {
        const int64_t* nonpad = mHasNonpad ? io.input(kNonpad).as<const int64_t>() : nullptr;
        for (int64_t b = 0; nonpad && b < mSizes.batch; ++b)
            if (nonpad[b] < 0 || nonpad[b] > mSizes.total)
                return invalidArgument(mName + ": nonpad_kv_seqlen[" + std::to_string(b) +
                                       "] = " + std::to_string(nonpad[b]) + " is outside [0, " +
                                       std::to_string(mSizes.total) + "]");
        const TensorView* pastKey = mHasPast ? &io.input(kPastKey) : nullptr;
        const TensorView* pastValue = mHasPast ? &io.input(kPastValue) : nullptr;
        if (mHasPresentKey) writeCache(pastKey, mPastK, io.input(kK), mK, io.output(kPresentKey));
        if (mHasPresentValue) writeCache(pastValue, mPastV, io.input(kV), mV, io.output(kPresentValue));
        if (mSizes.qSeq == 0 || mSizes.batch == 0 || mSizes.qHeads == 0) return Status::ok();

        auto* ws = static_cast<float*>(io.workspace);
        Operands o;
        // Q, K and V read by strides from one packed projection share it: widened once.
        const TensorView& q = io.input(kQ);
        auto sharesQ = [&](const TensorView& t) {
            return t.data == q.data && t.dtype == q.dtype && t.elementCount() == q.elementCount();
        };
        o.q = floatView(q, ws + mWorkspace.q);
        o.k = sharesQ(io.input(kK)) ? o.q : floatView(io.input(kK), ws + mWorkspace.k);
        o.v = sharesQ(io.input(kV)) ? o.q : floatView(io.input(kV), ws + mWorkspace.v);
        o.pastKey = pastKey ? floatView(*pastKey, ws + mWorkspace.pastKey) : nullptr;
        o.pastValue = pastValue ? floatView(*pastValue, ws + mWorkspace.pastValue) : nullptr;
        const TensorView& y = io.output(0);
        o.y = y.dtype == DataType::kFLOAT ? y.as<float>() : ws + mWorkspace.y;
        o.mask = mHasMask ? &io.input(kMask) : nullptr;
        o.nonpad = nonpad;
        o.qk = mHasQk ? &io.output(kQkOutput) : nullptr;
        o.scale = mScale ? *mScale : 1.0f / std::sqrt(static_cast<float>(mQ.headSize));

        const int64_t tasks = mSizes.batch * mSizes.qHeads;
#pragma omp parallel for schedule(static) if (tasks > 1)
        for (int64_t t = 0; t < tasks; ++t) {
            float* rows = ws + mWorkspace.rows + static_cast<size_t>(omp_get_thread_num()) * mWorkspace.rowsPerThread;
            runHead(o, t / mSizes.qHeads, t % mSizes.qHeads, rows);
        }
        if (y.dtype != DataType::kFLOAT) storeFloats(o.y, y.elementCount(), y, 0);
        return Status::ok();
    }

    std::string tacticName() const override {
        return "cpu.attention_sgemm_softmax_f32";
    }

private:
    /// One run's data, every float tensor already widened.
    struct Operands {
        const float *q{nullptr}, *k{nullptr}, *v{nullptr}, *pastKey{nullptr}, *pastValue{nullptr};
        float* y{nullptr};
        const TensorView* mask{nullptr};
        const int64_t* nonpad{nullptr};
        const TensorView* qk{nullptr};
        float scale{1.f};
    };

    Status planLayouts(const std::vector<TensorView>& in, const std::vector<TensorView>& out) {
        if (!mViews.error.empty()) return invalidArgument(mName + ": " + mViews.error);
        KILN_ASSIGN_OR_RETURN(AttentionLayouts l, attentionLayouts(mName, in[kQ].shape, in[kK].shape, in[kV].shape,
                                                                   out[0].shape, mQHeads, mKvHeads, mViews.views));
        mQ = l.q;
        mK = l.k;
        mV = l.v;
        mY = l.y;
        mPastK = headLayoutOf(Shape{mK.batch, mK.heads, 0, mK.headSize}, 0);
        mPastV = headLayoutOf(Shape{mV.batch, mV.heads, 0, mV.headSize}, 0);
        if (mHasPast) {
            const Shape& pk = in[kPastKey].shape;
            const Shape& pv = in[kPastValue].shape;
            if (pk.size() != 4 || pv.size() != 4 || pk[0] != mK.batch || pk[1] != mK.heads || pk[3] != mK.headSize ||
                pv[0] != mV.batch || pv[1] != mV.heads || pv[2] != pk[2] || pv[3] != mV.headSize)
                return invalidArgument(mName + ": past_key " + shapeToString(pk) + " and past_value " +
                                       shapeToString(pv) + " do not fit K and V (batch, kv_heads, past, head_size)");
            mPastK = headLayoutOf(pk, 0);
            mPastV = headLayoutOf(pv, 0);
        }
        return Status::ok();
    }

    void planWorkspace(const std::vector<TensorView>& in, const std::vector<TensorView>& out) {
        WorkspacePlan& w = mWorkspace;
        w.total = 0;
        auto reserve = [&](const TensorView* v) {
            const size_t at = w.total;
            if (v && isFloat16Family(v->dtype)) w.total += static_cast<size_t>(v->elementCount());
            return at;
        };
        w.q = reserve(&in[kQ]);
        w.k = reserve(&in[kK]);
        w.v = reserve(&in[kV]);
        w.pastKey = reserve(mHasPast ? &in[kPastKey] : nullptr);
        w.pastValue = reserve(mHasPast ? &in[kPastValue] : nullptr);
        w.y = reserve(&out[0]);
        // Per thread: the head's score matrix [q_seq, total] and one bias row.
        w.rowsPerThread = static_cast<size_t>((mSizes.qSeq + 1) * mSizes.total);
        w.rows = w.total;
        w.total += static_cast<size_t>(std::max(1, omp_get_max_threads())) * w.rowsPerThread;
    }

    /// scores[:, 0:keys) (row stride total) = scale * Q K^T for one block of keys.
    void scoreBlock(const float* q, const float* k, int64_t kStride, int64_t keys, float scale, float* scores) const {
        const int64_t sq = mSizes.qSeq, total = mSizes.total, d = mQ.headSize;
        if (keys == 0) return;
        if (d == 0) {  // empty dot products
            for (int64_t i = 0; i < sq; ++i) std::fill(scores + i * total, scores + i * total + keys, 0.f);
            return;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(sq), static_cast<int>(keys),
                    static_cast<int>(d), scale, q, static_cast<int>(mQ.rowStride()), k, static_cast<int>(kStride), 0.0f,
                    scores, static_cast<int>(total));
    }

    /// y (+)= P[:, 0:keys) V for one block of keys; `accumulate` adds to the previous block's result.
    void valueBlock(const float* probs, const float* v, int64_t vStride, int64_t keys, bool accumulate,
                    float* y) const {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(mSizes.qSeq),
                    static_cast<int>(mV.headSize), static_cast<int>(keys), 1.0f, probs, static_cast<int>(mSizes.total),
                    v, static_cast<int>(vStride), accumulate ? 1.0f : 0.0f, y, static_cast<int>(mY.rowStride()));
    }

    void runHead(const Operands& o, int64_t b, int64_t h, float* rows) const {
        const int64_t sq = mSizes.qSeq, total = mSizes.total, past = mSizes.past, fresh = mK.seq;
        const int64_t hk = h / (mSizes.qHeads / mSizes.kvHeads);
        float* scores = rows;
        float* bias = rows + sq * total;
        const float* q = o.q + mQ.offset(b, h);
        if (past > 0) scoreBlock(q, o.pastKey + mPastK.offset(b, hk), mPastK.rowStride(), past, o.scale, scores);
        scoreBlock(q, o.k + mK.offset(b, hk), mK.rowStride(), fresh, o.scale, scores + past);

        for (int64_t i = 0; i < sq; ++i) {
            float* row = scores + i * total;
            const int64_t qkAt = ((b * mSizes.qHeads + h) * sq + i) * total;
            if (o.qk && mQkStage == QkStage::kScaled) storeFloats(row, total, *o.qk, qkAt);
            // softcap bends the scores before any mask, so -inf stays -inf.
            if (mSoftcap > 0.f)
                for (int64_t j = 0; j < total; ++j) row[j] = mSoftcap * std::tanh(row[j] / mSoftcap);
            if (o.qk && mQkStage == QkStage::kSoftcapped) storeFloats(row, total, *o.qk, qkAt);
            const bool anyKey = mBias.fill(o.mask, o.nonpad, b, h, i, bias);
            for (int64_t j = 0; j < total; ++j) row[j] += bias[j];
            if (o.qk && mQkStage == QkStage::kBiased) storeFloats(row, total, *o.qk, qkAt);
            if (!anyKey)
                std::fill(row, row + total, 0.f);
            else if (mDoubleSoftmax)
                softmaxRow<double>(row, total);
            else
                softmaxRow<float>(row, total);
            if (o.qk && mQkStage == QkStage::kSoftmax) storeFloats(row, total, *o.qk, qkAt);
        }

        float* y = o.y + mY.offset(b, h);
        if (mV.headSize == 0) return;
        if (total == 0) {  // no keys at all: every row is fully masked
            for (int64_t i = 0; i < sq; ++i)
                std::fill(y + i * mY.rowStride(), y + i * mY.rowStride() + mV.headSize, 0.f);
            return;
        }
        if (past > 0) valueBlock(scores, o.pastValue + mPastV.offset(b, hk), mPastV.rowStride(), past, false, y);
        if (fresh > 0) valueBlock(scores + past, o.v + mV.offset(b, hk), mV.rowStride(), fresh, past > 0, y);
    }

    std::string mName;
    std::optional<float> mScale;
    AttentionBias::Rules mRules;
    float mSoftcap;  // 0: none
    int64_t mQHeads, mKvHeads;
    QkStage mQkStage;
    bool mDoubleSoftmax;
    bool mHasMask, mHasPast, mHasNonpad, mHasPresentKey, mHasPresentValue, mHasQk;
    DecodedAttentionInputViews mViews;
    HeadLayout mQ{}, mK{}, mV{}, mPastK{}, mPastV{}, mY{};
    AttentionSizes mSizes;
    AttentionBias mBias;
    WorkspacePlan mWorkspace;
};

bool supportsAttention(const Node& node, std::string* reason) {
    // float64 would lose precision in this kernel's float arithmetic; the other types widen exactly.
    for (size_t i : {kQ, kK, kV})
        if (!inputTypeIsOneOf(node, i, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}, reason)) return false;
    return true;
}

}  // namespace

void registerAttentionKernels(CpuKernelRegistry& registry) {
    registry.add({"Attention", supportsAttention,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(new AttentionKernel(node));
                  },
                  ""});
}

}  // namespace kiln
