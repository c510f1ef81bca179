#pragma once
// Status and Expected<T>: how errors travel inside Kiln. Nothing inside the library throws for an
// expected failure (bad model, bad shape, bad file); the public API turns a Status into a logged
// message and a false / nullptr return.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kiln {

enum class StatusCode {
    kOk = 0,
    kInvalidArgument,   // the caller passed something malformed
    kInvalidModel,      // the model is malformed or inconsistent
    kUnsupported,       // well-formed, but Kiln cannot do it (yet)
    kInvalidEngine,     // an engine file is malformed, corrupted or for another target
    kIoError,           // a file could not be read or written
    kOutOfMemory,
    kInternal,          // a Kiln bug
};

const char* statusCodeName(StatusCode code) noexcept;

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : mCode(code), mMessage(std::move(message)) {}

    static Status ok() { return {}; }

    bool isOk() const noexcept { return mCode == StatusCode::kOk; }
    explicit operator bool() const noexcept { return isOk(); }
    StatusCode code() const noexcept { return mCode; }
    const std::string& message() const noexcept { return mMessage; }

    /// Prepends where the error happened: "node 12 'Conv_3' (Conv): " + message.
    Status withContext(const std::string& context) const {
        if (isOk()) return *this;
        return {mCode, context + ": " + mMessage};
    }

private:
    StatusCode mCode{StatusCode::kOk};
    std::string mMessage;
};

inline Status invalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status invalidModel(std::string m) { return {StatusCode::kInvalidModel, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status invalidEngine(std::string m) { return {StatusCode::kInvalidEngine, std::move(m)}; }
inline Status ioError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status internalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

/// A value or the Status that says why there is none.
template <typename T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : mData(std::move(value)) {}  // NOLINT: implicit by design
    Expected(Status status) : mData(std::move(status)) {}  // NOLINT: implicit by design

    bool isOk() const noexcept { return std::holds_alternative<T>(mData); }
    explicit operator bool() const noexcept { return isOk(); }

    T& value() & { return std::get<T>(mData); }
    const T& value() const& { return std::get<T>(mData); }
    T&& value() && { return std::get<T>(std::move(mData)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

    Status status() const { return isOk() ? Status::ok() : std::get<Status>(mData); }

private:
    std::variant<T, Status> mData;
};

}  // namespace kiln

#define KILN_CONCAT_INNER(a, b) a##b
#define KILN_CONCAT(a, b) KILN_CONCAT_INNER(a, b)

/// Returns the Status from the enclosing function when `expr` is not ok.
#define KILN_RETURN_IF_ERROR(expr)                     \
    do {                                               \
        ::kiln::Status kilnStatus_ = (expr);           \
        if (!kilnStatus_.isOk()) return kilnStatus_;   \
    } while (0)

#define KILN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                             \
    if (!tmp.isOk()) return tmp.status();          \
    lhs = std::move(tmp).value()

/// `KILN_ASSIGN_OR_RETURN(auto x, makeX());` unwraps an Expected or returns its Status.
#define KILN_ASSIGN_OR_RETURN(lhs, expr) KILN_ASSIGN_OR_RETURN_IMPL(KILN_CONCAT(kilnExpected_, __LINE__), lhs, expr)

/// Returns an error Status built from a streamed message when `cond` is false.
#define KILN_CHECK_ARG(cond, makeStatus, message)                  \
    do {                                                           \
        if (!(cond)) {                                             \
            std::ostringstream kilnOss_;                           \
            kilnOss_ << message;                                   \
            return ::kiln::makeStatus(kilnOss_.str());             \
        }                                                          \
    } while (0)
