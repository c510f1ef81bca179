#include "inference_options.h"

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

using test::parseInto;

Status parseInference(InferenceOptions& options, const std::vector<std::string>& args) {
    parseInto(options, args);
    return options.parse();
}

TEST(InferenceOptions, Defaults) {
    InferenceOptions options;
    ASSERT_TRUE(parseInference(options, {}).isOk());
    EXPECT_EQ(options.iterations, 10);
    EXPECT_DOUBLE_EQ(options.warmUpMs, 200);
    EXPECT_DOUBLE_EQ(options.durationS, 3);
    EXPECT_EQ(options.batch, 0);
    EXPECT_TRUE(options.shapes.empty());
    EXPECT_TRUE(options.loadInputs.empty());
    EXPECT_TRUE(options.notes.empty());
}

TEST(InferenceOptions, TimingValues) {
    InferenceOptions options;
    ASSERT_TRUE(parseInference(options, {"--iterations=37", "--warmUp=0", "--duration", "0.25"}).isOk());
    EXPECT_EQ(options.iterations, 37);
    EXPECT_DOUBLE_EQ(options.warmUpMs, 0);
    EXPECT_DOUBLE_EQ(options.durationS, 0.25);
}

TEST(InferenceOptions, BadTimingValues) {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"--iterations=0"}, {"--iterations=-3"}, {"--warmUp=-1"}, {"--duration=-0.5"}}) {
        InferenceOptions options;
        Status status = parseInference(options, args);
        EXPECT_FALSE(status.isOk()) << args[0];
        std::string flag = args[0].substr(0, args[0].find('='));
        EXPECT_NE(status.message().find(flag), std::string::npos) << status.message();
    }
    InferenceOptions text;
    EXPECT_THROW(parseInto(text, {"--iterations=many"}), CLI::ParseError);
}

TEST(InferenceOptions, Shapes) {
    InferenceOptions options;
    ASSERT_TRUE(parseInference(options, {"--shapes='ids:0':4x128,mask:4x128"}).isOk());
    EXPECT_EQ(options.shapes.at("ids:0"), Dims({4, 128}));
    EXPECT_EQ(options.shapes.at("mask"), Dims({4, 128}));
    InferenceOptions bad;
    Status status = parseInference(bad, {"--shapes=ids:4xq"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--shapes"), std::string::npos);
}

TEST(InferenceOptions, LoadInputs) {
    InferenceOptions options;
    ASSERT_TRUE(
        parseInference(options, {"--loadInputs=x:/tmp/x.bin,'y:0':data/y.npy", "--loadInputs=z:z:1.bin"}).isOk());
    ASSERT_EQ(options.loadInputs.size(), 3u);
    EXPECT_EQ(options.loadInputs[0].name, "x");
    EXPECT_EQ(options.loadInputs[0].value, "/tmp/x.bin");
    EXPECT_EQ(options.loadInputs[1].name, "y:0");
    EXPECT_EQ(options.loadInputs[1].value, "data/y.npy");
    EXPECT_EQ(options.loadInputs[2].name, "z");
    EXPECT_EQ(options.loadInputs[2].value, "z:1.bin");
}

TEST(InferenceOptions, BadLoadInputs) {
    for (const char* arg : {"--loadInputs=x.bin", "--loadInputs=x:", "--loadInputs=x:a.bin,x:b.bin"}) {
        InferenceOptions options;
        Status status = parseInference(options, {arg});
        EXPECT_FALSE(status.isOk()) << arg;
        EXPECT_NE(status.message().find("--loadInputs"), std::string::npos) << status.message();
    }
}

TEST(InferenceOptions, BatchIsLegacyWithANote) {
    InferenceOptions options;
    ASSERT_TRUE(parseInference(options, {"--batch=8"}).isOk());
    EXPECT_EQ(options.batch, 8);
    ASSERT_EQ(options.notes.size(), 1u);
    EXPECT_NE(options.notes[0].find("--shapes=input:8x"), std::string::npos);

    InferenceOptions zero;
    EXPECT_FALSE(parseInference(zero, {"--batch=0"}).isOk());
    InferenceOptions mixed;
    Status status = parseInference(mixed, {"--batch=2", "--shapes=x:2x3"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--batch cannot be combined with --shapes"), std::string::npos);
}

TEST(InferenceOptions, StreamAndTimingFlags) {
    InferenceOptions defaults;
    ASSERT_TRUE(parseInference(defaults, {}).isOk());
    EXPECT_EQ(defaults.infStreams, 1);
    EXPECT_DOUBLE_EQ(defaults.sleepTimeMs, 0);
    EXPECT_FALSE(defaults.threads || defaults.useSpinWait || defaults.useCudaGraph || defaults.noDataTransfers ||
                 defaults.separateProfileRun || defaults.exposeDma);

    InferenceOptions options;
    ASSERT_TRUE(parseInference(options, {"--infStreams=3", "--threads", "--sleepTime=2.5", "--useSpinWait",
                                         "--useCudaGraph", "--noDataTransfers", "--separateProfileRun", "--exposeDMA"})
                    .isOk());
    EXPECT_EQ(options.infStreams, 3);
    EXPECT_DOUBLE_EQ(options.sleepTimeMs, 2.5);
    EXPECT_TRUE(options.threads && options.useSpinWait && options.useCudaGraph && options.noDataTransfers &&
                options.separateProfileRun && options.exposeDma);
    EXPECT_TRUE(options.notes.empty());
}

TEST(InferenceOptions, BadStreamAndSleepValues) {
    for (std::vector<std::string> args :
         std::vector<std::vector<std::string>>{{"--infStreams=0"}, {"--sleepTime=-1"}, {"--streams=0"}}) {
        InferenceOptions options;
        Status status = parseInference(options, args);
        ASSERT_FALSE(status.isOk()) << args[0];
        EXPECT_NE(status.message().find(args[0] == "--streams=0" ? "--infStreams" : args[0].substr(0, args[0].find('='))),
                  std::string::npos)
            << status.message();
    }
    InferenceOptions text;
    EXPECT_THROW(parseInto(text, {"--infStreams=two"}), CLI::ParseError);
}

TEST(InferenceOptions, StreamsIsDeprecatedForInfStreams) {
    InferenceOptions options;
    ASSERT_TRUE(parseInference(options, {"--streams=4"}).isOk());
    EXPECT_EQ(options.infStreams, 4);
    ASSERT_EQ(options.notes.size(), 1u);
    EXPECT_NE(options.notes[0].find("--infStreams=4"), std::string::npos);
    InferenceOptions conflict;
    EXPECT_FALSE(parseInference(conflict, {"--streams=4", "--infStreams=2"}).isOk());
}

TEST(InferenceOptions, ThreadsWithOneStreamSaysItDoesNothing) {
    InferenceOptions options;
    ASSERT_TRUE(parseInference(options, {"--threads"}).isOk());
    ASSERT_EQ(options.notes.size(), 1u);
    EXPECT_NE(options.notes[0].find("--infStreams"), std::string::npos);
}

TEST(InferenceOptions, HelpSaysEveryDefault) {
    CLI::App app;
    InferenceOptions options;
    options.addOptions(app);
    auto inGroup = app.get_options([](const CLI::Option* o) { return o->get_group() == "Inference Options"; });
    EXPECT_EQ(inGroup.size(), 15u);
    for (const CLI::Option* option : inGroup)
        EXPECT_NE(option->get_description().find("default"), std::string::npos) << option->get_name();
}

}  // namespace
}  // namespace kiln::cli
