// The CUDA RNN, GRU and LSTM against the CPU backend on random weights and inputs: every direction,
// both layouts, with and without biases, sequence_lens (int32 and int64), initial states and
// peepholes, clip, GRU's linear_before_reset, LSTM's input_forget, activation lists with alpha/beta,
// on float, double and float16; all three outputs compared.

#include <gtest/gtest.h>

#include <random>

#include "cuda_test_support.h"
#include "ir/onnx_types.h"

namespace kiln::cudatest {
namespace {

using CudaRecurrentTest = CudaTest;

struct RecurrentCase {
    std::string op;
    std::string direction;
    int64_t layout{0};
    bool bias{true};
    bool lengths{false};
    bool lengths64{true};
    bool initialState{false};
    bool peephole{false};
    std::optional<float> clip;
    int64_t linearBeforeReset{0};
    int64_t inputForget{0};
    std::vector<std::string> activations;  // one direction's list; repeated for bidirectional
    std::vector<float> alphas, betas;
};

int64_t gateCount(const std::string& op) {
    return op == "RNN" ? 1 : op == "GRU" ? 3 : 4;
}

void runCase(Backend& backend, Stream stream, const RecurrentCase& c, DataType type, uint32_t& seed) {
    std::mt19937 rng(seed);
    const int64_t seq = 5, batch = 3, input = 4, hidden = 6;
    const int64_t dirs = c.direction == "bidirectional" ? 2 : 1;
    const int64_t rows = gateCount(c.op) * hidden;
    const Shape xShape = c.layout == 0 ? Shape{seq, batch, input} : Shape{batch, seq, input};
    const Shape stateShape = c.layout == 0 ? Shape{dirs, batch, hidden} : Shape{batch, dirs, hidden};
    // Weights small enough to keep the gates out of saturation, where differences would hide.
    Tensor x = test::randomTensor(type, xShape, -1.0, 1.0, seed++);
    Tensor w = test::randomTensor(type, {dirs, rows, input}, -0.5, 0.5, seed++);
    Tensor r = test::randomTensor(type, {dirs, rows, hidden}, -0.5, 0.5, seed++);
    Tensor b = test::randomTensor(type, {dirs, 2 * rows}, -0.5, 0.5, seed++);
    std::vector<int64_t> lens;
    for (int64_t i = 0; i < batch; ++i) lens.push_back(std::uniform_int_distribution<int64_t>(1, seq)(rng));
    Tensor lengths = Tensor::fromInt64(lens, {batch});
    if (!c.lengths64) lengths = convertTensor(lengths, DataType::kINT32);
    Tensor h0 = test::randomTensor(type, stateShape, -1.0, 1.0, seed++);
    Tensor c0 = test::randomTensor(type, stateShape, -1.0, 1.0, seed++);
    Tensor p = test::randomTensor(type, {dirs, 3 * hidden}, -0.5, 0.5, seed++);

    std::vector<const Tensor*> inputs = {&x, &w, &r, c.bias ? &b : nullptr, c.lengths ? &lengths : nullptr,
                                         c.initialState ? &h0 : nullptr};
    if (c.op == "LSTM") {
        inputs.push_back(c.initialState ? &c0 : nullptr);
        inputs.push_back(c.peephole ? &p : nullptr);
    }
    while (!inputs.back()) inputs.pop_back();

    AttributeMap attrs;
    attrs.set("hidden_size", hidden);
    attrs.set("direction", c.direction);
    attrs.set("layout", c.layout);
    if (c.clip) attrs.set("clip", *c.clip);
    if (c.op == "GRU") attrs.set("linear_before_reset", c.linearBeforeReset);
    if (c.op == "LSTM") attrs.set("input_forget", c.inputForget);
    if (!c.activations.empty()) {
        std::vector<std::string> names;
        for (int64_t d = 0; d < dirs; ++d) names.insert(names.end(), c.activations.begin(), c.activations.end());
        attrs.set("activations", names);
        if (!c.alphas.empty()) attrs.set("activation_alpha", c.alphas);
        if (!c.betas.empty()) attrs.set("activation_beta", c.betas);
    }

    const size_t numOutputs = c.op == "LSTM" ? 3 : 2;
    std::vector<Tensor> converted;
    std::vector<const Tensor*> refInputs = halfInputsAsFloat(inputs, converted);
    const std::string label = c.op + " " + dataTypeName(type) + " " + c.direction + " layout " +
                              std::to_string(c.layout) + (c.bias ? " B" : "") + (c.lengths ? " lens" : "") +
                              (c.initialState ? " init" : "") + (c.peephole ? " P" : "") + (c.clip ? " clip" : "") +
                              (c.linearBeforeReset ? " lbr" : "") + (c.inputForget ? " input_forget" : "") +
                              (c.activations.empty() ? "" : " " + c.activations[0]);
    std::vector<Tensor> reference = cpuReference(c.op, refInputs, numOutputs, attrs);
    ASSERT_EQ(reference.size(), numOutputs) << label;
    std::vector<DataType> types(numOutputs, type);
    std::vector<Shape> shapes;
    for (const Tensor& t : reference) shapes.push_back(t.shape());
    auto gpu = runOnCuda(backend, stream, c.op, inputs, types, shapes, attrs);
    ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
    const double tol = type == DataType::kHALF ? 4e-3 : type == DataType::kDOUBLE ? 1e-10 : 2e-5;
    for (size_t i = 0; i < numOutputs; ++i)
        EXPECT_EQ(test::compareWithReference(gpu->outputs[i], reference[i].toDoubleVector(), tol, tol), "")
            << label << " output " << i << " (tactic " << gpu->tactic << ")";
}

std::vector<RecurrentCase> casesFor(const std::string& op) {
    std::vector<RecurrentCase> cases;
    for (const char* direction : {"forward", "reverse", "bidirectional"})
        for (int64_t layout : {0, 1}) {
            RecurrentCase c;
            c.op = op;
            c.direction = direction;
            c.layout = layout;
            cases.push_back(c);
            c.lengths = true;
            c.initialState = true;
            c.peephole = op == "LSTM";
            c.linearBeforeReset = op == "GRU" ? 1 : 0;
            cases.push_back(c);
            c.bias = false;
            c.lengths64 = false;
            c.linearBeforeReset = 0;
            c.clip = 0.7f;
            cases.push_back(c);
        }
    RecurrentCase custom;
    custom.op = op;
    custom.direction = "bidirectional";
    custom.lengths = true;
    if (op == "RNN") {
        custom.activations = {"LeakyRelu"};
        custom.alphas = {0.2f, 0.3f};
    } else if (op == "GRU") {
        custom.activations = {"HardSigmoid", "ScaledTanh"};
        custom.alphas = {0.3f, 1.5f, 0.25f, 0.8f};
        custom.betas = {0.4f, 0.7f, 0.6f, 1.1f};
    } else {
        custom.activations = {"HardSigmoid", "Softsign", "Elu"};
        custom.alphas = {0.3f, 0.9f, 0.2f, 1.1f};
        custom.betas = {0.5f, 0.45f};
        custom.inputForget = 1;
        custom.peephole = true;
    }
    cases.push_back(custom);
    return cases;
}

TEST_F(CudaRecurrentTest, RnnMatchesCpu) {
    uint32_t seed = 1000;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF})
        for (const RecurrentCase& c : casesFor("RNN")) runCase(*mBackend, mStream, c, type, seed);
}

TEST_F(CudaRecurrentTest, GruMatchesCpu) {
    uint32_t seed = 2000;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF})
        for (const RecurrentCase& c : casesFor("GRU")) runCase(*mBackend, mStream, c, type, seed);
}

TEST_F(CudaRecurrentTest, LstmMatchesCpu) {
    uint32_t seed = 3000;
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF})
        for (const RecurrentCase& c : casesFor("LSTM")) runCase(*mBackend, mStream, c, type, seed);
}

TEST_F(CudaRecurrentTest, OtherActivationsMatchCpu) {
    uint32_t seed = 4000;
    for (const char* f : {"Relu", "Tanh", "Sigmoid", "Affine", "ThresholdedRelu", "Softplus", "Softsign"}) {
        RecurrentCase c;
        c.op = "RNN";
        c.direction = "forward";
        c.activations = {f};
        if (std::string(f) == "Affine") {
            c.alphas = {0.5f};
            c.betas = {0.1f};
        }
        if (std::string(f) == "ThresholdedRelu") c.alphas = {0.1f};
        runCase(*mBackend, mStream, c, DataType::kFLOAT, seed);
    }
}

TEST_F(CudaRecurrentTest, RefusesAWrongWeightShape) {
    Tensor x = test::randomTensor(DataType::kFLOAT, {2, 1, 3}, -1.0, 1.0, 1);
    Tensor w = test::randomTensor(DataType::kFLOAT, {1, 4, 2}, -1.0, 1.0, 2);  // input size 2, X has 3
    Tensor r = test::randomTensor(DataType::kFLOAT, {1, 4, 4}, -1.0, 1.0, 3);
    AttributeMap attrs;
    attrs.set("hidden_size", int64_t{4});
    auto gpu = runOnCuda(*mBackend, mStream, "RNN", {&x, &w, &r}, {DataType::kFLOAT}, {Shape{2, 1, 1, 4}}, attrs);
    ASSERT_FALSE(gpu.isOk());
    EXPECT_NE(gpu.status().message().find("do not fit"), std::string::npos) << gpu.status().message();
}

}  // namespace
}  // namespace kiln::cudatest
