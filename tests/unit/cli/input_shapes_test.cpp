#include "input_shapes.h"

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

Dims noProfile() {
    Dims d;
    d.nbDims = -1;
    return d;
}

BuildOptions buildWith(const std::vector<std::string>& args) {
    BuildOptions options;
    test::parseInto(options, args);
    Status status = options.parse(false);
    EXPECT_TRUE(status.isOk()) << status.message();
    return options;
}

InferenceOptions inferenceWith(const std::vector<std::string>& args) {
    InferenceOptions options;
    test::parseInto(options, args);
    Status status = options.parse();
    EXPECT_TRUE(status.isOk()) << status.message();
    return options;
}

Dims profileDims(const BuildProfile& p, const char* name, OptProfileSelector select) {
    return p.profile.getDimensions(name, select);
}

const std::vector<InputInfo> kInputs = {{"image", Dims({-1, 3, -1, -1}), noProfile()},
                                        {"scale", Dims({1}), noProfile()}};

TEST(BuildProfile, FromMinOptMax) {
    BuildOptions build =
        buildWith({"--minShapes=image:1x3x32x32", "--optShapes=image:4x3x64x64", "--maxShapes=image:8x3x128x128"});
    auto profile = makeBuildProfile(kInputs, build, {});
    ASSERT_TRUE(profile.isOk()) << profile.status().message();
    EXPECT_TRUE(profile->needed);
    EXPECT_TRUE(profile->warnings.empty());
    EXPECT_EQ(profileDims(*profile, "image", OptProfileSelector::kMIN), Dims({1, 3, 32, 32}));
    EXPECT_EQ(profileDims(*profile, "image", OptProfileSelector::kOPT), Dims({4, 3, 64, 64}));
    EXPECT_EQ(profileDims(*profile, "image", OptProfileSelector::kMAX), Dims({8, 3, 128, 128}));
    EXPECT_EQ(profileDims(*profile, "scale", OptProfileSelector::kOPT).nbDims, -1) << "static inputs need no profile";
    EXPECT_TRUE(profile->profile.isValid());
}

TEST(BuildProfile, FromRunShapes) {
    auto profile = makeBuildProfile(kInputs, buildWith({}), inferenceWith({"--shapes=image:2x3x20x30"}).shapes);
    ASSERT_TRUE(profile.isOk());
    for (auto select : {OptProfileSelector::kMIN, OptProfileSelector::kOPT, OptProfileSelector::kMAX})
        EXPECT_EQ(profileDims(*profile, "image", select), Dims({2, 3, 20, 30}));
}

TEST(BuildProfile, BuildShapesWinOverRunShapes) {
    auto profile = makeBuildProfile(kInputs, buildWith({"--optShapes=image:5x3x9x9"}),
                                    inferenceWith({"--shapes=image:2x3x20x30"}).shapes);
    ASSERT_TRUE(profile.isOk());
    EXPECT_EQ(profileDims(*profile, "image", OptProfileSelector::kOPT), Dims({5, 3, 9, 9}));
}

TEST(BuildProfile, MaxBatchSetsDimensionZeroAndDefaultsTheRest) {
    std::vector<InputInfo> inputs = {{"tokens", Dims({-1, 128}), noProfile()}, {"pixels", Dims({-1, -1}), noProfile()}};
    auto profile = makeBuildProfile(inputs, buildWith({"--maxBatch=16"}), {});
    ASSERT_TRUE(profile.isOk());
    EXPECT_EQ(profileDims(*profile, "tokens", OptProfileSelector::kMIN), Dims({1, 128}));
    EXPECT_EQ(profileDims(*profile, "tokens", OptProfileSelector::kOPT), Dims({16, 128}));
    EXPECT_EQ(profileDims(*profile, "tokens", OptProfileSelector::kMAX), Dims({16, 128}));
    EXPECT_EQ(profileDims(*profile, "pixels", OptProfileSelector::kMAX), Dims({16, 1}));
    ASSERT_EQ(profile->warnings.size(), 1u);
    EXPECT_NE(profile->warnings[0].find("'pixels'"), std::string::npos);
}

TEST(BuildProfile, InferenceBatchIsTheMaxBatchWhenNoneIsGiven) {
    std::vector<InputInfo> inputs = {{"tokens", Dims({-1, 128}), noProfile()}};
    auto profile = makeBuildProfile(inputs, buildWith({}), {}, 6);
    ASSERT_TRUE(profile.isOk());
    EXPECT_EQ(profileDims(*profile, "tokens", OptProfileSelector::kMIN), Dims({1, 128}));
    EXPECT_EQ(profileDims(*profile, "tokens", OptProfileSelector::kMAX), Dims({6, 128}));
    EXPECT_TRUE(profile->warnings.empty());
    // --maxBatch, when given, wins.
    auto both = makeBuildProfile(inputs, buildWith({"--maxBatch=16"}), {}, 6);
    ASSERT_TRUE(both.isOk());
    EXPECT_EQ(profileDims(*both, "tokens", OptProfileSelector::kMAX), Dims({16, 128}));
}

TEST(BuildProfile, UnspecifiedDynamicInputDefaultsToOneWithAWarning) {
    auto profile = makeBuildProfile(kInputs, buildWith({}), {});
    ASSERT_TRUE(profile.isOk());
    EXPECT_TRUE(profile->needed);
    EXPECT_EQ(profileDims(*profile, "image", OptProfileSelector::kOPT), Dims({1, 3, 1, 1}));
    ASSERT_EQ(profile->warnings.size(), 1u);
    EXPECT_NE(profile->warnings[0].find("'image'"), std::string::npos);
    EXPECT_NE(profile->warnings[0].find("1x3x1x1"), std::string::npos);
}

TEST(BuildProfile, StaticNetworkNeedsNoProfile) {
    std::vector<InputInfo> inputs = {{"x", Dims({2, 3}), noProfile()}};
    auto profile = makeBuildProfile(inputs, buildWith({}), {});
    ASSERT_TRUE(profile.isOk());
    EXPECT_FALSE(profile->needed);
    EXPECT_TRUE(profile->warnings.empty());
    auto matching = makeBuildProfile(inputs, buildWith({}), inferenceWith({"--shapes=x:2x3"}).shapes);
    EXPECT_TRUE(matching.isOk());
}

TEST(BuildProfile, ShapesThatDoNotFitTheModel) {
    struct Case {
        std::vector<std::string> buildArgs;
        const char* expected;
    };
    for (const Case& c :
         {Case{{"--optShapes=imag:1x3x2x2"}, "'imag', which is not an input"},
          Case{{"--optShapes=image:1x3x2"}, "does not fit"}, Case{{"--optShapes=image:1x4x2x2"}, "does not fit"},
          Case{{"--optShapes=scale:2"}, "'scale'"}}) {
        auto profile = makeBuildProfile(kInputs, buildWith(c.buildArgs), {});
        ASSERT_FALSE(profile.isOk()) << c.expected;
        EXPECT_NE(profile.status().message().find(c.expected), std::string::npos) << profile.status().message();
    }
}

TEST(InferenceShapes, ExplicitShapesProfileOptAndBatch) {
    std::vector<InputInfo> inputs = {{"a", Dims({-1, 7}), Dims({4, 7})}, {"b", Dims({3}), noProfile()}};
    auto fromOpt = chooseInferenceShapes(inputs, inferenceWith({}));
    ASSERT_TRUE(fromOpt.isOk());
    ASSERT_EQ(fromOpt->size(), 2u);
    EXPECT_EQ((*fromOpt)[0].first, "a");
    EXPECT_EQ((*fromOpt)[0].second, Dims({4, 7}));
    EXPECT_EQ((*fromOpt)[1].second, Dims({3}));

    auto given = chooseInferenceShapes(inputs, inferenceWith({"--shapes=a:2x7"}));
    ASSERT_TRUE(given.isOk());
    EXPECT_EQ((*given)[0].second, Dims({2, 7}));

    auto batch = chooseInferenceShapes(inputs, inferenceWith({"--batch=3"}));
    ASSERT_TRUE(batch.isOk());
    EXPECT_EQ((*batch)[0].second, Dims({3, 7}));
    EXPECT_EQ((*batch)[1].second, Dims({3})) << "--batch leaves static inputs alone";
}

TEST(InferenceShapes, Errors) {
    std::vector<InputInfo> inputs = {{"a", Dims({-1, 7}), noProfile()}};
    auto noOpt = chooseInferenceShapes(inputs, inferenceWith({}));
    ASSERT_FALSE(noOpt.isOk());
    EXPECT_NE(noOpt.status().message().find("--shapes=a:"), std::string::npos);
    auto unknown = chooseInferenceShapes(inputs, inferenceWith({"--shapes=q:1"}));
    ASSERT_FALSE(unknown.isOk());
    EXPECT_NE(unknown.status().message().find("'q'"), std::string::npos);
    auto wrong = chooseInferenceShapes(inputs, inferenceWith({"--shapes=a:2x8"}));
    ASSERT_FALSE(wrong.isOk());
    EXPECT_NE(wrong.status().message().find("-1x7"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
