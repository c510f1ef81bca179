#pragma once
// Small helpers shared by the pass tests: make a network by hand, run a pass on its graph.

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "engine_runner.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "passes/pass.h"
#include "passes/pipeline.h"
#include "test_support.h"

namespace kiln::test {

inline size_t countOps(const Graph& g, const std::string& op) {
    size_t n = 0;
    for (const auto& node : g.nodes()) n += node->opType == op;
    return n;
}

/// A fixture with a network to build by hand and the small helpers the pass tests share.
class NetworkTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    ITensor* scalar(float v) { return net->addConstant(Dims{}, DataType::kFLOAT, &v); }
    ITensor* constant(const Tensor& t) {
        Dims d;
        d.nbDims = static_cast<int32_t>(t.rank());
        for (int32_t i = 0; i < d.nbDims; ++i) d.d[i] = t.shape()[static_cast<size_t>(i)];
        return net->addConstant(d, t.dtype(), t.data());
    }
    ITensor* op(const char* type, std::vector<ITensor*> in, LayerAttributes attrs = {}) {
        ILayer* l = net->addLayer(type, in, 1, attrs);
        EXPECT_NE(l, nullptr) << type;
        return l ? l->getOutput(0) : nullptr;
    }
    ITensor* ints(std::vector<int64_t> v) {
        return net->addConstant(Dims{static_cast<int64_t>(v.size())}, DataType::kINT64, v.data());
    }
};

/// A clone of the network's graph after symbolic shape inference, with `run(graph, context)` applied.
template <typename Run>
std::unique_ptr<Graph> runOnInferredClone(const Graph& network, Run&& run) {
    auto g = network.clone();
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    EXPECT_TRUE(inferGraphShapes(*g, options).isOk());
    PassContext ctx{Logger(), &evaluator, {}};
    run(*g, ctx);
    return g;
}

/// Runs `pass` on a clone of the network's graph after symbolic shape inference; returns the clone.
inline std::unique_ptr<Graph> runPass(const Graph& network, Pass& pass, bool* changed = nullptr) {
    return runOnInferredClone(network, [&](Graph& g, PassContext& ctx) {
        auto result = pass.run(g, ctx);
        EXPECT_TRUE(result.isOk()) << result.status().message();
        if (changed) *changed = result.isOk() && result.value();
    });
}

/// Every node of `network` run on the CPU backend (through shape inference with an unbounded evaluator,
/// after annotating a copy with its shapes, which kernels read when they are made); the graph outputs'
/// values, in order.
inline std::vector<Tensor> runOnCpu(const Graph& network, const std::map<std::string, Tensor>& inputs) {
    auto annotated = network.clone();
    const Graph& graph = *annotated;
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    Status annotation = inferGraphShapes(*annotated, options);
    EXPECT_TRUE(annotation.isOk()) << annotation.message();
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    for (const Value* in : graph.inputs()) {
        ValueInfo& info = infos[static_cast<size_t>(in->id)];
        info.value = inputs.at(in->name);
        info.shape = fromConcrete(info.value->shape());
        info.known = true;
    }
    options.maxPropagatedElements = std::numeric_limits<int64_t>::max();
    Status status = inferShapes(graph, infos, options);
    EXPECT_TRUE(status.isOk()) << status.message();
    std::vector<Tensor> outputs;
    for (const Value* out : graph.outputs()) {
        const ValueInfo& info = infos[static_cast<size_t>(out->id)];
        EXPECT_TRUE(info.value.has_value()) << "output " << out->name << " was not computed";
        if (info.value) outputs.push_back(*info.value);
    }
    return outputs;
}

/// Runs the default pipeline on a clone of the network's graph (as the builder does before lowering).
inline std::unique_ptr<Graph> runPipeline(const Graph& network) {
    return runOnInferredClone(network, [](Graph& g, PassContext& ctx) {
        auto stats = defaultPipeline().run(g, ctx);
        EXPECT_TRUE(stats.isOk()) << stats.status().message();
    });
}

/// Builds and runs the network with and without graph optimization; expects equal outputs. An input
/// with dynamic dims gets a one-point optimization profile at the given tensor's shape.
inline void expectSameResultsWithAndWithoutPasses(Builder& builder, NetworkDefinition& network,
                                                  const std::map<std::string, Tensor>& inputs, double rtol = 1e-5,
                                                  double atol = 1e-6) {
    CapturingLogger logger;
    auto config = builder.createBuilderConfig();
    auto profile = builder.createOptimizationProfile();
    bool dynamic = false;
    for (const Value* in : network.graph().inputs()) {
        if (isFullyKnown(in->shape) || !inputs.count(in->name)) continue;
        Dims dims;
        for (int64_t d : inputs.at(in->name).shape()) dims.d[dims.nbDims++] = d;
        for (auto point : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX})
            profile->setDimensions(in->name.c_str(), point, dims);
        dynamic = true;
    }
    if (dynamic) config->addOptimizationProfile(profile.get());
    EngineRun optimized = buildAndRun(builder, network, *config, inputs, logger);
    config->setFlag(BuilderFlag::kNO_GRAPH_OPTIMIZATION);
    EngineRun plain = buildAndRun(builder, network, *config, inputs, logger);
    ASSERT_TRUE(optimized.ok);
    ASSERT_TRUE(plain.ok);
    ASSERT_EQ(optimized.outputs.size(), plain.outputs.size());
    for (size_t i = 0; i < plain.outputs.size(); ++i) {
        ASSERT_EQ(optimized.outputs[i].shape(), plain.outputs[i].shape());
        EXPECT_EQ(compareWithReference(optimized.outputs[i], plain.outputs[i].toDoubleVector(), rtol, atol), "");
    }
}

}  // namespace kiln::test
