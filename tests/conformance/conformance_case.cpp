#include "conformance_case.h"

namespace kiln::conformance {

namespace {
constexpr struct {
    Outcome outcome;
    const char* name;
} kOutcomeNames[] = {{Outcome::kPass, "pass"},   {Outcome::kFail, "fail"},       {Outcome::kError, "error"},
                     {Outcome::kCrash, "crash"}, {Outcome::kTimeout, "timeout"}, {Outcome::kSkipped, "skipped"}};
}  // namespace

const char* outcomeName(Outcome outcome) {
    for (const auto& entry : kOutcomeNames)
        if (entry.outcome == outcome) return entry.name;
    return "error";
}

Outcome outcomeFromName(const std::string& name) {
    for (const auto& entry : kOutcomeNames)
        if (name == entry.name) return entry.outcome;
    return Outcome::kError;
}

}  // namespace kiln::conformance
