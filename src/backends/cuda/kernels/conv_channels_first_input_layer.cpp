// The CUDA layer of a FusedConv reading NCHW X (conv_channels_first_input_layer.h).

#include "backends/cuda/kernels/conv_channels_first_input_layer.h"

#include <cuda_runtime.h>

#include <limits>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/kernels/conv_channels_first_input.h"
#include "ir/ops/conv_window.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cuda {

namespace {

/// The kernel's extents from X [N, C, H, W], W [K, R, S, C] and Y [N, OH, OW, K] and the node's window
/// attributes; an error where they do not describe one group-1 convolution.
Expected<DirectConvShape> convShape(const AttributeMap& attrs, const Shape& x, const Shape& w, const Shape& y) {
    if (x.size() != 4 || w.size() != 4 || y.size() != 4)
        return invalidArgument("X [N, C, H, W], W [K, R, S, C] and Y [N, OH, OW, K] must have rank 4, got X " +
                               shapeToString(x, true) + ", W " + shapeToString(w, true) + ", Y " +
                               shapeToString(y, true));
    const int64_t group = attrs.getInt("group", 1);
    if (group != 1 || x[1] != w[3] || y[0] != x[0] || y[3] != w[0])
        return invalidArgument("X " + shapeToString(x, true) + " (NCHW), W " + shapeToString(w, true) + " and Y " +
                               shapeToString(y, true) + " (NHWC) do not make one convolution of group 1");
    KILN_ASSIGN_OR_RETURN(WindowSpec spec, parseWindowSpec(attrs, 2, Shape{w[1], w[2]}, WindowKind::kConvolution));
    int64_t pads[2] = {0, 0};
    for (size_t axis = 0; axis < 2; ++axis) {
        const AxisWindow window = forwardWindow(spec, axis, x[2 + axis]);
        if (window.output != y[1 + axis])
            return invalidArgument("output extent " + std::to_string(y[1 + axis]) + " on spatial axis " +
                                   std::to_string(axis) + " is not the window's " + std::to_string(window.output));
        pads[axis] = window.padBegin;
    }
    // Each extent must fit 32 bits here; channelsFirstInputConvApplies then checks the tensors' sizes.
    for (int64_t extent : {x[0], x[1], x[2], x[3], w[0], w[1], w[2], y[1], y[2], spec.strides[0], spec.strides[1],
                           spec.dilations[0], spec.dilations[1], pads[0], pads[1]})
        if (extent > std::numeric_limits<int32_t>::max())
            return invalidArgument("extent " + std::to_string(extent) + " passes the kernel's 32-bit offsets");
    auto i32 = [](int64_t v) { return static_cast<int32_t>(v); };
    DirectConvShape s;
    s.batch = i32(x[0]);
    s.inC = i32(x[1]);
    s.inH = i32(x[2]);
    s.inW = i32(x[3]);
    s.outH = i32(y[1]);
    s.outW = i32(y[2]);
    s.outC = i32(y[3]);
    s.kernelH = i32(w[1]);
    s.kernelW = i32(w[2]);
    s.strideH = i32(spec.strides[0]);
    s.strideW = i32(spec.strides[1]);
    s.dilationH = i32(spec.dilations[0]);
    s.dilationW = i32(spec.dilations[1]);
    s.padTop = i32(pads[0]);
    s.padLeft = i32(pads[1]);
    s.group = 1;
    return s;
}

class ChannelsFirstInputConvKernel : public Kernel {
public:
    ChannelsFirstInputConvKernel(const Node& node, const FusedActivation& activation)
        : mAttrs(node.attrs),
          mActivation(activation),
          mType(node.input(1)->dtype),
          mInputType(node.input(0)->dtype),
          mBiasType(node.hasInput(2) ? node.input(2)->dtype : node.input(1)->dtype),
          mHasBias(node.hasInput(2)),
          mHasResidual(node.hasInput(3)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const TensorView& y = outputs[0];
        auto shape = convShape(mAttrs, inputs[0].shape, inputs[1].shape, y.shape);
        if (!shape) return shape.status().withContext(tacticName());
        mShape = *shape;
        if (mHasBias && inputs[2].elementCount() != y.shape[3])
            return invalidArgument(tacticName() + ": bias " + shapeToString(inputs[2].shape, true) +
                                   " does not hold one value per output channel (" + std::to_string(y.shape[3]) + ")");
        if (mHasResidual && inputs[3].shape != y.shape)
            return invalidArgument(tacticName() + ": residual " + shapeToString(inputs[3].shape, true) +
                                   " differs from the output " + shapeToString(y.shape, true));
        std::string reason;
        if (!channelsFirstInputConvApplies(mType, mInputType, mShape, &reason))
            return unsupported(tacticName() + ": " + reason);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        return launchChannelsFirstInputConv(mType, mInputType, mBiasType, io.input(0).data, io.input(1).data,
                                            mHasBias ? io.input(2).data : nullptr,
                                            mHasResidual ? io.input(3).data : nullptr, io.output(0).data, mShape,
                                            mActivation, static_cast<cudaStream_t>(io.stream));
    }

    std::string tacticName() const override {
        // A float image under narrow weights (a Cast folded in) says so.
        return std::string("cuda.conv_nchw_in_nhwc_out_") + tacticTypeSuffix(mType) +
               (mInputType != mType ? std::string("_from_") + tacticTypeSuffix(mInputType) : "");
    }

private:
    AttributeMap mAttrs;
    FusedActivation mActivation;
    DataType mType;       // W's, Y's and the residual's
    DataType mInputType;  // X's: mType, or float
    DataType mBiasType;
    bool mHasBias;
    bool mHasResidual;
    DirectConvShape mShape;
};

bool refuse(std::string* reason, const std::string& why) {
    if (reason) *reason = why;
    return false;
}

}  // namespace

bool channelsFirstInputConvSupported(const Node& node, std::string* reason) {
    if (node.opType != "FusedConv" || node.attrs.getInt(kInputChannelsFirstAttribute, 0) != 1 ||
        node.attrs.getInt(kChannelsLastAttribute, 0) != 1)
        return refuse(reason, std::string("a convolution reading NCHW X is a FusedConv with ") +
                                  kInputChannelsFirstAttribute + " = 1 and " + kChannelsLastAttribute + " = 1");
    if (node.attrs.getInt("group", 1) != 1)
        return refuse(reason,
                      "a convolution reading NCHW X has group 1, not " + std::to_string(node.attrs.getInt("group", 1)));
    const Value* x = node.input(0);
    const Value* w = node.input(1);
    const Value* y = node.outputs.empty() ? nullptr : node.outputs[0];
    if (!x || !w) return refuse(reason, "a convolution reading NCHW X needs X and W");
    // W, the residual and Y share one type; X is of that type or float (a Cast folded in); the bias of
    // W's type or float.
    const DataType type = w->dtype;
    if (type != DataType::kFLOAT && type != DataType::kHALF && type != DataType::kBF16)
        return refuse(reason, std::string("no CUDA convolution reading NCHW X on ") + dataTypeName(type));
    auto typeIs = [&](const Value* v, bool orFloat) {
        return !v || v->dtype == type || (orFloat && v->dtype == DataType::kFLOAT);
    };
    if (!typeIs(x, true) || !typeIs(node.input(2), true) || !typeIs(node.input(3), false))
        return refuse(reason, std::string("a convolution reading NCHW X with ") + dataTypeName(type) +
                                  " weights takes X and a bias of that type or float, and a residual of that type");
    auto activation = parseFusedActivation(node);
    if (!activation) return refuse(reason, activation.status().message());
    if (x->shape.size() != 4 || (w->typeKnown && w->shape.size() != 4))
        return refuse(reason, "a convolution reading NCHW X takes rank-4 X [N, C, H, W] and W [K, R, S, C]");
    const Dim& channels = x->shape[1];
    if (!channels.isKnown() || channels.value < 1 || channels.value > kChannelsFirstInputMaxChannels)
        return refuse(reason, "a convolution reading NCHW X reads 1 to " +
                                  std::to_string(kChannelsFirstInputMaxChannels) + " known input channels, X is " +
                                  symShapeToString(x->shape));
    // Where every extent is known, the kernel's own check (32-bit offsets, a window that fits shared memory).
    if (!y || !y->typeKnown || !isFullyKnown(x->shape) || !isFullyKnown(w->shape) || !isFullyKnown(y->shape))
        return true;
    auto shape = convShape(node.attrs, toConcrete(x->shape), toConcrete(w->shape), toConcrete(y->shape));
    if (!shape) return refuse(reason, shape.status().message());
    return channelsFirstInputConvApplies(type, x->dtype, *shape, reason);
}

std::unique_ptr<Kernel> createChannelsFirstInputConv(const Node& node, const FusedActivation& activation) {
    return std::make_unique<ChannelsFirstInputConvKernel>(node, activation);
}

}  // namespace kiln::cuda
