#include "ir/pointwise_program.h"

#include <array>
#include <limits>
#include <optional>

namespace kiln {

namespace {

struct OpInfo {
    PointwiseOp op;
    const char* name;  // the "ops" attribute spelling
    int arity;
};

constexpr std::array<OpInfo, 28> kOps = {{
    {PointwiseOp::kRelu, "Relu", 1},         {PointwiseOp::kLeakyRelu, "LeakyRelu", 1},
    {PointwiseOp::kElu, "Elu", 1},           {PointwiseOp::kSigmoid, "Sigmoid", 1},
    {PointwiseOp::kHardSigmoid, "HardSigmoid", 1}, {PointwiseOp::kHardSwish, "HardSwish", 1},
    {PointwiseOp::kTanh, "Tanh", 1},         {PointwiseOp::kSoftplus, "Softplus", 1},
    {PointwiseOp::kGeluErf, "Gelu", 1},      {PointwiseOp::kGeluTanh, "GeluTanh", 1},
    {PointwiseOp::kClip, "Clip", 1},         {PointwiseOp::kExp, "Exp", 1},
    {PointwiseOp::kLog, "Log", 1},           {PointwiseOp::kSqrt, "Sqrt", 1},
    {PointwiseOp::kReciprocal, "Reciprocal", 1}, {PointwiseOp::kAbs, "Abs", 1},
    {PointwiseOp::kNeg, "Neg", 1},           {PointwiseOp::kErf, "Erf", 1},
    {PointwiseOp::kFloor, "Floor", 1},       {PointwiseOp::kCeil, "Ceil", 1},
    {PointwiseOp::kAdd, "Add", 2},           {PointwiseOp::kSub, "Sub", 2},
    {PointwiseOp::kMul, "Mul", 2},           {PointwiseOp::kDiv, "Div", 2},
    {PointwiseOp::kPow, "Pow", 2},           {PointwiseOp::kMax, "Max", 2},
    {PointwiseOp::kMin, "Min", 2},           {PointwiseOp::kPRelu, "PRelu", 2},
}};

const OpInfo& info(PointwiseOp op) {
    return kOps[static_cast<size_t>(op)];
}

std::optional<PointwiseOp> opNamed(const std::string& name) {
    for (const OpInfo& i : kOps)
        if (name == i.name) return i.op;
    return std::nullopt;
}

/// A scalar constant input as float (Clip's bounds), or nullopt when absent or not constant.
std::optional<float> scalarInput(const Node& node, size_t index) {
    if (!node.hasInput(index)) return std::nullopt;
    const Value* v = node.input(index);
    if (!v->isConstant() || v->constant->elementCount() != 1 || v->constant->dtype() != DataType::kFLOAT)
        return std::nullopt;
    return v->constant->data<float>()[0];
}

bool allFloat(const Node& node) {
    for (const Value* v : node.inputs)
        if (v && (!v->typeKnown || v->dtype != DataType::kFLOAT)) return false;
    for (const Value* v : node.outputs)
        if (!v || !v->typeKnown || v->dtype != DataType::kFLOAT) return false;
    return node.outputs.size() == 1;
}

}  // namespace

static_assert(kOps.size() == static_cast<size_t>(PointwiseOp::kPRelu) + 1, "one entry per PointwiseOp");

int pointwiseArity(PointwiseOp op) {
    return info(op).arity;
}

const char* pointwiseOpName(PointwiseOp op) {
    return info(op).name;
}

std::optional<PointwiseInstruction> pointwiseInstructionFor(const Node& node) {
    if (!node.domain.empty() || !allFloat(node)) return std::nullopt;
    const std::string& type = node.opType;
    PointwiseInstruction in{};
    if (type == "Clip") {
        in.op = PointwiseOp::kClip;
        in.alpha = -std::numeric_limits<float>::infinity();
        in.beta = std::numeric_limits<float>::infinity();
        if (node.hasInput(1)) {
            auto lo = scalarInput(node, 1);
            if (!lo) return std::nullopt;
            in.alpha = *lo;
        }
        if (node.hasInput(2)) {
            auto hi = scalarInput(node, 2);
            if (!hi) return std::nullopt;
            in.beta = *hi;
        }
        in.alpha = node.attrs.getFloat("min", in.alpha);  // opset < 11
        in.beta = node.attrs.getFloat("max", in.beta);
        return in;
    }
    if (type == "Gelu") {
        std::string approximate = node.attrs.getString("approximate", "none");
        if (approximate != "none" && approximate != "tanh") return std::nullopt;
        in.op = approximate == "tanh" ? PointwiseOp::kGeluTanh : PointwiseOp::kGeluErf;
        return node.inputs.size() == 1 ? std::optional(in) : std::nullopt;
    }
    if (type == "GeluTanh") return std::nullopt;  // our spelling only, never an ONNX op
    auto op = opNamed(type);
    if (!op) return std::nullopt;
    in.op = *op;
    if (node.inputs.size() != static_cast<size_t>(pointwiseArity(*op))) return std::nullopt;
    for (const Value* v : node.inputs)
        if (!v) return std::nullopt;
    switch (*op) {
        case PointwiseOp::kLeakyRelu: in.alpha = node.attrs.getFloat("alpha", 0.01f); break;
        case PointwiseOp::kElu: in.alpha = node.attrs.getFloat("alpha", 1.0f); break;
        case PointwiseOp::kHardSigmoid:
            in.alpha = node.attrs.getFloat("alpha", 0.2f);
            in.beta = node.attrs.getFloat("beta", 0.5f);
            break;
        default: break;
    }
    return in;
}

Expected<PointwiseProgram> PointwiseProgram::fromNode(const Node& node) {
    auto bad = [&](const std::string& what) { return invalidModel(node.describe() + ": pointwise program: " + what); };
    auto ops = node.attrs.getStrings("ops");
    auto operands = node.attrs.getInts("operands");
    auto alphas = node.attrs.getFloats("alphas");
    auto betas = node.attrs.getFloats("betas");
    if (!ops || !operands || !alphas || !betas) return bad("attributes ops, operands, alphas and betas are required");
    size_t n = ops->size();
    if (node.inputs.size() + n > kMaxPointwiseSlots || node.inputs.size() > kMaxPointwiseInputs)
        return bad("more than " + std::to_string(kMaxPointwiseInputs) + " inputs or " +
                   std::to_string(kMaxPointwiseSlots) + " inputs and ops");
    if (n == 0 || operands->size() != 2 * n || alphas->size() != n || betas->size() != n)
        return bad("ops, operands (2 per op), alphas and betas disagree in length");
    PointwiseProgram program;
    program.numInputs = node.inputs.size();
    for (size_t i = 0; i < n; ++i) {
        auto op = opNamed((*ops)[i]);
        if (!op) return bad("unknown op '" + (*ops)[i] + "'");
        PointwiseInstruction in{*op, static_cast<int32_t>((*operands)[2 * i]),
                                static_cast<int32_t>((*operands)[2 * i + 1]), (*alphas)[i], (*betas)[i]};
        const int64_t defined = static_cast<int64_t>(program.numInputs + i);  // slots readable here
        auto valid = [&](int32_t slot) { return slot >= 0 && slot < defined; };
        bool binary = pointwiseArity(*op) == 2;
        if (!valid(in.a) || (binary ? !valid(in.b) : in.b != -1))
            return bad("instruction " + std::to_string(i) + " (" + (*ops)[i] + ") reads an undefined slot");
        program.code.push_back(in);
    }
    return program;
}

void PointwiseProgram::writeTo(Node& node) const {
    std::vector<std::string> ops;
    std::vector<int64_t> operands;
    std::vector<float> alphas, betas;
    for (const PointwiseInstruction& in : code) {
        ops.emplace_back(pointwiseOpName(in.op));
        operands.push_back(in.a);
        operands.push_back(in.b);
        alphas.push_back(in.alpha);
        betas.push_back(in.beta);
    }
    node.attrs.set("ops", ops);
    node.attrs.set("operands", operands);
    node.attrs.set("alphas", alphas);
    node.attrs.set("betas", betas);
}

}  // namespace kiln
