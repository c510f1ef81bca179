#include "layer_profiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

namespace kiln::cli {
namespace {

TEST(LayerProfiler, TotalsAveragesMediansAndSharesMatchAReference) {
    const std::vector<std::string> layers = {"conv", "relu", "gemm"};
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> ms(0.01f, 3.f);
    std::map<std::string, std::vector<double>> samples;
    LayerProfiler profiler;
    constexpr int kRuns = 7;
    for (int run = 0; run < kRuns; ++run)
        for (const std::string& layer : layers) {
            float t = ms(rng);
            samples[layer].push_back(t);
            profiler.reportLayerTime(layer.c_str(), t);
        }
    EXPECT_EQ(profiler.runs(), size_t(kRuns));
    std::vector<LayerTime> times = profiler.layerTimes();
    ASSERT_EQ(times.size(), layers.size());
    double all = 0;
    for (const auto& [name, values] : samples)
        for (double v : values) all += v;
    for (size_t i = 0; i < layers.size(); ++i) {
        EXPECT_EQ(times[i].name, layers[i]) << "layers keep their run order";
        std::vector<double> v = samples[layers[i]];
        double total = 0;
        for (double x : v) total += x;
        std::sort(v.begin(), v.end());
        EXPECT_NEAR(times[i].totalMs, total, 1e-9);
        EXPECT_NEAR(times[i].averageMs, total / kRuns, 1e-9);
        EXPECT_NEAR(times[i].medianMs, v[kRuns / 2], 1e-9);
        EXPECT_NEAR(times[i].percentage, total / all * 100.0, 1e-9);
    }
    std::string text = profiler.format();
    EXPECT_EQ(text.rfind("=== Profile (7 iterations) ===", 0), 0u);
    for (const std::string& layer : layers) EXPECT_NE(text.find(layer), std::string::npos);
    EXPECT_NE(text.find("Total"), std::string::npos);
}

TEST(LayerProfiler, ExportIsTrtexecShapedJson) {
    LayerProfiler profiler;
    std::mt19937 rng(12);
    std::uniform_real_distribution<float> ms(0.1f, 1.f);
    for (int run = 0; run < 4; ++run) {
        profiler.reportLayerTime("a", ms(rng));
        profiler.reportLayerTime("b", ms(rng));
    }
    auto path = std::filesystem::temp_directory_path() / "kiln_layer_profile_test.json";
    ASSERT_TRUE(profiler.exportJson(path.string()).isOk());
    std::ifstream file(path);
    nlohmann::json json = nlohmann::json::parse(file);
    std::filesystem::remove(path);
    ASSERT_EQ(json.size(), 3u);
    EXPECT_EQ(json[0]["count"], 4);
    std::vector<LayerTime> times = profiler.layerTimes();
    double percent = 0;
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(json[i + 1]["name"], times[i].name);
        EXPECT_DOUBLE_EQ(json[i + 1]["timeMs"].get<double>(), times[i].totalMs);
        EXPECT_DOUBLE_EQ(json[i + 1]["averageMs"].get<double>(), times[i].averageMs);
        EXPECT_DOUBLE_EQ(json[i + 1]["medianMs"].get<double>(), times[i].medianMs);
        percent += json[i + 1]["percentage"].get<double>();
    }
    EXPECT_NEAR(percent, 100.0, 1e-9);
}

TEST(LayerProfiler, EmptyProfileIsStillValid) {
    LayerProfiler profiler;
    EXPECT_EQ(profiler.runs(), 0u);
    EXPECT_TRUE(profiler.layerTimes().empty());
    EXPECT_NE(profiler.format().find("0 iterations"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
