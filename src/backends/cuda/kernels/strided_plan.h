#pragma once
// How one strided copy (out[i] = in[stridedInputOffset(view, i)]) is run: the host-side plan of
// strided_copy.cu, kept free of CUDA so that it is tested on machines without a GPU.
//
// The view is first simplified (output dims that are also adjacent in the input are merged), then one
// of three paths is chosen:
// - kVector: the innermost output dim reads the input with stride 1. Elements move in words of up to
//   16 bytes when the innermost extent, every other stride, the offset and both pointers allow it (the
//   view is then rescaled to words); otherwise one element per word (the scalar fallback).
// - kTiled: the innermost output dim is strided in the input but another output dim reads it with
//   stride 1: a shared-memory tile over those two dims reads along the one and writes along the other,
//   so both global accesses are coalesced; batched over the remaining dims.
// - kGeneric: no dim reads the input with stride 1 (a stepped Slice), or both tile dims are too short
//   for a tile to fill a block: one element per thread.
// Index math is 32-bit when the element count and every input offset fit in int32, else 64-bit.

#include <cstddef>
#include <cstdint>
#include <string>

#include "backends/cuda/kernels/strided_index.cuh"

namespace kiln::cuda {

/// Threads of a tiled-transpose block, and the most elements one tile holds (kTileItems per thread).
constexpr int kTileThreads = 256;
constexpr int kTileItems = 4;
constexpr int kMaxTileElements = kTileThreads * kTileItems;

enum class StridedCopyPath { kGeneric, kVector, kTiled };

const char* stridedCopyPathName(StridedCopyPath path);

/// The tile of the kTiled path. Output dim `dimA` (the innermost) is strided in the input; output dim
/// `dimB` reads the input with stride 1. A tile is `extentA` x `extentB` elements, held in shared memory
/// at slot a * smemStrideA + b * smemStrideB: the tile's shorter side is the slot row, the other side
/// (a multiple of 32 unless the whole dim is shorter) runs along the row, and the row pitch is chosen
/// so that a warp walking the short side hits 32 different banks.
struct TilePlan {
    int dimA{0};
    int dimB{0};
    int extentA{0};
    int extentB{0};
    int smemStrideA{0};
    int smemStrideB{0};
    int smemSlots{0};  // slots of shared memory the tile needs
};

struct StridedCopyPlan {
    StridedCopyPath path{StridedCopyPath::kGeneric};
    StridedView view;      // merged; on kVector in units of `wordBytes`
    size_t wordBytes{0};   // bytes one thread moves per access: the element size, or a wider word on kVector
    bool index32{true};    // offsets and indices fit in 32 bits
    TilePlan tile;         // kTiled only
};

/// `view` with extent-1 dims dropped and every pair of adjacent output dims that is also contiguous in
/// the input (inputStrides[d] == inputStrides[d + 1] * dims[d + 1]) merged into one dim.
StridedView mergeStridedDims(const StridedView& view);

/// Whether every input offset the view reaches, and its element count, fit in int32.
bool fitsIndex32(const StridedView& view);

/// The plan of copying `view` of `elementSize`-byte elements from address `in` to address `out` (the
/// addresses decide the word width of the vector path only).
StridedCopyPlan planStridedCopy(const StridedView& view, size_t elementSize, uintptr_t in, uintptr_t out);

/// The row pitch (in slots, at least `minPitch`) of a tile whose short side of `shortExtent` is the slot
/// row and is walked fastest by a warp: the pitch that spreads 32 consecutive walk positions over the
/// most banks, the smallest such pitch.
int conflictFreePitch(int shortExtent, int minPitch);

}  // namespace kiln::cuda
