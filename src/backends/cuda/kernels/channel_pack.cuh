#pragma once
// Consecutive channels of one NHWC pixel moved as one aligned vector: the channels-last kernels
// (pooling_channels_last.cu, conv_direct_nhwc.cu) read and write up to 16 bytes per thread where the
// channel count and the tensors' addresses allow, and one element at a time otherwise.

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

/// Whether every address in `pointers` (null ones aside) is aligned to a pack of `width` elements of
/// `elementBytes`.
inline bool packAligned(std::initializer_list<const void*> pointers, size_t elementBytes, int width) {
    for (const void* p : pointers)
        if (p && reinterpret_cast<uintptr_t>(p) % (elementBytes * static_cast<size_t>(width)) != 0) return false;
    return true;
}

}  // namespace kiln::cuda
