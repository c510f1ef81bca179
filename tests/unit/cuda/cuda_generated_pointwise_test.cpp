// The generated (NVRTC) kiln::FusedPointwise kernels on the GPU: programs of several shapes (activation
// chains, broadcasts over three inputs) in float, float16 and bfloat16 against the CPU backend running
// the unfused ops in float; the vector form (aligned addresses, an innermost extent of whole packs)
// against the CPU and, bit for bit, against the scalar form that misaligned addresses fall back to;
// and an engine whose pointwise kernels were compiled by the builder, saved and loaded, running without
// a single NVRTC compilation.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backends/code_generation.h"
#include "cuda_test_support.h"
#include "engine_runner.h"
#include "ir/pointwise_program.h"
#include "kiln/kiln.h"

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
#include "backends/cuda/nvrtc_compiler.h"
#endif

namespace kiln::cudatest {
namespace {

using CudaGeneratedPointwiseTest = CudaTest;

/// The program evaluated on the CPU backend one unfused ONNX op at a time, in float.
Tensor cpuProgram(const PointwiseProgram& program, const std::vector<const Tensor*>& inputs) {
    std::vector<Tensor> slots;
    slots.reserve(program.numInputs + program.code.size());
    for (const Tensor* t : inputs) slots.push_back(convertTensor(*t, DataType::kFLOAT));
    for (const PointwiseInstruction& in : program.code) {
        AttributeMap attrs;
        std::string op = pointwiseOpName(in.op);
        std::vector<const Tensor*> operands = {&slots[static_cast<size_t>(in.a)]};
        if (in.b >= 0) operands.push_back(&slots[static_cast<size_t>(in.b)]);
        Tensor lo = Tensor::scalarFloat(in.alpha), hi = Tensor::scalarFloat(in.beta);
        switch (in.op) {
            case PointwiseOp::kLeakyRelu:
            case PointwiseOp::kElu: attrs.set("alpha", in.alpha); break;
            case PointwiseOp::kHardSigmoid:
                attrs.set("alpha", in.alpha);
                attrs.set("beta", in.beta);
                break;
            case PointwiseOp::kGeluTanh:
                op = "Gelu";
                attrs.set("approximate", std::string("tanh"));
                break;
            case PointwiseOp::kClip: operands = {operands[0], &lo, &hi}; break;
            default: break;
        }
        std::vector<Tensor> out = cpuReference(op, operands, 1, attrs);
        EXPECT_EQ(out.size(), 1u) << op;
        if (out.empty()) return Tensor();
        slots.push_back(std::move(out[0]));
    }
    return slots.back();
}

AttributeMap programAttributes(const PointwiseProgram& program) {
    Graph g;
    std::vector<Value*> ins;
    for (size_t i = 0; i < program.numInputs; ++i) ins.push_back(g.addInput("in" + std::to_string(i), DataType::kFLOAT, {}));
    Node* node = g.addNode("FusedPointwise", "fused", ins, {"y"}, 1);
    program.writeTo(*node);
    return node->attrs;
}

struct ProgramCase {
    const char* label;
    PointwiseProgram program;
    std::vector<Tensor> inputs;  // float; converted to the case's type
    Shape outShape;
};

std::vector<ProgramCase> programCases() {
    std::vector<ProgramCase> cases;
    {
        // An activation chain: gate = sigmoid(x * s + b); y = HardSwish(LeakyRelu(Gelu(tanh(x * gate)))).
        ProgramCase c{"activation chain", {}, {}, {4, 16, 9, 11}};
        c.program.numInputs = 3;
        c.program.code = {{PointwiseOp::kMul, 0, 1},          {PointwiseOp::kAdd, 3, 2},
                          {PointwiseOp::kSigmoid, 4, -1},     {PointwiseOp::kMul, 0, 5},
                          {PointwiseOp::kTanh, 6, -1},        {PointwiseOp::kGeluErf, 7, -1},
                          {PointwiseOp::kLeakyRelu, 8, -1, 0.2f}, {PointwiseOp::kHardSwish, 9, -1}};
        c.inputs.push_back(test::randomTensor(DataType::kFLOAT, c.outShape, -4, 4, 21));
        c.inputs.push_back(Tensor::scalarFloat(0.75f));
        c.inputs.push_back(test::randomTensor(DataType::kFLOAT, {16, 1, 1}, -1, 1, 22));
        cases.push_back(std::move(c));
    }
    {
        // Three inputs broadcast to each other's dimensions, binary ops and parameters throughout.
        ProgramCase c{"broadcasts", {}, {}, {2, 3, 5, 7}};
        c.program.numInputs = 3;
        c.program.code = {{PointwiseOp::kSub, 0, 1},
                          {PointwiseOp::kMax, 3, 2},
                          {PointwiseOp::kPRelu, 4, 1},
                          {PointwiseOp::kClip, 5, -1, -0.5f, 1.25f},
                          {PointwiseOp::kSoftplus, 6, -1},
                          {PointwiseOp::kMin, 7, 0},
                          {PointwiseOp::kElu, 8, -1, 0.7f},
                          {PointwiseOp::kHardSigmoid, 9, -1, 0.25f, 0.4f},
                          {PointwiseOp::kDiv, 10, 1},
                          {PointwiseOp::kGeluTanh, 11, -1}};
        c.inputs.push_back(test::randomTensor(DataType::kFLOAT, {2, 1, 5, 7}, -2, 2, 31));
        c.inputs.push_back(test::randomTensor(DataType::kFLOAT, {3, 1, 7}, 0.5, 2, 32));
        c.inputs.push_back(test::randomTensor(DataType::kFLOAT, {5, 1}, -1, 1, 33));
        cases.push_back(std::move(c));
    }
    {
        // Unary math on a positive input, rank 1.
        ProgramCase c{"rank 1 math", {}, {}, {1000}};
        c.program.numInputs = 2;
        c.program.code = {{PointwiseOp::kSqrt, 0, -1}, {PointwiseOp::kLog, 2, -1}, {PointwiseOp::kExp, 3, -1},
                          {PointwiseOp::kPow, 4, 1},    {PointwiseOp::kReciprocal, 5, -1},
                          {PointwiseOp::kNeg, 6, -1},   {PointwiseOp::kAbs, 7, -1}, {PointwiseOp::kErf, 8, -1}};
        c.inputs.push_back(test::randomTensor(DataType::kFLOAT, c.outShape, 0.2, 4, 41));
        c.inputs.push_back(test::randomTensor(DataType::kFLOAT, {1}, 0.5, 1.5, 42));
        cases.push_back(std::move(c));
    }
    return cases;
}

TEST_F(CudaGeneratedPointwiseTest, GeneratedKernelsMatchTheCpuInEveryElementType) {
    struct TypeCase {
        DataType type;
        double rtol, atol;
    };
    // Float: transcendental ulps; float16 / bfloat16: one rounding of the result (2^-11, 2^-8) plus
    // the inputs' own rounding, which both sides share.
    for (const TypeCase& t : {TypeCase{DataType::kFLOAT, 1e-5, 1e-6}, TypeCase{DataType::kHALF, 2e-3, 1e-4},
                              TypeCase{DataType::kBF16, 1e-2, 1e-3}}) {
        for (const ProgramCase& c : programCases()) {
            const std::string label = std::string(c.label) + " in " + dataTypeName(t.type);
            std::vector<Tensor> typed;
            for (const Tensor& in : c.inputs) typed.push_back(convertTensor(in, t.type));
            std::vector<const Tensor*> inputs;
            for (const Tensor& in : typed) inputs.push_back(&in);
            const Tensor reference = cpuProgram(c.program, inputs);
            auto gpu = runOnCuda(*mBackend, mStream, "FusedPointwise", inputs, {t.type}, {c.outShape},
                                 programAttributes(c.program), "kiln");
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_NE(gpu->tactic.find("nvrtc"), std::string::npos) << label << ": ran " << gpu->tactic;
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference.toDoubleVector(), t.rtol, t.atol), "")
                << label;
        }
    }
}

/// Whether `a` and `b` hold the same bytes.
bool sameBytes(const Tensor& a, const Tensor& b) {
    return a.byteSize() == b.byteSize() && std::memcmp(a.data(), b.data(), a.byteSize()) == 0;
}

TEST_F(CudaGeneratedPointwiseTest, VectorFormMatchesTheCpuAndTheScalarFormBitForBit) {
    // y = Gelu(x * row + col) - row: x of the output's shape, row contiguous and broadcast over the
    // outermost dimension, col broadcast along the innermost one (read by element in the vector form).
    PointwiseProgram program;
    program.numInputs = 3;
    program.code = {{PointwiseOp::kMul, 0, 1},
                    {PointwiseOp::kAdd, 3, 2},
                    {PointwiseOp::kGeluErf, 4, -1},
                    {PointwiseOp::kSub, 5, 1}};
    struct TypeCase {
        std::vector<DataType> inputs;  // the output has the first one's type
        int width;
        double rtol, atol;
    };
    const std::vector<TypeCase> types = {{{DataType::kFLOAT, DataType::kFLOAT, DataType::kFLOAT}, 4, 1e-5, 1e-6},
                                         {{DataType::kHALF, DataType::kHALF, DataType::kHALF}, 8, 2e-3, 1e-4},
                                         {{DataType::kBF16, DataType::kBF16, DataType::kBF16}, 8, 1e-2, 1e-3}};
    // (Mixed input types are not among them: the CUDA FusedPointwise takes one input type, so a mixed
    // node never reaches the generated kernel; pointwise_codegen_test compiles the mixed vector source.)
    for (const TypeCase& t : types) {
        for (int64_t inner : {64, 63}) {  // 63: no multiple of the width, so the scalar form runs
            const Shape outShape = {3, 5, inner};
            const std::vector<Shape> inShapes = {outShape, {5, inner}, {3, 5, 1}};
            std::vector<Tensor> typed;
            for (size_t k = 0; k < inShapes.size(); ++k)
                typed.push_back(convertTensor(
                    test::randomTensor(DataType::kFLOAT, inShapes[k], -2, 2, 71 + static_cast<uint32_t>(k)),
                    t.inputs[k]));
            std::vector<const Tensor*> inputs;
            for (const Tensor& in : typed) inputs.push_back(&in);
            const std::string label = std::string(dataTypeName(t.inputs[0])) + " from " + dataTypeName(t.inputs[1]) +
                                      ", innermost " + std::to_string(inner);
            const Tensor reference = cpuProgram(program, inputs);
            const DataType outType = t.inputs[0];
            const size_t outBytes = dataTypeSize(outType);
            const std::string vectorTactic = "vec" + std::to_string(t.width) + "_";
            auto run = [&](const std::vector<size_t>& byteOffsets) {
                return runOnCuda(*mBackend, mStream, "FusedPointwise", inputs, {outType}, {outShape},
                                 programAttributes(program), "kiln", byteOffsets);
            };

            auto aligned = run({});
            ASSERT_TRUE(aligned.isOk()) << label << ": " << aligned.status().message();
            EXPECT_EQ(aligned->tactic.find(vectorTactic) != std::string::npos, inner % t.width == 0)
                << label << ": ran " << aligned->tactic;
            EXPECT_EQ(test::compareWithReference(aligned->outputs[0], reference.toDoubleVector(), t.rtol, t.atol), "")
                << label;
            if (inner % t.width != 0) continue;

            // One element past an aligned address: a contiguous input, then the output, is misaligned
            // for the packs, so the scalar form runs; its results are the vector form's, bit for bit.
            const std::vector<std::vector<size_t>> misaligned = {
                {dataTypeSize(t.inputs[0]), 0, 0, 0}, {0, dataTypeSize(t.inputs[1]), 0, 0}, {0, 0, 0, outBytes}};
            for (const std::vector<size_t>& offsets : misaligned) {
                auto scalar = run(offsets);
                ASSERT_TRUE(scalar.isOk()) << label << ": " << scalar.status().message();
                EXPECT_EQ(scalar->tactic.find("vec"), std::string::npos) << label << ": ran " << scalar->tactic;
                EXPECT_TRUE(sameBytes(scalar->outputs[0], aligned->outputs[0])) << label;
            }
            // The input broadcast along the innermost dimension is read by element: any address will do.
            auto broadcastOffset = run({0, 0, dataTypeSize(t.inputs[2]), 0});
            ASSERT_TRUE(broadcastOffset.isOk()) << label << ": " << broadcastOffset.status().message();
            EXPECT_NE(broadcastOffset->tactic.find(vectorTactic), std::string::npos)
                << label << ": ran " << broadcastOffset->tactic;
            EXPECT_TRUE(sameBytes(broadcastOffset->outputs[0], aligned->outputs[0])) << label;
        }
    }
}

TEST_F(CudaGeneratedPointwiseTest, BertEmbeddingSumRunsTheVectorForm) {
    // BERT-base batch 128: word + token-type embeddings [B, S, H] plus position [1, S, H], in float16.
    // Its plan is rank 2 (S * H, B) with a 32-bit walk, and the vector form makes 8 outputs a thread.
    PointwiseProgram program;
    program.numInputs = 3;
    program.code = {{PointwiseOp::kAdd, 0, 1}, {PointwiseOp::kAdd, 3, 2}};
    const Shape outShape = {128, 128, 768};
    std::vector<Tensor> typed;
    typed.push_back(convertTensor(test::randomTensor(DataType::kFLOAT, outShape, -1, 1, 81), DataType::kHALF));
    typed.push_back(convertTensor(test::randomTensor(DataType::kFLOAT, outShape, -1, 1, 82), DataType::kHALF));
    typed.push_back(convertTensor(test::randomTensor(DataType::kFLOAT, {1, 128, 768}, -1, 1, 83), DataType::kHALF));
    std::vector<const Tensor*> inputs = {&typed[0], &typed[1], &typed[2]};
    const Tensor reference = cpuProgram(program, inputs);
    auto gpu = runOnCuda(*mBackend, mStream, "FusedPointwise", inputs, {DataType::kHALF}, {outShape},
                         programAttributes(program), "kiln");
    ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
    EXPECT_NE(gpu->tactic.find("nvrtc_vec8_"), std::string::npos) << gpu->tactic;
    EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference.toDoubleVector(), 2e-3, 1e-4), "");
}

TEST_F(CudaGeneratedPointwiseTest, StoredCodeForAnotherArchitectureIsAClearError) {
    // The engine's target already refuses another compute capability; this is the kernel's backstop.
    PointwiseProgram program;
    program.numInputs = 1;
    program.code = {{PointwiseOp::kRelu, 0, -1}};
    AttributeMap attrs = programAttributes(program);
    attrs.set(kGeneratedCodeAttribute, std::string("sm_10\n\x7f" "ELF not really a cubin"));
    Tensor x = test::randomTensor(DataType::kFLOAT, {3, 4}, -1, 1, 61);
    auto gpu = runOnCuda(*mBackend, mStream, "FusedPointwise", {&x}, {DataType::kFLOAT}, {{3, 4}}, attrs, "kiln");
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("sm_10"), std::string::npos) << gpu.status().message();
    EXPECT_NE(gpu.status().message().find("rebuild the engine"), std::string::npos) << gpu.status().message();
}

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
TEST_F(CudaGeneratedPointwiseTest, ALoadedEngineRunsItsStoredKernelsWithoutCompiling) {
    // y = x * sigmoid(x * s + b): the fusion pass makes one FusedPointwise of the four ops. Its plan
    // (24, 8, batch) has a vector form besides the scalar one: the engine stores and loads both. With a
    // dynamic batch the builder guesses the batch (the plan's rank and forms do not depend on it).
    for (bool dynamic : {false, true}) {
        const std::string label = dynamic ? "dynamic batch" : "static shape";
        const int64_t batch = dynamic ? 3 : 2;
        const Shape shape = {batch, 8, 4, 6};
        Tensor x = test::randomTensor(DataType::kFLOAT, shape, -3, 3, 51);
        Tensor s = test::randomTensor(DataType::kFLOAT, {1}, 0.5, 1.5, 52);
        Tensor b = test::randomTensor(DataType::kFLOAT, {8, 1, 1}, -1, 1, 53);
        test::CapturingLogger logger;
        auto builder = createBuilder(logger);
        auto net = builder->createNetwork();
        ITensor* in = net->addInput("x", DataType::kFLOAT, Dims{dynamic ? -1 : batch, 8, 4, 6});
        ITensor* sc = net->addConstant(Dims{1}, DataType::kFLOAT, s.data());
        ITensor* bc = net->addConstant(Dims{8, 1, 1}, DataType::kFLOAT, b.data());
        ITensor* h = net->addElementWise(*in, *sc, ElementWiseOperation::kPROD)->getOutput(0);
        h = net->addElementWise(*h, *bc, ElementWiseOperation::kSUM)->getOutput(0);
        h = net->addActivation(*h, ActivationType::kSIGMOID)->getOutput(0);
        ITensor* y = net->addElementWise(*in, *h, ElementWiseOperation::kPROD)->getOutput(0);
        y->setName("y");
        net->markOutput(*y);
        auto config = builder->createBuilderConfig();
        config->setDefaultDeviceType(DeviceType::kGPU);
        auto profile = builder->createOptimizationProfile();
        if (dynamic) {
            profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1, 8, 4, 6});
            profile->setDimensions("x", OptProfileSelector::kOPT, Dims{2, 8, 4, 6});
            profile->setDimensions("x", OptProfileSelector::kMAX, Dims{4, 8, 4, 6});
            config->addOptimizationProfile(profile.get());
        }

        const size_t beforeBuild = cuda::nvrtcCompilationCount();
        auto plan = builder->buildSerializedNetwork(*net, *config);
        ASSERT_NE(plan, nullptr) << label;
        // The dynamic-batch engine's plan is the static one's, whose sources this process compiled already.
        if (!dynamic)
            EXPECT_GE(cuda::nvrtcCompilationCount(), beforeBuild + 1) << label << ": the builder compiles the fused kernel";
        bool logged = false;
        for (const std::string& line : logger.all)
            logged = logged || line.find("pointwise kernels (NVRTC)") != std::string::npos;
        EXPECT_TRUE(logged) << label << ": the builder logs its code generation";

        const size_t beforeLoad = cuda::nvrtcCompilationCount();
        auto engine = createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
        ASSERT_NE(engine, nullptr) << label;
        EXPECT_NE(engine->getLayerInformationJson().find("nvrtc"), std::string::npos)
            << label << ": " << engine->getLayerInformationJson();
        auto context = engine->createExecutionContext();
        ASSERT_NE(context, nullptr) << label;
        if (dynamic) ASSERT_TRUE(context->setInputShape("x", Dims{batch, 8, 4, 6})) << label;
        Tensor out = Tensor::allocate(DataType::kFLOAT, shape);
        DeviceBuffer inBuffer(*mBackend, x.byteSize()), outBuffer(*mBackend, out.byteSize());
        ASSERT_TRUE(mBackend->copyToDevice(inBuffer.get(), x.data(), x.byteSize(), mStream).isOk());
        ASSERT_TRUE(context->setTensorAddress("x", inBuffer.get()));
        ASSERT_TRUE(context->setTensorAddress("y", outBuffer.get()));
        ASSERT_TRUE(context->enqueue(mStream)) << label;
        ASSERT_TRUE(mBackend->copyToHost(out.data(), outBuffer.get(), out.byteSize(), mStream).isOk());
        ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
        EXPECT_EQ(cuda::nvrtcCompilationCount(), beforeLoad) << label << ": loading and running the engine compiled code";

        std::vector<double> reference(static_cast<size_t>(x.elementCount()));
        const int64_t inner = shape[2] * shape[3];
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            const double v = x.data<float>()[i];
            const double z = v * s.data<float>()[0] + b.data<float>()[(i / inner) % shape[1]];
            reference[static_cast<size_t>(i)] = v / (1.0 + std::exp(-z));
        }
        EXPECT_EQ(test::compareWithReference(out, reference, 1e-5, 1e-6), "") << label;
    }
}
#endif

}  // namespace
}  // namespace kiln::cudatest
