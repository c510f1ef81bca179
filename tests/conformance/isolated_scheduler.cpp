#include "isolated_scheduler.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <deque>

#include <nlohmann/json.hpp>

namespace kiln::conformance {
namespace {

using Clock = std::chrono::steady_clock;

/// How much of a child's own output is kept to explain a crash (sanitizer reports run long).
constexpr size_t kOutputTailBytes = 64 * 1024;

struct RunningChild {
    size_t caseIndex{0};
    pid_t pid{-1};
    int reportFd{-1};  // the child's CaseResult as one JSON document
    int outputFd{-1};  // the child's stdout and stderr
    std::string report;
    std::string outputTail;
    Clock::time_point start;
};

void writeAll(int fd, const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<size_t>(n);
    }
}

[[noreturn]] void childMain(const CaseSpec& spec, const IsolationSettings& settings, const CaseRunner& run,
                            int reportFd, int outputFd) {
    ::dup2(outputFd, STDOUT_FILENO);
    ::dup2(outputFd, STDERR_FILENO);
    if (settings.addressSpaceLimitBytes > 0) {
        rlimit limit{settings.addressSpaceLimitBytes, settings.addressSpaceLimitBytes};
        ::setrlimit(RLIMIT_AS, &limit);
    }
    const CaseResult result = run(spec);
    nlohmann::json report = {{"outcome", outcomeName(result.outcome)},
                             {"message", result.message},
                             {"failing_op", result.failingOp},
                             {"seconds", result.seconds}};
    // Messages may hold bytes of a model's names that are not UTF-8: replace them, do not throw.
    writeAll(reportFd, report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    // _exit: no static destructors or atexit handlers of a process whose state may be damaged.
    ::_exit(0);
}

/// Reads what is available; false at end of file.
bool drain(int fd, std::string& into, size_t keepTail) {
    char buffer[8192];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    into.append(buffer, static_cast<size_t>(n));
    if (keepTail > 0 && into.size() > keepTail) into.erase(0, into.size() - keepTail);
    return true;
}

/// The line of a child's output that says most about its end: a sanitizer's or the C++ runtime's
/// report when there is one (the stack trace after it says less), else the last non-empty line.
std::string tellingLine(const std::string& text) {
    for (const char* marker : {"runtime error:", "ERROR: AddressSanitizer", "ERROR: UndefinedBehaviorSanitizer",
                               "terminate called", "Assertion", "SUMMARY:"}) {
        const size_t at = text.find(marker);
        if (at == std::string::npos) continue;
        const size_t begin = text.rfind('\n', at);
        const size_t start = begin == std::string::npos ? 0 : begin + 1;
        return text.substr(start, text.find('\n', at) - start);
    }
    const size_t end = text.find_last_not_of("\n\r ");
    if (end == std::string::npos) return "";
    const size_t begin = text.rfind('\n', end);
    const size_t start = begin == std::string::npos ? 0 : begin + 1;
    return text.substr(start, end - start + 1);
}

CaseResult resultOfFinishedChild(RunningChild& child, int waitStatus) {
    CaseResult result;
    result.seconds = std::chrono::duration<double>(Clock::now() - child.start).count();
    const std::string said = tellingLine(child.outputTail);
    if (WIFSIGNALED(waitStatus)) {
        const int signal = WTERMSIG(waitStatus);
        result.outcome = Outcome::kCrash;
        result.message = std::string("killed by signal ") + std::to_string(signal) + " (" + ::strsignal(signal) + ")" +
                         (said.empty() ? "" : ": " + said);
        return result;
    }
    nlohmann::json report = nlohmann::json::parse(child.report, nullptr, false);
    if (!WIFEXITED(waitStatus) || WEXITSTATUS(waitStatus) != 0 || report.is_discarded()) {
        result.outcome = Outcome::kCrash;
        result.message = "exited with status " + std::to_string(WEXITSTATUS(waitStatus)) + " without a result" +
                         (said.empty() ? "" : ": " + said);
        return result;
    }
    result.outcome = outcomeFromName(report.value("outcome", "error"));
    result.message = report.value("message", "");
    result.failingOp = report.value("failing_op", "");
    result.seconds = report.value("seconds", result.seconds);
    return result;
}

bool startChild(const std::vector<CaseSpec>& cases, size_t index, const IsolationSettings& settings,
                const CaseRunner& run, RunningChild& child) {
    int reportPipe[2];
    int outputPipe[2];
    if (::pipe2(reportPipe, O_CLOEXEC) != 0) return false;
    if (::pipe2(outputPipe, O_CLOEXEC) != 0) {
        ::close(reportPipe[0]);
        ::close(reportPipe[1]);
        return false;
    }
    // A child must not inherit (and later write out) the parent's unflushed output.
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(reportPipe[0]);
        ::close(outputPipe[0]);
        childMain(cases[index], settings, run, reportPipe[1], outputPipe[1]);
    }
    ::close(reportPipe[1]);
    ::close(outputPipe[1]);
    if (pid < 0) {
        ::close(reportPipe[0]);
        ::close(outputPipe[0]);
        return false;
    }
    child = RunningChild{};
    child.caseIndex = index;
    child.pid = pid;
    child.reportFd = reportPipe[0];
    child.outputFd = outputPipe[0];
    child.start = Clock::now();
    return true;
}

}  // namespace

void runIsolated(const std::vector<CaseSpec>& cases, const IsolationSettings& settings, const CaseRunner& run,
                 const ResultSink& sink) {
    std::deque<size_t> pending;
    for (size_t i = 0; i < cases.size(); ++i) pending.push_back(i);
    std::vector<RunningChild> running;
    const auto limit = std::chrono::duration<double>(settings.timeoutSeconds);

    while (!pending.empty() || !running.empty()) {
        while (!pending.empty() && static_cast<int>(running.size()) < std::max(1, settings.jobs)) {
            RunningChild child;
            const size_t index = pending.front();
            pending.pop_front();
            if (!startChild(cases, index, settings, run, child)) {
                sink(index, CaseResult{Outcome::kError, std::string("cannot start a child: ") + std::strerror(errno), "", 0.0});
                continue;
            }
            running.push_back(std::move(child));
        }
        if (running.empty()) continue;

        std::vector<pollfd> fds;
        for (const RunningChild& child : running) {
            if (child.reportFd >= 0) fds.push_back({child.reportFd, POLLIN, 0});
            if (child.outputFd >= 0) fds.push_back({child.outputFd, POLLIN, 0});
        }
        ::poll(fds.data(), fds.size(), 100);
        for (RunningChild& child : running) {
            for (const pollfd& p : fds) {
                if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
                if (p.fd == child.reportFd && !drain(child.reportFd, child.report, 0)) {
                    ::close(child.reportFd);
                    child.reportFd = -1;
                } else if (p.fd == child.outputFd && !drain(child.outputFd, child.outputTail, kOutputTailBytes)) {
                    ::close(child.outputFd);
                    child.outputFd = -1;
                }
            }
        }

        for (size_t i = 0; i < running.size();) {
            RunningChild& child = running[i];
            int status = 0;
            const bool pipesClosed = child.reportFd < 0 && child.outputFd < 0;
            const bool overdue = Clock::now() - child.start > limit;
            CaseResult result;
            if (pipesClosed && ::waitpid(child.pid, &status, 0) == child.pid) {
                result = resultOfFinishedChild(child, status);
            } else if (overdue) {
                ::kill(child.pid, SIGKILL);
                ::waitpid(child.pid, &status, 0);
                result.outcome = Outcome::kTimeout;
                result.seconds = settings.timeoutSeconds;
                result.message = "ran past the " + std::to_string(static_cast<int>(settings.timeoutSeconds)) +
                                 " s limit and was killed";
                if (child.reportFd >= 0) ::close(child.reportFd);
                if (child.outputFd >= 0) ::close(child.outputFd);
            } else {
                ++i;
                continue;
            }
            sink(child.caseIndex, result);
            running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
}

}  // namespace kiln::conformance
