// The CPU Loop kernel on IR graphs built by hand (captures bound by position, ir/control_flow.h):
// while-loops that stop on the body's condition, trip-count limits (negative ones run nothing),
// against a reference computed here. The trip count is data-dependent, so the kernel runs with
// output buffers of the reference's shapes.

#include <gtest/gtest.h>

#include <cmath>

#include "backends/cpu/kernel_registry.h"
#include "ir/control_flow.h"
#include "ir/shape_inference.h"
#include "ir/verifier.h"
#include "test_support.h"

namespace kiln::test {
namespace {

/// Loop body: v' = v * 2; cond' = v' < limit (limit captured); emits v'.
std::shared_ptr<Graph> doublingBody() {
    auto body = std::make_shared<Graph>();
    body->addInput("i", DataType::kINT64, {});
    body->addInput("cond_in", DataType::kBOOL, {});
    Value* v = body->addInput("v", DataType::kFLOAT, {});
    Value* limit = body->addInput("limit", DataType::kFLOAT, {});
    Value* two = body->addConstant("two", Tensor::scalarFloat(2.0f));
    Node* mul = body->addNode("Mul", "double", {v, two}, {"v_out"});
    Node* less = body->addNode("Less", "below", {mul->outputs[0], limit}, {"cond_out"});
    Node* emit = body->addNode("Identity", "emit", {mul->outputs[0]}, {"emitted"});
    body->markOutput(less->outputs[0]);
    body->markOutput(mul->outputs[0]);
    body->markOutput(emit->outputs[0]);
    EXPECT_TRUE(inferGraphShapes(*body, ShapeInferenceOptions{}));
    return body;
}

struct LoopRun {
    Status status;
    Tensor final, stacked;
};

/// Runs Loop(M, cond, v0) with `limit` captured; outputs get the shapes the reference expects.
LoopRun runLoop(const Tensor* m, const Tensor* cond, const Tensor& v0, const Tensor& limit, int64_t expectedTrips) {
    Graph graph;
    Value* mValue = m ? graph.addInput("M", DataType::kINT64, {}) : nullptr;
    Value* condValue = cond ? graph.addInput("cond", DataType::kBOOL, {}) : nullptr;
    Value* v = graph.addInput("v0", DataType::kFLOAT, {});
    Value* limitValue = graph.addInput("limit", DataType::kFLOAT, {});
    Node* loop = graph.addNode("Loop", "loop", {mValue, condValue, v, limitValue}, {"v_final", "stacked"});
    loop->attrs.set("body", doublingBody());
    loop->attrs.set(kCapturedInputsAttr, int64_t{1});
    graph.markOutput(loop->outputs[0]);
    graph.markOutput(loop->outputs[1]);
    LoopRun result;
    result.status = verifyGraph(graph);
    if (result.status) result.status = inferGraphShapes(graph, ShapeInferenceOptions{});
    if (!result.status) return result;
    EXPECT_FALSE(loop->outputs[1]->shape[0].isKnown()) << "the trip count depends on data";

    auto kernel = CpuKernelRegistry::global().find(*loop)->create(*loop);
    if (!kernel) {
        result.status = kernel.status();
        return result;
    }
    result.final = Tensor::allocate(DataType::kFLOAT, {});
    result.stacked = Tensor::allocate(DataType::kFLOAT, {expectedTrips});
    std::vector<TensorView> inputs = {m ? viewOf(*m) : TensorView{}, cond ? viewOf(*cond) : TensorView{}, viewOf(v0),
                                      viewOf(limit)};
    std::vector<TensorView> outputs = {viewOf(result.final), viewOf(result.stacked)};
    result.status = (*kernel)->reshape(inputs, outputs);
    if (!result.status) return result;
    KernelIO io;
    io.inputs = inputs.data();
    io.numInputs = inputs.size();
    io.outputs = outputs.data();
    io.numOutputs = outputs.size();
    result.status = (*kernel)->run(io);
    return result;
}

Tensor int64Scalar(int64_t value) { return Tensor::fromInt64({value}, {}); }

Tensor boolScalar(bool value) {
    Tensor t = Tensor::allocate(DataType::kBOOL, {});
    t.data<bool>()[0] = value;
    return t;
}

/// The doubling loop in double: the values emitted.
std::vector<double> reference(double v0, double limit, std::optional<int64_t> m, bool useCond, bool cond) {
    std::vector<double> emitted;
    double v = v0;
    for (int64_t i = 0; (!m || i < *m) && (!useCond || cond); ++i) {
        v *= 2.0;
        cond = v < limit;
        emitted.push_back(v);
    }
    return emitted;
}

TEST(LoopKernel, WhileLoopStopsOnTheBodysCondition) {
    for (uint32_t seed = 1; seed <= 6; ++seed) {
        const Tensor v0 = randomTensor(DataType::kFLOAT, {}, 0.1, 1.0, seed);
        const Tensor limit = randomTensor(DataType::kFLOAT, {}, 5.0, 100.0, seed + 100);
        const Tensor cond = boolScalar(true);
        const std::vector<double> ref =
            reference(v0.elementAsDouble(0), limit.elementAsDouble(0), std::nullopt, true, true);
        LoopRun run = runLoop(nullptr, &cond, v0, limit, static_cast<int64_t>(ref.size()));
        ASSERT_TRUE(run.status) << run.status.message();
        EXPECT_EQ(compareWithReference(run.stacked, ref, 1e-6, 0), "") << "seed " << seed;
        EXPECT_EQ(compareWithReference(run.final, {ref.back()}, 1e-6, 0), "");
    }
}

TEST(LoopKernel, TripCountLimitsAndCondition) {
    const Tensor v0 = randomTensor(DataType::kFLOAT, {}, 0.1, 1.0, 7);
    const Tensor limit = randomTensor(DataType::kFLOAT, {}, 50.0, 100.0, 8);
    struct Case {
        std::optional<int64_t> m;
        std::optional<bool> cond;
    };
    for (const Case& c : {Case{3, true}, Case{3, std::nullopt}, Case{40, std::nullopt}, Case{2, false}, Case{-3, true}}) {
        const Tensor m = int64Scalar(c.m.value_or(0));
        const Tensor cond = boolScalar(c.cond.value_or(true));
        // A negative trip count runs nothing; without a cond input the body's cond is ignored.
        const std::optional<int64_t> limitCount = c.m ? std::optional<int64_t>(std::max<int64_t>(0, *c.m)) : std::nullopt;
        const std::vector<double> ref = reference(v0.elementAsDouble(0), limit.elementAsDouble(0), limitCount,
                                                  c.cond.has_value(), c.cond.value_or(true));
        LoopRun run = runLoop(&m, c.cond ? &cond : nullptr, v0, limit, static_cast<int64_t>(ref.size()));
        ASSERT_TRUE(run.status) << run.status.message();
        EXPECT_EQ(run.stacked.shape(), (Shape{static_cast<int64_t>(ref.size())}));
        EXPECT_EQ(compareWithReference(run.stacked, ref, 1e-6, 0), "") << "M " << *c.m;
        const double last = ref.empty() ? v0.elementAsDouble(0) : ref.back();
        EXPECT_EQ(compareWithReference(run.final, {last}, 1e-6, 0), "") << "M " << *c.m;
    }
}

TEST(LoopKernel, ATripCountOtherThanPlannedIsAnError) {
    const Tensor v0 = randomTensor(DataType::kFLOAT, {}, 0.1, 1.0, 9);
    const Tensor limit = randomTensor(DataType::kFLOAT, {}, 50.0, 100.0, 10);
    const Tensor m = int64Scalar(3);
    LoopRun run = runLoop(&m, nullptr, v0, limit, 5);
    EXPECT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("planned as"), std::string::npos) << run.status.message();
}

}  // namespace
}  // namespace kiln::test
