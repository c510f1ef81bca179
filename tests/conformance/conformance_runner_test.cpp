// Unit tests of the conformance runner's own parts: the isolation of crashing and hanging cases,
// the ONNX-style output comparison, the test-data loading, the deny-list, tolerance table and ratchet files.

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "deny_list.h"
#include "isolated_scheduler.h"
#include "onnx.pb.h"
#include "output_comparison.h"
#include "ratchet.h"
#include "test_data_loading.h"
#include "test_support.h"
#include "tolerance_table.h"

namespace kiln::conformance {
namespace {

CaseSpec caseNamed(const std::string& set, const std::string& name) {
    CaseSpec spec;
    spec.setName = set;
    spec.name = name;
    return spec;
}

std::string writeTempFile(const std::string& name, const std::string& text) {
    const std::string path = (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
    std::ofstream(path) << text;
    return path;
}

TEST(IsolatedScheduler, RecordsCrashesAndTimeoutsAndKeepsRunning) {
    std::vector<CaseSpec> cases = {caseNamed("s", "passes"), caseNamed("s", "segfaults"), caseNamed("s", "aborts"),
                                   caseNamed("s", "hangs"), caseNamed("s", "errs")};
    IsolationSettings settings;
    settings.jobs = 2;
    settings.timeoutSeconds = 1.0;
    std::map<std::string, CaseResult> results;
    runIsolated(
        cases, settings,
        [](const CaseSpec& spec) {
            if (spec.name == "segfaults") std::raise(SIGSEGV);
            if (spec.name == "aborts") {
                std::fprintf(stderr, "about to abort\n");
                std::abort();
            }
            if (spec.name == "hangs") ::sleep(30);
            if (spec.name == "errs") return CaseResult{Outcome::kError, "import: no such op", "Foo", 0.0};
            return CaseResult{Outcome::kPass, "", "", 0.0};
        },
        [&](size_t index, const CaseResult& result) { results[cases[index].name] = result; });
    ASSERT_EQ(results.size(), cases.size());
    EXPECT_EQ(results["passes"].outcome, Outcome::kPass);
    EXPECT_EQ(results["segfaults"].outcome, Outcome::kCrash);
    EXPECT_NE(results["segfaults"].message.find("signal 11"), std::string::npos) << results["segfaults"].message;
    EXPECT_EQ(results["aborts"].outcome, Outcome::kCrash);
    EXPECT_NE(results["aborts"].message.find("about to abort"), std::string::npos) << results["aborts"].message;
    EXPECT_EQ(results["hangs"].outcome, Outcome::kTimeout);
    EXPECT_EQ(results["errs"].outcome, Outcome::kError);
    EXPECT_EQ(results["errs"].message, "import: no such op");
    EXPECT_EQ(results["errs"].failingOp, "Foo");
}

TEST(OutputComparison, FollowsAssertAllcloseOnRandomData) {
    const Tolerance tolerance;  // rtol 1e-3, atol 1e-7
    Tensor expected = test::randomTensor(DataType::kFLOAT, {3, 5}, -4.0, 4.0, 7);
    Tensor inside = expected.clone();
    Tensor outside = expected.clone();
    const int64_t victim = 11;
    const float e = expected.data<float>()[victim];
    inside.data<float>()[victim] = e + 0.5f * static_cast<float>(1e-3 * std::fabs(e));
    outside.data<float>()[victim] = e + 3.0f * static_cast<float>(1e-3 * std::fabs(e)) + 1e-6f;
    EXPECT_FALSE(compareOutput("y", inside, expected, tolerance).has_value());
    auto mismatch = compareOutput("y", outside, expected, tolerance);
    ASSERT_TRUE(mismatch.has_value());
    EXPECT_NE(mismatch->find("1 of 15 elements differ"), std::string::npos) << *mismatch;
    EXPECT_NE(mismatch->find("flat index 11"), std::string::npos) << *mismatch;
}

TEST(OutputComparison, NaNMatchesOnlyNaNAndShapeAndTypeMustMatch) {
    const Tolerance tolerance;
    Tensor expected = test::randomTensor(DataType::kFLOAT, {4}, -1.0, 1.0, 3);
    expected.data<float>()[2] = NAN;
    Tensor actual = expected.clone();
    EXPECT_FALSE(compareOutput("y", actual, expected, tolerance).has_value());
    actual.data<float>()[2] = 0.f;
    EXPECT_TRUE(compareOutput("y", actual, expected, tolerance).has_value());
    EXPECT_TRUE(compareOutput("y", expected.reshaped({2, 2}), expected, tolerance).has_value());
    Tensor asDouble = test::randomTensor(DataType::kDOUBLE, {4}, -1.0, 1.0, 3);
    auto typeMismatch = compareOutput("y", asDouble, expected, tolerance);
    ASSERT_TRUE(typeMismatch.has_value());
    EXPECT_NE(typeMismatch->find("double"), std::string::npos) << *typeMismatch;
}

TEST(TestDataLoading, Uint16DataOfABFloat16PortIsReadAsItsBitPatterns) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("kiln_bf16_case_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "test_data_set_0");
    onnx::ModelProto model;
    for (const auto& [name, type] :
         {std::pair<const char*, int>{"x", onnx::TensorProto::BFLOAT16}, {"y", onnx::TensorProto::UINT16}}) {
        onnx::ValueInfoProto* in = model.mutable_graph()->add_input();
        in->set_name(name);
        in->mutable_type()->mutable_tensor_type()->set_elem_type(type);
    }
    std::ofstream(dir / "model.onnx", std::ios::binary) << model.SerializeAsString();
    // 0x3FC0 is bfloat16 1.5 and 0xC020 is -2.5; as uint16 they are 16320 and 49184.
    const std::vector<uint16_t> bits = {0x3FC0, 0xC020};
    for (const char* file : {"input_0.pb", "input_1.pb"}) {
        onnx::TensorProto t;
        t.set_data_type(onnx::TensorProto::UINT16);
        t.add_dims(2);
        for (uint16_t b : bits) t.add_int32_data(b);
        std::ofstream(dir / "test_data_set_0" / file, std::ios::binary) << t.SerializeAsString();
    }
    Expected<GraphPorts> ports = readGraphPorts((dir / "model.onnx").string());
    ASSERT_TRUE(ports) << ports.status().message();
    Expected<DataSet> data = loadDataSet((dir / "test_data_set_0").string(), *ports);
    ASSERT_TRUE(data) << data.status().message();
    ASSERT_EQ(data->inputs.size(), 2u);
    const Tensor& bf16 = data->inputs[0].tensor;
    EXPECT_EQ(bf16.dtype(), DataType::kBF16);
    EXPECT_EQ(bf16.elementAsDouble(0), 1.5);
    EXPECT_EQ(bf16.elementAsDouble(1), -2.5);
    // A port declared uint16 keeps its integers.
    EXPECT_EQ(data->inputs[1].tensor.dtype(), DataType::kUINT16);
    EXPECT_EQ(data->inputs[1].tensor.elementAsDouble(0), 16320.0);
    std::filesystem::remove_all(dir);
}

TEST(DenyList, MatchesWholeNamesOrSetQualifiedNames) {
    const std::string path = writeTempFile("deny", "# comment\n"
                                                   "training test_adam.* optimizer\n"
                                                   "gap node-1.12/test_cast_x old data\n"
                                                   "gap test_topk TopK missing\n");
    auto list = DenyList::load(path);
    ASSERT_TRUE(list) << list.status().message();
    const DenyEntry* adam = list->match(caseNamed("node", "test_adam_multiple"));
    ASSERT_NE(adam, nullptr);
    EXPECT_EQ(adam->kind, DenyKind::kTraining);
    EXPECT_NE(list->match(caseNamed("node-1.12", "test_cast_x")), nullptr);
    EXPECT_EQ(list->match(caseNamed("node", "test_cast_x")), nullptr);
    // A bare pattern matches the whole name only.
    EXPECT_EQ(list->match(caseNamed("node", "test_topk_negative")), nullptr);
    const DenyEntry* topk = list->match(caseNamed("node", "test_topk"));
    ASSERT_NE(topk, nullptr);
    EXPECT_EQ(topk->reason, "TopK missing");
    std::filesystem::remove(path);
}

TEST(DenyList, RejectsEntriesWithoutAReasonOrWithAnUnknownKind) {
    const std::string noReason = writeTempFile("deny_noreason", "gap test_topk\n");
    auto list = DenyList::load(noReason);
    ASSERT_FALSE(list);
    EXPECT_NE(list.status().message().find(":1:"), std::string::npos) << list.status().message();
    const std::string badKind = writeTempFile("deny_badkind", "maybe test_topk because\n");
    EXPECT_FALSE(DenyList::load(badKind));
    std::filesystem::remove(noReason);
    std::filesystem::remove(badKind);
}

TEST(ToleranceTable, FirstMatchingEntryWins) {
    const std::string path = writeTempFile("tol", "test_a_.* 1e-2 1e-5 bf16 reference\ntest_.* 5e-3 0 wide\n");
    auto table = ToleranceTable::load(path);
    ASSERT_TRUE(table) << table.status().message();
    const Tolerance fallback;
    EXPECT_DOUBLE_EQ(table->lookup(caseNamed("node", "test_a_b"), fallback).rtol, 1e-2);
    EXPECT_DOUBLE_EQ(table->lookup(caseNamed("node", "test_b"), fallback).rtol, 5e-3);
    EXPECT_DOUBLE_EQ(table->lookup(caseNamed("node", "other"), fallback).rtol, fallback.rtol);
    std::filesystem::remove(path);
}

TEST(Ratchet, ReadsMinimumsAndRejectsBadLines) {
    const std::string good = writeTempFile("ratchet", "# minimums\nnode 954\nsimple 3\n");
    auto minimums = loadRatchet(good);
    ASSERT_TRUE(minimums) << minimums.status().message();
    EXPECT_EQ(minimums->at("node"), 954);
    EXPECT_EQ(minimums->at("simple"), 3);
    const std::string bad = writeTempFile("ratchet_bad", "node many\n");
    EXPECT_FALSE(loadRatchet(bad));
    std::filesystem::remove(good);
    std::filesystem::remove(bad);
}

}  // namespace
}  // namespace kiln::conformance
