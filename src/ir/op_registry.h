#pragma once
// The operator registry: for each IR op type, how to infer its outputs' types and shapes (and,
// for shape computations, their values). One registration per operator, in the file of its
// family (src/ir/ops/*.cpp), collected by the explicit list in registerAllOps().

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"

namespace kiln {

/// What shape inference knows about one value.
struct ValueInfo {
    DataType dtype{DataType::kFLOAT};
    SymShape shape;
    bool known{false};           // dtype and rank are set
    std::optional<Tensor> value; // the contents, when known at this point (constants, shape tensors)
    ContainerType container;     // tensor, or a sequence / optional run as a handle (ir/value_kind.h)
};

/// The view an op's inference function gets of one node.
class InferenceContext {
public:
    InferenceContext(const Node& node, std::vector<const ValueInfo*> inputs, size_t numOutputs)
        : mNode(node), mInputs(std::move(inputs)), mOutputs(numOutputs) {}

    const Node& node() const { return mNode; }
    const AttributeMap& attrs() const { return mNode.attrs; }
    size_t numInputs() const { return mInputs.size(); }
    size_t numOutputs() const { return mOutputs.size(); }
    bool hasInput(size_t i) const { return i < mInputs.size() && mInputs[i] != nullptr; }
    const ValueInfo& input(size_t i) const { return *mInputs[i]; }
    DataType inputType(size_t i) const { return mInputs[i]->dtype; }
    const SymShape& inputShape(size_t i) const { return mInputs[i]->shape; }
    int64_t inputRank(size_t i) const { return static_cast<int64_t>(mInputs[i]->shape.size()); }
    /// The input's contents when known (constant or computed shape value), else nullptr.
    const Tensor* inputValue(size_t i) const {
        return hasInput(i) && mInputs[i]->value ? &*mInputs[i]->value : nullptr;
    }

    void setOutput(size_t i, DataType dtype, SymShape shape) {
        mOutputs[i].dtype = dtype;
        mOutputs[i].shape = std::move(shape);
        mOutputs[i].known = true;
    }
    const ContainerType& inputContainer(size_t i) const { return mInputs[i]->container; }
    /// Types output `i` as `type`: a tensor output keeps the dtype and shape set by setOutput(); a
    /// sequence or optional runs as a handle (ir/value_kind.h).
    void setContainerOutput(size_t i, ContainerType type) {
        if (!type.isTensor()) setOutput(i, kHandleType, {});
        mOutputs[i].container = std::move(type);
    }
    /// Records the output's contents (e.g. Shape of a static tensor), letting later shape
    /// computations fold.
    void setOutputValue(size_t i, Tensor value) { mOutputs[i].value = std::move(value); }
    std::vector<ValueInfo>& outputs() { return mOutputs; }

    /// An error Status prefixed with the node's description.
    Status error(const std::string& message) const { return invalidModel(mNode.describe() + ": " + message); }

private:
    const Node& mNode;
    std::vector<const ValueInfo*> mInputs;
    std::vector<ValueInfo> mOutputs;
};

using InferFunction = std::function<Status(InferenceContext&)>;

struct OpSchema {
    std::string opType;
    std::string domain;  // "" is the ONNX standard domain
    InferFunction infer;
    size_t minInputs{0};
    size_t maxInputs{SIZE_MAX};
    /// Output values may be computed at build/prepare time when all inputs are known (false for
    /// random generators and ops whose output depends on anything but their inputs).
    bool foldable{true};
    /// Outputs from this index on are optional (ONNX lets a model omit them): when nothing reads
    /// one, the builder drops it and the kernel does not compute it.
    size_t requiredOutputs{SIZE_MAX};
    /// Output shapes depend on input *values* (NonZero, Unique, NonMaxSuppression, ...). When those
    /// values are unknown, inference leaves the data-dependent dims unknown; the runtime then asks
    /// the kernel for the shapes once the inputs are computed (Kernel::computeOutputShapes) and
    /// infers the nodes downstream at the shapes it reports (runtime/data_dependent_run.h).
    bool dataDependentShape{false};
    /// The op reads or writes sequences / optionals (ir/value_kind.h). Others take tensors only:
    /// inference refuses a non-tensor input rather than treating its handle as a number.
    bool nonTensorValues{false};
};

class OpRegistry {
public:
    /// The process-wide registry with every built-in op (registered on first use).
    static OpRegistry& global();

    void add(OpSchema schema);
    /// A schema for every op of `schema.domain` that has none of its own (plugin layers: their rules
    /// come from the plugin, not from a table).
    void addDomain(OpSchema schema);
    const OpSchema* find(const std::string& domain, const std::string& opType) const;
    std::vector<const OpSchema*> all() const;

private:
    std::map<std::pair<std::string, std::string>, OpSchema> mSchemas;
    std::map<std::string, OpSchema> mDomainSchemas;
};

/// The explicit list of op families; each family's function lives beside its ops.
void registerAllOps(OpRegistry& registry);

}  // namespace kiln
