// The channels-first conv input pass (passes/channels_first_conv_input.h) after the channels-last layout,
// on float graphs with the CPU backend's support check: a stem convolution over 1 to 4 channels reads the
// NCHW input itself (its to-NHWC Transpose gone) and the graph computes what the NCHW graph did on the CPU
// backend, whose channels-last FusedConv reads the NCHW X as it is; a Transpose with a second reader, a
// convolution over 16 channels, a grouped one, a Transpose of another permutation and a backend that
// refuses the form are left alone. A float image's Cast to float16 / bfloat16 before the Transpose is
// folded too where the backend takes a float X: the CPU backend has no FusedConv in those types, so that
// rewrite is checked on the graph's nodes, edges and inferred types instead of by running it. Also
// FusedConv's shape inference of the form.

#include <gtest/gtest.h>

#include "backends/cpu/cpu_backend.h"
#include "ir/onnx_types.h"
#include "ir/ops/layout_attributes.h"
#include "pass_test_util.h"
#include "passes/channels_first_conv_input.h"
#include "passes/channels_last_layout.h"

namespace kiln::test {
namespace {

BackendSupport cpuSupport() {
    return [](const Node& node, std::string* reason) { return cpuBackend().supports(node, reason); };
}

/// The channels-last FusedConvs of `g` that read their X in NCHW.
size_t countChannelsFirstInputConvs(const Graph& g) {
    size_t n = 0;
    for (const auto& node : g.nodes())
        n += node->opType == "FusedConv" && node->attrs.getInt(kChannelsLastAttribute, 0) == 1 &&
             node->attrs.getInt(kInputChannelsFirstAttribute, 0) == 1;
    return n;
}

class ChannelsFirstConvInputTest : public ::testing::Test {
protected:
    Graph graph;
    std::map<std::string, Tensor> inputs;
    uint32_t seed = 1;

    Value* input(const std::string& name, const Shape& shape) {
        inputs[name] = randomTensor(DataType::kFLOAT, shape, -2, 2, seed++);
        return graph.addInput(name, DataType::kFLOAT, fromConcrete(shape));
    }
    Value* random(const Shape& shape, DataType type = DataType::kFLOAT) {
        return graph.addConstant(graph.uniqueValueName("w"), randomTensor(type, shape, -1, 1, seed++));
    }
    Value* layer(const std::string& op, std::vector<Value*> in, AttributeMap attrs = {},
                 const std::string& domain = "") {
        Node* node = graph.addNode(op, op + "_" + std::to_string(graph.nodes().size()), std::move(in), {}, 1);
        node->attrs = std::move(attrs);
        node->domain = domain;
        return node->outputs[0];
    }
    static AttributeMap window(int64_t stride, int64_t pad, int64_t group = 1) {
        AttributeMap attrs;
        attrs.set("strides", std::vector<int64_t>{stride, stride});
        attrs.set("pads", std::vector<int64_t>{pad, pad, pad, pad});
        attrs.set("group", group);
        return attrs;
    }
    /// A square-kernel 2-D convolution with bias of X's type, `pad` on every side.
    Value* conv(Value* x, int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad, int64_t group = 1) {
        return layer("Conv", {x, random({out, in / group, kernel, kernel}, x->dtype), random({out}, x->dtype)},
                     window(stride, pad, group));
    }
    /// X rounded to `type` (precision assignment's Cast before an FP16 / BF16 layer).
    Value* cast(Value* x, DataType type) {
        AttributeMap attrs;
        attrs.set("to", dataTypeToOnnx(type));
        Value* y = layer("Cast", {x}, attrs);
        y->dtype = type;
        return y;
    }
    Value* relu6(Value* x) {
        Value* lo = graph.addConstant(graph.uniqueValueName("lo"), Tensor::scalarFloat(0.f));
        Value* hi = graph.addConstant(graph.uniqueValueName("hi"), Tensor::scalarFloat(6.f));
        return layer("Clip", {x, lo, hi});
    }
    void output(Value* v, const std::string& name) {
        v->name = name;
        graph.markOutput(v);
    }

    /// The channels-last layout (float convolutions) and then the pass with `supports` on a copy of the
    /// graph; checks it computes the NCHW graph's outputs on the CPU and whether the pass changed it.
    std::unique_ptr<Graph> layoutAndRun(bool expectChange, BackendSupport supports = cpuSupport()) {
        const std::vector<Tensor> reference = runOnCpu(graph, inputs);
        ChannelsLastLayout layout({DataType::kFLOAT}, cpuSupport());
        auto g = runPass(graph, layout);
        transposesBefore = countOps(*g, "Transpose");
        ChannelsFirstConvInput pass(std::move(supports));
        bool changed = false;
        g = runPass(*g, pass, &changed);
        EXPECT_EQ(changed, expectChange);
        const std::vector<Tensor> actual = runOnCpu(*g, inputs);
        EXPECT_EQ(actual.size(), reference.size());
        for (size_t i = 0; i < actual.size() && i < reference.size(); ++i) {
            EXPECT_EQ(actual[i].shape(), reference[i].shape()) << "output " << i;
            EXPECT_EQ(compareWithReference(actual[i], reference[i].toDoubleVector(), 1e-5, 1e-5), "") << "output " << i;
        }
        return g;
    }

    size_t transposesBefore{0};

    /// x (float 2x3x17x15) -> Cast to `type` -> Transpose to NHWC -> channels-last FusedConv 3->16 of
    /// `type` -> y: what the channels-last layout leaves of an FP16 / BF16 network's stem. The CPU backend
    /// has no FusedConv in these types, so the rewrite is checked on the graph's nodes and edges, and by
    /// shape inference of the result.
    void castStem(DataType type) {
        Value* image = cast(input("x", {2, 3, 17, 15}), type);
        AttributeMap perm;
        perm.set("perm", std::vector<int64_t>{0, 2, 3, 1});
        AttributeMap attrs = window(2, 1);
        attrs.set(kChannelsLastAttribute, int64_t{1});
        attrs.set("activation", std::string("Relu"));
        output(layer("FusedConv", {layer("Transpose", {image}, perm), random({16, 3, 3, 3}, type), random({16}, type)},
                     attrs, "kiln"),
               "y");
    }
    /// The pass alone with `supports`; the result's shapes inferred again.
    std::unique_ptr<Graph> runAlone(BackendSupport supports, bool expectChange) {
        ChannelsFirstConvInput pass(std::move(supports));
        bool changed = !expectChange;
        auto g = runPass(graph, pass, &changed);
        EXPECT_EQ(changed, expectChange);
        Status inferred = inferGraphShapes(*g, ShapeInferenceOptions{});
        EXPECT_TRUE(inferred.isOk()) << inferred.message();
        return g;
    }
    /// castStem(type) with a backend that takes float X: the convolution reads the graph input, the Cast
    /// and the Transpose are gone, the layer stays of `type`.
    void expectCastFolded(DataType type) {
        castStem(type);
        auto g = runAlone([](const Node&, std::string*) { return true; }, true);
        EXPECT_EQ(countOps(*g, "Cast"), 0u);
        EXPECT_EQ(countOps(*g, "Transpose"), 0u);
        const Node* conv = theConv(*g);
        ASSERT_NE(conv, nullptr);
        EXPECT_EQ(conv->attrs.getInt(kInputChannelsFirstAttribute, 0), 1);
        EXPECT_EQ(conv->input(0), g->inputs()[0]);
        EXPECT_EQ(conv->input(0)->dtype, DataType::kFLOAT);
        EXPECT_EQ(conv->outputs[0]->dtype, type);
        EXPECT_EQ(symShapeToString(conv->outputs[0]->shape), symShapeToString(fromConcrete({2, 9, 8, 16})));
    }
    /// The one FusedConv of `g`.
    static const Node* theConv(const Graph& g) {
        for (const auto& node : g.nodes())
            if (node->opType == "FusedConv") return node.get();
        return nullptr;
    }
};

TEST_F(ChannelsFirstConvInputTest, StemReadsTheNchwImage) {
    // MobileNetV2's stem: Conv 3->32 3x3 stride 2 pad 1 + Clip(0, 6), then a depthwise 3x3, over odd sizes.
    Value* x = input("x", {2, 3, 17, 15});
    Value* stem = relu6(conv(x, 3, 32, 3, 2, 1));
    output(relu6(conv(stem, 32, 32, 3, 1, 1, 32)), "y");
    auto g = layoutAndRun(true);
    EXPECT_EQ(countChannelsFirstInputConvs(*g), 1u);
    EXPECT_EQ(countOps(*g, "Transpose"), transposesBefore - 1);
    // The stem convolution reads the graph input itself.
    const auto readers = g->consumers(g->inputs()[0]);
    ASSERT_EQ(readers.size(), 1u);
    EXPECT_EQ(readers[0]->opType, "FusedConv");
    EXPECT_EQ(readers[0]->attrs.getInt(kInputChannelsFirstAttribute, 0), 1);
}

TEST_F(ChannelsFirstConvInputTest, ResNetStemWithOneAndFourChannels) {
    // 7x7 stride 2 pad 3 over one channel (a grey image) and 4x4 stride 4 over four (a patchify stem).
    output(layer("Relu", {conv(input("grey", {1, 1, 23, 21}), 1, 12, 7, 2, 3)}), "a");
    output(conv(input("rgba", {2, 4, 16, 20}), 4, 8, 4, 4, 0), "b");
    auto g = layoutAndRun(true);
    EXPECT_EQ(countChannelsFirstInputConvs(*g), 2u);
    EXPECT_EQ(countOps(*g, "Transpose"), transposesBefore - 2);
}

TEST_F(ChannelsFirstConvInputTest, FloatImageBeforeItsCastToFp16IsReadAsItIs) {
    expectCastFolded(DataType::kHALF);
}

TEST_F(ChannelsFirstConvInputTest, FloatImageBeforeItsCastToBf16IsReadAsItIs) {
    expectCastFolded(DataType::kBF16);
}

TEST_F(ChannelsFirstConvInputTest, ABackendWithoutFloatImagesKeepsTheCast) {
    castStem(DataType::kHALF);
    auto g = runAlone(
        [](const Node& node, std::string* reason) {
            if (node.input(0)->dtype != DataType::kFLOAT) return true;
            if (reason) *reason = "no float image here";
            return false;
        },
        true);
    EXPECT_EQ(countOps(*g, "Cast"), 1u);
    EXPECT_EQ(countOps(*g, "Transpose"), 0u);
    const Node* conv = theConv(*g);
    ASSERT_NE(conv, nullptr);
    EXPECT_EQ(conv->attrs.getInt(kInputChannelsFirstAttribute, 0), 1);
    EXPECT_EQ(conv->input(0)->producer->opType, "Cast");
    EXPECT_EQ(conv->input(0)->dtype, DataType::kHALF);
}

TEST_F(ChannelsFirstConvInputTest, ATransposeWithASecondReaderStays) {
    // Both convolutions read one to-NHWC Transpose of x: it stays for the other, so neither changes.
    Value* x = input("x", {1, 3, 12, 12});
    output(conv(x, 3, 8, 3, 1, 1), "a");
    output(conv(x, 3, 8, 1, 1, 0), "b");
    auto g = layoutAndRun(false);
    EXPECT_EQ(countChannelsFirstInputConvs(*g), 0u);
    EXPECT_EQ(countOps(*g, "Transpose"), transposesBefore);
}

TEST_F(ChannelsFirstConvInputTest, ManyChannelsAndGroupedConvolutionsStay) {
    output(conv(input("wide", {1, 16, 8, 8}), 16, 8, 3, 1, 1), "a");
    output(conv(input("grouped", {1, 4, 8, 8}), 4, 8, 3, 1, 1, 2), "b");
    auto g = layoutAndRun(false);
    EXPECT_EQ(countChannelsFirstInputConvs(*g), 0u);
    EXPECT_EQ(countOps(*g, "Transpose"), transposesBefore);
}

TEST_F(ChannelsFirstConvInputTest, AStemOfManyMultiplyAddsStaysWithTheTensorCores) {
    // ResNet's 7x7 RGB stem: 147 multiply-adds per output, past kChannelsFirstInputMaxTaps.
    output(conv(input("rgb", {1, 3, 23, 21}), 3, 16, 7, 2, 3), "a");
    auto g = layoutAndRun(false);
    EXPECT_EQ(countChannelsFirstInputConvs(*g), 0u);
    EXPECT_EQ(countOps(*g, "Transpose"), transposesBefore);
}

TEST_F(ChannelsFirstConvInputTest, ABackendThatRefusesTheFormKeepsTheTranspose) {
    output(conv(input("x", {1, 3, 10, 10}), 3, 8, 3, 2, 1), "y");
    int asked = 0;
    auto g = layoutAndRun(false, [&](const Node& node, std::string* reason) {
        asked += node.attrs.getInt(kInputChannelsFirstAttribute, 0) == 1;
        if (reason) *reason = "not here";
        return false;
    });
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(countChannelsFirstInputConvs(*g), 0u);
    EXPECT_EQ(countOps(*g, "Transpose"), transposesBefore);
}

TEST_F(ChannelsFirstConvInputTest, ATransposeOfAnotherPermutationStays) {
    // x is [N, H, C, W]: Transpose (0, 1, 3, 2) makes the NHWC the channels-last FusedConv reads.
    Value* x = input("x", {1, 9, 3, 10});
    AttributeMap perm;
    perm.set("perm", std::vector<int64_t>{0, 1, 3, 2});
    Value* nhwc = layer("Transpose", {x}, perm);
    AttributeMap attrs = window(1, 1);
    attrs.set(kChannelsLastAttribute, int64_t{1});
    output(layer("FusedConv", {nhwc, random({8, 3, 3, 3}), random({8})}, attrs, "kiln"), "y");
    ChannelsFirstConvInput pass(cpuSupport());
    bool changed = true;
    auto g = runPass(graph, pass, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(countOps(*g, "Transpose"), 1u);
    EXPECT_EQ(countChannelsFirstInputConvs(*g), 0u);
}

/// A FusedConv of the form, its output's inferred type and shape (or the inference error).
Expected<ValueInfo> inferForm(const Shape& x, const Shape& w, int64_t channelsLast, int64_t inputChannelsFirst,
                              DataType xType = DataType::kHALF) {
    Graph g;
    Value* xv = g.addInput("x", xType, fromConcrete(x));
    Value* wv = g.addInput("w", DataType::kHALF, fromConcrete(w));
    Node* node = g.addNode("FusedConv", "conv", {xv, wv}, {"y"}, 1);
    node->domain = "kiln";
    node->attrs.set("strides", std::vector<int64_t>{2, 2});
    node->attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
    node->attrs.set(kChannelsLastAttribute, channelsLast);
    node->attrs.set(kInputChannelsFirstAttribute, inputChannelsFirst);
    g.markOutput(node->outputs[0]);
    KILN_RETURN_IF_ERROR(inferGraphShapes(g, ShapeInferenceOptions{}));
    ValueInfo info;
    info.dtype = node->outputs[0]->dtype;
    info.shape = node->outputs[0]->shape;
    return info;
}

TEST(ChannelsFirstConvInputInference, XIsNchwWhileWAndYAreChannelsLast) {
    auto y = inferForm({2, 3, 33, 35}, {32, 3, 3, 3}, 1, 1);
    ASSERT_TRUE(y.isOk()) << y.status().message();
    EXPECT_EQ(y->dtype, DataType::kHALF);
    EXPECT_EQ(symShapeToString(y->shape), symShapeToString(fromConcrete({2, 17, 18, 32})));
    // A float X (a folded Cast) under float16 weights: the layer is float16.
    auto rounded = inferForm({2, 3, 33, 35}, {32, 3, 3, 3}, 1, 1, DataType::kFLOAT);
    ASSERT_TRUE(rounded.isOk()) << rounded.status().message();
    EXPECT_EQ(rounded->dtype, DataType::kHALF);
    // Read as NHWC, the same X would have 35 channels against W's 3.
    EXPECT_FALSE(inferForm({2, 3, 33, 35}, {32, 3, 3, 3}, 1, 0).isOk());
}

TEST(ChannelsFirstConvInputInference, TheAttributeNeedsTheChannelsLastForm) {
    auto nchw = inferForm({2, 3, 33, 35}, {32, 3, 3, 3}, 0, 1);
    ASSERT_FALSE(nchw.isOk());
    EXPECT_NE(nchw.status().message().find(kInputChannelsFirstAttribute), std::string::npos) << nchw.status().message();
    EXPECT_FALSE(inferForm({2, 3, 33, 35}, {32, 3, 3, 3}, 1, 2).isOk());
}

}  // namespace
}  // namespace kiln::test
