#include "shape_spec.h"

#include <gtest/gtest.h>

#include <random>

#include "name_value_list.h"

namespace kiln::cli {
namespace {

Dims dimsOf(std::initializer_list<int64_t> values) {
    return Dims(values);
}

TEST(ShapeSpec, ParsesSeveralInputsInOneArgument) {
    auto specs = parseShapeSpecs("--shapes", {"input:1x3x224x224,mask:1x77"});
    ASSERT_TRUE(specs.isOk()) << specs.status().message();
    ASSERT_EQ(specs->size(), 2u);
    EXPECT_EQ(specs->at("input"), dimsOf({1, 3, 224, 224}));
    EXPECT_EQ(specs->at("mask"), dimsOf({1, 77}));
}

TEST(ShapeSpec, ParsesRepeatedArguments) {
    auto specs = parseShapeSpecs("--shapes", {"a:2x5", "b:7"});
    ASSERT_TRUE(specs.isOk());
    EXPECT_EQ(specs->at("a"), dimsOf({2, 5}));
    EXPECT_EQ(specs->at("b"), dimsOf({7}));
}

TEST(ShapeSpec, RandomShapesRoundTrip) {
    std::mt19937 rng(11);
    for (int trial = 0; trial < 50; ++trial) {
        int rank = std::uniform_int_distribution<int>(1, kMaxDims)(rng);
        Dims expected;
        std::string text = "t" + std::to_string(trial) + ":";
        for (int i = 0; i < rank; ++i) {
            int64_t extent = std::uniform_int_distribution<int64_t>(0, 5000)(rng);
            expected.d[expected.nbDims++] = extent;
            text += (i ? "x" : "") + std::to_string(extent);
        }
        auto specs = parseShapeSpecs("--shapes", {text});
        ASSERT_TRUE(specs.isOk()) << text;
        EXPECT_EQ(specs->begin()->second, expected) << text;
    }
}

TEST(ShapeSpec, QuotedNamesMayHoldColonsAndCommas) {
    auto specs = parseShapeSpecs("--optShapes", {"'Input:0':1x3,\"x,y\":4,plain:2"});
    ASSERT_TRUE(specs.isOk()) << specs.status().message();
    EXPECT_EQ(specs->at("Input:0"), dimsOf({1, 3}));
    EXPECT_EQ(specs->at("x,y"), dimsOf({4}));
    EXPECT_EQ(specs->at("plain"), dimsOf({2}));
}

TEST(ShapeSpec, UnquotedNameWithColonSplitsAtTheLastColon) {
    auto specs = parseShapeSpecs("--shapes", {"Input:0:8x16"});
    ASSERT_TRUE(specs.isOk());
    EXPECT_EQ(specs->at("Input:0"), dimsOf({8, 16}));
}

TEST(ShapeSpec, EmptyDimsIsAScalar) {
    auto specs = parseShapeSpecs("--shapes", {"s:"});
    ASSERT_TRUE(specs.isOk());
    EXPECT_EQ(specs->at("s").nbDims, 0);
    EXPECT_EQ(describeDims(specs->at("s")), "scalar");
}

TEST(ShapeSpec, BadExtentsAreNamed) {
    auto bad = parseShapeSpecs("--minShapes", {"x:1xAx3"});
    ASSERT_FALSE(bad.isOk());
    EXPECT_NE(bad.status().message().find("--minShapes"), std::string::npos);
    EXPECT_NE(bad.status().message().find("'x'"), std::string::npos);
    EXPECT_NE(bad.status().message().find("'A'"), std::string::npos);
    for (const char* text : {"x:-1x3", "x:1x", "x:x3", "x:1.5", "x:1 x2", "x:99999999999999999999"})
        EXPECT_FALSE(parseShapeSpecs("--shapes", {text}).isOk()) << text;
}

TEST(ShapeSpec, TooManyDimensions) {
    auto bad = parseShapeSpecs("--shapes", {"x:1x1x1x1x1x1x1x1x1"});
    ASSERT_FALSE(bad.isOk());
    EXPECT_NE(bad.status().message().find("more than 8"), std::string::npos);
}

TEST(ShapeSpec, MalformedEntries) {
    for (const char* text : {"1x3", ":1x3", "'x:1x3", "x'y:1", "a:1,,b:2", ""}) {
        auto bad = parseShapeSpecs("--shapes", {text});
        EXPECT_FALSE(bad.isOk()) << text;
    }
}

TEST(ShapeSpec, DuplicateNameIsAnError) {
    auto bad = parseShapeSpecs("--shapes", {"a:1", "a:2"});
    ASSERT_FALSE(bad.isOk());
    EXPECT_NE(bad.status().message().find("more than once"), std::string::npos);
}

TEST(NameValueList, FirstColonRuleKeepsColonsInValues) {
    auto entries = parseNameValueList("--loadInputs", {"a:C:/data/x.bin,'b:0':y.npy"}, ColonRule::kFirst, "x:y");
    ASSERT_TRUE(entries.isOk()) << entries.status().message();
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_EQ((*entries)[0].name, "a");
    EXPECT_EQ((*entries)[0].value, "C:/data/x.bin");
    EXPECT_EQ((*entries)[1].name, "b:0");
    EXPECT_EQ((*entries)[1].value, "y.npy");
}

TEST(NameValueList, SplitOutsideQuotesReportsUnterminatedQuote) {
    auto parts = splitOutsideQuotes("a,'b,c", ',');
    ASSERT_FALSE(parts.isOk());
    EXPECT_NE(parts.status().message().find("unterminated"), std::string::npos);
    auto ok = splitOutsideQuotes("a,'b,c',d", ',');
    ASSERT_TRUE(ok.isOk());
    EXPECT_EQ(ok->size(), 3u);
}

}  // namespace
}  // namespace kiln::cli
