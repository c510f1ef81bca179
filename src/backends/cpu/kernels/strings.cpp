// The CPU string family: StringNormalizer, StringConcat, StringSplit, RegexFullMatch, Equal on
// strings, and the registration of every string kernel (Cast and LabelEncoder live beside).
// String outputs are views: copies of input views where a kernel moves strings, or bytes kept in
// the run's string arena (KernelIO::strings) where it makes new ones. The kernels run serially:
// the arena is not shared between threads.

#include <algorithm>
#include <cstring>
#include <regex>
#include <string>
#include <unordered_set>

#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/string_kernels.h"

namespace kiln::cpu {

namespace {

/// Calls fn(outIndex, aIndex, bIndex) for every element of `out`, the numpy broadcast of a and b.
template <typename Fn>
Status forEachBroadcastPair(const Shape& a, const Shape& b, const Shape& out, Fn&& fn) {
    const size_t rank = out.size();
    if (a.size() > rank || b.size() > rank) return invalidArgument("inputs have a higher rank than the output");
    // Element strides of a and b aligned to out's axes; 0 where the input is broadcast.
    std::vector<int64_t> strideA(rank, 0), strideB(rank, 0);
    int64_t sa = 1, sb = 1;
    for (size_t k = 0; k < rank; ++k) {
        const size_t d = rank - 1 - k;
        auto place = [&](const Shape& s, std::vector<int64_t>& stride, int64_t& running) -> Status {
            if (k >= s.size()) return Status::ok();
            const int64_t extent = s[s.size() - 1 - k];
            if (extent != 1 && extent != out[d])
                return invalidArgument("cannot broadcast " + shapeToString(s, true) + " to " + shapeToString(out, true));
            stride[d] = extent == 1 ? 0 : running;
            running *= extent;
            return Status::ok();
        };
        KILN_RETURN_IF_ERROR(place(a, strideA, sa));
        KILN_RETURN_IF_ERROR(place(b, strideB, sb));
    }
    std::vector<int64_t> index(rank, 0);
    int64_t ia = 0, ib = 0;
    const int64_t count = shapeElementCount(out);
    for (int64_t i = 0; i < count; ++i) {
        fn(i, ia, ib);
        for (size_t d = rank; d-- > 0;) {
            ia += strideA[d];
            ib += strideB[d];
            if (++index[d] < out[d]) break;
            ia -= strideA[d] * out[d];
            ib -= strideB[d] * out[d];
            index[d] = 0;
        }
    }
    return Status::ok();
}

// ---- StringConcat and Equal ----

Status runStringConcat(const KernelIO& io) {
    if (!io.strings) return internalError("StringConcat: no string arena to write the output into");
    const StringView* a = stringsOf(io.input(0));
    const StringView* b = stringsOf(io.input(1));
    StringView* out = mutableStringsOf(io.output(0));
    std::string joined;
    return forEachBroadcastPair(io.input(0).shape, io.input(1).shape, io.output(0).shape,
                                [&](int64_t i, int64_t ia, int64_t ib) {
                                    joined.assign(asStringView(a[ia]));
                                    joined.append(asStringView(b[ib]));
                                    out[i] = io.strings->store(joined);
                                });
}

Status runStringEqual(const KernelIO& io) {
    const StringView* a = stringsOf(io.input(0));
    const StringView* b = stringsOf(io.input(1));
    bool* out = io.output(0).as<bool>();
    return forEachBroadcastPair(io.input(0).shape, io.input(1).shape, io.output(0).shape,
                                [&](int64_t i, int64_t ia, int64_t ib) {
                                    out[i] = asStringView(a[ia]) == asStringView(b[ib]);
                                });
}

/// Equal's registered entry, extended: string operands here, numbers as before.
void wrapEqual(CpuKernelRegistry& registry) {
    const CpuKernelEntry* numeric = registry.find("", "Equal");
    if (!numeric) return;
    CpuKernelEntry entry = *numeric;
    entry.supports = [numeric = *numeric](const Node& node, std::string* reason) {
        if (isStringValue(node.input(0)) && isStringValue(node.input(1))) return true;
        return cpuEntrySupports(numeric, node, reason);
    };
    entry.create = [create = numeric->create](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
        if (isStringValue(node.input(0)))
            return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.equal_string", runStringEqual));
        return create(node);
    };
    entry.strings = true;
    registry.add(std::move(entry));
}

// ---- RegexFullMatch ----

/// std::regex (ECMAScript grammar) stands in for RE2: the two agree on the common syntax (classes,
/// \w \d \s \b, groups, alternation, bounded repetition). RE2-only forms such as (?P<name>...)
/// make std::regex throw, reported when the kernel is created; matching works on bytes, not on
/// UTF-8 characters.
class RegexFullMatchKernel final : public Kernel {
public:
    explicit RegexFullMatchKernel(std::regex pattern) : mPattern(std::move(pattern)) {}
    Status run(const KernelIO& io) override {
        const StringView* in = stringsOf(io.input(0));
        bool* out = io.output(0).as<bool>();
        for (int64_t i = 0; i < io.input(0).elementCount(); ++i)
            out[i] = std::regex_match(in[i].data, in[i].data + in[i].size, mPattern);
        return Status::ok();
    }
    std::string tacticName() const override { return "cpu.regex_full_match_std_regex"; }

private:
    std::regex mPattern;
};

Expected<std::unique_ptr<Kernel>> createRegexFullMatch(const Node& node) {
    auto pattern = node.attrs.getString("pattern");
    if (!pattern) return invalidModel(node.describe() + ": attribute pattern is required");
    try {
        return std::unique_ptr<Kernel>(
            std::make_unique<RegexFullMatchKernel>(std::regex(*pattern, std::regex::ECMAScript)));
    } catch (const std::regex_error& e) {
        return unsupported(node.describe() + ": pattern '" + *pattern + "' is not a regular expression Kiln reads (" +
                           e.what() + ")");
    }
}

// ---- StringSplit ----

/// Python's str.split: by `delimiter`, or (empty delimiter) by runs of whitespace with no empty
/// parts; at most `maxsplit` splits when maxsplit >= 0.
std::vector<std::string_view> splitString(std::string_view s, std::string_view delimiter, int64_t maxsplit) {
    std::vector<std::string_view> parts;
    if (!delimiter.empty()) {
        size_t start = 0;
        for (int64_t splits = 0; maxsplit < 0 || splits < maxsplit; ++splits) {
            size_t at = s.find(delimiter, start);
            if (at == std::string_view::npos) break;
            parts.push_back(s.substr(start, at - start));
            start = at + delimiter.size();
        }
        parts.push_back(s.substr(start));
        return parts;
    }
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    size_t i = 0;
    while (true) {
        while (i < s.size() && space(s[i])) ++i;
        if (i == s.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            // The rest, its leading whitespace dropped and its trailing whitespace kept.
            parts.push_back(s.substr(i));
            break;
        }
        size_t end = i;
        while (end < s.size() && !space(s[end])) ++end;
        parts.push_back(s.substr(i, end - i));
        i = end;
    }
    return parts;
}

class StringSplitKernel final : public Kernel {
public:
    StringSplitKernel(std::string delimiter, int64_t maxsplit) : mDelimiter(std::move(delimiter)), mMaxsplit(maxsplit) {}

    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        split(io.input(0));
        Shape y = io.input(0).shape;
        y.push_back(mWidth);
        return std::vector<Shape>{y, io.input(0).shape};
    }

    Status run(const KernelIO& io) override {
        split(io.input(0));
        const TensorView& y = io.output(0);
        if (y.shape.empty() || y.shape.back() != mWidth)
            return invalidArgument("StringSplit: output Y has shape " + shapeToString(y.shape, true) + ", the parts need " +
                                   std::to_string(mWidth) + " columns");
        StringView* out = mutableStringsOf(y);
        int64_t* counts = io.numOutputs > 1 ? io.output(1).as<int64_t>() : nullptr;
        for (size_t e = 0; e < mParts.size(); ++e) {
            const int64_t count = static_cast<int64_t>(mParts[e].size());
            if (counts) counts[e] = count;
            for (int64_t k = 0; k < mWidth; ++k) {
                // Parts are views into the input's strings, which outlive the run: no copy needed.
                std::string_view part = k < count ? mParts[e][static_cast<size_t>(k)] : std::string_view();
                out[static_cast<int64_t>(e) * mWidth + k] = {part.empty() ? "" : part.data(), part.size()};
            }
        }
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.string_split"; }

private:
    void split(const TensorView& x) {
        const StringView* in = stringsOf(x);
        mParts.assign(static_cast<size_t>(x.elementCount()), {});
        mWidth = 0;
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            mParts[static_cast<size_t>(i)] = splitString(asStringView(in[i]), mDelimiter, mMaxsplit);
            mWidth = std::max<int64_t>(mWidth, static_cast<int64_t>(mParts[static_cast<size_t>(i)].size()));
        }
    }

    std::string mDelimiter;
    int64_t mMaxsplit;
    std::vector<std::vector<std::string_view>> mParts;
    int64_t mWidth{0};
};

// ---- StringNormalizer ----

/// ASCII case mapping only: bytes >= 0x80 (UTF-8 sequences) pass unchanged. Enough for the ONNX
/// tests; full Unicode case mapping (and the locale attribute) would need ICU.
std::string changeCase(std::string_view s, const std::string& action) {
    std::string out(s);
    if (action == "LOWER")
        for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    else if (action == "UPPER")
        for (char& c : out) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    return out;
}

class StringNormalizerKernel final : public Kernel {
public:
    StringNormalizerKernel(std::string action, bool caseSensitive, const std::vector<std::string>& stopwords)
        : mAction(std::move(action)), mCaseSensitive(caseSensitive) {
        for (const std::string& w : stopwords) mStopwords.insert(caseSensitive ? w : changeCase(w, "LOWER"));
    }

    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) override {
        normalize(io.input(0));
        Shape shape = io.input(0).shape;
        shape.back() = static_cast<int64_t>(mKept.size());
        return std::vector<Shape>{shape};
    }

    Status run(const KernelIO& io) override {
        if (!io.strings) return internalError("StringNormalizer: no string arena to write the output into");
        normalize(io.input(0));
        const TensorView& out = io.output(0);
        if (out.elementCount() != static_cast<int64_t>(mKept.size()))
            return invalidArgument("StringNormalizer: output has " + std::to_string(out.elementCount()) +
                                   " elements, the normalized strings are " + std::to_string(mKept.size()));
        for (size_t i = 0; i < mKept.size(); ++i) mutableStringsOf(out)[i] = io.strings->store(mKept[i]);
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.string_normalizer"; }

private:
    /// Drops the stopwords, then changes case. When every element is a stopword the output is one
    /// empty string (the spec's [1] or [1, 1]).
    void normalize(const TensorView& x) {
        mKept.clear();
        const StringView* in = stringsOf(x);
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            std::string_view s = asStringView(in[i]);
            if (!mStopwords.empty() && mStopwords.count(mCaseSensitive ? std::string(s) : changeCase(s, "LOWER")))
                continue;
            mKept.push_back(changeCase(s, mAction));
        }
        if (mKept.empty() && x.elementCount() > 0) mKept.emplace_back();
    }

    std::string mAction;
    bool mCaseSensitive;
    std::unordered_set<std::string> mStopwords;
    std::vector<std::string> mKept;
};

Expected<std::unique_ptr<Kernel>> createStringNormalizer(const Node& node) {
    std::string action = node.attrs.getString("case_change_action", "NONE");
    if (action != "NONE" && action != "LOWER" && action != "UPPER")
        return invalidModel(node.describe() + ": case_change_action must be NONE, LOWER or UPPER, got '" + action + "'");
    return std::unique_ptr<Kernel>(std::make_unique<StringNormalizerKernel>(
        action, node.attrs.getInt("is_case_sensitive", 0) != 0,
        node.attrs.getStrings("stopwords").value_or(std::vector<std::string>{})));
}

/// Registers a kernel that handles string tensors.
void addStringEntry(CpuKernelRegistry& registry, const std::string& opType,
                    std::function<Expected<std::unique_ptr<Kernel>>(const Node&)> create) {
    CpuKernelEntry entry{opType, {}, std::move(create), ""};
    entry.strings = true;
    registry.add(std::move(entry));
}

/// Marks data-movement entries whose kernels copy whole elements by their byte size (so a
/// StringView moves intact and its bytes stay where they are) as handling strings.
void allowStrings(CpuKernelRegistry& registry, std::initializer_list<const char*> opTypes) {
    for (const char* opType : opTypes) {
        const CpuKernelEntry* found = registry.find("", opType);
        if (!found) continue;
        CpuKernelEntry entry = *found;
        entry.strings = true;
        registry.add(std::move(entry));
    }
}

}  // namespace
}  // namespace kiln::cpu

namespace kiln {

void registerStringKernels(CpuKernelRegistry& registry) {
    using namespace cpu;
    registerStringCastKernels(registry);
    registerLabelEncoderKernel(registry);
    wrapEqual(registry);
    allowStrings(registry, {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Split"});
    addStringEntry(registry, "StringConcat", [](const Node&) -> Expected<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.string_concat", runStringConcat));
    });
    addStringEntry(registry, "RegexFullMatch", createRegexFullMatch);
    addStringEntry(registry, "StringSplit", [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(std::make_unique<StringSplitKernel>(node.attrs.getString("delimiter", ""),
                                                                           node.attrs.getInt("maxsplit", -1)));
    });
    addStringEntry(registry, "StringNormalizer", createStringNormalizer);
}

}  // namespace kiln
