// The fused pointwise kernel generator (backends/cuda/pointwise_codegen.h) and its NVRTC compilation,
// checked without a GPU: one expression per instruction, parameters spelled exactly, every input read
// once through its strides, unknown opcodes and types refused; the coalesced broadcast plan, the 32-bit
// and 64-bit index walks and the vector form's packed reads and writes; and the generated source compiled by
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
#include "backends/cuda/generated_pointwise_variants.h"
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
    EXPECT_EQ(countMatches(s, R"(rest /= extent;)"), 3u) << s;
    EXPECT_EQ(countMatches(s, R"(o2 \+= c \* static_cast<kiln_index>\(args\.strides\[2\]\[\d\]\))"), 4u) << s;
    // The scalar form reads no packs.
    EXPECT_EQ(s.find("KilnPack"), std::string::npos) << s;
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

std::vector<int64_t> dimsOf(const PointwiseBroadcast& plan) {
    return std::vector<int64_t>(plan.dims, plan.dims + plan.rank);
}

std::vector<int64_t> stridesOf(const PointwiseBroadcast& plan, size_t input) {
    return std::vector<int64_t>(plan.strides[input], plan.strides[input] + plan.rank);
}

TEST(PointwiseCodegen, BroadcastPlanCoalescesWhatEveryInputWalksAlike) {
    // BERT's embedding sum: word + token type [B, S, H] and position [1, S, H] walk S * H alike.
    auto bert = planPointwiseBroadcast({{128, 128, 768}, {128, 128, 768}, {1, 128, 768}}, {128, 128, 768});
    ASSERT_TRUE(bert.isOk()) << bert.status().message();
    EXPECT_EQ(bert->count, 128 * 128 * 768);
    EXPECT_EQ(dimsOf(*bert), (std::vector<int64_t>{128 * 768, 128}));
    EXPECT_EQ(stridesOf(*bert, 0), (std::vector<int64_t>{1, 128 * 768}));
    EXPECT_EQ(stridesOf(*bert, 1), (std::vector<int64_t>{1, 128 * 768}));
    EXPECT_EQ(stridesOf(*bert, 2), (std::vector<int64_t>{1, 0}));

    // Contiguous inputs of the output's shape: one dimension.
    auto contiguous = planPointwiseBroadcast({{2, 3, 4, 5}, {2, 3, 4, 5}}, {2, 3, 4, 5});
    ASSERT_TRUE(contiguous.isOk());
    EXPECT_EQ(dimsOf(*contiguous), (std::vector<int64_t>{120}));
    EXPECT_EQ(stridesOf(*contiguous, 0), (std::vector<int64_t>{1}));
    EXPECT_EQ(stridesOf(*contiguous, 1), (std::vector<int64_t>{1}));

    // A broadcast in the middle separates its neighbours: nothing merges.
    auto middle = planPointwiseBroadcast({{4, 1, 6}, {4, 5, 6}}, {4, 5, 6});
    ASSERT_TRUE(middle.isOk());
    EXPECT_EQ(dimsOf(*middle), (std::vector<int64_t>{6, 5, 4}));
    EXPECT_EQ(stridesOf(*middle, 0), (std::vector<int64_t>{1, 0, 6}));
    EXPECT_EQ(stridesOf(*middle, 1), (std::vector<int64_t>{1, 6, 30}));

    // Broadcast over two neighbours (both strides 0) merges them; contiguous then broadcast does not.
    auto outer = planPointwiseBroadcast({{1, 1, 6}, {4, 5, 6}}, {4, 5, 6});
    ASSERT_TRUE(outer.isOk());
    EXPECT_EQ(dimsOf(*outer), (std::vector<int64_t>{6, 20}));
    EXPECT_EQ(stridesOf(*outer, 0), (std::vector<int64_t>{1, 0}));
    EXPECT_EQ(stridesOf(*outer, 1), (std::vector<int64_t>{1, 6}));

    // A scalar input is broadcast over everything; size-1 output dimensions drop out.
    auto scalar = planPointwiseBroadcast({{}, {3, 1, 4}}, {3, 1, 4});
    ASSERT_TRUE(scalar.isOk());
    EXPECT_EQ(scalar->count, 12);
    EXPECT_EQ(dimsOf(*scalar), (std::vector<int64_t>{12}));
    EXPECT_EQ(stridesOf(*scalar, 0), (std::vector<int64_t>{0}));
    EXPECT_EQ(stridesOf(*scalar, 1), (std::vector<int64_t>{1}));
    auto ones = planPointwiseBroadcast({{1, 1}, {1}}, {1, 1});
    ASSERT_TRUE(ones.isOk());
    EXPECT_EQ(ones->rank, 0);
    EXPECT_EQ(ones->count, 1);

    // An empty output keeps its zero extent.
    auto empty = planPointwiseBroadcast({{3, 0}}, {3, 0});
    ASSERT_TRUE(empty.isOk());
    EXPECT_EQ(empty->count, 0);
}

/// Every output of `plan` walked as the generated kernels do, against the uncoalesced numpy offsets of
/// `inputs` broadcast to `output`: coalescing changes how, never where, an element is read.
void expectSameOffsets(const std::vector<Shape>& inputs, const Shape& output) {
    auto plan = planPointwiseBroadcast(inputs, output);
    ASSERT_TRUE(plan.isOk()) << plan.status().message();
    const size_t rank = output.size();
    for (int64_t i = 0; i < plan->count; ++i) {
        int64_t rest = i;
        std::vector<int64_t> walked(inputs.size(), 0);
        for (int d = 0; d < plan->rank; ++d) {
            const int64_t c = d + 1 == plan->rank ? rest : rest % plan->dims[d];
            rest /= plan->dims[d];
            for (size_t k = 0; k < inputs.size(); ++k) walked[k] += c * plan->strides[k][d];
        }
        // Numpy: the output coordinates, each input's row-major offset at its own (broadcast) ones.
        std::vector<int64_t> coords(rank);
        int64_t left = i;
        for (size_t d = rank; d-- > 0;) {
            coords[d] = left % output[d];
            left /= output[d];
        }
        for (size_t k = 0; k < inputs.size(); ++k) {
            int64_t offset = 0;
            const Shape& s = inputs[k];
            for (size_t d = 0; d < s.size(); ++d) {
                const int64_t coord = s[d] == 1 ? 0 : coords[rank - s.size() + d];
                offset = offset * s[d] + coord;
            }
            ASSERT_EQ(walked[k], offset) << "input " << k << ", output element " << i;
        }
    }
}

TEST(PointwiseCodegen, CoalescedPlanReadsWhatNumpyBroadcastingReads) {
    expectSameOffsets({{2, 3, 8}, {2, 3, 8}, {1, 3, 8}}, {2, 3, 8});
    expectSameOffsets({{4, 1, 6}, {4, 5, 6}}, {4, 5, 6});
    expectSameOffsets({{1, 1, 6}, {4, 5, 1}, {}}, {4, 5, 6});
    expectSameOffsets({{2, 1, 3, 1, 5}, {1, 7, 1, 1, 5}, {2, 7, 3, 4, 1}}, {2, 7, 3, 4, 5});
    expectSameOffsets({{3, 1, 1, 4}, {1, 2, 1, 1}}, {3, 2, 1, 4});
}

TEST(PointwiseCodegen, IndexWalkIs32BitWhereTheCountFits) {
    EXPECT_TRUE(pointwiseFitsNarrowIndex(0));
    EXPECT_TRUE(pointwiseFitsNarrowIndex((int64_t{1} << 31) - 1));
    EXPECT_FALSE(pointwiseFitsNarrowIndex(int64_t{1} << 31));

    PointwiseKernelSignature narrow = gatedSignature(DataType::kHALF);
    narrow.narrowIndex = true;
    auto narrowSource = generatePointwiseSource(narrow);
    ASSERT_TRUE(narrowSource.isOk()) << narrowSource.status().message();
    EXPECT_NE(narrowSource->find("typedef unsigned int kiln_index;"), std::string::npos) << *narrowSource;
    EXPECT_EQ(narrowSource->find("long long rest"), std::string::npos) << *narrowSource;
    EXPECT_EQ(countMatches(*narrowSource, R"(kiln_index rest = i;)"), 1u) << *narrowSource;

    // 2^31 outputs: the plan's count is past the 32-bit walk, so the source walks in 64 bits.
    auto big = planPointwiseBroadcast({{int64_t{1} << 16, int64_t{1} << 15}, {int64_t{1} << 15}},
                                      {int64_t{1} << 16, int64_t{1} << 15});
    ASSERT_TRUE(big.isOk());
    EXPECT_EQ(big->count, int64_t{1} << 31);
    PointwiseKernelSignature wide = gatedSignature(DataType::kHALF);
    wide.program.numInputs = 2;
    wide.program.code = {{PointwiseOp::kAdd, 0, 1}};
    wide.inputTypes = {DataType::kHALF, DataType::kHALF};
    wide.rank = static_cast<size_t>(big->rank);
    wide.narrowIndex = pointwiseFitsNarrowIndex(big->count);
    EXPECT_FALSE(wide.narrowIndex);
    auto wideSource = generatePointwiseSource(wide);
    ASSERT_TRUE(wideSource.isOk()) << wideSource.status().message();
    EXPECT_NE(wideSource->find("typedef long long kiln_index;"), std::string::npos) << *wideSource;
    EXPECT_EQ(wideSource->find("unsigned int kiln_index"), std::string::npos) << *wideSource;

    // The index width is part of the form's cache key.
    EXPECT_NE(narrow.variantKey(), gatedSignature(DataType::kHALF).variantKey());
}

TEST(PointwiseCodegen, VectorFormReadsAndWritesPacks) {
    EXPECT_EQ(pointwiseVectorWidth({DataType::kHALF, DataType::kHALF}, DataType::kHALF), 8);
    EXPECT_EQ(pointwiseVectorWidth({DataType::kBF16}, DataType::kBF16), 8);
    EXPECT_EQ(pointwiseVectorWidth({DataType::kFLOAT, DataType::kFLOAT}, DataType::kFLOAT), 4);
    EXPECT_EQ(pointwiseVectorWidth({DataType::kFLOAT, DataType::kHALF}, DataType::kHALF), 4);
    EXPECT_EQ(pointwiseVectorWidth({DataType::kHALF}, DataType::kFLOAT), 4);
    EXPECT_EQ(pointwiseVectorWidth({DataType::kINT32}, DataType::kFLOAT), 1);

    PointwiseKernelSignature s = gatedSignature(DataType::kHALF);
    s.rank = 2;
    s.narrowIndex = true;
    s.vectorWidth = 8;
    auto source = generatePointwiseSource(s);
    ASSERT_TRUE(source.isOk()) << source.status().message();
    const std::string& v = source.value();
    // Eight outputs per thread: the count of threads' work divided, each input one 16-byte pack (or one
    // element where it is broadcast along the innermost dimension), one 16-byte store.
    EXPECT_NE(v.find("static_cast<kiln_index>(args.count / 8)"), std::string::npos) << v;
    EXPECT_NE(v.find("const kiln_index i = t * 8;"), std::string::npos) << v;
    EXPECT_EQ(
        countMatches(
            v,
            R"(\*reinterpret_cast<const KilnPack<4>\*>\(static_cast<const unsigned short\*>\(args\.inputs\[\d\]\) \+ o\d\))"),
        3u)
        << v;
    EXPECT_EQ(countMatches(v, R"(if \(args\.strides\[\d\]\[0\] == 0\))"), 3u) << v;
    EXPECT_EQ(countMatches(
                  v, R"(\*reinterpret_cast<KilnPack<4>\*>\(static_cast<unsigned short\*>\(args\.output\) \+ i\) = p;)"),
              1u)
        << v;
    // The program once, run for each of the eight outputs, with the scalar form's formulas.
    EXPECT_EQ(countMatches(v, R"(const float s[3-7] = )"), 5u) << v;
    EXPECT_NE(v.find("const float s5 = kiln_sigmoid(s4);"), std::string::npos) << v;
    EXPECT_NE(v.find("y[j] = kiln_to_f16(s7);"), std::string::npos) << v;
    EXPECT_EQ(countMatches(v, R"(rest /= extent;)"), 1u) << v;
    EXPECT_EQ(v.find("#include"), std::string::npos);

    // Float inputs with a half output at width 4: 16-byte reads, an 8-byte write.
    PointwiseKernelSignature mixed = s;
    mixed.inputTypes = {DataType::kFLOAT, DataType::kFLOAT, DataType::kHALF};
    mixed.vectorWidth = 4;
    auto mixedSource = generatePointwiseSource(mixed);
    ASSERT_TRUE(mixedSource.isOk()) << mixedSource.status().message();
    EXPECT_EQ(countMatches(*mixedSource, R"(reinterpret_cast<const KilnPack<4>\*>\(static_cast<const float\*>)"), 2u);
    EXPECT_EQ(
        countMatches(*mixedSource, R"(reinterpret_cast<const KilnPack<2>\*>\(static_cast<const unsigned short\*>)"),
        1u);
    EXPECT_EQ(
        countMatches(*mixedSource, R"(reinterpret_cast<KilnPack<2>\*>\(static_cast<unsigned short\*>\(args\.output\))"),
        1u);
    EXPECT_NE(s.variantKey(), mixed.variantKey()) << "the vector width is part of the form's cache key";

    // Widths whose accesses do not fit 16 bytes in whole words, or a vector at rank 0, are refused.
    for (int width : {3, 16, 0}) {
        PointwiseKernelSignature bad = s;
        bad.vectorWidth = width;
        EXPECT_FALSE(generatePointwiseSource(bad).isOk()) << width;
    }
    PointwiseKernelSignature tooWide = gatedSignature(DataType::kFLOAT);
    tooWide.vectorWidth = 8;
    EXPECT_FALSE(generatePointwiseSource(tooWide).isOk());
    PointwiseKernelSignature rank0 = s;
    rank0.rank = 0;
    EXPECT_FALSE(generatePointwiseSource(rank0).isOk());
}

TEST(PointwiseCodegen, VectorFormNeedsAnInnermostExtentOfWholePacks) {
    auto bert = planPointwiseBroadcast({{4, 16, 24}, {4, 16, 24}, {1, 16, 24}}, {4, 16, 24});
    ASSERT_TRUE(bert.isOk());
    EXPECT_TRUE(pointwisePlanAllowsVector(*bert, 3, 8));
    // Broadcast along the innermost dimension is read by element: still vector.
    auto rowScale = planPointwiseBroadcast({{6, 8}, {6, 1}}, {6, 8});
    ASSERT_TRUE(rowScale.isOk());
    EXPECT_TRUE(pointwisePlanAllowsVector(*rowScale, 2, 8));
    auto odd = planPointwiseBroadcast({{4, 1, 6}, {4, 5, 6}}, {4, 5, 6});
    ASSERT_TRUE(odd.isOk());
    EXPECT_FALSE(pointwisePlanAllowsVector(*odd, 2, 4)) << "6 is no multiple of 4";
    EXPECT_TRUE(pointwisePlanAllowsVector(*odd, 2, 2));
    EXPECT_FALSE(pointwisePlanAllowsVector(*odd, 2, 1)) << "width 1 is the scalar form";
    auto scalar = planPointwiseBroadcast({{1}}, {1});
    ASSERT_TRUE(scalar.isOk());
    EXPECT_FALSE(pointwisePlanAllowsVector(*scalar, 1, 8)) << "rank 0";
}

TEST(PointwiseCodegen, NvrtcCompilesEveryVectorForm) {
    struct Types {
        std::vector<DataType> inputs;
        DataType output;
    };
    const std::vector<Types> cases = {{{DataType::kHALF, DataType::kHALF}, DataType::kHALF},
                                      {{DataType::kBF16, DataType::kBF16}, DataType::kBF16},
                                      {{DataType::kFLOAT, DataType::kFLOAT}, DataType::kFLOAT},
                                      {{DataType::kHALF, DataType::kFLOAT}, DataType::kHALF},
                                      {{DataType::kBF16, DataType::kHALF}, DataType::kFLOAT}};
    for (const Types& types : cases) {
        for (bool narrow : {true, false}) {
            PointwiseKernelSignature s{everyOpcodeProgram(),
                                       types.inputs,
                                       types.output,
                                       2,
                                       narrow,
                                       pointwiseVectorWidth(types.inputs, types.output)};
            auto source = generatePointwiseSource(s);
            ASSERT_TRUE(source.isOk()) << source.status().message();
            auto cubin = compileToCubin(source.value(), "vector_form.cu", kTestArchitecture);
            ASSERT_TRUE(cubin.isOk()) << cubin.status().message() << "\n" << source.value();
            EXPECT_NE(cubin->find(kGeneratedPointwiseKernelName), std::string::npos);
        }
    }
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
            PointwiseKernelSignature s{everyOpcodeProgram(), types.inputs, types.output, rank, rank == 3};
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

TEST(PointwiseCodegen, StoredFormsAreCheckedBeforeAnyIsLoaded) {
    // Refused before any CUDA call, so this runs without a GPU too.
    GeneratedPointwiseVariants forms(gatedSignature(DataType::kHALF), "sm_90");
    EXPECT_EQ(forms.stored(), "") << "no form compiled yet";
    auto other = forms.loadStored("sm_80\nrank1_i32_v1 3\nabc");
    EXPECT_EQ(other.code(), StatusCode::kInvalidEngine);
    EXPECT_NE(other.message().find("sm_80"), std::string::npos) << other.message();
    for (const char* malformed :
         {"sm_90\nrank1_i32_v1 4\nabc", "sm_90\nrank1_i32_v1\nabc", "sm_90\n 3\nabc", "sm_90\nrank1_i32_v1 x3\nabc"}) {
        const Status status = forms.loadStored(malformed);
        EXPECT_EQ(status.code(), StatusCode::kInvalidEngine) << malformed;
        EXPECT_NE(status.message().find("rebuild the engine"), std::string::npos) << status.message();
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
