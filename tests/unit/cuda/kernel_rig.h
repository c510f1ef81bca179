#pragma once
// One node's CUDA kernel driven directly through Kernel (and so TacticChooser) on device copies of its
// inputs: the rig of the tactic tests, which create a node's kernel with given attributes (a carried
// tactic state, say), reshape it to the rig's shapes and run it into a NaN-poisoned output.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/precision_attributes.h"
#include "backends/tactic_choice.h"
#include "cuda_test_support.h"

namespace kiln::cudatest {

class KernelRig {
public:
    /// `firstInputOffset` bytes shift the first input's address off the allocation's alignment.
    KernelRig(Backend& backend, Stream stream, std::string opType, std::string domain,
              const std::vector<const Tensor*>& inputs, DataType outType, const Shape& outShape,
              size_t firstInputOffset = 0)
        : mBackend(backend), mStream(stream), mOpType(std::move(opType)), mDomain(std::move(domain)),
          mInputs(inputs), mOutType(outType), mOutShape(outShape) {
        for (size_t i = 0; i < inputs.size(); ++i) {
            const Tensor* t = inputs[i];
            const size_t offset = i == 0 ? firstInputOffset : 0;
            mBuffers.push_back(std::make_unique<DeviceBuffer>(backend, t->byteSize() + offset));
            void* at = static_cast<uint8_t*>(mBuffers.back()->get()) + offset;
            EXPECT_TRUE(backend.copyToDevice(at, t->data(), t->byteSize(), stream).isOk());
            mInViews.push_back({t->dtype(), t->shape(), at});
        }
        mBuffers.push_back(std::make_unique<DeviceBuffer>(backend, TensorView{outType, outShape, nullptr}.byteSize()));
        mOutView = {outType, outShape, mBuffers.back()->get()};
    }

    /// A kernel of the node with `attrs`, reshaped to the rig's shapes.
    Expected<std::unique_ptr<Kernel>> kernel(const AttributeMap& attrs) {
        Graph graph;
        std::vector<Value*> ins;
        for (size_t i = 0; i < mInputs.size(); ++i)
            ins.push_back(
                graph.addInput("in" + std::to_string(i), mInputs[i]->dtype(), fromConcrete(mInputs[i]->shape())));
        Node* node = graph.addNode(mOpType, "node", ins, {}, 1);
        node->domain = mDomain;
        node->attrs = attrs;
        node->outputs[0]->dtype = mOutType;
        node->outputs[0]->shape = fromConcrete(mOutShape);
        node->outputs[0]->typeKnown = true;
        std::string reason;
        if (!mBackend.supports(*node, &reason)) return unsupported("not supported: " + reason);
        KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, mBackend.createKernel(*node));
        KILN_RETURN_IF_ERROR(kernel->reshape(mInViews, {mOutView}));
        return Expected<std::unique_ptr<Kernel>>(std::move(kernel));
    }

    /// Runs `kernel` on the rig's inputs into a NaN-poisoned output and returns the output.
    Expected<Tensor> run(Kernel& kernel) {
        std::vector<uint8_t> poison(mOutView.byteSize(), 0xFF);
        KILN_RETURN_IF_ERROR(mBackend.copyToDevice(mOutView.data, poison.data(), poison.size(), mStream));
        const size_t workspaceBytes = kernel.workspaceSize();
        DeviceBuffer workspace(mBackend, workspaceBytes);
        KernelIO io;
        io.inputs = mInViews.data();
        io.numInputs = mInViews.size();
        io.outputs = &mOutView;
        io.numOutputs = 1;
        io.workspace = workspaceBytes ? workspace.get() : nullptr;
        io.workspaceBytes = workspaceBytes;
        io.stream = mStream;
        KILN_RETURN_IF_ERROR(kernel.run(io));
        Tensor out = Tensor::allocate(mOutType, mOutShape);
        KILN_RETURN_IF_ERROR(mBackend.copyToHost(out.data(), mOutView.data, mOutView.byteSize(), mStream));
        KILN_RETURN_IF_ERROR(mBackend.synchronize(mStream));
        return out;
    }

private:
    Backend& mBackend;
    Stream mStream;
    std::string mOpType, mDomain;
    std::vector<const Tensor*> mInputs;
    DataType mOutType;
    Shape mOutShape;
    std::vector<std::unique_ptr<DeviceBuffer>> mBuffers;
    std::vector<TensorView> mInViews;
    TensorView mOutView;
};

/// The builder's key probe of the node `attrs` describe (kTacticSearchAttribute 0) names the problem of
/// `searching` (the same node's trial kernel) and builds nothing to run: no workspace.
inline void expectKeyProbeNamesTheProblem(KernelRig& rig, const AttributeMap& attrs, const TacticChooser& searching,
                                          const std::string& label) {
    AttributeMap keyOnly = attrs;
    keyOnly.set(kTacticSearchAttribute, int64_t{0});
    auto probe = rig.kernel(keyOnly);
    ASSERT_TRUE(probe.isOk()) << label << ": " << probe.status().message();
    EXPECT_EQ(dynamic_cast<TacticChooser*>(probe->get())->tacticKey(), searching.tacticKey()) << label;
    EXPECT_EQ((*probe)->workspaceSize(), 0u) << label;
}

}  // namespace kiln::cudatest
