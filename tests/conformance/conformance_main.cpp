// kiln_conformance: runs ONNX backend test cases through Kiln (tests/conformance/README.md).
//
//   kiln_conformance --data node=DIR [--data NAME=DIR ...] [--filter REGEX] [--jobs N]
//                    [--deny FILE] [--ratchet FILE] [--tolerances FILE] [--results FILE] [--backend cpu|cuda]
//                    [--no-optimization] [--timeout S] [--skip-denied]
//   kiln_conformance --list-ops FILE   (the registered operators as JSON, "-" for stdout)
//
// Exit status: 0 when every inference case passes or is deny-listed and every set meets its
// ratchet; 1 otherwise; 2 for bad arguments; 77 (CTest's "skipped") with --skip-if-no-data when a
// data folder is missing.

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <CLI/CLI.hpp>

#include "case_discovery.h"
#include "case_execution.h"
#include "deny_list.h"
#include "isolated_scheduler.h"
#include "model_summary.h"
#include "op_listing.h"
#include "ratchet.h"
#include "run_report.h"
#include "tolerance_table.h"

namespace {

using namespace kiln::conformance;

constexpr int kExitRegression = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoData = 77;

struct Options {
    std::vector<std::string> data;
    std::string filter;
    std::string resultsPath;
    int jobs{1};
    std::string denyPath;
    std::string ratchetPath;
    std::string tolerancesPath;
    int64_t ratchetMargin{10};
    bool noOptimization{false};
    std::string backend{"cpu"};
    double timeoutSeconds{60.0};
    int64_t memoryLimitMb{4096};
    bool skipDenied{false};
    bool skipIfNoData{false};
    bool verbose{false};
    std::string listOpsPath;
};

int listOps(const std::string& path) {
    const std::string json = listRegisteredOpsJson();
    if (path == "-") {
        std::printf("%s\n", json.c_str());
        return 0;
    }
    std::ofstream file(path);
    file << json << '\n';
    if (!file) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return kExitUsage;
    }
    return 0;
}

/// "NAME=DIR", or "DIR" named after its last folder.
std::pair<std::string, std::string> splitDataArgument(const std::string& argument) {
    const size_t eq = argument.find('=');
    if (eq != std::string::npos) return {argument.substr(0, eq), argument.substr(eq + 1)};
    std::filesystem::path path(argument);
    std::string name = path.filename().string();
    if (name.empty()) name = path.parent_path().filename().string();
    return {name, argument};
}

int run(const Options& options) {
    std::vector<CaseSpec> cases;
    for (const std::string& argument : options.data) {
        auto [setName, directory] = splitDataArgument(argument);
        auto found = discoverCases(setName, directory);
        if (!found) {
            std::fprintf(stderr, "%s\n", found.status().message().c_str());
            if (options.skipIfNoData) {
                std::fprintf(stderr, "skipped: the ONNX test data is not installed; run scripts/setup.sh\n");
                return kExitNoData;
            }
            return kExitUsage;
        }
        for (CaseSpec& spec : *found) cases.push_back(std::move(spec));
    }
    if (!options.filter.empty()) {
        std::regex filter;
        try {
            filter = std::regex(options.filter);
        } catch (const std::regex_error& e) {
            std::fprintf(stderr, "--filter '%s' is not a valid regex: %s\n", options.filter.c_str(), e.what());
            return kExitUsage;
        }
        std::erase_if(cases, [&](const CaseSpec& c) { return !std::regex_search(c.qualifiedName(), filter); });
    }
    DenyList deny;
    if (!options.denyPath.empty()) {
        auto loaded = DenyList::load(options.denyPath);
        if (!loaded) {
            std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
            return kExitUsage;
        }
        deny = std::move(loaded).value();
    }
    std::map<std::string, int64_t> ratchet;
    if (!options.ratchetPath.empty()) {
        auto loaded = loadRatchet(options.ratchetPath);
        if (!loaded) {
            std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
            return kExitUsage;
        }
        ratchet = std::move(loaded).value();
    }

    ToleranceTable tolerances;
    if (!options.tolerancesPath.empty()) {
        auto loaded = ToleranceTable::load(options.tolerancesPath);
        if (!loaded) {
            std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
            return kExitUsage;
        }
        tolerances = std::move(loaded).value();
    }

    // What each case is, before anything runs: its ops, whether it is training-only, denied.
    std::vector<CaseRecord> records(cases.size());
    std::vector<CaseSpec> toRun;
    std::vector<size_t> toRunRecord;
    for (size_t i = 0; i < cases.size(); ++i) {
        CaseRecord& r = records[i];
        r.spec = &cases[i];
        r.model = summarizeModel(cases[i].directory + "/model.onnx");
        r.deny = deny.match(cases[i]);
        r.training = r.model.usesTrainingDomain || (r.deny && r.deny->kind == DenyKind::kTraining);
        if (options.skipDenied && (r.deny || r.training)) {
            r.result = CaseResult{Outcome::kSkipped, r.deny ? r.deny->reason : "training-only", "", 0.0};
            continue;
        }
        toRun.push_back(cases[i]);
        toRunRecord.push_back(i);
    }

    ExecutionSettings execution;
    execution.device = options.backend == "cuda" ? kiln::DeviceType::kGPU : kiln::DeviceType::kCPU;
    execution.noGraphOptimization = options.noOptimization;
    IsolationSettings isolation;
    isolation.jobs = std::max(1, options.jobs);
    isolation.timeoutSeconds = options.timeoutSeconds;
    isolation.addressSpaceLimitBytes = static_cast<size_t>(std::max<int64_t>(0, options.memoryLimitMb)) << 20;
    // Children share the cores: each gets its part of the OpenMP threads.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int threadsPerChild = std::max(1, cores / isolation.jobs);

    const auto start = std::chrono::steady_clock::now();
    size_t done = 0;
    runIsolated(
        toRun, isolation,
        [&](const CaseSpec& spec) {
            omp_set_num_threads(threadsPerChild);
            ExecutionSettings settings = execution;
            settings.tolerance = tolerances.lookup(spec, execution.tolerance);
            return executeCase(spec, settings);
        },
        [&](size_t index, const CaseResult& result) {
            CaseRecord& r = records[toRunRecord[index]];
            r.result = result;
            ++done;
            if (options.verbose || (isatty(STDOUT_FILENO) && done % 100 == 0))
                std::printf("[%zu/%zu] %-7s %s %s\n", done, toRun.size(), outcomeName(result.outcome),
                            r.spec->qualifiedName().c_str(), result.message.c_str());
        });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    RunReport report;
    for (CaseRecord& r : records) report.add(std::move(r));
    if (!options.resultsPath.empty() && !report.writeResults(options.resultsPath)) {
        std::fprintf(stderr, "cannot write the results file %s\n", options.resultsPath.c_str());
        return kExitUsage;
    }
    const int64_t unexpected = report.printSummary(stdout);
    std::printf("%zu cases in %.1f s with %d jobs\n", cases.size(), seconds, isolation.jobs);
    bool ok = unexpected == 0;
    if (unexpected > 0)
        std::printf("FAILED: %lld inference cases fail and are not on the deny-list\n", (long long)unexpected);
    // A filtered run passes fewer cases by design: the ratchet speaks for whole sets only.
    if (!ratchet.empty() && options.filter.empty()) ok = report.checkRatchet(ratchet, options.ratchetMargin, stdout) && ok;
    return ok ? 0 : kExitRegression;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"kiln_conformance: ONNX backend test cases through Kiln's whole engine path"};
    app.add_option("--data", options.data, "a test set folder, as NAME=DIR or DIR (repeatable)");
    app.add_option("--filter", options.filter, "run only cases whose '<set>/<case>' matches this regex");
    app.add_option("--results", options.resultsPath, "write one JSON line per case here");
    app.add_option("--jobs", options.jobs, "cases run side by side, each in its own process");
    app.add_option("--deny", options.denyPath, "the deny-list (tests/conformance/deny_list.txt)");
    app.add_option("--ratchet", options.ratchetPath, "minimum passes per set (tests/conformance/ratchet.txt)");
    app.add_option("--tolerances", options.tolerancesPath, "case-specific tolerances (tests/conformance/tolerances.txt)");
    app.add_option("--ratchet-margin", options.ratchetMargin, "suggest raising a minimum when passes exceed it by this");
    app.add_flag("--no-optimization", options.noOptimization, "build with BuilderFlag::kNO_GRAPH_OPTIMIZATION");
    app.add_option("--backend", options.backend, "the backend engines are built for")->check(CLI::IsMember({"cpu", "cuda"}));
    app.add_option("--timeout", options.timeoutSeconds, "seconds one case may take before it counts as a timeout");
    app.add_option("--memory-limit-mb", options.memoryLimitMb, "address-space limit of each case's process (0: none)");
    app.add_flag("--skip-denied", options.skipDenied, "skip deny-listed and training cases instead of running them");
    app.add_flag("--skip-if-no-data", options.skipIfNoData, "exit 77 (skipped) when a data folder is missing");
    app.add_flag("-v,--verbose", options.verbose, "print every case's result as it comes");
    app.add_option("--list-ops", options.listOpsPath, "write the registered operators as JSON to this file ('-': stdout) and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : kExitUsage;
    }
    if (!options.listOpsPath.empty()) return listOps(options.listOpsPath);
    if (options.data.empty()) {
        std::fprintf(stderr, "no --data folder given\n%s", app.help().c_str());
        return kExitUsage;
    }
    return run(options);
}
