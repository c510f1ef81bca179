// The importer's errors: malformed files, unsupported versions, and problems inside the graph, each
// one clear message (never a crash), all unsupported nodes named at once.

#include <gtest/gtest.h>

#include <algorithm>

#include "onnx_test_models.h"

namespace kiln::test {
namespace {

using Severity = ILogger::Severity;

onnx::ModelProto smallModel(int64_t opset = 13) {
    onnx::ModelProto model = makeModel(opset);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addInitializer(g, floatTensor("w", {2, 3}, randomFloats(6, 1)));
    addNode(g, "Add", {"x", "w"}, {"a"});
    addNode(g, "Relu", {"a"}, {"y"});
    addOutput(g, "y");
    return model;
}

/// Parses `bytes` from memory; expects failure with one error containing `expected`.
void expectInvalid(const std::string& bytes, const std::string& expected) {
    Import im;
    EXPECT_FALSE(im.parser->parse(bytes.data(), bytes.size(), nullptr));
    ASSERT_EQ(im.parser->getNbErrors(), 1) << im.errors();
    const ParserError* e = im.parser->getError(0);
    EXPECT_EQ(e->nodeIndex, -1);
    EXPECT_NE(e->describe().find(expected), std::string::npos) << e->describe();
    EXPECT_EQ(im.logger.at(Severity::kERROR).size(), 1u);
}

TEST(OnnxErrors, EmptyInput) {
    expectInvalid("", "the in-memory model is not a valid ONNX model: it is empty");
    TempDir dir;
    const std::string path = dir.write("empty.onnx", "");
    Import im;
    EXPECT_FALSE(im.parser->parseFromFile(path.c_str()));
    EXPECT_EQ(im.errors(), "'" + path + "' is not a valid ONNX model: it is empty\n");
}

TEST(OnnxErrors, GarbageBytes) {
    std::mt19937 rng(5);
    for (int trial = 0; trial < 20; ++trial) {
        std::string bytes(64 + trial * 37, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        Import im;
        EXPECT_FALSE(im.parser->parse(bytes.data(), bytes.size(), nullptr));
        ASSERT_EQ(im.parser->getNbErrors(), 1) << im.errors();
        // Random bytes may even parse as protobuf with an absurd IR version: "cannot be imported".
        const std::string error = im.errors();
        EXPECT_TRUE(error.find("is not a valid ONNX model") != std::string::npos ||
                    error.find("cannot be imported") != std::string::npos)
            << error;
    }
    expectInvalid("this is a text file, not a model\n", "is not a valid ONNX model");
}

TEST(OnnxErrors, TruncatedFileAtEveryLength) {
    const std::string bytes = smallModel().SerializeAsString();
    TempDir dir;
    for (size_t cut = 1; cut < bytes.size(); cut += 3) {
        const std::string path = dir.write("cut.onnx", bytes.substr(0, cut));
        Import im;
        EXPECT_FALSE(im.parser->parseFromFile(path.c_str())) << cut;
        EXPECT_GE(im.parser->getNbErrors(), 1) << cut;
    }
    Import whole;
    EXPECT_TRUE(whole.parser->parseFromFile(dir.write("whole.onnx", bytes).c_str())) << whole.errors();
}

TEST(OnnxErrors, MissingFileAndDirectory) {
    TempDir dir;
    Import missing;
    EXPECT_FALSE(missing.parser->parseFromFile((dir.path() / "nope.onnx").c_str()));
    EXPECT_NE(missing.errors().find("cannot be read"), std::string::npos) << missing.errors();
    Import directory;
    EXPECT_FALSE(directory.parser->parseFromFile(dir.path().c_str()));
    EXPECT_NE(directory.errors().find("it is a directory"), std::string::npos) << directory.errors();
}

TEST(OnnxErrors, ModelWithoutGraph) {
    onnx::ModelProto model = makeModel(13);
    model.clear_graph();
    expectInvalid(model.SerializeAsString(), "is not a valid ONNX model: it has no graph");
}

TEST(OnnxErrors, OpsetAndIrVersionOutsideTheSupportedRange) {
    expectInvalid(smallModel(0).SerializeAsString(), "uses default-domain opset 0; Kiln imports opsets 1 to 28");
    expectInvalid(smallModel(29).SerializeAsString(), "opset 29");
    onnx::ModelProto future = smallModel();
    future.set_ir_version(99);
    expectInvalid(future.SerializeAsString(), "IR version is 99");
    onnx::ModelProto noOpset = smallModel();
    noOpset.clear_opset_import();
    expectInvalid(noOpset.SerializeAsString(), "imports no opset of the default ONNX domain");
}

TEST(OnnxErrors, UndefinedInputNamesTheNodeAndTensor) {
    onnx::ModelProto model = smallModel();
    onnx::GraphProto* g = model.mutable_graph();
    addNode(g, "Mul", {"y", "ghost"}, {"z"}, "scale");
    addOutput(g, "z");
    Import im;
    EXPECT_FALSE(im.parse(model));
    ASSERT_EQ(im.parser->getNbErrors(), 1) << im.errors();
    const ParserError* e = im.parser->getError(0);
    EXPECT_EQ(e->nodeIndex, 2);
    EXPECT_EQ(e->nodeName, "scale");
    EXPECT_EQ(e->opType, "Mul");
    EXPECT_EQ(e->describe(),
              "node 2 'scale' (Mul): input 1 'ghost' is not defined by any node, initializer or graph input");
}

TEST(OnnxErrors, NodesOutOfOrderAreNamed) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2});
    addNode(g, "Relu", {"later"}, {"y"});
    addNode(g, "Neg", {"x"}, {"later"});
    addOutput(g, "y");
    Import im;
    EXPECT_FALSE(im.parse(model));
    EXPECT_NE(im.errors().find("produced only by the later node 1"), std::string::npos) << im.errors();
}

TEST(OnnxErrors, AllUnsupportedOperatorsInOneError) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addNode(g, "Relu", {"x"}, {"r"});
    addNode(g, "Frobnicate", {"r"}, {"f"}, "foo");
    addNode(g, "Tanh", {"f"}, {"t"});
    addNode(g, "Zorch", {"t"}, {"z"});
    onnx::NodeProto* custom = addNode(g, "Blend", {"z"}, {"y"}, "mix");
    custom->set_domain("com.example");
    addOutput(g, "y");
    Import im;
    EXPECT_FALSE(im.parse(model));
    EXPECT_EQ(im.parser->getNbErrors(), 3) << im.errors();
    std::vector<std::string> logged = im.logger.at(Severity::kERROR);
    ASSERT_EQ(logged.size(), 1u) << im.errors();
    EXPECT_EQ(logged[0],
              "3 nodes use operators Kiln does not support: node 1 'foo' (Frobnicate), node 3 'Zorch_3' (Zorch), "
              "node 4 'mix' (com.example::Blend)");
    EXPECT_EQ(im.parser->getError(1)->nodeIndex, 3);
    EXPECT_EQ(im.parser->getError(1)->opType, "Zorch");
    EXPECT_NE(im.parser->getError(2)->message.find("com.example::Blend"), std::string::npos);
}

TEST(OnnxErrors, DuplicateOutputNames) {
    onnx::ModelProto model = smallModel();
    addNode(model.mutable_graph(), "Neg", {"x"}, {"a"}, "again");
    Import im;
    EXPECT_FALSE(im.parse(model));
    ASSERT_EQ(im.parser->getNbErrors(), 1) << im.errors();
    EXPECT_EQ(im.parser->getError(0)->nodeName, "again");
    EXPECT_NE(im.errors().find("output 0 'a' is already defined by"), std::string::npos) << im.errors();
}

TEST(OnnxErrors, SeveralProblemsReportedAtOnceWithoutCascades) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addInput(g, "v", {4});
    addNode(g, "Add", {"x", "v"}, {"bad"}, "mismatch");  // (2, 3) + (4) do not broadcast
    addNode(g, "Relu", {"bad"}, {"r"});                  // downstream of the failure: not inferred
    addNode(g, "Neg", {"nothing"}, {"n"}, "orphan");
    addOutput(g, "r");
    addOutput(g, "n");
    Import im;
    EXPECT_FALSE(im.parse(model));
    ASSERT_EQ(im.parser->getNbErrors(), 2) << im.errors();
    EXPECT_EQ(im.parser->getError(0)->nodeName, "mismatch");
    EXPECT_EQ(im.parser->getError(1)->nodeName, "orphan");
    // Inference messages lose the IR node's own prefix: ParserError::describe adds the ONNX one.
    EXPECT_NE(im.parser->getError(0)->message.rfind("node ", 0), 0u) << im.errors();
}

TEST(OnnxErrors, OmittedRequiredInputsAndMissingOutputs) {
    onnx::ModelProto model = makeModel(11);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {2, 3});
    addNode(g, "Relu", {""}, {"r"}, "no_input");
    // After the upgrade, axes sit in input 1 while the data input 0 is still missing.
    onnx::NodeProto* squeeze = addNode(g, "Unsqueeze", {}, {"u"}, "no_data");
    setInts(squeeze, "axes", {0});
    addNode(g, "Neg", {"x"}, {}, "no_output");
    addOutput(g, "r");
    addOutput(g, "u");
    Import im;
    EXPECT_FALSE(im.parse(model));
    ASSERT_EQ(im.parser->getNbErrors(), 3) << im.errors();
    EXPECT_EQ(im.parser->getError(0)->describe(), "node 0 'no_input' (Relu): input 0 is required but omitted");
    EXPECT_EQ(im.parser->getError(1)->describe(), "node 1 'no_data' (Unsqueeze): input 0 is required but omitted");
    EXPECT_EQ(im.parser->getError(2)->describe(), "node 2 'no_output' (Neg): the node has no outputs");
}

TEST(OnnxErrors, OtherDomainsOnlyNeedNoDefaultOpset) {
    onnx::ModelProto model = makeModel(13);
    model.clear_opset_import();
    onnx::OperatorSetIdProto* ml = model.add_opset_import();
    ml->set_domain("ai.onnx.ml");
    ml->set_version(3);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {4});
    addNode(g, "Binarizer", {"x"}, {"b"}, "bin")->set_domain("ai.onnx.ml");
    addNode(g, "Normalizer", {"b"}, {"y"}, "norm")->set_domain("ai.onnx.ml");
    addOutput(g, "y");
    Import im;
    EXPECT_FALSE(im.parse(model));
    // The Binarizer imports; the one error is the operator Kiln lacks.
    ASSERT_EQ(im.parser->getNbErrors(), 1) << im.errors();
    EXPECT_EQ(im.parser->getError(0)->describe(),
              "node 1 'norm' (Normalizer): Kiln does not support the operator ai.onnx.ml::Normalizer");
}

TEST(OnnxErrors, InputWithoutShapeIsAnError) {
    onnx::ModelProto model = smallModel();
    model.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->clear_shape();
    Import im;
    EXPECT_FALSE(im.parse(model));
    EXPECT_NE(im.errors().find("graph input 'x' declares no element type or no shape"), std::string::npos)
        << im.errors();
}

TEST(OnnxErrors, ErrorsDescribeOnlyTheLatestParse) {
    Import im;
    EXPECT_FALSE(im.parser->parse("", 0, nullptr));
    EXPECT_EQ(im.parser->getNbErrors(), 1);
    im.parser->clearErrors();
    EXPECT_EQ(im.parser->getNbErrors(), 0);
    EXPECT_EQ(im.parser->getError(0), nullptr);
    EXPECT_FALSE(im.parser->parse("", 0, nullptr));
    EXPECT_FALSE(im.parser->parse("", 0, nullptr));
    EXPECT_EQ(im.parser->getNbErrors(), 1);
}

}  // namespace
}  // namespace kiln::test
