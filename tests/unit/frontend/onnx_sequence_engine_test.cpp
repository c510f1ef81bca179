// Sequences and optionals end to end: ONNX models with sequence / optional graph I/O and the
// Sequence* / Optional* ops, imported, built into a CPU engine, written to bytes and read back, run
// through the public API (setInputSequence, setInputOptional, getOutputValue). Expected values are
// computed here from the random inputs, independently of Kiln; bad input must fail with a message.

#include <algorithm>
#include <numeric>

#include "onnx_test_models.h"
#include "test_support.h"

namespace kiln::test {
namespace {

void setSequenceInfo(onnx::ValueInfoProto* info, const std::string& name, int32_t elemType, bool optional = false) {
    info->set_name(name);
    onnx::TypeProto* type = info->mutable_type();
    if (optional) type = type->mutable_optional_type()->mutable_elem_type();
    type->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(elemType);
}

void setOptionalTensorInfo(onnx::ValueInfoProto* info, const std::string& name, int32_t elemType) {
    info->set_name(name);
    info->mutable_type()->mutable_optional_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(elemType);
}

/// An engine built from `model`, round-tripped through its bytes, and a context on it.
struct SequenceEngine {
    Import import;
    std::unique_ptr<Runtime> runtime;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<ExecutionContext> context;

    explicit SequenceEngine(const onnx::ModelProto& model) {
        EXPECT_TRUE(import.parse(model)) << import.errors();
        auto config = import.builder->createBuilderConfig();
        auto plan = import.builder->buildSerializedNetwork(*import.network, *config);
        if (!plan) return;
        runtime = createRuntime(import.logger);
        engine = runtime->deserializeEngine(plan->data(), plan->size());
        if (engine) context = engine->createExecutionContext();
    }
    std::string lastError() const { return import.logger.errors.empty() ? "" : import.logger.errors.back(); }
};

HostTensor hostOf(const Tensor& t) {
    HostTensor h;
    h.dtype = t.dtype();
    h.dims.nbDims = static_cast<int32_t>(t.rank());
    for (int32_t i = 0; i < h.dims.nbDims; ++i) h.dims.d[i] = t.shape()[static_cast<size_t>(i)];
    h.data = t.data();
    return h;
}

Shape shapeOf(const HostTensor& h) { return Shape(h.dims.d, h.dims.d + h.dims.nbDims); }

std::vector<float> floatsOf(const HostTensor& h) {
    const auto* p = static_cast<const float*>(h.data);
    return std::vector<float>(p, p + shapeElementCount(shapeOf(h)));
}

std::vector<float> floatsOf(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.elementCount()); }

TEST(OnnxSequenceEngine, SplitToSequenceReturnsTheColumnBlocks) {
    onnx::ModelProto model = makeModel(18);
    auto* g = model.mutable_graph();
    addInput(g, "x", {4, 6});
    addInitializer(g, int64Tensor("split", {3}, {1, 2, 3}));
    auto* n = addNode(g, "SplitToSequence", {"x", "split"}, {"seq"});
    setInt(n, "axis", 1);
    setSequenceInfo(g->add_output(), "seq", onnx::TensorProto::FLOAT);
    SequenceEngine e(model);
    ASSERT_TRUE(e.context) << e.lastError();
    EXPECT_EQ(e.engine->getIOKind("seq"), IOKind::kSEQUENCE);
    EXPECT_EQ(e.engine->getIOKind("x"), IOKind::kTENSOR);
    EXPECT_EQ(e.engine->getTensorDataType("seq"), DataType::kFLOAT);

    Tensor x = randomTensor(DataType::kFLOAT, {4, 6}, -1, 1, 7);
    ASSERT_TRUE(e.context->setTensorAddress("x", x.data()));
    ASSERT_TRUE(e.context->execute()) << e.lastError();
    std::vector<HostTensor> parts;
    bool present = false;
    ASSERT_TRUE(e.context->getOutputValue("seq", parts, present));
    EXPECT_TRUE(present);
    ASSERT_EQ(parts.size(), 3u);
    const int64_t begins[] = {0, 1, 3}, widths[] = {1, 2, 3};
    for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(shapeOf(parts[k]), (Shape{4, widths[k]}));
        std::vector<float> expected;
        for (int64_t r = 0; r < 4; ++r)
            for (int64_t c = 0; c < widths[k]; ++c) expected.push_back(x.data<float>()[r * 6 + begins[k] + c]);
        EXPECT_EQ(floatsOf(parts[k]), expected) << "part " << k;
    }
}

/// seq -> SequenceInsert(t, pos) -> (SequenceAt(at), SequenceLength, ConcatFromSequence(new_axis)).
onnx::ModelProto insertAtConcatModel() {
    onnx::ModelProto model = makeModel(18);
    auto* g = model.mutable_graph();
    setSequenceInfo(g->add_input(), "seq", onnx::TensorProto::FLOAT);
    addInput(g, "t", {2, 3});
    addInput(g, "pos", {}, onnx::TensorProto::INT64);
    addInput(g, "at", {}, onnx::TensorProto::INT64);
    addNode(g, "SequenceInsert", {"seq", "t", "pos"}, {"inserted"});
    addNode(g, "SequenceAt", {"inserted", "at"}, {"element"});
    addNode(g, "SequenceLength", {"inserted"}, {"length"});
    onnx::NodeProto* concat = addNode(g, "ConcatFromSequence", {"inserted"}, {"stacked"});
    setInt(concat, "new_axis", 1);
    setInt(concat, "axis", 1);
    addOutput(g, "element", onnx::TensorProto::FLOAT);
    addOutput(g, "length", onnx::TensorProto::INT64);
    addOutput(g, "stacked", onnx::TensorProto::FLOAT);
    return model;
}

TEST(OnnxSequenceEngine, SequenceInputInsertAtLengthAndConcat) {
    SequenceEngine e(insertAtConcatModel());
    ASSERT_TRUE(e.context) << e.lastError();
    std::vector<Tensor> elements;
    for (uint32_t s = 0; s < 3; ++s) elements.push_back(randomTensor(DataType::kFLOAT, {2, 3}, -5, 5, 10 + s));
    std::vector<HostTensor> hosts;
    for (const Tensor& t : elements) hosts.push_back(hostOf(t));
    Tensor t = randomTensor(DataType::kFLOAT, {2, 3}, -5, 5, 99);
    int64_t pos = -1, at = 2;  // insert before the last element, then read what lands at index 2
    ASSERT_TRUE(e.context->setInputSequence("seq", hosts.data(), 3));
    ASSERT_TRUE(e.context->setTensorAddress("t", t.data()));
    ASSERT_TRUE(e.context->setTensorAddress("pos", &pos));
    ASSERT_TRUE(e.context->setTensorAddress("at", &at));
    HostOutputAllocator element, length, stacked;
    e.context->setOutputAllocator("element", &element);
    e.context->setOutputAllocator("length", &length);
    e.context->setOutputAllocator("stacked", &stacked);
    EXPECT_TRUE(e.context->hasDataDependentShape("stacked"));  // its length is the sequence's
    ASSERT_TRUE(e.context->execute()) << e.lastError();
    // The run reports its shapes, and the output stays sized by the next run.
    EXPECT_EQ(e.context->getTensorShape("stacked").nbDims, 3);
    EXPECT_TRUE(e.context->hasDataDependentShape("stacked"));
    EXPECT_FALSE(e.context->hasDataDependentShape("seq"));  // an input

    std::vector<Tensor> expected = {elements[0], elements[1], t, elements[2]};
    EXPECT_EQ(element.shape, (Shape{2, 3}));
    EXPECT_EQ(std::vector<float>(reinterpret_cast<float*>(element.storage.data()),
                                 reinterpret_cast<float*>(element.storage.data()) + 6),
              floatsOf(t));
    EXPECT_EQ(*reinterpret_cast<int64_t*>(length.storage.data()), 4);
    ASSERT_EQ(stacked.shape, (Shape{2, 4, 3}));
    const auto* s = reinterpret_cast<const float*>(stacked.storage.data());
    for (int64_t r = 0; r < 2; ++r)
        for (int64_t k = 0; k < 4; ++k)
            for (int64_t c = 0; c < 3; ++c)
                EXPECT_EQ(s[(r * 4 + k) * 3 + c], expected[static_cast<size_t>(k)].data<float>()[r * 3 + c]);
}

TEST(OnnxSequenceEngine, OutOfRangePositionAndWrongElementTypeAreErrors) {
    SequenceEngine e(insertAtConcatModel());
    ASSERT_TRUE(e.context) << e.lastError();
    Tensor one = randomTensor(DataType::kFLOAT, {2, 3}, -1, 1, 3);
    HostTensor host = hostOf(one);
    Tensor t = randomTensor(DataType::kFLOAT, {2, 3}, -1, 1, 4);
    int64_t pos = 0, at = 5;
    ASSERT_TRUE(e.context->setInputSequence("seq", &host, 1));
    e.context->setTensorAddress("t", t.data());
    e.context->setTensorAddress("pos", &pos);
    e.context->setTensorAddress("at", &at);
    HostOutputAllocator element, length, stacked;
    e.context->setOutputAllocator("element", &element);
    e.context->setOutputAllocator("length", &length);
    e.context->setOutputAllocator("stacked", &stacked);
    EXPECT_FALSE(e.context->execute());
    EXPECT_NE(e.lastError().find("position 5 is out of range for a sequence of 2 elements"), std::string::npos) << e.lastError();

    Tensor ints = Tensor::fromInt64({1, 2}, {2});
    HostTensor wrong = hostOf(ints);
    EXPECT_FALSE(e.context->setInputSequence("seq", &wrong, 1));
    EXPECT_NE(e.lastError().find("int64 tensor where float is expected"), std::string::npos) << e.lastError();
    EXPECT_FALSE(e.context->setTensorAddress("seq", one.data()));
}

TEST(OnnxSequenceEngine, OptionalInputPassesThroughAndEmptyOneIsRefusedByGetElement) {
    onnx::ModelProto model = makeModel(18);
    auto* g = model.mutable_graph();
    setOptionalTensorInfo(g->add_input(), "opt", onnx::TensorProto::FLOAT);
    addNode(g, "OptionalHasElement", {"opt"}, {"has"});
    addNode(g, "Identity", {"opt"}, {"same"});
    addNode(g, "OptionalGetElement", {"opt"}, {"value"});
    addOutput(g, "has", onnx::TensorProto::BOOL);
    setOptionalTensorInfo(g->add_output(), "same", onnx::TensorProto::FLOAT);
    addOutput(g, "value", onnx::TensorProto::FLOAT);
    SequenceEngine e(model);
    ASSERT_TRUE(e.context) << e.lastError();
    EXPECT_EQ(e.engine->getIOKind("opt"), IOKind::kOPTIONAL_TENSOR);

    Tensor x = randomTensor(DataType::kFLOAT, {3, 2}, -1, 1, 21);
    HostTensor host = hostOf(x);
    ASSERT_TRUE(e.context->setInputOptional("opt", &host));
    HostOutputAllocator has, value;
    e.context->setOutputAllocator("has", &has);
    e.context->setOutputAllocator("value", &value);
    ASSERT_TRUE(e.context->execute()) << e.lastError();
    EXPECT_EQ(has.storage[0], 1);
    EXPECT_EQ(value.shape, (Shape{3, 2}));
    EXPECT_EQ(std::vector<float>(reinterpret_cast<float*>(value.storage.data()),
                                 reinterpret_cast<float*>(value.storage.data()) + 6),
              floatsOf(x));
    std::vector<HostTensor> same;
    bool present = false;
    ASSERT_TRUE(e.context->getOutputValue("same", same, present));
    ASSERT_TRUE(present);
    ASSERT_EQ(same.size(), 1u);
    EXPECT_EQ(floatsOf(same[0]), floatsOf(x));

    ASSERT_TRUE(e.context->setInputOptional("opt", nullptr));
    EXPECT_FALSE(e.context->execute());
    EXPECT_NE(e.lastError().find("the optional is empty"), std::string::npos) << e.lastError();
}

TEST(OnnxSequenceEngine, EmptyOptionalOutputAndHasElement) {
    onnx::ModelProto model = makeModel(18);
    auto* g = model.mutable_graph();
    setSequenceInfo(g->add_input(), "opt", onnx::TensorProto::FLOAT, true);
    addNode(g, "OptionalHasElement", {"opt"}, {"has"});
    addNode(g, "Identity", {"opt"}, {"same"});
    addOutput(g, "has", onnx::TensorProto::BOOL);
    setSequenceInfo(g->add_output(), "same", onnx::TensorProto::FLOAT, true);
    SequenceEngine e(model);
    ASSERT_TRUE(e.context) << e.lastError();
    EXPECT_EQ(e.engine->getIOKind("same"), IOKind::kOPTIONAL_SEQUENCE);
    ASSERT_TRUE(e.context->setInputOptional("opt", nullptr));
    HostOutputAllocator has;
    e.context->setOutputAllocator("has", &has);
    ASSERT_TRUE(e.context->execute()) << e.lastError();
    EXPECT_EQ(has.storage[0], 0);
    std::vector<HostTensor> tensors;
    bool present = true;
    ASSERT_TRUE(e.context->getOutputValue("same", tensors, present));
    EXPECT_FALSE(present);
    EXPECT_TRUE(tensors.empty());
}

TEST(OnnxSequenceEngine, SequenceMapAddsATensorToEveryElement) {
    onnx::ModelProto model = makeModel(18);
    auto* g = model.mutable_graph();
    setSequenceInfo(g->add_input(), "seq", onnx::TensorProto::FLOAT);
    addInput(g, "bias", {3});
    onnx::NodeProto* map = addNode(g, "SequenceMap", {"seq", "bias"}, {"out"});
    onnx::AttributeProto* body = map->add_attribute();
    body->set_name("body");
    body->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* b = body->mutable_g();
    b->set_name("add_body");
    addInput(b, "element", {D(), 3});
    addInput(b, "b", {3});
    addNode(b, "Add", {"element", "b"}, {"sum"});
    addOutput(b, "sum", onnx::TensorProto::FLOAT);
    setSequenceInfo(g->add_output(), "out", onnx::TensorProto::FLOAT);
    SequenceEngine e(model);
    ASSERT_TRUE(e.context) << e.lastError();

    // Elements of different lengths: the body runs at each one's own shape.
    std::vector<Tensor> elements = {randomTensor(DataType::kFLOAT, {1, 3}, -1, 1, 31),
                                    randomTensor(DataType::kFLOAT, {4, 3}, -1, 1, 32)};
    std::vector<HostTensor> hosts = {hostOf(elements[0]), hostOf(elements[1])};
    Tensor bias = randomTensor(DataType::kFLOAT, {3}, -1, 1, 33);
    ASSERT_TRUE(e.context->setInputSequence("seq", hosts.data(), 2));
    ASSERT_TRUE(e.context->setTensorAddress("bias", bias.data()));
    ASSERT_TRUE(e.context->execute()) << e.lastError();
    std::vector<HostTensor> out;
    bool present = false;
    ASSERT_TRUE(e.context->getOutputValue("out", out, present));
    ASSERT_EQ(out.size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
        ASSERT_EQ(shapeOf(out[k]), elements[k].shape());
        std::vector<float> expected = floatsOf(elements[k]);
        for (size_t i = 0; i < expected.size(); ++i) expected[i] += bias.data<float>()[i % 3];
        EXPECT_EQ(floatsOf(out[k]), expected) << "element " << k;
    }
}

}  // namespace
}  // namespace kiln::test
