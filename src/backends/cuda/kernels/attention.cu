// Attention (ONNX opset 23/24) on float, float16 and bfloat16, every form the CPU backend's kernel
// (backends/cpu/kernels/attention.cpp) handles: Y = softmax(bias + softcap(scale * Q K^T)) V with
//  - 4-D [batch, heads, seq, head] or 3-D [batch, seq, heads * head] layouts, grouped-query heads;
//  - a KV cache: the scores run over past_key's keys and then K's, never concatenated for the math;
//    present_key / present_value are that concatenation, written by a copy kernel;
//  - the bias of attention_bias.cpp: attn_mask (bool keep-flags or float/float16/bfloat16/double
//    values, right-aligned to [batch, q_heads, q_seq, keys], its key axis padded with "masked" when
//    shorter), the causal frontier, the sliding window and nonpad_kv_seqlen, each placed at the
//    query's absolute position (past length, or nonpad_kv_seqlen[b] - q_seq with an external cache);
//  - qk_matmul_output at any of its four stages, softmax_precision DOUBLE (the softmax sums in double);
//  - a row no key may attend (decided on the bias, as ONNX does) gets zero probabilities.
// One block per (query row, head, batch): the score row lives in shared memory (up to kMaxKeys keys),
// each warp takes one key's dot product at a time (lanes split the head, so the key row is read
// coalesced), the softmax is a block reduction and P V gives each thread one output feature. Math is
// in float (fp32 accumulation whatever the storage type); outputs round once. A plain, exact kernel.
//
// Its tactics: where cuDNN's fused attention computes the node (attention_cudnn.h: float16 / bfloat16,
// no KV cache, ...), cuDNN's execution plans come first, then Kiln's flash attention where it computes
// the node (attention_flash.h: a subset of cuDNN's forms, head sizes 64 and 128), its tiled form and
// then its persistent form (where the device has the persistent form's shared memory), and this row
// kernel last. Plan 0, cuDNN's heuristics' choice, is the default: a flash-attention kernel on the
// tensor cores is many times faster than one block per query row wherever attention costs anything
// (BERT-base FP16 spent 65 % of its time here), and an engine built without timing
// (--builderOptimizationLevel=0) should get it. The row kernel stays a timed candidate for the shapes
// it wins (a few short rows), and runs whenever cuDNN takes no plan or a run's addresses are not
// aligned for cuDNN's vector loads. As the convolution's plans do (conv.cpp), the builder lists up to
// kTacticSearchAttribute plans and records the fastest tactic's state (kTacticAttribute), which the
// engine's kernel rebuilds alone; a state cuDNN no longer builds falls back to the heuristics' plan.
//
// nonpad_kv_seqlen lives on the device: a value outside [0, keys] (the CPU backend reports it) is
// clamped there rather than read past the keys, since a kernel cannot report without a host sync.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/attention_layout.h"
#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/attention_cudnn.h"
#include "backends/cuda/kernels/attention_flash.h"
#include "backends/cuda/kernels/attention_mask.cuh"
#include "backends/cuda/kernels/block_reduce.cuh"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"

namespace kiln::cuda {

namespace {

constexpr size_t kQ = 0, kK = 1, kV = 2, kMask = 3, kPastKey = 4, kPastValue = 5, kNonpad = 6;
constexpr size_t kPresentKey = 1, kPresentValue = 2, kQkOutput = 3;

constexpr int kAttentionBlock = 128;
constexpr int kWarps = kAttentionBlock / 32;
// The score row and the query row share the block's dynamic shared memory: 32768 keys take 128 KiB
// of the 227 KiB an sm_90 block may have.
constexpr int64_t kMaxKeys = 32768;
constexpr int64_t kMaxHeadSize = 1024;

using AttentionTypes = DeviceTypes<float, __half, __nv_bfloat16>;

/// The tactic states of the row kernel and the flash kernel's two forms: lone words, which no cuDNN plan
/// state is (theirs hold a graph kind and an engine id).
constexpr int64_t kRowKernelTactic = 1;
constexpr int64_t kFlashKernelTactic = 2;
constexpr int64_t kFlashPersistentKernelTactic = 3;

/// Which kernel computes the node.
enum class AttentionRunner { kCudnn, kFlash, kFlashPersistent, kRow };

/// What qk_matmul_output holds (ONNX qk_matmul_output_mode); kNone when the output is absent.
enum class QkStage : int { kNone = -1, kScaled = 0, kSoftcapped = 1, kBiased = 2, kSoftmax = 3 };

struct AttentionParams {
    HeadLayout q, k, v, pastK, pastV, y;
    int64_t group{1};  // query heads per KV head
    int64_t past{0};   // keys from past_key, before K's
    int64_t total{0};  // past + new keys: the score row's length
    MaskType maskType{MaskType::kNone};
    int64_t maskKeys{0};        // extent of the mask's key axis (<= total)
    int64_t maskStrides[3]{};   // element strides along batch, query head, query row (0: broadcast)
    bool causal{false};
    int64_t leftWindow{-1}, rightWindow{-1};  // -1: unbounded on that side
    bool hasNonpad{false};
    float scale{1.f};
    float softcap{0.f};  // 0: none
    QkStage qkStage{QkStage::kNone};
    bool doubleSoftmax{false};
};

__device__ __forceinline__ float warpSum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

/// The tensors of one launch; absent optional ones are null.
template <typename T>
struct AttentionOperands {
    const T *q, *k, *v, *pastK, *pastV;
    const void* mask;
    const int64_t* nonpad;
    T* y;
    T* qk;  // qk_matmul_output
};

template <typename T>
__global__ void __launch_bounds__(kAttentionBlock) attentionRowKernel(AttentionOperands<T> o, AttentionParams p) {
    extern __shared__ double sharedWords[];  // double: the softmax may reduce in double
    double* scratch = sharedWords;           // kWarps + 1
    float* qRow = reinterpret_cast<float*>(scratch + kWarps + 1);  // q.headSize
    float* scores = qRow + p.q.headSize;                            // total
    const int64_t i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int64_t hk = h / p.group;
    const int64_t total = p.total, d = p.q.headSize;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    const T* qi = o.q + p.q.offset(b, h) + i * p.q.rowStride();
    for (int64_t e = threadIdx.x; e < d; e += kAttentionBlock) qRow[e] = load(qi[e]) * p.scale;

    // The keys the causal and window rules and nonpad_kv_seqlen leave this row: [first, end).
    const int64_t nonpad = p.hasNonpad ? min(max(o.nonpad[b], int64_t{0}), total) : 0;
    const int64_t position = i + (p.hasNonpad ? nonpad - p.q.seq : p.past);
    int64_t first = 0, end = total;
    if (p.causal) end = min(end, position + 1);
    if (p.rightWindow >= 0) end = min(end, position + p.rightWindow + 1);
    if (p.leftWindow >= 0) first = max(first, position - p.leftWindow);
    if (p.hasNonpad) end = min(end, nonpad);
    first = min(max(first, int64_t{0}), total);
    end = min(max(end, first), total);
    const int64_t maskAt = b * p.maskStrides[0] + h * p.maskStrides[1] + i * p.maskStrides[2];
    T* qkRow = o.qk ? o.qk + ((b * p.q.heads + h) * p.q.seq + i) * total : nullptr;
    __syncthreads();  // qRow

    float localMax = -INFINITY;
    int anyKey = 0;
    const T* pastKeys = o.pastK ? o.pastK + p.pastK.offset(b, hk) : nullptr;
    const T* newKeys = o.k + p.k.offset(b, hk);
    for (int64_t j = warp; j < total; j += kWarps) {
        const T* kj = j < p.past ? pastKeys + j * p.pastK.rowStride() : newKeys + (j - p.past) * p.k.rowStride();
        float partial = 0.f;
        for (int64_t e = lane; e < d; e += 32) partial += qRow[e] * load(kj[e]);
        float s = warpSum(partial);
        if (lane != 0) continue;
        if (p.qkStage == QkStage::kScaled) qkRow[j] = store<T>(s);
        // softcap bends the scores before any mask, so -inf stays -inf.
        if (p.softcap > 0.f) s = p.softcap * tanhf(s / p.softcap);
        if (p.qkStage == QkStage::kSoftcapped) qkRow[j] = store<T>(s);
        float bias = 0.f;
        if (p.maskType != MaskType::kNone) bias = j < p.maskKeys ? maskValue(o.mask, p.maskType, maskAt + j) : -INFINITY;
        if (j < first || j >= end)
            bias = -INFINITY;
        else if (bias != -INFINITY)
            anyKey = 1;
        s += bias;
        if (p.qkStage == QkStage::kBiased) qkRow[j] = store<T>(s);
        scores[j] = s;
        localMax = fmaxf(localMax, s);
    }
    // ONNX decides a fully masked row on the bias, not on the scores: its probabilities are all zero.
    anyKey = __syncthreads_or(anyKey);  // also publishes scores[]
    const float rowMax = static_cast<float>(blockMax<kAttentionBlock>(static_cast<double>(localMax), scratch));
    const bool live = anyKey && rowMax != -INFINITY;
    if (p.doubleSoftmax) {
        double localSum = 0.0;
        for (int64_t j = threadIdx.x; j < total; j += kAttentionBlock) {
            const double e = live ? exp(static_cast<double>(scores[j]) - static_cast<double>(rowMax)) : 0.0;
            scores[j] = static_cast<float>(e);
            localSum += e;
        }
        const double sum = blockSum<kAttentionBlock>(localSum, scratch);
        const double inverse = live ? 1.0 / sum : 0.0;
        for (int64_t j = threadIdx.x; j < total; j += kAttentionBlock)
            scores[j] = static_cast<float>(static_cast<double>(scores[j]) * inverse);
    } else {
        float localSum = 0.f;
        for (int64_t j = threadIdx.x; j < total; j += kAttentionBlock) {
            const float e = live ? expf(scores[j] - rowMax) : 0.f;
            scores[j] = e;
            localSum += e;
        }
        const float sum = static_cast<float>(blockSum<kAttentionBlock>(static_cast<double>(localSum), scratch));
        const float inverse = live ? 1.f / sum : 0.f;
        for (int64_t j = threadIdx.x; j < total; j += kAttentionBlock) scores[j] *= inverse;
    }
    if (p.qkStage == QkStage::kSoftmax)
        for (int64_t j = threadIdx.x; j < total; j += kAttentionBlock) qkRow[j] = store<T>(scores[j]);
    __syncthreads();  // the probabilities

    const T* pastValues = o.pastV ? o.pastV + p.pastV.offset(b, hk) : nullptr;
    const T* newValues = o.v + p.v.offset(b, hk);
    T* yi = o.y + p.y.offset(b, h) + i * p.y.rowStride();
    for (int64_t e = threadIdx.x; e < p.v.headSize; e += kAttentionBlock) {
        float acc = 0.f;
        for (int64_t j = 0; j < p.past; ++j) acc += scores[j] * load(pastValues[j * p.pastV.rowStride() + e]);
        for (int64_t j = p.past; j < total; ++j)
            acc += scores[j] * load(newValues[(j - p.past) * p.v.rowStride() + e]);
        yi[e] = store<T>(acc);
    }
}

/// present[b, h, s, :] = s < past ? past[b, h, s, :] : fresh[b, h, s - past, :], in [batch, heads,
/// total, head]; elements moved as words of their size (the cache keeps the input's type).
template <typename Word>
__global__ void writeCacheKernel(const Word* past, HeadLayout pastLayout, const Word* fresh, HeadLayout freshLayout,
                                 Word* present, int64_t pastLen, int64_t count) {
    const int64_t d = freshLayout.headSize, total = pastLen + freshLayout.seq;
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += step) {
        const int64_t c = e % d, s = (e / d) % total, bh = e / (d * total);
        const int64_t b = bh / freshLayout.heads, h = bh % freshLayout.heads;
        present[e] = s < pastLen ? past[pastLayout.offset(b, h) + s * pastLayout.rowStride() + c]
                                 : fresh[freshLayout.offset(b, h) + (s - pastLen) * freshLayout.rowStride() + c];
    }
}

class AttentionKernel : public Kernel, public TacticChooser {
public:
    AttentionKernel(const Node& node, const CudaContext& context)
        : mName(node.describe()),
          mCudnn(context.cudnn),
          mScaleAttr(node.attrs.getFloat("scale")),
          mCausal(node.attrs.getInt("is_causal", 0) != 0),
          mLeftWindow(node.attrs.getInt("left_window_size", -1)),
          mRightWindow(node.attrs.getInt("right_window_size", -1)),
          mSoftcap(node.attrs.getFloat("softcap", 0.f)),
          mQHeads(node.attrs.getInt("q_num_heads", 0)),
          mKvHeads(node.attrs.getInt("kv_num_heads", 0)),
          // softmax_precision DOUBLE (11) sums in double; float16/bfloat16 precisions get float's, as on the CPU.
          mDoubleSoftmax(node.attrs.getInt("softmax_precision", 1) == 11),
          mHasMask(node.hasInput(kMask)),
          mHasPast(node.hasInput(kPastKey)),
          mHasNonpad(node.hasInput(kNonpad)),
          mHasPresentKey(node.output(kPresentKey) != nullptr),
          mHasPresentValue(node.output(kPresentValue) != nullptr),
          mQkStage(node.output(kQkOutput) ? static_cast<QkStage>(node.attrs.getInt("qk_matmul_output_mode", 0))
                                          : QkStage::kNone),
          mSdpaRefusal(cudnnSdpaRefusal(node)),
          mFlashOffered(!mHasPast && !mHasNonpad && mQkStage == QkStage::kNone && mSoftcap == 0.f &&
                        mLeftWindow < 0 && mRightWindow < 0 && !mDoubleSoftmax),
          mChosenTactic(node.attrs.getInts(kTacticAttribute).value_or(std::vector<int64_t>{})),
          mPlanSearch(static_cast<size_t>(std::max<int64_t>(node.attrs.getInt(kTacticSearchAttribute, 1), 1))),
          mKeyOnly(node.attrs.getInt(kTacticSearchAttribute, 1) == 0),
          mViews(decodeAttentionInputViews(node.attrs)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        KILN_RETURN_IF_ERROR(planLayouts(in, out));
        AttentionParams& p = mParams;
        if (p.total > kMaxKeys || p.q.headSize > kMaxHeadSize)
            return unsupported(mName + ": the CUDA Attention holds at most " + std::to_string(kMaxKeys) +
                               " keys and head size " + std::to_string(kMaxHeadSize));
        if (p.q.seq > INT32_MAX || p.q.heads > 65535 || p.q.batch > 65535)
            return unsupported(mName + ": too many rows, heads or batches for one launch");
        p.scale = mScaleAttr ? *mScaleAttr : 1.0f / std::sqrt(static_cast<float>(p.q.headSize));
        p.softcap = mSoftcap;
        p.causal = mCausal;
        // A window wider than every query position's reach is unbounded; capping it keeps the position
        // arithmetic far from int64 overflow.
        const int64_t reach = p.total + p.q.seq + 1;
        p.leftWindow = std::min(mLeftWindow, reach);
        p.rightWindow = std::min(mRightWindow, reach);
        p.hasNonpad = mHasNonpad;
        p.qkStage = mQkStage;
        p.doubleSoftmax = mDoubleSoftmax;
        if (mQkStage != QkStage::kNone && (static_cast<int>(mQkStage) < 0 || static_cast<int>(mQkStage) > 3))
            return invalidArgument(mName + ": qk_matmul_output_mode " + std::to_string(static_cast<int>(mQkStage)) +
                                   " is not 0, 1, 2 or 3");
        KILN_RETURN_IF_ERROR(planMask(mHasMask ? &in[kMask] : nullptr));
        if (mHasNonpad && (in[kNonpad].shape != Shape{p.q.batch} || in[kNonpad].dtype != DataType::kINT64))
            return invalidArgument(mName + ": nonpad_kv_seqlen " + shapeToString(in[kNonpad].shape) +
                                   " must hold one int64 length per batch entry (" + std::to_string(p.q.batch) + ")");
        KILN_RETURN_IF_ERROR(checkOutputs(out));
        mType = in[kQ].dtype;
        mShared = (kWarps + 1) * sizeof(double) + static_cast<size_t>(p.q.headSize + p.total) * sizeof(float);
        // Beyond the default 48 KiB a kernel must opt in; done here, outside any stream capture of run().
        if (mShared > 48 * 1024)
            KILN_RETURN_IF_ERROR(AttentionTypes::dispatchStatus(
                mType, unsupported(mName + ": no CUDA Attention for this type"), [&](auto tag) {
                    return cudaStatus(cudaFuncSetAttribute(attentionRowKernel<decltype(tag)>,
                                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                           static_cast<int>(mShared)),
                                      "cudaFuncSetAttribute(attentionRowKernel)");
                }));
        return planFastKernels(in);
    }

    size_t workspaceSize() const override { return mRunner == AttentionRunner::kCudnn ? mSdpa.workspaceSize() : 0; }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        const TensorView* pastKey = mHasPast ? &io.input(kPastKey) : nullptr;
        const TensorView* pastValue = mHasPast ? &io.input(kPastValue) : nullptr;
        if (mHasPresentKey) KILN_RETURN_IF_ERROR(writeCache(pastKey, mParams.pastK, io.input(kK), mParams.k,
                                                             io.output(kPresentKey), stream));
        if (mHasPresentValue) KILN_RETURN_IF_ERROR(writeCache(pastValue, mParams.pastV, io.input(kV), mParams.v,
                                                               io.output(kPresentValue), stream));
        const AttentionParams& p = mParams;
        if (p.q.seq == 0 || p.q.batch == 0 || p.q.heads == 0) return Status::ok();
        if (mRunner == AttentionRunner::kCudnn) {
            SdpaOperands operands;
            operands.q = io.input(kQ).data;
            operands.k = io.input(kK).data;
            operands.v = io.input(kV).data;
            operands.mask = mHasMask ? io.input(kMask).data : nullptr;
            operands.y = io.output(0).data;
            operands.workspace = io.workspace;
            if (mSdpa.takes(operands)) return mSdpa.run(operands, mCudnn, stream);
        }
        if (mRunner == AttentionRunner::kFlash || mRunner == AttentionRunner::kFlashPersistent) {
            const void* q = io.input(kQ).data;
            const void* k = io.input(kK).data;
            const void* v = io.input(kV).data;
            const void* mask = mHasMask ? io.input(kMask).data : nullptr;
            void* y = io.output(0).data;
            if (flashAttentionTakesAddresses(q, k, v, y))
                return mRunner == AttentionRunner::kFlash
                           ? launchFlashAttention(mFlash, q, k, v, mask, y, stream)
                           : launchPersistentFlashAttention(mFlash, mFlashBlocks, q, k, v, mask, y, stream);
        }
        return AttentionTypes::dispatchStatus(mType, unsupported(mName + ": no CUDA Attention for this type"),
                                              [&](auto tag) { return launch<decltype(tag)>(io, stream); });
    }

    std::string tacticName() const override {
        switch (mRunner) {
            case AttentionRunner::kCudnn:
                return std::string("cuda.cudnn_sdpa_") + tacticTypeSuffix(mType) + (mHasMask ? "+bias" : "");
            case AttentionRunner::kFlash:
                return std::string("cuda.flash_attention_") + tacticTypeSuffix(mType) + (mHasMask ? "+mask" : "");
            case AttentionRunner::kFlashPersistent:
                return std::string("cuda.flash_attention_persistent_") + tacticTypeSuffix(mType) +
                       (mHasMask ? "+mask" : "");
            case AttentionRunner::kRow: break;
        }
        return std::string("cuda.attention_rowwise_") + tacticTypeSuffix(mType);
    }

    /// cuDNN's plans where cuDNN takes the node, then the flash kernel's forms where they do (tiled, then
    /// persistent), then the row kernel.
    size_t tacticCount() const override { return cudnnTactics() + flashTactics() + 1; }
    Status selectTactic(size_t index) override {
        if (index >= tacticCount()) return invalidArgument(tacticName() + ": no tactic " + std::to_string(index));
        if (index < cudnnTactics()) {
            KILN_RETURN_IF_ERROR(mSdpa.selectPlan(index));
            mRunner = AttentionRunner::kCudnn;
        } else if (const size_t flash = index - cudnnTactics(); flash < flashTactics()) {
            mRunner = flash == 0 ? AttentionRunner::kFlash : AttentionRunner::kFlashPersistent;
        } else {
            mRunner = AttentionRunner::kRow;
        }
        return Status::ok();
    }
    std::vector<int64_t> tacticState() const override {
        switch (mRunner) {
            case AttentionRunner::kCudnn: return mSdpa.planState();
            case AttentionRunner::kFlash: return {kFlashKernelTactic};
            case AttentionRunner::kFlashPersistent: return {kFlashPersistentKernelTactic};
            case AttentionRunner::kRow: break;
        }
        return {kRowKernelTactic};
    }
    std::string tacticKey() const override { return mTacticKey; }

private:
    size_t cudnnTactics() const { return mSdpa.built() ? mSdpa.planCount() : 0; }
    /// The flash kernel's forms offered: none, the tiled one, or the tiled and the persistent one.
    size_t flashTactics() const { return mFlashTakes ? (mPersistentTakes ? 2 : 1) : 0; }

    /// Offers cuDNN's attention and Kiln's flash kernel (its two forms) where they compute this node at
    /// these shapes. cuDNN's graph and plans are built once per problem (a problem it takes no plan for is
    /// not tried again), and not at all when the engine chose another kernel. Without a chosen tactic
    /// cuDNN's heuristics' plan runs, else the flash kernel's tiled form, else the row kernel.
    Status planFastKernels(const std::vector<TensorView>& in) {
        mRunner = AttentionRunner::kRow;
        mFlash = flashProblem();
        const bool flashComputes = mFlashOffered && !flashAttentionShapeRefusal(mFlash);
        const bool persistentComputes = flashComputes && !persistentFlashAttentionRefusal(mFlash);
        const bool chosenRow = mChosenTactic == std::vector<int64_t>{kRowKernelTactic};
        // A flash choice the kernel cannot honour at these shapes (a timing cache from another build) is
        // no choice: cuDNN's default plan runs.
        const bool chosenTiled = flashComputes && mChosenTactic == std::vector<int64_t>{kFlashKernelTactic};
        const bool chosenPersistent =
            persistentComputes && mChosenTactic == std::vector<int64_t>{kFlashPersistentKernelTactic};
        const bool chosenFlash = chosenTiled || chosenPersistent;
        mFlashTakes = flashComputes && !chosenRow;
        mPersistentTakes = persistentComputes && !chosenRow;
        const SdpaProblem problem = sdpaProblem(in);
        const bool cudnnOffered = !mSdpaRefusal && !cudnnSdpaShapeRefusal(problem) && !chosenRow && !chosenFlash;
        // The key names the problem and which kernels are timed for it (a timing cache written before the
        // flash kernel, or its persistent form, existed is not read as its choice).
        const std::string key = describeSdpaProblem(problem);
        mTacticKey = cudnnOffered || mFlashTakes
                         ? key + (mFlashTakes ? " | kiln flash" : "") + (mPersistentTakes ? " + persistent" : "")
                         : "";
        if (mKeyOnly) return Status::ok();  // the builder's key probe: the key names the problem, nothing is built
        if (mFlashTakes) KILN_RETURN_IF_ERROR(prepareFlashAttention(mFlash));
        // The persistent form's grid, found here once rather than at each (perhaps captured) run.
        if (mPersistentTakes) {
            KILN_ASSIGN_OR_RETURN(mFlashBlocks, preparePersistentFlashAttention(mFlash));
        }
        if (!cudnnOffered) {
            mSdpa.clear();
            mSdpaKey.clear();
        } else if (key != mSdpaKey) {
            mSdpaKey = key;
            // A graph cuDNN takes no plan for leaves nothing built.
            if (!mSdpa.build(problem, mCudnn, mPlanSearch, mChosenTactic).isOk()) mSdpa.clear();
        } else if (mSdpa.built() && !mSdpa.selectPlan(0).isOk()) {
            mSdpa.clear();
        }
        if (mSdpa.built() && !chosenFlash)
            mRunner = AttentionRunner::kCudnn;
        else if (mFlashTakes)
            mRunner = chosenPersistent ? AttentionRunner::kFlashPersistent : AttentionRunner::kFlash;
        return Status::ok();
    }

    FlashAttentionProblem flashProblem() const {
        const AttentionParams& p = mParams;
        FlashAttentionProblem f;
        f.type = mType;
        f.q = p.q;
        f.k = p.k;
        f.v = p.v;
        f.y = p.y;
        f.group = p.group;
        f.scale = p.scale;
        f.causal = p.causal;
        f.maskType = p.maskType;
        f.maskKeys = p.maskKeys;
        std::copy(std::begin(p.maskStrides), std::end(p.maskStrides), f.maskStrides);
        return f;
    }

    SdpaProblem sdpaProblem(const std::vector<TensorView>& in) const {
        const AttentionParams& p = mParams;
        auto tensorOf = [](const HeadLayout& l) {
            return SdpaTensor{l.batch, l.heads, l.seq, l.headSize, l.base, {l.batchStride, l.headStride, l.seqStride}};
        };
        SdpaProblem problem;
        problem.type = mType;
        problem.q = tensorOf(p.q);
        problem.k = tensorOf(p.k);
        problem.v = tensorOf(p.v);
        problem.y = tensorOf(p.y);
        problem.scale = p.scale;
        problem.causal = p.causal;
        problem.hasMask = mHasMask;
        if (mHasMask) {
            problem.maskType = in[kMask].dtype;
            problem.maskShape = in[kMask].shape;
            std::copy(std::begin(p.maskStrides), std::end(p.maskStrides), problem.maskStrides);
        }
        return problem;
    }

    template <typename T>
    Status launch(const KernelIO& io, cudaStream_t stream) {
        const AttentionParams& p = mParams;
        AttentionOperands<T> o{};
        o.q = static_cast<const T*>(io.input(kQ).data);
        o.k = static_cast<const T*>(io.input(kK).data);
        o.v = static_cast<const T*>(io.input(kV).data);
        o.pastK = mHasPast ? static_cast<const T*>(io.input(kPastKey).data) : nullptr;
        o.pastV = mHasPast ? static_cast<const T*>(io.input(kPastValue).data) : nullptr;
        o.mask = mHasMask ? io.input(kMask).data : nullptr;
        o.nonpad = mHasNonpad ? static_cast<const int64_t*>(io.input(kNonpad).data) : nullptr;
        o.y = static_cast<T*>(io.output(0).data);
        o.qk = mQkStage != QkStage::kNone ? static_cast<T*>(io.output(kQkOutput).data) : nullptr;
        const dim3 grid(static_cast<unsigned>(p.q.seq), static_cast<unsigned>(p.q.heads),
                        static_cast<unsigned>(p.q.batch));
        attentionRowKernel<T><<<grid, kAttentionBlock, mShared, stream>>>(o, p);
        return launchStatus("attentionRowKernel");
    }

    Status writeCache(const TensorView* past, const HeadLayout& pastLayout, const TensorView& fresh,
                      const HeadLayout& freshLayout, const TensorView& present, cudaStream_t stream) const {
        const int64_t count = present.elementCount();
        if (count == 0) return Status::ok();
        const int64_t pastLen = past ? pastLayout.seq : 0;
        const unsigned grid = elementwiseGrid(count);
        if (dataTypeSize(present.dtype) == 2)
            writeCacheKernel<uint16_t><<<grid, kElementwiseBlock, 0, stream>>>(
                past ? static_cast<const uint16_t*>(past->data) : nullptr, pastLayout,
                static_cast<const uint16_t*>(fresh.data), freshLayout, static_cast<uint16_t*>(present.data), pastLen,
                count);
        else
            writeCacheKernel<uint32_t><<<grid, kElementwiseBlock, 0, stream>>>(
                past ? static_cast<const uint32_t*>(past->data) : nullptr, pastLayout,
                static_cast<const uint32_t*>(fresh.data), freshLayout, static_cast<uint32_t*>(present.data), pastLen,
                count);
        return launchStatus("writeCacheKernel");
    }

    Status planLayouts(const std::vector<TensorView>& in, const std::vector<TensorView>& out) {
        AttentionParams& p = mParams;
        if (!mViews.error.empty()) return invalidArgument(mName + ": " + mViews.error);
        KILN_ASSIGN_OR_RETURN(AttentionLayouts l, attentionLayouts(mName, in[kQ].shape, in[kK].shape, in[kV].shape,
                                                                   out[0].shape, mQHeads, mKvHeads, mViews.views));
        p.q = l.q;
        p.k = l.k;
        p.v = l.v;
        p.y = l.y;
        p.group = p.q.heads / p.k.heads;
        p.pastK = headLayoutOf(Shape{p.k.batch, p.k.heads, 0, p.k.headSize}, 0);
        p.pastV = headLayoutOf(Shape{p.v.batch, p.v.heads, 0, p.v.headSize}, 0);
        if (mHasPast) {
            const Shape& pk = in[kPastKey].shape;
            const Shape& pv = in[kPastValue].shape;
            if (pk.size() != 4 || pv.size() != 4 || pk[0] != p.k.batch || pk[1] != p.k.heads || pk[3] != p.k.headSize ||
                pv[0] != p.v.batch || pv[1] != p.v.heads || pv[2] != pk[2] || pv[3] != p.v.headSize)
                return invalidArgument(mName + ": past_key " + shapeToString(pk) + " and past_value " +
                                       shapeToString(pv) + " do not fit K and V (batch, kv_heads, past, head_size)");
            p.pastK = headLayoutOf(pk, 0);
            p.pastV = headLayoutOf(pv, 0);
        }
        p.past = p.pastK.seq;
        p.total = p.past + p.k.seq;
        return Status::ok();
    }

    /// The mask's key extent and broadcast strides, as AttentionBias::plan (CPU) records them.
    Status planMask(const TensorView* mask) {
        AttentionParams& p = mParams;
        p.maskType = MaskType::kNone;
        p.maskKeys = 0;
        std::fill(std::begin(p.maskStrides), std::end(p.maskStrides), int64_t{0});
        if (!mask) return Status::ok();
        const Shape& s = mask->shape;
        p.maskType = maskTypeOf(mask->dtype);
        if (p.maskType == MaskType::kNone)
            return invalidArgument(mName + ": attn_mask must be bool or floating-point, got " +
                                   dataTypeName(mask->dtype));
        if (s.empty() || s.size() > 4)
            return invalidArgument(mName + ": attn_mask must have rank 1 to 4, got " + shapeToString(s));
        p.maskKeys = s.back();
        if (p.maskKeys > p.total)
            return invalidArgument(mName + ": attn_mask " + shapeToString(s) + " has more keys than the " +
                                   std::to_string(p.total) + " of past and new keys");
        const int64_t full[3] = {p.q.batch, p.q.heads, p.q.seq};
        const size_t leading = s.size() - 1;  // axes before the key axis, right-aligned to (batch, head, query)
        int64_t stride = p.maskKeys;
        for (size_t d = leading; d-- > 0;) {
            const size_t axis = 3 - leading + d;
            const int64_t extent = s[d];
            if (extent != 1 && extent != full[axis])
                return invalidArgument(mName + ": attn_mask " + shapeToString(s) +
                                       " does not broadcast to (batch, q_heads, q_seq, total_kv) = (" +
                                       std::to_string(p.q.batch) + ", " + std::to_string(p.q.heads) + ", " +
                                       std::to_string(p.q.seq) + ", " + std::to_string(p.total) + ")");
            p.maskStrides[axis] = extent == 1 ? 0 : stride;
            stride *= extent;
        }
        return Status::ok();
    }

    /// The optional outputs must hold exactly what the kernels write: they are indexed without bounds.
    Status checkOutputs(const std::vector<TensorView>& out) const {
        const AttentionParams& p = mParams;
        auto check = [&](bool present, size_t index, const Shape& expected, const char* what) -> Status {
            if (present && (index >= out.size() || out[index].shape != expected))
                return invalidArgument(mName + ": " + what + " " +
                                       (index < out.size() ? shapeToString(out[index].shape) : std::string("missing")) +
                                       " is not " + shapeToString(expected));
            return Status::ok();
        };
        KILN_RETURN_IF_ERROR(check(mHasPresentKey, kPresentKey, {p.k.batch, p.k.heads, p.total, p.k.headSize},
                                   "present_key"));
        KILN_RETURN_IF_ERROR(check(mHasPresentValue, kPresentValue, {p.v.batch, p.v.heads, p.total, p.v.headSize},
                                   "present_value"));
        return check(mQkStage != QkStage::kNone, kQkOutput, {p.q.batch, p.q.heads, p.q.seq, p.total},
                     "qk_matmul_output");
    }

    std::string mName;
    cudnnHandle_t mCudnn;
    std::optional<float> mScaleAttr;
    bool mCausal;
    int64_t mLeftWindow, mRightWindow;
    float mSoftcap;
    int64_t mQHeads, mKvHeads;
    bool mDoubleSoftmax;
    bool mHasMask, mHasPast, mHasNonpad, mHasPresentKey, mHasPresentValue;
    QkStage mQkStage;
    DataType mType{DataType::kFLOAT};
    AttentionParams mParams;
    size_t mShared{0};  // dynamic shared memory of one block: reduction scratch, query row, score row
    std::optional<std::string> mSdpaRefusal;  // why cuDNN never computes this node, whatever the shapes
    bool mFlashOffered;                       // the node's form is one the flash kernel computes
    std::vector<int64_t> mChosenTactic;       // the builder's timed choice (kTacticAttribute), or empty
    size_t mPlanSearch;                       // how many cuDNN plans to list (kTacticSearchAttribute)
    bool mKeyOnly;                            // the builder's key probe (kTacticSearchAttribute 0): no plan
    DecodedAttentionInputViews mViews;        // Q, K and V read by strides (kiln_qkv_views), if any
    CudnnSdpa mSdpa;
    std::string mSdpaKey;  // the problem cuDNN's graph was last built (or tried) for
    FlashAttentionProblem mFlash;
    bool mFlashTakes{false};       // the flash kernel is a tactic at these shapes
    bool mPersistentTakes{false};  // and so is its persistent form
    unsigned mFlashBlocks{0};      // the persistent form's grid (preparePersistentFlashAttention)
    std::string mTacticKey;
    AttentionRunner mRunner{AttentionRunner::kRow};
};

bool attentionSupported(const Node& node, std::string* reason) {
    // Q, K, V and the cache share one type: the kernel is instantiated per storage type.
    if (!inputsHaveType(node, kQ, 3, AttentionTypes::types(), reason)) return false;
    const DataType type = node.input(kQ)->dtype;
    for (size_t i : {kPastKey, kPastValue}) {
        const Value* past = node.input(i);
        if (past && past->dtype != type) {
            if (reason) *reason = "the CUDA Attention needs past_key/past_value of Q's type";
            return false;
        }
    }
    if (node.hasInput(kPastKey) != node.hasInput(kPastValue)) {
        if (reason) *reason = "past_key and past_value come together";
        return false;
    }
    if (const Value* mask = node.input(kMask); mask && maskTypeOf(mask->dtype) == MaskType::kNone) {
        if (reason) *reason = std::string("attn_mask must be bool or floating-point, got ") + dataTypeName(mask->dtype);
        return false;
    }
    if (const Value* nonpad = node.input(kNonpad); nonpad && nonpad->dtype != DataType::kINT64) {
        if (reason) *reason = "nonpad_kv_seqlen must be int64";
        return false;
    }
    for (size_t i = 0; i < node.outputs.size() && i <= kQkOutput; ++i) {
        const Value* out = node.output(i);
        if (out && out->dtype != type) {
            if (reason)
                *reason = "the CUDA Attention writes output " + std::to_string(i) + " in Q's type " + dataTypeName(type);
            return false;
        }
    }
    const int64_t mode = node.attrs.getInt("qk_matmul_output_mode", 0);
    if (node.output(kQkOutput) && (mode < 0 || mode > 3)) {
        if (reason) *reason = "qk_matmul_output_mode " + std::to_string(mode) + " is not 0, 1, 2 or 3";
        return false;
    }
    return true;
}

}  // namespace

void registerAttentionKernels(CudaKernelRegistry& registry) {
    registry.add({"Attention", attentionSupported,
                  [](const Node& node, const CudaContext& context) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<AttentionKernel>(node, context));
                  }});
}

}  // namespace kiln::cuda
