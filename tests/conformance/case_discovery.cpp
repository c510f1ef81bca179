#include "case_discovery.h"

#include <algorithm>
#include <filesystem>
#include <map>

namespace kiln::conformance {
namespace fs = std::filesystem;
namespace {

/// N of "<prefix>N<suffix>", or -1 when `name` is not of that form.
long numberBetween(const std::string& name, const std::string& prefix, const std::string& suffix) {
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0) return -1;
    if (!suffix.empty() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return -1;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return -1;
    return std::stol(digits);
}

/// Entries of `directory` named <prefix>N<suffix>, ordered by N (so input_10 follows input_9).
std::vector<std::string> numberedEntries(const std::string& directory, const std::string& prefix,
                                         const std::string& suffix, bool wantDirectories) {
    std::map<long, std::string> byNumber;
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(directory, ec)) {
        if (entry.is_directory(ec) != wantDirectories) continue;
        long n = numberBetween(entry.path().filename().string(), prefix, suffix);
        if (n >= 0) byNumber[n] = entry.path().string();
    }
    std::vector<std::string> paths;
    for (auto& [n, path] : byNumber) paths.push_back(path);
    return paths;
}

}  // namespace

std::vector<std::string> numberedProtoFiles(const std::string& dataSetDirectory, const std::string& prefix) {
    return numberedEntries(dataSetDirectory, prefix + "_", ".pb", false);
}

Expected<std::vector<CaseSpec>> discoverCases(const std::string& setName, const std::string& setDirectory) {
    std::error_code ec;
    if (!fs::is_directory(setDirectory, ec))
        return invalidArgument("test set '" + setName + "': " + setDirectory + " is not a folder");
    std::vector<CaseSpec> cases;
    for (const fs::directory_entry& entry : fs::directory_iterator(setDirectory, ec)) {
        if (!entry.is_directory(ec) || !fs::exists(entry.path() / "model.onnx", ec)) continue;
        CaseSpec spec;
        spec.setName = setName;
        spec.name = entry.path().filename().string();
        spec.directory = entry.path().string();
        spec.dataSetDirectories = numberedEntries(spec.directory, "test_data_set_", "", true);
        if (!spec.dataSetDirectories.empty()) cases.push_back(std::move(spec));
    }
    std::sort(cases.begin(), cases.end(), [](const CaseSpec& a, const CaseSpec& b) { return a.name < b.name; });
    return cases;
}

}  // namespace kiln::conformance
