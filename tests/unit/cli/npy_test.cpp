#include "npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/half.h"
#include "input_data.h"

namespace kiln::cli {
namespace {

// Writes an .npy file as NumPy's format description specifies: magic, version, little-endian
// header length, a dict literal padded with spaces to a 64-byte boundary and ending in '\n', data.
std::vector<uint8_t> makeNpy(const std::string& descr, const std::string& shape, const void* data, size_t bytes,
                             int major = 1, bool fortran = false) {
    std::string dict =
        "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
    size_t prefix = major == 1 ? 10 : 12;
    size_t total = prefix + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
    size_t length = dict.size();
    for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<uint8_t>(length >> (8 * i)));
    out.insert(out.end(), dict.begin(), dict.end());
    const auto* p = static_cast<const uint8_t*>(data);
    out.insert(out.end(), p, p + bytes);
    return out;
}

class TempFile {
public:
    explicit TempFile(const std::string& name, const std::vector<uint8_t>& bytes)
        : mPath((std::filesystem::temp_directory_path() / ("kiln_npy_test_" + std::to_string(::getpid()) + "_" + name))
                    .string()) {
        std::ofstream out(mPath, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    ~TempFile() { std::remove(mPath.c_str()); }
    const std::string& path() const { return mPath; }

private:
    std::string mPath;
};

template <typename T>
std::vector<T> randomValues(size_t n, std::mt19937& rng) {
    std::vector<T> values(n);
    for (T& v : values) {
        if constexpr (std::is_floating_point_v<T>)
            v = std::uniform_real_distribution<T>(-50, 50)(rng);
        else
            v = static_cast<T>(std::uniform_int_distribution<int64_t>(-1000000, 1000000)(rng));
    }
    return values;
}

TEST(Npy, ReadsFloat32Matrix) {
    std::mt19937 rng(1);
    auto values = randomValues<float>(6, rng);
    TempFile file("f32.npy", makeNpy("<f4", "(2, 3)", values.data(), values.size() * sizeof(float)));
    auto array = readNpy(file.path());
    ASSERT_TRUE(array.isOk()) << array.status().message();
    EXPECT_EQ(array->dtype, DataType::kFLOAT);
    EXPECT_EQ(array->descr, "<f4");
    EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 3}));
    ASSERT_EQ(array->data.size(), values.size() * sizeof(float));
    EXPECT_EQ(std::memcmp(array->data.data(), values.data(), array->data.size()), 0);
}

TEST(Npy, ReadsInt64VectorWithVersion2Header) {
    std::mt19937 rng(2);
    auto values = randomValues<int64_t>(5, rng);
    auto bytes = makeNpy("<i8", "(5,)", values.data(), values.size() * sizeof(int64_t), 2);
    auto array = parseNpy(bytes, "v2.npy");
    ASSERT_TRUE(array.isOk()) << array.status().message();
    EXPECT_EQ(array->dtype, DataType::kINT64);
    EXPECT_EQ(array->shape, (std::vector<int64_t>{5}));
    EXPECT_EQ(std::memcmp(array->data.data(), values.data(), array->data.size()), 0);
}

TEST(Npy, ReadsScalarsBoolsHalvesAndEmptyArrays) {
    double scalar = 3.25;
    auto a = parseNpy(makeNpy("<f8", "()", &scalar, sizeof scalar), "s.npy");
    ASSERT_TRUE(a.isOk()) << a.status().message();
    EXPECT_TRUE(a->shape.empty());
    EXPECT_EQ(a->dtype, DataType::kDOUBLE);

    uint8_t flags[4] = {1, 0, 0, 1};
    auto b = parseNpy(makeNpy("|b1", "(2, 2)", flags, sizeof flags), "b.npy");
    ASSERT_TRUE(b.isOk());
    EXPECT_EQ(b->dtype, DataType::kBOOL);

    uint16_t halves[3] = {floatToHalfBits(0.5f), floatToHalfBits(-2.f), floatToHalfBits(7.f)};
    auto h = parseNpy(makeNpy("<f2", "(3,)", halves, sizeof halves), "h.npy");
    ASSERT_TRUE(h.isOk());
    EXPECT_EQ(h->dtype, DataType::kHALF);

    auto empty = parseNpy(makeNpy("<i4", "(0, 5)", nullptr, 0), "e.npy");
    ASSERT_TRUE(empty.isOk());
    EXPECT_EQ(empty->shape, (std::vector<int64_t>{0, 5}));
    EXPECT_TRUE(empty->data.empty());
}

TEST(Npy, WrongHeaders) {
    float value = 1.5f;
    auto good = makeNpy("<f4", "(1,)", &value, sizeof value);
    struct Case {
        std::vector<uint8_t> bytes;
        const char* expected;
    };
    std::vector<uint8_t> badMagic = good;
    badMagic[1] = 'X';
    std::vector<uint8_t> truncated(good.begin(), good.begin() + 30);
    std::vector<uint8_t> badVersion = good;
    badVersion[6] = 9;
    for (const Case& c :
         {Case{badMagic, "magic"}, Case{truncated, "truncated"}, Case{badVersion, "version 9"},
          Case{makeNpy(">f4", "(1,)", &value, 4), "'>f4'"}, Case{makeNpy("<c8", "(1,)", &value, 4), "'<c8'"},
          Case{makeNpy("<f4", "(1,)", &value, 4, 1, true), "Fortran"},
          Case{makeNpy("<f4", "[1]", &value, 4), "shape"}}) {
        auto array = parseNpy(c.bytes, "bad.npy");
        ASSERT_FALSE(array.isOk()) << c.expected;
        EXPECT_NE(array.status().message().find(c.expected), std::string::npos) << array.status().message();
        EXPECT_NE(array.status().message().find("bad.npy"), std::string::npos);
    }
}

TEST(Npy, WrongDataSize) {
    std::mt19937 rng(3);
    auto values = randomValues<float>(5, rng);
    auto array = parseNpy(makeNpy("<f4", "(2, 3)", values.data(), values.size() * sizeof(float)), "short.npy");
    ASSERT_FALSE(array.isOk());
    EXPECT_NE(array.status().message().find("24 bytes"), std::string::npos) << array.status().message();
    EXPECT_NE(array.status().message().find("20"), std::string::npos);
}

TEST(LoadInputFile, NpyMustMatchDtypeAndShape) {
    std::mt19937 rng(4);
    auto values = randomValues<float>(6, rng);
    TempFile file("in.npy", makeNpy("<f4", "(2, 3)", values.data(), values.size() * sizeof(float)));

    auto loaded = loadInputFile("x", DataType::kFLOAT, Dims({2, 3}), file.path());
    ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
    EXPECT_EQ(std::memcmp(loaded->data(), values.data(), loaded->size()), 0);

    auto wrongShape = loadInputFile("x", DataType::kFLOAT, Dims({3, 2}), file.path());
    ASSERT_FALSE(wrongShape.isOk());
    EXPECT_NE(wrongShape.status().message().find("input 'x'"), std::string::npos);
    EXPECT_NE(wrongShape.status().message().find("(2, 3)"), std::string::npos);
    EXPECT_NE(wrongShape.status().message().find("(3, 2)"), std::string::npos);

    auto wrongType = loadInputFile("x", DataType::kHALF, Dims({2, 3}), file.path());
    ASSERT_FALSE(wrongType.isOk());
    EXPECT_NE(wrongType.status().message().find("float16"), std::string::npos) << wrongType.status().message();
}

TEST(LoadInputFile, RawBytesMustBeExactlyTheInputsSize) {
    std::mt19937 rng(5);
    auto values = randomValues<int32_t>(12, rng);
    std::vector<uint8_t> bytes(values.size() * sizeof(int32_t));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    TempFile file("in.bin", bytes);

    auto loaded = loadInputFile("ids", DataType::kINT32, Dims({3, 4}), file.path());
    ASSERT_TRUE(loaded.isOk());
    EXPECT_EQ(*loaded, bytes);

    auto wrong = loadInputFile("ids", DataType::kINT64, Dims({3, 4}), file.path());
    ASSERT_FALSE(wrong.isOk());
    EXPECT_NE(wrong.status().message().find("input 'ids'"), std::string::npos);
    EXPECT_NE(wrong.status().message().find("48 bytes, expected 96"), std::string::npos) << wrong.status().message();

    auto missing = loadInputFile("ids", DataType::kINT32, Dims({3, 4}), file.path() + ".missing");
    ASSERT_FALSE(missing.isOk());
    EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);
}

TEST(RandomInput, RangesAndRepeatability) {
    std::mt19937_64 rng(9);
    auto floats = randomInput(DataType::kFLOAT, 1000, rng);
    const auto* f = reinterpret_cast<const float*>(floats.data());
    float lo = 1, hi = -1;
    for (int i = 0; i < 1000; ++i) lo = std::min(lo, f[i]), hi = std::max(hi, f[i]);
    EXPECT_GE(lo, -1.f);
    EXPECT_LE(hi, 1.f);
    EXPECT_LT(lo, -0.9f) << "values should spread over [-1, 1]";
    EXPECT_GT(hi, 0.9f);

    auto ints = randomInput(DataType::kINT64, 1000, rng);
    const auto* n = reinterpret_cast<const int64_t*>(ints.data());
    bool seen[4] = {};
    for (int i = 0; i < 1000; ++i) {
        ASSERT_GE(n[i], 0);
        ASSERT_LT(n[i], 4);
        seen[n[i]] = true;
    }
    EXPECT_TRUE(seen[0] && seen[1] && seen[2] && seen[3]);

    auto bools = randomInput(DataType::kBOOL, 100, rng);
    for (uint8_t b : bools) ASSERT_LE(b, 1);

    std::mt19937_64 a(42), b(42);
    EXPECT_EQ(randomInput(DataType::kHALF, 64, a), randomInput(DataType::kHALF, 64, b));

    // Low-bit types: one byte per element, float8 codes of values in [-1, 1], int4 0 or 1.
    auto fp8 = randomInput(DataType::kFP8E5M2, 500, rng);
    ASSERT_EQ(fp8.size(), 500u);
    bool negative = false;
    for (uint8_t code : fp8) {
        const bool sign = (code & 0x80) != 0;
        const int exponent = (code >> 2) & 0x1F;
        ASSERT_LE(exponent, 15) << int{code};  // |value| <= 1: e5m2's biased exponent at most 15 (2^0)
        ASSERT_TRUE(exponent < 15 || (code & 0x3) == 0) << int{code};
        negative = negative || sign;
    }
    EXPECT_TRUE(negative);
    for (uint8_t v : randomInput(DataType::kINT4, 100, rng)) ASSERT_LE(v, 1);
}

}  // namespace
}  // namespace kiln::cli
