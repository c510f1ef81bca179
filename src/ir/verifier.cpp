#include "ir/verifier.h"

#include <unordered_set>

#include "ir/op_registry.h"

namespace kiln {

Status verifyGraph(const Graph& graph) {
    std::unordered_set<const Value*> defined;
    std::unordered_set<std::string> names;
    for (const auto& v : graph.values()) {
        if (!v) continue;
        if (!names.insert(v->name).second) return internalError("two values are named '" + v->name + "'");
        if (v->isConstant()) {
            if (v->producer) return internalError("constant '" + v->name + "' also has a producer");
            defined.insert(v.get());
        }
    }
    for (const Value* in : graph.inputs()) {
        if (in->isConstant() || in->producer) return internalError("graph input '" + in->name + "' is also a constant or produced");
        defined.insert(in);
    }
    for (const auto& node : graph.nodes()) {
        if (!OpRegistry::global().find(node->domain, node->opType))
            return internalError(node->describe() + ": no schema for this op");
        for (size_t i = 0; i < node->inputs.size(); ++i) {
            const Value* in = node->inputs[i];
            if (in && !defined.count(in))
                return internalError(node->describe() + ": input " + std::to_string(i) + " '" + in->name +
                                     "' is not defined before the node (order or a dangling reference)");
        }
        for (size_t i = 0; i < node->outputs.size(); ++i) {
            const Value* out = node->outputs[i];
            if (!out) continue;
            if (out->producer != node.get() || out->producerOutput != static_cast<int32_t>(i))
                return internalError(node->describe() + ": output '" + out->name + "' has a wrong producer link");
            if (!defined.insert(out).second)
                return internalError(node->describe() + ": output '" + out->name + "' is defined twice");
        }
    }
    for (const Value* out : graph.outputs())
        if (!defined.count(out)) return internalError("graph output '" + out->name + "' is not defined");
    return Status::ok();
}

}  // namespace kiln
