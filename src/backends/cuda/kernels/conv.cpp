// Conv and Kiln's FusedConv (Conv + bias + residual Add + activation, src/ir/ops/fused.cpp) on float,
// float16 and bfloat16 NC(D)HW tensors, and FusedConv on channels-last NHWC ones (ir/ops/layout_attributes.h),
// through the cuDNN frontend's graph API. At reshape the whole layer is offered to cuDNN as one graph
// (convolution -> bias add -> residual add -> activation); when no cuDNN engine runs that graph, the
// convolution alone goes to cuDNN and fused_epilogue.cu applies the rest in one pass. Grouped and depthwise
// convolutions are cuDNN's (the group count follows from X's and W's channels). 2-D and 3-D convolutions
// are cuDNN's own; a 1-D convolution (3-D X) is run as a 2-D one over a unit height, since cuDNN's
// convolutions take 4-D or 5-D tensors.
//
// cuDNN is always told the logical NCHW dims; a channels-last tensor is described by its NHWC strides, so
// cuDNN reads and writes it in place (its tensor-core engines prefer NHWC) and nothing is reformatted.
//
// The execution plans cuDNN's heuristics list for the graph are the kernel's tactics (cudnn_plans.h): the
// builder times up to kTacticSearchAttribute of them and records the fastest one's engine id and knobs
// (kTacticAttribute), which a kernel created from the engine rebuilds at reshape where cuDNN still
// accepts them, and otherwise takes the heuristics' first plan. A channels-last convolution that reads
// few input channels per output (depthwise, an RGB stem) has two more tactics, after cuDNN's: Kiln's direct
// kernel (conv_direct_nhwc.h) with one output pixel a thread and with kDirectConvWidePixels, recorded as
// {2} and {3} (kOwnKernels). A depthwise 3x3 one with stride 1 or 2 has two more, listed before those
// two: the specialized kernel of conv_depthwise3x3_nhwc.h in its per-thread and its tiled form, recorded
// as {4} and {5}. An engine that chose one of Kiln's kernels builds no cuDNN graph. A FusedConv whose X is
// NCHW (kInputChannelsFirstAttribute) is conv_channels_first_input_layer.h's, never cuDNN's.
//
// float16 and bfloat16 tensors are read and written in their own type with float accumulation. Their
// bias may be of the data's type or float (the --fp16 builder may keep a bias in float): cuDNN's graph
// types each tensor separately, and the fallback epilogue reads either. With TF32 forbidden (--noTF32)
// engines that use the tensor cores on float data are left out.

#include <cudnn_frontend.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/conv_channels_first_input_layer.h"
#include "backends/cuda/kernels/conv_depthwise3x3_nhwc.h"
#include "backends/cuda/kernels/conv_direct_nhwc.h"
#include "backends/cuda/kernels/cudnn_plans.h"
#include "backends/cuda/kernels/fused_activation.h"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "ir/ops/conv_window.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cuda {

namespace {

namespace fe = cudnn_frontend;

// Tensor uids of the graph's variant pack.
constexpr int64_t kUidX = 1;
constexpr int64_t kUidW = 2;
constexpr int64_t kUidBias = 3;
constexpr int64_t kUidResidual = 4;
constexpr int64_t kUidY = 5;

// The graph kinds a plan's tactic state is tagged with (CudnnPlanRequest::graphKind).
constexpr int64_t kConvAloneGraph = 0;
constexpr int64_t kFusedGraph = 1;
/// Which of Kiln's own kernels runs a layer instead of a cuDNN plan.
enum class OwnConvKernel { kNone, kDirect, kDirectWide, kDepthwise3x3, kDepthwise3x3Tiled };

/// Each own kernel's tactic state, a lone word no cuDNN plan state has (theirs start with a graph kind and
/// an engine id), and its tactic name before the type suffix. The direct kernel runs one output pixel a
/// thread or kDirectConvWidePixels; the depthwise 3x3 one (conv_depthwise3x3_nhwc.h) per thread or tiled.
struct OwnKernelInfo {
    OwnConvKernel kernel;
    int64_t tactic;
    const char* name;
};
constexpr OwnKernelInfo kOwnKernels[] = {
    {OwnConvKernel::kDirect, 2, "cuda.direct_conv_nhwc_"},
    {OwnConvKernel::kDirectWide, 3, "cuda.direct_conv_nhwc_x4_"},
    {OwnConvKernel::kDepthwise3x3, 4, "cuda.depthwise3x3_nhwc_"},
    {OwnConvKernel::kDepthwise3x3Tiled, 5, "cuda.depthwise3x3_tiled_nhwc_"},
};

const OwnKernelInfo& ownKernelInfo(OwnConvKernel kernel) {
    for (const OwnKernelInfo& info : kOwnKernels)
        if (info.kernel == kernel) return info;
    return kOwnKernels[0];  // kNone is never looked up
}

/// Scratch a convolution plan may use. The builder's workspace limit does not reach the kernels, so,
/// as the cuBLASLt products do (kCublasLtMaxWorkspace), the convolutions keep to a fixed cap: generous
/// for cuDNN's implicit-GEMM and Winograd engines, which leaves out only the FFT engines' largest tilings.
constexpr int64_t kCudnnConvMaxWorkspace = int64_t{256} << 20;

std::vector<int64_t> packedStrides(const std::vector<int64_t>& dims) {
    std::vector<int64_t> strides(dims.size(), 1);
    for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
    return strides;
}

/// The strides of a logical [N, C, H, W] tensor stored as [N, H, W, C] (X, Y, Z; W's [K, C/g, R, S] stored
/// [K, R, S, C/g] alike): the channel is the innermost axis.
std::vector<int64_t> channelsLastStrides(const std::vector<int64_t>& dims) {
    const int64_t c = dims[1], h = dims[2], w = dims[3];
    return {h * w * c, 1, w * c, c};
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

fe::DataType_t cudnnDataType(DataType type) {
    switch (type) {
        case DataType::kHALF: return fe::DataType_t::HALF;
        case DataType::kBF16: return fe::DataType_t::BFLOAT16;
        default: return fe::DataType_t::FLOAT;
    }
}

/// The logical NC(D)HW dims cuDNN is told for a tensor of physical `shape`: a channels-last [N, H, W, C]
/// one's as [N, C, H, W]; a 1-D convolution's with a unit axis before its last one, as a 2-D one's.
std::vector<int64_t> cudnnDims(const Shape& shape, bool channelsLast) {
    if (channelsLast) return {shape[0], shape[3], shape[1], shape[2]};
    std::vector<int64_t> dims;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape.size() == 3 && i == 2) dims.push_back(1);
        dims.push_back(shape[i]);
    }
    return dims;
}

/// The node's layout: channels-last only on FusedConv (the layout pass's form; ONNX Conv is NCHW).
bool isChannelsLast(const Node& node) {
    return node.opType == "FusedConv" && node.attrs.getInt(kChannelsLastAttribute, 0) == 1;
}

std::string joined(const std::vector<int64_t>& values) {
    std::string text;
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) text += ',';
        text += std::to_string(values[i]);
    }
    return text;
}

class CudnnConvKernel : public Kernel, public TacticChooser {
public:
    CudnnConvKernel(const Node& node, const CudaContext& context, FusedActivation activation, bool fusedOp)
        : mContext(context),
          mAttrs(node.attrs),
          mActivation(activation),
          mType(node.input(0)->dtype),
          mBiasType(node.hasInput(2) ? node.input(2)->dtype : node.input(0)->dtype),
          mHasBias(node.hasInput(2)),
          mHasResidual(fusedOp && node.hasInput(3)),
          mChannelsLast(isChannelsLast(node)),
          mChosenPlan(node.attrs.getInts(kTacticAttribute).value_or(std::vector<int64_t>{})),
          mPlanSearch(static_cast<size_t>(std::max<int64_t>(node.attrs.getInt(kTacticSearchAttribute, 1), 1))),
          mKeyOnly(node.attrs.getInt(kTacticSearchAttribute, 1) == 0) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const TensorView& x = inputs[0];
        const TensorView& w = inputs[1];
        const TensorView& y = outputs[0];
        const int64_t rank = x.rank();
        if (rank < 3 || rank > 5 || w.rank() != rank || y.rank() != rank)
            return unsupported(tacticName() + ": the CUDA convolution takes X, W and Y of one rank, 3 to 5");
        if (mChannelsLast && rank != 4)
            return unsupported(tacticName() + ": a channels-last convolution takes 4-D X, W and Y [N, H, W, C]");
        if (mHasResidual && inputs[3].shape != y.shape)
            return invalidArgument(tacticName() + ": residual " + shapeToString(inputs[3].shape, true) +
                                   " differs from the output " + shapeToString(y.shape, true));
        if (x.shape == mXShape && w.shape == mWShape && y.shape == mYShape &&
            (mGraph || mOwnKernel != OwnConvKernel::kNone || mKeyReady))
            return Status::ok();
        mKeyReady = false;
        mXShape = x.shape;
        mWShape = w.shape;
        mYShape = y.shape;
        mGraph.reset();
        mPlans.clear();
        mDirectApplies = mDepthwiseApplies = false;
        mOwnKernel = OwnConvKernel::kNone;

        // The logical NCHW extents: the window math reads them whatever the storage order.
        const Shape xl = mChannelsLast ? Shape{x.shape[0], x.shape[3], x.shape[1], x.shape[2]} : x.shape;
        const Shape wl = mChannelsLast ? Shape{w.shape[0], w.shape[3], w.shape[1], w.shape[2]} : w.shape;
        const Shape yl = mChannelsLast ? Shape{y.shape[0], y.shape[3], y.shape[1], y.shape[2]} : y.shape;
        const size_t spatial = static_cast<size_t>(rank - 2);
        KILN_ASSIGN_OR_RETURN(WindowSpec spec, parseWindowSpec(mAttrs, spatial, Shape(wl.begin() + 2, wl.end()),
                                                               WindowKind::kConvolution));
        mPre.clear();
        mPost.clear();
        mStrides.clear();
        mDilations.clear();
        if (spatial == 1) {  // the unit height of a 1-D convolution run as a 2-D one
            mPre.push_back(0);
            mPost.push_back(0);
            mStrides.push_back(1);
            mDilations.push_back(1);
        }
        for (size_t axis = 0; axis < spatial; ++axis) {
            AxisWindow window = forwardWindow(spec, axis, xl[2 + axis]);
            if (window.output != yl[2 + axis])
                return invalidArgument(tacticName() + ": output extent " + std::to_string(yl[2 + axis]) +
                                       " on spatial axis " + std::to_string(axis) + " is not the window's " +
                                       std::to_string(window.output));
            mPre.push_back(window.padBegin);
            mPost.push_back(window.padEnd);
            mStrides.push_back(spec.strides[axis]);
            mDilations.push_back(spec.dilations[axis]);
        }
        const int64_t group = mAttrs.getInt("group", 1);
        if (group <= 0 || xl[1] != wl[1] * group || wl[0] % group != 0 || yl[1] != wl[0])
            return invalidArgument(tacticName() + ": X " + shapeToString(x.shape, true) + ", W " +
                                   shapeToString(w.shape, true) + " and Y " + shapeToString(y.shape, true) +
                                   " do not fit group " + std::to_string(group));
        if (mHasBias && inputs[2].elementCount() != yl[1])
            return invalidArgument(tacticName() + ": bias " + shapeToString(inputs[2].shape, true) +
                                   " does not hold one value per output channel (" + std::to_string(yl[1]) + ")");
        // The fallback epilogue finds the channel of element i at (i / inner) % channels: NCHW's channel
        // is outside the spatial extent, NHWC's is the innermost axis.
        mChannels = yl[1];
        mInner = mChannelsLast ? 1 : shapeElementCount(Shape(yl.begin() + 2, yl.end()));
        mCount = y.elementCount();
        if (mCount == 0) return Status::ok();
        mDirectApplies =
            mChannelsLast && directConvApplies(mType, xl[0], xl[2], xl[3], xl[1], yl[2], yl[3], yl[1], group);
        if (mDirectApplies) {
            setDirectShape(xl, wl, yl, group);
            mDepthwiseApplies = depthwise3x3Applies(mType, mDirectShape);
        }
        // A carried choice of an own kernel that applies runs it; a stale one falls to cuDNN below.
        for (OwnConvKernel own : ownKernels()) {
            if (mChosenPlan == std::vector<int64_t>{ownKernelInfo(own).tactic}) {
                mOwnKernel = own;
                return Status::ok();
            }
        }

        // The whole layer in one cuDNN graph where an engine runs it; else the convolution alone.
        const bool fusable =
            epilogueWanted() && (mActivation.kind == ActivationKind::kNone || cudnnActivation(mActivation));
        if (mKeyOnly) {
            // The key names the graph offered (fused or not), which cuDNN accepts or refuses alike on
            // one target: no plan is built, which on a warm timing cache is most of the build's time.
            mFusedInCudnn = fusable;
            mKeyReady = true;
            return Status::ok();
        }
        mFusedInCudnn = false;
        if (fusable) {
            if (buildGraph(true).isOk()) {
                mFusedInCudnn = true;
                return Status::ok();
            }
        }
        Status cudnn = buildGraph(false).withContext(tacticName());
        // With no cuDNN plan for the layer, the direct kernel runs it where it applies.
        if (!cudnn.isOk() && mDirectApplies) {
            mOwnKernel = OwnConvKernel::kDirect;
            return Status::ok();
        }
        return cudnn;
    }

    size_t workspaceSize() const override {
        return mOwnKernel != OwnConvKernel::kNone ? 0 : static_cast<size_t>(mPlans.workspaceBytes());
    }

    Status run(const KernelIO& io) override {
        if (mCount == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        const void* bias = mHasBias ? io.input(2).data : nullptr;
        const void* residual = mHasResidual ? io.input(3).data : nullptr;
        if (mOwnKernel == OwnConvKernel::kDepthwise3x3)
            return launchDepthwise3x3Nhwc(mType, mBiasType, io.input(0).data, io.input(1).data, bias, residual,
                                          io.output(0).data, mDirectShape, mActivation, stream);
        if (mOwnKernel == OwnConvKernel::kDepthwise3x3Tiled)
            return launchDepthwise3x3NhwcTiled(mType, mBiasType, io.input(0).data, io.input(1).data, bias, residual,
                                               io.output(0).data, mDirectShape, mActivation, stream);
        if (mOwnKernel != OwnConvKernel::kNone)
            return launchDirectConvNhwc(mType, mBiasType, io.input(0).data, io.input(1).data, bias, residual,
                                        io.output(0).data, mDirectShape, mActivation,
                                        mOwnKernel == OwnConvKernel::kDirectWide ? kDirectConvWidePixels : 1, stream);
        if (!mGraph) return internalError(tacticName() + ": run before reshape");
        std::lock_guard<std::mutex> handleLock(cudnnHandleMutex());
        KILN_CUDNN_RETURN_IF_ERROR(cudnnSetStream(mContext.cudnn, stream));
        std::unordered_map<int64_t, void*> pack = {{kUidX, io.input(0).data},
                                                   {kUidW, io.input(1).data},
                                                   {kUidY, io.output(0).data}};
        if (mFusedInCudnn) {
            if (mHasBias) pack[kUidBias] = io.input(2).data;
            if (mHasResidual) pack[kUidResidual] = io.input(3).data;
        }
        KILN_RETURN_IF_ERROR(cudnnFrontendStatus(
            mGraph->execute_plan_at_index(mContext.cudnn, pack, io.workspace, mPlans.planIndex()), "execute"));
        if (mFusedInCudnn || !epilogueWanted()) return Status::ok();
        return launchBiasResidualActivation(mType, io.output(0).data, mBiasType,
                                            mHasBias ? io.input(2).data : nullptr,
                                            mHasResidual ? io.input(3).data : nullptr, mActivation, mCount, mChannels,
                                            mInner, stream);
    }

    std::string tacticName() const override {
        if (mOwnKernel != OwnConvKernel::kNone) return std::string(ownKernelInfo(mOwnKernel).name) + tacticTypeSuffix(mType);
        return std::string("cuda.cudnn_conv_") + tacticTypeSuffix(mType) + (mFusedInCudnn ? "_fused" : "") +
               (!mFusedInCudnn && epilogueWanted() ? "+epilogue" : "") +
               (mContext.allowTf32 && mType == DataType::kFLOAT ? "_tf32" : "") + (mChannelsLast ? "_nhwc" : "");
    }

    /// cuDNN's plans, then Kiln's own kernels where they apply (ownKernels()).
    size_t tacticCount() const override { return mGraph ? mPlans.count() + ownKernels().size() : 1; }
    Status selectTactic(size_t index) override {
        if (!mGraph) return invalidArgument(tacticName() + " has a single tactic");
        if (index < mPlans.count()) {
            mOwnKernel = OwnConvKernel::kNone;
            return mPlans.select(index);
        }
        const std::vector<OwnConvKernel> own = ownKernels();
        if (index - mPlans.count() >= own.size())
            return invalidArgument(tacticName() + ": no tactic " + std::to_string(index) + " of " +
                                   std::to_string(tacticCount()));
        mOwnKernel = own[index - mPlans.count()];
        return Status::ok();
    }
    std::vector<int64_t> tacticState() const override {
        if (mOwnKernel != OwnConvKernel::kNone) return {ownKernelInfo(mOwnKernel).tactic};
        return mGraph ? mPlans.state() : std::vector<int64_t>{};
    }
    // Built when the builder asks, not at every reshape.
    std::string tacticKey() const override {
        if (!mGraph && !mKeyReady) return "";
        return std::string("cudnn conv ") + tacticTypeSuffix(mType) + (mChannelsLast ? " nhwc" : " nchw") + " x" +
               joined(mXShape) + " w" + joined(mWShape) + " y" + joined(mYShape) + " pre" + joined(mPre) + " post" +
               joined(mPost) + " s" + joined(mStrides) + " d" + joined(mDilations) + " g" +
               std::to_string(mAttrs.getInt("group", 1)) +
               " bias:" + (mHasBias ? tacticTypeSuffix(mBiasType) : "none") + " res" + std::to_string(mHasResidual) +
               " act" + std::to_string(static_cast<int>(mActivation.kind)) + "(" + std::to_string(mActivation.alpha) +
               "," + std::to_string(mActivation.beta) + ") fused" + std::to_string(mFusedInCudnn) +
               " tf32:" + std::to_string(mContext.allowTf32 && mType == DataType::kFLOAT);
    }

private:
    /// Kiln's own kernels that apply to the layer, in the order they follow cuDNN's plans as tactics: the
    /// direct kernel's two forms stay the last two.
    std::vector<OwnConvKernel> ownKernels() const {
        std::vector<OwnConvKernel> own;
        if (mDepthwiseApplies) {
            own.push_back(OwnConvKernel::kDepthwise3x3);
            own.push_back(OwnConvKernel::kDepthwise3x3Tiled);
        }
        if (mDirectApplies) {
            own.push_back(OwnConvKernel::kDirect);
            own.push_back(OwnConvKernel::kDirectWide);
        }
        return own;
    }

    bool epilogueWanted() const { return mHasBias || mHasResidual || mActivation.kind != ActivationKind::kNone; }

    /// The direct kernel's extents from the logical NCHW ones (checked to fit 32 bits by directConvApplies).
    void setDirectShape(const Shape& xl, const Shape& wl, const Shape& yl, int64_t group) {
        auto i32 = [](int64_t v) { return static_cast<int32_t>(v); };
        mDirectShape = {i32(xl[0]),       i32(xl[2]),       i32(xl[3]),        i32(xl[1]),        i32(yl[2]),
                        i32(yl[3]),       i32(yl[1]),       i32(wl[2]),        i32(wl[3]),        i32(mStrides[0]),
                        i32(mStrides[1]), i32(mDilations[0]), i32(mDilations[1]), i32(mPre[0]), i32(mPre[1]),
                        i32(group)};
    }

    /// The convolution (with the epilogue when `fused`) as a cuDNN graph at the last reshape's shapes,
    /// and its execution plans.
    Status buildGraph(bool fused) {
        auto graph = std::make_shared<fe::graph::Graph>();
        // Narrow tensors are read and written as they are; products and sums are accumulated in float.
        graph->set_io_data_type(cudnnDataType(mType))
            .set_intermediate_data_type(fe::DataType_t::FLOAT)
            .set_compute_data_type(fe::DataType_t::FLOAT);
        auto strides = [&](const std::vector<int64_t>& dims) {
            return mChannelsLast ? channelsLastStrides(dims) : packedStrides(dims);
        };
        auto tensor = [&](const char* name, int64_t uid, const std::vector<int64_t>& dims, DataType type) {
            return graph->tensor(fe::graph::Tensor_attributes()
                                     .set_name(name)
                                     .set_uid(uid)
                                     .set_dim(dims)
                                     .set_stride(strides(dims))
                                     .set_data_type(cudnnDataType(type)));
        };
        const std::vector<int64_t> yDims = cudnnDims(mYShape, mChannelsLast);
        auto x = tensor("X", kUidX, cudnnDims(mXShape, mChannelsLast), mType);
        auto w = tensor("W", kUidW, cudnnDims(mWShape, mChannelsLast), mType);
        auto y = graph->conv_fprop(x, w,
                                   fe::graph::Conv_fprop_attributes()
                                       .set_pre_padding(mPre)
                                       .set_post_padding(mPost)
                                       .set_stride(mStrides)
                                       .set_dilation(mDilations));
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
        y->set_output(true)
            .set_uid(kUidY)
            .set_dim(yDims)
            .set_stride(strides(yDims))
            .set_data_type(cudnnDataType(mType));

        KILN_RETURN_IF_ERROR(cudnnFrontendStatus(graph->validate(), "graph validation"));
        KILN_RETURN_IF_ERROR(cudnnFrontendStatus(graph->build_operation_graph(mContext.cudnn), "operation graph"));
        CudnnPlanRequest request;
        request.maxCandidates = mPlanSearch;
        request.preferred = mChosenPlan;
        request.graphKind = fused ? kFusedGraph : kConvAloneGraph;
        // Float engines on the tensor cores round their inputs to TF32 (narrow types use them as they are).
        request.forbidTensorCores = !mContext.allowTf32 && mType == DataType::kFLOAT;
        request.maxWorkspace = kCudnnConvMaxWorkspace;
        KILN_RETURN_IF_ERROR(mPlans.build(*graph, request));
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
    bool mChannelsLast;
    std::vector<int64_t> mChosenPlan;                        // the builder's timed choice (kTacticAttribute), or empty
    size_t mPlanSearch;                                      // how many plans to list (kTacticSearchAttribute)
    bool mKeyOnly;        // the builder's key probe (kTacticSearchAttribute 0): reshape builds no cuDNN plan
    bool mKeyReady{false};  // a key-only reshape answered the last shapes
    Shape mXShape, mWShape, mYShape;                         // physical, as reshape() received them
    std::vector<int64_t> mPre, mPost, mStrides, mDilations;  // as cuDNN is told them
    std::shared_ptr<fe::graph::Graph> mGraph;
    CudnnPlanList mPlans;
    bool mFusedInCudnn{false};
    bool mDirectApplies{false};     // the direct kernel is a tactic (conv_direct_nhwc.h)
    bool mDepthwiseApplies{false};  // and so is the depthwise 3x3 one (conv_depthwise3x3_nhwc.h)
    OwnConvKernel mOwnKernel{OwnConvKernel::kNone};  // the own kernel that runs the layer, if any
    DirectConvShape mDirectShape;                    // the extents both own kernels take
    int64_t mChannels{1};
    int64_t mInner{1};
    int64_t mCount{0};
};

bool convSupported(const Node& node, std::string* reason) {
    // The NCHW-input form has its own types (X may be float under narrow weights) and its own kernel.
    if (node.opType == "FusedConv" && node.attrs.getInt(kInputChannelsFirstAttribute, 0) != 0)
        return channelsFirstInputConvSupported(node, reason);
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
        const int64_t channelsLast = node.attrs.getInt(kChannelsLastAttribute, 0);
        if (channelsLast != 0 && channelsLast != 1) {
            if (reason)
                *reason = std::string(kChannelsLastAttribute) + " is " + std::to_string(channelsLast) + ", not 0 or 1";
            return false;
        }
        if (channelsLast == 1 && rank != 4) {
            if (reason)
                *reason = "a channels-last convolution is 2-D: X must be [N, H, W, C] (rank 4); X has rank " +
                          std::to_string(rank);
            return false;
        }
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
        if (node.attrs.getInt(kInputChannelsFirstAttribute, 0) != 0)
            return createChannelsFirstInputConv(node, activation);
    }
    return std::unique_ptr<Kernel>(std::make_unique<CudnnConvKernel>(node, context, activation, fused));
}

}  // namespace

void registerConvKernels(CudaKernelRegistry& registry) {
    registry.add({"Conv", convSupported, createConv});
    registry.add({"kiln::FusedConv", convSupported, createConv});
}

}  // namespace kiln::cuda
