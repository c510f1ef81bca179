#pragma once
// Kiln's own flash attention for the CUDA Attention (attention.cu): Y = softmax(scale * Q K^T + bias) V
// on the tensor cores (mma.sync m16n8k16, float accumulation), float16 and bfloat16, head sizes 64 and
// 128, one pass over the keys in blocks of 64 with the running (online) softmax, the score matrix never
// written. A block of four warps takes 64 query rows of one (batch, head); Q, K and V tiles arrive in
// shared memory by cp.async; P stays in registers between the two products; Y leaves through shared
// memory in 16-byte stores.
//
// What it computes is a subset of the row kernel's forms: no KV cache, no nonpad_kv_seqlen, softcap,
// sliding window, qk_matmul_output or double softmax (the caller checks those on the node); is_causal
// (the top-left frontier: query i sees keys j <= i); attn_mask of any type maskValue reads, by its
// broadcast strides, keys past its extent masked; grouped-query heads. A row no key may attend gets
// zeros, as ONNX says. It is a tactic, timed beside cuDNN's plans: at BERT's short sequences the work is
// moving Q, K, V and Y once, which one kernel reading the mask in place does without cuDNN's
// materialized bias.

#include <cuda_runtime.h>

#include <cstdint>
#include <optional>
#include <string>

#include "backends/attention_layout.h"
#include "backends/cuda/kernels/attention_mask.cuh"
#include "common/status.h"
#include "ir/dtype.h"

namespace kiln::cuda {

/// One Attention at the shapes of a reshape, as the flash kernel reads it.
struct FlashAttentionProblem {
    DataType type{DataType::kHALF};
    HeadLayout q, k, v, y;
    int64_t group{1};  // query heads per KV head
    float scale{1.f};
    bool causal{false};
    MaskType maskType{MaskType::kNone};
    int64_t maskKeys{0};       // extent of the mask's key axis; later keys are masked
    int64_t maskStrides[3]{};  // element strides along batch, query head, query row (0: broadcast)
};

/// Why the flash kernel cannot run this problem on the current device (type, head sizes, strides, the
/// device's architecture), or nullopt.
std::optional<std::string> flashAttentionShapeRefusal(const FlashAttentionProblem& problem);

/// Whether these addresses suit its 16-byte loads and stores (the row kernel runs those that do not).
bool flashAttentionTakesAddresses(const void* q, const void* k, const void* v, const void* y);

/// What a problem needs once before its runs (the shared-memory opt-in of head size 128), outside any
/// stream capture.
Status prepareFlashAttention(const FlashAttentionProblem& problem);

/// Runs one problem flashAttentionShapeRefusal accepted; mask is null without attn_mask.
Status launchFlashAttention(const FlashAttentionProblem& problem, const void* q, const void* k, const void* v,
                            const void* mask, void* y, cudaStream_t stream);

}  // namespace kiln::cuda
