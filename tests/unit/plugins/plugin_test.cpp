// Plugins end to end: the registry and library loading, plugin layers added by hand and imported from
// ONNX, built into CPU engines, stored in the plan and recreated at load. The plugins come from the
// sample library (tests/plugins/sample_plugins.cpp), loaded as an application's would be.

#include <gtest/gtest.h>

#include <algorithm>

#include "../frontend/onnx_test_models.h"
#include "engine_runner.h"
#include "kiln/kiln.h"
#include "sample_plugins_library.h"
#include "plugins/plugin_node.h"
#include "test_support.h"

namespace kiln::test {
namespace {

class Plugins : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::string error;
        ASSERT_TRUE(getPluginRegistry().loadLibrary(test::samplePluginsLibrary().c_str(), &error)) << error;
    }
};

bool contains(const std::vector<std::string>& messages, const std::string& part) {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(part) != std::string::npos; });
}

Dims dimsOf(const Shape& shape) {
    Dims dims;
    for (int64_t d : shape) dims.d[dims.nbDims++] = d;
    return dims;
}

/// FlattenConcat's meaning, written out: per index of the leading `axis` dimensions, each input's
/// trailing elements one after another.
std::vector<double> flattenConcatReference(const std::vector<const Tensor*>& inputs, size_t axis) {
    int64_t outer = 1;
    for (size_t d = 0; d < axis; ++d) outer *= inputs[0]->shape()[d];
    std::vector<double> out;
    for (int64_t o = 0; o < outer; ++o)
        for (const Tensor* t : inputs) {
            const int64_t inner = t->elementCount() / outer;
            for (int64_t i = 0; i < inner; ++i) out.push_back(t->data<float>()[o * inner + i]);
        }
    return out;
}

// --- the registry ----------------------------------------------------------------------------------

class LocalCreator : public IPluginCreator {
public:
    LocalCreator(const char* name, int32_t interfaceVersion) : mName(name), mInterfaceVersion(interfaceVersion) {}
    int32_t getInterfaceVersion() const noexcept override { return mInterfaceVersion; }
    const char* getPluginName() const noexcept override { return mName; }
    const char* getPluginVersion() const noexcept override { return "1"; }
    std::unique_ptr<IPluginBuild> createBuildPart(const PluginFieldCollection&, std::string* error) noexcept override {
        *error = "not for building";
        return nullptr;
    }
    std::unique_ptr<IPluginRuntime> createRuntimePart(const PluginFieldCollection&, std::string* error) noexcept
        override {
        *error = "not for running";
        return nullptr;
    }

private:
    const char* mName;
    int32_t mInterfaceVersion;
};

TEST_F(Plugins, LibraryRegistersItsCreators) {
    IPluginRegistry& registry = getPluginRegistry();
    ASSERT_NE(registry.getCreator("FlattenConcat", "1"), nullptr);
    ASSERT_NE(registry.getCreator("ScaleShift", "1"), nullptr);
    ASSERT_NE(registry.getCreator("ScaleShift", "2"), nullptr);
    EXPECT_EQ(registry.getCreator("ScaleShift", "3"), nullptr);
    EXPECT_EQ(registry.getCreator("FlattenConcat", "1", "other_namespace"), nullptr);
    // A library is loaded once; asking again is not an error.
    std::string error;
    EXPECT_TRUE(registry.loadLibrary(samplePluginsLibrary().c_str(), &error)) << error;
}

TEST_F(Plugins, LoadingFailuresSayWhy) {
    std::string error;
    EXPECT_FALSE(getPluginRegistry().loadLibrary("/nonexistent/libplugins.so", &error));
    EXPECT_NE(error.find("cannot load the plugin library '/nonexistent/libplugins.so'"), std::string::npos) << error;
    EXPECT_FALSE(getPluginRegistry().loadLibrary("libm.so.6", &error));
    EXPECT_NE(error.find("registered no plugin creator"), std::string::npos) << error;
    EXPECT_FALSE(getPluginRegistry().loadLibrary("", &error));
}

TEST_F(Plugins, RegistryRefusesDuplicatesAndOtherInterfaceVersions) {
    IPluginRegistry& registry = getPluginRegistry();
    std::string error;
    LocalCreator duplicate("FlattenConcat", kPluginInterfaceVersion);
    EXPECT_FALSE(registry.registerCreator(duplicate, &error));
    EXPECT_NE(error.find("plugin 'FlattenConcat' version '1' is registered twice"), std::string::npos) << error;
    EXPECT_NE(registry.getCreator("FlattenConcat", "1"), &duplicate);

    LocalCreator future("FuturePlugin", kPluginInterfaceVersion + 1);
    EXPECT_FALSE(registry.registerCreator(future, &error));
    EXPECT_NE(error.find("plugin interface version " + std::to_string(kPluginInterfaceVersion + 1)), std::string::npos)
        << error;
    EXPECT_EQ(registry.getCreator("FuturePlugin", "1"), nullptr);

    LocalCreator local("LocalPlugin", kPluginInterfaceVersion);
    EXPECT_TRUE(registry.registerCreator(local, &error)) << error;
    EXPECT_EQ(registry.getCreator("LocalPlugin", "1"), &local);
    EXPECT_TRUE(registry.deregisterCreator(local));
    EXPECT_FALSE(registry.deregisterCreator(local));
    EXPECT_EQ(registry.getCreator("LocalPlugin", "1"), nullptr);
}

TEST_F(Plugins, FieldsReadTheirKind) {
    PluginFieldCollection fields;
    fields.setInt("axis", 2).setFloat("scale", 0.5f).setString("mode", "fast").setInts("pads", {1, 2});
    fields.setInt("axis", 3);
    EXPECT_EQ(fields.fields().size(), 4u);
    EXPECT_EQ(fields.getInt("axis"), 3);
    EXPECT_EQ(fields.getFloat("axis"), 3.0f);  // an int reads as a float, as ONNX attributes do
    EXPECT_EQ(fields.getFloat("scale"), 0.5f);
    EXPECT_EQ(fields.getInt("scale"), std::nullopt);
    EXPECT_EQ(fields.getString("mode"), "fast");
    EXPECT_EQ(fields.getInts("pads"), (std::vector<int64_t>{1, 2}));
    EXPECT_FALSE(fields.has("missing"));
}

// --- plugin layers added by hand ---------------------------------------------------------------------

struct HandBuilt {
    CapturingLogger logger;
    std::unique_ptr<Builder> builder{createBuilder(logger)};
    std::unique_ptr<NetworkDefinition> network{builder->createNetwork()};
    std::unique_ptr<BuilderConfig> config{builder->createBuilderConfig()};
};

TEST_F(Plugins, HandAddedLayerBuildsAndRunsThroughThePlan) {
    HandBuilt b;
    ITensor* boxes = b.network->addInput("boxes", DataType::kFLOAT, Dims{2, 3, 4});
    ITensor* scores = b.network->addInput("scores", DataType::kFLOAT, Dims{2, 5});
    ILayer* layer = b.network->addPluginLayer({boxes, scores}, "FlattenConcat", "1", "",
                                              PluginFieldCollection().setInt("axis", 1));
    ASSERT_NE(layer, nullptr);
    EXPECT_STREQ(layer->getType(), "FlattenConcat");
    ASSERT_EQ(layer->getNbOutputs(), 1);
    EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{2, 17}));
    b.network->markOutput(*layer->getOutput(0));

    const Tensor a = randomTensor(DataType::kFLOAT, {2, 3, 4}, -1, 1, 1);
    const Tensor s = randomTensor(DataType::kFLOAT, {2, 5}, -1, 1, 2);
    EngineRun run = buildAndRun(*b.builder, *b.network, *b.config, {{"boxes", a}, {"scores", s}}, b.logger);
    ASSERT_TRUE(run.ok) << (b.logger.errors.empty() ? "" : b.logger.errors.back());
    ASSERT_EQ(run.outputs.size(), 1u);
    EXPECT_EQ(run.outputs[0].shape(), (Shape{2, 17}));
    EXPECT_EQ(compareWithReference(run.outputs[0], flattenConcatReference({&a, &s}, 1), 0, 0), "");
    EXPECT_NE(run.layerJson.find("cpu.plugin.FlattenConcat_v1"), std::string::npos) << run.layerJson;
}

TEST_F(Plugins, DynamicShapesAreInferredAgainAtRunTime) {
    HandBuilt b;
    ITensor* x = b.network->addInput("x", DataType::kFLOAT, Dims{-1, 3, -1});
    ITensor* y = b.network->addInput("y", DataType::kFLOAT, Dims{-1, 2});
    ILayer* layer = b.network->addPluginLayer({x, y}, "FlattenConcat", "1", "", {});
    ASSERT_NE(layer, nullptr);
    // The batch is unknown until run time, and so is the flattened width (it depends on x's last dim).
    EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{-1, -1}));
    b.network->markOutput(*layer->getOutput(0));
    auto profile = b.builder->createOptimizationProfile();
    for (auto [name, min, opt, max] : {std::tuple{"x", Dims{1, 3, 1}, Dims{2, 3, 4}, Dims{4, 3, 8}},
                                       std::tuple{"y", Dims{1, 2}, Dims{2, 2}, Dims{4, 2}}}) {
        profile->setDimensions(name, OptProfileSelector::kMIN, min);
        profile->setDimensions(name, OptProfileSelector::kOPT, opt);
        profile->setDimensions(name, OptProfileSelector::kMAX, max);
    }
    ASSERT_GE(b.config->addOptimizationProfile(profile.get()), 0);

    const Tensor xs = randomTensor(DataType::kFLOAT, {3, 3, 7}, -1, 1, 3);
    const Tensor ys = randomTensor(DataType::kFLOAT, {3, 2}, -1, 1, 4);
    EngineRun run = buildAndRun(*b.builder, *b.network, *b.config, {{"x", xs}, {"y", ys}}, b.logger);
    ASSERT_TRUE(run.ok) << (b.logger.errors.empty() ? "" : b.logger.errors.back());
    EXPECT_EQ(run.outputs[0].shape(), (Shape{3, 23}));
    EXPECT_EQ(compareWithReference(run.outputs[0], flattenConcatReference({&xs, &ys}, 1), 0, 0), "");
}

TEST_F(Plugins, HandAddedLayerErrorsSayWhy) {
    HandBuilt b;
    ITensor* x = b.network->addInput("x", DataType::kFLOAT, Dims{2, 3});
    EXPECT_EQ(b.network->addPluginLayer({x}, "NoSuchPlugin", "1", "", {}), nullptr);
    EXPECT_TRUE(contains(b.logger.errors, "plugin 'NoSuchPlugin' version '1' is not registered"));
    EXPECT_EQ(b.network->addPluginLayer({x}, "FlattenConcat", "1", "", PluginFieldCollection().setInt("axis", 0)),
              nullptr);
    EXPECT_TRUE(contains(b.logger.errors, "refused its fields: FlattenConcat's axis must be in [1, 7], got 0"));
    EXPECT_EQ(b.network->addPluginLayer({x}, "ScaleShift", "1", "", {}), nullptr);
    EXPECT_TRUE(contains(b.logger.errors, "ScaleShift needs the float field 'scale'"));
    EXPECT_EQ(b.network->addPluginLayer({x}, "FlattenConcat", "1", "", PluginFieldCollection().setInt("axis", 3)),
              nullptr);
    EXPECT_TRUE(contains(b.logger.errors, "the plugin refused its input shapes: input 0 has rank 2, below axis 3"));
    EXPECT_EQ(b.network->addPluginLayer({x}, "FlattenConcat", "1", "",
                                        PluginFieldCollection().setString(kPluginVersionAttr, "9")),
              nullptr);
    EXPECT_TRUE(contains(b.logger.errors, "the field name 'kiln.plugin_version' is reserved"));
    EXPECT_EQ(b.network->getNbLayers(), 0);
}

TEST_F(Plugins, TypesThePluginDoesNotRunAreABuildError) {
    HandBuilt b;
    ITensor* x = b.network->addInput("x", DataType::kINT32, Dims{2, 3});
    ILayer* layer = b.network->addPluginLayer({x}, "FlattenConcat", "1", "", {});
    ASSERT_NE(layer, nullptr);  // its type rule accepts int32; its build part does not run it
    b.network->markOutput(*layer->getOutput(0));
    EXPECT_EQ(b.builder->buildSerializedNetwork(*b.network, *b.config), nullptr);
    EXPECT_TRUE(contains(b.logger.errors, "the plugin does not run on the cpu backend with inputs of type (int32)"));
}

TEST_F(Plugins, LoadedEngineNeedsThePluginRegistered) {
    HandBuilt b;
    ITensor* x = b.network->addInput("x", DataType::kFLOAT, Dims{4});
    ILayer* layer = b.network->addPluginLayer({x}, "ScaleShift", "2", "",
                                              PluginFieldCollection().setFloat("scale", 2.f).setFloat("shift", 0.5f));
    ASSERT_NE(layer, nullptr);
    b.network->markOutput(*layer->getOutput(0));
    auto plan = b.builder->buildSerializedNetwork(*b.network, *b.config);
    ASSERT_NE(plan, nullptr);

    IPluginCreator* creator = getPluginRegistry().getCreator("ScaleShift", "2");
    ASSERT_TRUE(getPluginRegistry().deregisterCreator(*creator));
    CapturingLogger logger;
    auto runtime = createRuntime(logger);
    auto engine = runtime->deserializeEngine(plan->data(), plan->size());
    const bool loaded = engine && engine->createExecutionContext() != nullptr;
    ASSERT_TRUE(getPluginRegistry().registerCreator(*creator));
    EXPECT_FALSE(loaded);
    EXPECT_TRUE(contains(logger.errors, "plugin 'ScaleShift' version '2' is not registered")) << logger.all.size();

    // Registered again, the same plan runs, with the fields it stored.
    engine = runtime->deserializeEngine(plan->data(), plan->size());
    ASSERT_NE(engine, nullptr);
    auto context = engine->createExecutionContext();
    ASSERT_NE(context, nullptr);
    const std::vector<float> in{1.f, -2.f, 0.25f, 3.f};
    std::vector<float> out(4);
    ASSERT_TRUE(context->setTensorAddress("x", const_cast<float*>(in.data())));
    ASSERT_TRUE(context->setTensorAddress(layer->getOutput(0)->getName(), out.data()));
    ASSERT_TRUE(context->execute());
    for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i], 2.f * in[i] + 0.5f);
}

// --- ONNX nodes that become plugin layers ------------------------------------------------------------

/// x (2, 3, 4) and y (2, 6) -> <op> -> z, with the node's attributes set by `configure`.
onnx::ModelProto customOpModel(const std::string& op, const std::string& domain,
                               const std::function<void(onnx::NodeProto*)>& configure) {
    onnx::ModelProto model = makeModel(17);
    if (!domain.empty()) {
        onnx::OperatorSetIdProto* custom = model.add_opset_import();
        custom->set_domain(domain);
        custom->set_version(1);
    }
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3, 4});
    addInput(g, "y", {2, 6});
    onnx::NodeProto* node = addNode(g, op, {"x", "y"}, {"z"}, "custom_node");
    node->set_domain(domain);
    configure(node);
    addOutput(g, "z", onnx::TensorProto::FLOAT);
    return model;
}

TEST_F(Plugins, OnnxNodeWithoutImporterBecomesPluginLayer) {
    Import im;
    ASSERT_TRUE(im.parse(customOpModel("FlattenConcat", "my.ops", [](onnx::NodeProto* n) { setInt(n, "axis", 1); })))
        << im.errors();
    const Graph& g = im.graph();
    ASSERT_EQ(g.nodes().size(), 1u);
    const Node& node = *g.nodes()[0];
    EXPECT_TRUE(isPluginNode(node));
    EXPECT_EQ(node.opType, "FlattenConcat");
    EXPECT_EQ(node.attrs.getInt("axis"), 1);
    EXPECT_EQ(g.outputs()[0]->shape, (SymShape{2, 18}));
    EXPECT_TRUE(contains(im.logger.at(ILogger::Severity::kINFO),
                         "node 'custom_node' (FlattenConcat) is imported as plugin 'FlattenConcat' version '1'"));

    std::unique_ptr<BuilderConfig> config = im.builder->createBuilderConfig();
    const Tensor x = randomTensor(DataType::kFLOAT, {2, 3, 4}, -1, 1, 5);
    const Tensor y = randomTensor(DataType::kFLOAT, {2, 6}, -1, 1, 6);
    CapturingLogger runLogger;
    EngineRun run = buildAndRun(*im.builder, *im.network, *config, {{"x", x}, {"y", y}}, runLogger);
    ASSERT_TRUE(run.ok);
    EXPECT_EQ(compareWithReference(run.outputs[0], flattenConcatReference({&x, &y}, 1), 0, 0), "");
}

TEST_F(Plugins, OnnxAttributesChooseThePluginVersion) {
    auto scaleShift = [](const std::function<void(onnx::NodeProto*)>& configure) {
        onnx::ModelProto model = makeModel(17);
        onnx::GraphProto* g = model.mutable_graph();
        addInput(g, "x", {5});
        onnx::NodeProto* node = addNode(g, "ScaleShift", {"x"}, {"y"}, "scale_shift");
        setFloat(node, "scale", 3.f);
        setFloat(node, "shift", -1.f);
        configure(node);
        addOutput(g, "y", onnx::TensorProto::FLOAT);
        return model;
    };
    {
        // Two versions are registered: the node must say which.
        Import im;
        EXPECT_FALSE(im.parse(scaleShift([](onnx::NodeProto*) {})));
        EXPECT_NE(im.errors().find("plugins 'ScaleShift' of versions 1, 2 are registered: the node's attribute "
                                   "plugin_version must choose one"),
                  std::string::npos)
            << im.errors();
    }
    for (const std::string version : {"1", "2"}) {
        Import im;
        ASSERT_TRUE(im.parse(scaleShift([&](onnx::NodeProto* n) { setString(n, "plugin_version", version); })))
            << im.errors();
        const Node& node = *im.graph().nodes()[0];
        EXPECT_EQ(node.attrs.getString(kPluginVersionAttr), version);
        EXPECT_FALSE(node.attrs.has("plugin_version"));
        // Version 1 serializes only the scale: the shift is not its field.
        EXPECT_EQ(node.attrs.has("shift"), version == "2");

        std::unique_ptr<BuilderConfig> config = im.builder->createBuilderConfig();
        const Tensor x = randomTensor(DataType::kFLOAT, {5}, -2, 2, 7);
        CapturingLogger runLogger;
        EngineRun run = buildAndRun(*im.builder, *im.network, *config, {{"x", x}}, runLogger);
        ASSERT_TRUE(run.ok);
        std::vector<double> expected;
        for (int64_t i = 0; i < 5; ++i) expected.push_back(3.0 * x.data<float>()[i] + (version == "2" ? -1.0 : 0.0));
        EXPECT_EQ(compareWithReference(run.outputs[0], expected, 1e-6, 1e-6), "") << "version " << version;
    }
}

TEST_F(Plugins, OnnxPluginErrorsSayWhy) {
    {
        Import im;
        EXPECT_FALSE(im.parse(customOpModel("NoSuchOp", "my.ops", [](onnx::NodeProto*) {})));
        EXPECT_NE(im.errors().find("Kiln does not support the operator my.ops::NoSuchOp"), std::string::npos)
            << im.errors();
    }
    {
        Import im;
        EXPECT_FALSE(
            im.parse(customOpModel("FlattenConcat", "", [](onnx::NodeProto* n) { setInt(n, "axis", -1); })));
        EXPECT_NE(im.errors().find("node 0 'custom_node' (FlattenConcat)"), std::string::npos) << im.errors();
        EXPECT_NE(im.errors().find("FlattenConcat's axis must be in [1, 7], got -1"), std::string::npos)
            << im.errors();
    }
    {
        Import im;
        EXPECT_FALSE(im.parse(customOpModel("FlattenConcat", "", [](onnx::NodeProto* n) {
            onnx::AttributeProto* a = n->add_attribute();
            a->set_name("table");
            a->set_type(onnx::AttributeProto::TENSOR);
            *a->mutable_t() = floatTensor("", {2}, {1.f, 2.f});
        })));
        EXPECT_NE(im.errors().find("plugin fields are ints, floats, strings or lists of them"), std::string::npos)
            << im.errors();
    }
}

}  // namespace
}  // namespace kiln::test
