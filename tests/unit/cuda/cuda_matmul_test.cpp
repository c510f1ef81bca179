// The cuBLASLt MatMul and Gemm kernels against the CPU backend's: every batching mode (stacked into M,
// strided, broadcast operand, one product per batch), 1-D operands, empty and K = 0 products, odd
// extents that lower the pointer alignment, and Gemm's transposes, alpha, beta and broadcast C.
// FusedMatMul's separate bias + activation pass (fused_epilogue.cu) on its vectorized and one-element
// paths against a double reference, and its residual Z on the cuBLASLt (C, beta = 1) and pass paths.

#include <gtest/gtest.h>

#include <cmath>

#include "backends/precision_attributes.h"
#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaMatMulTest = CudaTest;

// Inputs lie in [-1, 1]. Two summation orders of K products differ by rounding that grows like
// sqrt(K) (random-walk), so the absolute tolerance is scaled by it. float16 results are rounded to half
// once (2^-11 relative) after FP32 accumulation; the reference is the float product of the same halves.
struct Tolerance {
    double rtol;
    double atol;
};
Tolerance gemmTolerance(DataType type, int64_t k) {
    const double scale = std::sqrt(static_cast<double>(std::max<int64_t>(k, 1)));
    return type == DataType::kHALF ? Tolerance{1e-2, 1e-3 * scale} : Tolerance{1e-4, 1e-4 * scale};
}

/// The attributes of a product held to FP32 math (these tests check FP32 accuracy; TF32, the builder's
/// default, is checked by the FusedMatMul test of cuda_transformer_ops_test.cpp).
AttributeMap fp32Math(AttributeMap attrs = {}) {
    attrs.set(kAllowTf32Attribute, int64_t{0});
    return attrs;
}

TEST_F(CudaMatMulTest, MatMulMatchesCpuInEveryBatchingMode) {
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{5, 7}, {7, 3}},                  // plain
        {{1, 1}, {1, 1}},                  // 1x1x1
        {{64, 128}, {128, 96}},            // aligned
        {{3, 5, 7}, {7, 4}},               // batched A, one B: stacked into M
        {{3, 5, 7}, {3, 7, 4}},            // strided batch
        {{5, 7}, {3, 7, 4}},               // one A for every batch (stride 0)
        {{2, 1, 5, 7}, {1, 3, 7, 4}},      // mixed broadcast: one product per batch
        {{1, 3, 5, 7}, {2, 1, 7, 4}},      // mixed broadcast, the other way
        {{7}, {7, 4}},                     // 1-D A
        {{3, 5, 7}, {7}},                  // 1-D B
        {{7}, {7}},                        // dot product: scalar output
        {{2, 0, 7}, {7, 4}},               // M = 0
        {{5, 0}, {0, 4}},                  // K = 0: zeros
        {{4, 5, 9}, {9, 6}},               // odd extents: rows not 16-byte aligned
        {{2, 3, 33, 65}, {2, 3, 65, 17}},  // odd extents, strided
        {{3, 1, 257}, {257, 130}},         // M = 1, long K
    };
    uint32_t seed = 700;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const auto& [shapeA, shapeB] : cases) {
            Tensor a = test::randomTensor(type, shapeA, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(type, shapeB, -1.0, 1.0, seed++);
            Tolerance tol = gemmTolerance(type, shapeA.back());
            expectMatchesCpu(
                *mBackend, mStream, "MatMul", {&a, &b}, fp32Math(), tol.rtol, tol.atol,
                std::string("MatMul ") + dataTypeName(type) + " " + shapeLabel(shapeA) + " x " + shapeLabel(shapeB));
        }
    }
}

TEST_F(CudaMatMulTest, MatMulOnRandomShapesMatchesCpu) {
    std::mt19937 rng(4242);
    std::uniform_int_distribution<int64_t> dim(1, 40);
    std::uniform_int_distribution<int> batchRank(0, 2);
    std::bernoulli_distribution coin(0.4);
    uint32_t seed = 900;
    for (int i = 0; i < 16; ++i) {
        const int64_t m = dim(rng), k = dim(rng), n = dim(rng);
        Shape batch(static_cast<size_t>(batchRank(rng)));
        for (int64_t& d : batch) d = dim(rng) % 4 + 1;
        Shape shapeA = batch, shapeB = batch;
        for (int64_t& d : shapeA)
            if (coin(rng)) d = 1;
        for (int64_t& d : shapeB)
            if (coin(rng)) d = 1;
        shapeA.insert(shapeA.end(), {m, k});
        shapeB.insert(shapeB.end(), {k, n});
        const DataType type = i % 2 ? DataType::kHALF : DataType::kFLOAT;
        Tensor a = test::randomTensor(type, shapeA, -1.0, 1.0, seed++);
        Tensor b = test::randomTensor(type, shapeB, -1.0, 1.0, seed++);
        Tolerance tol = gemmTolerance(type, k);
        expectMatchesCpu(
            *mBackend, mStream, "MatMul", {&a, &b}, fp32Math(), tol.rtol, tol.atol,
            std::string("MatMul ") + dataTypeName(type) + " " + shapeLabel(shapeA) + " x " + shapeLabel(shapeB));
    }
}

TEST_F(CudaMatMulTest, GemmMatchesCpuWithTransposesScalesAndBroadcastC) {
    struct GemmCase {
        int64_t m, k, n;
        bool transA, transB;
        std::optional<Shape> c;  // nullopt: no C input
        float alpha, beta;
    };
    const std::vector<GemmCase> cases = {
        {5, 7, 3, false, false, std::nullopt, 1.f, 1.f},   {5, 7, 3, true, false, Shape{3}, 1.f, 1.f},
        {5, 7, 3, false, true, Shape{5, 1}, 0.5f, 2.f},    {5, 7, 3, true, true, Shape{5, 3}, 2.f, -1.f},
        {16, 64, 32, false, true, Shape{1, 32}, 1.f, 1.f}, {9, 33, 17, true, false, Shape{}, 1.f, 0.25f},  // scalar C
        {4, 6, 8, false, false, Shape{4, 8}, 1.f, 0.f},    // beta 0: C ignored
        {3, 0, 4, false, false, Shape{4}, 1.f, 1.f},       // K = 0: Y = C
        {3, 0, 4, false, false, std::nullopt, 1.f, 1.f},   // K = 0 without C: zeros
        {0, 5, 4, false, false, Shape{4}, 1.f, 1.f},       // M = 0
        {1, 300, 1, false, false, Shape{1}, 1.f, 1.f},     // a dot product
        {128, 256, 64, false, true, Shape{64}, 1.f, 1.f},  // a typical fully connected layer
    };
    uint32_t seed = 1100;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const GemmCase& c : cases) {
            Tensor a = test::randomTensor(type, c.transA ? Shape{c.k, c.m} : Shape{c.m, c.k}, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(type, c.transB ? Shape{c.n, c.k} : Shape{c.k, c.n}, -1.0, 1.0, seed++);
            std::optional<Tensor> bias;
            if (c.c) bias = test::randomTensor(type, *c.c, -1.0, 1.0, seed++);
            AttributeMap attrs;
            attrs.set("transA", int64_t{c.transA});
            attrs.set("transB", int64_t{c.transB});
            attrs.set("alpha", c.alpha);
            attrs.set("beta", c.beta);
            std::vector<const Tensor*> inputs{&a, &b};
            if (bias) inputs.push_back(&*bias);
            Tolerance tol = gemmTolerance(type, c.k);
            expectMatchesCpu(
                *mBackend, mStream, "Gemm", inputs, fp32Math(attrs), tol.rtol, tol.atol * std::max(1.f, std::fabs(c.alpha)),
                std::string("Gemm ") + dataTypeName(type) + " m" + std::to_string(c.m) + " k" + std::to_string(c.k) +
                    " n" + std::to_string(c.n) + " transA " + std::to_string(c.transA) + " transB " +
                    std::to_string(c.transB) + " C " + (c.c ? shapeLabel(*c.c) : "none"));
        }
    }
}

TEST_F(CudaMatMulTest, FusedMatMulEpiloguePassMatchesDoubleReferenceOnEveryPackWidth) {
    // GELU (erf) and Tanh are not cuBLASLt epilogues: the product is followed by the bias + activation
    // pass. N picks its width: 3072 and 776 take 16-byte packs, 770 (float16: pairs; float: pairs), 12
    // (float16: 4; float: 4), 769 and 7 one element at a time; a bias one element off its 16-byte
    // boundary takes the one-element kernel too.
    struct Case {
        int64_t m, k, n;
        const char* activation;
        bool misalignBias;
    };
    const std::vector<Case> cases = {
        {37, 64, 3072, "Gelu", false}, {5, 32, 776, "Gelu", false}, {9, 48, 770, "Gelu", false},
        {13, 16, 12, "Tanh", false},   {11, 40, 769, "Gelu", false}, {6, 8, 7, "Tanh", false},
        {7, 64, 3072, "Gelu", true},   {3, 16, 770, "Tanh", true},
    };
    uint32_t seed = 1500;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
        for (const Case& c : cases) {
            Tensor a = test::randomTensor(type, {c.m, c.k}, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(type, {c.k, c.n}, -1.0, 1.0, seed++);
            Tensor bias = test::randomTensor(type, {c.n}, -1.0, 1.0, seed++);
            const std::string activation = c.activation;
            std::vector<double> reference(static_cast<size_t>(c.m * c.n));
            for (int64_t i = 0; i < c.m; ++i)
                for (int64_t j = 0; j < c.n; ++j) {
                    double v = bias.elementAsDouble(j);
                    for (int64_t p = 0; p < c.k; ++p) v += a.elementAsDouble(i * c.k + p) * b.elementAsDouble(p * c.n + j);
                    v = activation == "Gelu" ? 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))) : std::tanh(v);
                    reference[static_cast<size_t>(i * c.n + j)] = v;
                }
            AttributeMap attrs = fp32Math();
            attrs.set("activation", activation);
            std::vector<size_t> offsets;
            if (c.misalignBias) offsets = {0, 0, dataTypeSize(type)};
            const std::string label = std::string("FusedMatMul ") + dataTypeName(type) + " m" + std::to_string(c.m) +
                                      " k" + std::to_string(c.k) + " n" + std::to_string(c.n) + " " + activation +
                                      (c.misalignBias ? " misaligned bias" : "");
            auto gpu = runOnCuda(*mBackend, mStream, "FusedMatMul", {&a, &b, &bias}, {type}, {Shape{c.m, c.n}}, attrs,
                                 "kiln", offsets);
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            EXPECT_NE(gpu->tactic.find("+epilogue"), std::string::npos) << label << ": tactic " << gpu->tactic;
            // The product is rounded to the type once before the pass and the result once after it.
            Tolerance tol = gemmTolerance(type, c.k);
            if (type == DataType::kBF16) tol = {3e-2, 1e-2 * std::sqrt(static_cast<double>(c.k))};
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, tol.rtol, tol.atol), "")
                << label << " (tactic " << gpu->tactic << ")";
        }
    }
}

TEST_F(CudaMatMulTest, FusedMatMulResidualMatchesReferenceOnBothEpiloguePaths) {
    // The residual Z is cuBLASLt's C (beta = 1) where cuBLASLt runs the whole epilogue (no activation, or
    // ReLU after a bias); otherwise (GELU, ReLU without a bias) the product stays plain and the bias +
    // residual + activation pass adds it. Every batching mode: stacked into M, strided, one per batch.
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{2, 5, 64}, {64, 48}}, {{2, 5, 64}, {2, 64, 48}}, {{2, 1, 5, 64}, {1, 3, 64, 48}}};
    uint32_t seed = 2100;
    for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        for (const auto& [shapeA, shapeB] : shapes) {
            for (const std::string activation : {"", "Relu", "Gelu"}) {
                for (bool withBias : {false, true}) {
                    Tensor a = test::randomTensor(type, shapeA, -1.0, 1.0, seed++);
                    Tensor b = test::randomTensor(type, shapeB, -1.0, 1.0, seed++);
                    Tensor bias = test::randomTensor(type, {shapeB.back()}, -1.0, 1.0, seed++);
                    // The product of the same (rounded) operands in float, then the epilogue in double.
                    std::vector<Tensor> floats;
                    std::vector<Tensor> product = cpuReference("MatMul", halfInputsAsFloat({&a, &b}, floats), 1, {});
                    ASSERT_EQ(product.size(), 1u);
                    const Shape& shapeY = product[0].shape();
                    Tensor z = test::randomTensor(type, shapeY, -2.0, 2.0, seed++);
                    std::vector<double> reference = product[0].toDoubleVector();
                    const int64_t n = shapeY.back();
                    for (size_t i = 0; i < reference.size(); ++i) {
                        double v = reference[i] + z.elementAsDouble(static_cast<int64_t>(i));
                        if (withBias) v += bias.elementAsDouble(static_cast<int64_t>(i) % n);
                        if (activation == "Relu") v = std::max(v, 0.0);
                        if (activation == "Gelu") v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
                        reference[i] = v;
                    }
                    AttributeMap attrs = fp32Math();
                    if (!activation.empty()) attrs.set("activation", activation);
                    const std::string label = std::string("FusedMatMul ") + dataTypeName(type) + " " +
                                              shapeLabel(shapeA) + " x " + shapeLabel(shapeB) + " activation '" +
                                              activation + "'" + (withBias ? " bias" : "") + " residual";
                    auto gpu = runOnCuda(*mBackend, mStream, "FusedMatMul", {&a, &b, withBias ? &bias : nullptr, &z},
                                         {type}, {shapeY}, attrs, "kiln");
                    ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
                    const bool inCublas = activation.empty() || (activation == "Relu" && withBias);
                    EXPECT_EQ(gpu->tactic.find("_residual") != std::string::npos, inCublas)
                        << label << ": tactic " << gpu->tactic;
                    EXPECT_EQ(gpu->tactic.find("+epilogue") != std::string::npos, !inCublas)
                        << label << ": tactic " << gpu->tactic;
                    const Tolerance tol = gemmTolerance(type, shapeA.back());
                    EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, tol.rtol, tol.atol), "")
                        << label << " (tactic " << gpu->tactic << ")";
                }
            }
        }
    }
}

TEST_F(CudaMatMulTest, FusedMatMulRefusesAResidualOfAnotherShape) {
    Tensor a = test::randomTensor(DataType::kFLOAT, {2, 5, 64}, -1.0, 1.0, 1);
    Tensor b = test::randomTensor(DataType::kFLOAT, {64, 48}, -1.0, 1.0, 2);
    Tensor z = test::randomTensor(DataType::kFLOAT, {10, 48}, -1.0, 1.0, 3);
    auto run = runOnCuda(*mBackend, mStream, "FusedMatMul", {&a, &b, nullptr, &z}, {DataType::kFLOAT},
                         {Shape{2, 5, 48}}, fp32Math(), "kiln");
    ASSERT_FALSE(run.isOk());
    EXPECT_NE(run.status().message().find("residual"), std::string::npos) << run.status().message();
}

TEST_F(CudaMatMulTest, MatMulRejectsMismatchedInnerDimensionsAtReshape) {
    Tensor a = test::randomTensor(DataType::kFLOAT, {2, 3}, -1.0, 1.0, 1);
    Tensor b = test::randomTensor(DataType::kFLOAT, {4, 5}, -1.0, 1.0, 2);
    auto run =
        runOnCuda(*mBackend, mStream, "MatMul", {&a, &b}, {DataType::kFLOAT}, std::vector<Shape>{Shape{2, 5}}, {});
    ASSERT_FALSE(run.isOk());
    EXPECT_NE(run.status().message().find("inner dimensions differ"), std::string::npos) << run.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
