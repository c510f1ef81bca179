// If, Loop and Scan on the CUDA backend against the CPU backend: bodies built by hand that capture
// outer values, on random data, over several trip counts (for-, while- and for-while forms, none at
// all), scan axes (negative ones included) and directions, loop-carried values with scan outputs.
// One Loop body slices with its iteration number, so the body's shapes need a value computed on
// the device (read back by the subgraph executor). The support checks run without a GPU where the
// backend library is built.

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <random>

#include "backends/cuda/cuda_kernel_registry.h"
#include "cuda_test_support.h"
#include "ir/control_flow.h"
#include "ir/shape_inference.h"

namespace kiln::cudatest {
namespace {

Value* constantInts(Graph& g, const std::string& name, const std::vector<int64_t>& values) {
    return g.addConstant(name, Tensor::fromInt64(values, {static_cast<int64_t>(values.size())}));
}

Tensor boolScalar(bool value) {
    Tensor t = Tensor::allocate(DataType::kBOOL, {});
    t.data<bool>()[0] = value;
    return t;
}

std::shared_ptr<Graph> finish(std::shared_ptr<Graph> g) {
    Status s = inferGraphShapes(*g, ShapeInferenceOptions{});
    EXPECT_TRUE(s) << s.message();
    return g;
}

/// If branch: outputs (x + y, relu(y)) when `then`, else ((x - y) * x, |y|); x and y are captured.
std::shared_ptr<Graph> ifBranch(bool then, const Shape& shape) {
    auto g = std::make_shared<Graph>();
    g->name = then ? "then" : "else";
    Value* x = g->addInput("x", DataType::kFLOAT, fromConcrete(shape));
    Value* y = g->addInput("y", DataType::kFLOAT, fromConcrete(shape));
    if (then) {
        g->markOutput(g->addNode("Add", "add", {x, y}, {"sum"})->outputs[0]);
        g->markOutput(g->addNode("Relu", "relu", {y}, {"relu"})->outputs[0]);
    } else {
        Value* diff = g->addNode("Sub", "sub", {x, y}, {"diff"})->outputs[0];
        g->markOutput(g->addNode("Mul", "mul", {diff, x}, {"prod"})->outputs[0]);
        g->markOutput(g->addNode("Abs", "abs", {y}, {"abs"})->outputs[0]);
    }
    return finish(g);
}

/// Loop body: v' = v * w + w; cond' = max(v') < limit; emits |v'|. w and limit are captured.
std::shared_ptr<Graph> growingBody(const Shape& shape) {
    auto g = std::make_shared<Graph>();
    g->name = "grow";
    g->addInput("i", DataType::kINT64, {});
    g->addInput("cond_in", DataType::kBOOL, {});
    Value* v = g->addInput("v", DataType::kFLOAT, fromConcrete(shape));
    Value* w = g->addInput("w", DataType::kFLOAT, fromConcrete(shape));
    Value* limit = g->addInput("limit", DataType::kFLOAT, {});
    Value* scaled = g->addNode("Mul", "scale", {v, w}, {"scaled"})->outputs[0];
    Value* next = g->addNode("Add", "shift", {scaled, w}, {"next"})->outputs[0];
    Node* top = g->addNode("ReduceMax", "top", {next}, {"top"});
    top->attrs.set("keepdims", int64_t{0});
    Value* cond = g->addNode("Less", "below", {top->outputs[0], limit}, {"cond_out"})->outputs[0];
    Value* emitted = g->addNode("Abs", "emit", {next}, {"emitted"})->outputs[0];
    g->markOutput(cond);
    g->markOutput(next);
    g->markOutput(emitted);
    return finish(g);
}

/// Loop body reading row i of the captured x [T, N]: acc' = acc + x[i]; emits x[i] * acc'. The
/// row's Slice has its starts computed from the iteration number.
std::shared_ptr<Graph> rowBody(int64_t rows, int64_t n) {
    auto g = std::make_shared<Graph>();
    g->name = "rows";
    Value* i = g->addInput("i", DataType::kINT64, {});
    Value* condIn = g->addInput("cond_in", DataType::kBOOL, {});
    Value* acc = g->addInput("acc", DataType::kFLOAT, fromConcrete({n}));
    Value* x = g->addInput("x", DataType::kFLOAT, fromConcrete({rows, n}));
    Value* axis0 = constantInts(*g, "axis0", {0});
    Value* starts = g->addNode("Unsqueeze", "starts", {i, axis0}, {"starts"})->outputs[0];
    Value* ends = g->addNode("Add", "ends", {starts, constantInts(*g, "one", {1})}, {"ends"})->outputs[0];
    Value* row = g->addNode("Slice", "row", {x, starts, ends, axis0}, {"row"})->outputs[0];
    Value* flat = g->addNode("Squeeze", "flat", {row, axis0}, {"flat"})->outputs[0];
    Value* next = g->addNode("Add", "accumulate", {acc, flat}, {"next"})->outputs[0];
    Value* emitted = g->addNode("Mul", "emit", {flat, next}, {"emitted"})->outputs[0];
    g->markOutput(g->addNode("Identity", "keep", {condIn}, {"cond_out"})->outputs[0]);
    g->markOutput(next);
    g->markOutput(emitted);
    return finish(g);
}

/// Scan body: s' = s + a * c + b; emits a * s' and -s'. c is captured.
std::shared_ptr<Graph> scanBody(int64_t d) {
    auto g = std::make_shared<Graph>();
    g->name = "step";
    Value* s = g->addInput("s", DataType::kFLOAT, fromConcrete({d}));
    Value* a = g->addInput("a", DataType::kFLOAT, fromConcrete({d}));
    Value* b = g->addInput("b", DataType::kFLOAT, fromConcrete({d}));
    Value* c = g->addInput("c", DataType::kFLOAT, fromConcrete({d}));
    Value* ac = g->addNode("Mul", "ac", {a, c}, {"ac"})->outputs[0];
    Value* partial = g->addNode("Add", "partial", {s, ac}, {"partial"})->outputs[0];
    Value* next = g->addNode("Add", "next", {partial, b}, {"next"})->outputs[0];
    g->markOutput(next);
    g->markOutput(g->addNode("Mul", "out1", {a, next}, {"out1"})->outputs[0]);
    g->markOutput(g->addNode("Neg", "out2", {next}, {"out2"})->outputs[0]);
    return finish(g);
}

class CudaControlFlowTest : public CudaTest {
protected:
    /// Runs `opType` on the CPU backend and on the GPU and compares every output.
    void expectMatchesCpu(const std::string& opType, const std::vector<const Tensor*>& inputs, size_t numOutputs,
                          const AttributeMap& attrs, const std::string& label) {
        test::SingleNodeRun ref = test::runSingleNode(opType, inputs, numOutputs, attrs);
        ASSERT_TRUE(ref.status) << label << ": CPU reference: " << ref.status.message();
        ASSERT_EQ(ref.outputs.size(), numOutputs) << label;
        std::vector<DataType> types;
        std::vector<Shape> shapes;
        for (const Tensor& t : ref.outputs) {
            types.push_back(t.dtype());
            shapes.push_back(t.shape());
        }
        auto gpu = runOnCuda(*mBackend, mStream, opType, inputs, types, shapes, attrs);
        ASSERT_TRUE(gpu.isOk()) << label << ": " << gpu.status().message();
        std::string op = opType;
        for (char& ch : op) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        EXPECT_EQ(gpu->tactic, "cuda." + op + "_interpreted");
        for (size_t i = 0; i < numOutputs; ++i)
            EXPECT_EQ(test::compareWithReference(gpu->outputs[i], ref.outputs[i].toDoubleVector(), 1e-5, 1e-5), "")
                << label << " output " << i;
    }
};

TEST_F(CudaControlFlowTest, IfRunsTheChosenBranchWithCapturedValues) {
    std::mt19937 rng(11);
    std::uniform_int_distribution<int64_t> dim(1, 6);
    for (int trial = 0; trial < 6; ++trial) {
        Shape shape(static_cast<size_t>(1 + trial % 4));
        for (int64_t& d : shape) d = dim(rng);
        const Tensor x = test::randomTensor(DataType::kFLOAT, shape, -2.0, 2.0, 100 + trial);
        const Tensor y = test::randomTensor(DataType::kFLOAT, shape, -2.0, 2.0, 200 + trial);
        const Tensor cond = boolScalar(trial % 2 == 0);
        AttributeMap attrs;
        attrs.set("then_branch", ifBranch(true, shape));
        attrs.set("else_branch", ifBranch(false, shape));
        attrs.set(kCapturedInputsAttr, int64_t{2});
        expectMatchesCpu("If", {&cond, &x, &y}, 2, attrs, "If " + shapeLabel(shape) + (trial % 2 ? " else" : " then"));
    }
}

TEST_F(CudaControlFlowTest, LoopForWhileAndForWhileForms) {
    const Shape shape{3, 5};
    const Tensor v0 = test::randomTensor(DataType::kFLOAT, shape, 0.1, 1.0, 31);
    const Tensor w = test::randomTensor(DataType::kFLOAT, shape, 0.5, 1.2, 32);
    struct Case {
        std::optional<int64_t> trips;
        std::optional<bool> cond;
        float limit;
    };
    // A limit of 1e9 never stops the loop; 6 stops it after a few iterations; a trip count of 0 or a
    // false condition runs nothing (the scan output is empty); without a cond input the body's is ignored.
    for (const Case& c : {Case{0, true, 1e9f}, Case{1, true, 1e9f}, Case{4, true, 1e9f}, Case{9, true, 1e9f},
                          Case{std::nullopt, true, 6.0f}, Case{20, true, 6.0f}, Case{5, std::nullopt, 2.0f},
                          Case{3, false, 1e9f}, Case{-2, true, 1e9f}}) {
        const Tensor trips = Tensor::fromInt64({c.trips.value_or(0)}, {});
        const Tensor cond = boolScalar(c.cond.value_or(true));
        const Tensor limit = Tensor::scalarFloat(c.limit);
        AttributeMap attrs;
        attrs.set("body", growingBody(shape));
        attrs.set(kCapturedInputsAttr, int64_t{2});
        const std::string label = "Loop M=" + (c.trips ? std::to_string(*c.trips) : std::string("none")) +
                                  " cond=" + (c.cond ? std::to_string(*c.cond) : std::string("none")) +
                                  " limit=" + std::to_string(c.limit);
        expectMatchesCpu("Loop", {c.trips ? &trips : nullptr, c.cond ? &cond : nullptr, &v0, &w, &limit}, 2, attrs, label);
    }
}

TEST_F(CudaControlFlowTest, LoopBodyShapesFromValuesComputedOnTheDevice) {
    for (int64_t rows : {1, 3, 6}) {
        const int64_t n = 4 + rows;
        const Tensor x = test::randomTensor(DataType::kFLOAT, {rows, n}, -1.0, 1.0, 40 + static_cast<uint32_t>(rows));
        const Tensor acc0 = test::randomTensor(DataType::kFLOAT, {n}, -1.0, 1.0, 50 + static_cast<uint32_t>(rows));
        const Tensor trips = Tensor::fromInt64({rows}, {});
        AttributeMap attrs;
        attrs.set("body", rowBody(rows, n));
        attrs.set(kCapturedInputsAttr, int64_t{1});
        expectMatchesCpu("Loop", {&trips, nullptr, &acc0, &x}, 2, attrs, "row Loop over " + std::to_string(rows) + " rows");
    }
}

TEST_F(CudaControlFlowTest, ScanAxesDirectionsAndCapturedValues) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int64_t> extent(1, 5);
    std::bernoulli_distribution coin(0.5);
    const std::vector<int64_t> inputAxes{0, 1, -1, -2};
    const std::vector<int64_t> outputAxes{0, 1, -1, -2};
    for (int trial = 0; trial < 8; ++trial) {
        const int64_t t = extent(rng), d = extent(rng);
        const int64_t axisA = inputAxes[static_cast<size_t>(trial % 4)];
        // a is [T, D] when its scan axis is the first one, else [D, T]; b is always [T, D].
        const bool aTimeFirst = axisA == 0 || axisA == -2;
        const Shape aShape = aTimeFirst ? Shape{t, d} : Shape{d, t};
        const Tensor s0 = test::randomTensor(DataType::kFLOAT, {d}, -1.0, 1.0, 60 + trial);
        const Tensor a = test::randomTensor(DataType::kFLOAT, aShape, -1.0, 1.0, 70 + trial);
        const Tensor b = test::randomTensor(DataType::kFLOAT, {t, d}, -1.0, 1.0, 80 + trial);
        const Tensor c = test::randomTensor(DataType::kFLOAT, {d}, -1.0, 1.0, 90 + trial);
        const std::vector<int64_t> inDirections{coin(rng) ? 1 : 0, coin(rng) ? 1 : 0};
        const std::vector<int64_t> outAxes{outputAxes[static_cast<size_t>(trial % 4)],
                                           outputAxes[static_cast<size_t>((trial + 1) % 4)]};
        const std::vector<int64_t> outDirections{coin(rng) ? 1 : 0, coin(rng) ? 1 : 0};
        AttributeMap attrs;
        attrs.set("body", scanBody(d));
        attrs.set("num_scan_inputs", int64_t{2});
        attrs.set("scan_input_axes", std::vector<int64_t>{axisA, 0});
        attrs.set("scan_input_directions", inDirections);
        attrs.set("scan_output_axes", outAxes);
        attrs.set("scan_output_directions", outDirections);
        attrs.set(kCapturedInputsAttr, int64_t{1});
        const std::string label = "Scan T=" + std::to_string(t) + " D=" + std::to_string(d) + " axis " +
                                  std::to_string(axisA) + " out axes " + std::to_string(outAxes[0]) + "," +
                                  std::to_string(outAxes[1]);
        expectMatchesCpu("Scan", {&s0, &a, &b, &c}, 3, attrs, label);
    }
}

#ifdef KILN_TEST_HAVE_CUDA_BACKEND
/// A branch with a node the CUDA backend has no kernel for (an ai.onnx.ml LabelEncoder, float to float).
std::shared_ptr<Graph> unsupportedBranch() {
    auto g = std::make_shared<Graph>();
    g->name = "through_label_encoder";
    Value* x = g->addInput("x", DataType::kFLOAT, fromConcrete({4}));
    Node* encode = g->addNode("LabelEncoder", "encode", {x}, {"encoded"});
    encode->domain = "ai.onnx.ml";
    encode->attrs.set("keys_floats", std::vector<float>{1.f, 2.f});
    encode->attrs.set("values_floats", std::vector<float>{10.f, 20.f});
    encode->attrs.set("default_float", 0.f);
    g->markOutput(encode->outputs[0]);
    return finish(g);
}

TEST(CudaControlFlowSupport, ChecksEveryNodeOfEverySubgraph) {
    Graph graph;
    Value* cond = graph.addInput("cond", DataType::kBOOL, {});
    Value* x = graph.addInput("x", DataType::kFLOAT, fromConcrete({4}));
    Node* node = graph.addNode("If", "choose", {cond, x}, {"y"});
    node->attrs.set(kCapturedInputsAttr, int64_t{1});
    node->outputs[0]->dtype = DataType::kFLOAT;
    // Branches of CUDA ops: supported.
    auto fine = std::make_shared<Graph>();
    fine->name = "fine";
    Value* fx = fine->addInput("x", DataType::kFLOAT, fromConcrete({4}));
    fine->markOutput(fine->addNode("Neg", "neg", {fx}, {"neg"})->outputs[0]);
    node->attrs.set("then_branch", finish(fine));
    node->attrs.set("else_branch", finish(fine));
    std::string reason;
    EXPECT_TRUE(cuda::cudaSupportsNode(*node, &reason)) << reason;
    // A node of the else branch that the CUDA backend refuses refuses the If, naming it.
    node->attrs.set("else_branch", unsupportedBranch());
    EXPECT_FALSE(cuda::cudaSupportsNode(*node, &reason));
    EXPECT_NE(reason.find("through_label_encoder"), std::string::npos) << reason;
    EXPECT_NE(reason.find("LabelEncoder"), std::string::npos) << reason;
    // A missing branch is refused, not a crash.
    Node* bare = graph.addNode("If", "bare", {cond, x}, {"z"});
    bare->attrs.set(kCapturedInputsAttr, int64_t{1});
    EXPECT_FALSE(cuda::cudaSupportsNode(*bare, &reason));
    EXPECT_NE(reason.find("then_branch"), std::string::npos) << reason;
}
#endif  // KILN_TEST_HAVE_CUDA_BACKEND

TEST_F(CudaControlFlowTest, LayersSayTheyCannotBeCaptured) {
    Graph graph;
    Value* trips = graph.addInput("M", DataType::kINT64, {});
    Value* v = graph.addInput("v", DataType::kFLOAT, fromConcrete({3, 5}));
    Value* w = graph.addInput("w", DataType::kFLOAT, fromConcrete({3, 5}));
    Value* limit = graph.addInput("limit", DataType::kFLOAT, {});
    Node* loop = graph.addNode("Loop", "loop", {trips, nullptr, v, w, limit}, {"v_final", "stacked"});
    loop->attrs.set("body", growingBody({3, 5}));
    loop->attrs.set(kCapturedInputsAttr, int64_t{2});
    ASSERT_TRUE(inferGraphShapes(graph, ShapeInferenceOptions{}));
    auto kernel = mBackend->createKernel(*loop);
    ASSERT_TRUE(kernel.isOk()) << kernel.status().message();
    std::string reason;
    EXPECT_FALSE((*kernel)->isCapturable(&reason));
    EXPECT_NE(reason.find("host"), std::string::npos) << reason;
}

}  // namespace
}  // namespace kiln::cudatest
