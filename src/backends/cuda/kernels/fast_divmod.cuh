#pragma once
// Division of 32-bit indices by a divisor fixed at launch, as a multiply-high, an add and a shift (the
// method of PyTorch's IntDivider / Granlund-Montgomery): a hardware 32-bit division is a ~20-instruction
// sequence, and a strided copy divides once per dim per element. Valid for n and divisor below 2^31.
// Host-callable too, so the host tests check it.

#include <cuda_runtime.h>

#include <cstdint>

namespace kiln::cuda {

struct FastDivmod {
    uint32_t divisor{1};
    uint32_t multiplier{1};
    uint32_t shift{0};

    FastDivmod() = default;
    explicit FastDivmod(uint32_t d) : divisor(d) {
        shift = 0;
        while (shift < 32 && (uint64_t{1} << shift) < d) ++shift;  // 2^(shift-1) < d <= 2^shift
        multiplier = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
    }

    __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
        const uint32_t high = __umulhi(n, multiplier);
#else
        const uint32_t high = static_cast<uint32_t>((static_cast<uint64_t>(n) * multiplier) >> 32);
#endif
        return (high + n) >> shift;  // high <= n < 2^31: no overflow
    }
    /// n / divisor, and n % divisor in `remainder`.
    __host__ __device__ __forceinline__ uint32_t divmod(uint32_t n, uint32_t& remainder) const {
        const uint32_t q = div(n);
        remainder = n - q * divisor;
        return q;
    }
};

}  // namespace kiln::cuda
