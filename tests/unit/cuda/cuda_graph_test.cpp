// kiln::CudaGraph on CUDA engines: a network with several layer kinds (convolution, matrix product,
// pointwise, LayerNormalization, softmax) run by plain enqueue and through the graph must agree bit for
// bit, also after the graph is captured again for a new shape or new addresses; the results are also
// checked against a double-precision reference. Engines whose work cannot be captured (data-dependent
// shapes, a profiler, an output allocator, the legacy stream) must run anyway and say why, and a
// caller's own capture of enqueue() at unprepared shapes must fail with a reason instead of a device error.
//
// A Slice whose end is the input's sequence length (folded while preparing) is captured too.
//
// Everything goes through the public API and the Backend interface, so the file builds without CUDA
// and skips there, like every GPU test.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "engine_runner.h"
#include "kiln/kiln.h"

namespace kiln::cudatest {
namespace {

constexpr int64_t kChannels = 3, kSide = 8, kFilters = 4, kHidden = 16;
constexpr int64_t kFlat = kFilters * kSide * kSide;
constexpr int64_t kMaxBatch = 4;
constexpr float kEpsilon = 1e-5f;

struct Weights {
    Tensor convW = test::randomTensor(DataType::kFLOAT, {kFilters, kChannels, 3, 3}, -0.5, 0.5, 11);
    Tensor convB = test::randomTensor(DataType::kFLOAT, {kFilters}, -0.2, 0.2, 12);
    Tensor fcW = test::randomTensor(DataType::kFLOAT, {kFlat, kHidden}, -0.1, 0.1, 13);
    Tensor fcB = test::randomTensor(DataType::kFLOAT, {kHidden}, -0.2, 0.2, 14);
    Tensor gamma = test::randomTensor(DataType::kFLOAT, {kHidden}, 0.5, 1.5, 15);
    Tensor beta = test::randomTensor(DataType::kFLOAT, {kHidden}, -0.3, 0.3, 16);
};

/// y = softmax(layernorm(flatten(relu(conv3x3(x) + b)) @ W + b)), computed in double.
std::vector<double> reference(const Tensor& x, const Weights& w) {
    const int64_t batch = x.shape()[0];
    const float* in = x.data<float>();
    const float* cw = w.convW.data<float>();
    std::vector<double> out;
    for (int64_t n = 0; n < batch; ++n) {
        std::vector<double> flat(static_cast<size_t>(kFlat));
        for (int64_t f = 0; f < kFilters; ++f)
            for (int64_t i = 0; i < kSide; ++i)
                for (int64_t j = 0; j < kSide; ++j) {
                    double sum = w.convB.data<float>()[f];
                    for (int64_t c = 0; c < kChannels; ++c)
                        for (int64_t di = -1; di <= 1; ++di)
                            for (int64_t dj = -1; dj <= 1; ++dj) {
                                const int64_t r = i + di, s = j + dj;
                                if (r < 0 || r >= kSide || s < 0 || s >= kSide) continue;
                                sum += static_cast<double>(in[((n * kChannels + c) * kSide + r) * kSide + s]) *
                                       cw[((f * kChannels + c) * 3 + di + 1) * 3 + dj + 1];
                            }
                    flat[static_cast<size_t>((f * kSide + i) * kSide + j)] = std::max(sum, 0.0);
                }
        std::vector<double> hidden(static_cast<size_t>(kHidden));
        for (int64_t h = 0; h < kHidden; ++h) {
            double sum = w.fcB.data<float>()[h];
            for (int64_t k = 0; k < kFlat; ++k) sum += flat[static_cast<size_t>(k)] * w.fcW.data<float>()[k * kHidden + h];
            hidden[static_cast<size_t>(h)] = sum;
        }
        double mean = 0, variance = 0;
        for (double v : hidden) mean += v / kHidden;
        for (double v : hidden) variance += (v - mean) * (v - mean) / kHidden;
        double total = 0;
        for (int64_t h = 0; h < kHidden; ++h) {
            double& v = hidden[static_cast<size_t>(h)];
            v = (v - mean) / std::sqrt(variance + kEpsilon) * w.gamma.data<float>()[h] + w.beta.data<float>()[h];
        }
        const double top = *std::max_element(hidden.begin(), hidden.end());
        for (double& v : hidden) total += v = std::exp(v - top);
        for (double v : hidden) out.push_back(v / total);
    }
    return out;
}

ITensor* constant(NetworkDefinition& net, const Tensor& t) {
    Dims dims;
    for (int64_t d : t.shape()) dims.d[dims.nbDims++] = d;
    return net.addConstant(dims, DataType::kFLOAT, t.data());
}

/// Batch 1..4 (opt 2) of 3x8x8 images; FP32 math (no TF32), so the reference comparison can be tight.
std::unique_ptr<Engine> buildMixedEngine(ILogger& logger, const Weights& w) {
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, kChannels, kSide, kSide});
    ITensor* conv = net->addConvolution(*x, *constant(*net, w.convW), constant(*net, w.convB), {1, 1}, {1, 1, 1, 1})
                        ->getOutput(0);
    ITensor* act = net->addActivation(*conv, ActivationType::kRELU)->getOutput(0);
    ITensor* flat = net->addLayer("Flatten", {act}, 1, LayerAttributes().setInt("axis", 1))->getOutput(0);
    ITensor* product = net->addMatrixMultiply(*flat, *constant(*net, w.fcW))->getOutput(0);
    ITensor* biased = net->addElementWise(*product, *constant(*net, w.fcB), ElementWiseOperation::kSUM)->getOutput(0);
    ITensor* norm = net->addLayer("LayerNormalization", {biased, constant(*net, w.gamma), constant(*net, w.beta)}, 1,
                                  LayerAttributes().setInt("axis", -1).setFloat("epsilon", kEpsilon))
                        ->getOutput(0);
    ITensor* y = net->addSoftMax(*norm, -1)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);

    auto config = builder->createBuilderConfig();
    config->setDefaultDeviceType(DeviceType::kGPU);
    config->clearFlag(BuilderFlag::kTF32);
    auto profile = builder->createOptimizationProfile();
    profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1, kChannels, kSide, kSide});
    profile->setDimensions("x", OptProfileSelector::kOPT, Dims{2, kChannels, kSide, kSide});
    profile->setDimensions("x", OptProfileSelector::kMAX, Dims{kMaxBatch, kChannels, kSide, kSide});
    config->addOptimizationProfile(profile.get());
    auto plan = builder->buildSerializedNetwork(*net, *config);
    if (!plan) return nullptr;
    return createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
}

class CudaGraphTest : public CudaTest {
protected:
    void SetUp() override {
        CudaTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        mEngine = buildMixedEngine(mLogger, mWeights);
        ASSERT_NE(mEngine, nullptr);
        ASSERT_STREQ(mEngine->getBackendName(), "cuda");
        mContext = mEngine->createExecutionContext();
        ASSERT_NE(mContext, nullptr);
        mInput = std::make_unique<DeviceBuffer>(*mBackend, kMaxBatch * kChannels * kSide * kSide * sizeof(float));
        mOutput = std::make_unique<DeviceBuffer>(*mBackend, kMaxBatch * kHidden * sizeof(float));
        ASSERT_TRUE(mContext->setTensorAddress("x", mInput->get()));
        ASSERT_TRUE(mContext->setTensorAddress("y", mOutput->get()));
    }

    /// New input contents (the bound buffer keeps its address) and the batch.
    Tensor setInput(int64_t batch, uint32_t seed) {
        Tensor x = test::randomTensor(DataType::kFLOAT, {batch, kChannels, kSide, kSide}, -1, 1, seed);
        EXPECT_TRUE(mContext->setInputShape("x", Dims{batch, kChannels, kSide, kSide}));
        EXPECT_TRUE(mBackend->copyToDevice(mInput->get(), x.data(), x.byteSize(), mStream).isOk());
        return x;
    }

    /// The output of `batch` rows at `buffer`, once the stream is done.
    Tensor readOutput(int64_t batch, const DeviceBuffer& buffer) {
        Tensor y = Tensor::allocate(DataType::kFLOAT, {batch, kHidden});
        EXPECT_TRUE(mBackend->copyToHost(y.data(), buffer.get(), y.byteSize(), mStream).isOk());
        EXPECT_TRUE(mBackend->synchronize(mStream).isOk());
        return y;
    }

    /// Poisons the output (NaN bytes), so that a run that writes nothing cannot pass.
    void poison(const DeviceBuffer& buffer) {
        std::vector<uint8_t> bytes(kMaxBatch * kHidden * sizeof(float), 0xFF);
        ASSERT_TRUE(mBackend->copyToDevice(buffer.get(), bytes.data(), bytes.size(), mStream).isOk());
    }

    Tensor plainRun(int64_t batch) {
        poison(*mOutput);
        EXPECT_TRUE(mContext->enqueue(mStream));
        return readOutput(batch, *mOutput);
    }

    Tensor graphRun(CudaGraph& graph, int64_t batch, CudaGraphLaunch expected) {
        poison(*mOutput);
        EXPECT_TRUE(graph.enqueue(mStream));
        EXPECT_EQ(graph.getLastLaunch(), expected) << graph.getNotCapturedReason();
        return readOutput(batch, *mOutput);
    }

    void expectBitwiseEqual(const Tensor& a, const Tensor& b, const std::string& label) {
        ASSERT_EQ(a.shape(), b.shape()) << label;
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.byteSize()), 0) << label;
    }

    void expectMatchesReference(const Tensor& y, const Tensor& x, const std::string& label) {
        EXPECT_EQ(test::compareWithReference(y, reference(x, mWeights), 1e-4, 1e-5), "") << label;
    }

    test::CapturingLogger mLogger;
    Weights mWeights;
    std::unique_ptr<Engine> mEngine;
    std::unique_ptr<ExecutionContext> mContext;
    std::unique_ptr<DeviceBuffer> mInput, mOutput;
};

TEST_F(CudaGraphTest, ReplaysBitwiseLikePlainEnqueueWithNewInputContents) {
    Tensor x = setInput(2, 1);
    const Tensor plain = plainRun(2);
    expectMatchesReference(plain, x, "plain enqueue");

    CudaGraph graph(*mContext);
    expectBitwiseEqual(graphRun(graph, 2, CudaGraphLaunch::kCAPTURED), plain, "the capturing call");
    expectBitwiseEqual(graphRun(graph, 2, CudaGraphLaunch::kREPLAYED), plain, "the first replay");
    EXPECT_STREQ(graph.getNotCapturedReason(), "");

    // Same shape and buffers, other data: still a replay, reading the new contents.
    Tensor other = setInput(2, 2);
    const Tensor replayed = graphRun(graph, 2, CudaGraphLaunch::kREPLAYED);
    expectMatchesReference(replayed, other, "replay on new input contents");
    expectBitwiseEqual(replayed, plainRun(2), "replay vs plain enqueue on new contents");
}

TEST_F(CudaGraphTest, ShapeChangesCaptureAgain) {
    CudaGraph graph(*mContext);
    Tensor x2 = setInput(2, 3);
    const Tensor first = graphRun(graph, 2, CudaGraphLaunch::kCAPTURED);
    graphRun(graph, 2, CudaGraphLaunch::kREPLAYED);

    for (int64_t batch : {3, 1, 2}) {
        Tensor x = setInput(batch, 10 + static_cast<uint32_t>(batch));
        const std::string label = "batch " + std::to_string(batch);
        poison(*mOutput);
        ASSERT_TRUE(graph.enqueue(mStream)) << label;
        // Kernels chosen at the new shape decide whether the executable graph can be updated in place.
        const CudaGraphLaunch how = graph.getLastLaunch();
        EXPECT_TRUE(how == CudaGraphLaunch::kCAPTURED || how == CudaGraphLaunch::kUPDATED)
            << label << ": " << static_cast<int>(how) << " " << graph.getNotCapturedReason();
        const Tensor recaptured = readOutput(batch, *mOutput);
        expectMatchesReference(recaptured, x, label);
        const Tensor replayed = graphRun(graph, batch, CudaGraphLaunch::kREPLAYED);
        expectBitwiseEqual(replayed, recaptured, label + ": replay after the new capture");
        expectBitwiseEqual(plainRun(batch), replayed, label + ": plain enqueue");
    }
    // Back at batch 2 with the first contents: the first capture's results.
    setInput(2, 3);
    ASSERT_TRUE(graph.enqueue(mStream));
    expectBitwiseEqual(graphRun(graph, 2, CudaGraphLaunch::kREPLAYED), first, "batch 2 again");
    expectMatchesReference(first, x2, "batch 2");
}

TEST_F(CudaGraphTest, NewAddressesCaptureAgainAndTheReplayWritesThere) {
    CudaGraph graph(*mContext);
    Tensor x = setInput(2, 4);
    graphRun(graph, 2, CudaGraphLaunch::kCAPTURED);
    const Tensor before = graphRun(graph, 2, CudaGraphLaunch::kREPLAYED);

    DeviceBuffer moved(*mBackend, kMaxBatch * kHidden * sizeof(float));
    ASSERT_TRUE(mContext->setTensorAddress("y", moved.get()));
    poison(moved);
    poison(*mOutput);
    ASSERT_TRUE(graph.enqueue(mStream));
    // Same layers, one other pointer: the executable graph is patched rather than rebuilt.
    EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kUPDATED) << graph.getNotCapturedReason();
    expectBitwiseEqual(readOutput(2, moved), before, "the new output buffer");
    poison(moved);
    ASSERT_TRUE(graph.enqueue(mStream));
    EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kREPLAYED);
    expectBitwiseEqual(readOutput(2, moved), before, "replay into the new output buffer");
    // The old buffer is no longer written.
    const Tensor old = readOutput(2, *mOutput);
    for (int64_t i = 0; i < old.elementCount(); ++i) ASSERT_TRUE(std::isnan(old.data<float>()[i])) << i;
    expectMatchesReference(before, x, "results");
}

class CountingProfiler : public IProfiler {
public:
    void reportLayerTime(const char*, float) noexcept override { ++reports; }
    int reports{0};
};

TEST_F(CudaGraphTest, AProfilerOrAnOutputAllocatorRunsWithoutTheGraphAndSaysWhy) {
    CudaGraph graph(*mContext);
    Tensor x = setInput(2, 5);
    graphRun(graph, 2, CudaGraphLaunch::kCAPTURED);

    // A profiler attached after the capture must still see every layer: no replay.
    CountingProfiler profiler;
    mContext->setProfiler(&profiler);
    const Tensor profiled = graphRun(graph, 2, CudaGraphLaunch::kNOT_CAPTURED);
    EXPECT_NE(std::string(graph.getNotCapturedReason()).find("profiler"), std::string::npos)
        << graph.getNotCapturedReason();
    EXPECT_GT(profiler.reports, 0);
    expectMatchesReference(profiled, x, "profiled run");
    mContext->setProfiler(nullptr);
    graphRun(graph, 2, CudaGraphLaunch::kREPLAYED);

    class DeviceAllocator : public IOutputAllocator {
    public:
        explicit DeviceAllocator(void* buffer) : mBuffer(buffer) {}
        void* reallocateOutput(const char*, void*, uint64_t, uint64_t) noexcept override {
            ++calls;
            return mBuffer;
        }
        void notifyShape(const char*, const Dims&) noexcept override {}
        int calls{0};

    private:
        void* mBuffer;
    } allocator(mOutput->get());
    ASSERT_TRUE(mContext->setOutputAllocator("y", &allocator));
    graphRun(graph, 2, CudaGraphLaunch::kNOT_CAPTURED);
    EXPECT_NE(std::string(graph.getNotCapturedReason()).find("output allocator"), std::string::npos)
        << graph.getNotCapturedReason();
    EXPECT_EQ(allocator.calls, 1);
    EXPECT_TRUE(mLogger.errors.empty());
}

TEST_F(CudaGraphTest, TheLegacyDefaultStreamRunsWithoutAGraph) {
    CudaGraph graph(*mContext);
    Tensor x = setInput(1, 6);
    ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
    ASSERT_TRUE(graph.enqueue(nullptr));
    EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kNOT_CAPTURED);
    EXPECT_NE(std::string(graph.getNotCapturedReason()).find("legacy default stream"), std::string::npos)
        << graph.getNotCapturedReason();
    ASSERT_TRUE(mBackend->synchronize(nullptr).isOk());
    expectMatchesReference(readOutput(1, *mOutput), x, "legacy stream");
    // Not tried again on the same stream; a stream of its own captures.
    ASSERT_TRUE(graph.enqueue(nullptr));
    EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kNOT_CAPTURED);
    ASSERT_TRUE(mBackend->synchronize(nullptr).isOk());
    graphRun(graph, 1, CudaGraphLaunch::kCAPTURED);
}

TEST_F(CudaGraphTest, CapturingEnqueueByHandNeedsARunAtTheNewShapesFirst) {
    setInput(3, 7);
    ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
    // The TensorRT recipe without the warm-up enqueue: preparing batch 3 would allocate inside the capture.
    ASSERT_TRUE(mBackend->beginCapture(mStream).isOk());
    EXPECT_TRUE(mBackend->isCapturing(mStream));
    EXPECT_FALSE(mContext->enqueue(mStream));
    mBackend->abortCapture(mStream);
    EXPECT_FALSE(mBackend->isCapturing(mStream));
    ASSERT_FALSE(mLogger.errors.empty());
    EXPECT_NE(mLogger.errors.back().find("run enqueue() once outside the capture"), std::string::npos)
        << mLogger.errors.back();

    // With the warm-up run, the same hand-made capture records a replayable run.
    mLogger.errors.clear();
    const Tensor plain = plainRun(3);
    ASSERT_TRUE(mBackend->beginCapture(mStream).isOk());
    ASSERT_TRUE(mContext->enqueue(mStream));
    std::unique_ptr<StreamGraph> recorded;
    auto updated = mBackend->endCapture(mStream, recorded);
    ASSERT_TRUE(updated.isOk()) << updated.status().message();
    EXPECT_FALSE(*updated);
    ASSERT_NE(recorded, nullptr);
    poison(*mOutput);
    ASSERT_TRUE(recorded->launch(mStream).isOk());
    expectBitwiseEqual(readOutput(3, *mOutput), plain, "hand-made capture");
    EXPECT_TRUE(mLogger.errors.empty());
}

using FoldedIndexGraphTest = CudaTest;

/// y = x + table[:, :seq] for x [1, seq] and an input table [1, 16]: the Slice's end is Shape(x)[1], a
/// value known only once the sequence length is set. It is folded while the context prepares, so the
/// CUDA Slice plans from it at reshape: no read-back in the run, and the run can be captured (as the
/// position-id slices of transformers). The table is an input, so that the Slice itself runs.
TEST_F(FoldedIndexGraphTest, ASliceByTheInputShapeIsCapturedAndFollowsTheShape) {
    test::CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    constexpr int64_t kMaxSeq = 16;
    Tensor table = test::randomTensor(DataType::kFLOAT, {1, kMaxSeq}, -1, 1, 31);
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, -1});
    ITensor* tableInput = net->addInput("table", DataType::kFLOAT, Dims{1, kMaxSeq});
    ITensor* seq = net->addLayer("Shape", {x}, 1, LayerAttributes().setInt("start", 1).setInt("end", 2))->getOutput(0);
    const int64_t zero = 0, one = 1;
    ITensor* starts = net->addConstant(Dims{1}, DataType::kINT64, &zero);
    ITensor* axes = net->addConstant(Dims{1}, DataType::kINT64, &one);
    ITensor* rows = net->addLayer("Slice", {tableInput, starts, seq, axes})->getOutput(0);
    ITensor* y = net->addElementWise(*x, *rows, ElementWiseOperation::kSUM)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto config = builder->createBuilderConfig();
    config->setDefaultDeviceType(DeviceType::kGPU);
    auto profile = builder->createOptimizationProfile();
    profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1, 1});
    profile->setDimensions("x", OptProfileSelector::kOPT, Dims{1, 8});
    profile->setDimensions("x", OptProfileSelector::kMAX, Dims{1, kMaxSeq});
    config->addOptimizationProfile(profile.get());
    auto plan = builder->buildSerializedNetwork(*net, *config);
    ASSERT_NE(plan, nullptr);
    auto engine = createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    ASSERT_NE(engine, nullptr);
    auto context = engine->createExecutionContext();
    ASSERT_NE(context, nullptr);
    DeviceBuffer xBuffer(*mBackend, kMaxSeq * sizeof(float)), yBuffer(*mBackend, kMaxSeq * sizeof(float));
    DeviceBuffer tableBuffer(*mBackend, table.byteSize());
    ASSERT_TRUE(mBackend->copyToDevice(tableBuffer.get(), table.data(), table.byteSize(), mStream).isOk());
    ASSERT_TRUE(context->setTensorAddress("table", tableBuffer.get()));
    ASSERT_TRUE(context->setTensorAddress("x", xBuffer.get()));
    ASSERT_TRUE(context->setTensorAddress("y", yBuffer.get()));

    CudaGraph graph(*context);
    for (int64_t length : {int64_t{8}, int64_t{5}, kMaxSeq}) {
        Tensor xs = test::randomTensor(DataType::kFLOAT, {1, length}, -1, 1, 32 + static_cast<uint32_t>(length));
        ASSERT_TRUE(context->setInputShape("x", Dims{1, length}));
        ASSERT_TRUE(mBackend->copyToDevice(xBuffer.get(), xs.data(), xs.byteSize(), mStream).isOk());
        std::vector<double> expected;
        for (int64_t i = 0; i < length; ++i) expected.push_back(double(xs.data<float>()[i]) + table.data<float>()[i]);
        for (int run = 0; run < 2; ++run) {
            const std::string label = "length " + std::to_string(length) + " run " + std::to_string(run);
            ASSERT_TRUE(graph.enqueue(mStream)) << label;
            if (run == 0)
                EXPECT_NE(graph.getLastLaunch(), CudaGraphLaunch::kNOT_CAPTURED) << label << ": "
                                                                                   << graph.getNotCapturedReason();
            else
                EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kREPLAYED) << label;
            Tensor ys = Tensor::allocate(DataType::kFLOAT, {1, length});
            ASSERT_TRUE(mBackend->copyToHost(ys.data(), yBuffer.get(), ys.byteSize(), mStream).isOk());
            ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
            EXPECT_EQ(test::compareWithReference(ys, expected, 1e-6, 1e-6), "") << label;
        }
    }
    EXPECT_TRUE(logger.errors.empty());
}

/// The kernel's own answer: a Slice by starts/ends inputs that are not constants of the graph can be
/// recorded when reshape() sees their values on the host, and says why not when it does not.
TEST_F(FoldedIndexGraphTest, ASliceKernelIsCapturableOnlyWithIndexValuesKnownBeforeTheRun) {
    Graph graph;
    Value* data = graph.addInput("data", DataType::kFLOAT, SymShape{6, 2});
    Value* starts = graph.addInput("starts", DataType::kINT64, SymShape{1});
    Value* ends = graph.addInput("ends", DataType::kINT64, SymShape{1});
    Node* node = graph.addNode("Slice", "slice", {data, starts, ends}, {}, 1);
    node->outputs[0]->dtype = DataType::kFLOAT;
    node->outputs[0]->shape = SymShape{3, 2};
    node->outputs[0]->typeKnown = true;
    auto kernel = mBackend->createKernel(*node);
    ASSERT_TRUE(kernel.isOk()) << kernel.status().message();

    const int64_t startValue = 0, endValue = 3;
    std::vector<TensorView> unknown{{DataType::kFLOAT, {6, 2}, nullptr},
                                    {DataType::kINT64, {1}, nullptr},
                                    {DataType::kINT64, {1}, nullptr}};
    std::vector<TensorView> outputs{{DataType::kFLOAT, {3, 2}, nullptr}};
    ASSERT_TRUE((*kernel)->reshape(unknown, outputs).isOk());
    std::string why;
    EXPECT_FALSE((*kernel)->isCapturable(&why));
    EXPECT_NE(why.find("computed during the run"), std::string::npos) << why;

    std::vector<TensorView> known = unknown;
    known[1].hostData = &startValue;
    known[2].hostData = &endValue;
    ASSERT_TRUE((*kernel)->reshape(known, outputs).isOk());
    EXPECT_TRUE((*kernel)->isCapturable(&why)) << why;
    // A wrong value is found at reshape, where it is known, not at run time.
    const int64_t tooFar = 5;
    known[2].hostData = &tooFar;
    EXPECT_FALSE((*kernel)->reshape(known, outputs).isOk());
}

using DataDependentGraphTest = CudaTest;

/// y = relu(reshape(x, cast<int64>(shape))): the output shape is the value of an input computed on the GPU.
TEST_F(DataDependentGraphTest, NotCapturableAndSaysWhichLayer) {
    test::CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto net = builder->createNetwork();
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 6});
    ITensor* shape = net->addInput("shape", DataType::kFLOAT, Dims{2});
    ITensor* target = net->addLayer("Cast", {shape}, 1, LayerAttributes().setInt("to", 7))->getOutput(0);
    ILayer* reshape = net->addLayer("Reshape", {x, target});
    reshape->setName("computed_reshape");
    ITensor* y = net->addActivation(*reshape->getOutput(0), ActivationType::kRELU)->getOutput(0);
    y->setName("y");
    net->markOutput(*y);
    auto config = builder->createBuilderConfig();
    config->setDefaultDeviceType(DeviceType::kGPU);
    auto plan = builder->buildSerializedNetwork(*net, *config);
    ASSERT_NE(plan, nullptr);
    auto engine = createRuntime(logger)->deserializeEngine(plan->data(), plan->size());
    ASSERT_NE(engine, nullptr);
    auto context = engine->createExecutionContext();
    ASSERT_NE(context, nullptr);

    Tensor xs = test::randomTensor(DataType::kFLOAT, {2, 6}, -1, 1, 21);
    const float target34[2] = {3, 4};
    DeviceBuffer xBuffer(*mBackend, xs.byteSize()), shapeBuffer(*mBackend, sizeof target34);
    DeviceBuffer yBuffer(*mBackend, xs.byteSize());
    ASSERT_TRUE(mBackend->copyToDevice(xBuffer.get(), xs.data(), xs.byteSize(), mStream).isOk());
    ASSERT_TRUE(mBackend->copyToDevice(shapeBuffer.get(), target34, sizeof target34, mStream).isOk());
    ASSERT_TRUE(context->setTensorAddress("x", xBuffer.get()));
    ASSERT_TRUE(context->setTensorAddress("shape", shapeBuffer.get()));
    class Allocator : public IOutputAllocator {
    public:
        explicit Allocator(void* buffer) : mBuffer(buffer) {}
        void* reallocateOutput(const char*, void*, uint64_t, uint64_t) noexcept override { return mBuffer; }
        void notifyShape(const char*, const Dims& dims) noexcept override { shape = dims; }
        Dims shape;

    private:
        void* mBuffer;
    } allocator(yBuffer.get());
    ASSERT_TRUE(context->setOutputAllocator("y", &allocator));

    CudaGraph graph(*context);
    for (int run = 0; run < 2; ++run) {
        ASSERT_TRUE(graph.enqueue(mStream)) << "run " << run;
        EXPECT_EQ(graph.getLastLaunch(), CudaGraphLaunch::kNOT_CAPTURED);
        const std::string why = graph.getNotCapturedReason();
        EXPECT_NE(why.find("computed_reshape"), std::string::npos) << why;
        EXPECT_NE(why.find("depends on values computed during the run"), std::string::npos) << why;
        ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
        EXPECT_EQ(allocator.shape, (Dims{3, 4}));
        Tensor ys = Tensor::allocate(DataType::kFLOAT, {3, 4});
        ASSERT_TRUE(mBackend->copyToHost(ys.data(), yBuffer.get(), ys.byteSize(), mStream).isOk());
        ASSERT_TRUE(mBackend->synchronize(mStream).isOk());
        std::vector<double> expected;
        for (int64_t i = 0; i < xs.elementCount(); ++i) expected.push_back(std::max(0.0f, xs.data<float>()[i]));
        EXPECT_EQ(test::compareWithReference(ys, expected, 0, 0), "") << "run " << run;
    }
    EXPECT_TRUE(logger.errors.empty());
}

}  // namespace
}  // namespace kiln::cudatest
