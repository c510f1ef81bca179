#include "builder/io_types.h"

#include <optional>
#include <unordered_set>
#include <vector>

#include "ir/onnx_types.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// Whether every value of `narrow` is exactly a value of `wide` (so narrowing back restores it).
bool widensExactly(DataType narrow, DataType wide) {
    return wide == DataType::kFLOAT && (narrow == DataType::kHALF || narrow == DataType::kBF16);
}

/// The type a Cast node converts to, or nullopt for another node.
std::optional<DataType> castTarget(const Node* node) {
    if (!node || node->opType != "Cast" || !node->domain.empty()) return std::nullopt;
    return dataTypeFromOnnx(node->attrs.getInt("to", -1));
}

/// Input `input` bound as `type`: it keeps its name and place and takes the new type; a Cast back to the
/// network's type feeds its readers, except the reformats to `type` the precision pass put there, whose
/// readers read the input itself.
void rebindInput(Graph& graph, Value* input, DataType type, std::unordered_set<const Node*>& removed) {
    const DataType network = input->dtype;
    const bool cancels = widensExactly(type, network);  // a reformat back to `type` is the input itself
    const std::vector<Node*> readers = graph.consumers(input);
    input->dtype = type;
    Node* back = addCastNode(graph, input, network, graph.uniqueValueName(input->name + "_as_" + dataTypeName(network)),
                             "I/O type of " + input->name);
    Value* widened = back->outputs[0];
    for (Node* reader : readers) {
        if (cancels && castTarget(reader) == type) {
            graph.replaceAllUses(reader->outputs[0], input);
            removed.insert(reader);
            continue;
        }
        for (Value*& in : reader->inputs)
            if (in == input) in = widened;
    }
    if (graph.consumers(widened).empty()) removed.insert(back);
}

/// Output `output` bound as `type`: where it is a reformat of a value of that type which nothing else
/// reads, that value is the output (under the output's name); otherwise a Cast makes it.
void rebindOutput(Graph& graph, Value* output, DataType type, std::unordered_set<const Node*>& removed) {
    const std::string name = output->name;
    Node* producer = output->producer;
    Value* bound = nullptr;
    Value* source = castTarget(producer) ? producer->input(0) : nullptr;
    if (source && source->dtype == type && widensExactly(type, output->dtype) && graph.consumers(output).empty() &&
        !graph.isGraphInput(source) && !graph.isGraphOutput(source)) {
        bound = source;
        removed.insert(producer);
    } else {
        bound = addCastNode(graph, output, type, graph.uniqueValueName(name + "_as_" + dataTypeName(type)),
                            "I/O type of " + name)->outputs[0];
    }
    output->name = graph.uniqueValueName(name + "_" + dataTypeName(output->dtype));
    bound->name = name;
    for (Value*& out : graph.mutableOutputs())
        if (out == output) out = bound;
}

}  // namespace

bool ioTypeBindable(DataType network, DataType bound) {
    auto isFloat = [](DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; };
    return network == bound || (isFloat(network) && isFloat(bound));
}

Status applyIoTypes(Graph& graph, const std::map<std::string, DataType>& types, const Logger& log) {
    std::unordered_set<const Node*> removed;
    for (const auto& [name, type] : types) {
        Value* value = graph.findValue(name);
        const bool input = value && graph.isGraphInput(value), output = value && graph.isGraphOutput(value);
        if (!input && !output)
            return invalidArgument("I/O type for '" + name + "': the network has no input or output of that name");
        if (value->dtype == type) continue;
        if (input && output)
            return unsupported("I/O type for '" + name + "': it is both a network input and an output");
        if (!ioTypeBindable(value->dtype, type))
            return unsupported("I/O type for '" + name + "': it is " + dataTypeName(value->dtype) +
                               " and cannot be bound as " + dataTypeName(type) +
                               " (float32, float16 and bfloat16 convert among themselves; other types keep the "
                               "network's)");
        if (input)
            rebindInput(graph, value, type, removed);
        else
            rebindOutput(graph, value, type, removed);
        log.info(std::string(input ? "input '" : "output '") + name + "' bound as " + dataTypeName(type));
    }
    return finishRewrite(graph, removed);
}

}  // namespace kiln
