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
