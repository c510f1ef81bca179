#include "passes/pointwise_fusion.h"

#include <algorithm>
#include <unordered_map>

#include "ir/pointwise_program.h"
#include "passes/activation_matching.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// The inputs of `node` that are tensor operands (Clip's bounds are folded into the instruction).
std::vector<Value*> operandsOf(const Node& node) {
    if (node.opType == "Clip") return {node.input(0)};
    return node.inputs;
}

struct Group {
    std::vector<Node*> members;  // in graph order once complete
    std::unordered_map<const Node*, PointwiseInstruction> code;
};

/// Grows a group backwards from `root` through producers that only the group reads.
Group growGroup(Node* root, const PointwiseInstruction& rootInstruction, const Uses& uses,
                const std::unordered_set<const Node*>& taken) {
    Group group;
    group.members.push_back(root);
    group.code.emplace(root, rootInstruction);
    size_t inputs = operandsOf(*root).size();
    for (size_t next = 0; next < group.members.size(); ++next) {
        for (Value* v : operandsOf(*group.members[next])) {
            Node* producer = v->producer;
            if (!producer || taken.count(producer) || group.code.count(producer) || uses.isOutput(v)) continue;
            const auto& readers = uses.readers(v);
            bool onlyGroupReads = std::all_of(readers.begin(), readers.end(),
                                              [&](const Node* r) { return group.code.count(r) != 0; });
            if (!onlyGroupReads) continue;
            auto instruction = pointwiseInstructionFor(*producer);
            // Each absorbed layer adds one instruction and at most its operands as new inputs.
            size_t growth = 1 + operandsOf(*producer).size();
            if (!instruction || group.members.size() + inputs + growth > kMaxPointwiseSlots ||
                inputs + growth - 1 > kMaxPointwiseInputs)
                continue;
            inputs += growth - 1;
            group.members.push_back(producer);
            group.code.emplace(producer, *instruction);
        }
    }
    return group;
}

}  // namespace

Expected<bool> PointwiseFusion::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_map<const Node*, size_t> position;
    std::vector<Node*> nodes;
    for (const auto& n : graph.nodes()) {
        position[n.get()] = nodes.size();
        nodes.push_back(n.get());
    }
    std::unordered_set<const Node*> taken;
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
        Node* root = *it;
        if (taken.count(root)) continue;
        auto rootInstruction = pointwiseInstructionFor(*root);
        if (!rootInstruction) continue;
        Group group = growGroup(root, *rootInstruction, uses, taken);
        if (group.members.size() < 2) continue;
        std::sort(group.members.begin(), group.members.end(),
                  [&](const Node* a, const Node* b) { return position[a] < position[b]; });

        // Slots: the group's outside inputs first (each once), then one per member in order.
        std::vector<Value*> inputs;
        std::unordered_map<const Value*, int32_t> slotOf;
        for (const Node* m : group.members)
            for (Value* v : operandsOf(*m))
                if (!group.code.count(v->producer) && !slotOf.count(v)) {
                    slotOf[v] = static_cast<int32_t>(inputs.size());
                    inputs.push_back(v);
                }
        PointwiseProgram program;
        program.numInputs = inputs.size();
        for (const Node* m : group.members) {
            PointwiseInstruction instruction = group.code.at(m);
            std::vector<Value*> operands = operandsOf(*m);
            instruction.a = slotOf.at(operands[0]);
            if (operands.size() > 1) instruction.b = slotOf.at(operands[1]);
            slotOf[m->output(0)] = static_cast<int32_t>(program.numInputs + program.code.size());
            program.code.push_back(instruction);
        }
        std::vector<const Node*> chain(group.members.begin(), group.members.end());
        Node* fused = addReplacementNode(graph, "FusedPointwise", "kiln", inputs, {root->output(0)}, chain);
        program.writeTo(*fused);
        for (const Node* m : chain) taken.insert(m);
        ctx.record("fused " + describeChain(chain) + " into " + fused->describe());
    }
    if (taken.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, taken));
    return true;
}

}  // namespace kiln
