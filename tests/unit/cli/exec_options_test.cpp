#include "exec_options.h"

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

Status parseExec(ExecOptions& options, const std::vector<std::string>& args) {
    CLI::App app;
    options.addOptions(app);
    test::parseArgs(app, args);
    return options.parse(false);
}

TEST(ExecOptions, TypicalBuildCommand) {
    ExecOptions options;
    Status status =
        parseExec(options, {"--onnx=model.onnx", "--minShapes=input:1x3x224x224", "--optShapes=input:8x3x224x224",
                            "--maxShapes=input:32x3x224x224", "--fp16", "--saveEngine=model.plan", "--verbose"});
    ASSERT_TRUE(status.isOk()) << status.message();
    EXPECT_EQ(options.model.onnxFile, "model.onnx");
    EXPECT_EQ(options.build.maxShapes.at("input"), Dims({32, 3, 224, 224}));
    EXPECT_TRUE(options.build.fp16);
    EXPECT_TRUE(options.reporting.verbose);
    EXPECT_TRUE(options.notes().empty());
}

TEST(ExecOptions, EachUnitsErrorSurfaces) {
    struct Case {
        std::vector<std::string> args;
        const char* expected;
    };
    for (const Case& c : {Case{{}, "--onnx"}, Case{{"--onnx=m.onnx", "--maxShapes=x:1"}, "--optShapes"},
                          Case{{"--onnx=m.onnx", "--iterations=0"}, "--iterations"},
                          Case{{"--onnx=m.onnx", "--percentile=200"}, "--percentile"},
                          Case{{"--onnx=m.onnx", "--device=-1"}, "--device"}}) {
        ExecOptions options;
        Status status = parseExec(options, c.args);
        ASSERT_FALSE(status.isOk()) << c.expected;
        EXPECT_NE(status.message().find(c.expected), std::string::npos) << status.message();
    }
}

TEST(ExecOptions, SkipInferenceRefusesInferenceOutputs) {
    ExecOptions options;
    Status status = parseExec(options, {"--onnx=m.onnx", "--skipInference", "--exportOutput=o.json"});
    ASSERT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--skipInference"), std::string::npos);
}

TEST(ExecOptions, SkipInferenceRefusesProfilesAndTimes) {
    for (const char* flag : {"--dumpProfile", "--exportProfile=p.json", "--exportTimes=t.json"}) {
        ExecOptions options;
        Status status = parseExec(options, {"--onnx=m.onnx", "--skipInference", flag});
        ASSERT_FALSE(status.isOk()) << flag;
        EXPECT_NE(status.message().find(std::string(flag).substr(0, std::string(flag).find('='))), std::string::npos);
    }
    ExecOptions layerInfo;
    EXPECT_TRUE(parseExec(layerInfo, {"--onnx=m.onnx", "--skipInference", "--dumpLayerInfo"}).isOk());
}

TEST(ExecOptions, SeparateProfileRunWithoutAProfileIsNoted) {
    ExecOptions options;
    ASSERT_TRUE(parseExec(options, {"--onnx=m.onnx", "--separateProfileRun"}).isOk());
    ASSERT_EQ(options.notes().size(), 1u);
    EXPECT_NE(options.notes()[0].find("--separateProfileRun"), std::string::npos);
}

TEST(ExecOptions, NotesCollectDeprecatedAndIgnoredFlags) {
    ExecOptions options;
    ASSERT_TRUE(parseExec(options, {"--loadEngine=m.plan", "--fp16", "--batch=4"}).isOk());
    std::vector<std::string> notes = options.notes();
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_NE(notes[0].find("--batch is deprecated"), std::string::npos);
    EXPECT_NE(notes[1].find("ignored with --loadEngine"), std::string::npos);
}

TEST(ExecOptions, HelpHasEveryGroupAndEveryDefault) {
    CLI::App app;
    ExecOptions options;
    options.addOptions(app);
    std::string help = app.help();
    size_t last = 0;
    for (const char* group : {"Model Options:", "Build Options:", "Inference Options:", "Reporting Options:", "System Options:"}) {
        size_t at = help.find(group);
        ASSERT_NE(at, std::string::npos) << group;
        EXPECT_GT(at, last) << group << " is out of order";
        last = at;
    }
    for (const CLI::Option* option : app.get_options()) {
        // --help, and the retired flags hidden from the help (group "").
        if (option->get_name() == "--help" || option->get_group().empty()) continue;
        EXPECT_NE(option->get_description().find("efault"), std::string::npos)
            << option->get_name() << " does not state its default";
    }
}

TEST(ExecOptions, RetiredTrtexecFlagsAreRefusedWithTheirReason) {
    const std::pair<std::vector<std::string>, const char*> cases[] = {
        {{"--uff=model.uff"}, "convert the model to ONNX"},
        {{"--uffNHWC"}, "UFF"},
        {{"--model=net.caffemodel", "--deploy=net.prototxt"}, "Caffe"},
        {{"--useDLACore=0"}, "DLA"},
        {{"--refit"}, "refittable"},
        {{"--tacticSources=-cublasLt"}, "tactic sources"},
        {{"--minShapesCalib=x:1x3"}, "calibration"},
    };
    for (const auto& [args, reason] : cases) {
        ExecOptions options;
        std::vector<std::string> all = {"--onnx=m.onnx"};
        all.insert(all.end(), args.begin(), args.end());
        Status status = parseExec(options, all);
        ASSERT_FALSE(status.isOk()) << args[0];
        EXPECT_EQ(status.code(), StatusCode::kUnsupported);
        std::string flag = args[0].substr(0, args[0].find('='));
        EXPECT_EQ(status.message().rfind(flag + ": ", 0), 0u) << status.message();
        EXPECT_NE(status.message().find(reason), std::string::npos) << status.message();
    }
    CLI::App app;
    ExecOptions options;
    options.addOptions(app);
    EXPECT_EQ(app.help().find("--uff"), std::string::npos) << "retired flags are hidden from --help";
}

TEST(ExecOptions, UnknownFlagIsNamed) {
    ExecOptions options;
    CLI::App app;
    options.addOptions(app);
    try {
        test::parseArgs(app, {"--onnx=m.onnx", "--fastest"});
        FAIL() << "an unknown flag was accepted";
    } catch (const CLI::ParseError& error) {
        EXPECT_NE(std::string(error.what()).find("--fastest"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace kiln::cli
