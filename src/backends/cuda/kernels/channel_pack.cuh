#pragma once
// Consecutive channels of one NHWC pixel moved as one aligned vector: the channels-last kernels
// (pooling_channels_last.cu, conv_direct_nhwc.cu) read and write up to 16 bytes per thread where the
// channel count and the tensors' addresses allow, and one element at a time otherwise. The memory-bound
// element-wise kernels (fused_epilogue.cu, binary_map.cuh, select_cast.cu) move V consecutive elements
// the same way: loadPacks/storePacks split V elements into 16-byte packs at most (8 floats: two).

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace kiln::cuda {

/// `V` consecutive channels of one pixel, loaded and stored as one aligned vector (16 bytes at most).
template <typename T, int V>
struct alignas(sizeof(T) * V) ChannelPack {
    T lane[V];
};

/// Elements of T in the widest pack (16 bytes).
template <typename T>
constexpr int kWidestPack = static_cast<int>(16 / sizeof(T));

/// Whether every address in `pointers` (null ones aside) is a multiple of `bytes`.
inline bool addressesAligned(size_t bytes, std::initializer_list<const void*> pointers) {
    for (const void* p : pointers)
        if (p && reinterpret_cast<uintptr_t>(p) % bytes != 0) return false;
    return true;
}

/// The widest pack (16 bytes at most, halving down to one element) whose width divides `channels` and
/// that every address in `pointers` (null ones aside) is aligned to.
inline int widestPack(int64_t channels, size_t elementBytes, std::initializer_list<const void*> pointers) {
    int width = static_cast<int>(16 / elementBytes);
    while (width > 1 &&
           (channels % width != 0 || !addressesAligned(elementBytes * static_cast<size_t>(width), pointers)))
        width /= 2;
    return width;
}

/// The alignment (bytes) an address of T needs for loadPacks/storePacks of `v` elements: the access
/// width, v elements but 16 bytes at most.
template <typename T>
constexpr size_t packAlignment(int v) {
    return sizeof(T) * static_cast<size_t>(v < kWidestPack<T> ? v : kWidestPack<T>);
}

#ifdef __CUDACC__
/// V consecutive elements from `p` (aligned to packAlignment<T>(V)) in accesses of 16 bytes at most.
template <typename T, int V>
__device__ __forceinline__ void loadPacks(const T* p, T (&v)[V]) {
    constexpr int W = V < kWidestPack<T> ? V : kWidestPack<T>;
    static_assert(V % W == 0, "a pack width divides V");
#pragma unroll
    for (int k = 0; k < V / W; ++k) {
        const ChannelPack<T, W> pack = reinterpret_cast<const ChannelPack<T, W>*>(p)[k];
#pragma unroll
        for (int j = 0; j < W; ++j) v[k * W + j] = pack.lane[j];
    }
}

/// The store of loadPacks.
template <typename T, int V>
__device__ __forceinline__ void storePacks(T* p, const T (&v)[V]) {
    constexpr int W = V < kWidestPack<T> ? V : kWidestPack<T>;
    static_assert(V % W == 0, "a pack width divides V");
#pragma unroll
    for (int k = 0; k < V / W; ++k) {
        ChannelPack<T, W> pack;
#pragma unroll
        for (int j = 0; j < W; ++j) pack.lane[j] = v[k * W + j];
        reinterpret_cast<ChannelPack<T, W>*>(p)[k] = pack;
    }
}
#endif

}  // namespace kiln::cuda
