#include "ir/onnx_types.h"

namespace kiln {

namespace {

// TensorProto.DataType values from onnx.proto; only the ones Kiln has a DataType for.
enum OnnxElementType : int64_t {
    kOnnxFloat = 1,
    kOnnxUint8 = 2,
    kOnnxInt8 = 3,
    kOnnxUint16 = 4,
    kOnnxInt16 = 5,
    kOnnxInt32 = 6,
    kOnnxInt64 = 7,
    kOnnxString = 8,
    kOnnxBool = 9,
    kOnnxFloat16 = 10,
    kOnnxDouble = 11,
    kOnnxUint32 = 12,
    kOnnxUint64 = 13,
    kOnnxBfloat16 = 16,
    kOnnxFloat8E4M3FN = 17,
    kOnnxFloat8E4M3FNUZ = 18,
    kOnnxFloat8E5M2 = 19,
    kOnnxFloat8E5M2FNUZ = 20,
    kOnnxUint4 = 21,
    kOnnxInt4 = 22,
    kOnnxFloat4E2M1 = 23,
    kOnnxFloat8E8M0 = 24,
    kOnnxUint2 = 25,
    kOnnxInt2 = 26,
};

}  // namespace

std::optional<DataType> dataTypeFromOnnx(int64_t onnxType) {
    switch (onnxType) {
        case kOnnxFloat:
            return DataType::kFLOAT;
        case kOnnxUint8:
            return DataType::kUINT8;
        case kOnnxInt8:
            return DataType::kINT8;
        case kOnnxUint16:
            return DataType::kUINT16;
        case kOnnxInt16:
            return DataType::kINT16;
        case kOnnxInt32:
            return DataType::kINT32;
        case kOnnxInt64:
            return DataType::kINT64;
        case kOnnxBool:
            return DataType::kBOOL;
        case kOnnxFloat16:
            return DataType::kHALF;
        case kOnnxDouble:
            return DataType::kDOUBLE;
        case kOnnxUint32:
            return DataType::kUINT32;
        case kOnnxUint64:
            return DataType::kUINT64;
        case kOnnxBfloat16:
            return DataType::kBF16;
        case kOnnxFloat8E4M3FN:
            return DataType::kFP8E4M3FN;
        case kOnnxFloat8E4M3FNUZ:
            return DataType::kFP8E4M3FNUZ;
        case kOnnxFloat8E5M2:
            return DataType::kFP8E5M2;
        case kOnnxFloat8E5M2FNUZ:
            return DataType::kFP8E5M2FNUZ;
        case kOnnxUint4:
            return DataType::kUINT4;
        case kOnnxInt4:
            return DataType::kINT4;
        case kOnnxFloat4E2M1:
            return DataType::kFP4E2M1;
        case kOnnxFloat8E8M0:
            return DataType::kFP8E8M0;
        case kOnnxUint2:
            return DataType::kUINT2;
        case kOnnxInt2:
            return DataType::kINT2;
        case kOnnxString:
            return DataType::kSTRING;
        default:
            return std::nullopt;  // an int64 from a file, not an enum: other numbers are possible
    }
}

int64_t dataTypeToOnnx(DataType type) {
    switch (type) {
        case DataType::kFLOAT:
            return kOnnxFloat;
        case DataType::kHALF:
            return kOnnxFloat16;
        case DataType::kBF16:
            return kOnnxBfloat16;
        case DataType::kDOUBLE:
            return kOnnxDouble;
        case DataType::kINT8:
            return kOnnxInt8;
        case DataType::kUINT8:
            return kOnnxUint8;
        case DataType::kINT16:
            return kOnnxInt16;
        case DataType::kUINT16:
            return kOnnxUint16;
        case DataType::kINT32:
            return kOnnxInt32;
        case DataType::kUINT32:
            return kOnnxUint32;
        case DataType::kINT64:
            return kOnnxInt64;
        case DataType::kUINT64:
            return kOnnxUint64;
        case DataType::kBOOL:
            return kOnnxBool;
        case DataType::kFP8E4M3FN:
            return kOnnxFloat8E4M3FN;
        case DataType::kFP8E4M3FNUZ:
            return kOnnxFloat8E4M3FNUZ;
        case DataType::kFP8E5M2:
            return kOnnxFloat8E5M2;
        case DataType::kFP8E5M2FNUZ:
            return kOnnxFloat8E5M2FNUZ;
        case DataType::kFP8E8M0:
            return kOnnxFloat8E8M0;
        case DataType::kINT4:
            return kOnnxInt4;
        case DataType::kUINT4:
            return kOnnxUint4;
        case DataType::kINT2:
            return kOnnxInt2;
        case DataType::kUINT2:
            return kOnnxUint2;
        case DataType::kFP4E2M1:
            return kOnnxFloat4E2M1;
        case DataType::kSTRING:
            return kOnnxString;
    }
    return 0;  // unreachable: every enumerator is handled above
}

}  // namespace kiln
