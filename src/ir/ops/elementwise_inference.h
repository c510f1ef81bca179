#pragma once
// Inference building blocks shared by the elementwise and activation op families: element-type
// sets (ONNX's type constraints), numpy broadcasting of several inputs, and the common shapes of
// pointwise ops (same type and shape out; bool out; broadcast binary).

#include <cstdint>
#include <initializer_list>
#include <string>

#include "ir/op_registry.h"

namespace kiln::pointwise {

/// A set of element types, one bit per DataType.
using TypeSet = uint32_t;

constexpr TypeSet typeBit(DataType type) {
    return TypeSet{1} << static_cast<uint32_t>(type);
}

constexpr TypeSet kFloatTypes =
    typeBit(DataType::kFLOAT) | typeBit(DataType::kHALF) | typeBit(DataType::kBF16) | typeBit(DataType::kDOUBLE);
constexpr TypeSet kSignedIntTypes =
    typeBit(DataType::kINT8) | typeBit(DataType::kINT16) | typeBit(DataType::kINT32) | typeBit(DataType::kINT64);
constexpr TypeSet kUnsignedIntTypes =
    typeBit(DataType::kUINT8) | typeBit(DataType::kUINT16) | typeBit(DataType::kUINT32) | typeBit(DataType::kUINT64);
constexpr TypeSet kIntegerTypes = kSignedIntTypes | kUnsignedIntTypes;
constexpr TypeSet kNumericTypes = kFloatTypes | kIntegerTypes;
constexpr TypeSet kBoolType = typeBit(DataType::kBOOL);
constexpr TypeSet kAllTypes = kNumericTypes | kBoolType;
/// The float8, float4 and 2/4-bit integer types: only conversions (Cast, CastLike, the
/// quantizers) and ops that move elements accept them, so they are not in kAllTypes.
constexpr TypeSet kLowBitTypes = typeBit(DataType::kFP8E4M3FN) | typeBit(DataType::kFP8E4M3FNUZ) |
                                 typeBit(DataType::kFP8E5M2) | typeBit(DataType::kFP8E5M2FNUZ) |
                                 typeBit(DataType::kFP8E8M0) | typeBit(DataType::kINT4) | typeBit(DataType::kUINT4) |
                                 typeBit(DataType::kINT2) | typeBit(DataType::kUINT2) | typeBit(DataType::kFP4E2M1);
constexpr TypeSet kStringType = typeBit(DataType::kSTRING);

constexpr bool typeIn(DataType type, TypeSet set) {
    return (set & typeBit(type)) != 0;
}

/// "float16, float, ..." for error messages.
std::string typeSetToString(TypeSet set);

/// Fails unless input `index` is present and has a type in `allowed`.
Status checkInputType(const InferenceContext& ctx, size_t index, TypeSet allowed);

/// Fails unless inputs `a` and `b` have the same element type.
Status checkSameType(const InferenceContext& ctx, size_t a, size_t b);

/// Numpy broadcasting of the listed inputs' shapes (absent optional inputs are skipped).
Expected<SymShape> broadcastInputs(const InferenceContext& ctx, std::initializer_list<size_t> indices);

/// Fails unless input `index` holds one element: rank 0, or rank 1 of extent 1 (older exporters).
Status checkScalarInput(const InferenceContext& ctx, size_t index, const std::string& what);

/// Output 0 = input 0's type and shape, input 0's type in `allowed`.
InferFunction inferUnary(TypeSet allowed);

/// Output 0 = bool of input 0's shape, input 0's type in `allowed`.
InferFunction inferUnaryPredicate(TypeSet allowed);

/// Inputs 0 and 1 of one type in `allowed`, broadcast; output of that type, or bool when `predicate`.
InferFunction inferBinary(TypeSet allowed, bool predicate);

/// One or more inputs of one type in `allowed`, all broadcast together; output of that type.
InferFunction inferVariadic(TypeSet allowed);

}  // namespace kiln::pointwise
