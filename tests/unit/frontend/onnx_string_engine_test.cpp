// String tensors through the whole path: an ONNX model with string inputs, string initializers,
// a string Constant and a build-time folded string value, built into an engine whose bytes are
// written and read back (the string constants travel in the plan), then run on the CPU.

#include <map>

#include "kiln/runtime.h"
#include "onnx_test_models.h"

namespace kiln::test {
namespace {

/// Builds the parsed network, writes the engine to bytes and reads it back, runs it once on
/// `inputs` and returns the outputs by name, strings copied out before the context goes.
std::map<std::string, Tensor> buildRoundTripAndRun(Import& import, const std::map<std::string, Tensor>& inputs) {
    std::map<std::string, Tensor> outputs;
    auto config = import.builder->createBuilderConfig();
    auto plan = import.builder->buildSerializedNetwork(*import.network, *config);
    if (!plan) return outputs;
    auto runtime = createRuntime(import.logger);
    auto engine = runtime->deserializeEngine(plan->data(), plan->size());
    if (!engine) return outputs;
    auto context = engine->createExecutionContext();
    if (!context) return outputs;
    for (const auto& [name, tensor] : inputs) {
        Dims dims;
        dims.nbDims = static_cast<int32_t>(tensor.rank());
        for (int32_t i = 0; i < dims.nbDims; ++i) dims.d[i] = tensor.shape()[static_cast<size_t>(i)];
        EXPECT_TRUE(context->setInputShape(name.c_str(), dims));
        EXPECT_TRUE(context->setTensorAddress(name.c_str(), const_cast<void*>(tensor.data())));
    }
    std::map<std::string, HostOutputAllocator> allocators;
    for (int32_t i = 0; i < engine->getNbIOTensors(); ++i) {
        const char* name = engine->getIOTensorName(i);
        if (engine->getTensorIOMode(name) == TensorIOMode::kOUTPUT) context->setOutputAllocator(name, &allocators[name]);
    }
    if (!context->execute()) return outputs;
    for (auto& [name, allocator] : allocators) {
        Tensor t = Tensor::wrap(engine->getTensorDataType(name.c_str()), allocator.shape, allocator.storage.data(), nullptr);
        outputs[name] = t.dtype() == DataType::kSTRING ? Tensor::fromStrings(t.strings(), t.shape()) : t.clone();
    }
    return outputs;
}

onnx::TensorProto stringTensor(const std::string& name, const std::vector<std::string>& values) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::STRING);
    t.add_dims(static_cast<int64_t>(values.size()));
    for (const std::string& v : values) t.add_string_data(v);
    return t;
}

std::vector<std::string> contents(const Tensor& t) {
    std::vector<std::string> out;
    for (std::string_view s : t.strings()) out.emplace_back(s);
    return out;
}

TEST(OnnxStringEngine, StringConstantsSurviveThePlanAndOpsRun) {
    onnx::ModelProto model = makeModel(20);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {3}, onnx::TensorProto::STRING);
    addInitializer(g, stringTensor("suffix", {"-a", "-b b", ""}));
    addInitializer(g, floatTensor("numbers", {2}, {0.25f, -3.0f}));
    onnx::NodeProto* constant = addNode(g, "Constant", {}, {"probe"});
    onnx::AttributeProto* value = constant->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    *value->mutable_t() = stringTensor("", {"two", "x", "\xe2\x82\xac"});
    addNode(g, "StringConcat", {"x", "suffix"}, {"joined"});
    addNode(g, "Equal", {"x", "probe"}, {"same"});
    setInt(addNode(g, "Cast", {"numbers"}, {"folded"}), "to", onnx::TensorProto::STRING);
    setString(addNode(g, "StringSplit", {"joined"}, {"parts", "counts"}), "delimiter", "-");
    for (const char* out : {"joined", "same", "folded", "parts", "counts"}) addOutput(g, out);

    Import import;
    ASSERT_TRUE(import.parse(model)) << import.errors();
    Tensor x = Tensor::fromStrings({"one", "two", "\xe2\x82\xac"}, {3});
    std::map<std::string, Tensor> out = buildRoundTripAndRun(import, {{"x", x}});
    ASSERT_EQ(out.size(), 5u) << import.errors();
    EXPECT_EQ(contents(out["joined"]), (std::vector<std::string>{"one-a", "two-b b", "\xe2\x82\xac"}));
    ASSERT_EQ(out["same"].dtype(), DataType::kBOOL);
    EXPECT_EQ(out["same"].toInt64Vector(), (std::vector<int64_t>{0, 0, 1}));
    EXPECT_EQ(contents(out["folded"]), (std::vector<std::string>{"0.25", "-3.0"}));
    ASSERT_EQ(out["parts"].shape(), (Shape{3, 2}));
    EXPECT_EQ(contents(out["parts"]), (std::vector<std::string>{"one", "a", "two", "b b", "\xe2\x82\xac", ""}));
    EXPECT_EQ(out["counts"].toInt64Vector(), (std::vector<int64_t>{2, 2, 1}));
}

TEST(OnnxStringEngine, StringInitializersAndConstantAttributesImport) {
    onnx::ModelProto model = makeModel(13);
    onnx::GraphProto* g = model.mutable_graph();
    addInitializer(g, stringTensor("labels", {"cat", "", "\xc3\xa9t\xc3\xa9"}));
    onnx::NodeProto* one = addNode(g, "Constant", {}, {"one"});
    setString(one, "value_string", "solo");
    onnx::NodeProto* many = addNode(g, "Constant", {}, {"many"});
    onnx::AttributeProto* strings = many->add_attribute();
    strings->set_name("value_strings");
    strings->set_type(onnx::AttributeProto::STRINGS);
    strings->add_strings("a");
    strings->add_strings("bc");
    for (const char* out : {"labels", "one", "many"}) addOutput(g, out);
    Import import;
    ASSERT_TRUE(import.parse(model)) << import.errors();
    auto constantOf = [&](const char* name) -> std::vector<std::string> {
        const Value* v = import.graph().findValue(name);
        if (!v || !v->isConstant() || v->constant->dtype() != DataType::kSTRING) return {"<not a string constant>"};
        EXPECT_EQ(v->dtype, DataType::kSTRING) << name;
        return contents(*v->constant);
    };
    EXPECT_EQ(constantOf("labels"), (std::vector<std::string>{"cat", "", "\xc3\xa9t\xc3\xa9"}));
    EXPECT_EQ(constantOf("one"), std::vector<std::string>{"solo"});
    EXPECT_EQ(constantOf("many"), (std::vector<std::string>{"a", "bc"}));
    EXPECT_EQ(import.graph().findValue("one")->constant->shape(), Shape{});
}

TEST(OnnxStringEngine, StringsInRawDataAreRefused) {
    onnx::ModelProto model = makeModel(20);
    onnx::GraphProto* g = model.mutable_graph();
    addInput(g, "x", {1}, onnx::TensorProto::STRING);
    onnx::TensorProto bad = stringTensor("bad", {});
    bad.set_raw_data("abc");
    bad.clear_dims();
    bad.add_dims(1);
    addInitializer(g, bad);
    addNode(g, "StringConcat", {"x", "bad"}, {"y"});
    addOutput(g, "y");
    Import import;
    EXPECT_FALSE(import.parse(model));
    EXPECT_NE(import.errors().find("string_data"), std::string::npos) << import.errors();
}

}  // namespace
}  // namespace kiln::test
