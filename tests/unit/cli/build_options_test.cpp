#include "build_options.h"

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

using test::parseInto;

Status parseBuild(BuildOptions& options, const std::vector<std::string>& args, bool gpu = false) {
    parseInto(options, args);
    return options.parse(gpu);
}

TEST(BuildOptions, MinOptMaxShapes) {
    BuildOptions options;
    Status status = parseBuild(options, {"--minShapes=x:1x3", "--optShapes=x:4x3", "--maxShapes=x:8x3"});
    ASSERT_TRUE(status.isOk()) << status.message();
    EXPECT_EQ(options.minShapes.at("x"), Dims({1, 3}));
    EXPECT_EQ(options.optShapes.at("x"), Dims({4, 3}));
    EXPECT_EQ(options.maxShapes.at("x"), Dims({8, 3}));
}

TEST(BuildOptions, OptShapesAloneAreAlsoMinAndMax) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--optShapes='in:0':2x5"}).isOk());
    EXPECT_EQ(options.minShapes.at("in:0"), Dims({2, 5}));
    EXPECT_EQ(options.maxShapes.at("in:0"), Dims({2, 5}));
}

TEST(BuildOptions, RepeatedShapeFlagsAccumulate) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--optShapes=a:1", "--optShapes", "b:2x2"}).isOk());
    EXPECT_EQ(options.optShapes.size(), 2u);
    EXPECT_EQ(options.optShapes.at("b"), Dims({2, 2}));
}

TEST(BuildOptions, ShapeFlagCombinationsFollowTrtexec) {
    for (std::vector<std::string> args :
         std::vector<std::vector<std::string>>{{"--minShapes=x:1"},
                                               {"--maxShapes=x:1"},
                                               {"--minShapes=x:1", "--maxShapes=x:2"},
                                               {"--minShapes=x:1", "--optShapes=x:2"},
                                               {"--optShapes=x:1", "--maxShapes=x:2"}}) {
        BuildOptions options;
        Status status = parseBuild(options, args);
        EXPECT_FALSE(status.isOk()) << args[0];
        EXPECT_NE(status.message().find("only --optShapes, or all"), std::string::npos);
    }
}

TEST(BuildOptions, EveryInputNeedsAllThree) {
    BuildOptions options;
    Status status = parseBuild(options, {"--minShapes=x:1,y:1", "--optShapes=x:2,y:1", "--maxShapes=x:3"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("'y'"), std::string::npos);
    EXPECT_NE(status.message().find("--maxShapes"), std::string::npos);
}

TEST(BuildOptions, MinOptMaxMustBeOrdered) {
    BuildOptions options;
    Status status = parseBuild(options, {"--minShapes=x:4x3", "--optShapes=x:2x3", "--maxShapes=x:8x3"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("min <= opt <= max"), std::string::npos);
    BuildOptions ranks;
    EXPECT_FALSE(parseBuild(ranks, {"--minShapes=x:1", "--optShapes=x:2x3", "--maxShapes=x:8x3"}).isOk());
}

TEST(BuildOptions, MemoryPoolSizes) {
    struct Case {
        const char* text;
        size_t bytes;
    };
    for (Case c : {Case{"workspace:1024", size_t(1) << 30}, Case{"workspace:512K", size_t(512) << 10},
                   Case{"workspace:1.5G", size_t(3) << 29}, Case{"workspace:4096B", 4096},
                   Case{"workspace:3M", size_t(3) << 20}, Case{"workspace:0", 0}}) {
        BuildOptions options;
        Status status = parseBuild(options, {std::string("--memPoolSize=") + c.text});
        ASSERT_TRUE(status.isOk()) << c.text << ": " << status.message();
        ASSERT_TRUE(options.workspaceBytes.has_value());
        EXPECT_EQ(*options.workspaceBytes, c.bytes) << c.text;
    }
}

TEST(BuildOptions, BadMemoryPoolSizes) {
    for (const char* text : {"workspace:abc", "workspace:-1", "workspace:1T", "workspace:", "workspace", "1024"}) {
        BuildOptions options;
        Status status = parseBuild(options, {std::string("--memPoolSize=") + text});
        EXPECT_FALSE(status.isOk()) << text;
        EXPECT_NE(status.message().find("--memPoolSize"), std::string::npos) << status.message();
    }
    BuildOptions pool;
    Status status = parseBuild(pool, {"--memPoolSize=dlaSRAM:1M"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("'dlaSRAM'"), std::string::npos);
}

TEST(BuildOptions, BackendDefaultsToTheGpuWhenThereIsOne) {
    BuildOptions withGpu;
    ASSERT_TRUE(parseBuild(withGpu, {}, true).isOk());
    EXPECT_EQ(withGpu.device, DeviceType::kGPU);
    BuildOptions withoutGpu;
    ASSERT_TRUE(parseBuild(withoutGpu, {}, false).isOk());
    EXPECT_EQ(withoutGpu.device, DeviceType::kCPU);
    BuildOptions forcedCpu;
    ASSERT_TRUE(parseBuild(forcedCpu, {"--backend=cpu"}, true).isOk());
    EXPECT_EQ(forcedCpu.device, DeviceType::kCPU);
    BuildOptions unknown;
    Status status = parseBuild(unknown, {"--backend=tpu"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("'tpu'"), std::string::npos);
}

TEST(BuildOptions, PrecisionFlagsReachTheConfig) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--best", "--noTF32", "--memPoolSize=workspace:64M",
                                     "--builderOptimizationLevel=5", "--backend=cpu"})
                    .isOk());
    EXPECT_TRUE(options.fp16 && options.bf16 && options.int8);
    BuilderConfig config;
    options.applyTo(config);
    EXPECT_TRUE(config.getFlag(BuilderFlag::kFP16));
    EXPECT_TRUE(config.getFlag(BuilderFlag::kBF16));
    EXPECT_TRUE(config.getFlag(BuilderFlag::kINT8));
    EXPECT_FALSE(config.getFlag(BuilderFlag::kTF32));
    EXPECT_EQ(config.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE), size_t(64) << 20);
    EXPECT_EQ(config.getBuilderOptimizationLevel(), 5);
    EXPECT_EQ(config.getDefaultDeviceType(), DeviceType::kCPU);
}

TEST(BuildOptions, GraphOptimizationSwitchesReachTheConfig) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--noGraphOptimization", "--verifyPasses"}).isOk());
    BuilderConfig config;
    options.applyTo(config);
    EXPECT_TRUE(config.getFlag(BuilderFlag::kNO_GRAPH_OPTIMIZATION));
    EXPECT_TRUE(config.getFlag(BuilderFlag::kDEBUG));
    BuildOptions plain;
    ASSERT_TRUE(parseBuild(plain, {}).isOk());
    BuilderConfig defaults;
    plain.applyTo(defaults);
    EXPECT_FALSE(defaults.getFlag(BuilderFlag::kNO_GRAPH_OPTIMIZATION));
    EXPECT_FALSE(defaults.getFlag(BuilderFlag::kDEBUG));
}

TEST(BuildOptions, DefaultsLeaveTheConfigAlone) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {}).isOk());
    BuilderConfig config;
    size_t defaultLimit = config.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE);
    options.applyTo(config);
    EXPECT_FALSE(config.getFlag(BuilderFlag::kFP16));
    EXPECT_TRUE(config.getFlag(BuilderFlag::kTF32));
    EXPECT_EQ(config.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE), defaultLimit);
    EXPECT_FALSE(options.anyPrecisionFlag());
    EXPECT_FALSE(options.skipInference);
    EXPECT_TRUE(options.notes.empty());
}

TEST(BuildOptions, StronglyTypedRefusesPrecisionFlags) {
    BuildOptions options;
    Status status = parseBuild(options, {"--stronglyTyped", "--fp16"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--stronglyTyped"), std::string::npos);
    BuildOptions alone;
    EXPECT_TRUE(parseBuild(alone, {"--stronglyTyped"}).isOk());
}

TEST(BuildOptions, OptimizationLevelRange) {
    BuildOptions options;
    EXPECT_FALSE(parseBuild(options, {"--builderOptimizationLevel=6"}).isOk());
}

TEST(BuildOptions, MaxBatchIsLegacySugarWithANote) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--maxBatch=16"}).isOk());
    EXPECT_EQ(options.maxBatch, 16);
    ASSERT_EQ(options.notes.size(), 1u);
    EXPECT_NE(options.notes[0].find("--maxShapes=input:16x"), std::string::npos);

    BuildOptions zero;
    EXPECT_FALSE(parseBuild(zero, {"--maxBatch=0"}).isOk());
    BuildOptions mixed;
    EXPECT_FALSE(parseBuild(mixed, {"--maxBatch=4", "--optShapes=x:2"}).isOk());
}

TEST(BuildOptions, DeprecatedFlagsMapToTheirModernForms) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--workspace=256", "--explicitBatch", "--buildOnly"}).isOk());
    EXPECT_EQ(options.workspaceBytes.value_or(0), size_t(256) << 20);
    EXPECT_TRUE(options.skipInference);
    ASSERT_EQ(options.notes.size(), 3u);
    EXPECT_NE(options.notes[0].find("--memPoolSize=workspace:256M"), std::string::npos);

    BuildOptions both;
    EXPECT_FALSE(parseBuild(both, {"--workspace=256", "--memPoolSize=workspace:1G"}).isOk());
}

TEST(BuildOptions, IoFormatsAreParsedAndMalformedOnesRefused) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--inputIOFormats=fp32:chw,int64:chw", "--outputIOFormats=fp32:chw"}).isOk());
    ASSERT_EQ(options.inputFormats.size(), 2u);
    EXPECT_EQ(options.inputFormats[1].dtype, DataType::kINT64);
    ASSERT_EQ(options.outputFormats.size(), 1u);
    BuildOptions bad;
    Status status = parseBuild(bad, {"--inputIOFormats=float:chw"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--inputIOFormats"), std::string::npos);
}

TEST(BuildOptions, CalibNeedsInt8) {
    BuildOptions alone;
    Status status = parseBuild(alone, {"--calib=cache.bin"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--int8"), std::string::npos);
    BuildOptions withInt8;
    ASSERT_TRUE(parseBuild(withInt8, {"--calib=cache.bin", "--int8"}).isOk());
    EXPECT_EQ(withInt8.calibrationCache, "cache.bin");
    BuildOptions withBest;
    EXPECT_TRUE(parseBuild(withBest, {"--calib=cache.bin", "--best"}).isOk());
}

TEST(BuildOptions, TimingFlags) {
    BuildOptions defaults;
    ASSERT_TRUE(parseBuild(defaults, {}).isOk());
    EXPECT_EQ(defaults.avgTiming, 8);
    EXPECT_FALSE(defaults.noBuilderCache);
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--avgTiming=3", "--timingCacheFile=t.cache"}).isOk());
    EXPECT_EQ(options.avgTiming, 3);
    EXPECT_EQ(options.timingCacheFile, "t.cache");
    BuildOptions zero;
    EXPECT_FALSE(parseBuild(zero, {"--avgTiming=0"}).isOk());
    BuildOptions conflict;
    Status status = parseBuild(conflict, {"--timingCacheFile=t.cache", "--noBuilderCache"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--noBuilderCache"), std::string::npos);
}

TEST(BuildOptions, SeedEraTimingAndNvtxFlagsAreNoted) {
    BuildOptions options;
    ASSERT_TRUE(parseBuild(options, {"--minTiming=2", "--nvtxMode=verbose"}).isOk());
    ASSERT_EQ(options.notes.size(), 2u);
    EXPECT_NE(options.notes[0].find("--minTiming is deprecated"), std::string::npos);
    EXPECT_NE(options.notes[1].find("--profilingVerbosity"), std::string::npos);
    BuildOptions badMode;
    EXPECT_FALSE(parseBuild(badMode, {"--nvtxMode=loud"}).isOk());
    BuildOptions badTiming;
    EXPECT_FALSE(parseBuild(badTiming, {"--minTiming=0"}).isOk());
}

TEST(BuildOptions, NonNumericValueIsACli11Error) {
    BuildOptions options;
    EXPECT_THROW(parseInto(options, {"--maxBatch=lots"}), CLI::ParseError);
}

}  // namespace
}  // namespace kiln::cli
