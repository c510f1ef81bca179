#include "layer_profiler.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/file_io.h"
#include "output_export.h"

namespace kiln::cli {

void LayerProfiler::reportLayerTime(const char* layerName, float ms) noexcept {
    const char* name = layerName ? layerName : "";
    try {
        size_t n = mLayers.size();
        for (size_t k = 0; k < n; ++k) {
            size_t i = (mLastIndex + k) % n;
            if (mLayers[i].name == name) {
                mLayers[i].ms.push_back(ms);
                mLastIndex = i + 1;
                return;
            }
        }
        mLayers.push_back({name, {ms}});
        mLastIndex = mLayers.size();
    } catch (...) {
        // Out of memory while profiling: the profile loses this sample, the inference goes on.
    }
}

size_t LayerProfiler::runs() const {
    size_t most = 0;
    for (const Samples& layer : mLayers) most = std::max(most, layer.ms.size());
    return most;
}

std::vector<LayerTime> LayerProfiler::layerTimes() const {
    std::vector<LayerTime> times;
    double sum = 0;
    for (const Samples& layer : mLayers) {
        LayerTime t;
        t.name = layer.name;
        for (float ms : layer.ms) t.totalMs += ms;
        t.averageMs = layer.ms.empty() ? 0 : t.totalMs / static_cast<double>(layer.ms.size());
        std::vector<float> sorted = layer.ms;
        std::sort(sorted.begin(), sorted.end());
        size_t n = sorted.size();
        if (n > 0) t.medianMs = n % 2 ? sorted[n / 2] : (static_cast<double>(sorted[n / 2 - 1]) + sorted[n / 2]) / 2;
        sum += t.totalMs;
        times.push_back(t);
    }
    for (LayerTime& t : times) t.percentage = sum > 0 ? t.totalMs / sum * 100.0 : 0;
    return times;
}

std::string LayerProfiler::format() const {
    std::vector<LayerTime> times = layerTimes();
    std::string text = "=== Profile (" + std::to_string(runs()) + " iterations) ===\n";
    char line[512];
    std::snprintf(line, sizeof line, "%12s %12s %12s %9s   %s\n", "Time(ms)", "Avg.(ms)", "Median(ms)", "Time(%)",
                  "Layer");
    text += line;
    double total = 0, totalAverage = 0;
    for (const LayerTime& t : times) {
        std::snprintf(line, sizeof line, "%12.4f %12.4f %12.4f %9.2f   %s\n", t.totalMs, t.averageMs, t.medianMs,
                      t.percentage, t.name.c_str());
        text += line;
        total += t.totalMs;
        totalAverage += t.averageMs;
    }
    std::snprintf(line, sizeof line, "%12.4f %12.4f %12s %9.2f   %s", total, totalAverage, "", times.empty() ? 0.0 : 100.0,
                  "Total");
    text += line;
    return text;
}

Status LayerProfiler::exportJson(const std::string& path) const {
    std::string text = "[\n" + nlohmann::ordered_json{{"count", runs()}}.dump();
    for (const LayerTime& t : layerTimes()) {
        nlohmann::ordered_json entry = {{"name", t.name},
                                        {"timeMs", jsonNumber(t.totalMs)},
                                        {"averageMs", jsonNumber(t.averageMs)},
                                        {"medianMs", jsonNumber(t.medianMs)},
                                        {"percentage", jsonNumber(t.percentage)}};
        text += ",\n" + entry.dump();
    }
    text += "\n]\n";
    return writeFile(path, text.data(), text.size()).withContext("--exportProfile");
}

}  // namespace kiln::cli
