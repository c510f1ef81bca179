// CPU channels-last layers (channels_last.h): NHWC -> NCHW transposes into the workspace, the NCHW
// kernel, and a transpose of its output back to NHWC (the Transpose kernel's strided copies). A FusedConv
// whose X is NCHW already (kInputChannelsFirstAttribute) reads it in place.

#include "backends/cpu/kernels/channels_last.h"

#include <array>
#include <cstdint>
#include <deque>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "ir/ops/channels_last_perm.h"
#include "ir/ops/layout_attributes.h"

namespace kiln::cpu {

namespace {

constexpr size_t kStagingAlign = 64;

size_t alignUp(size_t bytes) { return (bytes + kStagingAlign - 1) / kStagingAlign * kStagingAlign; }

/// Inputs in NHWC layout (the rest, FusedConv's bias, have no channel layout): X, W and Z of
/// FusedConv (W and Z only where its X is NCHW, kInputChannelsFirstAttribute), X of ChannelsLastPool.
bool inputIsChannelsLast(const Node& node, size_t input) {
    if (node.opType == "ChannelsLastPool") return input == 0;
    if (input == 0) return node.attrs.getInt(kInputChannelsFirstAttribute, 0) == 0;
    return input != 2;
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
        nchw.attrs.erase(kInputChannelsFirstAttribute);
        // A float X under narrow weights (a folded Cast) is the CUDA kernel's; the CPU kernels take one type.
        if (node.input(0) && node.input(1) && node.input(0)->dtype != node.input(1)->dtype)
            return unsupported(node.describe() + ": X is " + dataTypeName(node.input(0)->dtype) + " but W is " +
                               dataTypeName(node.input(1)->dtype) + "; the CPU convolution takes one type");
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

/// The copy that permutes a contiguous rank-4 tensor of `shape` by `perm` (the Transpose kernel's own).
datamove::StridedCopy permutation(const Shape& shape, const std::array<int64_t, 4>& perm) {
    datamove::StridedCopy copy = datamove::transposeCopy(shape, permVector(perm));
    copy.simplify();
    return copy;
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
        mInputCopies.assign(inputs.size(), datamove::StridedCopy{});
        size_t staging = 0;
        for (size_t i = 0; i < inputs.size(); ++i) {
            if (i >= mPermuted.size() || !mPermuted[i]) continue;
            if (inputs[i].rank() != 4)
                return invalidArgument("channels-last layer: input " + std::to_string(i) + " " +
                                       shapeToString(inputs[i].shape, true) + " must have rank 4");
            mInputs[i].shape = permuteRank4(inputs[i].shape, kToChannelsFirst);
            mInputCopies[i] = permutation(inputs[i].shape, kToChannelsFirst);
            mStagingOffsets[i] = staging;
            staging += alignUp(inputs[i].byteSize());
        }
        mOutput = outputs[0];
        mOutput.shape = permuteRank4(outputs[0].shape, kToChannelsFirst);
        mOutputCopy = permutation(mOutput.shape, kToChannelsLast);
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
            mInputCopies[i].run(io.input(i).data, inputs[i].data, dataTypeSize(io.input(i).dtype));
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
        mOutputCopy.run(output.data, io.output(0).data, dataTypeSize(output.dtype));
        return Status::ok();
    }

    std::string tacticName() const override { return mNchw->tacticName() + "+nhwc_transposes"; }

private:
    std::unique_ptr<Kernel> mNchw;
    std::vector<bool> mPermuted;
    std::vector<TensorView> mInputs;
    std::vector<size_t> mStagingOffsets;
    std::vector<datamove::StridedCopy> mInputCopies;  // NHWC -> NCHW, planned at reshape
    datamove::StridedCopy mOutputCopy;                // NCHW -> NHWC
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
