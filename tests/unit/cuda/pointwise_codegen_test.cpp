// The fused pointwise kernel generator (backends/cuda/pointwise_codegen.h) and its NVRTC compilation,
// checked without a GPU: one expression per instruction, parameters spelled exactly, every input read
// once through its strides, unknown opcodes and types refused; and the generated source compiled by
// NVRTC for an explicit architecture (NVRTC needs no device), which proves it is valid CUDA without any
// header. Built where the CUDA backend is (it links the backend library); elsewhere this file has no tests.

#include <gtest/gtest.h>

#ifdef KILN_TEST_HAVE_CUDA_BACKEND

#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "backends/cuda/cubin_kernel.h"
#include "backends/cuda/nvrtc_compiler.h"
#include "backends/cuda/pointwise_codegen.h"

namespace kiln::cuda {
namespace {

// The architecture the tests compile for: NVRTC emits its SASS without a device.
constexpr const char* kTestArchitecture = "sm_90";

size_t countMatches(const std::string& text, const std::string& pattern) {
    std::regex re(pattern);
    return static_cast<size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

/// out = x * sigmoid(x * s + b), then LeakyRelu(0.1).
PointwiseKernelSignature gatedSignature(DataType type) {
    PointwiseKernelSignature s;
    s.program.numInputs = 3;
    s.program.code = {{PointwiseOp::kMul, 0, 1}, {PointwiseOp::kAdd, 3, 2}, {PointwiseOp::kSigmoid, 4, -1},
                      {PointwiseOp::kMul, 0, 5}, {PointwiseOp::kLeakyRelu, 6, -1, 0.1f}};
    s.inputTypes = {type, type, type};
    s.outputType = type;
    s.rank = 4;
    return s;
}

/// A chain through every opcode: unary ones on the running value, binary ones with input 1.
PointwiseProgram everyOpcodeProgram() {
    PointwiseProgram program;
    program.numInputs = 2;
    int32_t last = 0;
    for (int op = 0; op <= static_cast<int>(PointwiseOp::kPRelu); ++op) {
        const auto code = static_cast<PointwiseOp>(op);
        const bool binary = pointwiseArity(code) == 2;
        program.code.push_back({code, last, binary ? 1 : -1, 0.25f, 0.75f});
        last = static_cast<int32_t>(program.numInputs + program.code.size() - 1);
    }
    return program;
}

TEST(PointwiseCodegen, EmitsOneExpressionPerInstructionAndOneReadPerInput) {
    auto source = generatePointwiseSource(gatedSignature(DataType::kFLOAT));
    ASSERT_TRUE(source.isOk()) << source.status().message();
    const std::string& s = source.value();
    EXPECT_NE(s.find("extern \"C\" __global__ void kiln_fused_pointwise("), std::string::npos) << s;
    EXPECT_EQ(s.find("#include"), std::string::npos) << "the source must need no header";
    // Slots 3..7, one statement each, in program order, each reading the slots the program names.
    EXPECT_EQ(countMatches(s, R"(const float s[3-7] = )"), 5u) << s;
    EXPECT_NE(s.find("const float s3 = s0 * s1;"), std::string::npos) << s;
    EXPECT_NE(s.find("const float s4 = s3 + s2;"), std::string::npos) << s;
    EXPECT_NE(s.find("const float s5 = kiln_sigmoid(s4);"), std::string::npos) << s;
    EXPECT_NE(s.find("const float s6 = s0 * s5;"), std::string::npos) << s;
    EXPECT_LT(s.find("const float s6"), s.find("const float s7"));
    // Each input read once, through its own offset; the last slot written once.
    EXPECT_EQ(countMatches(s, R"(args\.inputs\[\d+\])"), 3u) << s;
    EXPECT_EQ(countMatches(s, R"(args\.output\))"), 1u) << s;
    EXPECT_NE(s.find("= (s7);"), std::string::npos) << s;
    // The index walk is unrolled for rank 4: three divisions (the outermost coordinate needs none).
    EXPECT_EQ(countMatches(s, R"(rest /= args\.dims\[\d\])"), 3u) << s;
    EXPECT_EQ(countMatches(s, R"(o2 \+= c \* args\.strides\[2\]\[\d\])"), 4u) << s;
}

TEST(PointwiseCodegen, ParametersAreSpelledByTheirBits) {
    PointwiseKernelSignature s = gatedSignature(DataType::kFLOAT);
    s.program.code.push_back({PointwiseOp::kClip, 7, -1, -0.1f, std::numeric_limits<float>::infinity()});
    auto source = generatePointwiseSource(s);
    ASSERT_TRUE(source.isOk()) << source.status().message();
    uint32_t bits = 0;
    const float tenth = 0.1f;
    std::memcpy(&bits, &tenth, sizeof bits);
    char expected[64];
    std::snprintf(expected, sizeof expected, "__uint_as_float(0x%xu)", bits);
    EXPECT_NE(source->find(expected), std::string::npos) << *source;            // LeakyRelu's 0.1
    EXPECT_NE(source->find("__uint_as_float(0xbdcccccdu)"), std::string::npos);  // Clip's -0.1
    EXPECT_NE(source->find("__uint_as_float(0x7f800000u)"), std::string::npos);  // Clip's open upper bound
}

TEST(PointwiseCodegen, HalfAndBfloat16AreConvertedWithoutHeaders) {
    PointwiseKernelSignature s = gatedSignature(DataType::kHALF);
    s.inputTypes = {DataType::kHALF, DataType::kBF16, DataType::kFLOAT};
    s.outputType = DataType::kBF16;
    auto source = generatePointwiseSource(s);
    ASSERT_TRUE(source.isOk()) << source.status().message();
    EXPECT_NE(source->find("const float s0 = kiln_from_f16("), std::string::npos) << *source;
    EXPECT_NE(source->find("const float s1 = kiln_from_bf16("), std::string::npos) << *source;
    EXPECT_NE(source->find("= kiln_to_bf16(s7);"), std::string::npos) << *source;
    EXPECT_NE(source->find("cvt.f32.f16"), std::string::npos);
    // A float-only kernel carries no conversion helpers.
    auto plain = generatePointwiseSource(gatedSignature(DataType::kFLOAT));
    ASSERT_TRUE(plain.isOk());
    EXPECT_EQ(plain->find("kiln_from_f16"), std::string::npos);
    EXPECT_EQ(plain->find("kiln_to_bf16"), std::string::npos);
}

TEST(PointwiseCodegen, RefusesWhatItCannotGenerate) {
    PointwiseKernelSignature unknownOp = gatedSignature(DataType::kFLOAT);
    unknownOp.program.code[2].op = static_cast<PointwiseOp>(200);
    auto r = generatePointwiseSource(unknownOp);
    ASSERT_FALSE(r.isOk());
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(r.status().message().find("opcode 200"), std::string::npos) << r.status().message();

    PointwiseKernelSignature integer = gatedSignature(DataType::kFLOAT);
    integer.inputTypes[1] = DataType::kINT32;
    EXPECT_FALSE(generatePointwiseSource(integer).isOk());
    PointwiseKernelSignature doubleOut = gatedSignature(DataType::kFLOAT);
    doubleOut.outputType = DataType::kDOUBLE;
    EXPECT_FALSE(generatePointwiseSource(doubleOut).isOk());
    PointwiseKernelSignature tooDeep = gatedSignature(DataType::kFLOAT);
    tooDeep.rank = kPointwiseMaxRank + 1;
    EXPECT_FALSE(generatePointwiseSource(tooDeep).isOk());
    PointwiseKernelSignature missingType = gatedSignature(DataType::kFLOAT);
    missingType.inputTypes.pop_back();
    EXPECT_FALSE(generatePointwiseSource(missingType).isOk());
    PointwiseKernelSignature forwardRead = gatedSignature(DataType::kFLOAT);
    forwardRead.program.code[0].b = 6;  // a slot written later
    EXPECT_FALSE(generatePointwiseSource(forwardRead).isOk());
    PointwiseKernelSignature empty = gatedSignature(DataType::kFLOAT);
    empty.program.code.clear();
    EXPECT_FALSE(generatePointwiseSource(empty).isOk());
}

TEST(PointwiseCodegen, BroadcastPlanMatchesNumpyStrides) {
    auto plan = planPointwiseBroadcast({{2, 3, 4}, {3, 1}, {}, {1, 1, 4}}, {2, 3, 4});
    ASSERT_TRUE(plan.isOk()) << plan.status().message();
    EXPECT_EQ(plan->rank, 3);
    EXPECT_EQ(plan->count, 24);
    EXPECT_EQ(std::vector<int64_t>(plan->dims, plan->dims + 3), (std::vector<int64_t>{4, 3, 2}));
    EXPECT_EQ(std::vector<int64_t>(plan->strides[0], plan->strides[0] + 3), (std::vector<int64_t>{1, 4, 12}));
    EXPECT_EQ(std::vector<int64_t>(plan->strides[1], plan->strides[1] + 3), (std::vector<int64_t>{0, 1, 0}));
    EXPECT_EQ(std::vector<int64_t>(plan->strides[2], plan->strides[2] + 3), (std::vector<int64_t>{0, 0, 0}));
    EXPECT_EQ(std::vector<int64_t>(plan->strides[3], plan->strides[3] + 3), (std::vector<int64_t>{1, 0, 0}));
    EXPECT_FALSE(planPointwiseBroadcast({{2, 5}}, {2, 4}).isOk());
    EXPECT_FALSE(planPointwiseBroadcast({{1, 2, 4}}, {2, 4}).isOk());
    EXPECT_FALSE(planPointwiseBroadcast({{1}}, Shape(kPointwiseMaxRank + 1, 1)).isOk());
}

TEST(PointwiseCodegen, NvrtcCompilesEveryOpcodeAndElementTypeToACubin) {
    struct Types {
        std::vector<DataType> inputs;
        DataType output;
    };
    const std::vector<Types> cases = {{{DataType::kFLOAT, DataType::kFLOAT}, DataType::kFLOAT},
                                      {{DataType::kHALF, DataType::kHALF}, DataType::kHALF},
                                      {{DataType::kBF16, DataType::kBF16}, DataType::kBF16},
                                      {{DataType::kHALF, DataType::kBF16}, DataType::kFLOAT}};
    for (size_t rank : {size_t{0}, size_t{3}, size_t{kPointwiseMaxRank}}) {
        for (const Types& types : cases) {
            PointwiseKernelSignature s{everyOpcodeProgram(), types.inputs, types.output, rank};
            auto source = generatePointwiseSource(s);
            ASSERT_TRUE(source.isOk()) << source.status().message();
            const size_t before = nvrtcCompilationCount();
            auto cubin = compileToCubin(source.value(), "every_opcode.cu", kTestArchitecture);
            ASSERT_TRUE(cubin.isOk()) << cubin.status().message() << "\n" << source.value();
            EXPECT_EQ(nvrtcCompilationCount(), before + 1);
            ASSERT_GT(cubin->size(), 64u);
            EXPECT_EQ(cubin->compare(0, 4, "\x7f" "ELF"), 0) << "a CUBIN is an ELF image";
            EXPECT_NE(cubin->find(kGeneratedPointwiseKernelName), std::string::npos) << "the kernel's symbol";
            if (rank != 3) break;  // every type once at rank 3; the other ranks in float only
        }
    }
}

TEST(PointwiseCodegen, CompileErrorsCarryNvrtcsLog) {
    auto cubin = compileToCubin("extern \"C\" __global__ void k() { undeclared_name = 1; }", "broken.cu",
                                kTestArchitecture);
    ASSERT_FALSE(cubin.isOk());
    EXPECT_NE(cubin.status().message().find("broken.cu"), std::string::npos) << cubin.status().message();
    EXPECT_NE(cubin.status().message().find("undeclared_name"), std::string::npos) << cubin.status().message();
    EXPECT_FALSE(compileToCubin("__global__ void k() {}", "arch.cu", "sm_1").isOk());
}

TEST(PointwiseCodegen, StoredCodeIsTaggedWithItsArchitecture) {
    EXPECT_EQ(sassArchitecture(9, 0), "sm_90");
    EXPECT_EQ(sassArchitecture(12, 1), "sm_121");
    const std::string tagged = tagCubin("sm_90", std::string("\x7f" "ELF\0\0\1", 7));
    EXPECT_EQ(tagged.size(), 6u + 7u);
    EXPECT_EQ(tagged.substr(0, 6), "sm_90\n");
    // A tag for another device is refused before any CUDA call (so this runs without a GPU too).
    auto other = CubinKernel::load(tagged, "sm_80", kGeneratedPointwiseKernelName);
    ASSERT_FALSE(other.isOk());
    EXPECT_EQ(other.status().code(), StatusCode::kInvalidEngine);
    EXPECT_NE(other.status().message().find("sm_90"), std::string::npos) << other.status().message();
    EXPECT_NE(other.status().message().find("sm_80"), std::string::npos) << other.status().message();
    EXPECT_FALSE(CubinKernel::load("no tag at all", "sm_90", kGeneratedPointwiseKernelName).isOk());
}

}  // namespace
}  // namespace kiln::cuda

#endif  // KILN_TEST_HAVE_CUDA_BACKEND
