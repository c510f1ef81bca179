// kiln::FusedPointwise on the GPU against the CPU backend: every instruction alone (its reference is
// the unfused ONNX op on the CPU) with a broadcast second operand, and a multi-instruction program with
// shared inputs, a scalar and a per-channel operand.

#include <gtest/gtest.h>

#include <limits>

#include "cuda_test_support.h"
#include "ir/pointwise_program.h"

namespace kiln::cudatest {
namespace {

using CudaFusedPointwiseTest = CudaTest;

AttributeMap programAttributes(const PointwiseProgram& program) {
    Graph g;
    std::vector<Value*> ins;
    for (size_t i = 0; i < program.numInputs; ++i) ins.push_back(g.addInput("in" + std::to_string(i), DataType::kFLOAT, {}));
    Node* node = g.addNode("FusedPointwise", "fused", ins, {"y"}, 1);
    program.writeTo(*node);
    return node->attrs;
}

Expected<Tensor> runProgram(Backend& backend, Stream stream, const PointwiseProgram& program,
                            const std::vector<const Tensor*>& inputs, const Shape& outShape) {
    KILN_ASSIGN_OR_RETURN(CudaRun run, runOnCuda(backend, stream, "FusedPointwise", inputs, {DataType::kFLOAT},
                                                 {outShape}, programAttributes(program), "kiln"));
    return run.outputs[0];
}

TEST_F(CudaFusedPointwiseTest, EveryInstructionMatchesItsUnfusedCpuOp) {
    const Shape shape = {2, 3, 5, 7};
    Tensor x = test::randomTensor(DataType::kFLOAT, shape, -3, 3, 1);
    Tensor y = test::randomTensor(DataType::kFLOAT, {3, 1, 7}, 0.5, 2, 2);  // broadcast, positive (Pow, Div)
    Tensor positive = test::randomTensor(DataType::kFLOAT, shape, 0.1, 4, 3);  // Log, Sqrt
    struct Case {
        PointwiseOp op;
        const char* onnx;
        AttributeMap attrs;
        float alpha{0.f}, beta{0.f};
    };
    AttributeMap none, leaky, elu, hard, geluTanh;
    leaky.set("alpha", 0.3f);
    elu.set("alpha", 0.7f);
    hard.set("alpha", 0.25f);
    hard.set("beta", 0.4f);
    geluTanh.set("approximate", std::string("tanh"));
    std::vector<Case> cases = {
        {PointwiseOp::kRelu, "Relu", none}, {PointwiseOp::kLeakyRelu, "LeakyRelu", leaky, 0.3f},
        {PointwiseOp::kElu, "Elu", elu, 0.7f}, {PointwiseOp::kSigmoid, "Sigmoid", none},
        {PointwiseOp::kHardSigmoid, "HardSigmoid", hard, 0.25f, 0.4f}, {PointwiseOp::kHardSwish, "HardSwish", none},
        {PointwiseOp::kTanh, "Tanh", none}, {PointwiseOp::kSoftplus, "Softplus", none},
        {PointwiseOp::kGeluErf, "Gelu", none}, {PointwiseOp::kGeluTanh, "Gelu", geluTanh},
        {PointwiseOp::kExp, "Exp", none}, {PointwiseOp::kLog, "Log", none}, {PointwiseOp::kSqrt, "Sqrt", none},
        {PointwiseOp::kReciprocal, "Reciprocal", none}, {PointwiseOp::kAbs, "Abs", none},
        {PointwiseOp::kNeg, "Neg", none}, {PointwiseOp::kErf, "Erf", none}, {PointwiseOp::kFloor, "Floor", none},
        {PointwiseOp::kCeil, "Ceil", none}, {PointwiseOp::kAdd, "Add", none}, {PointwiseOp::kSub, "Sub", none},
        {PointwiseOp::kMul, "Mul", none}, {PointwiseOp::kDiv, "Div", none}, {PointwiseOp::kPow, "Pow", none},
        {PointwiseOp::kMax, "Max", none}, {PointwiseOp::kMin, "Min", none}, {PointwiseOp::kPRelu, "PRelu", none},
    };
    for (const Case& c : cases) {
        bool binary = pointwiseArity(c.op) == 2;
        bool needsPositive = c.op == PointwiseOp::kLog || c.op == PointwiseOp::kSqrt || c.op == PointwiseOp::kPow;
        const Tensor* first = needsPositive ? &positive : &x;
        std::vector<const Tensor*> inputs = {first};
        if (binary) inputs.push_back(&y);
        PointwiseProgram program;
        program.numInputs = inputs.size();
        program.code.push_back({c.op, 0, binary ? 1 : -1, c.alpha, c.beta});
        std::vector<Tensor> reference = cpuReference(c.onnx, inputs, 1, c.attrs);
        ASSERT_EQ(reference.size(), 1u) << c.onnx;
        auto gpu = runProgram(*mBackend, mStream, program, inputs, shape);
        ASSERT_TRUE(gpu.isOk()) << c.onnx << ": " << gpu.status().message();
        EXPECT_EQ(test::compareWithReference(*gpu, reference[0].toDoubleVector(), 1e-5, 1e-6), "") << c.onnx;
    }
    // Clip's bounds live in the instruction.
    Tensor lo = Tensor::scalarFloat(-0.5f), hi = Tensor::scalarFloat(1.25f);
    std::vector<Tensor> clipped = cpuReference("Clip", {&x, &lo, &hi}, 1, none);
    PointwiseProgram clip;
    clip.numInputs = 1;
    clip.code.push_back({PointwiseOp::kClip, 0, -1, -0.5f, 1.25f});
    auto gpu = runProgram(*mBackend, mStream, clip, {&x}, shape);
    ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
    EXPECT_EQ(test::compareWithReference(*gpu, clipped[0].toDoubleVector(), 0, 0), "");
}

TEST_F(CudaFusedPointwiseTest, AProgramWithSharedAndBroadcastInputsMatchesTheCpuChain) {
    // out = x * sigmoid(x * s + b): x read twice, s a scalar, b per channel.
    const Shape shape = {4, 16, 9, 11};
    Tensor x = test::randomTensor(DataType::kFLOAT, shape, -4, 4, 10);
    Tensor s = Tensor::scalarFloat(0.75f);
    Tensor b = test::randomTensor(DataType::kFLOAT, {16, 1, 1}, -1, 1, 11);
    PointwiseProgram program;
    program.numInputs = 3;
    program.code = {{PointwiseOp::kMul, 0, 1}, {PointwiseOp::kAdd, 3, 2}, {PointwiseOp::kSigmoid, 4, -1},
                    {PointwiseOp::kMul, 0, 5}};
    AttributeMap none;
    Tensor scaled = cpuReference("Mul", {&x, &s}, 1, none)[0];
    Tensor shifted = cpuReference("Add", {&scaled, &b}, 1, none)[0];
    Tensor gate = cpuReference("Sigmoid", {&shifted}, 1, none)[0];
    Tensor expected = cpuReference("Mul", {&x, &gate}, 1, none)[0];
    auto gpu = runProgram(*mBackend, mStream, program, {&x, &s, &b}, shape);
    ASSERT_TRUE(gpu.isOk()) << gpu.status().message();
    EXPECT_EQ(test::compareWithReference(*gpu, expected.toDoubleVector(), 1e-5, 1e-6), "");
}

}  // namespace
}  // namespace kiln::cudatest
