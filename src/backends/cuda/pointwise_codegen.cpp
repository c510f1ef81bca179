#include "backends/cuda/pointwise_codegen.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>

#include "backends/cuda/kernels/broadcast_plan.h"

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

/// The C type of a tensor's elements as the vector form moves them: packs of 32-bit words.
constexpr const char* kPackHelper = R"(template <int Words>
struct alignas(4 * Words) KilnPack {
    unsigned int w[Words];
};
)";

/// The program's statements, one per instruction, each at `indent`; sets `sigmoid` when one needs the
/// sigmoid helper.
Expected<std::string> programStatements(const PointwiseProgram& program, const std::string& indent, bool& sigmoid) {
    std::ostringstream body;
    const size_t numInputs = program.numInputs;
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
        body << indent << "const float " << slotName(defined) << " = " << expression << ";  // "
             << pointwiseOpName(in.op) << "\n";
    }
    return body.str();
}

/// The index walk for element `i`, unrolled for `rank`: one coordinate per dimension, innermost first,
/// each input's offset o<k> accumulated. The outermost coordinate is what is left (i < count), so it
/// needs no division.
std::string indexWalk(size_t rank, size_t numInputs) {
    std::ostringstream src;
    if (rank > 0) src << "        kiln_index rest = i;\n";
    for (size_t k = 0; k < numInputs; ++k) src << "        kiln_index o" << k << " = 0;\n";
    for (size_t d = 0; d < rank; ++d) {
        src << "        {\n";
        if (d + 1 == rank) {
            src << "            const kiln_index c = rest;\n";
        } else {
            src << "            const kiln_index extent = static_cast<kiln_index>(args.dims[" << d << "]);\n"
                << "            const kiln_index c = rest % extent;\n"
                << "            rest /= extent;\n";
        }
        for (size_t k = 0; k < numInputs; ++k)
            src << "            o" << k << " += c * static_cast<kiln_index>(args.strides[" << k << "][" << d << "]);\n";
        src << "        }\n";
    }
    return src.str();
}

/// The vector form's reads of input `k` into a<k>[0..width): one pack where the input is contiguous
/// along the innermost dimension, one element for all where it is broadcast along it.
std::string vectorRead(size_t k, const ElementCode& e, size_t elementBytes, int width) {
    std::ostringstream inputName;
    inputName << "static_cast<const " << e.storage << "*>(args.inputs[" << k << "])";
    const std::string input = inputName.str();
    std::string array = "a";
    array += std::to_string(k);
    const size_t words = elementBytes * static_cast<size_t>(width) / 4;
    std::ostringstream src;
    src << "        float " << array << "[" << width << "];\n"
        << "        if (args.strides[" << k << "][0] == 0) {\n"
        << "            const float v = " << e.toFloat << "(" << input << "[o" << k << "]);\n"
        << "#pragma unroll\n"
        << "            for (int j = 0; j < " << width << "; ++j) " << array << "[j] = v;\n"
        << "        } else {\n"
        << "            const KilnPack<" << words << "> p = *reinterpret_cast<const KilnPack<" << words << ">*>("
        << input << " + o" << k << ");\n"
        << "#pragma unroll\n"
        << "            for (int j = 0; j < " << width << "; ++j) " << array << "[j] = ";
    if (elementBytes == 2)
        src << e.toFloat << "(static_cast<unsigned short>(p.w[j / 2] >> (16 * (j % 2))));\n";
    else
        src << "__uint_as_float(p.w[j]);\n";
    src << "        }\n";
    return src.str();
}

}  // namespace

std::string PointwiseKernelSignature::variantKey() const {
    return "rank" + std::to_string(rank) + (narrowIndex ? "_i32" : "_i64") + "_v" + std::to_string(vectorWidth);
}

bool pointwiseFitsNarrowIndex(int64_t count) {
    return count >= 0 && count < (int64_t{1} << 31);
}

int pointwiseVectorWidth(const std::vector<DataType>& inputTypes, DataType outputType) {
    size_t widest = dataTypeSize(outputType);
    for (DataType type : inputTypes) widest = std::max(widest, dataTypeSize(type));
    if (!elementCode(outputType) || widest == 0 || widest > 4) return 1;
    for (DataType type : inputTypes)
        if (!elementCode(type)) return 1;
    return static_cast<int>(16 / widest);
}

bool pointwisePlanAllowsVector(const PointwiseBroadcast& plan, size_t numInputs, int width) {
    if (width <= 1 || plan.rank < 1 || plan.dims[0] % width != 0) return false;
    for (size_t k = 0; k < numInputs; ++k)
        if (plan.strides[k][0] != 0 && plan.strides[k][0] != 1) return false;
    return true;
}

Expected<PointwiseBroadcast> planPointwiseBroadcast(const std::vector<Shape>& inputs, const Shape& output) {
    if (output.size() > static_cast<size_t>(kPointwiseMaxRank))
        return invalidArgument("fused pointwise: output rank " + std::to_string(output.size()) + " is above " +
                               std::to_string(kPointwiseMaxRank));
    if (inputs.size() > kMaxPointwiseInputs)
        return invalidArgument("fused pointwise: more than " + std::to_string(kMaxPointwiseInputs) + " inputs");
    PointwiseBroadcast plan;
    KILN_RETURN_IF_ERROR(broadcastStrides(inputs, output, plan.dims, plan.strides).withContext("fused pointwise"));
    plan.count = shapeElementCount(output);
    plan.rank = coalesceBroadcastDims(static_cast<int>(output.size()), inputs.size(), plan.dims, plan.strides);
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
    const int width = signature.vectorWidth;
    const bool vector = width != 1;
    if (vector) {
        // Every tensor's access is whole 32-bit words and at most 16 bytes; the walk needs a dimension.
        bool fits = width > 1 && (width & (width - 1)) == 0 && signature.rank > 0;
        for (DataType type : types) {
            const size_t bytes = dataTypeSize(type) * static_cast<size_t>(width);
            fits = fits && bytes >= 4 && bytes <= 16;
        }
        if (!fits)
            return unsupported("pointwise codegen: no vector form of width " + std::to_string(width) + " at rank " +
                               std::to_string(signature.rank) + " for these element types");
    }

    bool sigmoid = false;
    KILN_ASSIGN_OR_RETURN(std::string body, programStatements(program, vector ? "            " : "        ", sigmoid));
    const std::string result = slotName(static_cast<int32_t>(numInputs + program.code.size() - 1));
    const ElementCode& out = *elementCode(signature.outputType);

    std::ostringstream src;
    src << "// Generated by Kiln (src/backends/cuda/pointwise_codegen.cpp) from a kiln::FusedPointwise program.\n"
        << "struct KilnPointwiseArgs {\n"
        << "    long long count;\n"
        << "    long long dims[" << kPointwiseMaxRank << "];\n"
        << "    long long strides[" << kMaxPointwiseInputs << "][" << kPointwiseMaxRank << "];\n"
        << "    const void* inputs[" << kMaxPointwiseInputs << "];\n"
        << "    void* output;\n"
        << "};\n"
        // The index walk's type: 32-bit division is a fraction of 64-bit's, and the walk is most of the
        // kernel's instructions.
        << "typedef " << (signature.narrowIndex ? "unsigned int" : "long long") << " kiln_index;\n";
    if (half) src << kHalfHelpers;
    if (bf16) src << kBf16Helpers;
    if (sigmoid) src << kSigmoidHelper;
    if (vector) src << kPackHelper;
    src << "extern \"C\" __global__ void " << kGeneratedPointwiseKernelName << "(const KilnPointwiseArgs args) {\n"
        << "    const kiln_index count = static_cast<kiln_index>(args.count"
        << (vector ? " / " + std::to_string(width) : "") << ");\n"
        << "    const kiln_index step = static_cast<kiln_index>(gridDim.x) * blockDim.x;\n"
        << "    for (kiln_index t = static_cast<kiln_index>(blockIdx.x) * blockDim.x + threadIdx.x; t < count;"
           " t += step) {\n";
    if (vector)
        src << "        const kiln_index i = t * " << width << ";  // the first of this thread's outputs\n";
    else
        src << "        const kiln_index i = t;\n";
    src << indexWalk(signature.rank, numInputs);
    if (!vector) {
        for (size_t k = 0; k < numInputs; ++k) {
            const ElementCode& e = *elementCode(signature.inputTypes[k]);
            src << "        const float " << slotName(static_cast<int32_t>(k)) << " = " << e.toFloat
                << "(static_cast<const " << e.storage << "*>(args.inputs[" << k << "])[o" << k << "]);\n";
        }
        src << body << "        static_cast<" << out.storage << "*>(args.output)[i] = " << out.fromFloat << "("
            << result << ");\n";
    } else {
        for (size_t k = 0; k < numInputs; ++k)
            src << vectorRead(k, *elementCode(signature.inputTypes[k]), dataTypeSize(signature.inputTypes[k]), width);
        const size_t outBytes = dataTypeSize(signature.outputType);
        const size_t words = outBytes * static_cast<size_t>(width) / 4;
        src << "        " << out.storage << " y[" << width << "];\n"
            << "#pragma unroll\n"
            << "        for (int j = 0; j < " << width << "; ++j) {\n";
        for (size_t k = 0; k < numInputs; ++k)
            src << "            const float " << slotName(static_cast<int32_t>(k)) << " = a" << k << "[j];\n";
        src << body << "            y[j] = " << out.fromFloat << "(" << result << ");\n"
            << "        }\n"
            << "        KilnPack<" << words << "> p;\n"
            << "#pragma unroll\n"
            << "        for (int w = 0; w < " << words << "; ++w) p.w[w] = ";
        if (outBytes == 2)
            src << "static_cast<unsigned int>(y[2 * w]) | (static_cast<unsigned int>(y[2 * w + 1]) << 16);\n";
        else
            src << "__float_as_uint(y[w]);\n";
        src << "        *reinterpret_cast<KilnPack<" << words << ">*>(static_cast<" << out.storage
            << "*>(args.output) + i) = p;\n";
    }
    src << "    }\n"
        << "}\n";
    return src.str();
}

}  // namespace kiln::cuda
