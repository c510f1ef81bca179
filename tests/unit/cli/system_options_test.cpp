#include "system_options.h"

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

TEST(SystemOptions, NoPluginsIsFine) {
    SystemOptions options;
    test::parseInto(options, {});
    EXPECT_TRUE(options.parse().isOk());
}

TEST(SystemOptions, DeviceIsAValidatedGpuIndex) {
    SystemOptions defaults;
    test::parseInto(defaults, {});
    EXPECT_EQ(defaults.device, 0);
    SystemOptions zero;
    test::parseInto(zero, {"--device=0"});
    EXPECT_TRUE(zero.parse().isOk());
    SystemOptions negative;
    test::parseInto(negative, {"--device=-1"});
    Status status = negative.parse();
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("--device"), std::string::npos);
    SystemOptions other;
    test::parseInto(other, {"--device=2"});
    status = other.parse();
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("CUDA_VISIBLE_DEVICES=2"), std::string::npos) << status.message();
    SystemOptions text;
    EXPECT_THROW(test::parseInto(text, {"--device=gpu1"}), CLI::ParseError);
}

TEST(SystemOptions, PluginsAreAcceptedByTheParserAndRefusedClearly) {
    SystemOptions options;
    test::parseInto(options, {"--plugins=libnms.so"});
    ASSERT_EQ(options.plugins, std::vector<std::string>{"libnms.so"});
    Status status = options.parse();
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(status.code(), StatusCode::kUnsupported);
    EXPECT_NE(status.message().find("not supported yet"), std::string::npos);
    EXPECT_NE(status.message().find("libnms.so"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
