#include "reporting_options.h"

#include <CLI/CLI.hpp>
#include <charconv>

#include "name_value_list.h"

namespace kiln::cli {

Expected<std::vector<double>> parsePercentiles(const std::string& text) {
    auto parts = splitOutsideQuotes(text, ',');
    if (!parts) return parts.status().withContext("--percentile");
    std::vector<double> values;
    for (const std::string& part : parts.value()) {
        double value = -1;
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value, std::chars_format::fixed);
        if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || !(value >= 0 && value <= 100))
            return invalidArgument("--percentile: '" + part +
                                   "' is not a number in [0, 100] (e.g. --percentile=90,95,99)");
        values.push_back(value);
    }
    return values;
}

void ReportingOptions::addOptions(CLI::App& app) {
    const char* group = "Reporting Options";
    app.add_flag("--verbose", verbose, "Log everything: import, passes, per-batch latencies (default: off)")
        ->group(group);
    app.add_flag("--dumpOutput", dumpOutput, "Print each output's name, shape and first values (default: off)")
        ->group(group);
    app.add_option("--exportOutput", exportOutput,
                   "Write the outputs as a JSON array of {name, dimensions, dtype, values} in the model's output "
                   "order; NaN and infinities are written as the strings \"NaN\", \"Infinity\", \"-Infinity\", "
                   "fp16/bf16 as float, bool as true/false (default: none)")
        ->type_name("FILE")
        ->group(group);
    app.add_option("--avgRuns", avgRuns, "Runs averaged per line of the verbose latency trace (default: 10)")
        ->type_name("N")
        ->group(group);
    app.add_option("--percentile", mPercentileArg, "Latency percentiles to report, each in [0,100] (default: 90,95,99)")
        ->type_name("P[,P]")
        ->group(group);
    app.add_flag("--dumpProfile", dumpProfile,
                 "Print each layer's total, average and median time and share of the run (default: off)")
        ->group(group);
    app.add_option("--exportProfile", exportProfile,
                   "Write the per-layer times as JSON: [{\"count\"}, {\"name\", \"timeMs\", \"averageMs\", "
                   "\"medianMs\", \"percentage\"}, ...] (default: none)")
        ->type_name("FILE")
        ->group(group);
    app.add_option("--exportTimes", exportTimes,
                   "Write each timed inference as JSON: startMs, endMs, enqueueMs, h2dMs, computeMs, d2hMs, "
                   "latencyMs (default: none)")
        ->type_name("FILE")
        ->group(group);
    app.add_flag("--dumpLayerInfo", dumpLayerInfo, "Print the engine's layers and bindings as JSON (default: off)")
        ->group(group);
    app.add_option("--exportLayerInfo", exportLayerInfo,
                   "Write the engine's layers and bindings as JSON {\"Layers\", \"Bindings\"} (default: none)")
        ->type_name("FILE")
        ->group(group);
}

Status ReportingOptions::parse() {
    if (avgRuns < 1) return invalidArgument("--avgRuns must be at least 1, got " + std::to_string(avgRuns));
    auto values = parsePercentiles(mPercentileArg);
    if (!values) return values.status();
    percentiles = std::move(values).value();
    return Status::ok();
}

}  // namespace kiln::cli
