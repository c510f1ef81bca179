#include "engine/plan_checksum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <unordered_set>
#include <vector>

#include "test_support.h"

namespace kiln {
namespace {

using test::randomBytes;

TEST(PlanChecksum, Deterministic) {
    auto a = randomBytes(1000, 1);
    auto b = a;
    EXPECT_EQ(planChecksum(a.data(), a.size()), planChecksum(b.data(), b.size()));
    EXPECT_EQ(planChecksum(nullptr, 0), planChecksum(a.data(), 0));
}

TEST(PlanChecksum, EverySingleByteChangeIsDetected) {
    // Lengths around the 32-byte block and 8-byte word boundaries, plus one larger buffer.
    std::mt19937 rng(7);
    for (size_t n : {1, 2, 7, 8, 9, 15, 16, 31, 32, 33, 40, 63, 64, 65, 100, 1000}) {
        auto bytes = randomBytes(n, static_cast<uint32_t>(n));
        uint64_t base = planChecksum(bytes.data(), bytes.size());
        for (size_t i = 0; i < n; ++i) {
            uint8_t mask = static_cast<uint8_t>(1 + rng() % 255);
            bytes[i] ^= mask;
            EXPECT_NE(planChecksum(bytes.data(), bytes.size()), base) << "size " << n << " byte " << i;
            bytes[i] ^= mask;
        }
    }
}

TEST(PlanChecksum, LengthMatters) {
    std::vector<uint8_t> zeros(100, 0);
    std::unordered_set<uint64_t> seen;
    for (size_t n = 0; n <= zeros.size(); ++n) EXPECT_TRUE(seen.insert(planChecksum(zeros.data(), n)).second) << n;
}

TEST(PlanChecksum, NoCollisionsOnManySmallInputs) {
    std::unordered_set<uint64_t> seen;
    std::mt19937 rng(3);
    for (int i = 0; i < 100000; ++i) {
        uint8_t buf[16];
        for (uint8_t& b : buf) b = static_cast<uint8_t>(rng());
        seen.insert(planChecksum(buf, sizeof(buf)));
    }
    EXPECT_EQ(seen.size(), 100000u);
}

TEST(PlanChecksum, SwappedWordsAreDetected) {
    // Words of different lanes swapped, and a run of words moved by one block.
    auto bytes = randomBytes(256, 11);
    uint64_t base = planChecksum(bytes.data(), bytes.size());
    auto swapped = bytes;
    std::swap_ranges(swapped.begin(), swapped.begin() + 8, swapped.begin() + 8);
    EXPECT_NE(planChecksum(swapped.data(), swapped.size()), base);
    auto rotated = bytes;
    std::rotate(rotated.begin(), rotated.begin() + 32, rotated.end());
    EXPECT_NE(planChecksum(rotated.data(), rotated.size()), base);
}

}  // namespace
}  // namespace kiln
