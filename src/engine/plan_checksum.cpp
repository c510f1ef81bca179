#include "engine/plan_checksum.h"

#include <bit>
#include <cstring>

namespace kiln {

namespace {

// Odd multipliers (from the 64-bit golden ratio and well-mixing primes): multiplication by an odd
// constant is a bijection of 64-bit words.
constexpr uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kMul3 = 0x165667B19E3779F9ull;
constexpr size_t kLanes = 4;

uint64_t loadWord(const uint8_t* p) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    return w;
}

// For a fixed word this is a bijection of the lane, and for a fixed lane a bijection of the word:
// a change in one word changes that lane's state, and no later round can undo it. That is why any
// single flipped byte is detected, not just detected with high probability.
uint64_t round(uint64_t lane, uint64_t word) {
    lane ^= word * kMul1;
    lane = std::rotl(lane, 31);
    return lane * kMul2;
}

// A bijective avalanche (xor-shift-multiply), so distinct lane states stay distinct.
uint64_t avalanche(uint64_t h) {
    h ^= h >> 33;
    h *= kMul2;
    h ^= h >> 29;
    h *= kMul3;
    h ^= h >> 32;
    return h;
}

}  // namespace

uint64_t planChecksum(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    // Four independent lanes keep four multiplies in flight.
    uint64_t lanes[kLanes] = {kMul1, kMul2, kMul3, kMul1 ^ kMul2};
    size_t i = 0;
    for (; i + 8 * kLanes <= size; i += 8 * kLanes)
        for (size_t l = 0; l < kLanes; ++l) lanes[l] = round(lanes[l], loadWord(p + i + 8 * l));
    size_t lane = 0;
    for (; i + 8 <= size; i += 8, ++lane) lanes[lane] = round(lanes[lane], loadWord(p + i));
    if (i < size) {
        uint64_t tail = 0;
        std::memcpy(&tail, p + i, size - i);
        lanes[lane] = round(lanes[lane], tail);
    }
    // A change confined to one lane changes that lane's avalanche and hence the xor of all of them.
    // The size is mixed in so that trailing zero bytes are not invisible.
    uint64_t h = static_cast<uint64_t>(size) * kMul3;
    for (size_t l = 0; l < kLanes; ++l) h ^= avalanche(lanes[l] + l);
    return avalanche(h);
}

}  // namespace kiln
