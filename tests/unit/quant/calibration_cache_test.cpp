// The calibration cache text: TensorRT's format written and read back bit-exactly, TensorRT's header
// accepted, and every kind of damage refused with the line named.

#include <gtest/gtest.h>

#include <cstring>

#include "quant/calibration_cache.h"

namespace kiln {
namespace {

TEST(CalibrationCache, WritesTensorRTsFormatAndReadsItBackExactly) {
    const std::map<std::string, float> scales = {{"input", 1.0f}, {"conv/out:0", 0.0078125f}, {"x", 3.1415926e-3f}};
    const std::string text = formatCalibrationCache(CalibrationAlgoType::kENTROPY_2, scales);
    EXPECT_EQ(text.substr(0, text.find('\n')), "KILN-1-EntropyCalibration2");
    EXPECT_NE(text.find("\ninput: 3f800000\n"), std::string::npos) << text;  // 1.0f's bits, high digit first
    EXPECT_NE(text.find("\nconv/out:0: 3c000000\n"), std::string::npos) << text;
    auto table = parseCalibrationCache(text);
    ASSERT_TRUE(table) << table.status().message();
    EXPECT_EQ(table.value().algorithm, CalibrationAlgoType::kENTROPY_2);
    ASSERT_EQ(table.value().scales.size(), scales.size());
    for (const auto& [name, scale] : scales) EXPECT_EQ(std::memcmp(&table.value().scales.at(name), &scale, 4), 0) << name;
}

TEST(CalibrationCache, ReadsTensorRTCaches) {
    auto table = parseCalibrationCache("TRT-8601-EntropyCalibration2\r\ninput: 3c010a14\r\n(Unnamed Layer* 0) [Convolution]_output: 3d3b8a4e\r\n\r\n");
    ASSERT_TRUE(table) << table.status().message();
    EXPECT_EQ(table.value().algorithm, CalibrationAlgoType::kENTROPY_2);
    EXPECT_EQ(table.value().scales.size(), 2u);
    EXPECT_FLOAT_EQ(table.value().scales.at("input"), 0.0078759380f);
    auto minmax = parseCalibrationCache("TRT-100300-MinMaxCalibration\na: 3f800000\n");
    ASSERT_TRUE(minmax);
    EXPECT_EQ(minmax.value().algorithm, CalibrationAlgoType::kMINMAX);
    // An algorithm Kiln does not implement: the scales are still read.
    auto legacy = parseCalibrationCache("TRT-8601-LegacyCalibration\na: 3f800000\n");
    ASSERT_TRUE(legacy);
    EXPECT_FALSE(legacy.value().algorithm.has_value());
}

TEST(CalibrationCache, RefusesDamageNamingTheLine) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "empty"},
        {"\n\n", "empty"},
        {"hello world\na: 3f800000\n", "line 1"},
        {"FOO-1-EntropyCalibration2\n", "line 1"},
        {"TRT-x-EntropyCalibration2\n", "line 1"},
        {"KILN-1-EntropyCalibration2\na 3f800000\n", "line 2"},
        {"KILN-1-EntropyCalibration2\na: 3f80000\n", "line 2"},
        {"KILN-1-EntropyCalibration2\na: 3f800000\nb: zzzzzzzz\n", "line 3"},
        {"KILN-1-EntropyCalibration2\n: 3f800000\n", "line 2"},
        {"KILN-1-EntropyCalibration2\na: 7fc00000\n", "line 2"},   // NaN
        {"KILN-1-EntropyCalibration2\na: 7f800000\n", "line 2"},   // infinity
        {"KILN-1-EntropyCalibration2\na: bf800000\n", "line 2"},   // -1
        {"KILN-1-EntropyCalibration2\na: 3f800000\na: 3f800000\n", "twice"},
    };
    for (const auto& [text, expected] : cases) {
        auto table = parseCalibrationCache(text);
        ASSERT_FALSE(table) << text;
        EXPECT_NE(table.status().message().find(expected), std::string::npos) << table.status().message();
    }
    EXPECT_FALSE(parseCalibrationCache(std::string_view("KILN-1-MinMaxCalibration\n\0a: 3f800000", 36)));
}

}  // namespace
}  // namespace kiln
