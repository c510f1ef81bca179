// Round trips through the engine file: everything the plan holds comes back, constants aligned.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "backends/code_generation.h"
#include "engine/plan_serializer.h"
#include "ir/ops/layout_attributes.h"
#include "ir/shape_inference.h"
#include "kiln/builder.h"
#include "plan_test_util.h"

namespace kiln::test {
namespace {

// The low-bit types are stored one element per byte; their constants' bytes are random codes.
constexpr DataType kAllTypes[] = {
    DataType::kFLOAT,   DataType::kHALF,        DataType::kBF16,    DataType::kDOUBLE,    DataType::kINT8,
    DataType::kUINT8,   DataType::kINT16,       DataType::kUINT16,  DataType::kINT32,     DataType::kUINT32,
    DataType::kINT64,   DataType::kUINT64,      DataType::kBOOL,    DataType::kFP8E4M3FN, DataType::kFP8E4M3FNUZ,
    DataType::kFP8E5M2, DataType::kFP8E5M2FNUZ, DataType::kFP8E8M0, DataType::kINT4,      DataType::kUINT4,
    DataType::kINT2,    DataType::kUINT2,       DataType::kFP4E2M1};

// A body graph for If/Loop-style attributes; it reads `outer` from the enclosing scope by name.
std::shared_ptr<Graph> makeSubgraph(const std::string& name, const std::string& outer, uint32_t seed, int nestDepth) {
    auto g = std::make_shared<Graph>();
    g->name = name;
    Value* in = g->addInput(name + "_in", DataType::kFLOAT, {Dim::named("n")});
    Value* outerValue = g->addValue(outer, DataType::kFLOAT);
    Value* c = g->addConstant(name + "_c", randomTensor(DataType::kFLOAT, {3}, -1, 1, seed));
    Node* n = g->addNode("Mul", name + "_mul", {in, outerValue, c}, {name + "_out"});
    if (nestDepth > 0) n->attrs.set("body", makeSubgraph(name + "_inner", name + "_in", seed + 1, nestDepth - 1));
    g->markOutput(n->outputs[0]);
    return g;
}

// A plan exercising every part of the format: all dtypes, symbolic/unknown dims, rank 0 and empty
// constants, shared storage, omitted inputs and outputs, every attribute kind, nested graphs,
// a gap in the node ids, profiles, layers and memory.
EnginePlan makeRichPlan() {
    EnginePlan plan;
    plan.backend = "cpu";
    plan.target = "x86_64 test target (avx2, 8 threads)";
    plan.graph = std::make_unique<Graph>();
    Graph& g = *plan.graph;
    g.name = "main";
    // A value created before the inputs, so that file order (inputs first) differs from id order.
    Value* early = g.addConstant("early", randomTensor(DataType::kINT64, {2}, -100, 100, 1));
    Value* x = g.addInput("x", DataType::kFLOAT, {Dim::named("batch"), 3, Dim::unknown(), 5});
    Value* mask = g.addInput("mask", DataType::kBOOL, {Dim::named("batch")});
    std::vector<Value*> constants;
    uint32_t seed = 10;
    for (DataType t : kAllTypes) {
        // Odd sizes, so that every constant after the first needs alignment padding.
        Tensor tensor = randomTensor(t, {3, static_cast<int64_t>(seed % 5 + 1)}, randomLow(t), 50, seed);
        constants.push_back(g.addConstant(std::string("c_") + dataTypeName(t), std::move(tensor)));
        ++seed;
    }
    Value* scalar = g.addConstant("scalar", randomTensor(DataType::kDOUBLE, {}, -1, 1, 99));
    Value* empty = g.addConstant("empty", Tensor::allocate(DataType::kFLOAT, {0, 4}));
    Value* shared =
        g.addConstant("shared_view", constants[0]->constant->reshaped({constants[0]->constant->elementCount()}));

    Node* removed = g.addNode("Identity", "to_remove", {x}, {"removed_out"});
    Node* conv = g.addNode("FusedConv", "conv", {x, constants[0], nullptr, constants[3]}, {"y", "", "z"});
    conv->domain = "com.kiln";
    conv->sourceNodes = {"Conv_1", "Relu_2"};
    conv->outputs[0]->dtype = DataType::kFLOAT;
    conv->outputs[0]->shape = {Dim::named("batch"), 8, Dim::unknown(), 5};
    conv->outputs[0]->typeKnown = true;
    // An omitted optional output: the slot is empty and its value dropped.
    conv->outputs[1]->producer = nullptr;
    conv->outputs[1] = nullptr;
    AttributeMap& a = conv->attrs;
    a.set("int", int64_t{-1234567890123});
    a.set("float", 0.1f);
    a.set("nan", std::numeric_limits<float>::quiet_NaN());
    a.set("string", std::string("SAME_UPPER"));
    a.set("empty_string", std::string());
    a.set("ints", std::vector<int64_t>{1, -2, 3, std::numeric_limits<int64_t>::min()});
    a.set("empty_ints", std::vector<int64_t>{});
    a.set("floats", std::vector<float>{1.5f, -0.0f, std::numeric_limits<float>::infinity()});
    a.set("strings", std::vector<std::string>{"a", "", "longer string"});
    a.set("tensor", randomTensor(DataType::kHALF, {2, 3}, -2, 2, 50));
    a.set("shared_tensor", *constants[1]->constant);
    a.set("then_branch", makeSubgraph("then", "x", 60, 2));
    a.set("branches",
          std::vector<std::shared_ptr<Graph>>{makeSubgraph("b0", "x", 70, 0), makeSubgraph("b1", "y", 80, 1)});

    std::vector<Value*> rest = {mask, early, scalar, empty, shared};
    rest.insert(rest.end(), constants.begin() + 1, constants.end());
    Node* sink = g.addNode("Sink", "", rest, {}, 2);
    g.removeNodes([&](const Node& n) { return &n == removed; });
    g.removeUnusedValues();
    g.markOutput(conv->outputs[0]);
    g.markOutput(conv->outputs[2]);
    g.markOutput(sink->outputs[1]);
    g.markOutput(x);  // a pass-through output

    ProfileShapes p0, p1;
    p0.inputs["x"] = {Shape{1, 3, 8, 5}, Shape{4, 3, 16, 5}, Shape{8, 3, 32, 5}};
    p0.inputs["mask"] = {Shape{1}, Shape{4}, Shape{8}};
    p1.inputs["x"] = {Shape{16, 3, 8, 5}, Shape{16, 3, 8, 5}, Shape{64, 3, 64, 5}};
    plan.profiles = {p0, p1};
    plan.layers[conv->id] = {"cpu.conv2d_im2col_sgemm", DataType::kHALF};
    plan.layers[sink->id] = {"", DataType::kINT64};
    plan.activationBytesPerProfile = {123456789, 0};
    return plan;
}

Expected<EnginePlan> roundTrip(const EnginePlan& plan) {
    // The file buffer dies before the plan is used: the loaded plan must own everything it needs.
    auto bytes = serializePlan(plan);
    if (!bytes) return bytes.status();
    return deserializePlan(bytes->data(), bytes->size());
}

void forEachTensor(const Graph& g, const std::function<void(const std::string&, const Tensor&)>& fn) {
    for (const auto& v : g.values())
        if (v && v->isConstant()) fn(g.name + "/" + v->name, *v->constant);
    for (const auto& n : g.nodes()) {
        for (const auto& [name, value] : n->attrs.all()) {
            if (const auto* t = std::get_if<Tensor>(&value)) fn(n->name + "." + name, *t);
            if (const auto* sub = std::get_if<std::shared_ptr<Graph>>(&value)) forEachTensor(**sub, fn);
            if (const auto* subs = std::get_if<std::vector<std::shared_ptr<Graph>>>(&value))
                for (const auto& s : *subs) forEachTensor(*s, fn);
        }
    }
}

TEST(PlanRoundTrip, RichPlanComesBackIdentical) {
    EnginePlan original = makeRichPlan();
    auto loaded = roundTrip(original);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    EXPECT_EQ(diffPlans(original, loaded.value()), "");
}

TEST(PlanRoundTrip, DiffDetectsChanges) {
    // The comparison itself must be able to fail, or the round-trip test proves nothing.
    EnginePlan a = makeRichPlan();
    auto b = roundTrip(a);
    ASSERT_TRUE(b.isOk()) << b.status().message();
    Graph& g = *b->graph;
    g.findValue("c_int16")->constant->data<int16_t>()[2] ^= 1;
    EXPECT_NE(diffPlans(a, b.value()), "");
    g.findValue("c_int16")->constant->data<int16_t>()[2] ^= 1;
    ASSERT_EQ(diffPlans(a, b.value()), "");
    g.findNode("conv")->attrs.set("float", 0.2f);
    EXPECT_NE(diffPlans(a, b.value()), "");
}

TEST(PlanRoundTrip, ConstantsAreAlignedAndShareStorageAsBefore) {
    EnginePlan original = makeRichPlan();
    auto loaded = roundTrip(original);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    size_t count = 0;
    forEachTensor(*loaded->graph, [&](const std::string& name, const Tensor& t) {
        ++count;
        ASSERT_NE(t.data(), nullptr) << name;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u) << name;
    });
    EXPECT_GT(count, std::size(kAllTypes) + 4);
    const Graph& g = *loaded->graph;
    EXPECT_EQ(g.findValue("shared_view")->constant->data(), g.findValue("c_float")->constant->data());
    EXPECT_EQ(g.findNode("conv")->attrs.getTensor("shared_tensor")->data(), g.findValue("c_float16")->constant->data());
    EXPECT_NE(g.findValue("c_float")->constant->data(), g.findValue("c_double")->constant->data());
    // The loaded tensors are a copy, not views of the builder's memory.
    EXPECT_NE(g.findValue("c_float")->constant->data(), original.graph->findValue("c_float")->constant->data());
}

TEST(PlanRoundTrip, LoadedGraphIsWellFormed) {
    auto loaded = roundTrip(makeRichPlan());
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    const Graph& g = *loaded->graph;
    for (size_t i = 0; i < g.values().size(); ++i) {
        ASSERT_TRUE(g.values()[i]);
        EXPECT_EQ(g.values()[i]->id, static_cast<int32_t>(i));
    }
    for (const auto& n : g.nodes())
        for (size_t i = 0; i < n->outputs.size(); ++i) {
            if (!n->outputs[i]) continue;
            EXPECT_EQ(n->outputs[i]->producer, n.get());
            EXPECT_EQ(n->outputs[i]->producerOutput, static_cast<int32_t>(i));
        }
    const Node* conv = g.findNode("conv");
    ASSERT_NE(conv, nullptr);
    EXPECT_EQ(conv->inputs.size(), 4u);
    EXPECT_EQ(conv->inputs[2], nullptr);
    EXPECT_EQ(conv->outputs[1], nullptr);
    EXPECT_TRUE(std::isnan(*conv->attrs.getFloat("nan")));
    EXPECT_EQ(g.inputs()[0]->name, "x");
    EXPECT_EQ(g.inputs()[1]->name, "mask");
    EXPECT_EQ(g.inputs()[0]->shape[0].symbol, "batch");
    EXPECT_FALSE(g.inputs()[0]->shape[2].isKnown());
    EXPECT_TRUE(g.findValue("scalar")->constant->shape().empty());
    EXPECT_EQ(g.findValue("empty")->constant->elementCount(), 0);
    // Node ids survive (the layers refer to them), gap included.
    EXPECT_EQ(conv->id, 1);
}

TEST(PlanRoundTrip, StringAttributesAreBinarySafe) {
    // Generated kernel code (a CUBIN, backends/code_generation.h) travels as a string attribute: every
    // byte value, embedded NULs and a trailing NUL included, must come back.
    EnginePlan plan = makeSmallPlan(DataType::kFLOAT);
    std::string bytes;
    for (int repeat = 0; repeat < 3; ++repeat)
        for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>((b * 37 + repeat) & 0xff));
    bytes += std::string("\0\0ELF\0", 7);
    ASSERT_FALSE(plan.graph->nodes().empty());
    Node& node = *plan.graph->nodes().front();
    node.attrs.set(kGeneratedCodeAttribute, bytes);
    auto loaded = roundTrip(plan);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    EXPECT_EQ(diffPlans(plan, loaded.value()), "");
    auto back = loaded->graph->findNode(node.name)->attrs.getString(kGeneratedCodeAttribute);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->size(), bytes.size());
    EXPECT_TRUE(*back == bytes);
}

TEST(PlanRoundTrip, StemReadingTheNchwImageKeepsItsForm) {
    // A float16 FusedConv reading the float NCHW image itself (ir/ops/layout_attributes.h): its layout
    // attributes, its float X and its float16 weights and output come back, and the loaded graph infers.
    EnginePlan plan;
    plan.backend = "cuda";
    plan.target = "test-gpu";
    plan.graph = std::make_unique<Graph>();
    Graph& g = *plan.graph;
    g.name = "stem";
    Value* x = g.addInput("x", DataType::kFLOAT, fromConcrete({2, 3, 9, 9}));
    Value* w = g.addConstant("w", randomTensor(DataType::kHALF, {8, 3, 3, 3}, -1, 1, 11));
    Node* conv = g.addNode("FusedConv", "stem", {x, w}, {"y"});
    conv->domain = "kiln";
    conv->attrs.set(kChannelsLastAttribute, int64_t{1});
    conv->attrs.set(kInputChannelsFirstAttribute, int64_t{1});
    conv->attrs.set("activation", std::string("Relu"));
    g.markOutput(conv->outputs[0]);
    ASSERT_TRUE(inferGraphShapes(g, ShapeInferenceOptions{}).isOk());
    ProfileShapes profile;
    profile.inputs["x"] = {Shape{2, 3, 9, 9}, Shape{2, 3, 9, 9}, Shape{2, 3, 9, 9}};
    plan.profiles.push_back(profile);
    plan.layers[conv->id] = {"cuda.conv_nchw_in_nhwc_out_f16_from_f32", DataType::kHALF};
    plan.activationBytesPerProfile = {2 * 7 * 7 * 8 * 2};
    auto loaded = roundTrip(plan);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    EXPECT_EQ(diffPlans(plan, loaded.value()), "");
    const Node* back = loaded->graph->findNode("stem");
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(back->attrs.getInt(kChannelsLastAttribute, 0), 1);
    EXPECT_EQ(back->attrs.getInt(kInputChannelsFirstAttribute, 0), 1);
    EXPECT_EQ(back->input(0)->dtype, DataType::kFLOAT);
    EXPECT_TRUE(inferGraphShapes(*loaded->graph, ShapeInferenceOptions{}).isOk());
    EXPECT_EQ(back->outputs[0]->dtype, DataType::kHALF);
    EXPECT_EQ(symShapeToString(back->outputs[0]->shape), symShapeToString(fromConcrete({2, 7, 7, 8})));
}

TEST(PlanRoundTrip, EveryConstantTypeAlone) {
    for (DataType t : kAllTypes) {
        EnginePlan plan = makeSmallPlan(t);
        auto loaded = roundTrip(plan);
        ASSERT_TRUE(loaded.isOk()) << dataTypeName(t) << ": " << loaded.status().message();
        EXPECT_EQ(diffPlans(plan, loaded.value()), "") << dataTypeName(t);
    }
}

TEST(PlanRoundTrip, LowBitInputsAndOutputsKeepTheirTypes) {
    EnginePlan plan;
    plan.backend = "cpu";
    plan.target = "test-cpu";
    plan.graph = std::make_unique<Graph>();
    Graph& g = *plan.graph;
    g.name = "low_bit";
    Value* x = g.addInput("x", DataType::kINT4, {Dim::named("n")});
    Node* cast = g.addNode("Cast", "to_fp8", {x}, {"y"});
    cast->attrs.set("to", int64_t{17});
    cast->outputs[0]->dtype = DataType::kFP8E4M3FN;
    cast->outputs[0]->shape = {Dim::named("n")};
    cast->outputs[0]->typeKnown = true;
    g.markOutput(cast->outputs[0]);
    plan.layers[cast->id] = {"cpu.cast_i4_to_f8e4m3fn", DataType::kFP8E4M3FN};
    auto loaded = roundTrip(plan);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    EXPECT_EQ(diffPlans(plan, loaded.value()), "");
    EXPECT_EQ(loaded.value().graph->inputs()[0]->dtype, DataType::kINT4);
    EXPECT_EQ(loaded.value().graph->outputs()[0]->dtype, DataType::kFP8E4M3FN);
}

TEST(PlanRoundTrip, ReserializingIsByteIdentical) {
    auto first = serializePlan(makeRichPlan());
    ASSERT_TRUE(first.isOk()) << first.status().message();
    auto loaded = deserializePlan(first->data(), first->size());
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    auto second = serializePlan(loaded.value());
    ASSERT_TRUE(second.isOk()) << second.status().message();
    EXPECT_TRUE(first.value() == second.value());
}

TEST(PlanRoundTrip, EmptyPlanParts) {
    EnginePlan plan;
    plan.graph = std::make_unique<Graph>();
    auto loaded = roundTrip(plan);
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    EXPECT_EQ(diffPlans(plan, loaded.value()), "");
}

TEST(PlanRoundTrip, HeaderIsReadableAlone) {
    EnginePlan plan = makeRichPlan();
    auto bytes = serializePlan(plan);
    ASSERT_TRUE(bytes.isOk());
    auto header = readPlanHeader(bytes->data(), bytes->size());
    ASSERT_TRUE(header.isOk()) << header.status().message();
    EXPECT_EQ(header->formatVersion, kPlanFormatVersion);
    EXPECT_EQ(header->kilnVersion, getVersion());
    EXPECT_EQ(header->backend, plan.backend);
    EXPECT_EQ(header->target, plan.target);
    EXPECT_EQ(header->fileBytes, bytes->size());
    uint32_t headerBytes = 0;
    std::memcpy(&headerBytes, bytes->data() + kPlanHeaderSizeOffset, 4);
    // The header alone is enough: `kiln inspect` need not read the weights.
    auto prefix = readPlanHeader(bytes->data(), headerBytes);
    ASSERT_TRUE(prefix.isOk()) << prefix.status().message();
    EXPECT_EQ(prefix->fileBytes, bytes->size());
    // The payload starts 64-aligned in the file, and so does the weights section.
    EXPECT_EQ((header->fileBytes - header->payloadBytes) % 64, 0u);
    EXPECT_EQ(findSection(bytes.value(), PlanSectionId::kWeights).offset % 64, 0u);
}

TEST(PlanRoundTrip, NestingLimit) {
    auto nested = [](int levels) {
        EnginePlan plan = makeSmallPlan();
        plan.graph->nodes()[0]->attrs.set("body", makeSubgraph("s", "x", 1, levels - 1));
        return plan;
    };
    auto ok = roundTrip(nested(kMaxGraphNesting));
    EXPECT_TRUE(ok.isOk()) << ok.status().message();
    auto tooDeep = serializePlan(nested(kMaxGraphNesting + 1));
    ASSERT_FALSE(tooDeep.isOk());
    EXPECT_NE(tooDeep.status().message().find("nest deeper"), std::string::npos) << tooDeep.status().message();
}

TEST(PlanRoundTrip, SerializerRefusesInconsistentPlans) {
    EnginePlan noGraph;
    EXPECT_FALSE(serializePlan(noGraph).isOk());

    EnginePlan badLayer = makeSmallPlan();
    badLayer.layers[42] = {"cpu.nothing", DataType::kFLOAT};
    auto r1 = serializePlan(badLayer);
    ASSERT_FALSE(r1.isOk());
    EXPECT_NE(r1.status().message().find("node 42"), std::string::npos) << r1.status().message();

    EnginePlan foreign = makeSmallPlan();
    Graph other;
    Value* stranger = other.addValue("stranger");
    foreign.graph->nodes()[0]->inputs.push_back(stranger);
    auto r2 = serializePlan(foreign);
    ASSERT_FALSE(r2.isOk());
    EXPECT_NE(r2.status().message().find("stranger"), std::string::npos) << r2.status().message();
}

}  // namespace
}  // namespace kiln::test
