// CPU channels-last layers (channels_last.h): NHWC -> NCHW transposes into the workspace, the NCHW
// kernel, and a transpose of its output back to NHWC.

#include "backends/cpu/kernels/channels_last.h"

#include <array>
#include <cstdint>
#include <deque>

#include "backends/cpu/kernel_registry.h"
#include "ir/ops/channels_last_perm.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cpu {

namespace {

constexpr size_t kStagingAlign = 64;

size_t alignUp(size_t bytes) { return (bytes + kStagingAlign - 1) / kStagingAlign * kStagingAlign; }

/// Inputs in NHWC layout (the rest, FusedConv's bias, have no channel layout): X, W and Z of
/// FusedConv, X of ChannelsLastPool.
bool inputIsChannelsLast(const Node& node, size_t input) {
    return node.opType == "ChannelsLastPool" ? input == 0 : input != 2;
}

/// The NCHW node of the same computation: values with permuted shapes (kept in `values`, contents
/// dropped since they are in the other layout), the layout attributes removed.
Expected<Node> nchwForm(const Node& node, std::deque<Value>& values) {
    Node nchw;
    nchw.id = node.id;
    nchw.name = node.name;
    nchw.attrs = node.attrs;
    if (node.opType == "ChannelsLastPool") {
        nchw.opType = node.attrs.getString(kChannelsLastPoolAttribute, "");
        if (nchw.opType != "MaxPool" && nchw.opType != "AveragePool")
            return invalidModel(node.describe() + ": attribute " + kChannelsLastPoolAttribute +
                                " must be MaxPool or AveragePool, got \"" + nchw.opType + "\"");
        nchw.attrs.erase(kChannelsLastPoolAttribute);
    } else {
        nchw.opType = node.opType;
        nchw.domain = node.domain;
        nchw.attrs.erase(kChannelsLastAttribute);
    }
    auto convert = [&](const Value* v, bool permute) -> Expected<Value*> {
        if (!v) return static_cast<Value*>(nullptr);
        Value& copy = values.emplace_back(*v);
        if (permute) {
            if (v->shape.size() != 4)
                return invalidModel(node.describe() + ": channels-last tensor '" + v->name + "' must have rank 4, got " +
                                    symShapeToString(v->shape));
            copy.shape = permuteRank4(v->shape, kToChannelsFirst);
            copy.constant.reset();
        }
        return &copy;
    };
    for (size_t i = 0; i < node.inputs.size(); ++i) {
        KILN_ASSIGN_OR_RETURN(Value * in, convert(node.inputs[i], inputIsChannelsLast(node, i)));
        nchw.inputs.push_back(in);
    }
    for (const Value* out : node.outputs) {
        KILN_ASSIGN_OR_RETURN(Value * converted, convert(out, true));
        nchw.outputs.push_back(converted);
    }
    return nchw;
}

/// Copies the rank-4 tensor `src` of shape `srcShape` into `dst` with its axes in the order `perm`.
template <typename Word>
void permuteWords(const Word* src, const Shape& srcShape, const std::array<int64_t, 4>& perm, Word* dst) {
    const Shape dstShape = permuteRank4(srcShape, perm);
    const int64_t srcStrides[4] = {srcShape[1] * srcShape[2] * srcShape[3], srcShape[2] * srcShape[3], srcShape[3], 1};
    int64_t stride[4];
    for (size_t d = 0; d < 4; ++d) stride[d] = srcStrides[static_cast<size_t>(perm[d])];
    const int64_t outer = dstShape[0] * dstShape[1];
#pragma omp parallel for schedule(static) if (outer * dstShape[2] * dstShape[3] > 32768)
    for (int64_t ab = 0; ab < outer; ++ab) {
        const int64_t a = ab / dstShape[1], b = ab % dstShape[1];
        Word* out = dst + ab * dstShape[2] * dstShape[3];
        const Word* base = src + a * stride[0] + b * stride[1];
        for (int64_t c = 0; c < dstShape[2]; ++c)
            for (int64_t d = 0; d < dstShape[3]; ++d) *out++ = base[c * stride[2] + d * stride[3]];
    }
}

/// permuteWords over the element size of `type` (the values are only moved, never read as numbers).
Status permuteTensor(const void* src, const Shape& srcShape, DataType type, const std::array<int64_t, 4>& perm,
                     void* dst) {
    switch (dataTypeSize(type)) {
        case 1: permuteWords(static_cast<const uint8_t*>(src), srcShape, perm, static_cast<uint8_t*>(dst)); break;
        case 2: permuteWords(static_cast<const uint16_t*>(src), srcShape, perm, static_cast<uint16_t*>(dst)); break;
        case 4: permuteWords(static_cast<const uint32_t*>(src), srcShape, perm, static_cast<uint32_t*>(dst)); break;
        case 8: permuteWords(static_cast<const uint64_t*>(src), srcShape, perm, static_cast<uint64_t*>(dst)); break;
        default: return unsupported(std::string("channels-last transpose of element type ") + dataTypeName(type));
    }
    return Status::ok();
}

class ChannelsLastKernel : public Kernel {
public:
    ChannelsLastKernel(std::unique_ptr<Kernel> nchw, std::vector<bool> permuted)
        : mNchw(std::move(nchw)), mPermuted(std::move(permuted)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (outputs.size() != 1 || outputs[0].rank() != 4)
            return invalidArgument("channels-last layer: expected one rank-4 output");
        mInputs = inputs;
        mStagingOffsets.assign(inputs.size(), 0);
        size_t staging = 0;
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (i >= mPermuted.size() || !mPermuted[i]) continue;
            if (inputs[i].rank() != 4)
                return invalidArgument("channels-last layer: input " + std::to_string(i) + " " +
                                       shapeToString(inputs[i].shape, true) + " must have rank 4");
            mInputs[i].shape = permuteRank4(inputs[i].shape, kToChannelsFirst);
            mStagingOffsets[i] = staging;
            staging += alignUp(inputs[i].byteSize());
        }
        mOutput = outputs[0];
        mOutput.shape = permuteRank4(outputs[0].shape, kToChannelsFirst);
        mOutputOffset = staging;
        mStagingBytes = staging + alignUp(mOutput.byteSize());
        return mNchw->reshape(mInputs, {mOutput});
    }

    size_t workspaceSize() const override { return mStagingBytes + mNchw->workspaceSize(); }

    Status run(const KernelIO& io) override {
        auto* workspace = static_cast<uint8_t*>(io.workspace);
        std::vector<TensorView> inputs(mInputs);
        for (size_t i = 0; i < io.numInputs && i < inputs.size(); ++i) {
            inputs[i].data = io.input(i).data;
            if (!io.hasInput(i) || i >= mPermuted.size() || !mPermuted[i]) continue;
            inputs[i].data = workspace + mStagingOffsets[i];
            KILN_RETURN_IF_ERROR(
                permuteTensor(io.input(i).data, io.input(i).shape, io.input(i).dtype, kToChannelsFirst, inputs[i].data));
        }
        TensorView output = mOutput;
        output.data = workspace + mOutputOffset;
        KernelIO nchwIO = io;
        nchwIO.inputs = inputs.data();
        nchwIO.outputs = &output;
        nchwIO.numOutputs = 1;
        nchwIO.workspace = workspace + mStagingBytes;
        nchwIO.workspaceBytes = mNchw->workspaceSize();
        KILN_RETURN_IF_ERROR(mNchw->run(nchwIO));
        return permuteTensor(output.data, output.shape, output.dtype, kToChannelsLast, io.output(0).data);
    }

    std::string tacticName() const override { return mNchw->tacticName() + "+nhwc_transposes"; }

private:
    std::unique_ptr<Kernel> mNchw;
    std::vector<bool> mPermuted;
    std::vector<TensorView> mInputs;
    std::vector<size_t> mStagingOffsets;
    TensorView mOutput;
    size_t mOutputOffset{0};
    size_t mStagingBytes{0};
};

}  // namespace

bool isChannelsLast(const Node& node) {
    return node.domain == "kiln" && (node.opType == "ChannelsLastPool" ||
                                     (node.opType == "FusedConv" && node.attrs.getInt(kChannelsLastAttribute, 0) != 0));
}

bool supportsChannelsLast(const Node& node, std::string* reason) {
    std::deque<Value> values;
    auto nchw = nchwForm(node, values);
    if (!nchw) {
        if (reason) *reason = nchw.status().message();
        return false;
    }
    const CpuKernelEntry* entry = CpuKernelRegistry::global().find(*nchw);
    if (!entry) {
        if (reason) *reason = "no CPU kernel for " + nchw->opType;
        return false;
    }
    return cpuEntrySupports(*entry, *nchw, reason);
}

Expected<std::unique_ptr<Kernel>> createChannelsLastKernel(const Node& node) {
    std::deque<Value> values;
    KILN_ASSIGN_OR_RETURN(Node nchw, nchwForm(node, values));
    const CpuKernelEntry* entry = CpuKernelRegistry::global().find(nchw);
    if (!entry) return unsupported(node.describe() + ": no CPU kernel for " + nchw.opType);
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, entry->create(nchw));
    std::vector<bool> permuted;
    for (size_t i = 0; i < node.inputs.size(); ++i) permuted.push_back(node.hasInput(i) && inputIsChannelsLast(node, i));
    return std::unique_ptr<Kernel>(new ChannelsLastKernel(std::move(kernel), std::move(permuted)));
}

void registerChannelsLastPoolKernels(CpuKernelRegistry& registry) {
    registry.add({"ChannelsLastPool", supportsChannelsLast, createChannelsLastKernel, "kiln"});
}

}  // namespace kiln::cpu
