// CPU Attention: per (batch, query head), scores = scale * Q K^T (sgemm), softcap, plus the mask,
// causal and sliding-window biases, a numerically stable softmax per row, then Y = P V (sgemm). Heads run in parallel, each
// with its own score rows in the workspace.

#include <cblas.h>
#include <omp.h>

#include <cmath>
#include <limits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

/// Where element (b, h, s, 0) of a Q/K/V/Y tensor starts, and the stride between rows s.
struct HeadLayout {
    int64_t batch, heads, seq, headSize;
    bool packed;  // 3-D [batch, seq, heads * headSize]
    int64_t offset(int64_t b, int64_t h) const {
        return packed ? b * seq * heads * headSize + h * headSize : ((b * heads + h) * seq) * headSize;
    }
    int64_t rowStride() const { return packed ? heads * headSize : headSize; }
};

HeadLayout layoutOf(const Shape& s, int64_t numHeads) {
    if (s.size() == 4) return {s[0], s[1], s[2], s[3], false};
    return {s[0], numHeads, s[1], numHeads > 0 ? s[2] / numHeads : 0, true};
}

class AttentionKernel : public Kernel {
public:
    explicit AttentionKernel(const Node& node)
        : mScale(node.attrs.getFloat("scale")),
          mCausal(node.attrs.getInt("is_causal", 0) != 0),
          mSoftcap(node.attrs.getFloat("softcap", 0.f)),
          mLeftWindow(node.attrs.getInt("left_window_size", -1)),
          mRightWindow(node.attrs.getInt("right_window_size", -1)),
          mQHeads(node.attrs.getInt("q_num_heads", 0)),
          mKvHeads(node.attrs.getInt("kv_num_heads", 0)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        mQ = layoutOf(in[0].shape, mQHeads);
        mK = layoutOf(in[1].shape, mKvHeads);
        mV = layoutOf(in[2].shape, mKvHeads);
        mY = layoutOf(out[0].shape, mQHeads);
        if (mQ.headSize != mK.headSize || mK.seq != mV.seq || mK.heads != mV.heads || mK.heads == 0 ||
            mQ.heads % mK.heads != 0 || mQ.batch != mK.batch)
            return invalidArgument("Attention: Q " + shapeToString(in[0].shape) + ", K " + shapeToString(in[1].shape) +
                                   ", V " + shapeToString(in[2].shape) + " do not fit together");
        mThreads = static_cast<size_t>(std::max(1, omp_get_max_threads()));
        return Status::ok();
    }

    size_t workspaceSize() const override {
        return mThreads * static_cast<size_t>(mQ.seq * mK.seq) * sizeof(float);
    }

    Status run(const KernelIO& io) override {
        const float* q = io.input(0).as<float>();
        const float* k = io.input(1).as<float>();
        const float* v = io.input(2).as<float>();
        float* y = io.output(0).as<float>();
        const TensorView* mask = io.hasInput(3) ? &io.input(3) : nullptr;
        float scale = mScale ? *mScale : 1.0f / std::sqrt(static_cast<float>(mQ.headSize));
        int64_t groups = mQ.heads / mK.heads;
        int64_t sq = mQ.seq, sk = mK.seq;
        // Without a KV cache ONNX aligns the causal mask top-left: query i sees keys 0..i.
        const int64_t causalOffset = 0;
        auto* workspace = static_cast<float*>(io.workspace);
        int64_t tasks = mQ.batch * mQ.heads;
#pragma omp parallel for schedule(static) if (tasks > 1)
        for (int64_t t = 0; t < tasks; ++t) {
            int64_t b = t / mQ.heads, h = t % mQ.heads, hk = h / groups;
            float* scores = workspace + static_cast<size_t>(omp_get_thread_num()) * static_cast<size_t>(sq * sk);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(sq), static_cast<int>(sk),
                        static_cast<int>(mQ.headSize), scale, q + mQ.offset(b, h), static_cast<int>(mQ.rowStride()),
                        k + mK.offset(b, hk), static_cast<int>(mK.rowStride()), 0.0f, scores, static_cast<int>(sk));
            for (int64_t i = 0; i < sq; ++i) {
                float* row = scores + i * sk;
                // softcap bends the scores before any mask, so -inf stays -inf.
                if (mSoftcap > 0.f)
                    for (int64_t j = 0; j < sk; ++j) row[j] = mSoftcap * std::tanh(row[j] / mSoftcap);
                if (mask) addMask(*mask, b, h, i, row, sk);
                // Sliding window: query i sees keys i - left .. i + right (either side unbounded at -1).
                for (int64_t j = 0; j < sk; ++j)
                    if ((mLeftWindow >= 0 && j < i - mLeftWindow) || (mRightWindow >= 0 && j > i + mRightWindow))
                        row[j] = -std::numeric_limits<float>::infinity();
                if (mCausal)
                    for (int64_t j = std::max<int64_t>(0, i + causalOffset + 1); j < sk; ++j)
                        row[j] = -std::numeric_limits<float>::infinity();
                softmaxRow(row, sk);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(sq), static_cast<int>(mV.headSize),
                        static_cast<int>(sk), 1.0f, scores, static_cast<int>(sk), v + mV.offset(b, hk),
                        static_cast<int>(mV.rowStride()), 0.0f, y + mY.offset(b, h), static_cast<int>(mY.rowStride()));
        }
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.attention_sgemm_softmax_f32"; }

private:
    /// Adds mask row (b, h, i) (broadcast from the right to [batch, heads, sq, sk]).
    void addMask(const TensorView& mask, int64_t b, int64_t h, int64_t i, float* row, int64_t sk) const {
        const Shape& s = mask.shape;
        int64_t r = static_cast<int64_t>(s.size());
        int64_t idx[4] = {b, h, i, 0};
        int64_t offset = 0, stride = 1;
        int64_t colStride = 0;
        for (int64_t d = r - 1; d >= 0; --d) {
            int64_t full = 4 - r + d;
            int64_t extent = s[static_cast<size_t>(d)];
            if (full == 3) colStride = extent == 1 ? 0 : stride;
            else if (extent != 1) offset += idx[full] * stride;
            stride *= extent;
        }
        if (mask.dtype == DataType::kBOOL) {
            const bool* m = mask.as<bool>() + offset;
            for (int64_t j = 0; j < sk; ++j)
                if (!m[j * colStride]) row[j] = -std::numeric_limits<float>::infinity();
        } else {
            const float* m = mask.as<float>() + offset;
            for (int64_t j = 0; j < sk; ++j) row[j] += m[j * colStride];
        }
    }

    /// Softmax in place; a row masked out entirely becomes zeros rather than NaN.
    static void softmaxRow(float* row, int64_t n) {
        float maxValue = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) maxValue = std::max(maxValue, row[j]);
        if (maxValue == -std::numeric_limits<float>::infinity()) {
            std::fill(row, row + n, 0.0f);
            return;
        }
        float sum = 0;
        for (int64_t j = 0; j < n; ++j) {
            row[j] = std::exp(row[j] - maxValue);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
    }

    std::optional<float> mScale;
    bool mCausal;
    float mSoftcap;  // 0: none
    int64_t mLeftWindow, mRightWindow;  // -1: unbounded
    int64_t mQHeads, mKvHeads;
    HeadLayout mQ{}, mK{}, mV{}, mY{};
    size_t mThreads{1};
};

bool supportsAttention(const Node& node, std::string* reason) {
    auto fail = [&](const std::string& why) {
        if (reason) *reason = why;
        return false;
    };
    for (size_t i = 0; i < 3; ++i)
        if (!inputTypeIsOneOf(node, i, {DataType::kFLOAT}, reason)) return false;
    if (node.hasInput(3) && !inputTypeIsOneOf(node, 3, {DataType::kFLOAT, DataType::kBOOL}, reason)) return false;
    if (node.hasInput(3) && node.input(3)->shape.size() > 4) return fail("attn_mask of rank > 4");
    if (node.hasInput(4) || node.hasInput(5) || node.hasInput(6))
        return fail("past_key / past_value / nonpad_kv_seqlen inputs are not supported by the CPU kernel yet");
    for (size_t i = 1; i < node.outputs.size(); ++i)
        if (node.outputs[i]) return fail("the optional outputs present_key / present_value / qk_matmul_output are not supported yet");
    if (node.attrs.getFloat("softcap", 0.f) < 0.f) return fail("softcap must be >= 0");
    if (node.attrs.getInt("left_window_size", -1) < -1 || node.attrs.getInt("right_window_size", -1) < -1)
        return fail("window sizes must be -1 (unbounded) or >= 0");
    if (node.attrs.has("softmax_precision") && node.attrs.getInt("softmax_precision", 1) != 1)
        return fail("softmax_precision other than float is not supported yet");
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
