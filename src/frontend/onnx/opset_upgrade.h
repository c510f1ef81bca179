#pragma once
// Opset upgrades: the IR holds every op in the newest opset's form (attributes that later opsets
// turned into inputs are inputs, legacy semantics are rewritten), so passes and kernels know one
// form only. Each op family keeps a small table of upgrades in its own file
// (opset_upgrade_<family>.cpp); the importer applies, to every default-domain node, the entries of
// its op type whose `beforeOpset` is above the model's opset, in table order.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"
#include "ir/op_registry.h"

namespace kiln::onnx_import {

/// What an upgrade may ask of the importer.
class UpgradeHost {
public:
    virtual ~UpgradeHost() = default;
    /// A new graph constant with a fresh name derived from `baseName`.
    virtual Value* addHelperConstant(const std::string& baseName, Tensor tensor) = 0;
    /// A new single-output node placed before the node being upgraded; it stands for the same
    /// ONNX node (same sourceNodes) and its output gets a fresh name.
    virtual Value* addHelperNode(const std::string& opType, const std::string& nodeName, std::vector<Value*> inputs,
                                 AttributeMap attrs) = 0;
    /// What inference knows so far about `value`; nullptr when nothing.
    virtual const ValueInfo* knownInfo(const Value* value) const = 0;
};

/// One ONNX node on its way to the IR: the node the importer emits once the upgrades ran.
struct NodeDraft {
    std::string opType;
    std::vector<Value*> inputs;  // nullptr for an omitted optional input
    AttributeMap attrs;
    std::vector<std::string> outputNames;  // the ONNX outputs ("" when omitted); upgrades keep them
};

class UpgradeContext {
public:
    UpgradeContext(NodeDraft& draft, std::string nodeName, int64_t opset, UpgradeHost& host)
        : mDraft(draft), mNodeName(std::move(nodeName)), mOpset(opset), mHost(host) {}

    NodeDraft& node() { return mDraft; }
    AttributeMap& attrs() { return mDraft.attrs; }
    const std::string& nodeName() const { return mNodeName; }
    /// The model's default-domain opset.
    int64_t opset() const { return mOpset; }

    Value* input(size_t i) const { return i < mDraft.inputs.size() ? mDraft.inputs[i] : nullptr; }
    /// Sets input `i`, padding skipped positions with omitted (nullptr) inputs.
    void setInput(size_t i, Value* value);
    /// The element type of input `i` when known, else `fallback`.
    DataType inputType(size_t i, DataType fallback) const;
    std::optional<int64_t> inputRank(size_t i) const;
    /// The contents of input `i` when known at import time (a constant or a folded shape value).
    const Tensor* inputValue(size_t i) const;

    /// A constant named after the node ("<node>_<suffix>").
    Value* addConstant(const std::string& suffix, Tensor tensor);
    /// A helper node named "<node>/<suffix>" with one output.
    Value* addNode(const std::string& opType, const std::string& suffix, std::vector<Value*> inputs,
                   AttributeMap attrs = {});

private:
    NodeDraft& mDraft;
    std::string mNodeName;
    int64_t mOpset;
    UpgradeHost& mHost;
};

using UpgradeFunction = Status (*)(UpgradeContext&);

/// `beforeOpset` of upgrades that apply at every opset: ops the newest opset no longer has, and
/// spellings that exporters still write.
constexpr int64_t kEveryOpset = std::numeric_limits<int64_t>::max();

struct OpsetUpgrade {
    const char* opType;
    /// Applies to models whose default-domain opset is below this: the opset that changed the op.
    int64_t beforeOpset;
    /// The IR op types the upgraded node may become; empty when it keeps its own op type.
    std::vector<const char*> emits;
    UpgradeFunction apply;
};

// One table per op family, next to its upgrades.
void addEarlyOpsetUpgrades(std::vector<OpsetUpgrade>& table);  // opsets 1-5 into opset 6's form (consumed_inputs, ...)
void addShapeUpgrades(std::vector<OpsetUpgrade>& table);       // Squeeze Unsqueeze Split Slice Pad TopK
void addReduceUpgrades(std::vector<OpsetUpgrade>& table);      // ReduceSum and the other Reduce*
void addActivationUpgrades(std::vector<OpsetUpgrade>& table);  // Clip Softmax LogSoftmax Hardmax
void addResizeUpgrades(std::vector<OpsetUpgrade>& table);      // Upsample Resize GridSample RoiAlign
void addBroadcastUpgrades(std::vector<OpsetUpgrade>& table);  // opset-6 broadcast / axis of Add, Mul, ..., Gemm
void addLegacyUpgrades(std::vector<OpsetUpgrade>& table);  // Dropout BatchNormalization Scatter ImageScaler DFT
void addScan8Upgrades(std::vector<OpsetUpgrade>& table);   // Scan-8 (batched) into a Loop of Scan-9

/// The upgrades that apply to a default-domain node of `opType` in a model of `opset`, in order.
std::vector<const OpsetUpgrade*> upgradesFor(const std::string& opType, int64_t opset);

/// Whether a node can be imported: every IR op type it becomes has a schema in the registry.
bool isImportable(const std::string& domain, const std::string& opType, int64_t opset);

// Helpers shared by the families.

/// What an attribute holding an empty list becomes when it moves to an input.
enum class EmptyList {
    kOmitInput,  // the op read an empty list as "attribute absent" (Squeeze, Reduce*, Split)
    kKeepInput,  // an empty list is a real value (Unsqueeze, Slice)
};
/// Moves the ints attribute `attr` (when present) into input `inputIndex` as a 1-D int64 constant.
Status moveIntsAttributeToInput(UpgradeContext& ctx, const std::string& attr, size_t inputIndex, EmptyList empty);
/// A tensor of `type` and `shape` holding `values` (converted to the element type).
Tensor tensorOfType(DataType type, Shape shape, const std::vector<double>& values);
/// A rank-0 tensor of `type` holding `value`.
Tensor scalarOfType(DataType type, double value);

}  // namespace kiln::onnx_import
