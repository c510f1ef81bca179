#include "backends/cuda/kernels/strided_plan.h"

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>

namespace kiln::cuda {

const char* stridedCopyPathName(StridedCopyPath path) {
    switch (path) {
        case StridedCopyPath::kGeneric: return "generic";
        case StridedCopyPath::kVector: return "vector";
        case StridedCopyPath::kTiled: return "tiled";
    }
    return "?";
}

StridedView mergeStridedDims(const StridedView& view) {
    StridedView merged;
    merged.inputOffset = view.inputOffset;
    merged.count = view.count;
    for (int d = 0; d < view.rank; ++d) {
        const int64_t extent = view.dims[d];
        const int64_t stride = view.inputStrides[d];
        if (extent == 1) continue;
        // Coordinates (c, c') of dims (d-1, d) read the input at c * s + c' * s'; with s == s' * n' that
        // is (c * n' + c') * s': one dim of n * n' elements at stride s'. Holds for any sign of s'.
        if (merged.rank > 0 && merged.inputStrides[merged.rank - 1] == stride * extent) {
            merged.dims[merged.rank - 1] *= extent;
            merged.inputStrides[merged.rank - 1] = stride;
            continue;
        }
        merged.dims[merged.rank] = extent;
        merged.inputStrides[merged.rank] = stride;
        ++merged.rank;
    }
    return merged;
}

bool fitsIndex32(const StridedView& view) {
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    if (view.count > kMax) return false;
    if (view.count == 0) return true;
    // Partial sums of coordinate * stride lie between the lowest and highest offset reached.
    int64_t lowest = view.inputOffset, highest = view.inputOffset;
    for (int d = 0; d < view.rank; ++d) {
        const int64_t span = (view.dims[d] - 1) * view.inputStrides[d];
        (span < 0 ? lowest : highest) += span;
    }
    return lowest >= std::numeric_limits<int32_t>::min() && highest <= kMax;
}

namespace {

/// Worst number of lanes of one warp that share a bank when 32 consecutive walk positions q (the first a
/// multiple of 32, as warps start) map to slot (q % extent) * pitch + q / extent.
int worstBankConflict(int extent, int pitch) {
    int worst = 0;
    // A warp's first position is a multiple of 32: its row phase (first q mod extent) is a multiple of
    // gcd(32, extent).
    for (int start = 0; start < extent; start += std::gcd(32, extent)) {
        std::array<int, 32> hits{};
        for (int lane = 0; lane < 32; ++lane) {
            const int q = start + lane;
            const int slot = (q % extent) * pitch + q / extent;
            worst = std::max(worst, ++hits[static_cast<size_t>(slot % 32)]);
        }
    }
    return worst;
}

/// For each short extent 1..32, the pitch residue mod 32 with the fewest bank conflicts (computed once).
const std::array<int, 33>& pitchResidues() {
    static const std::array<int, 33> residues = [] {
        std::array<int, 33> r{};
        for (int extent = 1; extent <= 32; ++extent) {
            int best = 0, bestConflict = std::numeric_limits<int>::max();
            for (int residue = 0; residue < 32; ++residue) {
                const int conflict = worstBankConflict(extent, residue);
                if (conflict < bestConflict) best = residue, bestConflict = conflict;
            }
            r[static_cast<size_t>(extent)] = best;
        }
        return r;
    }();
    return residues;
}

/// Largest power-of-two word (at most 16 bytes) the vector path can move `view` in.
size_t vectorWordBytes(const StridedView& view, size_t elementSize, uintptr_t in, uintptr_t out) {
    for (size_t bytes = 16; bytes > elementSize; bytes /= 2) {
        if (bytes % elementSize != 0) continue;
        const int64_t k = static_cast<int64_t>(bytes / elementSize);
        bool fits = view.dims[view.rank - 1] % k == 0 && view.inputOffset % k == 0 && in % bytes == 0 &&
                    out % bytes == 0;
        for (int d = 0; fits && d + 1 < view.rank; ++d) fits = view.inputStrides[d] % k == 0;
        if (fits) return bytes;
    }
    return elementSize;
}

int64_t roundUp32(int64_t n) { return (n + 31) / 32 * 32; }

/// The long side of a tile whose short side is `shortExtent` < 32: a multiple of 32 that keeps the tile
/// within kMaxTileElements, no longer than the dim rounded up to 32.
int longSide(int64_t shortExtent, int64_t longExtent) {
    const int64_t fill = std::max<int64_t>(32, kMaxTileElements / shortExtent / 32 * 32);
    return static_cast<int>(std::min(fill, roundUp32(longExtent)));
}

}  // namespace

int conflictFreePitch(int shortExtent, int minPitch) {
    const int residue = pitchResidues()[static_cast<size_t>(std::clamp(shortExtent, 1, 32))];
    return minPitch + ((residue - minPitch) % 32 + 32) % 32;
}

StridedCopyPlan planStridedCopy(const StridedView& view, size_t elementSize, uintptr_t in, uintptr_t out) {
    StridedCopyPlan plan;
    plan.view = mergeStridedDims(view);
    plan.wordBytes = elementSize;
    StridedView& v = plan.view;
    if (v.rank == 0) {  // one element (or none)
        plan.index32 = fitsIndex32(v);
        return plan;
    }
    const int last = v.rank - 1;
    if (v.inputStrides[last] == 1) {
        plan.path = StridedCopyPath::kVector;
        plan.wordBytes = vectorWordBytes(v, elementSize, in, out);
        const int64_t k = static_cast<int64_t>(plan.wordBytes / elementSize);
        if (k > 1) {
            v.dims[last] /= k;
            for (int d = 0; d < last; ++d) v.inputStrides[d] /= k;
            v.inputOffset /= k;
            v.count /= k;
        }
        plan.index32 = fitsIndex32(v);
        return plan;
    }
    plan.index32 = fitsIndex32(v);
    int dimB = -1;
    for (int d = last - 1; d >= 0 && dimB < 0; --d)
        if (v.inputStrides[d] == 1) dimB = d;
    if (dimB < 0) return plan;  // nothing reads the input contiguously: generic
    const int64_t extentA = v.dims[last], extentB = v.dims[dimB];
    if (extentA < 32 && extentB < 32) return plan;  // a tile would leave most of a block idle
    TilePlan& t = plan.tile;
    t.dimA = last;
    t.dimB = dimB;
    if (extentA >= 32 && extentB >= 32) {
        t.extentA = t.extentB = 32;  // a in slot rows: the output walk (a fastest) needs an odd pitch
        t.smemStrideA = conflictFreePitch(32, 32);
        t.smemStrideB = 1;
        t.smemSlots = 32 * t.smemStrideA;
    } else if (extentA < 32) {  // e.g. NCHW -> NHWC with C = 3: 3 x 320 tiles
        t.extentA = static_cast<int>(extentA);
        t.extentB = longSide(extentA, extentB);
        t.smemStrideA = conflictFreePitch(t.extentA, t.extentB);
        t.smemStrideB = 1;
        t.smemSlots = t.extentA * t.smemStrideA;
    } else {  // e.g. NHWC -> NCHW with C = 3: 320 x 3 tiles
        t.extentB = static_cast<int>(extentB);
        t.extentA = longSide(extentB, extentA);
        t.smemStrideB = conflictFreePitch(t.extentB, t.extentA);
        t.smemStrideA = 1;
        t.smemSlots = t.extentB * t.smemStrideB;
    }
    plan.path = StridedCopyPath::kTiled;
    return plan;
}

}  // namespace kiln::cuda
