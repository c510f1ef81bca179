// Scan-8 into the IR's forms. Scan-8 scans a batch: its states are [batch, ...] and its scan inputs
// [batch, sequence, ...], and each batch entry runs the body over its own sequence. Opset 9 dropped
// the batch axis, so the node becomes a Loop over the batch entries whose body takes entry b of
// every input (Gather) and runs a Scan-9 with the original body; the Loop stacks the entries'
// results back along axis 0, which is Scan-8's output layout. With sequence_lens, entry b scans its
// first len_b steps and its scan outputs are zero-padded to the full length.
//
// Binding (ir/control_flow.h): the Loop captures the Scan-8 inputs and the original body's
// captures; the inner Scan reads the entries and passes the original captures on, so the original
// body keeps its inputs unchanged.

#include "frontend/onnx/opset_upgrade.h"
#include "ir/control_flow.h"

namespace kiln::onnx_import {

namespace {

Status scan8ToLoopOverBatch(UpgradeContext& ctx) {
    NodeDraft& draft = ctx.node();
    std::shared_ptr<Graph> scanBody = draft.attrs.getGraph("body");
    if (!scanBody) return invalidModel("graph attribute 'body' is missing");
    const int64_t captured = draft.attrs.getInt(kCapturedInputsAttr, 0);
    const std::optional<int64_t> scanInputs = draft.attrs.getInt("num_scan_inputs");
    const size_t formal = draft.inputs.size() - static_cast<size_t>(captured);
    if (!scanInputs || *scanInputs < 1 || formal < 1 + static_cast<size_t>(*scanInputs))
        return invalidModel("num_scan_inputs must be between 1 and the number of inputs after sequence_lens");
    const size_t m = static_cast<size_t>(*scanInputs);
    const size_t n = formal - 1 - m;
    const size_t outputs = draft.outputNames.size();

    // Every value the Loop body reads from outside: the states, the scan inputs, the body's
    // captures, then sequence_lens when given.
    std::vector<Value*> outer(draft.inputs.begin() + 1, draft.inputs.end());
    Value* sequenceLengths = ctx.input(0);
    if (sequenceLengths) outer.push_back(sequenceLengths);
    auto body = std::make_shared<Graph>();
    body->name = ctx.nodeName() + "_over_batch";
    Value* entry = body->addInput("batch_entry", DataType::kINT64, {});
    Value* condIn = body->addInput("cond_in", DataType::kBOOL, {});
    std::vector<Value*> inside;
    for (size_t i = 0; i < outer.size(); ++i) {
        const size_t input = outer[i] == sequenceLengths ? 0 : 1 + i;
        const std::optional<int64_t> rank = ctx.inputRank(input);
        if (!rank) return invalidModel("input " + std::to_string(input) + " has no known type");
        Value* in = body->addInput(body->uniqueValueName("outer_" + std::to_string(i)), ctx.inputType(input, DataType::kFLOAT),
                                   SymShape(static_cast<size_t>(*rank), Dim::unknown()));
        inside.push_back(in);
    }
    auto addBodyNode = [&](const std::string& op, const std::string& name, std::vector<Value*> inputs,
                           AttributeMap attrs = {}) {
        Node* node = body->addNode(op, name, std::move(inputs), {body->uniqueValueName(name)});
        node->attrs = std::move(attrs);
        node->sourceNodes = {ctx.nodeName()};
        return node->outputs[0];
    };
    AttributeMap axis0;
    axis0.set("axis", int64_t{0});
    // With sequence_lens, entry b scans only its first len_b steps (Slice), and its scan outputs
    // are padded with zeros back to the full length (Pad), as Scan-8 defines.
    Value* length = nullptr;
    Value* firstAxis = nullptr;
    if (sequenceLengths) {
        firstAxis = body->addConstant("first_axis", Tensor::fromInt64({0}, {1}));
        length = addBodyNode("Unsqueeze", "entry_length",
                             {addBodyNode("Gather", "entry_length_scalar", {inside.back(), entry}, axis0), firstAxis});
    }
    std::vector<Value*> scanNodeInputs;
    Value* fullLength = nullptr;
    for (size_t i = 0; i < n + m; ++i) {
        Value* part = addBodyNode("Gather", "entry_" + std::to_string(i), {inside[i], entry}, axis0);
        if (length && i >= n) {
            if (!fullLength) {
                AttributeMap firstDim;
                firstDim.set("start", int64_t{0});
                firstDim.set("end", int64_t{1});
                fullLength = addBodyNode("Shape", "sequence_length", {part}, firstDim);
            }
            part = addBodyNode("Slice", "entry_steps_" + std::to_string(i), {part, body->addConstant(body->uniqueValueName("zero_start"), Tensor::fromInt64({0}, {1})), length, firstAxis});
        }
        scanNodeInputs.push_back(part);
    }
    const auto capturesEnd = inside.end() - (sequenceLengths ? 1 : 0);
    scanNodeInputs.insert(scanNodeInputs.end(), inside.begin() + static_cast<std::ptrdiff_t>(n + m), capturesEnd);
    Node* scan = body->addNode("Scan", ctx.nodeName() + "/entry_scan", scanNodeInputs, {}, outputs);
    scan->attrs.set("body", scanBody);
    scan->attrs.set("num_scan_inputs", *scanInputs);
    if (auto directions = draft.attrs.getInts("directions")) scan->attrs.set("scan_input_directions", *directions);
    if (captured > 0) scan->attrs.set(kCapturedInputsAttr, captured);
    scan->sourceNodes = {ctx.nodeName()};
    Node* condOut = body->addNode("Identity", "cond_out", {condIn}, {"cond_out"});
    condOut->sourceNodes = {ctx.nodeName()};
    body->markOutput(condOut->outputs[0]);
    for (size_t k = 0; k < scan->outputs.size(); ++k) {
        Value* out = scan->outputs[k];
        if (length && k >= n) {
            AttributeMap concatAxis;
            concatAxis.set("axis", int64_t{0});
            Value* pads = addBodyNode("Concat", "pads_" + std::to_string(k),
                                      {body->addConstant(body->uniqueValueName("no_padding_before"), Tensor::fromInt64({0}, {1})),
                                       addBodyNode("Sub", "padding_" + std::to_string(k), {fullLength, length})},
                                      concatAxis);
            out = addBodyNode("Pad", "padded_" + std::to_string(k), {out, pads, nullptr, firstAxis});
        }
        body->markOutput(out);
    }

    // The trip count: the batch size, from the first scan input.
    Value* shape = ctx.addNode("Shape", "batch_shape", {ctx.input(1 + n)});
    Value* batch = ctx.addNode("Gather", "batch_size", {shape, ctx.addConstant("first_axis", Tensor::fromInt64({0}, {}))}, axis0);

    draft.opType = "Loop";
    draft.inputs = {batch, nullptr};
    draft.inputs.insert(draft.inputs.end(), outer.begin(), outer.end());
    draft.attrs = AttributeMap();
    draft.attrs.set("body", body);
    draft.attrs.set(kCapturedInputsAttr, static_cast<int64_t>(outer.size()));
    return Status::ok();
}

}  // namespace

void addScan8Upgrades(std::vector<OpsetUpgrade>& table) {
    table.push_back({"Scan", 9, {"Loop", "Scan", "Gather", "Shape", "Identity"}, scan8ToLoopOverBatch});
}

}  // namespace kiln::onnx_import
