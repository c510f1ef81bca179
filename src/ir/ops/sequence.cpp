// Sequences and optionals (ONNX opsets 11..): SequenceEmpty SequenceConstruct SequenceInsert
// SequenceErase SequenceAt SequenceLength SplitToSequence ConcatFromSequence SequenceMap, Optional
// OptionalHasElement OptionalGetElement. A sequence or optional runs as a handle (ir/value_kind.h),
// so these rules type it by its ContainerType: element type, and the element shape where every
// element shares it. A tensor taken out of one (SequenceAt, ConcatFromSequence, OptionalGetElement)
// has a shape only the run knows unless the element shape is known: those ops are data-dependent.
//
// None folds: a handle's bits point into one run's host store and mean nothing at build time.

#include <algorithm>

#include "ir/control_flow.h"
#include "ir/onnx_types.h"
#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

/// Two element shapes of one sequence: what both share.
std::optional<SymShape> commonShape(const std::optional<SymShape>& a, const std::optional<SymShape>& b) {
    if (!a || !b || a->size() != b->size()) return std::nullopt;
    SymShape out(a->size());
    for (size_t i = 0; i < a->size(); ++i) out[i] = (*a)[i] == (*b)[i] ? (*a)[i] : Dim::unknown();
    return out;
}

Status requireKind(const InferenceContext& ctx, size_t index, bool sequence, const char* what) {
    const ContainerType& type = ctx.inputContainer(index);
    if (sequence ? type.kind != ValueKind::kSequence : !type.isTensor())
        return ctx.error(std::string(what) + " must be a " + (sequence ? "sequence" : "tensor") + ", not a " +
                         containerTypeName(type));
    return Status::ok();
}

Status requireIntegerScalar(const InferenceContext& ctx, size_t index, const char* what) {
    KILN_RETURN_IF_ERROR(requireKind(ctx, index, false, what));
    if (ctx.inputType(index) != DataType::kINT32 && ctx.inputType(index) != DataType::kINT64)
        return ctx.error(std::string(what) + " must be int32 or int64");
    if (knownElementCount(ctx.inputShape(index)).value_or(1) != 1) return ctx.error(std::string(what) + " must be a scalar");
    return Status::ok();
}

/// The tensor an element of `type` is: its dtype and shape (unknown dims where the run decides).
void setElementOutput(InferenceContext& ctx, size_t index, const ContainerType& type) {
    ctx.setOutput(index, type.elementType, type.elementShape.value_or(SymShape{Dim::unknown()}));
}

Status inferSequenceEmpty(InferenceContext& ctx) {
    // `dtype` is an ONNX element type code, as attributes keep them (Cast's `to` too).
    const int64_t code = ctx.attrs().getInt("dtype", 1);
    const std::optional<DataType> dtype = dataTypeFromOnnx(code);
    if (!dtype) return ctx.error("dtype " + std::to_string(code) + " is not an element type Kiln supports");
    ctx.setContainerOutput(0, ContainerType::sequenceOf(*dtype, std::nullopt));
    return Status::ok();
}

Status inferSequenceConstruct(InferenceContext& ctx) {
    std::optional<SymShape> shape;
    for (size_t i = 0; i < ctx.numInputs(); ++i) {
        if (!ctx.hasInput(i)) return ctx.error("input " + std::to_string(i) + " is missing");
        KILN_RETURN_IF_ERROR(requireKind(ctx, i, false, "every input"));
        if (ctx.inputType(i) != ctx.inputType(0))
            return ctx.error("inputs are " + std::string(dataTypeName(ctx.inputType(0))) + " and " +
                             dataTypeName(ctx.inputType(i)) + "; a sequence holds one element type");
        shape = i == 0 ? std::optional<SymShape>(ctx.inputShape(0)) : commonShape(shape, ctx.inputShape(i));
    }
    ctx.setContainerOutput(0, ContainerType::sequenceOf(ctx.inputType(0), shape));
    return Status::ok();
}

Status inferSequenceInsert(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireKind(ctx, 0, true, "input_sequence"));
    KILN_RETURN_IF_ERROR(requireKind(ctx, 1, false, "tensor"));
    if (ctx.hasInput(2)) KILN_RETURN_IF_ERROR(requireIntegerScalar(ctx, 2, "position"));
    const ContainerType& seq = ctx.inputContainer(0);
    if (ctx.inputType(1) != seq.elementType)
        return ctx.error("inserts a " + std::string(dataTypeName(ctx.inputType(1))) + " tensor into a " +
                         containerTypeName(seq));
    ContainerType out = seq;
    out.elementShape = commonShape(seq.elementShape, ctx.inputShape(1));
    ctx.setContainerOutput(0, std::move(out));
    return Status::ok();
}

Status inferSequenceErase(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireKind(ctx, 0, true, "input_sequence"));
    if (ctx.hasInput(1)) KILN_RETURN_IF_ERROR(requireIntegerScalar(ctx, 1, "position"));
    ctx.setContainerOutput(0, ctx.inputContainer(0));
    return Status::ok();
}

Status inferSequenceAt(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireKind(ctx, 0, true, "input_sequence"));
    KILN_RETURN_IF_ERROR(requireIntegerScalar(ctx, 1, "position"));
    setElementOutput(ctx, 0, ctx.inputContainer(0));
    return Status::ok();
}

Status inferSequenceLength(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireKind(ctx, 0, true, "input_sequence"));
    ctx.setOutput(0, DataType::kINT64, {});
    return Status::ok();
}

Status inferSplitToSequence(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireKind(ctx, 0, false, "input"));
    const int64_t rank = ctx.inputRank(0);
    int64_t axis = ctx.attrs().getInt("axis", 0);
    if (axis < -rank || axis >= rank)
        return ctx.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    if (axis < 0) axis += rank;
    std::optional<SymShape> element = ctx.inputShape(0);
    if (ctx.hasInput(1)) {
        KILN_RETURN_IF_ERROR(requireKind(ctx, 1, false, "split"));
        if (!isIntegerType(ctx.inputType(1))) return ctx.error("split must be an integer tensor");
        if (ctx.inputRank(1) > 1) return ctx.error("split must be a scalar or a 1-D tensor");
        // The pieces' lengths come from split's values (a scalar's last piece may be shorter).
        (*element)[static_cast<size_t>(axis)] = Dim::unknown();
    } else if (ctx.attrs().getInt("keepdims", 1) != 0) {
        (*element)[static_cast<size_t>(axis)] = Dim(1);
    } else {
        element->erase(element->begin() + axis);
    }
    ctx.setContainerOutput(0, ContainerType::sequenceOf(ctx.inputType(0), std::move(element)));
    return Status::ok();
}

Status inferConcatFromSequence(InferenceContext& ctx) {
    KILN_RETURN_IF_ERROR(requireKind(ctx, 0, true, "input_sequence"));
    const ContainerType& seq = ctx.inputContainer(0);
    const bool newAxis = ctx.attrs().getInt("new_axis", 0) != 0;
    if (!seq.elementShape) {
        ctx.setOutput(0, seq.elementType, {Dim::unknown()});
        return Status::ok();
    }
    // The length along the axis is the sequence's, known only when it runs.
    const int64_t rank = static_cast<int64_t>(seq.elementShape->size()) + (newAxis ? 1 : 0);
    int64_t axis = ctx.attrs().getInt("axis", 0);
    if (axis < -rank || axis >= rank)
        return ctx.error("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    if (axis < 0) axis += rank;
    SymShape shape = *seq.elementShape;
    if (newAxis)
        shape.insert(shape.begin() + axis, Dim::unknown());
    else
        shape[static_cast<size_t>(axis)] = Dim::unknown();
    ctx.setOutput(0, seq.elementType, std::move(shape));
    return Status::ok();
}

/// SequenceMap runs `body` once per element: the body's inputs are the element of each sequence
/// input (or the tensor input itself), then the captured outer values; each body output becomes an
/// output sequence.
Status inferSequenceMap(InferenceContext& ctx) {
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> captures, capturedInputInfos(ctx));
    const size_t formal = ctx.numInputs() - captures.size();
    if (formal < 1) return ctx.error("SequenceMap takes input_sequence and optional additional inputs");
    KILN_RETURN_IF_ERROR(requireKind(ctx, 0, true, "input_sequence"));
    std::vector<ValueInfo> bodyInputs;
    for (size_t i = 0; i < formal; ++i) {
        if (!ctx.hasInput(i)) return ctx.error("input " + std::to_string(i) + " is missing");
        const ContainerType& type = ctx.inputContainer(i);
        if (type.isOptional()) return ctx.error("input " + std::to_string(i) + " is an optional; a sequence or tensor is needed");
        ValueInfo element;
        element.known = true;
        if (type.isTensor()) {
            element.dtype = ctx.inputType(i);
            element.shape = ctx.inputShape(i);
        } else {
            element.dtype = type.elementType;
            element.shape = type.elementShape.value_or(SymShape{Dim::unknown()});
            // The body runs at each element's own shape; an unknown rank is typed as rank 1 here and
            // the executor infers the body again at the real shapes.
        }
        bodyInputs.push_back(std::move(element));
    }
    bodyInputs.insert(bodyInputs.end(), captures.begin(), captures.end());
    KILN_ASSIGN_OR_RETURN(std::vector<ValueInfo> bodyOut, inferSubgraph(ctx, "body", bodyInputs));
    if (bodyOut.size() != ctx.numOutputs())
        return ctx.error("the body produces " + std::to_string(bodyOut.size()) + " outputs; the node has " +
                         std::to_string(ctx.numOutputs()));
    for (size_t i = 0; i < bodyOut.size(); ++i) {
        if (!bodyOut[i].container.isTensor()) return ctx.error("body output " + std::to_string(i) + " must be a tensor");
        // Elements may differ in shape from one iteration to the next: only the rank is kept.
        ctx.setContainerOutput(i, ContainerType::sequenceOf(bodyOut[i].dtype, SymShape(bodyOut[i].shape.size(), Dim::unknown())));
    }
    return Status::ok();
}

Status inferOptional(InferenceContext& ctx) {
    if (ctx.hasInput(0)) {
        const ContainerType& in = ctx.inputContainer(0);
        if (in.isOptional()) return ctx.error("input is already an optional");
        ContainerType inner = in.isTensor() ? ContainerType{ValueKind::kTensor, ctx.inputType(0), ctx.inputShape(0)} : in;
        ctx.setContainerOutput(0, ContainerType::optionalOf(inner));
        return Status::ok();
    }
    // An empty optional: the `type` attribute (an ONNX TypeProto, kept as encodeContainerType's list).
    std::optional<std::vector<int64_t>> encoded = ctx.attrs().getInts("type");
    std::optional<ContainerType> inner = encoded ? decodeContainerType(*encoded) : std::nullopt;
    if (!inner || inner->isOptional()) return ctx.error("an Optional without input needs a tensor or sequence `type` attribute");
    ctx.setContainerOutput(0, ContainerType::optionalOf(*inner));
    return Status::ok();
}

Status inferOptionalHasElement(InferenceContext& ctx) {
    ctx.setOutput(0, DataType::kBOOL, {});
    return Status::ok();
}

/// Of an optional, its contents; of a tensor or sequence (opset 18), the input itself.
Status inferOptionalGetElement(InferenceContext& ctx) {
    const ContainerType& in = ctx.inputContainer(0);
    switch (in.kind) {
        case ValueKind::kTensor:
            ctx.setOutput(0, ctx.inputType(0), ctx.inputShape(0));
            return Status::ok();
        case ValueKind::kSequence:
            ctx.setContainerOutput(0, in);
            return Status::ok();
        case ValueKind::kOptionalTensor:
            setElementOutput(ctx, 0, in);
            return Status::ok();
        case ValueKind::kOptionalSequence:
            ctx.setContainerOutput(0, ContainerType::sequenceOf(in.elementType, in.elementShape));
            return Status::ok();
    }
    return ctx.error("unknown value kind");
}

void add(OpRegistry& registry, const char* op, InferFunction infer, size_t minInputs, size_t maxInputs,
         bool dataDependent = false) {
    OpSchema schema{op, "", std::move(infer), minInputs, maxInputs};
    schema.foldable = false;
    schema.nonTensorValues = true;
    schema.dataDependentShape = dataDependent;
    registry.add(std::move(schema));
}

}  // namespace

void registerSequenceOps(OpRegistry& registry) {
    add(registry, "SequenceEmpty", inferSequenceEmpty, 0, 0);
    add(registry, "SequenceConstruct", inferSequenceConstruct, 1, SIZE_MAX);
    add(registry, "SequenceInsert", inferSequenceInsert, 2, 3);
    add(registry, "SequenceErase", inferSequenceErase, 1, 2);
    add(registry, "SequenceAt", inferSequenceAt, 2, 2, true);
    add(registry, "SequenceLength", inferSequenceLength, 1, 1);
    add(registry, "SplitToSequence", inferSplitToSequence, 1, 2);
    add(registry, "ConcatFromSequence", inferConcatFromSequence, 1, 1, true);
    add(registry, "SequenceMap", inferSequenceMap, 1, SIZE_MAX);
    add(registry, "Optional", inferOptional, 0, 1);
    add(registry, "OptionalHasElement", inferOptionalHasElement, 0, 1);
    add(registry, "OptionalGetElement", inferOptionalGetElement, 1, 1, true);
}

}  // namespace kiln
