// SwiGLU against a double-precision reference written from the ONNX definition
// (Y = A * sigmoid(alpha * A) * B), on random data of every float type, plus its shape rules.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

std::vector<double> swigluReference(const Tensor& a, const Tensor& b, double alpha) {
    std::vector<double> ref;
    for (int64_t i = 0; i < a.elementCount(); ++i) {
        const double x = a.elementAsDouble(i);
        ref.push_back(x / (1.0 + std::exp(-alpha * x)) * b.elementAsDouble(i));
    }
    return ref;
}

TEST(SwiGLUOp, MatchesReferenceForEveryFloatTypeAndAlpha) {
    struct Case {
        DataType type;
        double rtol, atol;
    };
    for (const Case& c : {Case{DataType::kFLOAT, 1e-5, 1e-6}, Case{DataType::kDOUBLE, 1e-12, 1e-12},
                          Case{DataType::kHALF, 2e-3, 1e-3}, Case{DataType::kBF16, 1e-2, 1e-2}})
        for (float alpha : {1.0f, 0.5f, -1.7f}) {
            Tensor a = randomTensor(c.type, {3, 5, 7}, -6, 6, 11);
            Tensor b = randomTensor(c.type, {3, 5, 7}, -3, 3, 12);
            AttributeMap attrs;
            if (alpha != 1.0f) attrs.set("alpha", alpha);
            SingleNodeRun run = runOp("SwiGLU", {&a, &b}, attrs);
            const std::string what = std::string(dataTypeName(c.type)) + " alpha " + std::to_string(alpha);
            ASSERT_TRUE(run.status) << what << ": " << run.status.message();
            ASSERT_EQ(run.outputs[0].dtype(), c.type) << what;
            ASSERT_EQ(run.outputs[0].shape(), (Shape{3, 5, 7})) << what;
            EXPECT_EQ(compareWithReference(run.outputs[0], swigluReference(a, b, double(alpha)), c.rtol, c.atol), "") << what;
        }
}

TEST(SwiGLUOp, LargeGatesSaturateWithoutOverflow) {
    Tensor a = Tensor::allocate(DataType::kFLOAT, {4});
    Tensor b = Tensor::allocate(DataType::kFLOAT, {4});
    const float gates[] = {-120.0f, -30.0f, 30.0f, 120.0f};
    for (int i = 0; i < 4; ++i) {
        a.data<float>()[i] = gates[i];
        b.data<float>()[i] = 2.0f;
    }
    SingleNodeRun run = runOp("SwiGLU", {&a, &b});
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(compareWithReference(run.outputs[0], swigluReference(a, b, 1.0), 1e-6, 1e-30), "");
}

TEST(SwiGLUOp, InfersTheSharedShapeAndRejectsBroadcasting) {
    InferResult same = inferOp("SwiGLU", {symbolic(DataType::kHALF, {Dim::named("n"), 8}), symbolic(DataType::kHALF, {Dim::unknown(), 8})});
    ASSERT_TRUE(same.status) << same.status.message();
    EXPECT_EQ(shapeString(same.outputs[0]), "(n, 8)");
    EXPECT_EQ(same.outputs[0].dtype, DataType::kHALF);

    InferResult broadcast = inferOp("SwiGLU", {symbolic(DataType::kFLOAT, {2, 8}), symbolic(DataType::kFLOAT, {1, 8})});
    ASSERT_FALSE(broadcast.status);
    EXPECT_NE(broadcast.status.message().find("does not broadcast"), std::string::npos) << broadcast.status.message();
    EXPECT_FALSE(inferOp("SwiGLU", {symbolic(DataType::kFLOAT, {8}), symbolic(DataType::kFLOAT, {2, 8})}).status);
    EXPECT_FALSE(inferOp("SwiGLU", {symbolic(DataType::kFLOAT, {8}), symbolic(DataType::kHALF, {8})}).status);
    EXPECT_FALSE(inferOp("SwiGLU", {symbolic(DataType::kINT32, {8}), symbolic(DataType::kINT32, {8})}).status);
}

}  // namespace
}  // namespace kiln::test
