// The engine cache on the bundled tiny CNN (input [batch, 3, 32, 32]): which requests build, which
// engine serves a batch (the smallest that fits), LRU eviction, persistence across caches (a damaged
// file is rebuilt), and that a cached engine computes what a fresh one does.

#include "kiln/engine_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "engine_runner.h"
#include "onnx.pb.h"

namespace kiln::test {
namespace {

const std::string kModel = std::string(KILN_EXAMPLE_MODELS_DIR) + "/tiny_cnn.onnx";

std::map<std::string, Dims> batchOf(int64_t batch) {
    return {{"input", Dims{batch, 3, 32, 32}}};
}

std::unique_ptr<EngineCache> makeCache(ILogger& logger, int32_t maxCached, const std::string& directory = "") {
    auto builder = createBuilder(logger);
    auto settings = builder->createBuilderConfig();
    return createEngineCache(logger, kModel, *settings, EngineCacheConfig{maxCached, directory});
}

/// The output of `engine` on `batch` rows of seeded random input.
std::vector<float> runBatch(Engine& engine, int64_t batch) {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal;
    std::vector<float> input(static_cast<size_t>(batch * 3 * 32 * 32));
    for (float& v : input) v = normal(rng);
    std::vector<float> output(static_cast<size_t>(batch * 10));
    auto context = engine.createExecutionContext();
    EXPECT_TRUE(context->setInputShape("input", Dims{batch, 3, 32, 32}));
    EXPECT_TRUE(context->setTensorAddress("input", input.data()));
    EXPECT_TRUE(context->setTensorAddress("probabilities", output.data()));
    EXPECT_TRUE(context->execute());
    return output;
}

TEST(EngineCache, BuildsOnlyWhenNoEngineFitsAndTheSmallestFittingBatchServes) {
    CapturingLogger logger;
    auto cache = makeCache(logger, 4);
    ASSERT_NE(cache, nullptr);
    std::shared_ptr<Engine> four = cache->getEngine(batchOf(4));
    ASSERT_NE(four, nullptr);
    EXPECT_EQ(cache->getNbBuilds(), 1);
    EXPECT_EQ(cache->getEngine(batchOf(2)), four);  // 2 <= 4: no build
    std::shared_ptr<Engine> eight = cache->getEngine(batchOf(8));
    EXPECT_NE(eight, four);
    EXPECT_EQ(cache->getNbBuilds(), 2);
    EXPECT_EQ(cache->getEngine(batchOf(3)), four);   // both fit: the smaller batch wins
    EXPECT_EQ(cache->getEngine(batchOf(5)), eight);  // only 8 fits
    EXPECT_EQ(cache->getNbBuilds(), 2);
    EXPECT_EQ(cache->getNbCachedEngines(), 2);
    // The cached engines compute, for 3 rows, what each other do.
    const std::vector<float> a = runBatch(*four, 3), b = runBatch(*eight, 3);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6f) << i;
}

TEST(EngineCache, TheLeastRecentlyUsedEngineIsEvicted) {
    CapturingLogger logger;
    auto cache = makeCache(logger, 1);
    ASSERT_NE(cache, nullptr);
    std::shared_ptr<Engine> four = cache->getEngine(batchOf(4));
    std::shared_ptr<Engine> eight = cache->getEngine(batchOf(8));
    EXPECT_EQ(cache->getNbCachedEngines(), 1);
    EXPECT_EQ(cache->getEngine(batchOf(2)), eight);  // the batch-4 engine is gone; 8 fits
    EXPECT_EQ(cache->getNbBuilds(), 2);
    EXPECT_EQ(runBatch(*four, 2).size(), 20u);  // an evicted engine the caller holds still runs
}

TEST(EngineCache, EnginesPersistAcrossCachesAndADamagedFileIsRebuilt) {
    const std::filesystem::path directory = std::filesystem::temp_directory_path() / ("kiln_engine_cache_" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory);
    CapturingLogger logger;
    {
        auto first = makeCache(logger, 2, directory.string());
        ASSERT_NE(first, nullptr);
        ASSERT_NE(first->getEngine(batchOf(8)), nullptr);
        EXPECT_EQ(first->getNbBuilds(), 1);
    }
    auto second = makeCache(logger, 2, directory.string());
    ASSERT_NE(second->getEngine(batchOf(4)), nullptr);  // the persisted batch-8 engine fits
    EXPECT_EQ(second->getNbBuilds(), 0);
    EXPECT_EQ(second->getNbDiskLoads(), 1);

    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) files.push_back(entry.path());
    ASSERT_EQ(files.size(), 1u);
    EXPECT_NE(files[0].filename().string().find("-b8.plan"), std::string::npos) << files[0];
    {
        std::fstream file(files[0], std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(200);
        file.put('\x5a');
    }
    auto third = makeCache(logger, 2, directory.string());
    ASSERT_NE(third->getEngine(batchOf(8)), nullptr);
    EXPECT_EQ(third->getNbDiskLoads(), 0);
    EXPECT_EQ(third->getNbBuilds(), 1);  // rebuilt, and the file rewritten
    auto fourth = makeCache(logger, 2, directory.string());
    ASSERT_NE(fourth->getEngine(batchOf(8)), nullptr);
    EXPECT_EQ(fourth->getNbDiskLoads(), 1);
    std::filesystem::remove_all(directory);
}

TEST(EngineCache, AModelWithAFixedBatchServesThatBatchOnly) {
    // Relu over x: [2, 4], every dimension fixed by the model.
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.add_opset_import()->set_version(17);
    onnx::GraphProto* g = model.mutable_graph();
    onnx::ValueInfoProto* x = g->add_input();
    x->set_name("x");
    x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t extent : {2, 4}) x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(extent);
    onnx::NodeProto* relu = g->add_node();
    relu->set_op_type("Relu");
    relu->add_input("x");
    relu->add_output("y");
    onnx::ValueInfoProto* y = g->add_output();
    y->set_name("y");
    y->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    const std::filesystem::path path = std::filesystem::temp_directory_path() / ("kiln_fixed_" + std::to_string(::getpid()) + ".onnx");
    {
        std::ofstream file(path, std::ios::binary);
        ASSERT_TRUE(model.SerializeToOstream(&file));
    }
    CapturingLogger logger;
    auto builder = createBuilder(logger);
    auto settings = builder->createBuilderConfig();
    auto cache = createEngineCache(logger, path.string(), *settings, EngineCacheConfig{2, ""});
    ASSERT_NE(cache, nullptr);
    EXPECT_NE(cache->getEngine({{"x", Dims{2, 4}}}), nullptr);
    EXPECT_EQ(cache->getEngine({{"x", Dims{1, 4}}}), nullptr);  // batch 1 <= 2, but the model fixes 2
    ASSERT_FALSE(logger.errors.empty());
    EXPECT_NE(logger.errors.back().find("fixed at 2"), std::string::npos) << logger.errors.back();
    EXPECT_EQ(cache->getNbBuilds(), 1);
    std::filesystem::remove(path);
}

TEST(EngineCache, RefusesBadRequestsAndBadSetupsWithTheReason) {
    CapturingLogger logger;
    auto cache = makeCache(logger, 1);
    ASSERT_NE(cache, nullptr);
    EXPECT_EQ(cache->getEngine({{"input", Dims{2, 3, 32}}}), nullptr);
    EXPECT_EQ(cache->getEngine({{"nosuch", Dims{2, 3, 32, 32}}}), nullptr);
    EXPECT_EQ(cache->getEngine({{"input", Dims{2, 3, -1, 32}}}), nullptr);
    EXPECT_EQ(cache->getNbBuilds(), 0);
    ASSERT_GE(logger.errors.size(), 3u);
    EXPECT_NE(logger.errors[1].find("nosuch"), std::string::npos) << logger.errors[1];

    auto builder = createBuilder(logger);
    auto settings = builder->createBuilderConfig();
    EXPECT_EQ(createEngineCache(logger, "/nonexistent/model.onnx", *settings, {}), nullptr);
    EXPECT_EQ(createEngineCache(logger, kModel, *settings, EngineCacheConfig{0, ""}), nullptr);
}

}  // namespace
}  // namespace kiln::test
