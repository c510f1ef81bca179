#include "backends/cpu/kernels/tensor_copy.h"

#include <omp.h>

#include <algorithm>

namespace kiln::datamove {

namespace {

// Index arrays live on the stack up to this rank (after simplify() real copies rarely exceed 6).
constexpr size_t kStackRank = 16;

class IndexBuffer {
public:
    explicit IndexBuffer(size_t rank) {
        if (rank > kStackRank) mHeap.resize(rank);
        mData = rank > kStackRank ? mHeap.data() : mStack;
    }
    int64_t* data() { return mData; }

private:
    int64_t mStack[kStackRank]{};
    std::vector<int64_t> mHeap;
    int64_t* mData;
};

// Rows of the innermost dim, each thread walking a contiguous range of rows with an odometer.
template <typename U>
void copyRows(const std::vector<int64_t>& extents, const std::vector<int64_t>& strides, const U* src, U* dst,
              int64_t total) {
    const size_t outerRank = extents.size() - 1;
    const int64_t inner = extents.back();
    const int64_t innerStride = strides.back();
    const int64_t rows = total / inner;
    const bool parallel = rows > 1 && static_cast<size_t>(total) * sizeof(U) >= kParallelBytes;
#pragma omp parallel if (parallel)
    {
        const int64_t threads = omp_get_num_threads();
        const int64_t thread = omp_get_thread_num();
        const int64_t begin = rows * thread / threads;
        const int64_t end = rows * (thread + 1) / threads;
        if (begin < end) {
            IndexBuffer buffer(outerRank);
            int64_t* index = buffer.data();
            int64_t offset = 0;
            int64_t rest = begin;
            for (size_t k = outerRank; k-- > 0;) {
                index[k] = rest % extents[k];
                rest /= extents[k];
                offset += index[k] * strides[k];
            }
            for (int64_t row = begin; row < end; ++row) {
                const U* s = src + offset;
                U* d = dst + row * inner;
                if (innerStride == 1) {
                    std::memcpy(d, s, static_cast<size_t>(inner) * sizeof(U));
                } else if (innerStride == 0) {
                    std::fill(d, d + inner, *s);
                } else {
                    for (int64_t j = 0; j < inner; ++j) d[j] = s[j * innerStride];
                }
                for (size_t k = outerRank; k-- > 0;) {
                    offset += strides[k];
                    if (++index[k] < extents[k]) break;
                    offset -= index[k] * strides[k];
                    index[k] = 0;
                }
            }
        }
    }
}

// A copy whose innermost destination dim reads the source with a stride, while another dim `k`
// reads it contiguously: a transpose of (k, last). Moving 32x32 tiles keeps both the reads and the
// writes within a few cache lines. Returns false when the copy has no such shape.
template <typename U>
bool copyTiled(const std::vector<int64_t>& extents, const std::vector<int64_t>& strides, const U* src, U* dst,
               int64_t total) {
    const size_t rank = extents.size();
    const int64_t innerStride = strides.back();
    if (rank < 2 || innerStride == 1 || innerStride == 0) return false;
    size_t k = rank;
    for (size_t i = 0; i + 1 < rank; ++i)
        if (strides[i] == 1) k = i;
    if (k == rank) return false;
    const int64_t nk = extents[k];
    const int64_t nl = extents.back();
    if (nk < 4 || nl < 4) return false;

    IndexBuffer dstStridesBuffer(rank);
    int64_t* dstStrides = dstStridesBuffer.data();
    dstStrides[rank - 1] = 1;
    for (size_t i = rank - 1; i-- > 0;) dstStrides[i] = dstStrides[i + 1] * extents[i + 1];

    // Tile edge: the tile buffer stays at 8 KiB or less (64x64 of 1-2 byte elements, 32x32 of
    // 4-8 byte ones), well inside L1; measured against 32/64/128 edges with and without a buffer.
    constexpr int64_t kTile = sizeof(U) <= 2 ? 64 : 32;
    const int64_t tilesK = (nk + kTile - 1) / kTile;
    const int64_t outerCount = total / (nk * nl);
    const int64_t work = outerCount * tilesK;
    const bool parallel = work > 1 && static_cast<size_t>(total) * sizeof(U) >= kParallelBytes;
#pragma omp parallel for if (parallel) schedule(static)
    for (int64_t w = 0; w < work; ++w) {
        int64_t rest = w / tilesK;
        const int64_t i0 = (w % tilesK) * kTile;
        const int64_t i1 = std::min(nk, i0 + kTile);
        int64_t srcOffset = 0;
        int64_t dstOffset = 0;
        for (size_t d = rank - 1; d-- > 0;) {
            if (d == k) continue;
            const int64_t i = rest % extents[d];
            rest /= extents[d];
            srcOffset += i * strides[d];
            dstOffset += i * dstStrides[d];
        }
        const int64_t dstStrideK = dstStrides[k];
        // Both memory streams run along contiguous lines: the tile is read row by row from the
        // source into an L1-resident buffer, then written row by row to the destination.
        U tile[kTile][kTile];
        for (int64_t l0 = 0; l0 < nl; l0 += kTile) {
            const int64_t l1 = std::min(nl, l0 + kTile);
            for (int64_t l = l0; l < l1; ++l) {
                const U* s = src + srcOffset + l * innerStride;
                for (int64_t i = i0; i < i1; ++i) tile[l - l0][i - i0] = s[i];
            }
            for (int64_t i = i0; i < i1; ++i) {
                U* d = dst + dstOffset + i * dstStrideK;
                for (int64_t l = l0; l < l1; ++l) d[l] = tile[l - l0][i - i0];
            }
        }
    }
    return true;
}

}  // namespace

std::vector<int64_t> contiguousStrides(const Shape& shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
    return strides;
}

void StridedCopy::simplify() {
    for (int64_t e : extents)
        if (e == 0) return;  // nothing is copied; run() returns at once
    size_t kept = 0;
    for (size_t i = 0; i < extents.size(); ++i) {
        if (extents[i] == 1) continue;
        if (kept > 0 && srcStrides[kept - 1] == srcStrides[i] * extents[i]) {
            extents[kept - 1] *= extents[i];
            srcStrides[kept - 1] = srcStrides[i];
            continue;
        }
        extents[kept] = extents[i];
        srcStrides[kept] = srcStrides[i];
        ++kept;
    }
    extents.resize(kept);
    srcStrides.resize(kept);
}

void StridedCopy::run(const void* src, void* dst, size_t elementSize) const {
    const int64_t total = shapeElementCount(extents);
    if (total == 0) return;
    dispatchElementBytes(elementSize, [&](auto tag) {
        using U = decltype(tag);
        const U* s = static_cast<const U*>(src) + srcOffset;
        U* d = static_cast<U*>(dst);
        if (extents.empty()) {
            *d = *s;
            return;
        }
        if (copyTiled(extents, srcStrides, s, d, total)) return;
        copyRows(extents, srcStrides, s, d, total);
    });
}

StridedCopy transposeCopy(const Shape& inShape, const std::vector<int64_t>& perm) {
    std::vector<int64_t> inStrides = contiguousStrides(inShape);
    StridedCopy copy;
    for (int64_t p : perm) {
        copy.extents.push_back(inShape[static_cast<size_t>(p)]);
        copy.srcStrides.push_back(inStrides[static_cast<size_t>(p)]);
    }
    return copy;
}

StridedCopy broadcastCopy(const Shape& inShape, const Shape& outShape) {
    std::vector<int64_t> inStrides = contiguousStrides(inShape);
    StridedCopy copy;
    copy.extents = outShape;
    copy.srcStrides.assign(outShape.size(), 0);
    const size_t lead = outShape.size() - inShape.size();
    for (size_t i = 0; i < inShape.size(); ++i)
        if (inShape[i] != 1) copy.srcStrides[lead + i] = inStrides[i];
    return copy;
}

}  // namespace kiln::datamove
