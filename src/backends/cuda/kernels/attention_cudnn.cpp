#include "backends/cuda/kernels/attention_cudnn.h"

#include <cudnn_frontend.h>

#include <cstdint>
#include <exception>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/attention_sdpa_bias.h"
#include "backends/cuda/kernels/cudnn_plans.h"

namespace kiln::cuda {

namespace {

namespace fe = cudnn_frontend;

// Attention's inputs and outputs (ONNX opset 23/24).
constexpr size_t kPastKey = 4, kPastValue = 5, kNonpad = 6;
constexpr size_t kPresentKey = 1, kPresentValue = 2, kQkOutput = 3;
/// softmax_precision's value for double (a TensorProto data type).
constexpr int64_t kSoftmaxDouble = 11;

// Tensor uids of the graph's variant pack.
constexpr int64_t kUidQ = 1;
constexpr int64_t kUidK = 2;
constexpr int64_t kUidV = 3;
constexpr int64_t kUidBias = 4;
constexpr int64_t kUidO = 5;

/// The graph kind of this graph's plan states (CudnnPlanRequest::graphKind): apart from the convolution's
/// (0, 1), so a state is never taken for another operation's.
constexpr int64_t kSdpaGraphKind = 16;

// The largest head size offered: the frontend takes up to 256 on Hopper with recent cuDNN, but 128 is
// what every engine generation and architecture since Ampere serves, and what the GPU tests cover.
constexpr int64_t kMaxHeadSize = 128;
// cuDNN's attention kernels move Q, K, V and O in 16-byte vectors: head sizes (and so every stride of a
// BHSD or BSHD tensor) must be multiples of 8 two-byte elements.
constexpr int64_t kHeadMultiple = 8;
// Caps, as the convolution's plans have one (kCudnnConvMaxWorkspace): a mask materialized over a long
// sequence for every head could otherwise claim gigabytes of workspace; the row kernel reads it in place.
constexpr int64_t kMaxBiasBytes = int64_t{256} << 20;
constexpr int64_t kMaxPlanWorkspace = int64_t{256} << 20;
// The workspace's parts start at the alignment the engine gives the workspace itself.
constexpr int64_t kWorkspaceAlignment = 256;
// The addresses cuDNN's 16-byte vector loads need (the frontend's execute refuses others): the engine's
// buffers have them, a caller's bound inputs and outputs need not.
constexpr uintptr_t kOperandAlignment = 16;

constexpr int64_t roundUp(int64_t n, int64_t multiple) {
    return (n + multiple - 1) / multiple * multiple;
}

std::vector<int64_t> dimsOf(const SdpaTensor& t) {
    return {t.batch, t.heads, t.seq, t.head};
}

std::vector<int64_t> stridesOf(const SdpaTensor& t) {
    return {t.strides[0], t.strides[1], t.strides[2], 1};
}

/// The bias cuDNN reads: batch and heads of extent 1 where the mask broadcasts over them, and query rows
/// too where `broadcastRows` (the mask's are one row and there is no causal frontier, which differs per
/// row); rows padded to 16 bytes.
SdpaBiasShape biasShapeOf(const SdpaProblem& p, bool broadcastRows = false) {
    SdpaBiasShape s;
    s.maskType = p.maskType;
    s.maskKeys = p.maskShape.empty() ? 0 : p.maskShape.back();
    for (int axis = 0; axis < 3; ++axis) s.maskStrides[axis] = p.maskStrides[axis];
    s.batch = p.maskStrides[0] != 0 ? p.q.batch : 1;
    s.heads = p.maskStrides[1] != 0 ? p.q.heads : 1;
    s.rows = broadcastRows ? 1 : p.q.seq;
    s.keys = p.k.seq;
    s.rowStride = roundUp(s.keys, kHeadMultiple);
    s.causal = p.causal;
    return s;
}

int64_t biasBytesOf(const SdpaBiasShape& s) {
    return s.batch * s.heads * s.rows * s.rowStride * 2;
}

SdpaOutputRows outputRowsOf(const SdpaTensor& y) {
    const std::vector<int64_t> strides = stridesOf(y);
    return {y.batch, y.heads, y.seq, y.head, {strides[0], strides[1], strides[2]}};
}

std::string describeTensor(const SdpaTensor& t) {
    return std::to_string(t.batch) + "x" + std::to_string(t.heads) + "x" + std::to_string(t.seq) + "x" +
           std::to_string(t.head) + "@" + std::to_string(t.offset) + "/" + std::to_string(t.strides[0]) + "," +
           std::to_string(t.strides[1]) + "," + std::to_string(t.strides[2]);
}

/// The address of a tensor's element (0, 0, 0, 0).
void* elementZero(void* data, const SdpaTensor& t, DataType type) {
    return static_cast<uint8_t*>(data) + t.offset * static_cast<int64_t>(dataTypeSize(type));
}

}  // namespace

std::optional<std::string> cudnnSdpaRefusal(const Node& node) {
    const Value* q = node.input(0);
    if (!q || (q->dtype != DataType::kHALF && q->dtype != DataType::kBF16))
        return std::string("cuDNN's attention is taken for float16 and bfloat16 Q, K and V; Q is ") +
               (q ? dataTypeName(q->dtype) : "missing");
    if (node.hasInput(kPastKey) || node.hasInput(kPastValue))
        return std::string("a KV cache (past_key, past_value) is not part of cuDNN's attention graph");
    if (node.hasInput(kNonpad)) return std::string("nonpad_kv_seqlen is not part of cuDNN's attention graph");
    if (node.output(kPresentKey) || node.output(kPresentValue))
        return std::string("present_key and present_value are not cuDNN's attention outputs");
    if (node.output(kQkOutput)) return std::string("qk_matmul_output is not a cuDNN attention output");
    if (node.attrs.getFloat("softcap", 0.f) != 0.f)
        return std::string("softcap is not part of cuDNN's attention graph");
    // The row kernel bounds a window only where its size is >= 0; a negative one is unbounded.
    if (node.attrs.getInt("left_window_size", -1) >= 0 || node.attrs.getInt("right_window_size", -1) >= 0)
        return std::string("sliding windows are not part of cuDNN's attention graph");
    // cuDNN's softmax computes in float, as the row kernel (and the CPU's) does for every precision but DOUBLE.
    if (node.attrs.getInt("softmax_precision", 1) == kSoftmaxDouble)
        return std::string("softmax_precision DOUBLE sums in double; cuDNN's softmax is float");
    return std::nullopt;
}

std::optional<std::string> cudnnSdpaShapeRefusal(const SdpaProblem& p) {
    for (const SdpaTensor* t : {&p.q, &p.k, &p.v, &p.y})
        if (t->batch == 0 || t->heads == 0 || t->seq == 0 || t->head == 0)
            return std::string("an empty Attention has nothing for cuDNN to do");
    for (const SdpaTensor* t : {&p.q, &p.k, &p.v, &p.y})
        if (t->offset % kHeadMultiple != 0 || t->strides[0] % kHeadMultiple != 0 ||
            t->strides[1] % kHeadMultiple != 0 || t->strides[2] % kHeadMultiple != 0)
            return std::string("cuDNN's attention reads 16-byte vectors: offsets and strides must be multiples of ") +
                   std::to_string(kHeadMultiple) + " elements";
    for (int64_t head : {p.q.head, p.v.head})
        if (head % kHeadMultiple != 0 || head > kMaxHeadSize)
            return "cuDNN's attention is taken for head sizes that are multiples of " + std::to_string(kHeadMultiple) +
                   " up to " + std::to_string(kMaxHeadSize) + "; Q's is " + std::to_string(p.q.head) + ", V's " +
                   std::to_string(p.v.head);
    if (p.hasMask && biasBytesOf(biasShapeOf(p)) > kMaxBiasBytes)
        return "attn_mask " + shapeToString(p.maskShape) + " as cuDNN's bias would take " +
               std::to_string(biasBytesOf(biasShapeOf(p))) + " bytes of workspace";
    return std::nullopt;
}

std::string describeSdpaProblem(const SdpaProblem& p) {
    return std::string("cudnn sdpa ") + tacticTypeSuffix(p.type) + " q" + describeTensor(p.q) + " k" +
           describeTensor(p.k) + " v" + describeTensor(p.v) + " y" + describeTensor(p.y) +
           " scale:" + std::to_string(p.scale) + " causal:" + std::to_string(p.causal) + " mask:" +
           (p.hasMask ? std::string(tacticTypeSuffix(p.maskType)) + shapeToString(p.maskShape, true) : "none");
}

struct CudnnSdpa::Built {
    SdpaProblem problem;
    SdpaBiasShape bias;
    SdpaOutputRows rows;
    int64_t biasBytes{0};  // the workspace's parts, each rounded up to kWorkspaceAlignment
    int64_t deadBytes{0};
    std::shared_ptr<fe::graph::Graph> graph;
    CudnnPlanList plans;
};

CudnnSdpa::CudnnSdpa() = default;
CudnnSdpa::~CudnnSdpa() = default;

Status CudnnSdpa::build(const SdpaProblem& p, cudnnHandle_t handle, size_t maxPlans,
                        const std::vector<int64_t>& preferred) {
    // One bias row read by every query (stride 0) is 1/seq of the bias to write and to read, where cuDNN
    // takes it; otherwise every row is written out.
    const bool broadcastRows = p.hasMask && !p.causal && p.maskStrides[2] == 0 && p.q.seq > 1;
    Status status = buildGraph(p, handle, maxPlans, preferred, broadcastRows);
    if (!status.isOk() && broadcastRows) status = buildGraph(p, handle, maxPlans, preferred, false);
    return status;
}

Status CudnnSdpa::buildGraph(const SdpaProblem& p, cudnnHandle_t handle, size_t maxPlans,
                             const std::vector<int64_t>& preferred, bool broadcastRows) {
    mBuilt.reset();
    auto built = std::make_unique<Built>();
    built->problem = p;
    built->rows = outputRowsOf(p.y);
    if (p.hasMask) {
        built->bias = biasShapeOf(p, broadcastRows);
        built->biasBytes = roundUp(biasBytesOf(built->bias), kWorkspaceAlignment);
        built->deadBytes = roundUp(built->bias.batch * built->bias.heads * built->bias.rows, kWorkspaceAlignment);
    }

    auto graph = std::make_shared<fe::graph::Graph>();
    const fe::DataType_t io = p.type == DataType::kBF16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::HALF;
    // Both products accumulate in float and the softmax runs in float, as in the row kernel.
    graph->set_io_data_type(io)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    auto tensor = [&](const char* name, int64_t uid, std::vector<int64_t> dims, std::vector<int64_t> strides) {
        return graph->tensor(fe::graph::Tensor_attributes()
                                 .set_name(name)
                                 .set_uid(uid)
                                 .set_dim(std::move(dims))
                                 .set_stride(std::move(strides))
                                 .set_data_type(io));
    };
    auto q = tensor("Q", kUidQ, dimsOf(p.q), stridesOf(p.q));
    auto k = tensor("K", kUidK, dimsOf(p.k), stridesOf(p.k));
    auto v = tensor("V", kUidV, dimsOf(p.v), stridesOf(p.v));
    auto options = fe::graph::SDPA_attributes().set_name("attention").set_generate_stats(false).set_attn_scale(p.scale);
    if (p.causal)  // key j for query i where j <= i + 0, counted from the top-left corner as ONNX does
        options.set_diagonal_alignment(fe::DiagonalAlignment_t::TOP_LEFT).set_diagonal_band_right_bound(0);
    if (p.hasMask) {
        const SdpaBiasShape& b = built->bias;
        options.set_bias(tensor("bias", kUidBias, {b.batch, b.heads, p.q.seq, b.keys},
                                {b.heads * b.rows * b.rowStride, b.rows * b.rowStride, b.rows > 1 ? b.rowStride : 0, 1}));
    }
    try {
        // The frontend throws where none of its implementations (unified, composite) takes the options.
        auto outputs = graph->sdpa(q, k, v, std::move(options));
        outputs[0]->set_output(true).set_uid(kUidO).set_dim(dimsOf(p.y)).set_stride(stridesOf(p.y)).set_data_type(io);
    } catch (const std::exception& e) {
        return unsupported(std::string("cuDNN attention: ") + e.what());
    }
    KILN_RETURN_IF_ERROR(cudnnFrontendStatus(graph->validate(), "graph validation"));
    KILN_RETURN_IF_ERROR(cudnnFrontendStatus(graph->build_operation_graph(handle), "operation graph"));
    CudnnPlanRequest request;
    request.maxCandidates = maxPlans;
    request.preferred = preferred;
    request.graphKind = kSdpaGraphKind;
    request.maxWorkspace = kMaxPlanWorkspace;
    KILN_RETURN_IF_ERROR(built->plans.build(*graph, request));
    built->graph = std::move(graph);
    mBuilt = std::move(built);
    return Status::ok();
}

void CudnnSdpa::clear() {
    mBuilt.reset();
}

bool CudnnSdpa::built() const {
    return mBuilt != nullptr;
}

size_t CudnnSdpa::planCount() const {
    return mBuilt ? mBuilt->plans.count() : 0;
}

Status CudnnSdpa::selectPlan(size_t index) {
    if (!mBuilt) return invalidArgument("cuDNN attention: no plans were built");
    return mBuilt->plans.select(index);
}

std::vector<int64_t> CudnnSdpa::planState() const {
    return mBuilt ? mBuilt->plans.state() : std::vector<int64_t>{};
}

size_t CudnnSdpa::workspaceSize() const {
    if (!mBuilt) return 0;
    return static_cast<size_t>(mBuilt->biasBytes + mBuilt->deadBytes + mBuilt->plans.workspaceBytes());
}

bool CudnnSdpa::takes(const SdpaOperands& o) const {
    for (const void* p : {o.q, o.k, o.v, o.y, o.workspace})
        if (reinterpret_cast<uintptr_t>(p) % kOperandAlignment != 0) return false;
    return true;
}

Status CudnnSdpa::run(const SdpaOperands& o, cudnnHandle_t handle, cudaStream_t stream) {
    if (!mBuilt) return internalError("cuDNN attention: run before build");
    const Built& b = *mBuilt;
    auto* workspace = static_cast<uint8_t*>(o.workspace);
    void* bias = workspace;
    uint8_t* deadRows = workspace + b.biasBytes;
    void* planWorkspace = workspace + b.biasBytes + b.deadBytes;
    if (b.problem.hasMask) KILN_RETURN_IF_ERROR(launchSdpaBias(b.problem.type, o.mask, b.bias, bias, deadRows, stream));
    {
        std::lock_guard<std::mutex> handleLock(cudnnHandleMutex());
        KILN_CUDNN_RETURN_IF_ERROR(cudnnSetStream(handle, stream));
        const SdpaProblem& p = b.problem;
        std::unordered_map<int64_t, void*> pack = {{kUidQ, elementZero(o.q, p.q, p.type)},
                                                   {kUidK, elementZero(o.k, p.k, p.type)},
                                                   {kUidV, elementZero(o.v, p.v, p.type)},
                                                   {kUidO, elementZero(o.y, p.y, p.type)}};
        if (b.problem.hasMask) pack[kUidBias] = bias;
        KILN_RETURN_IF_ERROR(cudnnFrontendStatus(
            b.graph->execute_plan_at_index(handle, pack, planWorkspace, b.plans.planIndex()), "execute"));
    }
    if (!b.problem.hasMask) return Status::ok();
    return launchZeroDeadRows(elementZero(o.y, b.problem.y, b.problem.type), b.rows, b.bias, deadRows, stream);
}

}  // namespace kiln::cuda
