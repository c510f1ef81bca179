// If, Loop and Scan through the whole path: ONNX import (subgraphs capturing outer values, nested
// scopes), engine build, serialization and deserialization (subgraphs in the graph codec), and a
// CPU run; results against double-precision references computed here on random data.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "ir/control_flow.h"
#include "ir/verifier.h"
#include "kiln/runtime.h"
#include "onnx_test_models.h"
#include "test_support.h"

namespace kiln::test {
namespace {

/// Adds a graph attribute to `node` and returns the (empty) graph.
onnx::GraphProto* addGraphAttr(onnx::NodeProto* node, const std::string& name) {
    auto* attr = node->add_attribute();
    attr->set_name(name);
    attr->set_type(onnx::AttributeProto::GRAPH);
    attr->mutable_g()->set_name(name);
    return attr->mutable_g();
}

Tensor floatInput(const Shape& shape, uint32_t seed) {
    return randomTensor(DataType::kFLOAT, shape, -1.0, 1.0, seed);
}

Tensor boolScalar(bool value) {
    Tensor t = Tensor::allocate(DataType::kBOOL, {});
    t.data<bool>()[0] = value;
    return t;
}

/// Parses `model`, builds an engine, round-trips it through its bytes and runs it once.
std::vector<Tensor> parseBuildRun(const onnx::ModelProto& model, const std::map<std::string, Tensor>& inputs) {
    Import im;
    EXPECT_TRUE(im.parse(model)) << im.errors();
    if (im.parser->getNbErrors() > 0) return {};
    EXPECT_TRUE(verifyGraph(im.graph())) << verifyGraph(im.graph()).message();
    auto config = im.builder->createBuilderConfig();
    auto plan = im.builder->buildSerializedNetwork(*im.network, *config);
    EXPECT_TRUE(plan) << "build failed";
    if (!plan) return {};
    auto runtime = createRuntime(im.logger);
    auto engine = runtime->deserializeEngine(plan->data(), plan->size());
    EXPECT_TRUE(engine) << "deserialization failed";
    if (!engine) return {};
    auto context = engine->createExecutionContext();
    EXPECT_TRUE(context);
    if (!context) return {};
    for (const auto& [name, tensor] : inputs) {
        Dims dims;
        dims.nbDims = static_cast<int32_t>(tensor.rank());
        for (int32_t i = 0; i < dims.nbDims; ++i) dims.d[i] = tensor.shape()[static_cast<size_t>(i)];
        EXPECT_TRUE(context->setInputShape(name.c_str(), dims));
        EXPECT_TRUE(context->setTensorAddress(name.c_str(), const_cast<void*>(tensor.data())));
    }
    std::vector<Tensor> outputs;
    std::vector<std::unique_ptr<HostOutputAllocator>> buffers;  // by output; set for shapes known only by running
    for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
        const char* name = engine->getIOTensorName(i);
        if (engine->getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
        Dims d = context->getTensorShape(name);
        if (d.nbDims < 0) {
            ADD_FAILURE() << "no shape for output " << name;
            return {};
        }
        const Shape shape(d.d, d.d + d.nbDims);
        if (std::any_of(shape.begin(), shape.end(), [](int64_t e) { return e < 0; })) {
            buffers.push_back(std::make_unique<HostOutputAllocator>());
            context->setOutputAllocator(name, buffers.back().get());
            outputs.emplace_back();
        } else {
            buffers.push_back(nullptr);
            outputs.push_back(Tensor::allocate(engine->getTensorDataType(name), shape));
            context->setTensorAddress(name, outputs.back().data());
        }
    }
    bool ran = context->execute();
    for (size_t i = 0, output = 0; ran && i < static_cast<size_t>(engine->getNbIOTensors()); ++i) {
        const char* name = engine->getIOTensorName(static_cast<int32_t>(i));
        if (engine->getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
        if (const auto& buffer = buffers[output]) {
            outputs[output] = Tensor::allocate(engine->getTensorDataType(name), buffer->shape);
            if (outputs[output].byteSize()) std::memcpy(outputs[output].data(), buffer->storage.data(), outputs[output].byteSize());
        }
        ++output;
    }
    EXPECT_TRUE(ran);
    for (const auto& [severity, message] : im.logger.messages)
        if (severity <= ILogger::Severity::kERROR) ADD_FAILURE() << message;
    return ran ? outputs : std::vector<Tensor>{};
}

TEST(OnnxControlFlow, IfRunsTheChosenBranchWithCapturedValues) {
    const std::vector<float> w = randomFloats(6, 3);
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addInput(g, "c", {}, onnx::TensorProto::BOOL);
    addInitializer(g, floatTensor("w", {2, 3}, w));
    addNode(g, "Relu", {"x"}, {"r"});
    onnx::NodeProto* ifNode = addNode(g, "If", {"c"}, {"y"}, "branch");
    onnx::GraphProto* thenBranch = addGraphAttr(ifNode, "then_branch");
    addNode(thenBranch, "Add", {"r", "w"}, {"then_out"});  // an outer node output and an outer initializer
    addOutput(thenBranch, "then_out");
    onnx::GraphProto* elseBranch = addGraphAttr(ifNode, "else_branch");
    addNode(elseBranch, "Mul", {"x", "r"}, {"else_out"});  // a graph input, then the value then_branch reads
    addOutput(elseBranch, "else_out");
    addOutput(g, "y");

    {
        // Both branches list the union of the captures in one order, and so does the node.
        Import im;
        ASSERT_TRUE(im.parse(model)) << im.errors();
        const Node* node = im.graph().findNode("branch");
        ASSERT_NE(node, nullptr);
        ASSERT_EQ(node->inputs.size(), 3u);
        EXPECT_EQ(node->inputs[1]->name, "r");
        EXPECT_EQ(node->inputs[2]->name, "x");
        EXPECT_EQ(node->attrs.getInt(kCapturedInputsAttr, 0), 2);
        for (const char* branch : {"then_branch", "else_branch"})
            EXPECT_EQ(node->attrs.getGraph(branch)->inputs().size(), 2u) << branch;
    }

    const Tensor x = floatInput({2, 3}, 11);
    const std::vector<double> vx = x.toDoubleVector();
    for (bool cond : {true, false}) {
        std::vector<Tensor> out = parseBuildRun(model, {{"x", x}, {"c", boolScalar(cond)}});
        ASSERT_EQ(out.size(), 1u);
        std::vector<double> ref(6);
        for (size_t i = 0; i < 6; ++i) {
            const double relu = std::max(0.0, vx[i]);
            ref[i] = cond ? relu + w[i] : vx[i] * relu;
        }
        EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
        EXPECT_EQ(compareWithReference(out[0], ref, 1e-6, 1e-6), "") << "cond " << cond;
    }
}

TEST(OnnxControlFlow, ScanCarriesStateAndStacksOutputsBothWays) {
    // state' = state + slice * scale (scale captured); each step also emits state' along axis 1 of
    // the output. The input is scanned along axis 1, backwards.
    onnx::ModelProto model = makeModel(16);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "init", {3});
    addInput(g, "xs", {3, 4});
    addInput(g, "scale", {3});
    onnx::NodeProto* scan = addNode(g, "Scan", {"init", "xs"}, {"final", "stacked"}, "scan");
    setInt(scan, "num_scan_inputs", 1);
    setInts(scan, "scan_input_axes", {-1});
    setInts(scan, "scan_input_directions", {1});
    setInts(scan, "scan_output_axes", {1});
    onnx::GraphProto* body = addGraphAttr(scan, "body");
    addInput(body, "state_in", {3});
    addInput(body, "slice", {3});
    addNode(body, "Mul", {"slice", "scale"}, {"scaled"});
    addNode(body, "Add", {"state_in", "scaled"}, {"state_out"});
    addNode(body, "Identity", {"state_out"}, {"emitted"});
    addOutput(body, "state_out");
    addOutput(body, "emitted");
    addOutput(g, "final");
    addOutput(g, "stacked");

    const Tensor init = floatInput({3}, 21), xs = floatInput({3, 4}, 22), scale = floatInput({3}, 23);
    std::vector<Tensor> out = parseBuildRun(model, {{"init", init}, {"xs", xs}, {"scale", scale}});
    ASSERT_EQ(out.size(), 2u);
    std::vector<double> state = init.toDoubleVector();
    const std::vector<double> vx = xs.toDoubleVector(), vs = scale.toDoubleVector();
    std::vector<double> stacked(12);
    for (int64_t t = 0; t < 4; ++t) {
        const int64_t column = 3 - t;  // reverse direction
        for (int64_t i = 0; i < 3; ++i) {
            state[static_cast<size_t>(i)] += vx[static_cast<size_t>(i * 4 + column)] * vs[static_cast<size_t>(i)];
            stacked[static_cast<size_t>(i * 4 + t)] = state[static_cast<size_t>(i)];
        }
    }
    EXPECT_EQ(out[0].shape(), (Shape{3}));
    EXPECT_EQ(out[1].shape(), (Shape{3, 4}));
    EXPECT_EQ(compareWithReference(out[0], state, 1e-6, 1e-6), "");
    EXPECT_EQ(compareWithReference(out[1], stacked, 1e-6, 1e-6), "");
}

TEST(OnnxControlFlow, Scan8RunsEachBatchEntry) {
    // Opset 8: states [batch, 2], scan input [batch, 4, 2] read backwards, a captured graph input;
    // each batch entry scans its own rows.
    onnx::ModelProto model = makeModel(8);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "init", {3, 2});
    addInput(g, "xs", {3, 4, 2});
    addInput(g, "w", {2});
    onnx::NodeProto* scan = addNode(g, "Scan", {"", "init", "xs"}, {"final", "stacked"}, "scan8");
    setInt(scan, "num_scan_inputs", 1);
    setInts(scan, "directions", {1});
    onnx::GraphProto* body = addGraphAttr(scan, "body");
    addInput(body, "state_in", {2});
    addInput(body, "row", {2});
    addNode(body, "Mul", {"row", "w"}, {"weighted"});
    addNode(body, "Add", {"state_in", "weighted"}, {"state_out"});
    addNode(body, "Identity", {"state_out"}, {"emitted"});
    addOutput(body, "state_out");
    addOutput(body, "emitted");
    addOutput(g, "final");
    addOutput(g, "stacked");

    const Tensor init = floatInput({3, 2}, 61), xs = floatInput({3, 4, 2}, 62), w = floatInput({2}, 63);
    std::vector<Tensor> out = parseBuildRun(model, {{"init", init}, {"xs", xs}, {"w", w}});
    ASSERT_EQ(out.size(), 2u);
    const std::vector<double> vi = init.toDoubleVector(), vx = xs.toDoubleVector(), vw = w.toDoubleVector();
    std::vector<double> final(6), stacked(24);
    for (size_t b = 0; b < 3; ++b) {
        double state[2] = {vi[b * 2], vi[b * 2 + 1]};
        for (size_t t = 0; t < 4; ++t) {
            const size_t row = 3 - t;  // reverse direction
            for (size_t j = 0; j < 2; ++j) {
                state[j] += vx[(b * 4 + row) * 2 + j] * vw[j];
                stacked[(b * 4 + t) * 2 + j] = state[j];
            }
        }
        final[b * 2] = state[0];
        final[b * 2 + 1] = state[1];
    }
    EXPECT_EQ(out[0].shape(), (Shape{3, 2}));
    EXPECT_EQ(out[1].shape(), (Shape{3, 4, 2}));
    EXPECT_EQ(compareWithReference(out[0], final, 1e-5, 1e-6), "");
    EXPECT_EQ(compareWithReference(out[1], stacked, 1e-5, 1e-6), "");
}

TEST(OnnxControlFlow, Scan8WithSequenceLengths) {
    // Entry b scans its first lens[b] rows (backwards); its scan outputs are zero past that.
    onnx::ModelProto model = makeModel(8);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "lens", {3}, onnx::TensorProto::INT64);
    addInput(g, "init", {3, 2});
    addInput(g, "xs", {3, 4, 2});
    onnx::NodeProto* scan = addNode(g, "Scan", {"lens", "init", "xs"}, {"final", "stacked"}, "scan8_lens");
    setInt(scan, "num_scan_inputs", 1);
    setInts(scan, "directions", {1});
    onnx::GraphProto* body = addGraphAttr(scan, "body");
    addInput(body, "state_in", {2});
    addInput(body, "row", {2});
    addNode(body, "Add", {"state_in", "row"}, {"state_out"});
    addNode(body, "Identity", {"state_out"}, {"emitted"});
    addOutput(body, "state_out");
    addOutput(body, "emitted");
    addOutput(g, "final");
    addOutput(g, "stacked");

    const std::vector<int64_t> lengths = {4, 2, 1};
    const Tensor init = floatInput({3, 2}, 71), xs = floatInput({3, 4, 2}, 72);
    std::vector<Tensor> out = parseBuildRun(model, {{"lens", Tensor::fromInt64(lengths, {3})}, {"init", init}, {"xs", xs}});
    ASSERT_EQ(out.size(), 2u);
    const std::vector<double> vi = init.toDoubleVector(), vx = xs.toDoubleVector();
    std::vector<double> final(6), stacked(24, 0.0);
    for (size_t b = 0; b < 3; ++b) {
        double state[2] = {vi[b * 2], vi[b * 2 + 1]};
        const size_t length = static_cast<size_t>(lengths[b]);
        for (size_t t = 0; t < length; ++t)
            for (size_t j = 0; j < 2; ++j) {
                state[j] += vx[(b * 4 + (length - 1 - t)) * 2 + j];
                stacked[(b * 4 + t) * 2 + j] = state[j];
            }
        final[b * 2] = state[0];
        final[b * 2 + 1] = state[1];
    }
    EXPECT_EQ(out[1].shape(), (Shape{3, 4, 2}));
    EXPECT_EQ(compareWithReference(out[0], final, 1e-5, 1e-6), "");
    EXPECT_EQ(compareWithReference(out[1], stacked, 1e-5, 1e-6), "");
}

TEST(OnnxControlFlow, LoopWithKnownTripCountAndANestedIf) {
    // for i in 0..M-1: v = v * decay + x; each iteration emits v, or -v on odd i (through an If
    // whose branches read v, computed in the body, and x, captured from two levels up).
    const int64_t trips = 5;
    onnx::ModelProto model = makeModel(16);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "v0", {4});
    addInput(g, "x", {4});
    addInitializer(g, int64Tensor("M", {}, {trips}));
    addInitializer(g, floatTensor("decay", {}, {0.5f}));
    addInitializer(g, int64Tensor("two", {}, {2}));
    onnx::NodeProto* loop = addNode(g, "Loop", {"M", "", "v0"}, {"v_final", "emitted"}, "loop");
    onnx::GraphProto* body = addGraphAttr(loop, "body");
    addInput(body, "i", {}, onnx::TensorProto::INT64);
    addInput(body, "cond_in", {}, onnx::TensorProto::BOOL);
    addInput(body, "v_in", {4});
    addNode(body, "Mul", {"v_in", "decay"}, {"decayed"});
    addNode(body, "Add", {"decayed", "x"}, {"v_out"});
    addNode(body, "Identity", {"cond_in"}, {"cond_out"});
    addNode(body, "Mod", {"i", "two"}, {"parity"});
    addNode(body, "Cast", {"parity"}, {"odd"});
    setInt(body->mutable_node(body->node_size() - 1), "to", onnx::TensorProto::BOOL);
    onnx::NodeProto* sign = addNode(body, "If", {"odd"}, {"signed"}, "sign");
    onnx::GraphProto* negate = addGraphAttr(sign, "then_branch");
    addNode(negate, "Neg", {"v_out"}, {"negated"});
    addNode(negate, "Sub", {"negated", "x"}, {"negated_minus_x"});
    addNode(negate, "Add", {"negated_minus_x", "x"}, {"neg_out"});
    addOutput(negate, "neg_out");
    onnx::GraphProto* keep = addGraphAttr(sign, "else_branch");
    addNode(keep, "Identity", {"v_out"}, {"kept"});
    addOutput(keep, "kept");
    addOutput(body, "cond_out");
    addOutput(body, "v_out");
    addOutput(body, "signed");
    addOutput(g, "v_final");
    addOutput(g, "emitted");

    const Tensor v0 = floatInput({4}, 31), x = floatInput({4}, 32);
    std::vector<Tensor> out = parseBuildRun(model, {{"v0", v0}, {"x", x}});
    ASSERT_EQ(out.size(), 2u);
    std::vector<double> v = v0.toDoubleVector();
    const std::vector<double> vx = x.toDoubleVector();
    std::vector<double> emitted;
    for (int64_t i = 0; i < trips; ++i)
        for (size_t j = 0; j < 4; ++j) {
            v[j] = v[j] * 0.5 + vx[j];
            emitted.push_back(i % 2 ? -v[j] : v[j]);
        }
    EXPECT_EQ(out[1].shape(), (Shape{trips, 4}));
    EXPECT_EQ(compareWithReference(out[0], v, 1e-5, 1e-6), "");
    EXPECT_EQ(compareWithReference(out[1], emitted, 1e-5, 1e-6), "");
}

TEST(OnnxControlFlow, RunTimeTripCountsAndBranchShapes) {
    // A while-loop (M and cond are graph inputs; the body stops once the running sum passes a
    // limit) emits its state each iteration; an If picks between a 3- and a 2-element result.
    onnx::ModelProto model = makeModel(16);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "M", {}, onnx::TensorProto::INT64);
    addInput(g, "go", {}, onnx::TensorProto::BOOL);
    addInput(g, "v0", {2});
    addInput(g, "step", {2});
    addInput(g, "limit", {});
    addInput(g, "pick", {}, onnx::TensorProto::BOOL);
    onnx::NodeProto* loop = addNode(g, "Loop", {"M", "go", "v0"}, {"v_final", "trace"}, "while_loop");
    onnx::GraphProto* body = addGraphAttr(loop, "body");
    addInput(body, "i", {}, onnx::TensorProto::INT64);
    addInput(body, "c", {}, onnx::TensorProto::BOOL);
    addInput(body, "v", {2});
    addNode(body, "Add", {"v", "step"}, {"v_out"});
    addNode(body, "ReduceSum", {"v_out"}, {"total"});
    setInt(body->mutable_node(1), "keepdims", 0);
    addNode(body, "Less", {"total", "limit"}, {"c_out"});
    addNode(body, "Identity", {"v_out"}, {"v_emit"});
    addOutput(body, "c_out");
    addOutput(body, "v_out");
    addOutput(body, "v_emit");
    onnx::NodeProto* ifNode = addNode(g, "If", {"pick"}, {"picked"}, "pick_shape");
    onnx::GraphProto* three = addGraphAttr(ifNode, "then_branch");
    addNode(three, "Concat", {"v_final", "limit_1d"}, {"three_out"});
    setInt(three->mutable_node(0), "axis", 0);
    addOutput(three, "three_out");
    onnx::GraphProto* two = addGraphAttr(ifNode, "else_branch");
    addNode(two, "Neg", {"v_final"}, {"two_out"});
    addOutput(two, "two_out");
    addNode(g, "Unsqueeze", {"limit", "zero_axis"}, {"limit_1d"});
    addInitializer(g, int64Tensor("zero_axis", {1}, {0}));
    // The If reads limit_1d: move it before the If (ONNX wants topological order).
    g->mutable_node()->SwapElements(g->node_size() - 1, g->node_size() - 2);
    addOutput(g, "v_final");
    addOutput(g, "trace");
    addOutput(g, "picked");

    const Tensor v0 = randomTensor(DataType::kFLOAT, {2}, 0.0, 1.0, 41);
    const Tensor step = randomTensor(DataType::kFLOAT, {2}, 0.5, 1.0, 42);
    const Tensor limit = randomTensor(DataType::kFLOAT, {}, 6.0, 12.0, 43);
    for (int64_t m : {20, 2})
        for (bool pick : {true, false}) {
            std::vector<Tensor> out = parseBuildRun(
                model, {{"M", Tensor::fromInt64({m}, {})}, {"go", boolScalar(true)}, {"v0", v0}, {"step", step},
                        {"limit", limit}, {"pick", boolScalar(pick)}});
            ASSERT_EQ(out.size(), 3u);
            std::vector<double> v = v0.toDoubleVector(), trace;
            const std::vector<double> s = step.toDoubleVector();
            bool cond = true;
            for (int64_t i = 0; i < m && cond; ++i) {
                v[0] += s[0];
                v[1] += s[1];
                cond = v[0] + v[1] < limit.elementAsDouble(0);
                trace.insert(trace.end(), v.begin(), v.end());
            }
            const int64_t trips = static_cast<int64_t>(trace.size() / 2);
            EXPECT_EQ(out[1].shape(), (Shape{trips, 2})) << "M " << m;
            EXPECT_EQ(compareWithReference(out[0], v, 1e-5, 1e-6), "");
            EXPECT_EQ(compareWithReference(out[1], trace, 1e-5, 1e-6), "");
            std::vector<double> picked = pick ? std::vector<double>{v[0], v[1], limit.elementAsDouble(0)}
                                              : std::vector<double>{-v[0], -v[1]};
            EXPECT_EQ(out[2].shape(), (Shape{static_cast<int64_t>(picked.size())})) << "pick " << pick;
            EXPECT_EQ(compareWithReference(out[2], picked, 1e-5, 1e-6), "");
        }
}

TEST(OnnxControlFlow, ShapesOnlyARunTellsInsideABody) {
    // Each Scan step runs a while-loop (doubling the element until it passes a limit) whose
    // stacked output has as many elements as it iterated: a length only running the inner loop
    // tells. The body sums it to a scalar, so the Scan itself has static shapes.
    onnx::ModelProto model = makeModel(16);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "total0", {});
    addInput(g, "xs", {5});
    addInitializer(g, floatTensor("two", {}, {2.0f}));
    addInitializer(g, floatTensor("limit", {}, {10.0f}));
    addInitializer(g, rawTensor("yes", onnx::TensorProto::BOOL, {}, "\1", 1));
    onnx::NodeProto* scan = addNode(g, "Scan", {"total0", "xs"}, {"total", "per_x"}, "scan_xs");
    setInt(scan, "num_scan_inputs", 1);
    onnx::GraphProto* body = addGraphAttr(scan, "body");
    addInput(body, "acc", {});
    addInput(body, "x", {});
    onnx::NodeProto* loop = addNode(body, "Loop", {"", "yes", "x"}, {"x_final", "doublings"}, "doubling");
    onnx::GraphProto* inner = addGraphAttr(loop, "body");
    addInput(inner, "i", {}, onnx::TensorProto::INT64);
    addInput(inner, "c", {}, onnx::TensorProto::BOOL);
    addInput(inner, "v", {});
    addNode(inner, "Mul", {"v", "two"}, {"v2"});
    addNode(inner, "Less", {"v2", "limit"}, {"again"});
    addNode(inner, "Identity", {"v2"}, {"v2_emit"});
    addOutput(inner, "again");
    addOutput(inner, "v2");
    addOutput(inner, "v2_emit");
    addNode(body, "ReduceSum", {"doublings"}, {"value"});
    setInt(body->mutable_node(body->node_size() - 1), "keepdims", 0);
    addNode(body, "Add", {"acc", "value"}, {"acc_out"});
    addNode(body, "Identity", {"value"}, {"emitted"});
    addOutput(body, "acc_out");
    addOutput(body, "emitted");
    addOutput(g, "total");
    addOutput(g, "per_x");

    const Tensor total0 = randomTensor(DataType::kFLOAT, {}, -1.0, 1.0, 51);
    const Tensor xs = randomTensor(DataType::kFLOAT, {5}, 0.05, 1.0, 52);
    std::vector<Tensor> out = parseBuildRun(model, {{"total0", total0}, {"xs", xs}});
    ASSERT_EQ(out.size(), 2u);
    double total = total0.elementAsDouble(0);
    std::vector<double> perX;
    for (double x : xs.toDoubleVector()) {
        double sum = 0;
        for (bool again = true; again;) {
            x *= 2;
            sum += x;
            again = x < 10.0;
        }
        perX.push_back(sum);
        total += sum;
    }
    EXPECT_EQ(compareWithReference(out[0], {total}, 1e-5, 1e-5), "");
    EXPECT_EQ(compareWithReference(out[1], perX, 1e-5, 1e-5), "");
}

TEST(OnnxControlFlow, BranchOutputsOfDifferentTypesAreAnError) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2});
    addInput(g, "c", {}, onnx::TensorProto::BOOL);
    onnx::NodeProto* ifNode = addNode(g, "If", {"c"}, {"y"}, "mixed");
    onnx::GraphProto* thenBranch = addGraphAttr(ifNode, "then_branch");
    addNode(thenBranch, "Identity", {"x"}, {"a"});
    addOutput(thenBranch, "a");
    onnx::GraphProto* elseBranch = addGraphAttr(ifNode, "else_branch");
    addNode(elseBranch, "Shape", {"x"}, {"b"});
    addOutput(elseBranch, "b");
    addOutput(g, "y");
    Import im;
    EXPECT_FALSE(im.parse(model));
    EXPECT_NE(im.errors().find("float in then_branch but int64 in else_branch"), std::string::npos) << im.errors();
}

TEST(OnnxControlFlow, MalformedControlFlowIsANamedError) {
    // A Loop body with too few outputs, a Scan axis out of range and an If without else_branch:
    // each an import error naming the node, never a crash.
    onnx::ModelProto model = makeModel(16);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {3, 2});
    addInitializer(g, int64Tensor("M", {}, {2}));
    onnx::NodeProto* loop = addNode(g, "Loop", {"M", "", "x"}, {"x_final", "extra"}, "short_loop");
    onnx::GraphProto* body = addGraphAttr(loop, "body");
    addInput(body, "i", {}, onnx::TensorProto::INT64);
    addInput(body, "c", {}, onnx::TensorProto::BOOL);
    addInput(body, "v", {3, 2});
    addNode(body, "Identity", {"c"}, {"c_out"});
    addNode(body, "Neg", {"v"}, {"v_out"});
    addOutput(body, "c_out");
    addOutput(body, "v_out");
    onnx::NodeProto* scan = addNode(g, "Scan", {"x"}, {"ys"}, "bad_axis");
    setInt(scan, "num_scan_inputs", 1);
    setInts(scan, "scan_input_axes", {2});
    onnx::GraphProto* scanBody = addGraphAttr(scan, "body");
    addInput(scanBody, "s", {2});
    addNode(scanBody, "Neg", {"s"}, {"s_out"});
    addOutput(scanBody, "s_out");
    onnx::NodeProto* ifNode = addNode(g, "If", {"c0"}, {"half"}, "half_if");
    addInitializer(g, rawTensor("c0", onnx::TensorProto::BOOL, {}, "\1", 1));
    onnx::GraphProto* thenBranch = addGraphAttr(ifNode, "then_branch");
    addNode(thenBranch, "Neg", {"x"}, {"t_out"});
    addOutput(thenBranch, "t_out");
    addOutput(g, "x_final");
    addOutput(g, "ys");
    addOutput(g, "half");
    Import im;
    EXPECT_FALSE(im.parse(model));
    const std::string errors = im.errors();
    EXPECT_NE(errors.find("'short_loop' (Loop): the body produces 2 outputs"), std::string::npos) << errors;
    EXPECT_NE(errors.find("'bad_axis' (Scan): scan_input_axes[0] = 2 is out of range"), std::string::npos) << errors;
    EXPECT_NE(errors.find("'half_if' (If): graph attribute 'else_branch' is missing"), std::string::npos) << errors;
}

TEST(OnnxControlFlow, VerifierChecksTheSubgraphBinding) {
    // An If whose branch lists fewer inputs than the node captures cannot bind by position.
    Graph graph;
    Value* cond = graph.addInput("cond", DataType::kBOOL, {});
    Value* x = graph.addInput("x", DataType::kFLOAT, {2});
    auto branch = std::make_shared<Graph>();
    Value* inner = branch->addInput("x", DataType::kFLOAT, {2});
    branch->markOutput(inner);
    Node* node = graph.addNode("If", "if", {cond, x}, {"y"});
    node->attrs.set("then_branch", branch);
    node->attrs.set("else_branch", branch);
    node->attrs.set(kCapturedInputsAttr, int64_t{1});
    graph.markOutput(node->outputs[0]);
    EXPECT_TRUE(verifyGraph(graph)) << verifyGraph(graph).message();
    node->attrs.set(kCapturedInputsAttr, int64_t{0});
    Status status = verifyGraph(graph);
    EXPECT_FALSE(status);
    EXPECT_NE(status.message().find("subgraph 'else_branch' has 1 inputs, its binding gives 0"), std::string::npos)
        << status.message();
}

}  // namespace
}  // namespace kiln::test
