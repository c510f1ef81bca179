#include "build_progress_display.h"

#include <gtest/gtest.h>

namespace kiln::cli {
namespace {

TEST(BuildProgressDisplay, StatusLineShowsNestedPhasesAndSteps) {
    CliLogger logger;
    BuildProgressDisplay display(logger, false);
    testing::internal::CaptureStdout();
    display.phaseStart("Building engine", nullptr, 5);
    EXPECT_TRUE(display.stepComplete("Building engine", 0));
    EXPECT_TRUE(display.stepComplete("Building engine", 1));
    display.phaseStart("Planning memory", "Building engine", 2);
    EXPECT_EQ(display.statusLine(), "Building engine 2/5 > Planning memory 0/2");
    EXPECT_TRUE(display.stepComplete("Planning memory", 0));
    EXPECT_EQ(display.statusLine(), "Building engine 2/5 > Planning memory 1/2");
    display.phaseFinish("Planning memory");
    EXPECT_EQ(display.statusLine(), "Building engine 2/5");
    display.phaseFinish("Building engine");
    EXPECT_EQ(display.statusLine(), "");
    std::string out = testing::internal::GetCapturedStdout();
    // Not a terminal: plain lines, one per start and finish, and no terminal control codes.
    EXPECT_NE(out.find("[I] [build] Building engine 0/5 started\n"), std::string::npos) << out;
    EXPECT_NE(out.find("[I] [build] Building engine 2/5 > Planning memory 1/2 finished in "), std::string::npos);
    EXPECT_EQ(out.find('\r'), std::string::npos);
    EXPECT_EQ(out.find('\033'), std::string::npos);
}

TEST(BuildProgressDisplay, OnATerminalOneLineIsRedrawnAndRemoved) {
    CliLogger logger;
    testing::internal::CaptureStdout();
    {
        BuildProgressDisplay display(logger, true);
        display.phaseStart("Building engine", nullptr, 3);
        display.stepComplete("Building engine", 0);
        logger.log(ILogger::Severity::kINFO, "a message during the build");
        display.phaseFinish("Building engine");
    }
    std::string out = testing::internal::GetCapturedStdout();
    EXPECT_NE(out.find("Building engine 0/3 | "), std::string::npos) << out;
    EXPECT_NE(out.find("Building engine 1/3 | "), std::string::npos) << out;
    // The message erased the status line first, so it starts on a clean line, then the line came back.
    size_t message = out.find("[I] a message during the build\n");
    ASSERT_NE(message, std::string::npos);
    EXPECT_EQ(out.substr(message - 4, 4), "\r\033[K");
    EXPECT_NE(out.find("Building engine 1/3 | ", message), std::string::npos);
    // Nothing is left on the line at the end.
    EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K");
    EXPECT_EQ(out.find("started"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
