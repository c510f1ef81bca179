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
//
// Two forms, each a tactic of its own (the builder times both), one math (attention_flash_tiles.cuh):
//  - tiled (attention_flash.cu): a block per 64 query rows of one (batch, head). A block's life is a
//    serial chain (copy Q, K, V; compute; store), so at short sequences its copies overlap nothing of its
//    own and each of the grid's waves pays DRAM's latency again;
//  - persistent (attention_flash_persistent.cu): one wave of resident blocks (the SMs times the blocks an
//    SM holds, found once per problem by preparePersistentFlashAttention), each walking the (batch, head,
//    query tile) items; while an item's last key step computes, the next item's Q, first K and V tiles
//    and key bias are copied, so copies hide behind the block's own math. Two Q tiles and two K/V step
//    buffers: ~56 KB of shared memory at head size 64 (four blocks an SM), ~105 KB at 128 (two).

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

/// Why the persistent form cannot run a problem flashAttentionShapeRefusal accepted (its two Q tiles need
/// more shared memory than the tiled form's block: at head size 128 more than an sm_86 or sm_89 block may
/// have), or nullopt.
std::optional<std::string> persistentFlashAttentionRefusal(const FlashAttentionProblem& problem);

/// The persistent form's grid for a problem on the current device (as many blocks as its SMs hold at once,
/// at most one an item), after that form's shared-memory opt-in: once per problem, outside any stream
/// capture, so that a launch queries nothing.
Expected<unsigned> preparePersistentFlashAttention(const FlashAttentionProblem& problem);

/// Runs one problem flashAttentionShapeRefusal accepted in the persistent form, on the grid
/// preparePersistentFlashAttention gave for it; mask is null without attn_mask.
Status launchPersistentFlashAttention(const FlashAttentionProblem& problem, unsigned blocks, const void* q,
                                      const void* k, const void* v, const void* mask, void* y, cudaStream_t stream);

}  // namespace kiln::cuda
