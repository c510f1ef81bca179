#pragma once
// Contrib operators: ops outside the ONNX standard that exporters and ONNX Runtime's graph
// optimizers write (domain com.microsoft, and ONNX Runtime's SimplifiedLayerNormalization in the
// default domain). Kiln does not give them kernels: the importer expands each into standard ONNX
// ops (the IR's vocabulary), which the passes then fuse as they fuse any exported model, on every
// backend. An expansion refuses, with the reason, the forms it does not cover (e.g. Attention's
// past key/value state) rather than import them with other semantics.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "frontend/onnx/opset_upgrade.h"

namespace kiln::onnx_import {

/// What an expansion may ask of the importer.
class ExpansionHost : public UpgradeHost {
public:
    /// A new node of `opType` whose outputs are named `outputNames`: an ONNX output's name where
    /// the node produces one of the expanded node's outputs, "" for an intermediate value (a fresh
    /// name). Returns the outputs.
    virtual std::vector<Value*> addExpansionNode(const std::string& opType, std::vector<Value*> inputs, AttributeMap attrs,
                                                 const std::vector<std::string>& outputNames) = 0;
};

/// The contrib node being expanded, and the host that builds its replacement.
class ExpansionContext {
public:
    ExpansionContext(const NodeDraft& node, ExpansionHost& host) : mNode(node), mHost(host) {}

    /// Input `i`, nullptr when omitted.
    Value* input(size_t i) const { return i < mNode.inputs.size() ? mNode.inputs[i] : nullptr; }
    const AttributeMap& attrs() const { return mNode.attrs; }
    /// The name of ONNX output `i`, "" when the model omits it.
    std::string outputName(size_t i) const { return i < mNode.outputNames.size() ? mNode.outputNames[i] : std::string(); }
    bool wantsOutput(size_t i) const { return !outputName(i).empty(); }
    /// What inference knows of `value` so far (nullptr: nothing).
    const ValueInfo* info(const Value* value) const { return value ? mHost.knownInfo(value) : nullptr; }

    /// A single-output intermediate node.
    Value* add(const std::string& opType, std::vector<Value*> inputs, AttributeMap attrs = {});
    /// A node producing ONNX outputs: `outputs[k]` is the index of the expanded node's output that
    /// the new node's output k is (-1: an intermediate). Returns the new node's outputs.
    std::vector<Value*> addProducing(const std::string& opType, std::vector<Value*> inputs, AttributeMap attrs,
                                     const std::vector<int>& outputs);
    /// A node whose one output is the expanded node's output `output`.
    Value* addProducing(const std::string& opType, std::vector<Value*> inputs, int output, AttributeMap attrs = {}) {
        return addProducing(opType, std::move(inputs), std::move(attrs), {output})[0];
    }
    /// Defines the expanded node's output `output` as `value` (an Identity node, so it keeps its name).
    void produce(int output, Value* value) {
        if (wantsOutput(static_cast<size_t>(output))) addProducing("Identity", {value}, output);
    }

    Value* int64s(const std::vector<int64_t>& values);
    /// The extent of `value`'s axis `axis` (>= 0), as a 1-element int64 tensor.
    Value* extent(Value* value, int64_t axis);
    /// 0, 1, ..., extent(value, axis) - 1, int64.
    Value* positions(Value* value, int64_t axis);
    /// A float32 scalar, converted to `like`'s element type (CastLike) when `like` is given.
    Value* scalar(float value, Value* like);

    /// An error naming what the expansion does not cover.
    static Status unsupportedForm(const std::string& what) { return unsupported(what + " is not supported"); }

private:
    const NodeDraft& mNode;
    ExpansionHost& mHost;
};

using ContribExpansion = Status (*)(ExpansionContext&);

struct ContribOp {
    ContribExpansion expand;
    std::vector<std::string> emits;  // the standard op types the expansion may write (for `kiln inspect`)
};

/// Every contrib op, by (domain, op type).
const std::map<std::pair<std::string, std::string>, ContribOp>& contribOps();
/// The contrib op `opType` of `domain` (already normalized: "" for ai.onnx), or nullptr.
const ContribOp* findContribOp(const std::string& domain, const std::string& opType);

// The expansions, by family (contrib_microsoft_*.cpp); findContribOp's table names them.
namespace contrib {
Status expandGelu(ExpansionContext& ctx);
Status expandFastGelu(ExpansionContext& ctx);
Status expandBiasGelu(ExpansionContext& ctx);
Status expandQuickGelu(ExpansionContext& ctx);
Status expandBiasAdd(ExpansionContext& ctx);
Status expandFusedMatMul(ExpansionContext& ctx);
Status expandSkipLayerNormalization(ExpansionContext& ctx);
Status expandSkipSimplifiedLayerNormalization(ExpansionContext& ctx);
Status expandSimplifiedLayerNormalization(ExpansionContext& ctx);
Status expandEmbedLayerNormalization(ExpansionContext& ctx);
Status expandAttention(ExpansionContext& ctx);
Status expandMultiHeadAttention(ExpansionContext& ctx);
Status expandRotaryEmbedding(ExpansionContext& ctx);
}  // namespace contrib

}  // namespace kiln::onnx_import
