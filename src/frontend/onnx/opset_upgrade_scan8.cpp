// Scan-8 into the IR's forms. Scan-8 scans a batch: its states are [batch, ...] and its scan inputs
// [batch, sequence, ...], and each batch entry runs the body over its own sequence. Opset 9 dropped
// the batch axis, so the node becomes a Loop over the batch entries whose body takes entry b of
// every input (Gather) and runs a Scan-9 with the original body; the Loop stacks the entries'
// results back along axis 0, which is Scan-8's output layout.
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
    if (ctx.input(0))
        return unsupported("Scan-8 with sequence_lens (sequences of different lengths per batch entry) is not supported");
    const size_t m = static_cast<size_t>(*scanInputs);
    const size_t n = formal - 1 - m;
    const size_t outputs = draft.outputNames.size();

    // Every value the Loop body reads from outside: the states, the scan inputs, the body's captures.
    std::vector<Value*> outer(draft.inputs.begin() + 1, draft.inputs.end());
    auto body = std::make_shared<Graph>();
    body->name = ctx.nodeName() + "_over_batch";
    Value* entry = body->addInput("batch_entry", DataType::kINT64, {});
    Value* condIn = body->addInput("cond_in", DataType::kBOOL, {});
    std::vector<Value*> inside;
    for (size_t i = 0; i < outer.size(); ++i) {
        const std::optional<int64_t> rank = ctx.inputRank(1 + i);
        if (!rank) return invalidModel("input " + std::to_string(1 + i) + " has no known type");
        Value* in = body->addInput(body->uniqueValueName("outer_" + std::to_string(i)), ctx.inputType(1 + i, DataType::kFLOAT),
                                   SymShape(static_cast<size_t>(*rank), Dim::unknown()));
        inside.push_back(in);
    }
    std::vector<Value*> scanNodeInputs;
    for (size_t i = 0; i < n + m; ++i) {
        Node* gather = body->addNode("Gather", "entry_" + std::to_string(i), {inside[i], entry}, {"entry_" + std::to_string(i)});
        gather->attrs.set("axis", int64_t{0});
        gather->sourceNodes = {ctx.nodeName()};
        scanNodeInputs.push_back(gather->outputs[0]);
    }
    scanNodeInputs.insert(scanNodeInputs.end(), inside.begin() + static_cast<std::ptrdiff_t>(n + m), inside.end());
    Node* scan = body->addNode("Scan", ctx.nodeName() + "/entry_scan", scanNodeInputs, {}, outputs);
    scan->attrs.set("body", scanBody);
    scan->attrs.set("num_scan_inputs", *scanInputs);
    if (auto directions = draft.attrs.getInts("directions")) scan->attrs.set("scan_input_directions", *directions);
    if (captured > 0) scan->attrs.set(kCapturedInputsAttr, captured);
    scan->sourceNodes = {ctx.nodeName()};
    Node* condOut = body->addNode("Identity", "cond_out", {condIn}, {"cond_out"});
    condOut->sourceNodes = {ctx.nodeName()};
    body->markOutput(condOut->outputs[0]);
    for (Value* out : scan->outputs) body->markOutput(out);

    // The trip count: the batch size, from the first scan input.
    Value* shape = ctx.addNode("Shape", "batch_shape", {ctx.input(1 + n)});
    AttributeMap axis0;
    axis0.set("axis", int64_t{0});
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
