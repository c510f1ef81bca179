#include "ir/ops/einsum_equation.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace kiln {

namespace {

/// One operand's term split into letters, with the position of its ellipsis (-1 when none).
struct Term {
    std::string letters;
    int64_t ellipsisAt{-1};
};

Expected<Term> parseTerm(const std::string& text, const std::string& equation) {
    Term term;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == ' ') continue;
        if (c == '.') {
            if (text.compare(i, 3, "...") != 0 || term.ellipsisAt >= 0)
                return invalidModel("einsum equation '" + equation + "': a term has a stray '.' or two ellipses");
            term.ellipsisAt = static_cast<int64_t>(term.letters.size());
            i += 2;
            continue;
        }
        if (!std::isalpha(static_cast<unsigned char>(c)))
            return invalidModel("einsum equation '" + equation + "': '" + std::string(1, c) + "' is not a letter");
        term.letters.push_back(c);
    }
    return term;
}

}  // namespace

Expected<EinsumEquation> parseEinsumEquation(const std::string& equation, const std::vector<int64_t>& ranks) {
    std::string lhs = equation, rhs;
    const size_t arrow = equation.find("->");
    const bool explicitOutput = arrow != std::string::npos;
    if (explicitOutput) {
        lhs = equation.substr(0, arrow);
        rhs = equation.substr(arrow + 2);
    }
    std::vector<Term> terms;
    size_t start = 0;
    while (true) {
        size_t comma = lhs.find(',', start);
        KILN_ASSIGN_OR_RETURN(Term term, parseTerm(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start), equation));
        terms.push_back(std::move(term));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (terms.size() != ranks.size())
        return invalidModel("einsum equation '" + equation + "' has " + std::to_string(terms.size()) + " terms for " +
                            std::to_string(ranks.size()) + " inputs");
    EinsumEquation result;
    for (size_t i = 0; i < terms.size(); ++i) {
        int64_t named = static_cast<int64_t>(terms[i].letters.size());
        int64_t covered = ranks[i] - named;
        if (covered < 0 || (covered > 0 && terms[i].ellipsisAt < 0))
            return invalidModel("einsum equation '" + equation + "': term " + std::to_string(i) + " names " + std::to_string(named) +
                                " axes of an input of rank " + std::to_string(ranks[i]));
        result.ellipsisRank = std::max<int32_t>(result.ellipsisRank, static_cast<int32_t>(covered));
    }
    std::map<char, int32_t> labelOf;
    std::map<char, int> occurrences;
    for (const Term& term : terms)
        for (char c : term.letters) ++occurrences[c];
    int32_t next = result.ellipsisRank;
    for (const auto& [c, count] : occurrences) labelOf[c] = next++;
    result.labelCount = next;
    for (size_t i = 0; i < terms.size(); ++i) {
        const Term& term = terms[i];
        int32_t covered = static_cast<int32_t>(ranks[i] - static_cast<int64_t>(term.letters.size()));
        std::vector<int32_t> labels;
        for (size_t p = 0; p <= term.letters.size(); ++p) {
            if (static_cast<int64_t>(p) == term.ellipsisAt)
                for (int32_t e = result.ellipsisRank - covered; e < result.ellipsisRank; ++e) labels.push_back(e);
            if (p < term.letters.size()) labels.push_back(labelOf[term.letters[p]]);
        }
        result.inputs.push_back(std::move(labels));
    }
    if (explicitOutput) {
        KILN_ASSIGN_OR_RETURN(Term out, parseTerm(rhs, equation));
        for (size_t p = 0; p <= out.letters.size(); ++p) {
            if (static_cast<int64_t>(p) == out.ellipsisAt)
                for (int32_t e = 0; e < result.ellipsisRank; ++e) result.output.push_back(e);
            if (p == out.letters.size()) break;
            auto it = labelOf.find(out.letters[p]);
            if (it == labelOf.end())
                return invalidModel("einsum equation '" + equation + "': output letter '" + std::string(1, out.letters[p]) + "' is in no input");
            if (std::find(result.output.begin(), result.output.end(), it->second) != result.output.end())
                return invalidModel("einsum equation '" + equation + "': output letter '" + std::string(1, out.letters[p]) + "' repeats");
            result.output.push_back(it->second);
        }
        if (out.ellipsisAt < 0 && result.ellipsisRank > 0) {
            // numpy allows dropping the ellipsis only when it covers no axes.
            return invalidModel("einsum equation '" + equation + "': the inputs' ellipsis axes are missing from the output");
        }
    } else {
        for (int32_t e = 0; e < result.ellipsisRank; ++e) result.output.push_back(e);
        for (const auto& [c, count] : occurrences)
            if (count == 1) result.output.push_back(labelOf[c]);
    }
    return result;
}

}  // namespace kiln
