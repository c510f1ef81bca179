// Conv and Kiln's FusedConv (Conv + bias + residual Add + activation, src/ir/ops/fused.cpp) on float,
// float16 and bfloat16 NC(D)HW tensors through the cuDNN frontend's graph API. At reshape the whole layer
// is offered to cuDNN as one graph (convolution -> bias add -> residual add -> activation); when no cuDNN
// engine runs that graph, the convolution alone goes to cuDNN and fused_epilogue.cu applies the rest in
// one pass. Grouped and depthwise convolutions are cuDNN's (the group count follows from X's and W's
// channels). 2-D and 3-D convolutions are cuDNN's own; a 1-D convolution (3-D X) is run as a 2-D one over
// a unit height, since cuDNN's convolutions take 4-D or 5-D tensors.
//
// float16 and bfloat16 tensors are read and written in their own type with float accumulation. Their
// bias may be of the data's type or float (the --fp16 builder may keep a bias in float): cuDNN's graph
// types each tensor separately, and the fallback epilogue reads either. With TF32 forbidden (--noTF32)
// engines that use the tensor cores on float data are left out.

#include <cudnn_frontend.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/fused_activation.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "ir/ops/conv_window.h"

namespace kiln::cuda {

namespace {

namespace fe = cudnn_frontend;

// Tensor uids of the graph's variant pack.
constexpr int64_t kUidX = 1;
constexpr int64_t kUidW = 2;
constexpr int64_t kUidBias = 3;
constexpr int64_t kUidResidual = 4;
constexpr int64_t kUidY = 5;

std::vector<int64_t> packedStrides(const std::vector<int64_t>& dims) {
    std::vector<int64_t> strides(dims.size(), 1);
    for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
    return strides;
}

Status frontendStatus(fe::error_t error, const std::string& step) {
    if (error.is_good()) return Status::ok();
    return unsupported("cuDNN " + step + ": " + error.get_message());
}

/// The cuDNN pointwise mode of an activation cuDNN can fuse, or nullopt.
std::optional<fe::graph::Pointwise_attributes> cudnnActivation(const FusedActivation& a) {
    fe::graph::Pointwise_attributes p;
    switch (a.kind) {
        case ActivationKind::kRelu:
            return p.set_mode(fe::PointwiseMode_t::RELU_FWD);
        case ActivationKind::kClip:
            return p.set_mode(fe::PointwiseMode_t::RELU_FWD).set_relu_lower_clip(a.alpha).set_relu_upper_clip(a.beta);
        case ActivationKind::kSigmoid:
            return p.set_mode(fe::PointwiseMode_t::SIGMOID_FWD);
        case ActivationKind::kTanh:
            return p.set_mode(fe::PointwiseMode_t::TANH_FWD);
        case ActivationKind::kGelu:
            return p.set_mode(fe::PointwiseMode_t::GELU_FWD);
        default:
            return std::nullopt;
    }
}

std::mutex& cudnnHandleMutex() {
    static std::mutex mutex;
    return mutex;
}

fe::DataType_t cudnnDataType(DataType type) {
    switch (type) {
        case DataType::kHALF: return fe::DataType_t::HALF;
        case DataType::kBF16: return fe::DataType_t::BFLOAT16;
        default: return fe::DataType_t::FLOAT;
    }
}

/// `shape` with a unit axis inserted before its last one: a 1-D convolution's tensor as a 2-D one's.
std::vector<int64_t> cudnnDims(const Shape& shape) {
    std::vector<int64_t> dims;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape.size() == 3 && i == 2) dims.push_back(1);
        dims.push_back(shape[i]);
    }
    return dims;
}

class CudnnConvKernel : public Kernel {
public:
    CudnnConvKernel(const Node& node, const CudaContext& context, FusedActivation activation, bool fusedOp)
        : mContext(context),
          mAttrs(node.attrs),
          mActivation(activation),
          mType(node.input(0)->dtype),
          mBiasType(node.hasInput(2) ? node.input(2)->dtype : node.input(0)->dtype),
          mHasBias(node.hasInput(2)),
          mHasResidual(fusedOp && node.hasInput(3)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const TensorView& x = inputs[0];
        const TensorView& w = inputs[1];
        const TensorView& y = outputs[0];
        const int64_t rank = x.rank();
        if (rank < 3 || rank > 5 || w.rank() != rank || y.rank() != rank)
            return unsupported(tacticName() + ": the CUDA convolution takes X, W and Y of one rank, 3 to 5");
        if (mHasResidual && inputs[3].shape != y.shape)
            return invalidArgument(tacticName() + ": residual " + shapeToString(inputs[3].shape, true) +
                                   " differs from the output " + shapeToString(y.shape, true));
        if (x.shape == mXShape && w.shape == mWShape && y.shape == mYShape && mGraph) return Status::ok();
        mXShape = x.shape;
        mWShape = w.shape;
        mYShape = y.shape;
        mGraph.reset();

        const size_t spatial = static_cast<size_t>(rank - 2);
        KILN_ASSIGN_OR_RETURN(WindowSpec spec,
                              parseWindowSpec(mAttrs, spatial, Shape(w.shape.begin() + 2, w.shape.end()),
                                              WindowKind::kConvolution));
        std::vector<int64_t> pre, post, strides, dilations;
        if (spatial == 1) {  // the unit height of a 1-D convolution run as a 2-D one
            pre.push_back(0);
            post.push_back(0);
            strides.push_back(1);
            dilations.push_back(1);
        }
        for (size_t axis = 0; axis < spatial; ++axis) {
            AxisWindow window = forwardWindow(spec, axis, x.shape[2 + axis]);
            if (window.output != y.shape[2 + axis])
                return invalidArgument(tacticName() + ": output extent " + std::to_string(y.shape[2 + axis]) +
                                       " on spatial axis " + std::to_string(axis) + " is not the window's " +
                                       std::to_string(window.output));
            pre.push_back(window.padBegin);
            post.push_back(window.padEnd);
            strides.push_back(spec.strides[axis]);
            dilations.push_back(spec.dilations[axis]);
        }
        const int64_t group = mAttrs.getInt("group", 1);
        if (group <= 0 || x.shape[1] != w.shape[1] * group || w.shape[0] % group != 0)
            return invalidArgument(tacticName() + ": X " + shapeToString(x.shape, true) + " and W " +
                                   shapeToString(w.shape, true) + " do not fit group " + std::to_string(group));
        if (mHasBias && inputs[2].elementCount() != y.shape[1])
            return invalidArgument(tacticName() + ": bias " + shapeToString(inputs[2].shape, true) +
                                   " does not hold one value per output channel (" + std::to_string(y.shape[1]) + ")");
        mChannels = y.shape[1];
        mInner = shapeElementCount(Shape(y.shape.begin() + 2, y.shape.end()));
        mCount = y.elementCount();
        if (mCount == 0) return Status::ok();

        // The whole layer in one cuDNN graph where an engine runs it; else the convolution alone.
        const bool epilogueWanted = mHasBias || mHasResidual || mActivation.kind != ActivationKind::kNone;
        mFusedInCudnn = false;
        if (epilogueWanted && (mActivation.kind == ActivationKind::kNone || cudnnActivation(mActivation))) {
            if (buildGraph(true, pre, post, strides, dilations).isOk()) {
                mFusedInCudnn = true;
                return Status::ok();
            }
        }
        return buildGraph(false, pre, post, strides, dilations).withContext(tacticName());
    }

    size_t workspaceSize() const override { return static_cast<size_t>(mWorkspaceBytes); }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        if (!mGraph) return internalError(tacticName() + ": run before reshape");
        auto stream = static_cast<cudaStream_t>(io.stream);
        // The backend's one cuDNN handle serves every execution context: the stream it is set to and the
        // execute that follows must not interleave with another thread's (kiln exec --infStreams=N
        // --threads), or a convolution would run on the other context's stream. The lock spans the
        // enqueue only; the device work stays asynchronous.
        std::lock_guard<std::mutex> handleLock(cudnnHandleMutex());
        KILN_CUDNN_RETURN_IF_ERROR(cudnnSetStream(mContext.cudnn, stream));
        std::unordered_map<int64_t, void*> pack = {{kUidX, io.input(0).data},
                                                   {kUidW, io.input(1).data},
                                                   {kUidY, io.output(0).data}};
        if (mFusedInCudnn) {
            if (mHasBias) pack[kUidBias] = io.input(2).data;
            if (mHasResidual) pack[kUidResidual] = io.input(3).data;
        }
        KILN_RETURN_IF_ERROR(frontendStatus(mGraph->execute(mContext.cudnn, pack, io.workspace), "execute"));
        if (mFusedInCudnn) return Status::ok();
        const bool epilogueWanted = mHasBias || mHasResidual || mActivation.kind != ActivationKind::kNone;
        if (!epilogueWanted) return Status::ok();
        return launchBiasResidualActivation(mType, io.output(0).data, mBiasType,
                                            mHasBias ? io.input(2).data : nullptr,
                                            mHasResidual ? io.input(3).data : nullptr, mActivation, mCount, mChannels,
                                            mInner, stream);
    }

    std::string tacticName() const override {
        return std::string("cuda.cudnn_conv_") + tacticTypeSuffix(mType) + (mFusedInCudnn ? "_fused" : "") +
               (!mFusedInCudnn && (mHasBias || mHasResidual || mActivation.kind != ActivationKind::kNone)
                    ? "+epilogue"
                    : "") +
               (mContext.allowTf32 && mType == DataType::kFLOAT ? "_tf32" : "");
    }

private:
    Status buildGraph(bool fused, const std::vector<int64_t>& pre, const std::vector<int64_t>& post,
                      const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations) {
        auto graph = std::make_shared<fe::graph::Graph>();
        // Narrow tensors are read and written as they are; products and sums are accumulated in float.
        graph->set_io_data_type(cudnnDataType(mType))
            .set_intermediate_data_type(fe::DataType_t::FLOAT)
            .set_compute_data_type(fe::DataType_t::FLOAT);
        auto tensor = [&](const char* name, int64_t uid, const std::vector<int64_t>& dims, DataType type) {
            return graph->tensor(fe::graph::Tensor_attributes()
                                     .set_name(name)
                                     .set_uid(uid)
                                     .set_dim(dims)
                                     .set_stride(packedStrides(dims))
                                     .set_data_type(cudnnDataType(type)));
        };
        const std::vector<int64_t> xDims = cudnnDims(mXShape);
        const std::vector<int64_t> wDims = cudnnDims(mWShape);
        const std::vector<int64_t> yDims = cudnnDims(mYShape);
        auto x = tensor("X", kUidX, xDims, mType);
        auto w = tensor("W", kUidW, wDims, mType);
        auto y = graph->conv_fprop(x, w,
                                   fe::graph::Conv_fprop_attributes()
                                       .set_pre_padding(pre)
                                       .set_post_padding(post)
                                       .set_stride(strides)
                                       .set_dilation(dilations));
        if (fused) {
            if (mHasBias) {
                std::vector<int64_t> biasDims(yDims.size(), 1);
                biasDims[1] = yDims[1];
                auto bias = tensor("B", kUidBias, biasDims, mBiasType);
                y = graph->pointwise(y, bias, fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::ADD));
            }
            if (mHasResidual) {
                auto residual = tensor("Z", kUidResidual, yDims, mType);
                y = graph->pointwise(y, residual,
                                     fe::graph::Pointwise_attributes().set_mode(fe::PointwiseMode_t::ADD));
            }
            if (auto activation = cudnnActivation(mActivation)) y = graph->pointwise(y, *activation);
        }
        y->set_output(true).set_uid(kUidY).set_dim(yDims).set_stride(packedStrides(yDims)).set_data_type(
            cudnnDataType(mType));

        KILN_RETURN_IF_ERROR(frontendStatus(graph->validate(), "graph validation"));
        KILN_RETURN_IF_ERROR(frontendStatus(graph->build_operation_graph(mContext.cudnn), "operation graph"));
        KILN_RETURN_IF_ERROR(frontendStatus(graph->create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}),
                                            "heuristics"));
        // Float engines on the tensor cores round their inputs to TF32 (narrow types use them as they are).
        if (!mContext.allowTf32 && mType == DataType::kFLOAT)
            graph->deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE});
        KILN_RETURN_IF_ERROR(frontendStatus(graph->check_support(mContext.cudnn), "support check"));
        KILN_RETURN_IF_ERROR(
            frontendStatus(graph->build_plans(mContext.cudnn, fe::BuildPlanPolicy_t::HEURISTICS_CHOICE), "plan build"));
        int64_t workspace = 0;
        KILN_RETURN_IF_ERROR(frontendStatus(graph->get_workspace_size(workspace), "workspace query"));
        mWorkspaceBytes = workspace;
        mGraph = std::move(graph);
        return Status::ok();
    }

    CudaContext mContext;
    AttributeMap mAttrs;
    FusedActivation mActivation;
    DataType mType;
    DataType mBiasType;
    bool mHasBias;
    bool mHasResidual;
    Shape mXShape, mWShape, mYShape;
    std::shared_ptr<fe::graph::Graph> mGraph;
    bool mFusedInCudnn{false};
    int64_t mWorkspaceBytes{0};
    int64_t mChannels{1};
    int64_t mInner{1};
    int64_t mCount{0};
};

bool convSupported(const Node& node, std::string* reason) {
    const std::vector<DataType> types = {DataType::kFLOAT, DataType::kHALF, DataType::kBF16};
    // X, W and the residual share one type; the bias is of that type or float.
    if (!inputsHaveType(node, 0, 2, types, reason)) return false;
    if (node.input(1) == nullptr) {
        if (reason) *reason = "the weights W are missing";
        return false;
    }
    const DataType type = node.input(0)->dtype;
    if (node.hasInput(2) && node.input(2)->dtype != type && node.input(2)->dtype != DataType::kFLOAT) {
        if (reason)
            *reason = std::string("the bias is ") + dataTypeName(node.input(2)->dtype) + "; the CUDA convolution takes a " +
                      dataTypeName(type) + " or float bias";
        return false;
    }
    if (node.opType == "FusedConv" && node.hasInput(3) && node.input(3)->dtype != type) {
        if (reason) *reason = "the residual's type differs from X's";
        return false;
    }
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3 || rank > 5) {
        if (reason)
            *reason = "the CUDA convolution handles 1-D to 3-D convolutions (3-D to 5-D X); X has rank " +
                      std::to_string(rank);
        return false;
    }
    if (node.opType == "FusedConv") {
        auto activation = parseFusedActivation(node);
        if (!activation) {
            if (reason) *reason = activation.status().message();
            return false;
        }
    }
    return true;
}

Expected<std::unique_ptr<Kernel>> createConv(const Node& node, const CudaContext& context) {
    const bool fused = node.opType == "FusedConv";
    FusedActivation activation;
    if (fused) {
        KILN_ASSIGN_OR_RETURN(activation, parseFusedActivation(node));
    }
    return std::unique_ptr<Kernel>(std::make_unique<CudnnConvKernel>(node, context, activation, fused));
}

}  // namespace

void registerConvKernels(CudaKernelRegistry& registry) {
    registry.add({"Conv", convSupported, createConv});
    registry.add({"kiln::FusedConv", convSupported, createConv});
}

}  // namespace kiln::cuda
