// Cast and CastLike to and from strings. Numbers are written as numpy's astype(str) writes them:
// the shortest form that reads back to the same value (std::to_chars), with ".0" after an
// integral float ("1.0", as numpy prints it), "nan", "inf", "-inf", and "True"/"False" for bools.
// Strings are read as decimal or scientific numbers, with an optional sign and surrounding
// whitespace; "inf", "infinity" and "nan" in any case; an unparsable string is an error.

#include <charconv>
#include <cstdlib>
#include <optional>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "backends/cpu/kernels/string_kernels.h"
#include "common/low_precision.h"
#include "ir/dtype.h"

namespace kiln::cpu {

namespace {

template <typename T>
std::string formatNumber(T value) {
    char buffer[64];
    if constexpr (std::is_same_v<T, bool>) {
        return value ? "True" : "False";
    } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        return formatNumber(static_cast<float>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(value)) return "nan";
        if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
        std::string text(buffer, end);
        if (text.find_first_of(".e") == std::string::npos) text += ".0";
        return text;
    } else {
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
        return std::string(buffer, end);
    }
}

std::string_view trimmed(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

/// The whole of `text` as a double, or nullopt.
std::optional<double> parseDouble(std::string_view text) {
    std::string_view s = trimmed(text);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.front() == '+' || s.front() == '-') return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    // Out of range reads as the infinity or the zero it rounds to, as strtod gives it.
    if (ec == std::errc::result_out_of_range && end == s.data() + s.size()) {
        value = std::strtod(std::string(s).c_str(), nullptr);
    } else if (ec != std::errc() || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return negative ? -value : value;
}

template <typename T>
Status parseNumber(std::string_view text, T& out) {
    std::string_view s = trimmed(text);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        std::string_view digits = !s.empty() && s.front() == '+' ? s.substr(1) : s;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
        if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty()) return Status::ok();
    }
    if constexpr (std::is_same_v<T, bool>) {
        if (s == "True" || s == "true") return out = true, Status::ok();
        if (s == "False" || s == "false") return out = false, Status::ok();
    }
    std::optional<double> value = parseDouble(s);
    if (!value)
        return invalidArgument("cannot read '" + std::string(text) + "' as " + dataTypeName(DataTypeOf<T>::value));
    if constexpr (std::is_same_v<T, bool>) {
        out = *value != 0;
    } else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        out = T(static_cast<float>(*value));
    } else if constexpr (std::is_floating_point_v<T>) {
        out = static_cast<T>(*value);
    } else {
        // The first value past T's range, exactly representable as a double (2^63, 2^64, ...).
        constexpr double limit = std::is_signed_v<T> ? -2.0 * static_cast<double>(std::numeric_limits<T>::lowest())
                                                     : 2.0 * static_cast<double>(std::numeric_limits<T>::max() / 2 + 1);
        if (!(*value > static_cast<double>(std::numeric_limits<T>::lowest()) - 1.0 && *value < limit))
            return invalidArgument("'" + std::string(text) + "' is outside the range of " +
                                   dataTypeName(DataTypeOf<T>::value));
        out = static_cast<T>(*value);
    }
    return Status::ok();
}

class StringCastKernel final : public Kernel {
public:
    explicit StringCastKernel(std::string name) : mName(std::move(name)) {}

    Status run(const KernelIO& io) override {
        const TensorView& in = io.input(0);
        const TensorView& out = io.output(0);
        const int64_t n = out.elementCount();
        if (in.dtype == DataType::kSTRING && out.dtype == DataType::kSTRING) {
            for (int64_t i = 0; i < n; ++i) mutableStringsOf(out)[i] = stringsOf(in)[i];
            return Status::ok();
        }
        if (out.dtype == DataType::kSTRING) {
            if (!io.strings) return internalError(mName + ": no string arena to write the output into");
            dispatchDataType(in.dtype, [&](auto tag) {
                using T = decltype(tag);
                for (int64_t i = 0; i < n; ++i) mutableStringsOf(out)[i] = io.strings->store(formatNumber(in.as<const T>()[i]));
            });
            return Status::ok();
        }
        return dispatchDataType(out.dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            for (int64_t i = 0; i < n; ++i)
                KILN_RETURN_IF_ERROR(parseNumber(asStringView(stringsOf(in)[i]), out.as<T>()[i]).withContext(mName));
            return Status::ok();
        });
    }

    std::string tacticName() const override { return "cpu.cast_string"; }

private:
    std::string mName;
};

/// `opType`'s entry, extended: string casts here, the rest as registered before.
void wrapCast(CpuKernelRegistry& registry, const std::string& opType) {
    const CpuKernelEntry* numeric = registry.find("", opType);
    if (!numeric) return;
    CpuKernelEntry entry = *numeric;
    auto involvesString = [](const Node& node) {
        return isStringValue(node.input(0)) || isStringValue(node.output(0));
    };
    entry.supports = [numeric = *numeric, involvesString](const Node& node, std::string* reason) {
        if (involvesString(node)) {
            // The string kernel parses and prints numbers; the low-bit types are codes, not numbers.
            for (const Value* v : {node.input(0), node.output(0)})
                if (v && isLowBitType(v->dtype)) {
                    if (reason)
                        *reason = std::string("no CPU kernel casts between string and ") + dataTypeName(v->dtype);
                    return false;
                }
            return true;
        }
        return cpuEntrySupports(numeric, node, reason);
    };
    entry.create = [create = numeric->create, involvesString](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
        if (involvesString(node)) return std::unique_ptr<Kernel>(std::make_unique<StringCastKernel>(node.describe()));
        return create(node);
    };
    entry.strings = true;
    registry.add(std::move(entry));
}

}  // namespace

void registerStringCastKernels(CpuKernelRegistry& registry) {
    wrapCast(registry, "Cast");
    wrapCast(registry, "CastLike");
}

}  // namespace kiln::cpu
