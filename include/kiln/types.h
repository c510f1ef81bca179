#pragma once
/// \file types.h
/// Value types shared by every part of Kiln's public API: element types, dimensions, I/O modes.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace kiln {

/// Element type of a tensor. Names follow TensorRT's `nvinfer1::DataType` where one exists.
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
    kBOOL = 12,  ///< one byte per element, 0 or 1
    /// ONNX's `string`: each element is a StringView (16 bytes). Values 13..22 are reserved for
    /// the low-bit numeric types.
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

/// Number of bytes one element of `type` occupies.
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
