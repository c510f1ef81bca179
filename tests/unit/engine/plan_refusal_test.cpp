// Engine files that must be refused, each with a message saying what was expected and found; and
// hostile files (bytes changed with the checksum recomputed) that must never crash the reader.

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "engine/plan_checksum.h"
#include "engine/plan_serializer.h"
#include "kiln/builder.h"
#include "plan_test_util.h"

namespace kiln::test {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes serialized(const EnginePlan& plan) {
    auto bytes = serializePlan(plan);
    EXPECT_TRUE(bytes.isOk()) << bytes.status().message();
    return bytes.isOk() ? std::move(bytes).value() : Bytes{};
}

// The error message of loading `bytes`, or "" when it loads.
std::string loadError(const Bytes& bytes, size_t size) {
    auto plan = deserializePlan(bytes.data(), size);
    if (plan.isOk()) return "";
    EXPECT_EQ(plan.status().code(), StatusCode::kInvalidEngine) << plan.status().message();
    return plan.status().message();
}
std::string loadError(const Bytes& bytes) {
    return loadError(bytes, bytes.size());
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << "message: " << (text)

template <typename T>
void store(Bytes& bytes, size_t at, T v) {
    std::memcpy(bytes.data() + at, &v, sizeof(v));
}
template <typename T>
T load(const Bytes& bytes, size_t at) {
    T v;
    std::memcpy(&v, bytes.data() + at, sizeof(v));
    return v;
}

size_t payloadOffset(const Bytes& bytes) {
    return static_cast<size_t>(load<uint64_t>(bytes, kPlanPayloadOffsetOffset));
}

// Makes a modified file look intact: what is left to catch the damage is the structural checks.
void fixChecksum(Bytes& bytes) {
    size_t at = payloadOffset(bytes);
    store<uint64_t>(bytes, kPlanChecksumOffset, planChecksum(bytes.data() + at, bytes.size() - at));
}

TEST(PlanRefusal, EmptyAndTiny) {
    auto none = deserializePlan(nullptr, 0);
    ASSERT_FALSE(none.isOk());
    EXPECT_CONTAINS(none.status().message(), "empty");
    Bytes abc = {'a', 'b', 'c'};
    std::string m = loadError(abc);
    EXPECT_CONTAINS(m, "not a Kiln engine: expected magic 'KILNPLAN', found 'abc'");
    Bytes kil = {'K', 'I', 'L'};
    EXPECT_CONTAINS(loadError(kil), "engine is truncated");
    EXPECT_CONTAINS(loadError(abc, 0), "empty");
}

TEST(PlanRefusal, WrongMagic) {
    Bytes gguf = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    std::string m = loadError(gguf);
    EXPECT_CONTAINS(m, "expected magic 'KILNPLAN', found 'GGUF\\x03\\x00\\x00\\x00'");
    EXPECT_EQ(m.find("ONNX"), std::string::npos) << m;
    auto header = readPlanHeader(gguf.data(), gguf.size());
    ASSERT_FALSE(header.isOk());
    EXPECT_CONTAINS(header.status().message(), "KILNPLAN");
}

TEST(PlanRefusal, OnnxModelIsRecognized) {
    // ModelProto: ir_version = 8 (field 1), producer_name = "pytorch" (field 2), then a graph.
    Bytes onnx = {0x08, 0x08, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h', 0x3a, 0x02, 0x0a, 0x00};
    std::string m = loadError(onnx);
    EXPECT_CONTAINS(m, "not a Kiln engine");
    EXPECT_CONTAINS(m, "ONNX");
    EXPECT_CONTAINS(m, "--onnx");
}

TEST(PlanRefusal, EveryTruncationIsAnError) {
    Bytes bytes = serialized(makeSmallPlan());
    ASSERT_FALSE(bytes.empty());
    for (size_t n = 0; n < bytes.size(); ++n) {
        // A copy of exactly n bytes, so that a read past the end is a sanitizer error, not luck.
        Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        std::string m = loadError(prefix);
        ASSERT_FALSE(m.empty()) << "a " << n << "-byte prefix loaded";
        if (n == 0)
            EXPECT_CONTAINS(m, "empty");
        else
            EXPECT_CONTAINS(m, "truncated");
    }
    std::string m = loadError(Bytes(bytes.begin(), bytes.end() - 1));
    EXPECT_CONTAINS(m, "engine is truncated: header says " + std::to_string(bytes.size()) + " bytes, file has " +
                           std::to_string(bytes.size() - 1));
}

TEST(PlanRefusal, TrailingBytes) {
    Bytes bytes = serialized(makeSmallPlan());
    bytes.push_back(0);
    EXPECT_CONTAINS(loadError(bytes), "1 unexpected bytes after its end");
}

TEST(PlanRefusal, EveryFlippedPayloadByteFailsTheChecksum) {
    Bytes bytes = serialized(makeSmallPlan());
    ASSERT_EQ(loadError(bytes), "");
    for (size_t i = payloadOffset(bytes); i < bytes.size(); ++i) {
        for (uint8_t mask : {0x01, 0x80, 0xff}) {
            bytes[i] ^= mask;
            std::string m = loadError(bytes);
            EXPECT_CONTAINS(m, "engine is corrupted: checksum mismatch (expected 0x");
            bytes[i] ^= mask;
        }
    }
}

TEST(PlanRefusal, EveryFlippedHeaderByteIsCaught) {
    // In the header, a flip is refused, or changes the backend or target string, which the runtime
    // then refuses because it does not match the machine.
    EnginePlan plan = makeSmallPlan();
    Bytes bytes = serialized(plan);
    for (size_t i = 0; i < payloadOffset(bytes); ++i) {
        bytes[i] ^= 0x20;
        auto loaded = deserializePlan(bytes.data(), bytes.size());
        if (loaded.isOk())
            EXPECT_TRUE(loaded->backend != plan.backend || loaded->target != plan.target) << "byte " << i;
        bytes[i] ^= 0x20;
    }
}

TEST(PlanRefusal, HugePayloadSize) {
    Bytes bytes = serialized(makeSmallPlan());
    store<uint64_t>(bytes, kPlanPayloadSizeOffset, uint64_t{1} << 60);
    std::string m = loadError(bytes);
    EXPECT_CONTAINS(m, "engine is truncated: header says ");
    EXPECT_CONTAINS(m, "file has " + std::to_string(bytes.size()));
    store<uint64_t>(bytes, kPlanPayloadSizeOffset, UINT64_MAX);
    EXPECT_CONTAINS(loadError(bytes), "overflows");
    store<uint64_t>(bytes, kPlanPayloadOffsetOffset, 3);
    EXPECT_CONTAINS(loadError(bytes), "inside the");
}

TEST(PlanRefusal, BadHeaderSize) {
    Bytes bytes = serialized(makeSmallPlan());
    store<uint32_t>(bytes, kPlanHeaderSizeOffset, 5);
    EXPECT_CONTAINS(loadError(bytes), "header size 5");
    store<uint32_t>(bytes, kPlanHeaderSizeOffset, 0xFFFFFFF0u);
    EXPECT_CONTAINS(loadError(bytes), "truncated");
}

TEST(PlanRefusal, WrongFormatVersion) {
    Bytes bytes = serialized(makeSmallPlan());
    for (uint32_t version : {0u, 7u, 0xFFFFFFFFu}) {
        store<uint32_t>(bytes, kPlanVersionOffset, version);
        std::string expected = "engine format version " + std::to_string(version) +
                               " is not supported (this Kiln reads version " + std::to_string(kPlanFormatVersion) + ")";
        EXPECT_CONTAINS(loadError(bytes), expected);
        auto header = readPlanHeader(bytes.data(), bytes.size());
        ASSERT_FALSE(header.isOk());
        EXPECT_CONTAINS(header.status().message(), expected);
    }
}

TEST(PlanRefusal, WrongKilnVersion) {
    Bytes bytes = serialized(makeSmallPlan());
    std::string ours = getVersion();
    ASSERT_EQ(load<uint32_t>(bytes, kPlanStringsOffset), ours.size());
    std::string other = ours;
    other.back() = other.back() == '9' ? '8' : '9';
    std::memcpy(bytes.data() + kPlanStringsOffset + 4, other.data(), other.size());
    EXPECT_CONTAINS(loadError(bytes),
                    "engine was built by Kiln " + other + ", this is Kiln " + ours + ": rebuild the engine");
    // The header is still readable, so tools can say which version built it.
    auto header = readPlanHeader(bytes.data(), bytes.size());
    ASSERT_TRUE(header.isOk()) << header.status().message();
    EXPECT_EQ(header->kilnVersion, other);
}

TEST(PlanRefusal, NonZeroPaddingAfterHeader) {
    Bytes bytes = serialized(makeSmallPlan());
    uint32_t headerBytes = load<uint32_t>(bytes, kPlanHeaderSizeOffset);
    ASSERT_LT(headerBytes, payloadOffset(bytes));
    bytes[headerBytes] = 1;
    EXPECT_CONTAINS(loadError(bytes), "padding byte");
}

TEST(PlanRefusal, HostileCountsAreRefusedBeforeAllocating) {
    Bytes bytes = serialized(makeSmallPlan());
    SectionLocation graph = findSection(bytes, PlanSectionId::kGraph);
    ASSERT_GT(graph.size, 0u);
    // The graph record starts with its name, then the value count.
    size_t valueCountAt = graph.offset + 4 + load<uint32_t>(bytes, graph.offset);
    store<uint32_t>(bytes, valueCountAt, 0xFFFFFFF0u);
    fixChecksum(bytes);
    std::string m = loadError(bytes);
    EXPECT_CONTAINS(m, "engine is corrupted: graph section, graph 'small': 4294967280 values");
    EXPECT_CONTAINS(m, "cannot fit");
}

TEST(PlanRefusal, InvalidBoolBytes) {
    Bytes bytes = serialized(makeSmallPlan(DataType::kBOOL));
    SectionLocation weights = findSection(bytes, PlanSectionId::kWeights);
    ASSERT_EQ(weights.size, 4u);
    bytes[weights.offset + 2] = 2;
    fixChecksum(bytes);
    EXPECT_CONTAINS(loadError(bytes), "bool tensor holds byte 2");
}

TEST(PlanRefusal, MissingSection) {
    Bytes bytes = serialized(makeSmallPlan());
    size_t table = payloadOffset(bytes);
    // Renames the first section (the graph) to an id this reader does not know: it is skipped.
    store<uint32_t>(bytes, table + 4, 999u);
    fixChecksum(bytes);
    EXPECT_CONTAINS(loadError(bytes), "it has no 'graph' section");
    // Makes it a second 'layers' section instead.
    store<uint32_t>(bytes, table + 4, static_cast<uint32_t>(PlanSectionId::kLayers));
    fixChecksum(bytes);
    EXPECT_CONTAINS(loadError(bytes), "a second 'layers' section");
}

TEST(PlanRefusal, HostileBytesWithValidChecksumNeverCrash) {
    // Every payload byte changed (several ways) with the checksum recomputed: the reader must stay
    // within bounds and either refuse or load. Run under KILN_SANITIZE to catch what does not crash.
    Bytes original = serialized(makeSmallPlan());
    size_t begin = payloadOffset(original);
    size_t refused = 0, loaded = 0;
    for (size_t i = begin; i < original.size(); ++i) {
        for (uint8_t mask : {0x01, 0x10, 0x80, 0xff}) {
            Bytes bytes = original;
            bytes[i] ^= mask;
            fixChecksum(bytes);
            auto plan = deserializePlan(bytes.data(), bytes.size());
            if (plan.isOk()) {
                ++loaded;
            } else {
                ++refused;
                EXPECT_EQ(plan.status().code(), StatusCode::kInvalidEngine) << plan.status().message();
            }
        }
    }
    EXPECT_GT(refused, 0u);
    EXPECT_GT(loaded, 0u);  // e.g. a changed weight or name is still a well-formed engine
}

TEST(PlanRefusal, RandomGarbageAfterAValidHeader) {
    Bytes original = serialized(makeSmallPlan());
    std::mt19937 rng(1234);
    size_t begin = payloadOffset(original);
    for (int trial = 0; trial < 2000; ++trial) {
        Bytes bytes = original;
        // Scramble a random run of the payload, then make the checksum agree.
        size_t at = begin + rng() % (bytes.size() - begin);
        size_t len = 1 + rng() % 16;
        for (size_t i = at; i < std::min(bytes.size(), at + len); ++i) bytes[i] = static_cast<uint8_t>(rng());
        fixChecksum(bytes);
        auto plan = deserializePlan(bytes.data(), bytes.size());
        if (!plan.isOk()) EXPECT_EQ(plan.status().code(), StatusCode::kInvalidEngine);
    }
}

}  // namespace
}  // namespace kiln::test
