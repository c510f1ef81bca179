#pragma once
// Element access by index in any element type, through double: for the CPU kernels whose math is
// written once in double (geometry and signal ops) rather than per type. Stores round through float
// for the narrower float types, as a float computation would, and bool is "non-zero".

#include <cstdint>
#include <type_traits>

#include "backends/tensor_view.h"
#include "ir/tensor.h"

namespace kiln::cpu {

inline double valueAt(const TensorView& v, int64_t i) {
    return dispatchDataType(v.dtype, [&](auto tag) { return static_cast<double>(v.as<const decltype(tag)>()[i]); });
}

inline void storeAt(const TensorView& v, int64_t i, double value) {
    dispatchDataType(v.dtype, [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_same_v<T, bool>)
            v.as<T>()[i] = value != 0;
        else if constexpr (std::is_integral_v<T>)
            v.as<T>()[i] = static_cast<T>(value);
        else
            v.as<T>()[i] = static_cast<T>(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(value));
    });
}

}  // namespace kiln::cpu
