// ai.onnx.ml ArrayFeatureExtractor and Binarizer against references written from the ONNX-ML
// definitions, on random data of every supported type.

#include <cmath>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

constexpr const char* kMl = "ai.onnx.ml";

TEST(ArrayFeatureExtractorOp, SelectsFromTheLastAxis) {
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}) {
        for (const Shape& shape : {Shape{7}, Shape{3, 7}, Shape{2, 3, 7}}) {
            Tensor x = randomData(type, shape, 11);
            Tensor indices = int64Vector({6, 0, 3, 3});
            SingleNodeRun run = runSingleNode("ArrayFeatureExtractor", {&x, &indices}, 1, {}, kMl);
            const std::string what = std::string(dataTypeName(type)) + " " + shapeToString(shape, true);
            ASSERT_TRUE(run.status) << what << ": " << run.status.message();
            // A 1-D X is one row: Z is (1, 4).
            Shape expected = shape.size() == 1 ? Shape{1} : Shape(shape.begin(), shape.end() - 1);
            expected.push_back(4);
            ASSERT_EQ(run.outputs[0].shape(), expected) << what;
            EXPECT_EQ(run.outputs[0].dtype(), type);
            std::vector<double> ref;
            const int64_t rows = x.elementCount() / 7;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t k : {6, 0, 3, 3}) ref.push_back(x.elementAsDouble(r * 7 + k));
            expectExact(run.outputs[0], ref, what);
        }
    }
}

TEST(ArrayFeatureExtractorOp, IndexOutsideTheLastAxisIsAnError) {
    Tensor x = randomData(DataType::kFLOAT, {2, 3}, 1);
    for (int64_t bad : {3, -1}) {
        Tensor indices = int64Vector({0, bad});
        SingleNodeRun run = runSingleNode("ArrayFeatureExtractor", {&x, &indices}, 1, {}, kMl);
        EXPECT_FALSE(run.status);
        EXPECT_NE(run.status.message().find("outside X's last axis"), std::string::npos) << run.status.message();
    }
}

TEST(BinarizerOp, OneAboveTheThresholdZeroElsewhere) {
    for (DataType type : {DataType::kFLOAT, DataType::kDOUBLE, DataType::kINT32, DataType::kINT64}) {
        for (float threshold : {0.0f, 1.0f, -2.5f, 3.75f}) {
            Tensor x = randomData(type, {3, 4, 5}, static_cast<uint32_t>(threshold * 4 + 20));
            AttributeMap attrs;
            attrs.set("threshold", threshold);
            SingleNodeRun run = runSingleNode("Binarizer", {&x}, 1, attrs, kMl);
            ASSERT_TRUE(run.status) << run.status.message();
            EXPECT_EQ(run.outputs[0].dtype(), type);
            std::vector<double> ref;
            for (int64_t i = 0; i < x.elementCount(); ++i)
                ref.push_back(x.elementAsDouble(i) > double(threshold) ? 1 : 0);
            expectExact(run.outputs[0], ref, std::string(dataTypeName(type)) + " " + std::to_string(threshold));
        }
    }
}

TEST(BinarizerOp, DefaultThresholdIsZeroAndNaNIsNotAbove) {
    Tensor x = Tensor::allocate(DataType::kFLOAT, {4});
    const float values[] = {-0.0f, 1e-30f, NAN, -1e-30f};
    std::copy(values, values + 4, x.data<float>());
    SingleNodeRun run = runSingleNode("Binarizer", {&x}, 1, {}, kMl);
    ASSERT_TRUE(run.status) << run.status.message();
    expectExact(run.outputs[0], {0, 1, 0, 0});
}

TEST(MlOps, StringAndOtherUnsupportedTypesAreRefusedAtInference) {
    InferResult r = inferOp("Binarizer", {symbolic(DataType::kUINT8, {3})});
    EXPECT_FALSE(r.status);  // the default domain has no Binarizer
    Graph graph;
    Value* x = graph.addInput("x", DataType::kBOOL, {3});
    Node* node = graph.addNode("Binarizer", "b", {x}, {}, 1);
    node->domain = kMl;
    std::vector<ValueInfo> infos = initialValueInfos(graph);
    Status status = inferShapes(graph, infos, ShapeInferenceOptions{});
    EXPECT_FALSE(status);
    EXPECT_NE(status.message().find("float, double, int64 or int32"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace kiln::test
