// The channels-last layout pass (passes/channels_last_layout.h) on float graphs (the test's own type
// set; the builder uses float16 and bfloat16): the rewritten graph computes what the NCHW graph did on
// the CPU backend, and the regions keep only their boundary transposes.

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "ir/ops/layout_attributes.h"
#include "pass_test_util.h"
#include "passes/channels_last_layout.h"
#include "passes/layout_cancellation.h"
#include "passes/pipeline.h"

namespace kiln::test {
namespace {

BackendSupport cpuSupport() {
    return [](const Node& node, std::string* reason) { return cpuBackend().supports(node, reason); };
}

size_t countChannelsLastConvs(const Graph& g) {
    size_t n = 0;
    for (const auto& node : g.nodes())
        n += node->opType == "FusedConv" && node->attrs.getInt(kChannelsLastAttribute, 0) == 1;
    return n;
}

class ChannelsLastLayoutTest : public ::testing::Test {
protected:
    Graph graph;
    std::map<std::string, Tensor> inputs;
    uint32_t seed = 1;

    Value* input(const std::string& name, const Shape& shape, DataType type = DataType::kFLOAT) {
        inputs[name] = randomTensor(type, shape, -2, 2, seed++);
        return graph.addInput(name, type, fromConcrete(shape));
    }
    Value* random(const Shape& shape) {
        return graph.addConstant(graph.uniqueValueName("w"), randomTensor(DataType::kFLOAT, shape, -1, 1, seed++));
    }
    Value* layer(const std::string& op, std::vector<Value*> in, AttributeMap attrs = {}, const std::string& domain = "") {
        Node* node = graph.addNode(op, op + "_" + std::to_string(graph.nodes().size()), std::move(in), {}, 1);
        node->attrs = std::move(attrs);
        node->domain = domain;
        return node->outputs[0];
    }
    /// A square-kernel 2-D convolution with bias: `pad` on every side.
    Value* conv(Value* x, int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad, int64_t group = 1) {
        AttributeMap attrs;
        attrs.set("strides", std::vector<int64_t>{stride, stride});
        attrs.set("pads", std::vector<int64_t>{pad, pad, pad, pad});
        attrs.set("group", group);
        return layer("Conv", {x, random({out, in / group, kernel, kernel}), random({out})}, attrs);
    }
    Value* output(Value* v, const std::string& name) {
        v->name = name;
        graph.markOutput(v);
        return v;
    }

    /// Runs the pass on a copy of the graph, checks it computes the same outputs on the CPU, returns it.
    std::unique_ptr<Graph> runAndCompare(std::set<DataType> types = {DataType::kFLOAT}, bool expectChange = true) {
        std::vector<Tensor> reference = runOnCpu(graph, inputs);
        ChannelsLastLayout pass(std::move(types), cpuSupport());
        bool changed = false;
        auto g = runPass(graph, pass, &changed);
        EXPECT_EQ(changed, expectChange);
        std::vector<Tensor> actual = runOnCpu(*g, inputs);
        EXPECT_EQ(actual.size(), reference.size());
        for (size_t i = 0; i < actual.size() && i < reference.size(); ++i) {
            EXPECT_EQ(actual[i].shape(), reference[i].shape()) << "output " << i;
            EXPECT_EQ(compareWithReference(actual[i], reference[i].toDoubleVector(), 1e-5, 1e-6), "") << "output " << i;
        }
        EXPECT_EQ(g->outputs().size(), graph.outputs().size());
        for (size_t i = 0; i < g->outputs().size() && i < graph.outputs().size(); ++i)
            EXPECT_EQ(g->outputs()[i]->name, graph.outputs()[i]->name);
        return g;
    }
};

TEST_F(ChannelsLastLayoutTest, ResNetStackBecomesOneNhwcRegion) {
    // Conv -> Relu -> MaxPool -> Conv -> FusedConv(+residual) -> Relu -> GlobalAveragePool -> Flatten -> Gemm
    Value* x = input("x", {2, 3, 16, 16});
    Value* stem = layer("Relu", {conv(x, 3, 8, 3, 2, 1)});
    AttributeMap poolAttrs;
    poolAttrs.set("kernel_shape", std::vector<int64_t>{3, 3});
    poolAttrs.set("strides", std::vector<int64_t>{2, 2});
    poolAttrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
    Value* pooled = layer("MaxPool", {stem}, poolAttrs);
    Value* branch = conv(pooled, 8, 8, 3, 1, 1);
    Value* residual = layer("FusedConv", {branch, random({8, 8, 1, 1}), random({8}), pooled}, {}, "kiln");
    Value* features = layer("GlobalAveragePool", {layer("Relu", {residual})});
    AttributeMap flat;
    flat.set("axis", int64_t{1});
    Value* flattened = layer("Flatten", {features}, flat);
    output(layer("Gemm", {flattened, random({8, 5}), random({5})}), "logits");

    auto g = runAndCompare();
    EXPECT_EQ(countChannelsLastConvs(*g), 3u);
    EXPECT_EQ(countOps(*g, "Conv"), 0u);
    EXPECT_EQ(countOps(*g, "ChannelsLastPool"), 1u);
    EXPECT_EQ(countOps(*g, "MaxPool"), 0u);
    EXPECT_EQ(countOps(*g, "ReduceMean"), 1u);
    EXPECT_EQ(countOps(*g, "GlobalAveragePool"), 0u);
    // One Transpose into the region (of x), at most one out of it (before Flatten); weights folded.
    size_t fromInput = 0, other = 0;
    for (const auto& node : g->nodes()) {
        if (node->opType != "Transpose") continue;
        (node->input(0) == g->inputs()[0] ? fromInput : other) += 1;
    }
    EXPECT_EQ(fromInput, 1u);
    EXPECT_LE(other, 1u);
    for (const auto& node : g->nodes())
        if (node->opType == "FusedConv") EXPECT_TRUE(node->input(1)->isConstant()) << node->describe();
}

TEST_F(ChannelsLastLayoutTest, SqueezeExciteBlockStaysInNhwc) {
    Value* x = input("x", {2, 4, 6, 6});
    Value* block = conv(x, 4, 8, 3, 1, 1);
    Value* squeezed = layer("GlobalAveragePool", {block});
    Value* gate = layer("Sigmoid", {conv(layer("Relu", {conv(squeezed, 8, 2, 1, 1, 0)}), 2, 8, 1, 1, 0)});
    output(layer("Mul", {block, gate}), "y");

    auto g = runAndCompare();
    EXPECT_EQ(countChannelsLastConvs(*g), 3u);
    EXPECT_EQ(countOps(*g, "ReduceMean"), 1u);
    // x into NHWC, y back to NCHW: nothing in between.
    EXPECT_EQ(countOps(*g, "Transpose"), 2u);
    const Value* y = g->outputs()[0];
    ASSERT_NE(y->producer, nullptr);
    EXPECT_EQ(y->producer->opType, "Transpose");
    EXPECT_EQ(symShapeToString(y->shape), "(2, 8, 6, 6)");
}

TEST_F(ChannelsLastLayoutTest, DepthwiseConvolutionsKeepTheirGroups) {
    Value* x = input("x", {1, 6, 9, 9});
    Value* depthwise = layer("Relu", {conv(x, 6, 6, 3, 1, 1, 6)});
    output(conv(depthwise, 6, 12, 3, 2, 1, 6), "y");  // channel multiplier 2

    auto g = runAndCompare();
    EXPECT_EQ(countChannelsLastConvs(*g), 2u);
    EXPECT_EQ(countOps(*g, "Transpose"), 2u);
    for (const auto& node : g->nodes())
        if (node->opType == "FusedConv") EXPECT_EQ(node->attrs.getInt("group", 1), 6);
}

TEST_F(ChannelsLastLayoutTest, ConcatBroadcastOperandsAndAveragePoolJoinTheRegion) {
    // Two convolutions concatenated on channels, a rank-3 per-channel constant and a computed [N, C, 1, 1]
    // operand broadcast over them, an AveragePool counting its padding.
    Value* x = input("x", {2, 3, 7, 7});
    Value* scale = input("scale", {2, 8, 1, 1});
    AttributeMap onChannels;
    onChannels.set("axis", int64_t{1});
    Value* joined = layer("Concat", {conv(x, 3, 4, 3, 1, 1), conv(x, 3, 4, 1, 1, 0)}, onChannels);
    Value* shifted = layer("Add", {joined, random({8, 1, 1})});
    Value* scaled = layer("Mul", {layer("Tanh", {scale}), shifted});
    AttributeMap avg;
    avg.set("kernel_shape", std::vector<int64_t>{2, 3});
    avg.set("pads", std::vector<int64_t>{1, 1, 0, 1});
    avg.set("count_include_pad", int64_t{1});
    avg.set("ceil_mode", int64_t{1});
    output(layer("AveragePool", {scaled}, avg), "y");

    auto g = runAndCompare();
    EXPECT_EQ(countChannelsLastConvs(*g), 2u);
    EXPECT_EQ(countOps(*g, "ChannelsLastPool"), 1u);
    for (const auto& node : g->nodes())
        if (node->opType == "Concat") EXPECT_EQ(node->attrs.getInt("axis", 0), 3);
}

TEST_F(ChannelsLastLayoutTest, AnInvertedResidualBlockAfterTheDefaultPipelineIsOneRegion) {
    // MobileNetV2's block: expand 1x1 -> BN -> ReLU6 -> depthwise 3x3 -> BN -> ReLU6 -> project 1x1 -> BN -> + x.
    // The pipeline folds the BNs and fuses the activations and the residual into FusedConvs first.
    Value* x = input("x", {2, 8, 10, 10});
    auto batchNorm = [&](Value* v, int64_t channels) {
        Tensor variance = randomTensor(DataType::kFLOAT, {channels}, 0.5, 1.5, seed++);
        Value* var = graph.addConstant(graph.uniqueValueName("var"), variance);
        return layer("BatchNormalization", {v, random({channels}), random({channels}), random({channels}), var});
    };
    auto relu6 = [&](Value* v) {
        Tensor lo = Tensor::allocate(DataType::kFLOAT, {}), hi = Tensor::allocate(DataType::kFLOAT, {});
        lo.data<float>()[0] = 0.f;
        hi.data<float>()[0] = 6.f;
        return layer("Clip", {v, graph.addConstant(graph.uniqueValueName("lo"), lo),
                              graph.addConstant(graph.uniqueValueName("hi"), hi)});
    };
    Value* expanded = relu6(batchNorm(conv(x, 8, 16, 1, 1, 0), 16));
    Value* filtered = relu6(batchNorm(conv(expanded, 16, 16, 3, 1, 1, 16), 16));
    output(layer("Add", {batchNorm(conv(filtered, 16, 8, 1, 1, 0), 8), x}), "y");

    std::vector<Tensor> reference = runOnCpu(graph, inputs);
    auto g = graph.clone();
    CpuNodeEvaluator evaluator;
    ShapeInferenceOptions options;
    options.evaluator = &evaluator;
    ASSERT_TRUE(inferGraphShapes(*g, options).isOk());
    PassContext ctx{Logger(), &evaluator, {}};
    ASSERT_TRUE(defaultPipeline().run(*g, ctx).isOk());
    ASSERT_TRUE(inferGraphShapes(*g, options).isOk());
    ChannelsLastLayout pass({DataType::kFLOAT}, cpuSupport());
    auto changed = pass.run(*g, ctx);
    ASSERT_TRUE(changed.isOk()) << changed.status().message();
    EXPECT_TRUE(changed.value());
    EXPECT_EQ(countChannelsLastConvs(*g), 3u);
    EXPECT_EQ(countOps(*g, "Transpose"), 2u);  // x in (read by the first convolution and the residual), y out
    std::vector<Tensor> actual = runOnCpu(*g, inputs);
    ASSERT_EQ(actual.size(), 1u);
    EXPECT_EQ(compareWithReference(actual[0], reference[0].toDoubleVector(), 1e-5, 1e-5), "");
}

TEST_F(ChannelsLastLayoutTest, AnNchwGraphOutputKeepsItsTransposeWhileOtherReadersMoveOn) {
    Value* x = input("x", {1, 3, 5, 5});
    Value* features = output(conv(x, 3, 4, 3, 1, 1), "features");
    output(layer("Relu", {features}), "activated");

    auto g = runAndCompare();
    // x in; one Transpose making "features", another making "activated".
    EXPECT_EQ(countOps(*g, "Transpose"), 3u);
    for (const Value* out : g->outputs()) {
        ASSERT_NE(out->producer, nullptr);
        EXPECT_EQ(out->producer->opType, "Transpose") << out->name;
    }
    const Node* relu = nullptr;
    for (const auto& node : g->nodes())
        if (node->opType == "Relu") relu = node.get();
    ASSERT_NE(relu, nullptr);
    EXPECT_EQ(relu->input(0)->producer->opType, "FusedConv");  // reads the NHWC result directly
}

TEST_F(ChannelsLastLayoutTest, AFullSizeNchwOperandMakesABoundary) {
    // Moving the Transpose below the Add would need another as large on `skip`: the Add stays NCHW.
    Value* x = input("x", {1, 3, 6, 6});
    Value* skip = input("skip", {1, 4, 6, 6});
    output(layer("Add", {layer("Relu", {conv(x, 3, 4, 3, 1, 1)}), skip}), "y");
    auto g = runAndCompare();
    EXPECT_EQ(countOps(*g, "Transpose"), 2u);  // x in, Relu's result out
    for (const auto& node : g->nodes())
        if (node->opType == "Add") EXPECT_EQ(node->input(1), g->inputs()[1]);
}

TEST_F(ChannelsLastLayoutTest, OneAndThreeDimensionalConvolutionsStayNchw) {
    Value* signal = input("signal", {2, 3, 10});
    AttributeMap noAttrs;
    output(layer("Conv", {signal, random({4, 3, 3}), random({4})}, noAttrs), "y1");
    Value* volume = input("volume", {1, 2, 4, 5, 6});
    output(layer("Relu", {layer("Conv", {volume, random({3, 2, 2, 2, 2})}, noAttrs)}), "y3");

    auto g = runAndCompare({DataType::kFLOAT}, false);
    EXPECT_EQ(countOps(*g, "Conv"), 2u);
    EXPECT_EQ(countOps(*g, "Transpose"), 0u);
}

TEST_F(ChannelsLastLayoutTest, Fp16ConvolutionsGetFoldedNhwcWeights) {
    // The builder's type set on an FP16 graph (structure only: the CPU has no FP16 convolution).
    Value* x = input("x", {1, 3, 5, 5}, DataType::kHALF);
    Tensor weights = randomTensor(DataType::kHALF, {4, 3, 3, 3}, -1, 1, seed++);
    Value* w = graph.addConstant("w", weights);
    output(layer("Relu", {layer("Conv", {x, w})}), "y");
    ChannelsLastLayout pass({DataType::kHALF, DataType::kBF16}, [](const Node&, std::string*) { return true; });
    bool changed = false;
    auto g = runPass(graph, pass, &changed);
    ASSERT_TRUE(changed);
    ASSERT_EQ(countChannelsLastConvs(*g), 1u);
    EXPECT_EQ(countOps(*g, "Transpose"), 2u);
    for (const auto& node : g->nodes()) {
        if (node->opType != "FusedConv") continue;
        const Value* folded = node->input(1);
        ASSERT_TRUE(folded->isConstant());
        ASSERT_EQ(folded->constant->dtype(), DataType::kHALF);
        ASSERT_EQ(folded->constant->shape(), (Shape{4, 3, 3, 3}));
        // [k, r, s, c] of the folded weights is [k, c, r, s] of the original.
        for (int64_t k = 0; k < 4; ++k)
            for (int64_t r = 0; r < 3; ++r)
                for (int64_t c = 0; c < 3; ++c)
                    EXPECT_EQ(folded->constant->elementAsDouble(((k * 3 + r) * 3 + 2) * 3 + c),
                              weights.elementAsDouble(((k * 3 + c) * 3 + r) * 3 + 2));
        EXPECT_EQ(symShapeToString(node->output(0)->shape), "(1, 3, 3, 4)");
    }
}

TEST_F(ChannelsLastLayoutTest, ConvolutionsOfOtherTypesAreLeftAlone) {
    Value* x = input("x", {1, 3, 6, 6});
    output(layer("Relu", {conv(x, 3, 4, 3, 1, 1)}), "y");
    auto g = runAndCompare({DataType::kHALF, DataType::kBF16}, false);
    EXPECT_EQ(countOps(*g, "Conv"), 1u);
    EXPECT_EQ(countOps(*g, "Transpose"), 0u);
}

TEST_F(ChannelsLastLayoutTest, LayersTheBackendRefusesAreRegionBoundaries) {
    Value* x = input("x", {1, 3, 6, 6});
    AttributeMap pool;
    pool.set("kernel_shape", std::vector<int64_t>{2, 2});
    output(layer("MaxPool", {layer("Relu", {conv(x, 3, 4, 3, 1, 1)})}, pool), "y");
    std::vector<Tensor> reference = runOnCpu(graph, inputs);
    ChannelsLastLayout pass({DataType::kFLOAT}, [](const Node& node, std::string* reason) {
        if (node.opType == "ChannelsLastPool") {
            *reason = "no NHWC pooling here";
            return false;
        }
        return cpuBackend().supports(node, reason);
    });
    auto g = runPass(graph, pass);
    EXPECT_EQ(countOps(*g, "ChannelsLastPool"), 0u);
    EXPECT_EQ(countOps(*g, "MaxPool"), 1u);
    EXPECT_EQ(countOps(*g, "Transpose"), 2u);
    std::vector<Tensor> actual = runOnCpu(*g, inputs);
    ASSERT_EQ(actual.size(), 1u);
    EXPECT_EQ(compareWithReference(actual[0], reference[0].toDoubleVector(), 1e-5, 1e-6), "");
}

TEST_F(ChannelsLastLayoutTest, LayoutCancellationRemovesOppositeTransposesInBothOrders) {
    Value* x = input("x", {2, 3, 4, 5});
    AttributeMap toNhwc, toNchw;
    toNhwc.set("perm", std::vector<int64_t>{0, 2, 3, 1});
    toNchw.set("perm", std::vector<int64_t>{0, 3, 1, 2});
    output(layer("Relu", {layer("Transpose", {layer("Transpose", {x}, toNhwc)}, toNchw)}), "a");
    output(layer("Sigmoid", {layer("Transpose", {layer("Transpose", {x}, toNchw)}, toNhwc)}), "b");
    LayoutCancellation pass;
    auto g = runPass(graph, pass);
    EXPECT_EQ(countOps(*g, "Transpose"), 0u);
    for (const auto& node : g->nodes()) EXPECT_EQ(node->input(0), g->inputs()[0]) << node->describe();
}

}  // namespace
}  // namespace kiln::test
