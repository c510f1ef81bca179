#pragma once
// Collects the cases' results: the per-case results file (JSON lines), the per-set summary, and
// the verdict (unexpected failures, the ratchet).

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "conformance_case.h"
#include "deny_list.h"

namespace kiln::conformance {

/// Everything known about one case once it ran (or was skipped).
struct CaseRecord {
    const CaseSpec* spec{nullptr};
    ModelSummary model;
    const DenyEntry* deny{nullptr};
    bool training{false};  // training-only: counted apart from the inference cases
    CaseResult result;
};

struct SetTotals {
    int64_t total{0};
    int64_t training{0};
    int64_t counts[6]{};       // by Outcome, inference cases only
    int64_t denied{0};         // inference cases on the deny-list
    int64_t deniedPassing{0};  // ... that pass now
    int64_t inference() const { return total - training; }
    int64_t count(Outcome o) const { return counts[static_cast<int>(o)]; }
};

class RunReport {
public:
    void add(CaseRecord record) { mRecords.push_back(std::move(record)); }
    /// One JSON object a line: set, case, status, message, failing_op, op_types, input_types,
    /// opset, data_sets, seconds, training, denied, deny_reason.
    bool writeResults(const std::string& path) const;
    std::map<std::string, SetTotals> totalsBySet() const;
    /// Prints unexpected results, deny-listed cases that pass, the per-set table and the
    /// "N passed, N failed, N skipped" line. Returns the number of unexpected results.
    int64_t printSummary(std::FILE* out) const;
    /// Compares passes with the ratchet; prints what falls short (and a hint when a set is well
    /// above its minimum). True when every set meets its minimum.
    bool checkRatchet(const std::map<std::string, int64_t>& minimums, int64_t raiseHintMargin, std::FILE* out) const;

private:
    std::vector<CaseRecord> mRecords;
};

/// Inference cases that neither pass nor are skipped nor deny-listed: regressions.
bool isUnexpected(const CaseRecord& record);

}  // namespace kiln::conformance
