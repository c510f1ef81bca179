// The CUDA kernels a transformer encoder runs, against the CPU backend on random data: LayerNormalization,
// Attention (additive and bool masks, causal, grouped-query heads, 3-D and 4-D layouts), the ReduceX
// ops over any axes, kiln::FusedMatMul (cuBLASLt bias/ReLU epilogues and the GELU pass; checked against
// the CPU MatMul followed by the epilogue computed here in double), and the unary / binary ops added
// for them (Erf Gelu Pow Log Reciprocal Floor Ceil Max Min).

#include <gtest/gtest.h>

#include <cmath>

#include "backends/precision_attributes.h"
#include "cuda_test_support.h"

namespace kiln::cudatest {
namespace {

using CudaTransformerOpsTest = CudaTest;

TEST_F(CudaTransformerOpsTest, LayerNormalizationMatchesCpu) {
    uint32_t seed = 1;
    struct Case {
        Shape shape;
        int64_t axis;
        bool bias;
    };
    for (const Case& c : std::vector<Case>{{{2, 16, 768}, -1, true}, {{3, 5, 7}, 1, true}, {{4, 33}, -1, false},
                                           {{1, 1, 4096}, 2, true}}) {
        // A mean far from zero: the two-pass variance must not lose it.
        Tensor x = test::randomTensor(DataType::kFLOAT, c.shape, 2.0, 6.0, seed++);
        Shape normalized(c.shape.begin() + (c.axis < 0 ? c.axis + static_cast<int64_t>(c.shape.size()) : c.axis),
                         c.shape.end());
        Tensor scale = test::randomTensor(DataType::kFLOAT, normalized, 0.5, 1.5, seed++);
        Tensor bias = test::randomTensor(DataType::kFLOAT, normalized, -1.0, 1.0, seed++);
        AttributeMap attrs;
        attrs.set("axis", c.axis);
        attrs.set("epsilon", 1e-5f);
        std::vector<const Tensor*> inputs = {&x, &scale};
        if (c.bias) inputs.push_back(&bias);
        expectMatchesCpu(*mBackend, mStream, "LayerNormalization", inputs, attrs, 1e-4, 1e-5,
                         "LayerNormalization " + shapeLabel(c.shape));
    }
}

TEST_F(CudaTransformerOpsTest, AttentionMatchesCpu) {
    uint32_t seed = 100;
    struct Case {
        Shape q, k, v;
        Shape mask;  // empty: none
        DataType maskType;
        bool causal;
        int64_t qHeads, kvHeads;  // for 3-D inputs
    };
    const std::vector<Case> cases = {
        {{2, 12, 16, 64}, {2, 12, 16, 64}, {2, 12, 16, 64}, {2, 1, 1, 16}, DataType::kFLOAT, false, 0, 0},  // BERT
        {{1, 4, 7, 32}, {1, 4, 9, 32}, {1, 4, 9, 16}, {}, DataType::kFLOAT, true, 0, 0},
        {{2, 8, 5, 16}, {2, 2, 5, 16}, {2, 2, 5, 16}, {5, 5}, DataType::kBOOL, false, 0, 0},  // grouped query
        {{2, 6, 24}, {2, 6, 24}, {2, 6, 24}, {}, DataType::kFLOAT, false, 3, 3},               // 3-D packed
        {{1, 2, 300, 64}, {1, 2, 300, 64}, {1, 2, 300, 64}, {1, 2, 300, 300}, DataType::kFLOAT, false, 0, 0},
    };
    for (const Case& c : cases) {
        Tensor q = test::randomTensor(DataType::kFLOAT, c.q, -1.0, 1.0, seed++);
        Tensor k = test::randomTensor(DataType::kFLOAT, c.k, -1.0, 1.0, seed++);
        Tensor v = test::randomTensor(DataType::kFLOAT, c.v, -1.0, 1.0, seed++);
        Tensor mask = c.maskType == DataType::kBOOL ? test::randomTensor(DataType::kBOOL, c.mask, 0.0, 1.0, seed++)
                                                    : test::randomTensor(DataType::kFLOAT, c.mask, -3.0, 0.0, seed++);
        if (c.maskType == DataType::kBOOL)  // keep the diagonal, so no row is masked everywhere
            for (int64_t i = 0; i < c.mask[0]; ++i) mask.data<bool>()[i * c.mask[1] + i] = true;
        AttributeMap attrs;
        if (c.causal) attrs.set("is_causal", int64_t{1});
        if (c.qHeads) {
            attrs.set("q_num_heads", c.qHeads);
            attrs.set("kv_num_heads", c.kvHeads);
        }
        std::vector<const Tensor*> inputs = {&q, &k, &v};
        if (!c.mask.empty()) inputs.push_back(&mask);
        expectMatchesCpu(*mBackend, mStream, "Attention", inputs, attrs, 1e-4, 1e-5,
                         "Attention Q " + shapeLabel(c.q) + " K " + shapeLabel(c.k) + (c.causal ? " causal" : ""));
    }
}

TEST_F(CudaTransformerOpsTest, ReductionsMatchCpu) {
    uint32_t seed = 200;
    const std::vector<std::pair<std::vector<int64_t>, int64_t>> axesCases = {
        {{-1}, 1}, {{1}, 0}, {{0, 2}, 1}, {{}, 0}, {{1, 3}, 1}};
    for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceSumSquare", "ReduceL1",
                           "ReduceL2", "ReduceLogSumExp"}) {
        for (const auto& [axes, keepdims] : axesCases) {
            Tensor x = test::randomTensor(DataType::kFLOAT, {3, 4, 5, 6}, -2.0, 2.0, seed++);
            AttributeMap attrs;
            attrs.set("keepdims", keepdims);
            // Opset 18 form: the axes as an input.
            Tensor axesTensor = Tensor::fromInt64(axes, {static_cast<int64_t>(axes.size())});
            std::vector<const Tensor*> inputs = {&x};
            if (!axes.empty()) inputs.push_back(&axesTensor);
            expectMatchesCpu(*mBackend, mStream, op, inputs, attrs, 1e-5, 1e-6,
                             std::string(op) + " over " + std::to_string(axes.size()) + " axes");
        }
    }
}

TEST_F(CudaTransformerOpsTest, FusedMatMulMatchesMatMulThenEpilogue) {
    uint32_t seed = 300;
    struct Case {
        Shape a, b;
        const char* activation;
        bool bias;
    };
    const std::vector<Case> cases = {
        {{2, 16, 768}, {768, 2304}, nullptr, true},  // BERT's fused QKV projection
        {{2, 16, 768}, {768, 3072}, "Gelu", true},   // BERT's intermediate
        {{5, 64}, {64, 48}, "Relu", true},
        {{3, 7, 32}, {32, 24}, "Relu", false},
        {{4, 3, 10}, {4, 10, 8}, "Tanh", true},      // batched B
    };
    for (bool allowTf32 : {false, true}) {
        for (const Case& c : cases) {
            Tensor a = test::randomTensor(DataType::kFLOAT, c.a, -1.0, 1.0, seed++);
            Tensor b = test::randomTensor(DataType::kFLOAT, c.b, -1.0, 1.0, seed++);
            Tensor bias = test::randomTensor(DataType::kFLOAT, {c.b.back()}, -1.0, 1.0, seed++);
            std::vector<Tensor> product = cpuReference("MatMul", {&a, &b}, 1, {});
            ASSERT_EQ(product.size(), 1u);
            std::vector<double> reference = product[0].toDoubleVector();
            const int64_t n = c.b.back();
            const std::string activation = c.activation ? c.activation : "";
            for (size_t i = 0; i < reference.size(); ++i) {
                double v = reference[i] + (c.bias ? bias.elementAsDouble(static_cast<int64_t>(i) % n) : 0.0);
                if (activation == "Relu") v = std::max(v, 0.0);
                if (activation == "Gelu") v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
                if (activation == "Tanh") v = std::tanh(v);
                reference[i] = v;
            }
            AttributeMap attrs;
            if (c.activation) attrs.set("activation", activation);
            if (!allowTf32) attrs.set(kAllowTf32Attribute, int64_t{0});
            std::vector<const Tensor*> inputs = {&a, &b};
            if (c.bias) inputs.push_back(&bias);
            auto gpu = runOnCuda(*mBackend, mStream, "FusedMatMul", inputs, {DataType::kFLOAT}, {product[0].shape()},
                                 attrs, "kiln");
            const std::string label = "FusedMatMul A " + shapeLabel(c.a) + " B " + shapeLabel(c.b) + " " + activation +
                                      (c.bias ? " +bias" : "") + (allowTf32 ? " tf32" : " fp32");
            ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
            const double k = static_cast<double>(c.a.back());
            const double tol = (allowTf32 ? 2e-3 : 2e-5) * std::sqrt(k);
            EXPECT_EQ(test::compareWithReference(gpu->outputs[0], reference, tol, tol), "")
                << label << " (tactic " << gpu->tactic << ")";
        }
    }
}

TEST_F(CudaTransformerOpsTest, AddedElementwiseOpsMatchCpu) {
    uint32_t seed = 400;
    struct Unary {
        const char* op;
        double lo, hi;
    };
    for (const Unary& u : std::vector<Unary>{{"Erf", -3, 3}, {"Gelu", -4, 4}, {"Log", 0.1, 10}, {"Reciprocal", 0.5, 4},
                                             {"Floor", -5, 5}, {"Ceil", -5, 5}}) {
        for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
            Tensor x = test::randomTensor(type, {7, 129}, u.lo, u.hi, seed++);
            const double tol = type == DataType::kHALF ? 1e-2 : 1e-5;
            expectMatchesCpu(*mBackend, mStream, u.op, {&x}, {}, tol, tol * 0.1,
                             std::string(u.op) + " " + dataTypeName(type));
        }
    }
    Tensor g = test::randomTensor(DataType::kFLOAT, {5, 33}, -4.0, 4.0, seed++);
    AttributeMap tanhGelu;
    tanhGelu.set("approximate", std::string("tanh"));
    expectMatchesCpu(*mBackend, mStream, "Gelu", {&g}, tanhGelu, 1e-5, 1e-6, "Gelu tanh");
    for (const char* op : {"Pow", "Max", "Min"}) {
        Tensor a = test::randomTensor(DataType::kFLOAT, {4, 1, 6}, 0.5, 3.0, seed++);
        Tensor b = test::randomTensor(DataType::kFLOAT, {5, 1}, -2.0, 2.0, seed++);
        expectMatchesCpu(*mBackend, mStream, op, {&a, &b}, {}, 1e-5, 1e-6, std::string(op) + " broadcast");
    }
}

}  // namespace
}  // namespace kiln::cudatest
