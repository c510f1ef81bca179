#include "ir/dtype.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace kiln {

size_t dataTypeSize(DataType type) noexcept {
    switch (type) {
        case DataType::kFLOAT: return 4;
        case DataType::kHALF: return 2;
        case DataType::kBF16: return 2;
        case DataType::kDOUBLE: return 8;
        case DataType::kINT8: return 1;
        case DataType::kUINT8: return 1;
        case DataType::kINT16: return 2;
        case DataType::kUINT16: return 2;
        case DataType::kINT32: return 4;
        case DataType::kUINT32: return 4;
        case DataType::kINT64: return 8;
        case DataType::kUINT64: return 8;
        case DataType::kBOOL: return 1;
        // The low-bit types take one byte per element in Kiln (see DataType).
        case DataType::kFP8E4M3FN:
        case DataType::kFP8E4M3FNUZ:
        case DataType::kFP8E5M2:
        case DataType::kFP8E5M2FNUZ:
        case DataType::kFP8E8M0:
        case DataType::kINT4:
        case DataType::kUINT4:
        case DataType::kINT2:
        case DataType::kUINT2:
        case DataType::kFP4E2M1: return 1;
        case DataType::kSTRING: return sizeof(StringView);
    }
    return 0;
}

int dataTypeBits(DataType type) noexcept {
    if (type == DataType::kINT4 || type == DataType::kUINT4 || type == DataType::kFP4E2M1) return 4;
    if (type == DataType::kINT2 || type == DataType::kUINT2) return 2;
    return static_cast<int>(8 * dataTypeSize(type));
}

const char* dataTypeShortName(DataType type) noexcept {
    switch (type) {
        case DataType::kFLOAT:
            return "f32";
        case DataType::kHALF:
            return "f16";
        case DataType::kBF16:
            return "bf16";
        case DataType::kDOUBLE:
            return "f64";
        case DataType::kINT8:
            return "i8";
        case DataType::kUINT8:
            return "u8";
        case DataType::kINT16:
            return "i16";
        case DataType::kUINT16:
            return "u16";
        case DataType::kINT32:
            return "i32";
        case DataType::kUINT32:
            return "u32";
        case DataType::kINT64:
            return "i64";
        case DataType::kUINT64:
            return "u64";
        case DataType::kBOOL:
            return "bool";
        case DataType::kFP8E4M3FN:
            return "f8e4m3fn";
        case DataType::kFP8E4M3FNUZ:
            return "f8e4m3fnuz";
        case DataType::kFP8E5M2:
            return "f8e5m2";
        case DataType::kFP8E5M2FNUZ:
            return "f8e5m2fnuz";
        case DataType::kFP8E8M0:
            return "f8e8m0";
        case DataType::kINT4:
            return "i4";
        case DataType::kUINT4:
            return "u4";
        case DataType::kINT2:
            return "i2";
        case DataType::kUINT2:
            return "u2";
        case DataType::kFP4E2M1:
            return "f4e2m1";
        case DataType::kSTRING:
            return "str";
    }
    return "unknown";
}

const char* dataTypeName(DataType type) noexcept {
    switch (type) {
        case DataType::kFLOAT: return "float";
        case DataType::kHALF: return "float16";
        case DataType::kBF16: return "bfloat16";
        case DataType::kDOUBLE: return "double";
        case DataType::kINT8: return "int8";
        case DataType::kUINT8: return "uint8";
        case DataType::kINT16: return "int16";
        case DataType::kUINT16: return "uint16";
        case DataType::kINT32: return "int32";
        case DataType::kUINT32: return "uint32";
        case DataType::kINT64: return "int64";
        case DataType::kUINT64: return "uint64";
        case DataType::kBOOL: return "bool";
        case DataType::kFP8E4M3FN: return "float8e4m3fn";
        case DataType::kFP8E4M3FNUZ: return "float8e4m3fnuz";
        case DataType::kFP8E5M2: return "float8e5m2";
        case DataType::kFP8E5M2FNUZ: return "float8e5m2fnuz";
        case DataType::kFP8E8M0: return "float8e8m0";
        case DataType::kINT4: return "int4";
        case DataType::kUINT4: return "uint4";
        case DataType::kINT2: return "int2";
        case DataType::kUINT2: return "uint2";
        case DataType::kFP4E2M1: return "float4e2m1";
        case DataType::kSTRING: return "string";
    }
    return "unknown";
}

bool isFloatingType(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16 ||
           type == DataType::kDOUBLE;
}

bool isIntegerType(DataType type) {
    return type == DataType::kINT8 || type == DataType::kUINT8 || type == DataType::kINT16 ||
           type == DataType::kUINT16 || type == DataType::kINT32 || type == DataType::kUINT32 ||
           type == DataType::kINT64 || type == DataType::kUINT64;
}

bool isSignedType(DataType type) {
    return isFloatingType(type) || type == DataType::kINT8 || type == DataType::kINT16 ||
           type == DataType::kINT32 || type == DataType::kINT64;
}

std::optional<DataType> parseDataType(const std::string& name) {
    std::string n = name;
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    if (n == "float" || n == "fp32" || n == "float32") return DataType::kFLOAT;
    if (n == "float16" || n == "fp16" || n == "half") return DataType::kHALF;
    if (n == "bfloat16" || n == "bf16") return DataType::kBF16;
    if (n == "double" || n == "fp64" || n == "float64") return DataType::kDOUBLE;
    if (n == "int8") return DataType::kINT8;
    if (n == "uint8") return DataType::kUINT8;
    if (n == "int16") return DataType::kINT16;
    if (n == "uint16") return DataType::kUINT16;
    if (n == "int32") return DataType::kINT32;
    if (n == "uint32") return DataType::kUINT32;
    if (n == "int64") return DataType::kINT64;
    if (n == "uint64") return DataType::kUINT64;
    if (n == "bool") return DataType::kBOOL;
    if (n == "float8e4m3fn") return DataType::kFP8E4M3FN;
    if (n == "float8e4m3fnuz") return DataType::kFP8E4M3FNUZ;
    if (n == "float8e5m2") return DataType::kFP8E5M2;
    if (n == "float8e5m2fnuz") return DataType::kFP8E5M2FNUZ;
    if (n == "float8e8m0") return DataType::kFP8E8M0;
    if (n == "int4") return DataType::kINT4;
    if (n == "uint4") return DataType::kUINT4;
    if (n == "int2") return DataType::kINT2;
    if (n == "uint2") return DataType::kUINT2;
    if (n == "float4e2m1") return DataType::kFP4E2M1;
    if (n == "string") return DataType::kSTRING;
    return std::nullopt;
}

std::string dimsToString(const Dims& dims) {
    std::ostringstream oss;
    for (int32_t i = 0; i < dims.nbDims; ++i) {
        if (i) oss << 'x';
        oss << dims.d[i];
    }
    return oss.str();
}

}  // namespace kiln
