// Attention (ONNX opset 23, as the builder's attention fusion makes it) on float: Y = softmax(scale *
// Q K^T + mask) V, with the mask additive (float) or a keep-flag (bool), broadcast to [batch, heads, q,
// k]; causal masking; grouped-query heads; 4-D [batch, heads, seq, head] or 3-D [batch, seq, heads *
// head] layouts. One block per (query row, head, batch): the scores row lives in shared memory, so a
// key sequence of up to kMaxKeys fits. A plain, exact kernel: the fused flash-attention kernel is the
// speed issue's.

#include <cfloat>
#include <cmath>
#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

constexpr int kAttentionBlock = 128;
constexpr int64_t kMaxKeys = 8192;
constexpr int64_t kMaxHeadSize = 1024;

/// Where element (b, h, s, 0) of a Q/K/V/Y tensor starts, and the stride between rows s.
struct HeadLayout {
    int64_t batch{0}, heads{0}, seq{0}, headSize{0};
    bool packed{false};  // 3-D [batch, seq, heads * headSize]
    __host__ __device__ int64_t offset(int64_t b, int64_t h) const {
        return packed ? b * seq * heads * headSize + h * headSize : ((b * heads + h) * seq) * headSize;
    }
    __host__ __device__ int64_t rowStride() const { return packed ? heads * headSize : headSize; }
};

HeadLayout layoutOf(const Shape& s, int64_t numHeads) {
    if (s.size() == 4) return {s[0], s[1], s[2], s[3], false};
    return {s[0], numHeads, s[1], numHeads > 0 ? s[2] / numHeads : 0, true};
}

/// The mask's element strides along [batch, heads, q, k] (0 where it broadcasts).
struct MaskLayout {
    bool present{false};
    bool isBool{false};
    int64_t strides[4]{};
};

struct AttentionParams {
    HeadLayout q, k, v, y;
    MaskLayout mask;
    float scale{1.f};
    bool causal{false};
};

__global__ void attentionRowKernel(const float* q, const float* k, const float* v, const void* mask, float* y,
                                   AttentionParams p) {
    extern __shared__ float shared[];
    float* qRow = shared;                       // headSize
    float* scores = qRow + p.q.headSize;         // k.seq
    float* scratch = scores + p.k.seq;           // kAttentionBlock / 32 + 1
    const int64_t i = blockIdx.x;
    const int64_t h = blockIdx.y;
    const int64_t b = blockIdx.z;
    const int64_t hk = h / (p.q.heads / p.k.heads);
    const int64_t sk = p.k.seq;
    const int64_t causalOffset = 0;  // without a KV cache ONNX aligns the causal mask top-left, as the CPU backend

    const float* qi = q + p.q.offset(b, h) + i * p.q.rowStride();
    for (int64_t d = threadIdx.x; d < p.q.headSize; d += kAttentionBlock) qRow[d] = qi[d] * p.scale;
    __syncthreads();

    float localMax = -INFINITY;
    const float* kb = k + p.k.offset(b, hk);
    for (int64_t j = threadIdx.x; j < sk; j += kAttentionBlock) {
        const float* kj = kb + j * p.k.rowStride();
        float s = 0.f;
        for (int64_t d = 0; d < p.q.headSize; ++d) s += qRow[d] * kj[d];
        if (p.mask.present) {
            const int64_t m = b * p.mask.strides[0] + h * p.mask.strides[1] + i * p.mask.strides[2] + j * p.mask.strides[3];
            if (p.mask.isBool) {
                if (!static_cast<const bool*>(mask)[m]) s = -INFINITY;
            } else {
                s += static_cast<const float*>(mask)[m];
            }
        }
        if (p.causal && j > i + causalOffset) s = -INFINITY;
        scores[j] = s;
        localMax = fmaxf(localMax, s);
    }
    const float rowMax = blockMax<kAttentionBlock>(localMax, scratch);
    float localSum = 0.f;
    for (int64_t j = threadIdx.x; j < sk; j += kAttentionBlock) {
        // A row masked everywhere has no distribution: its weights are all zero.
        const float e = rowMax == -INFINITY ? 0.f : expf(scores[j] - rowMax);
        scores[j] = e;
        localSum += e;
    }
    const float sum = blockSum<kAttentionBlock>(localSum, scratch);  // its barriers publish scores[]
    const float inverse = sum > 0.f ? 1.f / sum : 0.f;

    const float* vb = v + p.v.offset(b, hk);
    float* yi = y + p.y.offset(b, h) + i * p.y.rowStride();
    for (int64_t d = threadIdx.x; d < p.v.headSize; d += kAttentionBlock) {
        float acc = 0.f;
        for (int64_t j = 0; j < sk; ++j) acc += scores[j] * vb[j * p.v.rowStride() + d];
        yi[d] = acc * inverse;
    }
}

class AttentionKernel : public Kernel {
public:
    explicit AttentionKernel(const Node& node)
        : mScaleAttr(node.attrs.getFloat("scale")),
          mCausal(node.attrs.getInt("is_causal", 0) != 0),
          mQHeads(node.attrs.getInt("q_num_heads", 0)),
          mKvHeads(node.attrs.getInt("kv_num_heads", 0)),
          mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        AttentionParams& p = mParams;
        p.q = layoutOf(in[0].shape, mQHeads);
        p.k = layoutOf(in[1].shape, mKvHeads);
        p.v = layoutOf(in[2].shape, mKvHeads);
        p.y = layoutOf(out[0].shape, mQHeads);
        if (p.q.headSize != p.k.headSize || p.k.seq != p.v.seq || p.k.heads != p.v.heads || p.k.heads == 0 ||
            p.q.heads % p.k.heads != 0 || p.q.batch != p.k.batch || p.y.headSize != p.v.headSize)
            return invalidArgument(mName + ": Q " + shapeToString(in[0].shape) + ", K " + shapeToString(in[1].shape) +
                                   ", V " + shapeToString(in[2].shape) + " do not fit together");
        if (p.k.seq > kMaxKeys || p.q.headSize > kMaxHeadSize)
            return unsupported(mName + ": the CUDA Attention holds at most " + std::to_string(kMaxKeys) +
                               " keys and head size " + std::to_string(kMaxHeadSize));
        if (p.q.seq > INT32_MAX || p.q.heads > 65535 || p.q.batch > 65535)
            return unsupported(mName + ": too many rows, heads or batches for one launch");
        p.scale = mScaleAttr ? *mScaleAttr : 1.0f / std::sqrt(static_cast<float>(p.q.headSize));
        p.causal = mCausal;
        p.mask = MaskLayout{};
        if (in.size() > 3 && (in[3].data != nullptr || !in[3].shape.empty())) {
            KILN_RETURN_IF_ERROR(planMask(in[3]));
        }
        mEmpty = out[0].elementCount() == 0 || p.k.seq == 0;
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mEmpty) return Status::ok();
        const AttentionParams& p = mParams;
        const size_t shared = static_cast<size_t>(p.q.headSize + p.k.seq + kAttentionBlock / 32 + 1) * sizeof(float);
        if (shared > 48 * 1024)
            KILN_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(attentionRowKernel,
                                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                           static_cast<int>(shared)));
        const dim3 grid(static_cast<unsigned>(p.q.seq), static_cast<unsigned>(p.q.heads),
                        static_cast<unsigned>(p.q.batch));
        attentionRowKernel<<<grid, kAttentionBlock, shared, static_cast<cudaStream_t>(io.stream)>>>(
            static_cast<const float*>(io.input(0).data), static_cast<const float*>(io.input(1).data),
            static_cast<const float*>(io.input(2).data), p.mask.present ? io.input(3).data : nullptr,
            static_cast<float*>(io.output(0).data), p);
        return launchStatus("attentionRowKernel");
    }

    std::string tacticName() const override { return "cuda.attention_rowwise_f32"; }

private:
    Status planMask(const TensorView& mask) {
        const Shape& s = mask.shape;
        if (s.size() > 4) return invalidArgument(mName + ": the mask has rank " + std::to_string(s.size()) + " > 4");
        if (mask.dtype != DataType::kFLOAT && mask.dtype != DataType::kBOOL)
            return unsupported(mName + ": the mask must be float or bool");
        const int64_t full[4] = {mParams.q.batch, mParams.q.heads, mParams.q.seq, mParams.k.seq};
        MaskLayout& m = mParams.mask;
        m.present = true;
        m.isBool = mask.dtype == DataType::kBOOL;
        int64_t stride = 1;
        for (int64_t d = static_cast<int64_t>(s.size()) - 1; d >= 0; --d) {
            const int64_t axis = 4 - static_cast<int64_t>(s.size()) + d;
            const int64_t extent = s[static_cast<size_t>(d)];
            if (axis == 3 && extent < full[3])
                return unsupported(mName + ": the CUDA Attention has no attn_mask shorter than the keys (padded)");
            if (extent != 1 && extent != full[axis])
                return invalidArgument(mName + ": mask " + shapeToString(s) + " does not broadcast to the scores");
            m.strides[axis] = extent == 1 ? 0 : stride;
            stride *= extent;
        }
        return Status::ok();
    }

    std::optional<float> mScaleAttr;
    bool mCausal;
    int64_t mQHeads;
    int64_t mKvHeads;
    std::string mName;
    AttentionParams mParams;
    bool mEmpty{false};
};

bool attentionSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 3, {DataType::kFLOAT}, reason)) return false;
    for (size_t i = 4; i < node.inputs.size(); ++i) {
        if (node.inputs[i]) {
            if (reason) *reason = "the CUDA Attention has no KV cache (past_key/past_value) and no nonpad_kv_seqlen";
            return false;
        }
    }
    for (size_t i = 1; i < node.outputs.size(); ++i) {
        if (node.outputs[i]) {
            if (reason)
                *reason = "the CUDA Attention computes output Y only (no present_key/present_value/qk_matmul_output)";
            return false;
        }
    }
    if (const Value* mask = node.input(3)) {
        if (mask->dtype != DataType::kFLOAT && mask->dtype != DataType::kBOOL) {
            if (reason) *reason = "the CUDA Attention takes float or bool masks only";
            return false;
        }
        // ONNX pads a mask's key axis shorter than the keys with "masked"; this kernel only broadcasts.
        const Value* k = node.input(1);
        const Dim keys = k->shape.size() == 4 ? k->shape[2] : k->shape.size() == 3 ? k->shape[1] : Dim::unknown();
        if (mask->shape.empty() ||
            (mask->shape.back().isKnown() && keys.isKnown() && mask->shape.back().value < keys.value)) {
            if (reason) *reason = "the CUDA Attention has no attn_mask shorter than the keys (padded) or of rank 0";
            return false;
        }
    }
    if (node.attrs.getFloat("softcap", 0.f) != 0.f) {
        if (reason) *reason = "the CUDA Attention has no softcap";
        return false;
    }
    if (node.attrs.getInt("left_window_size", -1) != -1 || node.attrs.getInt("right_window_size", -1) != -1) {
        if (reason) *reason = "the CUDA Attention has no sliding window";
        return false;
    }
    if (node.attrs.getInt("softmax_precision", 1) != 1) {
        if (reason) *reason = "the CUDA Attention computes its softmax in float only";
        return false;
    }
    return true;
}

}  // namespace

void registerAttentionKernels(CudaKernelRegistry& registry) {
    registry.add({"Attention", attentionSupported,
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<AttentionKernel>(node));
                  }});
}

}  // namespace kiln::cuda
