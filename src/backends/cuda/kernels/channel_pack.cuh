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

/// The widest pack (16 bytes at most, halving down to one element) whose width divides `channels` and
/// that every address in `pointers` (null ones aside) is aligned to.
inline int widestPack(int64_t channels, size_t elementBytes, std::initializer_list<const void*> pointers) {
    auto aligned = [&](int width) {
        for (const void* p : pointers)
            if (p && reinterpret_cast<uintptr_t>(p) % (elementBytes * static_cast<size_t>(width)) != 0) return false;
        return true;
    };
    int width = static_cast<int>(16 / elementBytes);
    while (width > 1 && (channels % width != 0 || !aligned(width))) width /= 2;
    return width;
}

}  // namespace kiln::cuda
