#pragma once
// Data-movement building blocks of the shape and tensor kernel families. These kernels move
// elements without looking at them, so they are written once over element *sizes* (1, 2, 4, 8
// bytes) instead of once per DataType; every Kiln type is one of those sizes.

#include <cstdint>
#include <cstring>
#include <vector>

#include "backends/tensor_view.h"

namespace kiln::datamove {

/// Calls `fn(U{})` with an unsigned integer type as wide as one element of `elementSize` bytes.
template <typename Fn>
decltype(auto) dispatchElementBytes(size_t elementSize, Fn&& fn) {
    if (elementSize == 1) return fn(uint8_t{});
    if (elementSize == 2) return fn(uint16_t{});
    if (elementSize == 4) return fn(uint32_t{});
    return fn(uint64_t{});
}

/// Loops over at least this many bytes are split over OpenMP threads; below it the threads'
/// start-up costs more than they save.
constexpr size_t kParallelBytes = size_t{1} << 16;

/// Row-major strides, in elements, of a concrete shape.
std::vector<int64_t> contiguousStrides(const Shape& shape);

/// Element `i` of an int32 or int64 tensor (indices, shape-like inputs).
inline int64_t readIndex(const TensorView& view, int64_t i) {
    return view.dtype == DataType::kINT32 ? view.as<const int32_t>()[i] : view.as<const int64_t>()[i];
}

/// memcpy that tolerates the in-place case (the memory planner may give a copy-only node's output
/// the storage of its input) and zero sizes.
inline void copyBytes(void* dst, const void* src, size_t bytes) {
    if (bytes != 0 && dst != src) std::memcpy(dst, src, bytes);
}

/// A gather-style copy: the destination is contiguous over `extents`, and the element at index
/// (i0, ..., in) comes from source element srcOffset + sum(ik * srcStrides[k]). Strides may be 0
/// (broadcast) or negative (reversed slices). Transpose, Expand, Tile, Slice and the
/// depth/space rearrangements are all such copies.
struct StridedCopy {
    std::vector<int64_t> extents;
    std::vector<int64_t> srcStrides;  // in elements
    int64_t srcOffset{0};             // in elements

    /// Drops unit extents and merges neighbouring dims whose source stays evenly strided across
    /// them, so a copy of contiguous runs becomes a few long memcpys. In place.
    void simplify();
    /// Runs the copy for elements of `elementSize` bytes. Multi-threaded for large copies; a
    /// transpose-like copy (innermost source stride != 1) goes through 2-D tiles for locality.
    void run(const void* src, void* dst, size_t elementSize) const;
};

/// Output[i] = input[perm-permuted i] for an input of `inShape`.
StridedCopy transposeCopy(const Shape& inShape, const std::vector<int64_t>& perm);

/// Numpy broadcast of `inShape` (right-aligned) to `outShape`; the caller has checked that every
/// input dim is 1 or equals the output's.
StridedCopy broadcastCopy(const Shape& inShape, const Shape& outShape);

}  // namespace kiln::datamove
