// Control flow: If (opsets 7..), Loop (11..), Scan (9..). Each runs a subgraph held by a graph
// attribute. The node's inputs are its ONNX inputs followed by the outer values its subgraphs
// capture (attribute kCapturedInputsAttr counts them; src/frontend/onnx/subgraph_import.cpp says
// how the importer builds them), and each subgraph lists the same captures, in the same order, as
// its trailing inputs, so they bind by position.
//
// Inference types the subgraph from the node's inputs (inferSubgraph, ir/control_flow.h). Its
// first run also writes the types back into the subgraph's values that the model left untyped
// (Loop's and Scan's formal inputs may carry no type), as inferGraphShapes does for a model's
// graph: kernels are created from those types.

#include <algorithm>

#include "ir/control_flow.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

/// Two dims of values that may differ between branches or iterations: kept when equal.
Dim mergedDim(const Dim& a, const Dim& b) { return a == b ? a : Dim::unknown(); }

Expected<SymShape> mergedShape(const InferenceContext& ctx, const SymShape& a, const SymShape& b, const std::string& what) {
    if (a.size() != b.size())
        return ctx.error(what + " has rank " + std::to_string(a.size()) + " in one case and " + std::to_string(b.size()) +
                         " in another; Kiln needs a fixed rank");
    SymShape out(a.size());
    for (size_t i = 0; i < a.size(); ++i) out[i] = mergedDim(a[i], b[i]);
    return out;
}

/// What holds of a value in every iteration: its type and shape, not its contents.
ValueInfo typeOnly(const ValueInfo& info) { return ValueInfo{info.dtype, info.shape, info.known, std::nullopt, info.container}; }

/// A sequence's or optional's type where two cases (branches, iterations) may produce different
/// ones: the kinds and element types must agree; element shapes keep what both share. Loop lets an
/// optional enter and its contents come back (ONNX's test_loop16_seq_none), hence `allowUnwrap`.
Expected<ContainerType> mergedContainer(const InferenceContext& ctx, const ContainerType& a, const ContainerType& b,
                                        const std::string& what, bool allowUnwrap) {
    ContainerType merged = b;
    const bool unwrapped = allowUnwrap && a.isOptional() && !b.isOptional() && a.holdsSequence() == b.holdsSequence() &&
                           !b.isTensor() && a.elementType == b.elementType;
    if (!a.sameKindAs(b) && !unwrapped)
        return ctx.error(what + " is " + containerTypeName(a) + " in one case and " + containerTypeName(b) + " in another");
    if (a.isTensor()) return merged;
    if (!a.elementShape || !b.elementShape || a.elementShape->size() != b.elementShape->size()) {
        merged.elementShape.reset();
        return merged;
    }
    for (size_t i = 0; i < a.elementShape->size(); ++i)
        (*merged.elementShape)[i] = mergedDim((*a.elementShape)[i], (*b.elementShape)[i]);
    return merged;
}

ValueInfo scalarInfo(DataType type) {
    ValueInfo info;
    info.dtype = type;
    info.known = true;
    return info;
}

Status inferIf(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> captures, capturedInputInfos(ctx));
    if (ctx.numInputs() - captures.size() != 1) return ctx.error("If takes exactly one input, cond");
    if (ctx.inputType(0) != DataType::kBOOL || knownElementCount(ctx.inputShape(0)).value_or(1) > 1)
        return ctx.error("cond must be a single bool");
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> thenOut, inferSubgraph(ctx, "then_branch", captures));
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> elseOut, inferSubgraph(ctx, "else_branch", captures));
    if (thenOut.size() != ctx.numOutputs() || elseOut.size() != ctx.numOutputs())
        return ctx.error("the branches produce " + std::to_string(thenOut.size()) + " and " +
                         std::to_string(elseOut.size()) + " outputs; the node has " + std::to_string(ctx.numOutputs()));
    // A known condition selects its branch; otherwise each output has what both branches agree on.
    const Tensor* cond = ctx.inputValue(0);
    for (size_t i = 0; i < ctx.numOutputs(); ++i) {
        if (cond && cond->elementCount() == 1) {
            const ValueInfo& taken = cond->elementAsDouble(0) != 0.0 ? thenOut[i] : elseOut[i];
            ctx.setOutput(i, taken.dtype, taken.shape);
            ctx.setContainerOutput(i, taken.container);
            if (taken.value) ctx.setOutputValue(i, *taken.value);
            continue;
        }
        KILN_ASSIGN_OR_RETURN(ContainerType container, mergedContainer(ctx, thenOut[i].container, elseOut[i].container,
                                                                       "output " + std::to_string(i), false));
        if (thenOut[i].dtype != elseOut[i].dtype)
            return ctx.error("output " + std::to_string(i) + " is " + dataTypeName(thenOut[i].dtype) + " in then_branch but " +
                             dataTypeName(elseOut[i].dtype) + " in else_branch");
        KILN_ASSIGN_OR_RETURN(SymShape shape,
                              mergedShape(ctx, thenOut[i].shape, elseOut[i].shape, "output " + std::to_string(i)));
        ctx.setOutput(i, thenOut[i].dtype, std::move(shape));
        ctx.setContainerOutput(i, std::move(container));
    }
    return Status::ok();
}

Status inferLoop(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> captures, capturedInputInfos(ctx));
    const size_t formal = ctx.numInputs() - captures.size();
    if (formal < 2) return ctx.error("Loop takes M, cond and the loop-carried values");
    const size_t carried = formal - 2;
    if (ctx.hasInput(0) && (!isIntegerType(ctx.inputType(0)) || knownElementCount(ctx.inputShape(0)).value_or(1) > 1))
        return ctx.error("M must be a single integer");
    if (ctx.hasInput(1) && (ctx.inputType(1) != DataType::kBOOL || knownElementCount(ctx.inputShape(1)).value_or(1) > 1))
        return ctx.error("cond must be a single bool");
    if (ctx.numOutputs() < carried) return ctx.error("Loop needs an output per loop-carried value");

    std::vector<ValueInfo> bodyInputs = {scalarInfo(DataType::kINT64), scalarInfo(DataType::kBOOL)};
    for (size_t i = 0; i < carried; ++i) {
        if (!ctx.hasInput(2 + i)) return ctx.error("loop-carried input " + std::to_string(2 + i) + " is missing");
        bodyInputs.push_back(typeOnly(ctx.input(2 + i)));
    }
    bodyInputs.insert(bodyInputs.end(), captures.begin(), captures.end());
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> bodyOut, inferSubgraph(ctx, "body", bodyInputs));
    if (bodyOut.size() != 1 + ctx.numOutputs())
        return ctx.error("the body produces " + std::to_string(bodyOut.size()) + " outputs; cond plus the node's " +
                         std::to_string(ctx.numOutputs()) + " are needed");
    if (bodyOut[0].dtype != DataType::kBOOL) return ctx.error("the body's first output (cond) must be bool");

    // The trip count is known only for a plain for-loop: M known and no cond input (the body's
    // cond is then ignored). Otherwise the scan outputs' first dimension is data-dependent.
    Dim trips = Dim::unknown();
    if (const Tensor* m = ctx.inputValue(0); m && !ctx.hasInput(1) && m->elementCount() == 1)
        trips = Dim(std::max<int64_t>(0, m->toInt64Vector()[0]));
    for (size_t i = 0; i < carried; ++i) {
        const ValueInfo& next = bodyOut[1 + i];
        const ValueInfo& initial = ctx.input(2 + i);
        if (next.dtype != initial.dtype)
            return ctx.error("loop-carried value " + std::to_string(i) + " enters as " + dataTypeName(initial.dtype) +
                             " but the body returns " + dataTypeName(next.dtype));
        KILN_ASSIGN_OR_RETURN(SymShape shape,
                              mergedShape(ctx, initial.shape, next.shape, "loop-carried value " + std::to_string(i)));
        KILN_ASSIGN_OR_RETURN(ContainerType container, mergedContainer(ctx, initial.container, next.container,
                                                                       "loop-carried value " + std::to_string(i), true));
        ctx.setOutput(i, initial.dtype, std::move(shape));
        ctx.setContainerOutput(i, std::move(container));
    }
    for (size_t k = carried; k < ctx.numOutputs(); ++k) {
        if (!bodyOut[1 + k].container.isTensor())
            return ctx.error("scan output " + std::to_string(k - carried) + " is a " +
                             containerTypeName(bodyOut[1 + k].container) + "; ONNX stacks tensors only");
        SymShape shape = bodyOut[1 + k].shape;
        shape.insert(shape.begin(), trips);
        ctx.setOutput(k, bodyOut[1 + k].dtype, std::move(shape));
    }
    return Status::ok();
}

Status inferScan(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> captures, capturedInputInfos(ctx));
    KILN_ASSIGN_OR_RETURN(ScanLayout layout, scanLayoutOf(ctx.node(), ctx.numInputs() - captures.size(), ctx.numOutputs(),
                                                          [&](size_t i) { return ctx.inputRank(i); }));
    Dim sequence = Dim::unknown();
    std::vector<ValueInfo> bodyInputs;
    for (size_t i = 0; i < layout.states; ++i) bodyInputs.push_back(typeOnly(ctx.input(i)));
    for (size_t j = 0; j < layout.scanInputAxes.size(); ++j) {
        const size_t index = layout.states + j;
        if (!ctx.hasInput(index)) return ctx.error("scan input " + std::to_string(index) + " is missing");
        SymShape shape = ctx.inputShape(index);
        const size_t axis = static_cast<size_t>(layout.scanInputAxes[j]);
        const Dim length = shape[axis];
        if (sequence.isKnown() && length.isKnown() && length.value != sequence.value)
            return ctx.error("scan inputs have different lengths along their scan axes: " + std::to_string(sequence.value) +
                             " and " + std::to_string(length.value));
        if (!sequence.isKnown()) sequence = length;
        shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(axis));
        bodyInputs.push_back(ValueInfo{ctx.inputType(index), std::move(shape), true, std::nullopt});
    }
    bodyInputs.insert(bodyInputs.end(), captures.begin(), captures.end());
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> bodyOut, inferSubgraph(ctx, "body", bodyInputs));
    if (bodyOut.size() != ctx.numOutputs())
        return ctx.error("the body produces " + std::to_string(bodyOut.size()) + " outputs; the node has " +
                         std::to_string(ctx.numOutputs()));
    for (size_t i = 0; i < layout.states; ++i) {
        KILN_ASSIGN_OR_RETURN(SymShape shape,
                              mergedShape(ctx, ctx.inputShape(i), bodyOut[i].shape, "state " + std::to_string(i)));
        ctx.setOutput(i, bodyOut[i].dtype, std::move(shape));
    }
    for (size_t k = 0; k < layout.scanOutputAxes.size(); ++k) {
        const ValueInfo& slice = bodyOut[layout.states + k];
        const int64_t rank = static_cast<int64_t>(slice.shape.size()) + 1;
        int64_t axis = layout.scanOutputAxes[k];
        if (axis < -rank || axis >= rank)
            return ctx.error("scan_output_axes[" + std::to_string(k) + "] = " + std::to_string(axis) +
                             " is out of range for rank " + std::to_string(rank));
        if (axis < 0) axis += rank;
        SymShape shape = slice.shape;
        shape.insert(shape.begin() + axis, sequence);
        ctx.setOutput(layout.states + k, slice.dtype, std::move(shape));
    }
    return Status::ok();
}

}  // namespace

void registerControlFlowOps(OpRegistry& registry) {
    // An If whose branches disagree on a shape and a Loop whose trip count is not known before
    // running learn their output shapes by running (Kernel::computeOutputShapes).
    // If and Loop pass sequences and optionals through as handles (ir/value_kind.h).
    OpSchema ifSchema{"If", "", inferIf, 1, SIZE_MAX};
    ifSchema.dataDependentShape = true;
    ifSchema.nonTensorValues = true;
    registry.add(std::move(ifSchema));
    OpSchema loopSchema{"Loop", "", inferLoop, 2, SIZE_MAX};
    loopSchema.dataDependentShape = true;
    loopSchema.nonTensorValues = true;
    registry.add(std::move(loopSchema));
    registry.add({"Scan", "", inferScan, 1, SIZE_MAX});
}

}  // namespace kiln
