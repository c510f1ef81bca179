#include "run_report.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

namespace kiln::conformance {

bool isUnexpected(const CaseRecord& record) {
    const Outcome o = record.result.outcome;
    return !record.training && !record.deny && o != Outcome::kPass && o != Outcome::kSkipped;
}

bool RunReport::writeResults(const std::string& path) const {
    std::ofstream file(path);
    if (!file) return false;
    std::vector<const CaseRecord*> sorted;
    for (const CaseRecord& r : mRecords) sorted.push_back(&r);
    std::sort(sorted.begin(), sorted.end(), [](const CaseRecord* a, const CaseRecord* b) {
        return a->spec->qualifiedName() < b->spec->qualifiedName();
    });
    for (const CaseRecord* r : sorted) {
        nlohmann::json line = {{"set", r->spec->setName},
                               {"case", r->spec->name},
                               {"status", outcomeName(r->result.outcome)},
                               {"message", r->result.message},
                               {"failing_op", r->result.failingOp},
                               {"op_types", r->model.opTypes},
                               {"input_types", r->model.inputTypes},
                               {"opset", r->model.opsetVersion},
                               {"data_sets", r->spec->dataSetDirectories.size()},
                               {"seconds", r->result.seconds},
                               {"training", r->training},
                               {"denied", r->deny != nullptr},
                               {"deny_reason", r->deny ? r->deny->reason : ""}};
        file << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    return static_cast<bool>(file);
}

std::map<std::string, SetTotals> RunReport::totalsBySet() const {
    std::map<std::string, SetTotals> totals;
    for (const CaseRecord& r : mRecords) {
        SetTotals& t = totals[r.spec->setName];
        ++t.total;
        if (r.training) {
            ++t.training;
            continue;
        }
        ++t.counts[static_cast<int>(r.result.outcome)];
        if (r.deny) {
            ++t.denied;
            if (r.result.outcome == Outcome::kPass) ++t.deniedPassing;
        }
    }
    return totals;
}

int64_t RunReport::printSummary(std::FILE* out) const {
    int64_t unexpected = 0;
    for (const CaseRecord& r : mRecords) {
        if (isUnexpected(r)) {
            if (unexpected++ == 0) std::fprintf(out, "Unexpected results (not on the deny-list):\n");
            std::fprintf(out, "  %-8s %s: %s\n", outcomeName(r.result.outcome), r.spec->qualifiedName().c_str(),
                         r.result.message.c_str());
        }
    }
    for (const CaseRecord& r : mRecords)
        if (r.deny && r.result.outcome == Outcome::kPass)
            std::fprintf(out, "  now passes, remove its deny-list entry (line %d '%s'): %s\n", r.deny->line,
                         r.deny->pattern.c_str(), r.spec->qualifiedName().c_str());
    for (const CaseRecord& r : mRecords)
        if (r.result.outcome == Outcome::kCrash || r.result.outcome == Outcome::kTimeout)
            std::fprintf(out, "  %s: %s: %s\n", outcomeName(r.result.outcome), r.spec->qualifiedName().c_str(),
                         r.result.message.c_str());

    SetTotals all;
    std::fprintf(out, "%-18s %6s %9s %6s %6s %6s %6s %7s %7s %6s\n", "set", "total", "inference", "pass", "fail",
                 "error", "crash", "timeout", "skipped", "denied");
    for (const auto& [set, t] : totalsBySet()) {
        std::fprintf(out, "%-18s %6lld %9lld %6lld %6lld %6lld %6lld %7lld %7lld %6lld\n", set.c_str(),
                     (long long)t.total, (long long)t.inference(), (long long)t.count(Outcome::kPass),
                     (long long)t.count(Outcome::kFail), (long long)t.count(Outcome::kError),
                     (long long)t.count(Outcome::kCrash), (long long)t.count(Outcome::kTimeout),
                     (long long)t.count(Outcome::kSkipped), (long long)t.denied);
        all.total += t.total;
        all.training += t.training;
        for (int i = 0; i < 6; ++i) all.counts[i] += t.counts[i];
    }
    const int64_t failed = all.count(Outcome::kFail) + all.count(Outcome::kError) + all.count(Outcome::kCrash) +
                           all.count(Outcome::kTimeout);
    std::fprintf(out,
                 "%lld passed, %lld failed, %lld skipped (of the failed: %lld wrong results, %lld errors, %lld "
                 "crashes, %lld timeouts; %lld training-only cases not counted)\n",
                 (long long)all.count(Outcome::kPass), (long long)failed, (long long)all.count(Outcome::kSkipped),
                 (long long)all.count(Outcome::kFail), (long long)all.count(Outcome::kError),
                 (long long)all.count(Outcome::kCrash), (long long)all.count(Outcome::kTimeout), (long long)all.training);
    return unexpected;
}

bool RunReport::checkRatchet(const std::map<std::string, int64_t>& minimums, int64_t raiseHintMargin,
                             std::FILE* out) const {
    bool ok = true;
    const auto totals = totalsBySet();
    for (const auto& [set, minimum] : minimums) {
        auto it = totals.find(set);
        if (it == totals.end()) continue;  // a set not run this time (--filter, --data)
        const int64_t passes = it->second.count(Outcome::kPass);
        if (passes < minimum) {
            std::fprintf(out, "RATCHET: set '%s' passes %lld cases, fewer than its minimum %lld\n", set.c_str(),
                         (long long)passes, (long long)minimum);
            ok = false;
        } else if (passes >= minimum + raiseHintMargin) {
            std::fprintf(out, "ratchet: set '%s' passes %lld cases, %lld above its minimum: raise it to %lld\n",
                         set.c_str(), (long long)passes, (long long)(passes - minimum), (long long)passes);
        }
    }
    return ok;
}

}  // namespace kiln::conformance
