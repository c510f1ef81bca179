// kiln::FusedMatMul on the CPU backend against a double reference: act(MatMul(A, B) + bias + Z) with and
// without the bias and the residual Z, batched A; and the residual's shape and type checks.

#include "matmul_test_util.h"

namespace kiln::test {
namespace {

/// act(A B + bias + Z) in double, A [..., m, k] (batches stacked), B [k, n].
std::vector<double> fusedReference(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor* z,
                                   const std::string& activation) {
    const int64_t k = a.shape().back(), n = b.shape()[1], rows = a.elementCount() / k;
    std::vector<double> out(static_cast<size_t>(rows * n));
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double v = 0;
            for (int64_t p = 0; p < k; ++p) v += a.elementAsDouble(i * k + p) * b.elementAsDouble(p * n + j);
            if (bias) v += bias->elementAsDouble(j);
            if (z) v += z->elementAsDouble(i * n + j);
            if (activation == "Relu") v = std::max(v, 0.0);
            if (activation == "Gelu") v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
            out[static_cast<size_t>(i * n + j)] = v;
        }
    return out;
}

TEST(FusedMatMulCpu, ResidualMatchesDoubleReferenceWithAndWithoutBias) {
    uint32_t seed = 900;
    for (const std::string activation : {"", "Relu", "Gelu"}) {
        for (bool withBias : {false, true}) {
            for (bool withResidual : {false, true}) {
                const Shape shapeA{2, 5, 64}, shapeY{2, 5, 48};
                Tensor a = randomTensor(DataType::kFLOAT, shapeA, -1.0, 1.0, seed++);
                Tensor b = randomTensor(DataType::kFLOAT, {64, 48}, -1.0, 1.0, seed++);
                Tensor bias = randomTensor(DataType::kFLOAT, {48}, -1.0, 1.0, seed++);
                Tensor z = randomTensor(DataType::kFLOAT, shapeY, -2.0, 2.0, seed++);
                AttributeMap attrs;
                if (!activation.empty()) attrs.set("activation", activation);
                std::vector<const Tensor*> inputs = {&a, &b, withBias ? &bias : nullptr};
                if (withResidual) inputs.push_back(&z);
                const std::string label = "activation '" + activation + "'" + (withBias ? " bias" : "") +
                                          (withResidual ? " residual" : "");
                SingleNodeRun run = runSingleNode("FusedMatMul", inputs, 1, attrs, "kiln");
                ASSERT_TRUE(run.status.isOk()) << label << ": " << run.status.message();
                expectClose(run.outputs[0], DataType::kFLOAT, shapeY,
                            fusedReference(a, b, withBias ? &bias : nullptr, withResidual ? &z : nullptr, activation),
                            tolFor(DataType::kFLOAT, 64), label);
            }
        }
    }
}

TEST(FusedMatMulCpu, ResidualOfAnotherShapeOrTypeIsRefused) {
    Tensor a = randomTensor(DataType::kFLOAT, {2, 5, 64}, -1.0, 1.0, 1);
    Tensor b = randomTensor(DataType::kFLOAT, {64, 48}, -1.0, 1.0, 2);
    Tensor broadcast = randomTensor(DataType::kFLOAT, {5, 48}, -1.0, 1.0, 3);
    Tensor wrongExtent = randomTensor(DataType::kFLOAT, {2, 5, 47}, -1.0, 1.0, 4);
    Tensor half = randomTensor(DataType::kHALF, {2, 5, 48}, -1.0, 1.0, 5);
    for (const Tensor* z : {&broadcast, &wrongExtent, &half}) {
        SingleNodeRun run = runSingleNode("FusedMatMul", {&a, &b, nullptr, z}, 1, {}, "kiln");
        EXPECT_FALSE(run.status.isOk()) << "Z " << shapeToString(z->shape(), true);
        EXPECT_NE(run.status.message().find("residual"), std::string::npos) << run.status.message();
    }
}

}  // namespace
}  // namespace kiln::test
