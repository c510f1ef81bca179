// Graphs whose shapes depend on values computed during the run, through the public API: NonZero
// (shape from the kernel), Reshape by a shape given at run time (shape from inference knowing the
// value), nodes downstream of both, output allocators, and re-runs with other data.

#include <gtest/gtest.h>

#include <cstring>

#include "engine_runner.h"
#include "test_support.h"

namespace kiln::test {
namespace {

/// Receives one output; counts the calls, so the tests can check the protocol.
class RecordingAllocator : public IOutputAllocator {
public:
    void* reallocateOutput(const char*, void*, uint64_t size, uint64_t) noexcept override {
        ++reallocations;
        storage.resize(std::max<uint64_t>(size, 1));
        return storage.data();
    }
    void notifyShape(const char*, const Dims& dims) noexcept override { shape.assign(dims.d, dims.d + dims.nbDims); }
    std::vector<uint8_t> storage;
    Shape shape;
    int reallocations{0};
};

/// NonZero's result computed independently: row d lists coordinate d of each non-zero element.
std::vector<double> nonZeroReference(const Tensor& x, int64_t* found) {
    std::vector<std::vector<int64_t>> coords;
    const Shape& s = x.shape();
    for (int64_t i = 0; i < x.elementCount(); ++i) {
        if (x.elementAsDouble(i) == 0) continue;
        std::vector<int64_t> c(s.size());
        for (size_t d = s.size(), rest = static_cast<size_t>(i); d-- > 0;) {
            c[d] = static_cast<int64_t>(rest % static_cast<size_t>(s[d]));
            rest /= static_cast<size_t>(s[d]);
        }
        coords.push_back(c);
    }
    *found = static_cast<int64_t>(coords.size());
    std::vector<double> out;
    for (size_t d = 0; d < s.size(); ++d)
        for (const auto& c : coords) out.push_back(static_cast<double>(c[d]));
    return out;
}

/// Random data with about half the elements zero.
Tensor sparseData(const Shape& shape, uint32_t seed) {
    Tensor t = randomTensor(DataType::kFLOAT, shape, -1, 1, seed);
    for (int64_t i = 0; i < t.elementCount(); ++i)
        if (t.data<float>()[i] < 0) t.data<float>()[i] = 0;
    return t;
}

class DataDependentRunTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    std::unique_ptr<Engine> build() {
        auto config = builder->createBuilderConfig();
        auto plan = builder->buildSerializedNetwork(*net, *config);
        if (!plan) return nullptr;
        return createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    }
};

TEST_F(DataDependentRunTest, NonZeroFeedsLaterNodesAndRerunsWithOtherCounts) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3, 5});
    ITensor* idx = net->addLayer("NonZero", {x})->getOutput(0);
    // Downstream of the data-dependent shape: transpose to (found, 2) and double it as float.
    ITensor* t = net->addLayer("Transpose", {idx}, 1, LayerAttributes().setInts("perm", {1, 0}))->getOutput(0);
    ITensor* f = net->addLayer("Cast", {t}, 1, LayerAttributes().setInt("to", 1))->getOutput(0);
    ITensor* y = net->addElementWise(*f, *f, ElementWiseOperation::kSUM)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    ITensor* r = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
    r->setName("r");
    net->markOutput(*r);
    auto engine = build();
    ASSERT_TRUE(engine);
    auto ctx = engine->createExecutionContext();
    ASSERT_TRUE(ctx);
    EXPECT_EQ(ctx->getTensorShape("y").d[0], -1) << "the count is unknown before a run";

    RecordingAllocator allocator;
    ASSERT_TRUE(ctx->setOutputAllocator("y", &allocator));
    Tensor relu = Tensor::allocate(DataType::kFLOAT, {3, 5});
    ASSERT_TRUE(ctx->setTensorAddress("r", relu.data()));
    for (uint32_t seed : {1u, 2u, 3u}) {
        Tensor in = sparseData({3, 5}, seed);
        ASSERT_TRUE(ctx->setTensorAddress("x", in.data()));
        ASSERT_TRUE(ctx->execute());
        int64_t found = 0;
        std::vector<double> ref = nonZeroReference(in, &found);
        ASSERT_EQ(allocator.shape, (Shape{found, 2}));
        EXPECT_EQ(ctx->getTensorShape("y").d[0], found);
        Tensor out = Tensor::allocate(DataType::kFLOAT, {found, 2});
        std::memcpy(out.data(), allocator.storage.data(), out.byteSize());
        std::vector<double> transposed(ref.size());
        for (int64_t n = 0; n < found; ++n)
            for (int64_t d = 0; d < 2; ++d) transposed[static_cast<size_t>(n * 2 + d)] = 2 * ref[static_cast<size_t>(d * found + n)];
        EXPECT_EQ(compareWithReference(out, transposed, 0, 0), "") << "seed " << seed;
        std::vector<double> reluRef;
        for (int64_t i = 0; i < in.elementCount(); ++i) reluRef.push_back(std::max(0.0, in.elementAsDouble(i)));
        EXPECT_EQ(compareWithReference(relu, reluRef, 0, 0), "");
    }
    EXPECT_EQ(allocator.reallocations, 3);
}

TEST_F(DataDependentRunTest, ReshapeByARunTimeShapeInput) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{24});
    ITensor* shape = net->addInput("shape", DataType::kINT64, Dims{3});
    ITensor* reshaped = net->addLayer("Reshape", {x, shape})->getOutput(0);
    ITensor* y = net->addActivation(*reshaped, ActivationType::kRELU)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto engine = build();
    ASSERT_TRUE(engine);
    for (const std::vector<int64_t>& dims : {std::vector<int64_t>{2, 3, 4}, std::vector<int64_t>{4, -1, 2}}) {
        Tensor in = randomTensor(DataType::kFLOAT, {24}, -1, 1, 7);
        Tensor s = Tensor::fromInt64(dims, {3});
        EngineRun run = buildAndRun(*builder, *net, *builder->createBuilderConfig(), {{"x", in}, {"shape", s}}, logger);
        ASSERT_TRUE(run.ok);
        Shape expected = dims[1] == -1 ? Shape{4, 3, 2} : Shape{2, 3, 4};
        ASSERT_EQ(run.outputs[0].shape(), expected);
        std::vector<double> ref;
        for (int64_t i = 0; i < 24; ++i) ref.push_back(std::max(0.0, in.elementAsDouble(i)));
        EXPECT_EQ(compareWithReference(run.outputs[0], ref, 0, 0), "");
    }
}

TEST_F(DataDependentRunTest, DataDependentOutputWithoutAllocatorIsAClearError) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4});
    ITensor* idx = net->addLayer("NonZero", {x})->getOutput(0);
    idx->setName("idx");
    net->markOutput(*idx);
    auto engine = build();
    ASSERT_TRUE(engine);
    auto ctx = engine->createExecutionContext();
    Tensor in = sparseData({4}, 5);
    ASSERT_TRUE(ctx->setTensorAddress("x", in.data()));
    std::vector<int64_t> buffer(8);
    ASSERT_TRUE(ctx->setTensorAddress("idx", buffer.data()));
    EXPECT_FALSE(ctx->execute());
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("setOutputAllocator"), std::string::npos) << logger.errors.back();
}

TEST_F(DataDependentRunTest, AllocatorAlsoServesStaticOutputs) {
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3});
    ITensor* y = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto engine = build();
    ASSERT_TRUE(engine);
    auto ctx = engine->createExecutionContext();
    RecordingAllocator allocator;
    ASSERT_TRUE(ctx->setOutputAllocator("y", &allocator));
    EXPECT_EQ(ctx->getOutputAllocator("y"), &allocator);
    EXPECT_FALSE(ctx->setOutputAllocator("x", &allocator)) << "inputs take no allocator";
    Tensor in = randomTensor(DataType::kFLOAT, {2, 3}, -1, 1, 9);
    ASSERT_TRUE(ctx->setTensorAddress("x", in.data()));
    ASSERT_TRUE(ctx->execute());
    ASSERT_EQ(allocator.shape, (Shape{2, 3}));
    Tensor out = Tensor::allocate(DataType::kFLOAT, {2, 3});
    std::memcpy(out.data(), allocator.storage.data(), out.byteSize());
    std::vector<double> ref;
    for (int64_t i = 0; i < 6; ++i) ref.push_back(std::max(0.0, in.elementAsDouble(i)));
    EXPECT_EQ(compareWithReference(out, ref, 0, 0), "");
}

}  // namespace
}  // namespace kiln::test
