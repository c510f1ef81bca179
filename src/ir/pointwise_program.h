#pragma once
// The program of a kiln::FusedPointwise layer: a chain (or tree) of elementwise ops that the
// builder's PointwiseFusion pass merged into one node, so a backend reads the inputs once and
// writes the result once (the CPU runs it over cache-sized blocks; a GPU backend can generate one
// kernel from it).
//
// Slots 0..numInputs-1 hold the node's inputs (broadcast to the output's shape); instruction i
// writes slot numInputs + i; the last instruction's slot is the output. Because every op in the
// program is a broadcasting elementwise op, evaluating each instruction at the output's index
// (its operands read at the same index) gives exactly what the unfused ops give.
//
// On the node the program is four attributes: "ops" (the ONNX op type of each instruction),
// "operands" (two slot indices per instruction, -1 for a unary op's second) and "alphas"/"betas"
// (each instruction's parameters: LeakyRelu/Elu alpha, HardSigmoid alpha/beta, Clip min/max).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "ir/graph.h"

namespace kiln {

/// Inputs plus instructions of one program: bounds what a backend keeps per block (the fusion
/// pass stops growing a group before it).
constexpr size_t kMaxPointwiseSlots = 64;
/// Inputs of one program: a GPU backend passes their addresses and strides as kernel arguments.
constexpr size_t kMaxPointwiseInputs = 16;

enum class PointwiseOp : uint8_t {
    // Unary
    kRelu, kLeakyRelu, kElu, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kSoftplus, kGeluErf, kGeluTanh,
    kClip, kExp, kLog, kSqrt, kReciprocal, kAbs, kNeg, kErf, kFloor, kCeil,
    // Binary
    kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kPRelu,
};

struct PointwiseInstruction {
    PointwiseOp op;
    int32_t a{-1};
    int32_t b{-1};  // -1 for unary ops
    float alpha{0.f};
    float beta{0.f};
};

struct PointwiseProgram {
    size_t numInputs{0};
    std::vector<PointwiseInstruction> code;

    /// Reads and validates the program of a kiln::FusedPointwise node (slots in range, each
    /// operand defined before use, arity matching the op).
    static Expected<PointwiseProgram> fromNode(const Node& node);
    /// Writes the program's attributes onto `node` (its inputs are set by the caller).
    void writeTo(Node& node) const;
};

/// How `node` maps onto one instruction (op and parameters; operands left -1), when it is a
/// standard-domain float elementwise op a FusedPointwise can hold; nullopt otherwise. Inputs that
/// are parameters (Clip's min and max) must be scalar constants and are folded into the instruction.
std::optional<PointwiseInstruction> pointwiseInstructionFor(const Node& node);
/// The number of tensor operands `op` takes (1 or 2).
int pointwiseArity(PointwiseOp op);
/// ONNX op type of an instruction, for attributes and logs ("Gelu" for both Gelu forms).
const char* pointwiseOpName(PointwiseOp op);

}  // namespace kiln
