#pragma once
// cuDNN's fused attention (the cuDNN frontend's SDPA graph: flash attention on the tensor cores) for the
// CUDA Attention (attention.cu), whose tactics its execution plans are. It is offered only where it
// computes ONNX's result: float16 / bfloat16 Q, K and V of 4-D [batch, heads, seq, head] or 3-D
// [batch, seq, heads * head] layout, or strided views of a packed projection (kiln_qkv_views), all
// described to cuDNN by their strides and offsets, never copied; grouped-query heads; head sizes,
// strides and offsets that are multiples of 8 elements, head sizes up to 128; the scale; is_causal
// (cuDNN's top-left causal band, ONNX's frontier when there is no KV cache); and any attn_mask the row
// kernel takes, materialized per run as cuDNN's bias (attention_sdpa_bias.h; one row read by every query
// where the mask has one row and there is no causal frontier). Everything else the node may carry (a KV
// cache, nonpad_kv_seqlen, qk_matmul_output, softcap, sliding windows, a double softmax) stays with the
// row kernel; the refusals below say which.
//
// The frontend stays inside attention_cudnn.cpp: attention.cu, compiled by nvcc, sees this interface only.

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"

namespace kiln::cuda {

/// One of Q, K, V and Y as cuDNN is told it: logical [batch, heads, seq, head], element (b, h, s, d) at
/// offset + b * strides[0] + h * strides[1] + s * strides[2] + d of its tensor (BHSD, BSHD, or a view into
/// a packed projection: backends/attention_layout.h).
struct SdpaTensor {
    int64_t batch{0}, heads{0}, seq{0}, head{0};
    int64_t offset{0};
    int64_t strides[3]{};
};

/// An Attention node at the shapes of one reshape, as cuDNN's graph needs it.
struct SdpaProblem {
    DataType type{DataType::kHALF};
    SdpaTensor q, k, v, y;
    float scale{1.f};
    bool causal{false};
    bool hasMask{false};
    DataType maskType{DataType::kFLOAT};
    Shape maskShape;
    int64_t maskStrides[3]{};  // mask element strides along batch, query head and query row; 0: broadcast
};

/// Why cuDNN's attention cannot give this node ONNX's result (its types, attributes, optional inputs and
/// outputs), or nullopt where it can at suitable shapes.
std::optional<std::string> cudnnSdpaRefusal(const Node& node);
/// Why not at these shapes (head sizes, empty extents, the bias's size), or nullopt.
std::optional<std::string> cudnnSdpaShapeRefusal(const SdpaProblem& problem);
/// The problem as text: every property the graph and its plans depend on (the tactic key).
std::string describeSdpaProblem(const SdpaProblem& problem);

/// The device addresses of one run; mask is null without attn_mask.
struct SdpaOperands {
    void *q{nullptr}, *k{nullptr}, *v{nullptr}, *mask{nullptr}, *y{nullptr}, *workspace{nullptr};
};

class CudnnSdpa {
public:
    CudnnSdpa();
    ~CudnnSdpa();
    /// Builds cuDNN's graph for `problem` (one cudnnSdpaShapeRefusal accepts) and lists up to `maxPlans`
    /// of its execution plans, `preferred` (an earlier planState()) first where it still builds.
    /// Fails, leaving nothing built, when the frontend or cuDNN takes no plan.
    Status build(const SdpaProblem& problem, cudnnHandle_t handle, size_t maxPlans,
                 const std::vector<int64_t>& preferred);
    void clear();
    bool built() const;
    size_t planCount() const;
    Status selectPlan(size_t index);
    /// The selected plan as the numbers that rebuild it (CudnnPlanList::state()).
    std::vector<int64_t> planState() const;
    /// The materialized bias and its row marks, then the selected plan's scratch.
    size_t workspaceSize() const;
    /// Whether these addresses suit cuDNN's vector loads (16-byte aligned); the row kernel runs those that do not.
    bool takes(const SdpaOperands& operands) const;
    Status run(const SdpaOperands& operands, cudnnHandle_t handle, cudaStream_t stream);

private:
    /// build() with the bias's query rows broadcast (one row, stride 0) or written out.
    Status buildGraph(const SdpaProblem& problem, cudnnHandle_t handle, size_t maxPlans,
                      const std::vector<int64_t>& preferred, bool broadcastRows);
    struct Built;
    std::unique_ptr<Built> mBuilt;
};

}  // namespace kiln::cuda
