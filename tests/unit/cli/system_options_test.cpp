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
    EXPECT_FALSE(defaults.deviceGiven());
    SystemOptions zero;
    test::parseInto(zero, {"--device=0"});
    EXPECT_TRUE(zero.parse().isOk());
    EXPECT_TRUE(zero.deviceGiven());
    SystemOptions negative;
    test::parseInto(negative, {"--device=-1"});
    Status status = negative.parse();
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("--device"), std::string::npos);
    SystemOptions other;
    test::parseInto(other, {"--device=2"});
    EXPECT_TRUE(other.parse().isOk());
    EXPECT_EQ(other.device, 2);
    SystemOptions text;
    EXPECT_THROW(test::parseInto(text, {"--device=gpu1"}), CLI::ParseError);
}

TEST(SystemOptions, DeviceMustExistOnThisMachine) {
    auto check = [](const std::string& flag, int32_t count, const std::string& whyNone = "") {
        SystemOptions options;
        test::parseInto(options, {flag});
        return options.checkDevice(count, whyNone);
    };
    EXPECT_TRUE(check("--device=0", 1).isOk());
    EXPECT_TRUE(check("--device=3", 4).isOk());
    // GPU 0 is the default, which CPU engines accept on a machine without any.
    EXPECT_TRUE(check("--device=0", 0, "no driver").isOk());

    Status status = check("--device=7", 0, "this kiln was built without CUDA");
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), "--device=7: this machine has no usable CUDA device (this kiln was built without CUDA)");
    EXPECT_EQ(check("--device=1", 1).message(), "--device=1 is out of range: this machine has 1 CUDA device (0)");
    EXPECT_EQ(check("--device=2", 2).message(), "--device=2 is out of range: this machine has 2 CUDA devices (0 and 1)");
    EXPECT_EQ(check("--device=7", 4).message(), "--device=7 is out of range: this machine has 4 CUDA devices (0 to 3)");
}

TEST(SystemOptions, PluginLibrariesAreLoadedInOrderAndTheDeprecatedFlagNoted) {
    SystemOptions options;
    test::parseInto(options, {"--staticPlugins=/missing/a.so", "--dynamicPlugins=b.so", "--plugins=c.so"});
    EXPECT_EQ(options.staticPlugins, std::vector<std::string>{"/missing/a.so"});
    EXPECT_EQ(options.dynamicPlugins, std::vector<std::string>{"b.so"});
    EXPECT_EQ(options.plugins, std::vector<std::string>{"c.so"});
    EXPECT_TRUE(options.parse().isOk());
    EXPECT_EQ(options.notes(), std::vector<std::string>{"--plugins is deprecated; its modern form is --staticPlugins=c.so"});
    // The first library that cannot be loaded fails the command, naming its flag.
    Status loaded = options.loadPlugins(Logger(nullptr));
    ASSERT_FALSE(loaded.isOk());
    EXPECT_EQ(loaded.message().rfind("--staticPlugins: cannot load the plugin library '/missing/a.so'", 0), 0u)
        << loaded.message();
}

}  // namespace
}  // namespace kiln::cli
