#pragma once
// Reporting options of `kiln exec`: logging, output dumps and the latency statistics shown.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
}

namespace kiln::cli {

class ReportingOptions {
public:
    bool verbose{false};
    bool dumpOutput{false};
    std::string exportOutput;  // JSON file for the outputs; empty: none
    int64_t avgRuns{10};       // runs averaged per line of the verbose latency trace
    std::vector<double> percentiles{90, 95, 99};
    bool dumpProfile{false};      // print the per-layer times
    std::string exportProfile;    // JSON file for the per-layer times; empty: none
    std::string exportTimes;      // JSON file for the per-iteration times; empty: none
    bool dumpLayerInfo{false};    // print Engine::getLayerInformationJson()
    std::string exportLayerInfo;  // JSON file for the same; empty: none

    /// Whether a per-layer profile is asked for (--dumpProfile or --exportProfile).
    bool profiling() const { return dumpProfile || !exportProfile.empty(); }

    /// Registers the flags in the "Reporting Options" group of `app`.
    void addOptions(CLI::App& app);
    /// Converts and checks the values after CLI11 has read the command line.
    Status parse();

private:
    std::string mPercentileArg{"90,95,99"};
};

/// "90,95,99" -> {90, 95, 99}; each value in [0, 100].
Expected<std::vector<double>> parsePercentiles(const std::string& text);

}  // namespace kiln::cli
