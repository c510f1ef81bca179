#include "common/low_precision.h"

// The host API over the shared rules (common/low_precision_rules.h); the CUDA kernels call those
// rules directly.

namespace kiln {

bool isLowBitType(DataType type) noexcept { return lowbit::isLowBit(type); }

bool isLowBitIntegerType(DataType type) noexcept { return lowbit::isInteger(type); }

IntegerRange lowBitIntegerRange(DataType type) noexcept { return lowbit::integerRange(type); }

double lowBitToDouble(DataType type, uint8_t stored) noexcept { return lowbit::decode(type, stored); }

uint8_t lowBitFromInteger(DataType type, int64_t value, LowBitCastMode mode) noexcept {
    return lowbit::encodeInteger(type, value, mode);
}

uint8_t lowBitFromDouble(DataType type, double value, LowBitCastMode mode) noexcept {
    return lowbit::encode(type, value, mode);
}

}  // namespace kiln
