#pragma once
/// \file types.h
/// Value types shared by every part of Kiln's public API: element types, dimensions, I/O modes.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace kiln {

/// Element type of a tensor. Names follow TensorRT's `nvinfer1::DataType` where one exists.
///
/// The low-bit types (kFP8E4M3FN and after) are ONNX's float8, float4 and 2/4-bit integer types.
/// Kiln holds every one of them in one byte per element, in every tensor and engine I/O buffer:
/// a float8 element is its 8-bit code; a float4e2m1 or uint4 / uint2 element sits in the low bits
/// of its byte (the high bits zero); an int4 / int2 element is sign-extended into an int8. ONNX
/// files pack two 4-bit or four 2-bit elements per byte; Kiln unpacks them where the data enters
/// (initializers, Constant nodes), so dataTypeSize() is a byte count for every type. Callers of
/// the runtime API pass and read these types in Kiln's one-byte layout.
enum class DataType : int32_t {
    kFLOAT = 0,   ///< IEEE binary32
    kHALF = 1,    ///< IEEE binary16
    kBF16 = 2,    ///< bfloat16
    kDOUBLE = 3,  ///< IEEE binary64
    kINT8 = 4,
    kUINT8 = 5,
    kINT16 = 6,
    kUINT16 = 7,
    kINT32 = 8,
    kUINT32 = 9,
    kINT64 = 10,
    kUINT64 = 11,
    kBOOL = 12,         ///< one byte per element, 0 or 1
    kFP8E4M3FN = 13,    ///< float8: 4 exponent, 3 mantissa bits; NaN, no infinities
    kFP8E4M3FNUZ = 14,  ///< float8: 4 exponent, 3 mantissa bits; one NaN (0x80), no -0, no infinities
    kFP8E5M2 = 15,      ///< float8: 5 exponent, 2 mantissa bits; IEEE-style infinities and NaNs
    kFP8E5M2FNUZ = 16,  ///< float8: 5 exponent, 2 mantissa bits; one NaN (0x80), no -0, no infinities
    kFP8E8M0 = 17,      ///< float8: 8 exponent bits, no sign or mantissa (powers of two); 0xFF is NaN
    kINT4 = 18,         ///< [-8, 7], sign-extended into one byte
    kUINT4 = 19,        ///< [0, 15] in the low 4 bits of one byte
    kINT2 = 20,         ///< [-2, 1], sign-extended into one byte
    kUINT2 = 21,        ///< [0, 3] in the low 2 bits of one byte
    kFP4E2M1 = 22,      ///< float4: sign, 2 exponent, 1 mantissa bit in the low 4 bits of one byte
    /// ONNX's `string`: each element is a StringView (16 bytes).
    kSTRING = 23,
};

/// One element of a kSTRING tensor: bytes (not NUL-terminated, any encoding, usually UTF-8) that
/// live elsewhere. Input views point into the caller's memory, which must stay valid for the run.
/// Views in an engine's outputs point into storage owned by the execution context (strings the
/// run produced), by the engine (constant strings) or into the run's input strings (ops that only
/// move strings, such as Identity or StringSplit, copy views, not bytes). Context-owned bytes stay
/// valid until the next enqueue or execute on that context, or until the context is destroyed.
struct StringView {
    const char* data;
    uint64_t size;
};
static_assert(sizeof(StringView) == 16, "StringView is the 16-byte element of kSTRING tensors");

/// Number of bytes one element of `type` occupies (1 for every low-bit type: see DataType; 16,
/// a StringView, for kSTRING).
size_t dataTypeSize(DataType type) noexcept;

/// Lower-case name of `type` as ONNX spells it ("float", "float16", "int64", ...).
const char* dataTypeName(DataType type) noexcept;

/// The largest rank a tensor may have at the public API.
constexpr int32_t kMaxDims = 8;

/// Dimensions of a tensor; -1 marks a dimension that is only known at run time.
struct Dims {
    int32_t nbDims{0};
    int64_t d[kMaxDims]{};

    Dims() = default;
    Dims(std::initializer_list<int64_t> values) {
        for (int64_t v : values) {
            if (nbDims < kMaxDims) d[nbDims++] = v;
        }
    }
    bool operator==(const Dims& other) const noexcept {
        if (nbDims != other.nbDims) return false;
        for (int32_t i = 0; i < nbDims; ++i)
            if (d[i] != other.d[i]) return false;
        return true;
    }
    bool operator!=(const Dims& other) const noexcept { return !(*this == other); }
};

/// "1x3x224x224" (a scalar prints as an empty string, as trtexec does).
std::string dimsToString(const Dims& dims);

/// Whether an I/O tensor is read or written by the engine.
enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };

/// Which bound of an optimization profile.
enum class OptProfileSelector : int32_t { kMIN = 0, kOPT = 1, kMAX = 2 };

/// An opaque stream handle: a `cudaStream_t` for the CUDA backend, ignored by the CPU backend.
using Stream = void*;

}  // namespace kiln
