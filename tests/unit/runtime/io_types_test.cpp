// Engine inputs and outputs bound with another float type than the network's (BuilderConfig::setIoType,
// trtexec's --inputIOFormats / --outputIOFormats): the engine reports and takes the bound types and
// computes what the network does on the converted values; the boundary's conversions cancel against a
// float16 region's reformats (builder/io_types.h); an unknown name or a non-float tensor fails the build
// with a message naming it.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "builder/io_types.h"
#include "common/half.h"
#include "engine_runner.h"
#include "ir/onnx_types.h"
#include "test_support.h"

namespace kiln::test {
namespace {

std::string joined(const CapturingLogger& logger) {
    std::string text;
    for (const std::string& message : logger.all) text += message + "\n";
    return text;
}

class IoTypesTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    std::unique_ptr<Engine> build(const BuilderConfig& config) {
        auto plan = builder->buildSerializedNetwork(*net, config);
        if (!plan) return nullptr;
        return createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    }
};

TEST_F(IoTypesTest, Float16BindingsRunTheFloat32Network) {
    // y = relu(x) * 3 + 0.5: every value a float16 input holds maps to a float16 output exactly.
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5});
    const float three = 3.f, half = 0.5f;
    ITensor* relu = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
    ITensor* scaled = net->addElementWise(*relu, *net->addConstant(Dims{1}, DataType::kFLOAT, &three),
                                          ElementWiseOperation::kPROD)->getOutput(0);
    ITensor* y = net->addElementWise(*scaled, *net->addConstant(Dims{1}, DataType::kFLOAT, &half),
                                     ElementWiseOperation::kSUM)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto config = builder->createBuilderConfig();
    config->setIoType("x", DataType::kHALF);
    config->setIoType("y", DataType::kHALF);
    auto engine = build(*config);
    ASSERT_TRUE(engine) << joined(logger);
    EXPECT_EQ(engine->getTensorDataType("x"), DataType::kHALF);
    EXPECT_EQ(engine->getTensorDataType("y"), DataType::kHALF);

    Tensor in = randomTensor(DataType::kHALF, {2, 5}, -2, 2, 17);
    Tensor out = Tensor::allocate(DataType::kHALF, {2, 5});
    auto ctx = engine->createExecutionContext();
    ASSERT_TRUE(ctx->setTensorAddress("x", in.data()) && ctx->setTensorAddress("y", out.data()) && ctx->execute())
        << joined(logger);
    std::vector<double> expected;
    for (double v : in.toDoubleVector()) expected.push_back(std::max(v, 0.0) * 3 + 0.5);
    EXPECT_EQ(compareWithReference(out, expected, 1e-3, 1e-3), "");
}

TEST_F(IoTypesTest, BoundaryCastsCancelAgainstAFloat16RegionsReformats) {
    // x (float32) -> Cast to float16 -> Relu -> Cast to float32 -> y: the precision pass's shape.
    Graph graph;
    Value* x = graph.addInput("x", DataType::kFLOAT, SymShape{});
    Node* down = graph.addNode("Cast", "down", {x}, {"x_fp16"}, 1);
    down->attrs.set("to", dataTypeToOnnx(DataType::kHALF));
    down->outputs[0]->dtype = DataType::kHALF;
    Node* relu = graph.addNode("Relu", "relu", {down->outputs[0]}, {"r"}, 1);
    relu->outputs[0]->dtype = DataType::kHALF;
    Node* up = graph.addNode("Cast", "up", {relu->outputs[0]}, {"y"}, 1);
    up->attrs.set("to", dataTypeToOnnx(DataType::kFLOAT));
    up->outputs[0]->dtype = DataType::kFLOAT;
    graph.markOutput(up->outputs[0]);

    Logger log(&logger);
    ASSERT_TRUE(applyIoTypes(graph, {{"x", DataType::kHALF}, {"y", DataType::kHALF}}, log).isOk());
    ASSERT_EQ(graph.nodes().size(), 1u);
    const Node& only = *graph.nodes()[0];
    EXPECT_EQ(only.opType, "Relu");
    EXPECT_EQ(only.input(0), graph.inputs()[0]);
    EXPECT_EQ(graph.inputs()[0]->name, "x");
    EXPECT_EQ(graph.inputs()[0]->dtype, DataType::kHALF);
    ASSERT_EQ(graph.outputs().size(), 1u);
    EXPECT_EQ(graph.outputs()[0], only.output(0));
    EXPECT_EQ(graph.outputs()[0]->name, "y");
}

TEST_F(IoTypesTest, UnknownNamesAndNonFloatTensorsFailTheBuildNamingThem) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3});
    ITensor* ids = net->addInput("ids", DataType::kINT64, Dims{3});
    ITensor* y = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    ITensor* shape = net->addLayer("Shape", {ids})->getOutput(0);
    shape->setName("n");
    net->markOutput(*shape);
    for (const auto& [name, type, because] :
         {std::tuple<std::string, DataType, std::string>{"nothing", DataType::kHALF, "no input or output"},
          {"ids", DataType::kHALF, "int64"},
          {"x", DataType::kINT32, "float32, float16 and bfloat16"}}) {
        auto config = builder->createBuilderConfig();
        config->setIoType(name, type);
        logger.all.clear();
        logger.errors.clear();
        EXPECT_FALSE(builder->buildSerializedNetwork(*net, *config)) << name;
        EXPECT_NE(joined(logger).find("'" + name + "'"), std::string::npos) << joined(logger);
        EXPECT_NE(joined(logger).find(because), std::string::npos) << joined(logger);
    }
}

}  // namespace
}  // namespace kiln::test
