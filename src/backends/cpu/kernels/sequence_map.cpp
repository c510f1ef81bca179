#include "backends/cpu/kernels/sequence_map.h"

#include <cstring>

#include "backends/control_flow_kernels.h"
#include "backends/subgraph_executor.h"
#include "ir/control_flow.h"

namespace kiln {

namespace {

class SequenceMapKernel : public Kernel {
public:
    SequenceMapKernel(std::unique_ptr<SubgraphExecutor> body, std::vector<bool> inputIsSequence, size_t captured,
                      std::vector<DataType> outputTypes, std::string name)
        : mBody(std::move(body)), mInputIsSequence(std::move(inputIsSequence)), mCaptured(captured),
          mOutputTypes(std::move(outputTypes)), mName(std::move(name)) {}

    Status run(const KernelIO& io) override {
        if (!io.hostValues) return internalError(mName + ": no store for sequence and optional values");
        const size_t formal = mInputIsSequence.size();
        std::vector<const HostValue*> sequences(formal, nullptr);
        size_t length = 0;
        for (size_t i = 0; i < formal; ++i) {
            if (!mInputIsSequence[i]) continue;
            const std::string what = mName + ": input " + std::to_string(i);
            KILN_ASSIGN_OR_RETURN(sequences[i], readHandle(io.input(i), what.c_str()));
            if (!sequences[i]->type.holdsSequence() || !sequences[i]->hasElement)
                return invalidArgument(what + " is a " + containerTypeName(sequences[i]->type) + ", not a sequence");
            const size_t n = sequences[i]->tensors.size();
            if (i > 0 && n != length)
                return invalidArgument(mName + ": the input sequences have " + std::to_string(length) + " and " +
                                       std::to_string(n) + " elements; SequenceMap needs equal lengths");
            length = n;
        }
        std::vector<HostValue> outputs;
        for (DataType type : mOutputTypes) outputs.push_back({ContainerType::sequenceOf(type, std::nullopt), true, {}});
        for (size_t e = 0; e < length; ++e) {
            std::vector<TensorView> inputs;
            for (size_t i = 0; i < formal; ++i)
                inputs.push_back(sequences[i] ? viewOf(sequences[i]->tensors[e]) : io.input(i));
            for (size_t i = io.numInputs - mCaptured; i < io.numInputs; ++i) inputs.push_back(io.input(i));
            KILN_ASSIGN_OR_RETURN(std::vector<TensorView> results, mBody->run(inputs, io.stream, io.strings, io.hostValues));
            if (results.size() != outputs.size())
                return invalidEngine(mName + ": the body returns " + std::to_string(results.size()) + " values, " +
                                     std::to_string(outputs.size()) + " are needed");
            // The body's buffers are reused by its next run: each result is copied out.
            for (size_t k = 0; k < results.size(); ++k) {
                Tensor t = Tensor::allocate(results[k].dtype, results[k].shape);
                if (t.byteSize()) std::memcpy(t.data(), results[k].data, t.byteSize());
                outputs[k].tensors.push_back(std::move(t));
            }
        }
        for (size_t k = 0; k < outputs.size() && k < io.numOutputs; ++k)
            if (io.output(k).data) writeHandle(io.output(k), io.hostValues->add(std::move(outputs[k])));
        return Status::ok();
    }
    std::string tacticName() const override { return mBody->backend().name() + ".sequence_map_interpreted"; }
    bool isCapturable(std::string* reason) const override {
        if (reason) *reason = "runs its body once per sequence element from the host";
        return false;
    }

private:
    std::unique_ptr<SubgraphExecutor> mBody;
    std::vector<bool> mInputIsSequence;  // per formal input (captures excluded)
    size_t mCaptured;
    std::vector<DataType> mOutputTypes;  // the element type of each output sequence
    std::string mName;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> createSequenceMapKernel(Backend& backend, const Node& node) {
    if (!backend.isHostMemory())
        return unsupported(node.describe() + ": SequenceMap runs on a host-memory backend only (its elements live on the host)");
    const int64_t captured = capturedInputCount(node);
    if (captured < 0 || node.inputs.size() < 1 + static_cast<size_t>(captured))
        return invalidModel(node.describe() + ": " + std::string(kCapturedInputsAttr) + " does not fit its inputs");
    std::shared_ptr<Graph> graph = node.attrs.getGraph("body");
    if (!graph) return invalidModel(node.describe() + ": graph attribute 'body' is missing");
    KILN_ASSIGN_OR_RETURN(std::unique_ptr<SubgraphExecutor> body,
                          SubgraphExecutor::create(backend, graph, "subgraph 'body' of " + node.describe()));
    std::vector<bool> inputIsSequence;
    for (size_t i = 0; i + static_cast<size_t>(captured) < node.inputs.size(); ++i) {
        if (!node.inputs[i]) return invalidModel(node.describe() + ": input " + std::to_string(i) + " is missing");
        inputIsSequence.push_back(!node.inputs[i]->container.isTensor());
    }
    std::vector<DataType> outputTypes;
    for (const Value* out : node.outputs) outputTypes.push_back(out ? out->container.elementType : DataType::kFLOAT);
    return std::unique_ptr<Kernel>(new SequenceMapKernel(std::move(body), std::move(inputIsSequence),
                                                         static_cast<size_t>(captured), std::move(outputTypes),
                                                         "SequenceMap"));
}

}  // namespace kiln
