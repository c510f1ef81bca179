#include "model_options.h"

#include <gtest/gtest.h>

#include "cli_test_util.h"

namespace kiln::cli {
namespace {

using test::parseInto;

TEST(ModelOptions, OnnxWithSaveEngine) {
    ModelOptions options;
    parseInto(options, {"--onnx=model.onnx", "--saveEngine", "model.plan"});
    EXPECT_TRUE(options.parse().isOk());
    EXPECT_EQ(options.onnxFile, "model.onnx");
    EXPECT_EQ(options.saveEngine, "model.plan");
    EXPECT_TRUE(options.loadEngine.empty());
}

TEST(ModelOptions, LoadEngine) {
    ModelOptions options;
    parseInto(options, {"--loadEngine=a.plan", "--getPlanVersionOnly"});
    EXPECT_TRUE(options.parse().isOk());
    EXPECT_EQ(options.loadEngine, "a.plan");
    EXPECT_TRUE(options.getPlanVersionOnly);
}

TEST(ModelOptions, NeedsExactlyOneSource) {
    ModelOptions none;
    parseInto(none, {});
    Status status = none.parse();
    EXPECT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--onnx"), std::string::npos);

    ModelOptions both;
    parseInto(both, {"--onnx=m.onnx", "--loadEngine=m.plan"});
    status = both.parse();
    EXPECT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("mutually exclusive"), std::string::npos);
}

TEST(ModelOptions, SaveEngineNeedsOnnx) {
    ModelOptions options;
    parseInto(options, {"--loadEngine=m.plan", "--saveEngine=n.plan"});
    Status status = options.parse();
    EXPECT_FALSE(status.isOk());
    EXPECT_NE(status.message().find("--saveEngine needs --onnx"), std::string::npos);
}

TEST(ModelOptions, PlanVersionNeedsLoadEngine) {
    ModelOptions options;
    parseInto(options, {"--onnx=m.onnx", "--getPlanVersionOnly"});
    EXPECT_FALSE(options.parse().isOk());
}

TEST(ModelOptions, HelpIsGroupedWithDefaults) {
    CLI::App app;
    ModelOptions options;
    options.addOptions(app);
    std::string help = app.help();
    EXPECT_NE(help.find("Model"), std::string::npos);
    for (const char* flag : {"--onnx", "--loadEngine", "--saveEngine", "--getPlanVersionOnly"})
        EXPECT_NE(help.find(flag), std::string::npos) << flag;
    for (const CLI::Option* option : app.get_options([](const CLI::Option* o) { return o->get_group() == "Model Options"; }))
        EXPECT_NE(option->get_description().find("default"), std::string::npos) << option->get_name();
}

TEST(ModelOptions, UnknownFlagIsACli11Error) {
    ModelOptions options;
    EXPECT_THROW(parseInto(options, {"--onx=model.onnx"}), CLI::ParseError);
}

}  // namespace
}  // namespace kiln::cli
