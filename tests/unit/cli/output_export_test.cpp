#include "output_export.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "common/half.h"

namespace kiln::cli {
namespace {

// Reads back a value written by the exporter, turning the non-finite spellings into numbers.
double readBack(const nlohmann::ordered_json& v) {
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
        if (s == "Infinity") return std::numeric_limits<double>::infinity();
        if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
        ADD_FAILURE() << "unexpected string " << s;
    }
    return v.get<double>();
}

TEST(OutputJson, FloatsWithNanAndInfinitiesRoundTrip) {
    std::mt19937 rng(7);
    std::vector<float> values(40);
    for (float& v : values) v = std::uniform_real_distribution<float>(-1e4f, 1e4f)(rng);
    values[3] = std::numeric_limits<float>::quiet_NaN();
    values[17] = std::numeric_limits<float>::infinity();
    values[29] = -std::numeric_limits<float>::infinity();
    values[31] = std::numeric_limits<float>::denorm_min();
    std::vector<TensorView> outputs = {{"logits", DataType::kFLOAT, Dims({5, 8}), values.data()}};

    std::string text = outputsToJson(outputs).dump();
    nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(text);  // throws on invalid JSON
    std::vector<std::string> keys;
    for (const auto& item : parsed[0].items()) keys.push_back(item.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"name", "dimensions", "dtype", "values"}));
    ASSERT_TRUE(parsed.is_array());
    ASSERT_EQ(parsed.size(), 1u);
    EXPECT_EQ(parsed[0]["name"], "logits");
    EXPECT_EQ(parsed[0]["dimensions"], "5x8");
    EXPECT_EQ(parsed[0]["dtype"], "float");
    const auto& read = parsed[0]["values"];
    ASSERT_EQ(read.size(), values.size());
    EXPECT_EQ(read[3], "NaN");
    EXPECT_EQ(read[17], "Infinity");
    EXPECT_EQ(read[29], "-Infinity");
    for (size_t i = 0; i < values.size(); ++i) {
        double back = readBack(read[i]);
        if (std::isnan(values[i])) {
            EXPECT_TRUE(std::isnan(back));
        } else {
            EXPECT_EQ(static_cast<float>(back), values[i]) << "element " << i << " does not read back exactly";
        }
    }
}

TEST(OutputJson, ReducedPrecisionBecomesFloat) {
    std::mt19937 rng(8);
    std::vector<uint16_t> halves(9), bf16s(9);
    for (size_t i = 0; i < halves.size(); ++i) {
        float v = std::uniform_real_distribution<float>(-300.f, 300.f)(rng);
        halves[i] = floatToHalfBits(v);
        bf16s[i] = floatToBf16Bits(v);
    }
    halves[4] = floatToHalfBits(std::numeric_limits<float>::infinity());
    bf16s[5] = floatToBf16Bits(std::numeric_limits<float>::quiet_NaN());
    auto h = nlohmann::ordered_json::parse(tensorValuesToJson(DataType::kHALF, halves.data(), 9).dump());
    auto b = nlohmann::ordered_json::parse(tensorValuesToJson(DataType::kBF16, bf16s.data(), 9).dump());
    for (size_t i = 0; i < 9; ++i) {
        EXPECT_EQ(static_cast<float>(readBack(h[i])), halfBitsToFloat(halves[i])) << i;
        if (i == 5) {
            EXPECT_EQ(b[i], "NaN");
        } else {
            EXPECT_EQ(static_cast<float>(readBack(b[i])), bf16BitsToFloat(bf16s[i])) << i;
        }
    }
    EXPECT_EQ(h[4], "Infinity");
}

TEST(OutputJson, LowBitTypesGiveTheirValuesNotTheirCodes) {
    const uint8_t fp8[3] = {0x38, 0xC0, 0x7F};  // e4m3fn 1, -2, NaN
    const uint8_t int4[2] = {0xF8, 0x07};       // Kiln's layout: -8 sign-extended, 7
    const uint8_t fp4[2] = {0x0F, 0x03};        // -6, 1.5
    auto f = nlohmann::ordered_json::parse(tensorValuesToJson(DataType::kFP8E4M3FN, fp8, 3).dump());
    EXPECT_EQ(f[0], 1.0);
    EXPECT_EQ(f[1], -2.0);
    EXPECT_EQ(f[2], "NaN");
    auto i = nlohmann::ordered_json::parse(tensorValuesToJson(DataType::kINT4, int4, 2).dump());
    EXPECT_TRUE(i[0].is_number_integer());
    EXPECT_EQ(i[0], -8);
    EXPECT_EQ(i[1], 7);
    auto q = nlohmann::ordered_json::parse(tensorValuesToJson(DataType::kFP4E2M1, fp4, 2).dump());
    EXPECT_EQ(q[0], -6.0);
    EXPECT_EQ(q[1], 1.5);
}

TEST(OutputJson, IntegersStayExactAndBoolsAreBooleans) {
    std::vector<int64_t> big = {(int64_t(1) << 62) + 1, -(int64_t(1) << 60) - 3, 0};
    std::vector<uint64_t> huge = {~uint64_t(0), 12345};
    std::vector<int8_t> small = {-128, 127};
    std::vector<uint8_t> flags = {1, 0, 1};
    auto all = nlohmann::ordered_json::parse(outputsToJson({{"i64", DataType::kINT64, Dims({3}), big.data()},
                                                            {"u64", DataType::kUINT64, Dims({2}), huge.data()},
                                                            {"i8", DataType::kINT8, Dims({2}), small.data()},
                                                            {"mask", DataType::kBOOL, Dims({3}), flags.data()}})
                                                 .dump());
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all[0]["values"][0].get<int64_t>(), big[0]);
    EXPECT_EQ(all[0]["values"][1].get<int64_t>(), big[1]);
    EXPECT_TRUE(all[0]["values"][0].is_number_integer());
    EXPECT_EQ(all[1]["values"][0].get<uint64_t>(), huge[0]);
    EXPECT_EQ(all[2]["values"][0].get<int>(), -128);
    EXPECT_EQ(all[2]["dtype"], "int8");
    EXPECT_TRUE(all[3]["values"][0].is_boolean());
    EXPECT_EQ(all[3]["values"], nlohmann::ordered_json::parse("[true, false, true]"));
    EXPECT_EQ(all[3]["dtype"], "bool");
    std::vector<std::string> order;
    for (const auto& entry : all) order.push_back(entry["name"]);
    EXPECT_EQ(order, (std::vector<std::string>{"i64", "u64", "i8", "mask"})) << "outputs keep the given order";
}

TEST(OutputJson, ScalarAndEmptyTensors) {
    double scalar = -0.125;
    nlohmann::ordered_json all =
        outputsToJson({{"s", DataType::kDOUBLE, Dims(), &scalar}, {"e", DataType::kFLOAT, Dims({0, 4}), nullptr}});
    EXPECT_EQ(all[0]["dimensions"], "");
    EXPECT_EQ(all[0]["values"], nlohmann::ordered_json::parse("[-0.125]"));
    EXPECT_EQ(all[1]["dimensions"], "0x4");
    EXPECT_TRUE(all[1]["values"].empty());
}

TEST(OutputJson, ExportWritesAParseableFile) {
    std::vector<float> values = {0.25f, std::numeric_limits<float>::quiet_NaN()};
    std::string path =
        (std::filesystem::temp_directory_path() / ("kiln_export_test_" + std::to_string(::getpid()) + ".json"))
            .string();
    std::vector<int64_t> ids = {-5, 9};
    ASSERT_TRUE(exportOutputs(path, {{"y", DataType::kFLOAT, Dims({2}), values.data()},
                                     {"ids", DataType::kINT64, Dims({1, 2}), ids.data()}})
                    .isOk());
    std::ifstream in(path);
    nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(in);
    std::remove(path.c_str());
    ASSERT_EQ(parsed.size(), 2u);
    EXPECT_EQ(parsed[0]["values"], nlohmann::ordered_json::parse("[0.25, \"NaN\"]"));
    EXPECT_EQ(parsed[1]["name"], "ids");
    EXPECT_EQ(parsed[1]["values"], nlohmann::ordered_json::parse("[-5, 9]"));

    Status bad = exportOutputs("/nonexistent-dir/out.json", {{"y", DataType::kFLOAT, Dims({2}), values.data()}});
    ASSERT_FALSE(bad.isOk());
    EXPECT_NE(bad.message().find("--exportOutput"), std::string::npos);
}

TEST(DumpOutput, ShowsNameShapeAndFirstValues) {
    std::vector<int32_t> values(50);
    std::mt19937 rng(10);
    for (int32_t& v : values) v = std::uniform_int_distribution<int32_t>(-99, 99)(rng);
    std::string text = formatTensor({"ids", DataType::kINT32, Dims({5, 10}), values.data()}, 4);
    std::string expected = "ids (int32, 5x10): " + std::to_string(values[0]) + " " + std::to_string(values[1]) + " " +
                           std::to_string(values[2]) + " " + std::to_string(values[3]) + " ... (46 more)";
    EXPECT_EQ(text, expected);
}

}  // namespace
}  // namespace kiln::cli
