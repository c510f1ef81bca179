#include "backends/cuda/pointwise_codegen.h"

#include <cctype>
#include <cstring>
#include <sstream>

namespace kiln::cuda {

namespace {

static_assert(sizeof(GeneratedPointwiseArgs) ==
                  8 * (1 + kPointwiseMaxRank + kMaxPointwiseInputs * kPointwiseMaxRank + kMaxPointwiseInputs + 1),
              "the generated KilnPointwiseArgs declares exactly these 64-bit fields");

/// A float parameter as an exact expression: its bits, so no decimal rounding and infinity (Clip's
/// open bounds) or NaN are spelled like any other value. The decimal value follows as a comment.
std::string floatLiteral(float value) {
    uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    std::ostringstream oss;
    oss << "__uint_as_float(0x" << std::hex << bits << "u) /* " << std::dec << value << " */";
    return oss.str();
}

std::string slotName(int32_t slot) {
    std::string name = "s";
    name += std::to_string(slot);
    return name;
}

/// Each instruction's formula, the interpreter's (fused_pointwise.cu's apply()), over x, y (its
/// operands) and A, B (its parameters); nullptr for an opcode without one.
const char* formulaFor(PointwiseOp op) {
    switch (op) {
        case PointwiseOp::kRelu: return "x < 0.f ? 0.f : x";
        case PointwiseOp::kLeakyRelu: return "x < 0.f ? A * x : x";
        case PointwiseOp::kElu: return "x < 0.f ? A * expm1f(x) : x";
        case PointwiseOp::kSigmoid: return "kiln_sigmoid(x)";
        case PointwiseOp::kHardSigmoid: return "fminf(fmaxf(A * x + B, 0.f), 1.f)";
        case PointwiseOp::kHardSwish: return "x * fminf(fmaxf(x * (1.f / 6.f) + 0.5f, 0.f), 1.f)";
        case PointwiseOp::kTanh: return "tanhf(x)";
        case PointwiseOp::kSoftplus: return "x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x))";
        case PointwiseOp::kGeluErf: return "0.5f * x * (1.f + erff(x * 0.70710678118654752f))";
        case PointwiseOp::kGeluTanh: return "0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)))";
        case PointwiseOp::kClip: return "x != x ? x : fminf(fmaxf(x, A), B)";
        case PointwiseOp::kExp: return "expf(x)";
        case PointwiseOp::kLog: return "logf(x)";
        case PointwiseOp::kSqrt: return "sqrtf(x)";
        case PointwiseOp::kReciprocal: return "1.f / x";
        case PointwiseOp::kAbs: return "fabsf(x)";
        case PointwiseOp::kNeg: return "-x";
        case PointwiseOp::kErf: return "erff(x)";
        case PointwiseOp::kFloor: return "floorf(x)";
        case PointwiseOp::kCeil: return "ceilf(x)";
        case PointwiseOp::kAdd: return "x + y";
        case PointwiseOp::kSub: return "x - y";
        case PointwiseOp::kMul: return "x * y";
        case PointwiseOp::kDiv: return "x / y";
        case PointwiseOp::kPow: return "powf(x, y)";
        case PointwiseOp::kMax: return "(x > y || x != x) ? x : y";
        case PointwiseOp::kMin: return "(x < y || x != x) ? x : y";
        case PointwiseOp::kPRelu: return "x < 0.f ? y * x : x";
    }
    return nullptr;
}

/// One instruction as a C expression on float: its formula with the operand slots and the parameters'
/// exact literals put in for x, y, A and B. Empty for an opcode without a formula.
std::string expressionFor(const PointwiseInstruction& in) {
    const char* formula = formulaFor(in.op);
    if (!formula) return {};
    std::string out;
    for (const char* c = formula; *c; ++c) {
        // The placeholders are single letters no identifier of the formulas begins or ends with.
        const bool alone = (c == formula || !std::isalnum(static_cast<unsigned char>(c[-1]))) &&
                           !std::isalnum(static_cast<unsigned char>(c[1]));
        if (alone && *c == 'x') {
            out += slotName(in.a);
        } else if (alone && *c == 'y') {
            out += slotName(in.b);
        } else if (alone && *c == 'A') {
            out += "(";
            out += floatLiteral(in.alpha);
            out += ")";
        } else if (alone && *c == 'B') {
            out += "(";
            out += floatLiteral(in.beta);
            out += ")";
        } else {
            out += *c;
        }
    }
    return out;
}

/// The C storage type and the float conversions of an element type; nullptr for one not generated.
struct ElementCode {
    const char* storage;
    const char* toFloat;    // function name, "" when the storage is float
    const char* fromFloat;  // likewise
};

const ElementCode* elementCode(DataType type) {
    static const ElementCode kFloat{"float", "", ""};
    static const ElementCode kHalf{"unsigned short", "kiln_from_f16", "kiln_to_f16"};
    static const ElementCode kBf16{"unsigned short", "kiln_from_bf16", "kiln_to_bf16"};
    switch (type) {
        case DataType::kFLOAT: return &kFloat;
        case DataType::kHALF: return &kHalf;
        case DataType::kBF16: return &kBf16;
        default: return nullptr;
    }
}

// Half converts with the same PTX instructions cuda_fp16.h's __half2float / __float2half_rn use;
// bfloat16 widens by a shift and narrows with round-to-nearest-even, NaN kept a quiet NaN (the CPU's
// floatToBf16Bits).
constexpr const char* kHalfHelpers = R"(static __device__ __forceinline__ float kiln_from_f16(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
static __device__ __forceinline__ unsigned short kiln_to_f16(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
)";

constexpr const char* kBf16Helpers = R"(static __device__ __forceinline__ float kiln_from_bf16(unsigned short b) {
    return __uint_as_float(static_cast<unsigned>(b) << 16);
}
static __device__ __forceinline__ unsigned short kiln_to_bf16(float f) {
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<unsigned short>(u >> 16);
}
)";

// The interpreter's sigmoid: exp of -|x| never overflows, and the negative side keeps its precision.
constexpr const char* kSigmoidHelper = R"(static __device__ __forceinline__ float kiln_sigmoid(float x) {
    const float e = expf(-fabsf(x));
    const float r = 1.f / (1.f + e);
    return x >= 0.f ? r : e * r;
}
)";

}  // namespace

Expected<PointwiseBroadcast> planPointwiseBroadcast(const std::vector<Shape>& inputs, const Shape& output) {
    if (output.size() > static_cast<size_t>(kPointwiseMaxRank))
        return invalidArgument("fused pointwise: output rank " + std::to_string(output.size()) + " is above " +
                               std::to_string(kPointwiseMaxRank));
    if (inputs.size() > kMaxPointwiseInputs)
        return invalidArgument("fused pointwise: more than " + std::to_string(kMaxPointwiseInputs) + " inputs");
    PointwiseBroadcast plan;
    plan.rank = static_cast<int>(output.size());
    plan.count = 1;
    for (int d = 0; d < plan.rank; ++d) {
        plan.dims[d] = output[output.size() - 1 - static_cast<size_t>(d)];
        plan.count *= plan.dims[d];
    }
    for (size_t k = 0; k < inputs.size(); ++k) {
        const Shape& s = inputs[k];
        if (s.size() > output.size())
            return invalidArgument("fused pointwise: input " + std::to_string(k) + " outranks the output");
        int64_t stride = 1;
        for (int d = 0; d < plan.rank; ++d) {
            const bool present = static_cast<size_t>(d) < s.size();
            const int64_t extent = present ? s[s.size() - 1 - static_cast<size_t>(d)] : 1;
            if (extent != 1 && extent != plan.dims[d])
                return invalidArgument("fused pointwise: input " + std::to_string(k) +
                                       " does not broadcast to the output");
            plan.strides[k][d] = extent == 1 ? 0 : stride;
            stride *= extent;
        }
    }
    return plan;
}

Expected<std::string> generatePointwiseSource(const PointwiseKernelSignature& signature) {
    const PointwiseProgram& program = signature.program;
    const size_t numInputs = program.numInputs;
    if (numInputs == 0 || numInputs > kMaxPointwiseInputs || signature.inputTypes.size() != numInputs)
        return unsupported("pointwise codegen: " + std::to_string(signature.inputTypes.size()) + " input types for " +
                           std::to_string(numInputs) + " program inputs (1 to " +
                           std::to_string(kMaxPointwiseInputs) + ")");
    if (program.code.empty()) return unsupported("pointwise codegen: the program has no instructions");
    if (signature.rank > static_cast<size_t>(kPointwiseMaxRank))
        return unsupported("pointwise codegen: rank " + std::to_string(signature.rank) + " is above " +
                           std::to_string(kPointwiseMaxRank));

    bool half = false, bf16 = false;
    std::vector<DataType> types = signature.inputTypes;
    types.push_back(signature.outputType);
    for (DataType type : types) {
        if (!elementCode(type))
            return unsupported(std::string("pointwise codegen: no code for element type ") + dataTypeShortName(type));
        half = half || type == DataType::kHALF;
        bf16 = bf16 || type == DataType::kBF16;
    }

    std::ostringstream body;
    bool sigmoid = false;
    for (size_t i = 0; i < program.code.size(); ++i) {
        const PointwiseInstruction& in = program.code[i];
        const std::string expression = expressionFor(in);
        if (expression.empty())
            return unsupported("pointwise codegen: no code for opcode " + std::to_string(static_cast<int>(in.op)));
        const int32_t defined = static_cast<int32_t>(numInputs + i);
        const bool binary = pointwiseArity(in.op) == 2;
        if (in.a < 0 || in.a >= defined || (binary ? (in.b < 0 || in.b >= defined) : in.b != -1))
            return unsupported("pointwise codegen: instruction " + std::to_string(i) + " reads an undefined slot");
        sigmoid = sigmoid || in.op == PointwiseOp::kSigmoid;
        body << "        const float " << slotName(defined) << " = " << expression << ";  // "
             << pointwiseOpName(in.op) << "\n";
    }

    std::ostringstream src;
    src << "// Generated by Kiln (src/backends/cuda/pointwise_codegen.cpp) from a kiln::FusedPointwise program.\n"
        << "struct KilnPointwiseArgs {\n"
        << "    long long count;\n"
        << "    long long dims[" << kPointwiseMaxRank << "];\n"
        << "    long long strides[" << kMaxPointwiseInputs << "][" << kPointwiseMaxRank << "];\n"
        << "    const void* inputs[" << kMaxPointwiseInputs << "];\n"
        << "    void* output;\n"
        << "};\n";
    if (half) src << kHalfHelpers;
    if (bf16) src << kBf16Helpers;
    if (sigmoid) src << kSigmoidHelper;
    src << "extern \"C\" __global__ void " << kGeneratedPointwiseKernelName << "(const KilnPointwiseArgs args) {\n"
        << "    const long long step = static_cast<long long>(gridDim.x) * blockDim.x;\n"
        << "    for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < args.count;"
           " i += step) {\n";
    // The index walk, unrolled for the rank: one coordinate per dimension, innermost first.
    // The outermost coordinate is what is left (i < count), so it needs no division.
    if (signature.rank > 0) src << "        long long rest = i;\n";
    for (size_t k = 0; k < numInputs; ++k) src << "        long long o" << k << " = 0;\n";
    for (size_t d = 0; d < signature.rank; ++d) {
        const bool outermost = d + 1 == signature.rank;
        src << "        {\n";
        if (outermost) {
            src << "            const long long c = rest;\n";
        } else {
            src << "            const long long c = rest % args.dims[" << d << "];\n"
                << "            rest /= args.dims[" << d << "];\n";
        }
        for (size_t k = 0; k < numInputs; ++k)
            src << "            o" << k << " += c * args.strides[" << k << "][" << d << "];\n";
        src << "        }\n";
    }
    for (size_t k = 0; k < numInputs; ++k) {
        const ElementCode& e = *elementCode(signature.inputTypes[k]);
        src << "        const float " << slotName(static_cast<int32_t>(k)) << " = " << e.toFloat << "(static_cast<const "
            << e.storage << "*>(args.inputs[" << k << "])[o" << k << "]);\n";
    }
    src << body.str();
    const ElementCode& out = *elementCode(signature.outputType);
    src << "        static_cast<" << out.storage << "*>(args.output)[i] = " << out.fromFloat << "("
        << slotName(static_cast<int32_t>(numInputs + program.code.size() - 1)) << ");\n"
        << "    }\n"
        << "}\n";
    return src.str();
}

}  // namespace kiln::cuda
