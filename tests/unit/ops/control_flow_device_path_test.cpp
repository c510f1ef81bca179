// The backend-neutral If / Loop / Scan kernels and the subgraph executor on a backend that says its
// memory is not host memory (a stand-in for a GPU, backed by host allocations and the CPU kernels):
// the path a device takes, testable without one. Inference then cannot read values, so a body
// whose Slice starts come from the iteration number makes the executor copy them back to the host;
// constants are copied into the backend's memory; conditions and trip counts are read with copies.
// Results are checked against references computed here in double.

#include <gtest/gtest.h>

#include <cstring>

#include "backends/control_flow_kernels.h"
#include "backends/cpu/cpu_backend.h"
#include "ir/control_flow.h"
#include "ir/shape_inference.h"
#include "test_support.h"

namespace kiln::test {
namespace {

/// Host memory and CPU kernels behind a device backend's face; counts the reads back to the host.
class DeviceStandIn : public Backend {
public:
    std::string name() const override { return "standin"; }
    std::string targetDescription() const override { return "test"; }
    bool supports(const Node& node, std::string* reason) const override { return cpuBackend().supports(node, reason); }
    Expected<std::unique_ptr<Kernel>> createKernel(const Node& node) const override { return cpuBackend().createKernel(node); }
    void* allocate(size_t bytes) override { return cpuBackend().allocate(bytes); }
    void deallocate(void* ptr) override { cpuBackend().deallocate(ptr); }
    Status copyToDevice(void* dst, const void* src, size_t bytes, Stream) override {
        if (bytes) std::memmove(dst, src, bytes);
        return Status::ok();
    }
    Status copyToHost(void* dst, const void* src, size_t bytes, Stream) override {
        ++hostReads;
        if (bytes) std::memmove(dst, src, bytes);
        return Status::ok();
    }
    Status copyOnDevice(void* dst, const void* src, size_t bytes, Stream) override {
        if (bytes && dst != src) std::memmove(dst, src, bytes);
        return Status::ok();
    }
    Status synchronize(Stream) override { return Status::ok(); }
    bool isHostMemory() const override { return false; }

    int hostReads{0};
};

Value* constantInts(Graph& g, const std::string& name, const std::vector<int64_t>& values) {
    return g.addConstant(name, Tensor::fromInt64(values, {static_cast<int64_t>(values.size())}));
}

std::shared_ptr<Graph> finish(std::shared_ptr<Graph> g) {
    Status s = inferGraphShapes(*g, ShapeInferenceOptions{});
    EXPECT_TRUE(s) << s.message();
    return g;
}

/// Loop body reading row i of the captured x [T, N]: acc' = acc + x[i] * scale (scale a body
/// constant); emits acc'. The row's Slice has starts computed from the iteration number.
std::shared_ptr<Graph> rowBody(int64_t rows, int64_t n, float scale) {
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
    Value* scaled = g->addNode("Mul", "scaled", {flat, g->addConstant("scale", Tensor::scalarFloat(scale))}, {"scaled"})
                        ->outputs[0];
    Value* next = g->addNode("Add", "accumulate", {acc, scaled}, {"next"})->outputs[0];
    g->markOutput(g->addNode("Identity", "keep", {condIn}, {"cond_out"})->outputs[0]);
    g->markOutput(next);
    g->markOutput(g->addNode("Identity", "emit", {next}, {"emitted"})->outputs[0]);
    return finish(g);
}

struct KernelRun {
    Status status;
    std::vector<Tensor> outputs;
};

/// Creates `node`'s kernel with `create` on `backend` and runs it on `inputs` into outputs of `shapes`.
KernelRun runKernel(Backend& backend, Expected<std::unique_ptr<Kernel>> (*create)(Backend&, const Node&), const Node& node,
                    const std::vector<const Tensor*>& inputs, const std::vector<Shape>& shapes) {
    KernelRun run;
    auto kernel = create(backend, node);
    if (!kernel) {
        run.status = kernel.status();
        return run;
    }
    std::vector<TensorView> in, out;
    for (const Tensor* t : inputs) in.push_back(t ? viewOf(*t) : TensorView{});
    for (const Shape& s : shapes) run.outputs.push_back(Tensor::allocate(DataType::kFLOAT, s));
    for (Tensor& t : run.outputs) out.push_back(viewOf(t));
    run.status = (*kernel)->reshape(in, out);
    if (!run.status) return run;
    KernelIO io;
    io.inputs = in.data();
    io.numInputs = in.size();
    io.outputs = out.data();
    io.numOutputs = out.size();
    run.status = (*kernel)->run(io);
    return run;
}

TEST(ControlFlowDevicePath, LoopReadsBackTheValuesItsBodyShapesNeed) {
    for (int64_t rows : {1, 4, 7}) {
        const int64_t n = 3 + rows;
        const float scale = 0.5f + static_cast<float>(rows);
        const Tensor x = randomTensor(DataType::kFLOAT, {rows, n}, -1.0, 1.0, 10 + static_cast<uint32_t>(rows));
        const Tensor acc0 = randomTensor(DataType::kFLOAT, {n}, -1.0, 1.0, 20 + static_cast<uint32_t>(rows));
        const Tensor trips = Tensor::fromInt64({rows}, {});
        Graph graph;
        Node* loop = graph.addNode("Loop", "loop",
                                   {graph.addInput("M", DataType::kINT64, {}), nullptr,
                                    graph.addInput("acc0", DataType::kFLOAT, fromConcrete({n})),
                                    graph.addInput("x", DataType::kFLOAT, fromConcrete({rows, n}))},
                                   {"acc", "stacked"});
        loop->attrs.set("body", rowBody(rows, n, scale));
        loop->attrs.set(kCapturedInputsAttr, int64_t{1});
        ASSERT_TRUE(inferGraphShapes(graph, ShapeInferenceOptions{}));

        DeviceStandIn device;
        KernelRun run = runKernel(device, createLoopKernel, *loop, {&trips, nullptr, &acc0, &x}, {{n}, {rows, n}});
        ASSERT_TRUE(run.status) << run.status.message();
        // The trip count, then each iteration's Slice starts (and ends), are read back.
        EXPECT_GE(device.hostReads, 1 + rows);
        std::vector<double> acc(acc0.toDoubleVector()), stacked;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < n; ++c) {
                acc[static_cast<size_t>(c)] += x.elementAsDouble(r * n + c) * scale;
                stacked.push_back(acc[static_cast<size_t>(c)]);
            }
        EXPECT_EQ(compareWithReference(run.outputs[0], acc, 1e-5, 1e-5), "") << rows << " rows";
        EXPECT_EQ(compareWithReference(run.outputs[1], stacked, 1e-5, 1e-5), "") << rows << " rows";
    }
}

/// If branch returning a body constant (copied into the backend's memory when the kernel is made).
std::shared_ptr<Graph> constantBranch(const std::string& name, const Tensor& value) {
    auto g = std::make_shared<Graph>();
    g->name = name;
    g->markOutput(g->addConstant(name + "_value", value));
    return finish(g);
}

TEST(ControlFlowDevicePath, IfReturnsABranchConstantFromBackendMemory) {
    const Tensor thenValue = randomTensor(DataType::kFLOAT, {2, 3}, -5.0, 5.0, 31);
    const Tensor elseValue = randomTensor(DataType::kFLOAT, {2, 3}, -5.0, 5.0, 32);
    for (bool chosen : {true, false}) {
        Graph graph;
        Node* node = graph.addNode("If", "choose", {graph.addInput("cond", DataType::kBOOL, {})}, {"y"});
        node->attrs.set("then_branch", constantBranch("then", thenValue));
        node->attrs.set("else_branch", constantBranch("else", elseValue));
        ASSERT_TRUE(inferGraphShapes(graph, ShapeInferenceOptions{}));
        Tensor cond = Tensor::allocate(DataType::kBOOL, {});
        cond.data<bool>()[0] = chosen;
        DeviceStandIn device;
        KernelRun run = runKernel(device, createIfKernel, *node, {&cond}, {{2, 3}});
        ASSERT_TRUE(run.status) << run.status.message();
        EXPECT_EQ(device.hostReads, 1) << "the condition";
        EXPECT_EQ(compareWithReference(run.outputs[0], (chosen ? thenValue : elseValue).toDoubleVector(), 0, 0), "");
    }
}

/// Scan body: s' = s + a; emits s' * 2 (a body constant).
std::shared_ptr<Graph> runningSumBody(int64_t d) {
    auto g = std::make_shared<Graph>();
    g->name = "sum";
    Value* s = g->addInput("s", DataType::kFLOAT, fromConcrete({d}));
    Value* a = g->addInput("a", DataType::kFLOAT, fromConcrete({d}));
    Value* next = g->addNode("Add", "next", {s, a}, {"next"})->outputs[0];
    g->markOutput(next);
    g->markOutput(g->addNode("Mul", "twice", {next, g->addConstant("two", Tensor::scalarFloat(2.0f))}, {"twice"})->outputs[0]);
    return finish(g);
}

TEST(ControlFlowDevicePath, ScanOverTheInnerAxisBackwardsIntoTheOuterAxis) {
    const int64_t t = 5, d = 3;
    const Tensor s0 = randomTensor(DataType::kFLOAT, {d}, -1.0, 1.0, 41);
    const Tensor a = randomTensor(DataType::kFLOAT, {d, t}, -1.0, 1.0, 42);  // scanned along axis -1
    Graph graph;
    Node* scan = graph.addNode("Scan", "scan",
                               {graph.addInput("s0", DataType::kFLOAT, fromConcrete({d})),
                                graph.addInput("a", DataType::kFLOAT, fromConcrete({d, t}))},
                               {"s", "ys"});
    scan->attrs.set("body", runningSumBody(d));
    scan->attrs.set("num_scan_inputs", int64_t{1});
    scan->attrs.set("scan_input_axes", std::vector<int64_t>{-1});
    scan->attrs.set("scan_input_directions", std::vector<int64_t>{1});
    scan->attrs.set("scan_output_axes", std::vector<int64_t>{0});
    ASSERT_TRUE(inferGraphShapes(graph, ShapeInferenceOptions{}));
    DeviceStandIn device;
    KernelRun run = runKernel(device, createScanKernel, *scan, {&s0, &a}, {{d}, {t, d}});
    ASSERT_TRUE(run.status) << run.status.message();
    std::vector<double> s(s0.toDoubleVector()), ys(static_cast<size_t>(t * d));
    for (int64_t step = 0; step < t; ++step) {
        const int64_t index = t - 1 - step;  // reverse direction
        for (int64_t c = 0; c < d; ++c) {
            s[static_cast<size_t>(c)] += a.elementAsDouble(c * t + index);
            ys[static_cast<size_t>(step * d + c)] = 2.0 * s[static_cast<size_t>(c)];
        }
    }
    EXPECT_EQ(compareWithReference(run.outputs[0], s, 1e-6, 1e-6), "");
    EXPECT_EQ(compareWithReference(run.outputs[1], ys, 1e-6, 1e-6), "");
}

}  // namespace
}  // namespace kiln::test
