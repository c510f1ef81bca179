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

    /// Registers the flags in the "Reporting" group of `app`.
    void addOptions(CLI::App& app);
    /// Converts and checks the values after CLI11 has read the command line.
    Status parse();

private:
    std::string mPercentileArg{"90,95,99"};
};

/// "90,95,99" -> {90, 95, 99}; each value in [0, 100].
Expected<std::vector<double>> parsePercentiles(const std::string& text);

}  // namespace kiln::cli
