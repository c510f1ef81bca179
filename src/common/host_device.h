#pragma once
// KILN_HD marks a function that both the host compiler and nvcc compile: __host__ __device__ under
// nvcc, nothing for the host compiler. The scalar rules the CPU and CUDA backends share (the
// conversions of common/low_precision_rules.h, the integer rules of common/element_rules.h) are
// written once with it, so that the two backends cannot round or saturate differently.

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define KILN_HD __host__ __device__
#else
#define KILN_HD
#endif

namespace kiln {

/// The double whose IEEE 754 bits are `bits` (NaN and infinity without <limits>, which device code
/// may not call).
KILN_HD inline double doubleFromBits(uint64_t bits) {
#if defined(__CUDA_ARCH__)
    return __longlong_as_double(static_cast<long long>(bits));
#else
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
#endif
}

KILN_HD inline double quietNaN() { return doubleFromBits(0x7FF8000000000000ull); }
KILN_HD inline double positiveInfinity() { return doubleFromBits(0x7FF0000000000000ull); }

}  // namespace kiln
