#pragma once
// Element types moved without arithmetic (data movement kernels) are dispatched by their byte size
// to an unsigned word of that size.

#include <cstddef>
#include <cstdint>

#include "ir/tensor.h"

namespace kiln::cuda {

/// Calls fn(Word{}) with the unsigned word of `bytes` bytes; false for other sizes.
template <typename Fn>
bool dispatchWord(size_t bytes, Fn&& fn) {
    switch (bytes) {
        case 1: fn(uint8_t{}); return true;
        case 2: fn(uint16_t{}); return true;
        case 4: fn(uint32_t{}); return true;
        case 8: fn(uint64_t{}); return true;
        default: return false;
    }
}

/// Whether `type` moves as one word (1, 2, 4 or 8 bytes).
inline bool wordSizedType(DataType type) {
    const size_t size = dataTypeSize(type);
    return size == 1 || size == 2 || size == 4 || size == 8;
}

}  // namespace kiln::cuda
