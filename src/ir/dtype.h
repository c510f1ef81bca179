#pragma once
// Element-type helpers for the IR: properties and a compile-time dispatch over every type.

#include <cstdint>
#include <optional>
#include <string>

#include "common/half.h"
#include "common/low_precision.h"
#include "kiln/types.h"

namespace kiln {

// The three predicates below describe the types Kiln computes in; the low-bit types
// (isLowBitType, common/low_precision.h) are none of them: only conversions and byte moves
// handle those.
bool isFloatingType(DataType type);  // float, float16, bfloat16, double
bool isIntegerType(DataType type);   // the 8- to 64-bit integers, signed or unsigned, not bool
bool isSignedType(DataType type);
/// Bits of information in one element: 8 * dataTypeSize(), except 4 for int4, uint4 and
/// float4e2m1 and 2 for int2 and uint2 (which Kiln stores a byte each).
int dataTypeBits(DataType type) noexcept;
/// The short spelling kernels use in tactic names: "f32", "f16", "i64", "bool", ...
const char* dataTypeShortName(DataType type) noexcept;

/// Parses "float", "fp32", "float16", "fp16", "half", "int64", ... (case-insensitive).
std::optional<DataType> parseDataType(const std::string& name);

template <typename T>
struct DataTypeOf;
#define KILN_DTYPE_OF(T, E) \
    template <>             \
    struct DataTypeOf<T> {  \
        static constexpr DataType value = DataType::E; \
    }
KILN_DTYPE_OF(float, kFLOAT);
KILN_DTYPE_OF(Half, kHALF);
KILN_DTYPE_OF(BFloat16, kBF16);
KILN_DTYPE_OF(double, kDOUBLE);
KILN_DTYPE_OF(int8_t, kINT8);
KILN_DTYPE_OF(uint8_t, kUINT8);
KILN_DTYPE_OF(int16_t, kINT16);
KILN_DTYPE_OF(uint16_t, kUINT16);
KILN_DTYPE_OF(int32_t, kINT32);
KILN_DTYPE_OF(uint32_t, kUINT32);
KILN_DTYPE_OF(int64_t, kINT64);
KILN_DTYPE_OF(uint64_t, kUINT64);
KILN_DTYPE_OF(bool, kBOOL);
#undef KILN_DTYPE_OF

/// Calls `fn(T{})` with the C++ type of `type`. Kernels use it to write one template for all types.
/// A low-bit type calls it with its one-byte storage type (int8_t for int4 and int2, which Kiln
/// keeps sign-extended; uint8_t for the others), which is right for code that moves
/// elements (copies, gathers, transposes) and meaningless for arithmetic: the CPU backend keeps
/// the low-bit types from every kernel whose registry entry does not declare them
/// (CpuKernelEntry::lowBitTypes), so arithmetic never sees them.
/// Strings are not numbers: kernels that dispatch here must refuse kSTRING before (the CPU backend
/// refuses string tensors for every kernel that does not declare string support).
template <typename Fn>
decltype(auto) dispatchDataType(DataType type, Fn&& fn) {
    switch (type) {
        case DataType::kFLOAT: return fn(float{});
        case DataType::kHALF: return fn(Half{});
        case DataType::kBF16: return fn(BFloat16{});
        case DataType::kDOUBLE: return fn(double{});
        case DataType::kINT8: return fn(int8_t{});
        case DataType::kUINT8: return fn(uint8_t{});
        case DataType::kINT16: return fn(int16_t{});
        case DataType::kUINT16: return fn(uint16_t{});
        case DataType::kINT32: return fn(int32_t{});
        case DataType::kUINT32: return fn(uint32_t{});
        case DataType::kINT64: return fn(int64_t{});
        case DataType::kUINT64: return fn(uint64_t{});
        case DataType::kBOOL: return fn(bool{});
        case DataType::kINT4:
        case DataType::kINT2: return fn(int8_t{});
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
        case DataType::kUINT4:
        case DataType::kUINT2:
        case DataType::kFP4E2M1: return fn(uint8_t{});
        case DataType::kSTRING: break;  // not a number: string kernels handle it themselves
    }
    return fn(float{});
}

}  // namespace kiln
