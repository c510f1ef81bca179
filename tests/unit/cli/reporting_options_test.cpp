#include "reporting_options.h"

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

using test::parseInto;

TEST(ReportingOptions, Defaults) {
    ReportingOptions options;
    parseInto(options, {});
    ASSERT_TRUE(options.parse().isOk());
    EXPECT_FALSE(options.verbose);
    EXPECT_FALSE(options.dumpOutput);
    EXPECT_TRUE(options.exportOutput.empty());
    EXPECT_EQ(options.avgRuns, 10);
    EXPECT_EQ(options.percentiles, (std::vector<double>{90, 95, 99}));
}

TEST(ReportingOptions, Values) {
    ReportingOptions options;
    parseInto(options, {"--verbose", "--dumpOutput", "--exportOutput=out.json", "--avgRuns=3", "--percentile=50,99.9"});
    ASSERT_TRUE(options.parse().isOk());
    EXPECT_TRUE(options.verbose);
    EXPECT_TRUE(options.dumpOutput);
    EXPECT_EQ(options.exportOutput, "out.json");
    EXPECT_EQ(options.avgRuns, 3);
    EXPECT_EQ(options.percentiles, (std::vector<double>{50, 99.9}));
}

TEST(ReportingOptions, BadPercentiles) {
    for (const char* text : {"101", "-1", "abc", "", "90,", "90;95", "nan"}) {
        auto values = parsePercentiles(text);
        EXPECT_FALSE(values.isOk()) << text;
        if (!values.isOk()) {
            EXPECT_NE(values.status().message().find("--percentile"), std::string::npos);
        }
    }
    auto edges = parsePercentiles("0,100");
    ASSERT_TRUE(edges.isOk());
    EXPECT_EQ(edges.value(), (std::vector<double>{0, 100}));
}

TEST(ReportingOptions, ProfileTimesAndLayerInfoFlags) {
    ReportingOptions defaults;
    parseInto(defaults, {});
    ASSERT_TRUE(defaults.parse().isOk());
    EXPECT_FALSE(defaults.profiling());
    EXPECT_FALSE(defaults.dumpLayerInfo);
    EXPECT_TRUE(defaults.exportTimes.empty() && defaults.exportLayerInfo.empty());

    ReportingOptions dump;
    parseInto(dump, {"--dumpProfile"});
    ASSERT_TRUE(dump.parse().isOk());
    EXPECT_TRUE(dump.profiling());

    ReportingOptions options;
    parseInto(options, {"--exportProfile=p.json", "--exportTimes=t.json", "--dumpLayerInfo",
                        "--exportLayerInfo=l.json"});
    ASSERT_TRUE(options.parse().isOk());
    EXPECT_TRUE(options.profiling());
    EXPECT_EQ(options.exportProfile, "p.json");
    EXPECT_EQ(options.exportTimes, "t.json");
    EXPECT_TRUE(options.dumpLayerInfo);
    EXPECT_EQ(options.exportLayerInfo, "l.json");
}

TEST(ReportingOptions, BadAvgRuns) {
    ReportingOptions options;
    parseInto(options, {"--avgRuns=0"});
    Status status = options.parse();
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--avgRuns"), std::string::npos);
}

TEST(ReportingOptions, HelpDocumentsTheJsonSpellingOfNonFiniteValues) {
    CLI::App app;
    ReportingOptions options;
    options.addOptions(app);
    std::string description = app.get_option("--exportOutput")->get_description();
    for (const char* text : {"\"NaN\"", "\"Infinity\"", "\"-Infinity\""})
        EXPECT_NE(description.find(text), std::string::npos) << text;
    for (const CLI::Option* option :
         app.get_options([](const CLI::Option* o) { return o->get_group() == "Reporting Options"; }))
        EXPECT_NE(option->get_description().find("default"), std::string::npos) << option->get_name();
}

}  // namespace
}  // namespace kiln::cli
